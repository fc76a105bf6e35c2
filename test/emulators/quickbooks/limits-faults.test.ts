import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Json } from './helpers.ts';
import { entity, fault, request, startSandbox } from './helpers.ts';

describe('QuickBooks emulator requestid idempotency', () => {
  it('replays the first answer for a repeated requestid and writes nothing new; requestids are per realm', async () => {
    const sb = await startSandbox();
    try {
      const first = await sb.api('POST', 'customer?requestid=req-abc-1', { DisplayName: 'Idempotent Ivy' });
      const again = await sb.api('POST', 'customer?requestid=req-abc-1', { DisplayName: 'Idempotent Ivy' });
      assert.equal(first.status, 200);
      assert.equal(again.status, 200);
      assert.equal(again.text, first.text, 'the exact first body is replayed');
      const count = await sb.api(
        'GET',
        `query?query=${encodeURIComponent("select count(*) from Customer where DisplayName = 'Idempotent Ivy'")}`,
      );
      assert.deepEqual(count.body.QueryResponse, { totalCount: 1 });
      // A failing first answer is replayed too (status and body).
      const bad1 = await sb.api('POST', 'customer?requestid=req-dup', { DisplayName: 'Idempotent Ivy' });
      const bad2 = await sb.api('POST', 'customer?requestid=req-dup', { DisplayName: 'Someone Else' });
      assert.equal(bad1.status, 400);
      assert.equal(bad2.status, 400);
      assert.equal(bad2.text, bad1.text);
      // Another realm may use the same requestid.
      const other = (await sb.admin('POST', '/companies', { country: 'US' })).body.realmId as string;
      const token = (await sb.admin('POST', '/tokens', { realmId: other })).body.access_token as string;
      const elsewhere = await request(
        `${sb.emulator.url}/v3/company/${other}/customer?requestid=req-abc-1`,
        'POST',
        { DisplayName: 'Idempotent Ivy' },
        { authorization: `Bearer ${token}` },
      );
      assert.equal(elsewhere.status, 200);
      assert.notEqual(elsewhere.text, first.text);
      const tooLong = await sb.api('POST', `customer?requestid=${'x'.repeat(51)}`, { DisplayName: 'Long Id' });
      assert.equal(tooLong.status, 400);
    } finally {
      await sb.close();
    }
  });
});

describe('QuickBooks emulator rate limits', () => {
  it('answers 429 with Fault type SERVICE code 3001 past the per-minute limit (scaled by limitFactor), and resets after a minute', async () => {
    const sb = await startSandbox({ limits: undefined, limitFactor: 0.01 }); // 500 * 0.01 = 5 a minute
    try {
      for (let i = 0; i < 5; i++) assert.equal((await sb.api('GET', 'preferences')).status, 200);
      const throttled = await sb.api('GET', 'preferences');
      assert.equal(throttled.status, 429);
      const f = fault(throttled);
      assert.equal(f.type, 'SERVICE');
      assert.equal(f.code, '3001');
      assert.equal(f.Message, 'message=ThrottleExceeded; errorCode=003001; statusCode=429');
      sb.emulator.admin.advanceClock(60_000);
      assert.equal((await sb.api('GET', 'preferences')).status, 200);
    } finally {
      await sb.close();
    }
  });

  it('limits batch calls per minute (40 scaled) and counts batch items toward the request limit', async () => {
    const sb = await startSandbox({ limits: { perMinute: 10, batchPerMinute: 2 } });
    try {
      const batch = { BatchItemRequest: [{ bId: '1', Query: 'select * from Customer' }] };
      assert.equal((await sb.api('POST', 'batch', batch)).status, 200);
      assert.equal((await sb.api('POST', 'batch', batch)).status, 200);
      assert.equal((await sb.api('POST', 'batch', batch)).status, 429);
      sb.emulator.admin.advanceClock(60_000);
      const big = {
        BatchItemRequest: Array.from({ length: 11 }, (_, i) => ({ bId: String(i), Query: 'select * from Customer' })),
      };
      assert.equal((await sb.api('POST', 'batch', big)).status, 429);
    } finally {
      await sb.close();
    }
  });

  it('allows at most 10 requests in flight per realm', async () => {
    const sb = await startSandbox({ limits: undefined, limitFactor: Infinity });
    try {
      const lifted = await Promise.all(Array.from({ length: 30 }, () => sb.api('GET', 'preferences')));
      assert.ok(
        lifted.every((a) => a.status === 200),
        'Infinity lifts every limit',
      );
    } finally {
      await sb.close();
    }
    const limited = await startSandbox({ limits: { perMinute: 1000, concurrent: 10 } });
    try {
      await limited.admin('PUT', '/faults', {
        rules: [{ kind: 'latency', rate: 1, latencyMs: 150, path: '/preferences' }],
      });
      const answers = await Promise.all(Array.from({ length: 14 }, () => limited.api('GET', 'preferences')));
      const statuses = answers.map((a) => a.status);
      assert.equal(statuses.filter((s) => s === 200).length, 10);
      assert.equal(statuses.filter((s) => s === 429).length, 4);
    } finally {
      await limited.close();
    }
  });
});

