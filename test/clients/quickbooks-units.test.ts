import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { count, literal, qboDateTime, quote, select } from '../../src/quickbooks/query.ts';
import {
  parseQuickBooksWebhook,
  signIntuitPayload,
  verifyIntuitSignature,
  isQuickBooksWebhookContentType,
} from '../../src/quickbooks/webhooks.ts';
import {
  QuickBooksError,
  faultFromBody,
  isDuplicateName,
  isNotFound,
  isStaleObject,
  isThrottled,
} from '../../src/quickbooks/errors.ts';
import { assignBatchIds, batchItemRequest, batchItemResult, chunk } from '../../src/quickbooks/batch.ts';
import { parseChangeSet, cdcResponseSchema } from '../../src/quickbooks/cdc.ts';
import { InMemoryQuickBooksLimiter } from '../../src/quickbooks/limiter.ts';
import { parseRetryAfter } from '../../src/http/core.ts';

describe('QuickBooks query builder', () => {
  it("escapes a quote with a backslash: O'Brien becomes 'O\\'Brien'", () => {
    assert.equal(quote("O'Brien"), "'O\\'Brien'");
    assert.equal(
      select('Customer').where('DisplayName', '=', "O'Brien").toString(),
      "SELECT * FROM Customer WHERE DisplayName = 'O\\'Brien'",
    );
  });

  it('escapes backslashes before quotes so a trailing backslash cannot swallow the closing quote', () => {
    assert.equal(quote('a\\'), "'a\\\\'");
    assert.equal(quote("x\\'y"), "'x\\\\\\'y'");
  });

  it('writes IN lists, LIKE, booleans, numbers and dates as literals', () => {
    const q = select('Invoice')
      .whereIn('Id', ['1', "2'"])
      .whereLike('DocNumber', '%INV%')
      .where('Balance', '>', 0)
      .where('MetaData.LastUpdatedTime', '>=', new Date('2026-01-02T03:04:05Z'))
      .orderBy('Id')
      .startPosition(1001)
      .maxResults(1000);
    assert.equal(
      q.toString(),
      "SELECT * FROM Invoice WHERE Id IN ('1', '2\\'') AND DocNumber LIKE '%INV%' AND Balance > 0 AND MetaData.LastUpdatedTime >= '2026-01-02T03:04:05Z' ORDERBY Id ASC STARTPOSITION 1001 MAXRESULTS 1000",
    );
    assert.equal(literal(true), 'true');
    assert.equal(
      select('Customer').includeInactive().toString(),
      'SELECT * FROM Customer WHERE Active IN (true, false)',
    );
    assert.equal(count('Customer').toString(), 'SELECT COUNT(*) FROM Customer');
  });

  it('writes date-times as Intuit SDKs send them: whole seconds with a zone, never milliseconds', () => {
    assert.equal(qboDateTime(new Date('2026-01-02T03:04:05.987Z')), '2026-01-02T03:04:05Z');
    // QuickBooks' own `time` (milliseconds, company offset) becomes the same instant in UTC, the fraction cut.
    assert.equal(qboDateTime('2020-09-29T05:58:07.300-07:00'), '2020-09-29T12:58:07Z');
    for (const given of ['2026-01-02', '2011-10-10T09:00:00-07:00', '2026-11-20T00:00:00Z', '2024-01-01T00:00:00'])
      assert.equal(qboDateTime(given), given);
    assert.throws(() => qboDateTime('2026-13-45T99:00:00.5'), RangeError);
  });

  it('refuses property names that could carry a clause, and out-of-range paging', () => {
    assert.throws(() => select('Customer').where("Id = '1' OR 1", '=', 1), TypeError);
    assert.throws(() => select('Customer').maxResults(1001), RangeError);
    assert.throws(() => select('Customer').startPosition(0), RangeError);
    assert.throws(() => select('Customer').whereIn('Id', []), RangeError);
  });
});

