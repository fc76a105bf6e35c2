import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { createLogger, scrub, scrubText } from './log.ts';

describe('log redaction', () => {
  it('redacts secret-named keys at any depth, and keeps ids and codes', () => {
    const out = scrub({
      connectionId: 'c1',
      code: '6240',
      headers: { Authorization: 'Bearer abc', cookie: 'll_session=xyz', 'x-request-id': 'r1' },
      detail: {
        tokens: { accessToken: 'a', refresh_token: 'b' },
        nested: [{ client_secret: 's', password: 'p', qboAccessToken: 't' }],
      },
    });
    assert.deepEqual(out, {
      connectionId: 'c1',
      code: '6240',
      headers: { Authorization: '[redacted]', cookie: '[redacted]', 'x-request-id': 'r1' },
      detail: {
        tokens: '[redacted]',
        nested: [{ client_secret: '[redacted]', password: '[redacted]', qboAccessToken: '[redacted]' }],
      },
    });
  });

  const texts: Array<[string, string]> = [
    ['QuickBooks answered 401 for Bearer eyJ0eXAi.OiJKV1Qi-x_y', 'QuickBooks answered 401 for Bearer [redacted]'],
    [
      '/oauth/quickbooks/callback?code=AB12&state=st8&realmId=9130',
      '/oauth/quickbooks/callback?code=[redacted]&state=[redacted]&realmId=9130',
    ],
    [
      'grant_type=refresh_token&refresh_token=RT-123&client_secret=cs',
      'grant_type=refresh_token&refresh_token=[redacted]&client_secret=[redacted]',
    ],
    ['{"access_token":"AT-1","expires_in":3600}', '{"access_token":"[redacted]","expires_in":3600}'],
    ['nothing secret here: invoice 1042', 'nothing secret here: invoice 1042'],
  ];
  for (const [input, expected] of texts) {
    it(`scrubs ${JSON.stringify(input.slice(0, 40))}`, () => assert.equal(scrubText(input), expected));
  }

  it('keeps a token out of the line of a logged error, its message, stack and own fields', () => {
    const stream = new PassThrough();
    let text = '';
    stream.on('data', (c: Buffer) => (text += c));
    const log = createLogger({ level: 'info', stream });
    const error = Object.assign(new Error('refresh failed: {"refresh_token":"RT-secret-1"} with Bearer AT-secret-2'), {
      tokens: { accessToken: 'AT-secret-3' },
    });
    log.error({ err: error, connectionId: 'c9' }, 'refresh failed for Bearer AT-secret-4');
    const line = JSON.parse(text) as { err: { stack: string; message: string }; connectionId: string; level: string };
    for (const secret of ['RT-secret-1', 'AT-secret-2', 'AT-secret-3', 'AT-secret-4'])
      assert.ok(!text.includes(secret), secret);
    assert.equal(line.level, 'error');
    assert.equal(line.connectionId, 'c9');
    assert.match(line.err.stack, /^Error: refresh failed/);
  });
});