describe('QuickBooks emulator fault injection', () => {
  it('injects 429, 500 and 503 answers per endpoint and counts them', async () => {
    const sb = await startSandbox();
    try {
      await sb.admin('PUT', '/faults', {
        rules: [
          { kind: 'error429', rate: 1, path: '/customer', count: 1 },
          { kind: 'error500', rate: 1, path: '/customer', count: 1 },
          { kind: 'error503', rate: 1, path: '/customer', method: 'POST', count: 1 },
        ],
      });
      const a = await sb.api('POST', 'customer', { DisplayName: 'Faulty 1' });
      const b = await sb.api('POST', 'customer', { DisplayName: 'Faulty 1' });
      const c = await sb.api('POST', 'customer', { DisplayName: 'Faulty 1' });
      const d = await sb.api('POST', 'customer', { DisplayName: 'Faulty 1' });
      assert.deepEqual([a.status, b.status, c.status, d.status], [429, 500, 503, 200]);
      assert.equal(fault(b).code, '10000');
      assert.equal(fault(b).type, 'SystemFault');
      assert.equal((await sb.api('GET', 'preferences')).status, 200, 'other paths are untouched');
      const stats = (await sb.admin('GET', '/faults')).body.stats as Json;
      assert.deepEqual(stats, { error429: 1, error500: 1, error503: 1 });
    } finally {
      await sb.close();
    }
  });

  it('adds latency, drops connections, and commits a write whose answer is lost (a requestid retry then gets the first answer)', async () => {
    const sb = await startSandbox();
    try {
      await sb.admin('PUT', '/faults', {
        rules: [{ kind: 'latency', rate: 1, latencyMs: 200, path: '/preferences', count: 1 }],
      });
      const started = Date.now();
      assert.equal((await sb.api('GET', 'preferences')).status, 200);
      assert.ok(Date.now() - started >= 190);

      await sb.admin('PUT', '/faults', { rules: [{ kind: 'drop', rate: 1, path: '/customer', count: 1 }] });
      await assert.rejects(sb.api('POST', 'customer', { DisplayName: 'Dropped Dan' }));
      const dropped = await sb.api(
        'GET',
        `query?query=${encodeURIComponent("select count(*) from Customer where DisplayName = 'Dropped Dan'")}`,
      );
      assert.deepEqual(dropped.body.QueryResponse, { totalCount: 0 }, 'a dropped request writes nothing');

      await sb.admin('PUT', '/faults', { rules: [{ kind: 'loseAnswer', rate: 1, path: '/customer', count: 1 }] });
      await assert.rejects(sb.api('POST', 'customer?requestid=lost-1', { DisplayName: 'Lost Answer Lou' }));
      const count = await sb.api(
        'GET',
        `query?query=${encodeURIComponent("select count(*) from Customer where DisplayName = 'Lost Answer Lou'")}`,
      );
      assert.deepEqual(count.body.QueryResponse, { totalCount: 1 }, 'the write happened');
      const retry = await sb.api('POST', 'customer?requestid=lost-1', { DisplayName: 'Lost Answer Lou' });
      assert.equal(retry.status, 200);
      assert.equal(entity(retry, 'Customer').DisplayName, 'Lost Answer Lou');
      const still = await sb.api(
        'GET',
        `query?query=${encodeURIComponent("select count(*) from Customer where DisplayName = 'Lost Answer Lou'")}`,
      );
      assert.deepEqual(still.body.QueryResponse, { totalCount: 1 });
    } finally {
      await sb.close();
    }
  });

  it('never writes twice when a requestid retry arrives while the slow first attempt is still running', async () => {
    const sb = await startSandbox();
    try {
      await sb.admin('PUT', '/faults', {
        rules: [{ kind: 'latency', rate: 1, latencyMs: 300, path: '/customer', count: 1 }],
      });
      const url = `${sb.emulator.url}/v3/company/${sb.realmId}/customer?requestid=slow-1`;
      const init = {
        method: 'POST',
        headers: { authorization: `Bearer ${sb.accessToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({ DisplayName: 'Slow Sally' }),
      };
      // The client gives up after 50 ms and retries at once with the same requestid.
      await assert.rejects(fetch(url, { ...init, signal: AbortSignal.timeout(50) }));
      const retry = await fetch(url, init);
      assert.equal(retry.status, 200);
      const count = await sb.api(
        'GET',
        `query?query=${encodeURIComponent("select count(*) from Customer where DisplayName = 'Slow Sally'")}`,
      );
      assert.deepEqual(count.body.QueryResponse, { totalCount: 1 });
    } finally {
      await sb.close();
    }
  });

  it('revokes the token of a request (revokeToken) and refuses bad fault configurations', async () => {
    const sb = await startSandbox();
    try {
      await sb.admin('PUT', '/faults', { rules: [{ kind: 'revokeToken', rate: 1, count: 1 }] });
      assert.equal((await sb.api('GET', 'preferences')).status, 401);
      assert.equal((await sb.api('GET', 'preferences')).status, 401, 'the token stays revoked');
      const bad = await sb.admin('PUT', '/faults', { rules: [{ kind: 'explode', rate: 2 }] });
      assert.equal(bad.status, 400);
      await sb.admin('DELETE', '/faults');
      const fresh = (await sb.admin('POST', '/tokens', { realmId: sb.realmId })).body.access_token as string;
      assert.equal((await sb.api('GET', 'preferences', undefined, { token: fresh })).status, 200);
      assert.equal((await sb.api('POST', 'customer', { DisplayName: 'After Faults' }, { token: fresh })).status, 200);
    } finally {
      await sb.close();
    }
  });
});
