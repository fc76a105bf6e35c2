// The HighLevel request core and APIs against a scripted local server.
import { describe, it, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { HighLevelClient } from '../../src/highlevel/client.ts';
import { HighLevelError, isDuplicateContact, isRateLimited } from '../../src/highlevel/errors.ts';
import { InMemoryHighLevelLimiter } from '../../src/highlevel/limiter.ts';
import { HighLevelOAuth } from '../../src/highlevel/oauth.ts';
import { amountInMinorUnits } from '../../src/highlevel/money.ts';
import {
  CountingTokens,
  recordingSleep,
  startScriptedServer,
  type Script,
  type ScriptedResponse,
  type ScriptedServer,
} from './scriptedServer.ts';

const LOCATION = 've9EPM428h8vShlRW1KT';
const contact = (id: string, extra: Record<string, unknown> = {}) => ({
  id,
  locationId: LOCATION,
  email: `${id}@example.com`,
  tags: [],
  ...extra,
});

let server: ScriptedServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function clientFor(script: Script, options: { maxAttempts?: number; limiter?: InMemoryHighLevelLimiter } = {}) {
  server = await startScriptedServer(script);
  const tokens = new CountingTokens();
  const sleeper = recordingSleep();
  const client = new HighLevelClient({
    baseUrl: server.url,
    locationId: LOCATION,
    tokens,
    limiter: options.limiter ?? new InMemoryHighLevelLimiter(),
    retry: { maxAttempts: options.maxAttempts ?? 5, baseDelayMs: 100, maxDelayMs: 1000 },
    sleep: sleeper.sleep,
    random: () => 0.5,
  });
  return { client, tokens, delays: sleeper.delays, requests: server.requests };
}

describe('HighLevel request core', () => {
  it('sends Version 2021-07-28 for contacts and 2021-04-15 for conversations, with Bearer and Accept', async () => {
    const { client, requests } = await clientFor((req) =>
      req.url.pathname === '/conversations/messages'
        ? { status: 201, body: { conversationId: 'cv1', messageId: 'm1', status: 'pending' } }
        : { status: 200, body: { contact: contact('c1') } },
    );
    await client.contacts.get('c1');
    const sent = await client.conversations.sendMessage({ type: 'SMS', contactId: 'c1', message: 'Thanks!' });
    assert.equal(sent.messageId, 'm1');
    assert.deepEqual(
      requests.map((r) => r.headers.version),
      ['2021-07-28', '2021-04-15'],
    );
    for (const r of requests) {
      assert.equal(r.headers.authorization, 'Bearer token-1');
      assert.equal(r.headers.accept, 'application/json');
    }
  });

  it('reports a refused duplicate contact with the existing contact id from meta', async () => {
    const { client, requests } = await clientFor(() => ({
      status: 400,
      body: {
        statusCode: 400,
        message: 'This location does not allow duplicated contacts.',
        meta: { contactId: 'existing-1', matchingField: 'email' },
      },
    }));
    const error = await client.contacts.create({ email: 'ann@example.com', firstName: 'Ann' }).catch((e: unknown) => e);
    assert.ok(isDuplicateContact(error));
    assert.equal(error.duplicateContactId, 'existing-1');
    assert.equal(error.meta?.matchingField, 'email');
    assert.equal(requests.length, 1);
    assert.deepEqual(JSON.parse(requests[0]?.body ?? '{}'), {
      email: 'ann@example.com',
      firstName: 'Ann',
      locationId: LOCATION,
    });
  });

  it('keeps a validation message list as sent', async () => {
    const { client } = await clientFor(() => ({
      status: 422,
      body: { statusCode: 422, message: ['email must be an email', 'phone is invalid'], error: 'Unprocessable Entity' },
    }));
    const error = await client.contacts.update('c1', { email: 'nope' }).catch((e: unknown) => e);
    assert.ok(error instanceof HighLevelError);
    assert.deepEqual(error.messages, ['email must be an email', 'phone is invalid']);
    assert.equal(error.status, 422);
  });

  it('on 429 waits the Retry-After, else the X-RateLimit-Interval-Milliseconds window, then succeeds', async () => {
    const { client, delays, requests } = await clientFor((_, i): ScriptedResponse => {
      if (i === 0)
        return {
          status: 429,
          headers: { 'retry-after': '3' },
          body: { statusCode: 429, message: 'Too Many Requests' },
        };
      if (i === 1)
        return {
          status: 429,
          headers: { 'x-ratelimit-interval-milliseconds': '10000', 'x-ratelimit-remaining': '0' },
          body: { statusCode: 429, message: 'Too Many Requests' },
        };
      return { status: 200, body: { contact: contact('c1') } };
    });
    await client.contacts.get('c1');
    assert.equal(requests.length, 3);
    assert.deepEqual(delays, [3000, 10000]);
  });

  it('retries a 429 even on a create, but never retries a create after a 5xx (it may have happened)', async () => {
    const created = await clientFor((_, i) =>
      i === 0 ? { status: 429, body: {} } : { status: 201, body: { contact: contact('c9') } },
    );
    assert.equal((await created.client.contacts.create({ email: 'x@y.z' })).id, 'c9');
    assert.equal(created.requests.length, 2);
    await server?.close();

    const failed = await clientFor(() => ({ status: 503, body: { statusCode: 503, message: 'Service Unavailable' } }));
    await assert.rejects(
      failed.client.contacts.create({ email: 'x@y.z' }),
      (e: unknown) => e instanceof HighLevelError && e.status === 503,
    );
    assert.equal(failed.requests.length, 1);
  });

  it('retries reads after a 5xx', async () => {
    const { client, requests } = await clientFor((_, i) =>
      i < 2 ? { status: 502 } : { status: 200, body: { contact: contact('c1') } },
    );
    await client.contacts.get('c1');
    assert.equal(requests.length, 3);
  });

  it('refreshes once on 401 and retries with the new token, but not for a missing scope', async () => {
    const { client, tokens, requests } = await clientFor((req) =>
      req.headers.authorization === 'Bearer token-1'
        ? { status: 401, body: { statusCode: 401, message: 'Invalid JWT', error: 'Unauthorized' } }
        : { status: 200, body: { contact: contact('c1') } },
    );
    await client.contacts.get('c1');
    assert.equal(tokens.refreshes, 1);
    assert.deepEqual(
      requests.map((r) => r.headers.authorization),
      ['Bearer token-1', 'Bearer token-2'],
    );
    await server?.close();

    const scoped = await clientFor(() => ({
      status: 401,
      body: { statusCode: 401, message: 'The token is not authorized for this scope.' },
    }));
    await assert.rejects(
      scoped.client.workflows.list(),
      (e: unknown) => e instanceof HighLevelError && e.status === 401,
    );
    assert.equal(scoped.tokens.refreshes, 0);
  });

  it('tracks X-RateLimit-Daily-Remaining and stops sending once the daily budget is spent', async () => {
    const limiter = new InMemoryHighLevelLimiter();
    const { client, requests } = await clientFor(
      (_, i) => ({
        status: 200,
        headers: { 'x-ratelimit-daily-remaining': String(1 - i), 'x-ratelimit-limit-daily': '200000' },
        body: { contact: contact('c1') },
      }),
      { limiter },
    );
    await client.contacts.get('c1');
    assert.equal(limiter.dailyRemaining(LOCATION), 1);
    await client.contacts.get('c1');
    assert.equal(limiter.dailyRemaining(LOCATION), 0);
    await assert.rejects(
      client.contacts.get('c1'),
      (e: unknown) => isRateLimited(e) && e instanceof HighLevelError && e.code === 'daily_limit',
    );
    assert.equal(requests.length, 2);
  });
});

describe('HighLevel APIs', () => {
  it('pages transactions with startAt/endAt/limit/offset lazily and normalises snake_case contact snapshots', async () => {
    const rows = Array.from({ length: 5 }, (_, i) => ({
      _id: `t${i}`,
      amount: i === 0 ? '12.10' : 10,
      currency: 'USD',
      contactSnapshot: { first_name: 'Ann', email: 'ann@example.com', location_id: LOCATION },
    }));
    const { client, requests } = await clientFor((req) => {
      const limit = Number(req.url.searchParams.get('limit'));
      const offset = Number(req.url.searchParams.get('offset'));
      return { status: 200, body: { data: rows.slice(offset, offset + limit), totalCount: rows.length } };
    });
    const iterator = client.payments.transactions({ startAt: '2026-11-01', endAt: '2026-11-24' }, 2);
    const first = await iterator.next();
    assert.equal(requests.length, 1);
    const ids = [first.value?._id];
    for await (const t of iterator) ids.push(t._id);
    assert.deepEqual(ids, ['t0', 't1', 't2', 't3', 't4']);
    assert.deepEqual(
      requests.map((r) => r.url.searchParams.get('offset')),
      ['0', '2', '4'],
    );
    const q = requests[0]?.url.searchParams;
    assert.equal(q?.get('altId'), LOCATION);
    assert.equal(q?.get('altType'), 'location');
    assert.equal(q?.get('startAt'), '2026-11-01');
    assert.equal(q?.get('endAt'), '2026-11-24');
    const detail = first.value;
    assert.equal(detail?.amount, 12.1);
    assert.deepEqual(detail?.contactSnapshot, { firstName: 'Ann', email: 'ann@example.com', locationId: LOCATION });
    const minor = amountInMinorUnits(detail?.amount ?? 0, 'USD');
    assert.deepEqual(minor, { ok: true, value: 1210 });
  });

  it('reads invoiceNumber whether HighLevel sends a number or a string', async () => {
    const { client } = await clientFor(() => ({
      status: 200,
      body: {
        _id: 'inv1',
        status: 'sent',
        currency: 'USD',
        invoiceNumber: 1042,
        invoiceItems: [{ name: 'A', amount: 999, qty: 1 }],
        total: 999,
      },
    }));
    const invoice = await client.invoices.get('inv1');
    assert.equal(invoice.invoiceNumber, '1042');
    assert.equal(invoice.invoiceItems[0]?.amount, 999);
  });
});

describe('HighLevel OAuth', () => {
  it('builds the choose-location URL and posts form bodies with the client credentials', async () => {
    server = await startScriptedServer((req) =>
      req.url.pathname === '/oauth/locationToken'
        ? {
            status: 200,
            body: {
              access_token: 'loc-at',
              token_type: 'Bearer',
              expires_in: 86399,
              locationId: 'L1',
              scope: 'contacts.readonly',
            },
          }
        : {
            status: 200,
            body: {
              access_token: 'at',
              refresh_token: 'rt',
              token_type: 'Bearer',
              expires_in: 86399,
              scope: 'contacts.readonly contacts.write',
              userType: 'Location',
              locationId: 'L1',
              userId: 'u1',
            },
          },
    );
    const oauth = new HighLevelOAuth({
      clientId: 'cid',
      clientSecret: 'sec',
      redirectUri: 'http://localhost/hl',
      apiUrl: server.url,
      marketplaceUrl: 'http://market.test',
      scopes: ['contacts.readonly'],
    });
    const url = new URL(oauth.authorizeUrl('s1'));
    assert.equal(url.origin + url.pathname, 'http://market.test/v2/oauth/chooselocation');
    assert.equal(url.searchParams.get('client_id'), 'cid');
    assert.equal(url.searchParams.get('scope'), 'contacts.readonly');
    const tokens = await oauth.exchangeCode('code-1');
    assert.equal(tokens.locationId, 'L1');
    assert.deepEqual(tokens.scopes, ['contacts.readonly', 'contacts.write']);
    await oauth.refresh('rt');
    const location = await oauth.locationToken('agency-at', 'co1', 'L1');
    assert.equal(location.refreshToken, undefined);
    const [exchange, refresh, locationReq] = server.requests;
    assert.deepEqual(Object.fromEntries(new URLSearchParams(exchange?.body)), {
      client_id: 'cid',
      client_secret: 'sec',
      grant_type: 'authorization_code',
      code: 'code-1',
      user_type: 'Location',
      redirect_uri: 'http://localhost/hl',
    });
    assert.equal(new URLSearchParams(refresh?.body).get('grant_type'), 'refresh_token');
    assert.equal(locationReq?.headers.authorization, 'Bearer agency-at');
    assert.equal(locationReq?.headers.version, '2021-07-28');
  });
});