describe('QuickBooks webhook signature', () => {
  // Test vector from Intuit's .NET SDK tests (reference §5.3).
  const token = '00faeec4-08d0-4996-bb37-698ae19f0149';
  const body =
    '{"eventNotifications":[{"realmId":"1269959970","dataChangeEvent":{"entities":[{"name":"Vendor","id":"40","operation":"Update","lastUpdated":"2016-10-05T03:09:04.000Z"},{"name":"Customer","id":"43","operation":"Create","lastUpdated":"2016-10-05T03:07:04.000Z"}]}}]}';
  const signature = '6q+xGyMirJupwKTh2/WBl2NcdxzxqdIbk3sneKTxLWM=';

  it("accepts Intuit's published test vector", () => {
    assert.equal(signIntuitPayload(body, token), signature);
    assert.equal(verifyIntuitSignature(body, signature, token), true);
    assert.equal(verifyIntuitSignature(Buffer.from(body), signature, token), true);
  });

  it('refuses a forged signature, a changed body, a wrong token and a missing header', () => {
    assert.equal(verifyIntuitSignature(body, `AAAA${signature.slice(4)}`, token), false);
    assert.equal(verifyIntuitSignature(body.replace('"40"', '"41"'), signature, token), false);
    assert.equal(verifyIntuitSignature(body, signature, 'another-token'), false);
    assert.equal(verifyIntuitSignature(body, undefined, token), false);
    assert.equal(verifyIntuitSignature(body, 'not base64 at all', token), false);
  });

  it('reads the legacy format with stable derived event ids', () => {
    const events = parseQuickBooksWebhook(body);
    assert.equal(events.length, 2);
    assert.deepEqual(
      events.map(({ realmId, entity, entityId, operation, occurredAt }) => ({
        realmId,
        entity,
        entityId,
        operation,
        occurredAt,
      })),
      [
        {
          realmId: '1269959970',
          entity: 'Vendor',
          entityId: '40',
          operation: 'Update',
          occurredAt: '2016-10-05T03:09:04.000Z',
        },
        {
          realmId: '1269959970',
          entity: 'Customer',
          entityId: '43',
          operation: 'Create',
          occurredAt: '2016-10-05T03:07:04.000Z',
        },
      ],
    );
    assert.equal(parseQuickBooksWebhook(body)[0]?.eventId, events[0]?.eventId, 'a redelivery gets the same id');
    assert.notEqual(events[0]?.eventId, events[1]?.eventId);
  });

  it('reads CloudEvents arrays, canonical entity names and merge deletedId', () => {
    const events = parseQuickBooksWebhook(
      JSON.stringify([
        {
          specversion: '1.0',
          id: 'ev-1',
          source: 'intuit.x',
          type: 'qbo.salesreceipt.voided.v1',
          time: '2025-09-10T21:31:25.179Z',
          intuitentityid: '12',
          intuitaccountid: '310687',
          data: {},
        },
        {
          specversion: '1.0',
          id: 'ev-2',
          source: 'intuit.x',
          type: 'qbo.customer.merged.v1',
          time: '2025-09-10T21:31:26Z',
          intuitentityid: '5',
          intuitaccountid: '310687',
          data: { deletedid: '27' },
        },
      ]),
    );
    assert.deepEqual(events, [
      {
        eventId: 'ev-1',
        realmId: '310687',
        entity: 'SalesReceipt',
        entityId: '12',
        operation: 'Void',
        occurredAt: '2025-09-10T21:31:25.179Z',
      },
      {
        eventId: 'ev-2',
        realmId: '310687',
        entity: 'Customer',
        entityId: '5',
        operation: 'Merge',
        occurredAt: '2025-09-10T21:31:26Z',
        deletedId: '27',
      },
    ]);
    assert.equal(isQuickBooksWebhookContentType('application/cloudevents+json; charset=utf-8'), true);
    assert.equal(isQuickBooksWebhookContentType('text/plain'), false);
  });

  it('keeps the other entities of a delivery when one has an operation it does not know', () => {
    const events = parseQuickBooksWebhook(
      JSON.stringify({
        eventNotifications: [
          {
            realmId: '1',
            dataChangeEvent: {
              entities: [
                { name: 'Invoice', id: '1', operation: 'Restore', lastUpdated: '2026-01-01T00:00:00Z' },
                { name: 'Invoice', id: '2', operation: 'Void', lastUpdated: '2026-01-01T00:00:00Z' },
              ],
            },
          },
        ],
      }),
    );
    assert.deepEqual(
      events.map((e) => [e.entityId, e.operation]),
      [
        ['1', 'Update'],
        ['2', 'Void'],
      ],
    );
    assert.throws(() => parseQuickBooksWebhook('{"hello":1}'));
  });
});

