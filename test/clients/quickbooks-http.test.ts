// The QuickBooks request core and client against a scripted local server: what goes on the wire and
// how scripted failures (429 storms, 503s, expired tokens, stale SyncTokens) are handled.
import { describe, it, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { QuickBooksClient } from '../../src/quickbooks/client.ts';
import { QuickBooksError, isStaleObject, isThrottled } from '../../src/quickbooks/errors.ts';
import { InMemoryQuickBooksLimiter } from '../../src/quickbooks/limiter.ts';
import { QuickBooksOAuth } from '../../src/quickbooks/oauth.ts';
import { select } from '../../src/quickbooks/query.ts';
import {
  CountingTokens,
  recordingSleep,
  startScriptedServer,
  type Script,
  type ScriptedServer,
} from './scriptedServer.ts';

const REALM = '9130350000000000';
const throttled = {
  Fault: {
    Error: [
      {
        Message: 'message=ThrottleExceeded; errorCode=003001; statusCode=429',
        Detail: 'The request limit was reached.',
        code: '3001',
      },
    ],
    type: 'SERVICE',
  },
};
const customer = (id: string, extra: Record<string, unknown> = {}) => ({
  Id: id,
  SyncToken: '0',
  DisplayName: `Customer ${id}`,
  ...extra,
});

let server: ScriptedServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function clientFor(script: Script, options: { maxAttempts?: number; timeoutMs?: number } = {}) {
  server = await startScriptedServer(script);
  const tokens = new CountingTokens();
  const sleeper = recordingSleep();
  const client = new QuickBooksClient({
    baseUrl: server.url,
    realmId: REALM,
    tokens,
    limiter: new InMemoryQuickBooksLimiter(),
    retry: { maxAttempts: options.maxAttempts ?? 6, baseDelayMs: 100, maxDelayMs: 1000 },
    timeoutMs: options.timeoutMs ?? 5000,
    sleep: sleeper.sleep,
    random: () => 0.5,
  });
  return { client, tokens, delays: sleeper.delays, requests: server.requests };
}

describe('QuickBooks request core', () => {
  it('rides out a 429 storm, honouring Retry-After when sent and backing off when not', async () => {
    const { client, delays, requests } = await clientFor((_, i) => {
      if (i === 0) return { status: 429, headers: { 'retry-after': '2' }, body: throttled };
      if (i < 4) return { status: 429, body: throttled };
      return { status: 200, body: { Customer: customer('1'), time: '2026-11-24T10:00:00-08:00' } };
    });
    const c = await client.read('Customer', '1');
    assert.equal(c.DisplayName, 'Customer 1');
    assert.equal(requests.length, 5);
    assert.equal(delays[0], 2000, 'Retry-After: 2 means two seconds');
    // Full jitter with random() = 0.5 over 100 * 2^attempt, capped at 1000.
    assert.deepEqual(delays.slice(1), [100, 200, 400]);
  });

  it('gives up after the last attempt with a typed throttling error', async () => {
    const { client, requests } = await clientFor(
      () => ({ status: 429, headers: { intuit_tid: 'tid-429' }, body: throttled }),
      { maxAttempts: 3 },
    );
    const error = await client.read('Customer', '1').catch((e: unknown) => e);
    assert.ok(isThrottled(error));
    assert.equal(error.intuitTid, 'tid-429');
    assert.equal(requests.length, 3);
  });

  it('does not sleep through a Retry-After longer than allowed: the error carries it for the job queue', async () => {
    const { client, requests, delays } = await clientFor(() => ({
      status: 429,
      headers: { 'retry-after': '600' },
      body: throttled,
    }));
    const error = await client.read('Customer', '1').catch((e: unknown) => e);
    assert.ok(isThrottled(error));
    assert.equal(error.retryAfterMs, 600_000);
    assert.equal(requests.length, 1);
    assert.deepEqual(delays, []);
  });

  it('retries 503 and 502, then succeeds', async () => {
    const { client, requests } = await clientFor((_, i) =>
      i === 0
        ? { status: 503, body: 'busy' }
        : i === 1
          ? { status: 502 }
          : { status: 200, body: { Customer: customer('1') } },
    );
    await client.read('Customer', '1');
    assert.equal(requests.length, 3);
  });

  it('refreshes the token once on 401 (code 3200) and retries with the new one', async () => {
    const { client, tokens, requests } = await clientFor((req) =>
      req.headers.authorization === 'Bearer token-1'
        ? {
            status: 401,
            headers: { 'www-authenticate': 'Bearer realm="Intuit", error="invalid_token"' },
            body: {
              fault: {
                error: [
                  {
                    message: 'message=AuthenticationFailed; errorCode=003200; statusCode=401',
                    detail: 'Token expired',
                    code: '3200',
                  },
                ],
                type: 'AUTHENTICATION',
              },
            },
          }
        : { status: 200, body: { Customer: customer('1') } },
    );
    await client.read('Customer', '1');
    assert.equal(tokens.refreshes, 1);
    assert.deepEqual(
      requests.map((r) => r.headers.authorization),
      ['Bearer token-1', 'Bearer token-2'],
    );
  });

  it('does not refresh twice when the new token is refused too', async () => {
    const { client, tokens } = await clientFor(() => ({
      status: 401,
      body: { fault: { error: [{ message: 'AuthenticationFailed', code: '3200' }], type: 'AUTHENTICATION' } },
    }));
    const error = await client.read('Customer', '1').catch((e: unknown) => e);
    assert.ok(error instanceof QuickBooksError);
    assert.equal(error.status, 401);
    assert.equal(tokens.refreshes, 1);
  });

  it('types a stale SyncToken as 5010 and does not retry it', async () => {
    const { client, requests } = await clientFor(() => ({
      status: 400,
      body: {
        Fault: {
          Error: [
            {
              Message: 'Stale Object Error',
              Detail: 'Stale Object Error : You and Ann were working on this at the same time.',
              code: '5010',
            },
          ],
          type: 'ValidationFault',
        },
      },
    }));
    const error = await client
      .update('Customer', { Id: '1', SyncToken: '0', DisplayName: 'New' }, { requestId: 'r-stale' })
      .catch((e: unknown) => e);
    assert.ok(isStaleObject(error));
    assert.equal(requests.length, 1);
  });

  it('treats a Fault inside HTTP 200 as an error', async () => {
    const { client } = await clientFor(() => ({
      status: 200,
      body: { Fault: { Error: [{ Message: 'Object Not Found', code: '610' }], type: 'ValidationFault' } },
    }));
    await assert.rejects(
      client.read('Invoice', '404'),
      (e: unknown) => e instanceof QuickBooksError && e.code === '610' && e.status === 200,
    );
  });

  it('sends requestid on every write and minorversion=75, Bearer and Accept on every call', async () => {
    const { client, requests } = await clientFor((req) => {
      if (req.url.pathname.endsWith('/query')) return { status: 200, body: { QueryResponse: {} } };
      if (req.url.searchParams.get('operation') === 'delete')
        return { status: 200, body: { Invoice: { Id: '5', status: 'Deleted', domain: 'QBO' } } };
      return { status: 200, body: { Customer: customer('1') } };
    });
    await client.create('Customer', { DisplayName: 'Ann' }, { requestId: 'req-create-1' });
    await client.update('Customer', { Id: '1', SyncToken: '0', GivenName: 'Ann' }, { requestId: 'req-update-1' });
    const stub = await client.delete('Invoice', { Id: '5', SyncToken: '1' }, { requestId: 'req-delete-1' });
    assert.equal(stub.status, 'Deleted');
    await client.query(select('Customer'));
    assert.deepEqual(
      requests.map((r) => r.url.searchParams.get('requestid')),
      ['req-create-1', 'req-update-1', 'req-delete-1', null],
    );
    for (const r of requests) {
      assert.equal(r.url.searchParams.get('minorversion'), '75');
      assert.equal(r.headers.accept, 'application/json');
      assert.match(r.headers.authorization ?? '', /^Bearer /);
      assert.ok(r.url.pathname.startsWith(`/v3/company/${REALM}/`));
    }
    assert.deepEqual(JSON.parse(requests[1]?.body ?? '{}'), {
      Id: '1',
      SyncToken: '0',
      GivenName: 'Ann',
      sparse: true,
    });
    assert.equal(requests[2]?.url.searchParams.get('operation'), 'delete');
    assert.equal(requests[3]?.url.searchParams.get('query'), 'SELECT * FROM Customer');
  });

  it('repeats the same requestid when a write is retried after a 503', async () => {
    const { client, requests } = await clientFor((_, i) =>
      i === 0 ? { status: 503 } : { status: 200, body: { Customer: customer('1') } },
    );
    await client.create('Customer', { DisplayName: 'Ann' }, { requestId: 'req-same' });
    assert.deepEqual(
      requests.map((r) => r.url.searchParams.get('requestid')),
      ['req-same', 'req-same'],
    );
  });

  it('refuses a write without a requestid before sending anything', async () => {
    const { client, requests } = await clientFor(() => ({ status: 200, body: {} }));
    await assert.rejects(client.create('Customer', { DisplayName: 'x' }, { requestId: '' }), TypeError);
    assert.equal(requests.length, 0);
  });

  it('refuses a requestid longer than QuickBooks allows before sending anything', async () => {
    const { client, requests } = await clientFor(() => ({ status: 200, body: {} }));
    await assert.rejects(
      client.create('Customer', { DisplayName: 'x' }, { requestId: 'r'.repeat(51) }),
      (e: unknown) => e instanceof TypeError && /quickbooksRequestId/.test(e.message),
    );
    assert.equal(requests.length, 0);
  });

  it('times out a request that hangs and retries it', async () => {
    const { client, requests } = await clientFor(
      (_, i) =>
        i === 0
          ? { status: 200, delayMs: 500, body: { Customer: customer('1') } }
          : { status: 200, body: { Customer: customer('1') } },
      {
        timeoutMs: 100,
      },
    );
    await client.read('Customer', '1');
    assert.equal(requests.length, 2);
  });

  it('reports a timeout as a typed error when attempts run out', async () => {
    const { client } = await clientFor(() => ({ status: 200, delayMs: 500, body: {} }), {
      timeoutMs: 50,
      maxAttempts: 1,
    });
    await assert.rejects(
      client.read('Customer', '1'),
      (e: unknown) => e instanceof QuickBooksError && e.code === 'timeout' && e.status === 0,
    );
  });
});

describe('QuickBooks client operations', () => {
  it('splits a batch of 65 into 30, 30 and 5 and maps every result by bId', async () => {
    const { client, requests } = await clientFor((req) => {
      const body = JSON.parse(req.body) as {
        BatchItemRequest: Array<{ bId: string; Customer: { DisplayName: string } }>;
      };
      return {
        status: 200,
        body: {
          BatchItemResponse: body.BatchItemRequest.map((item) =>
            item.Customer.DisplayName === 'dup'
              ? {
                  bId: item.bId,
                  Fault: { Error: [{ Message: 'Duplicate Name Exists Error', code: '6240' }], type: 'ValidationFault' },
                }
              : { bId: item.bId, Customer: customer(item.bId, { DisplayName: item.Customer.DisplayName }) },
          ),
        },
      };
    });
    const items = Array.from({ length: 65 }, (_, i) => ({
      bId: `c${i}`,
      operation: 'create' as const,
      entity: 'Customer' as const,
      body: { DisplayName: i === 31 ? 'dup' : `n${i}` },
    }));
    const results = await client.batch(items, { requestId: 'batch-req-1' });
    assert.deepEqual(
      requests.map((r) => (JSON.parse(r.body) as { BatchItemRequest: unknown[] }).BatchItemRequest.length),
      [30, 30, 5],
    );
    const ids = requests.map((r) => r.url.searchParams.get('requestid'));
    assert.equal(new Set(ids).size, 3, 'each chunk has its own requestid');
    assert.ok(ids.every((id) => id !== null && id.length <= 36));
    assert.equal(results.size, 65);
    const dup = results.get('c31');
    assert.equal(dup?.ok, false);
    assert.equal(dup && !dup.ok ? dup.error.code : undefined, '6240');
    const fine = results.get('c64');
    assert.equal(fine?.ok && 'entity' in fine ? fine.value.Id : undefined, 'c64');
  });

  it('gives every chunk of a batch the same requestid when the whole batch is sent again', async () => {
    const { client, requests } = await clientFor(() => ({ status: 200, body: { BatchItemResponse: [] } }));
    const items = Array.from({ length: 31 }, (_, i) => ({
      bId: `c${i}`,
      operation: 'create' as const,
      entity: 'Customer' as const,
      body: { DisplayName: `n${i}` },
    }));
    await client.batch(items, { requestId: 'batch-again' });
    await client.batch(items, { requestId: 'batch-again' });
    const ids = requests.map((r) => r.url.searchParams.get('requestid'));
    assert.equal(ids.length, 4);
    assert.deepEqual(ids.slice(2), ids.slice(0, 2));
    assert.notEqual(ids[0], ids[1]);
    assert.ok(
      ids.every((id) => id !== null && /^ll1[A-Za-z0-9_-]{33}$/.test(id)),
      'quickbooksRequestId, batch length',
    );
  });

  it('pages lazily: one request per page consumed, STARTPOSITION advancing by the page size', async () => {
    const all = Array.from({ length: 5 }, (_, i) => customer(String(i + 1)));
    const { client, requests } = await clientFor((req) => {
      const q = req.url.searchParams.get('query') ?? '';
      const start = Number(/STARTPOSITION (\d+)/.exec(q)?.[1]);
      const max = Number(/MAXRESULTS (\d+)/.exec(q)?.[1]);
      const rows = all.slice(start - 1, start - 1 + max);
      return {
        status: 200,
        body: { QueryResponse: rows.length ? { Customer: rows, startPosition: start, maxResults: rows.length } : {} },
      };
    });
    const pages = client.queryPages(select('Customer').orderBy('Id'), 2);
    const first = await pages.next();
    assert.deepEqual(
      first.value?.map((c: { Id: string }) => c.Id),
      ['1', '2'],
    );
    assert.equal(requests.length, 1, 'nothing fetched ahead of the consumer');
    const rest: string[] = [];
    for await (const page of pages) rest.push(...page.map((c) => c.Id));
    assert.deepEqual(rest, ['3', '4', '5']);
    assert.deepEqual(
      requests.map((r) => r.url.searchParams.get('query')),
      [1, 3, 5].map((s) => `SELECT * FROM Customer ORDERBY Id ASC STARTPOSITION ${s} MAXRESULTS 2`),
    );
  });

  it('reads a CDC answer over HTTP with changed and deleted objects', async () => {
    const { client, requests } = await clientFor(() => ({
      status: 200,
      body: {
        CDCResponse: [
          {
            QueryResponse: [
              {
                Customer: [customer('4'), { domain: 'QBO', status: 'Deleted', Id: '9' }],
                startPosition: 1,
                maxResults: 2,
              },
            ],
          },
        ],
        time: '2026-11-24T11:00:00.000-08:00',
      },
    }));
    const set = await client.changedSince(['Customer', 'Invoice'], '2026-11-20T00:00:00Z');
    assert.equal(requests[0]?.url.searchParams.get('entities'), 'Customer,Invoice');
    assert.equal(requests[0]?.url.searchParams.get('changedSince'), '2026-11-20T00:00:00Z');
    assert.deepEqual(
      set.changed.map((c) => c.value.Id),
      ['4'],
    );
    assert.deepEqual(
      set.deleted.map((d) => d.id),
      ['9'],
    );
    assert.equal(set.time, '2026-11-24T11:00:00.000-08:00');
  });

  it('finds customers by email whatever the case, falling back to a scan when the filter is refused', async () => {
    const { client, requests } = await clientFor((req) => {
      const q = req.url.searchParams.get('query') ?? '';
      if (q.includes('PrimaryEmailAddr')) {
        return {
          status: 400,
          body: {
            Fault: {
              Error: [
                {
                  Message: 'Invalid query',
                  Detail: "QueryValidationError: property 'PrimaryEmailAddr' is not queryable",
                  code: '4001',
                },
              ],
              type: 'ValidationFault',
            },
          },
        };
      }
      return {
        status: 200,
        body: {
          QueryResponse: {
            Customer: [
              customer('1', { PrimaryEmailAddr: { Address: 'Other@x.com' } }),
              customer('2', { PrimaryEmailAddr: { Address: 'billing@x.com, Ann@Example.COM' } }),
              customer('3', { Active: false, PrimaryEmailAddr: { Address: ' ann@example.com ' } }),
            ],
          },
        },
      };
    });
    const found = await client.findCustomersByEmail('ann@example.com');
    assert.deepEqual(found.map((c) => c.Id).sort(), ['2', '3']);
    assert.match(requests.at(-1)?.url.searchParams.get('query') ?? '', /WHERE Active IN \(true, false\)/);
  });

  it('sends a long query as a POST body with application/text and no requestid', async () => {
    const { client, requests } = await clientFor(() => ({ status: 200, body: { QueryResponse: {} } }));
    const ids = Array.from({ length: 400 }, (_, i) => String(i));
    await client.query(select('Customer').whereIn('Id', ids));
    assert.equal(requests[0]?.method, 'POST');
    assert.equal(requests[0]?.headers['content-type'], 'application/text');
    assert.match(requests[0]?.body ?? '', /^SELECT \* FROM Customer WHERE Id IN \('0', '1'/);
    assert.equal(requests[0]?.url.searchParams.get('requestid'), null);
  });

  it('reads CompanyInfo by realm id and Preferences', async () => {
    const { client, requests } = await clientFor((req) =>
      req.url.pathname.endsWith('/preferences')
        ? {
            status: 200,
            body: {
              Preferences: {
                Id: '1',
                SyncToken: '0',
                CurrencyPrefs: { MultiCurrencyEnabled: false, HomeCurrency: { value: 'USD' } },
              },
            },
          }
        : { status: 200, body: { CompanyInfo: { Id: '1', SyncToken: '0', CompanyName: 'Acme', Country: 'US' } } },
    );
    assert.equal((await client.companyInfo()).Country, 'US');
    assert.equal((await client.preferences()).CurrencyPrefs?.HomeCurrency?.value, 'USD');
    assert.equal(requests[0]?.url.pathname, `/v3/company/${REALM}/companyinfo/${REALM}`);
  });
});

describe('QuickBooks OAuth', () => {
  it('builds the authorize URL and exchanges, refreshes and revokes with Basic auth and form bodies', async () => {
    server = await startScriptedServer((req) => {
      if (req.url.pathname === '/revoke') return { status: 200, body: '' };
      const form = new URLSearchParams(req.body);
      if (form.get('code') === 'bad')
        return { status: 400, body: { error: 'invalid_grant', error_description: 'Invalid authorization code' } };
      return {
        status: 200,
        body: {
          token_type: 'bearer',
          access_token: 'at',
          refresh_token: 'rt2',
          expires_in: 3600,
          x_refresh_token_expires_in: 8726400,
        },
      };
    });
    const oauth = new QuickBooksOAuth({
      clientId: 'cid',
      clientSecret: 'secret',
      redirectUri: 'http://localhost/cb',
      endpoints: {
        authorizeUrl: `${server.url}/authorize`,
        tokenUrl: `${server.url}/token`,
        revokeUrl: `${server.url}/revoke`,
      },
    });
    const url = new URL(oauth.authorizeUrl('st-1'));
    assert.deepEqual(Object.fromEntries(url.searchParams), {
      client_id: 'cid',
      response_type: 'code',
      scope: 'com.intuit.quickbooks.accounting',
      redirect_uri: 'http://localhost/cb',
      state: 'st-1',
    });
    assert.deepEqual(oauth.parseCallback('http://localhost/cb?code=c1&state=st-1&realmId=123'), {
      code: 'c1',
      state: 'st-1',
      realmId: '123',
    });

    const tokens = await oauth.exchangeCode('c1');
    assert.equal(tokens.refreshToken, 'rt2');
    assert.ok(tokens.accessTokenExpiresAt.getTime() > Date.now() + 3500_000);
    await oauth.refresh('rt1');
    await oauth.revoke('rt2');
    const [exchange, refresh, revoke] = server.requests;
    assert.equal(exchange?.headers.authorization, `Basic ${Buffer.from('cid:secret').toString('base64')}`);
    assert.equal(exchange?.headers['content-type'], 'application/x-www-form-urlencoded');
    assert.deepEqual(Object.fromEntries(new URLSearchParams(exchange?.body)), {
      grant_type: 'authorization_code',
      code: 'c1',
      redirect_uri: 'http://localhost/cb',
    });
    assert.deepEqual(Object.fromEntries(new URLSearchParams(refresh?.body)), {
      grant_type: 'refresh_token',
      refresh_token: 'rt1',
    });
    assert.deepEqual(Object.fromEntries(new URLSearchParams(revoke?.body)), { token: 'rt2' });
    await assert.rejects(
      oauth.exchangeCode('bad'),
      (e: unknown) => e instanceof QuickBooksError && e.code === 'invalid_grant' && e.status === 400,
    );
  });
});
