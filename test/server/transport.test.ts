// How the dashboard's answers travel, over real HTTP read byte for byte (node:http: fetch would decompress and
// hide the encoding): ETags and 304s for the activity poll, brotli/gzip by Accept-Encoding, and the cache
// headers of the page and its content-hashed assets.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { startStack, type Stack } from '../support/stack.ts';
import { hashPassword } from '../../src/server/auth.ts';
import { createAdmin } from '../../src/store/sessions.ts';
import { recordActivity } from '../../src/store/activity.ts';
import { negotiateEncoding } from '../../src/server/transport.ts';

const PASSWORD = 'correct horse battery staple';

interface RawAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

function raw(url: string, headers: Record<string, string> = {}, method = 'GET', body?: string): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

function decoded(answer: RawAnswer): string {
  const encoding = answer.headers['content-encoding'];
  if (encoding === 'br') return brotliDecompressSync(answer.body).toString('utf8');
  if (encoding === 'gzip') return gunzipSync(answer.body).toString('utf8');
  return answer.body.toString('utf8');
}

describe('dashboard transport', () => {
  let stack: Stack;
  let cookie: string;
  let activityUrl: string;

  const addEntries = async (n: number, message: string) => {
    for (let i = 0; i < n; i += 1) {
      await recordActivity(stack.t.db, {
        connectionId: stack.connection.id,
        flow: 'salesReceipts',
        status: 'ok',
        message: `${message} ${i}: created sales receipt for a consulting hour`,
      });
    }
  };

  before(async () => {
    stack = await startStack({ workers: false });
    await createAdmin(stack.t.db, { username: 'admin', passwordHash: await hashPassword(PASSWORD) });
    const login = await raw(
      `${stack.url}/api/auth/login`,
      { 'content-type': 'application/json' },
      'POST',
      JSON.stringify({ username: 'admin', password: PASSWORD }),
    );
    assert.equal(login.status, 200, login.body.toString());
    cookie = String(login.headers['set-cookie']).split(';')[0]!;
    activityUrl = `${stack.url}/api/connections/${stack.connection.id}/activity?limit=50`;
    await addEntries(30, 'Seeded');
  });

  after(async () => {
    await stack?.close();
  });

  it('answers an unchanged activity poll with a bodiless 304, and the next poll after a change with the change', async () => {
    const first = await raw(activityUrl, { cookie });
    assert.equal(first.status, 200);
    const etag = String(first.headers.etag);
    assert.match(etag, /^W\/".+"$/);
    assert.equal(first.headers['cache-control'], 'private, no-cache');

    const unchanged = await raw(activityUrl, { cookie, 'if-none-match': etag });
    assert.equal(unchanged.status, 304);
    assert.equal(unchanged.body.length, 0);
    assert.equal(unchanged.headers.etag, etag);

    await recordActivity(stack.t.db, {
      connectionId: stack.connection.id,
      flow: 'invoices',
      status: 'ok',
      message: 'Created invoice 1042 after the last poll',
    });
    const changed = await raw(activityUrl, { cookie, 'if-none-match': etag });
    assert.equal(changed.status, 200);
    assert.notEqual(changed.headers.etag, etag);
    const answer = JSON.parse(decoded(changed)) as { entries: { message: string }[] };
    assert.equal(answer.entries[0]!.message, 'Created invoice 1042 after the last poll');
  });

  it('never answers 304 to a request without a session, whatever tag it sends', async () => {
    const { headers } = await raw(activityUrl, { cookie });
    const anonymous = await raw(activityUrl, { 'if-none-match': String(headers.etag) });
    assert.equal(anonymous.status, 401);
  });

  it('compresses a large answer with brotli or gzip as the request accepts, and not at all when it accepts neither', async () => {
    const plain = await raw(activityUrl, { cookie });
    assert.equal(plain.headers['content-encoding'], undefined);
    assert.ok(plain.body.length > 4000, `a large answer: ${plain.body.length} bytes`);
    assert.match(String(plain.headers.vary), /accept-encoding/i);

    const br = await raw(activityUrl, { cookie, 'accept-encoding': 'gzip, deflate, br' });
    assert.equal(br.headers['content-encoding'], 'br');
    assert.equal(decoded(br), plain.body.toString('utf8'));
    assert.ok(br.body.length < plain.body.length / 4, `brotli ${br.body.length} of ${plain.body.length} bytes`);

    const gzip = await raw(activityUrl, { cookie, 'accept-encoding': 'gzip' });
    assert.equal(gzip.headers['content-encoding'], 'gzip');
    assert.equal(decoded(gzip), plain.body.toString('utf8'));
    // One tag for every encoding of the same answer.
    assert.equal(gzip.headers.etag, plain.headers.etag);
  });

  it('leaves a small answer uncompressed', async () => {
    const state = await raw(`${stack.url}/api/auth/state`, { cookie, 'accept-encoding': 'br, gzip' });
    assert.equal(state.status, 200);
    assert.equal(state.headers['content-encoding'], undefined);
  });

  it("names the page's assets by content hash, kept a year, compressed once; the page itself is revalidated", async () => {
    const page = await raw(`${stack.url}/`, { 'accept-encoding': 'br' });
    assert.equal(page.status, 200);
    assert.equal(page.headers['cache-control'], 'no-cache');
    const html = decoded(page);
    const script = /src="(\/app\.([0-9a-f]{16})\.js)"/.exec(html);
    const style = /href="(\/app\.([0-9a-f]{16})\.css)"/.exec(html);
    assert.ok(script && style, html);

    for (const [path, hash] of [
      [script[1]!, script[2]!],
      [style[1]!, style[2]!],
    ]) {
      const asset = await raw(`${stack.url}${path}`, { 'accept-encoding': 'gzip, br' });
      assert.equal(asset.status, 200);
      assert.equal(asset.headers['cache-control'], 'public, max-age=31536000, immutable');
      assert.equal(asset.headers['content-encoding'], 'br');
      assert.match(String(asset.headers['content-security-policy']), /script-src 'self'/);
      const body = decoded(asset);
      assert.equal(
        createHash('sha256').update(body).digest('hex').slice(0, 16),
        hash,
        `${path} is named by its content`,
      );
      const again = await raw(`${stack.url}${path}`, {
        'accept-encoding': 'gzip, br',
        'if-none-match': String(asset.headers.etag),
      });
      assert.equal(again.status, 304);
      assert.equal(again.body.length, 0);
    }

    const unhashed = await raw(`${stack.url}/app.js`);
    assert.equal(unhashed.headers['cache-control'], 'no-cache');
    assert.ok(unhashed.headers.etag);
    const revalidated = await raw(`${stack.url}/`, { 'if-none-match': String(page.headers.etag) });
    assert.equal(revalidated.status, 304);
  });

  it('reads Accept-Encoding with its weights', () => {
    assert.equal(negotiateEncoding('gzip, deflate, br'), 'br');
    assert.equal(negotiateEncoding('br;q=0, gzip'), 'gzip');
    assert.equal(negotiateEncoding('gzip;q=1.0, br;q=0.5'), 'gzip');
    assert.equal(negotiateEncoding('identity'), undefined);
    assert.equal(negotiateEncoding('*'), 'br');
    assert.equal(negotiateEncoding(undefined), undefined);
  });
});