describe('QuickBooks faults', () => {
  it('reads the Fault shape into a typed error with its helpers', () => {
    const e = faultFromBody(
      {
        Fault: {
          Error: [
            {
              Message: 'Stale Object Error',
              Detail: 'Stale Object Error : You and Bob were working on this at the same time.',
              code: '5010',
              element: '',
            },
          ],
          type: 'ValidationFault',
        },
      },
      { status: 400, intuitTid: 'tid-1' },
    );
    assert.ok(e instanceof QuickBooksError);
    assert.equal(e.code, '5010');
    assert.equal(e.message, 'Stale Object Error');
    assert.match(e.detail ?? '', /same time/);
    assert.equal(e.status, 400);
    assert.equal(e.intuitTid, 'tid-1');
    assert.equal(isStaleObject(e), true);
    assert.equal(isDuplicateName(e), false);
  });

  it('reads the lowercase 401 fault shape', () => {
    const e = faultFromBody(
      {
        warnings: null,
        fault: {
          error: [
            {
              message: 'message=AuthenticationFailed; errorCode=003200; statusCode=401',
              detail: 'Token expired: x',
              code: '3200',
              element: null,
            },
          ],
          type: 'AUTHENTICATION',
        },
        time: 1601391072830,
      },
      { status: 401 },
    );
    assert.equal(e?.code, '3200');
    assert.equal(e?.faultType, 'AUTHENTICATION');
  });

  it('classifies 6240, 610 and throttling', () => {
    const make = (code: string, status = 400) => new QuickBooksError({ code, message: 'x', status });
    assert.equal(isDuplicateName(make('6240')), true);
    assert.equal(isNotFound(make('610')), true);
    assert.equal(isThrottled(make('3001', 429)), true);
    assert.equal(isThrottled(make('3001', 403)), true);
    assert.equal(faultFromBody({ Customer: {} }, { status: 200 }), undefined);
  });
});

describe('QuickBooks batch items', () => {
  it('splits into chunks of at most 30 and numbers items uniquely', () => {
    const items = Array.from({ length: 65 }, (_, i) => ({ query: `select * from Customer where Id = '${i}'` }));
    const numbered = assignBatchIds(items);
    assert.deepEqual(
      chunk(numbered).map((c) => c.length),
      [30, 30, 5],
    );
    assert.equal(new Set(numbered.map((i) => i.bId)).size, 65);
    assert.throws(
      () =>
        assignBatchIds([
          { bId: 'same', query: 'q' },
          { bId: 'same', query: 'q' },
        ]),
      RangeError,
    );
    assert.throws(() => assignBatchIds([{ bId: 'elevenchars', query: 'q' }]), RangeError);
  });

  it('sends a void as an update with optionsData void', () => {
    assert.deepEqual(
      batchItemRequest({ bId: 'v1', operation: 'void', entity: 'Invoice', body: { Id: '9', SyncToken: '2' } }),
      {
        bId: 'v1',
        operation: 'update',
        optionsData: 'void',
        Invoice: { Id: '9', SyncToken: '2' },
      },
    );
  });

  it('maps entity, fault and query items by bId', () => {
    const ok = batchItemResult({ bId: 'a', Customer: { Id: '1', SyncToken: '0', DisplayName: 'A' } }, undefined);
    assert.equal(ok.ok && 'entity' in ok ? ok.entity : undefined, 'Customer');
    const bad = batchItemResult(
      { bId: 'b', Fault: { Error: [{ Message: 'Object Not Found', code: '610' }], type: 'ValidationFault' } },
      undefined,
    );
    assert.equal(!bad.ok && isNotFound(bad.error), true);
    const q = batchItemResult({ bId: 'c', QueryResponse: { startPosition: 1 } }, undefined);
    assert.equal(q.ok && 'query' in q, true);
  });
});

describe('QuickBooks change data capture', () => {
  it('separates changed objects from deleted stubs and keeps the answer time', () => {
    const body = cdcResponseSchema.parse({
      CDCResponse: [
        {
          QueryResponse: [
            {
              Customer: [
                { Id: '1', SyncToken: '3', DisplayName: 'Ann' },
                {
                  domain: 'QBO',
                  status: 'Deleted',
                  Id: '39',
                  MetaData: { LastUpdatedTime: '2026-11-01T10:00:00-07:00' },
                },
              ],
              startPosition: 1,
              maxResults: 2,
            },
            {
              Invoice: [{ Id: '7', SyncToken: '1', CustomerRef: { value: '1' }, Line: [], TotalAmt: 0 }],
              startPosition: 1,
              maxResults: 1,
            },
          ],
        },
      ],
      time: '2026-11-24T10:00:00.000-08:00',
    });
    const set = parseChangeSet(body);
    assert.deepEqual(
      set.changed.map((c) => [c.entity, c.value.Id]),
      [
        ['Customer', '1'],
        ['Invoice', '7'],
      ],
    );
    assert.deepEqual(set.deleted, [{ entity: 'Customer', id: '39', lastUpdated: '2026-11-01T10:00:00-07:00' }]);
    assert.equal(set.time, '2026-11-24T10:00:00.000-08:00');
    assert.equal(set.truncated, false);
  });
});

describe('QuickBooks request helpers', () => {
  it('reads Retry-After as seconds or as a date', () => {
    assert.equal(parseRetryAfter('3'), 3000);
    assert.equal(parseRetryAfter(new Date(10_000).toUTCString(), 4_000), 6000);
    assert.equal(parseRetryAfter(null), undefined);
  });
});

describe('in-memory per-realm limiter', () => {
  it('holds at most the concurrency limit in flight per key, independently per key', async () => {
    const limiter = new InMemoryQuickBooksLimiter({ concurrency: 2, limit: 100 });
    const r1 = await limiter.acquire('realm');
    const r2 = await limiter.acquire('realm');
    let third = false;
    const p3 = limiter.acquire('realm').then((r) => {
      third = true;
      return r;
    });
    const other = await limiter.acquire('other-realm');
    await new Promise((r) => setImmediate(r));
    assert.equal(third, false);
    assert.equal(limiter.inFlight('realm'), 2);
    r1();
    const r3 = await p3;
    assert.equal(third, true);
    r2();
    r3();
    other();
  });

  it('spaces requests beyond the per-window limit into the next window', async () => {
    const limiter = new InMemoryQuickBooksLimiter({ concurrency: 10, limit: 3, windowMs: 300 });
    const started = Date.now();
    const times: number[] = [];
    await Promise.all(
      Array.from({ length: 5 }, async () => {
        const release = await limiter.acquire('realm');
        times.push(Date.now() - started);
        release();
      }),
    );
    times.sort((a, b) => a - b);
    assert.ok((times[2] ?? 0) < 200, `first three at once: ${times}`);
    assert.ok((times[3] ?? 0) >= 290, `fourth waits for the window: ${times}`);
  });
});
