// What an operator sees: a 500 and a failed job each leave a log line with their ids and the error's stack, a
// token never reaches the log, /readyz tells when the store cannot be used, and /metrics moves with the work.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { createLogger } from '../../src/log.ts';
import type { Db } from '../../src/store/db.ts';
import { Engine } from '../../src/sync/engine/engine.ts';
import { buildServer } from '../../src/server/app.ts';
import { QUEUES } from '../../src/sync/engine/routes.ts';
import { SALES_RECEIPTS_FLOW } from '../../src/sync/flows/salesReceipts.ts';
import { openTestDb, type TestDb } from '../support/db.ts';
import { startStack, eventually, type Stack } from '../support/stack.ts';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config.ts';
import { openRuntime } from '../../src/runtime.ts';

type Line = Record<string, unknown> & { level: string; msg: string };

/** Collects a logger's lines as parsed JSON. */
function logCollector() {
  const stream = new PassThrough();
  let text = '';
  stream.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
  return {
    stream,
    text: () => text,
    lines: (): Line[] =>
      text
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Line),
  };
}

/** A store that can be made unreachable: every statement fails as a lost PostgreSQL server's would. */
function breakable(db: Db): { db: Db; down: (value: boolean) => void } {
  let isDown = false;
  const refuse = () =>
    Promise.reject(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }));
  const wrapped: Db = {
    kind: db.kind,
    ...(db.pglite ? { pglite: db.pglite } : {}),
    ...(db.pool ? { pool: db.pool } : {}),
    query: (sql, params) => (isDown ? refuse() : db.query(sql, params)),
    exec: (sql) => (isDown ? refuse() : db.exec(sql)),
    transaction: (fn) => (isDown ? refuse() : db.transaction(fn)),
    close: () => db.close(),
  } as Db;
  return { db: wrapped, down: (value) => (isDown = value) };
}

const METRICS_TOKEN = 'scrape-token-0123456789abcdef';

/** The value of one sample of a scrape (0 when absent). */
function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const match = /^([a-z_]+)(\{[^}]*\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const have = Object.fromEntries([...(match[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(match[3]);
  }
  return 0;
}

describe('health, readiness and the log of a failing server', () => {
  let t: TestDb;
  let engine: Engine;
  let store: ReturnType<typeof breakable>;
  let url: string;
  let close: () => Promise<void>;
  const log = logCollector();

  before(async () => {
    t = await openTestDb();
    store = breakable(t.db);
    engine = await Engine.create({
      db: store.db,
      secrets: (await import('../../src/store/secrets.ts')).SecretBox.fromKey(Buffer.alloc(32, 7)),
      publicUrl: 'http://127.0.0.1:0',
      logger: createLogger({ level: 'info', stream: log.stream }),
      queue: { supervise: false },
      providers: {
        quickbooks: {
          clientId: 'id',
          clientSecret: 'qbo-client-secret-value',
          webhookVerifierToken: 'v',
          apiUrl: 'http://127.0.0.1:9',
          authorizeUrl: undefined,
          tokenUrl: undefined,
          revokeUrl: undefined,
        },
        highlevel: {
          clientId: 'id',
          clientSecret: 'hl-client-secret-value',
          apiUrl: 'http://127.0.0.1:9',
          authorizeUrl: undefined,
          webhookPublicKey: undefined,
          webhookRsaPublicKey: undefined,
        },
      },
    });
    const server = await buildServer(engine, { metricsToken: METRICS_TOKEN });
    await server.listen({ port: 0, host: '127.0.0.1' });
    const address = server.server.address();
    url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    close = async () => {
      store.down(false);
      await server.close();
      await engine.stop();
      await t.close();
    };
  });
  after(async () => {
    await close();
  });

  it('answers /healthz and /readyz while the store answers', async () => {
    assert.equal((await fetch(`${url}/healthz`)).status, 200);
    const ready = await fetch(`${url}/readyz`);
    assert.equal(ready.status, 200);
    assert.deepEqual(await ready.json(), { ready: true });
  });

  it('fails /readyz, but not /healthz, when the store is unreachable', async () => {
    store.down(true);
    try {
      const ready = await fetch(`${url}/readyz`);
      assert.equal(ready.status, 503);
      assert.deepEqual(await ready.json(), { ready: false, problems: ['store unreachable'] });
      assert.equal((await fetch(`${url}/healthz`)).status, 200, 'the process itself is up');
    } finally {
      store.down(false);
    }
    assert.equal((await fetch(`${url}/readyz`)).status, 200, 'ready again once the store answers');
  });

  it('fails /readyz while a migration of this version is not applied', async () => {
    const last = await t.db.query<{ version: number; name: string }>(
      'SELECT version, name FROM schema_migrations ORDER BY version DESC LIMIT 1',
    );
    const { version, name } = last.rows[0]!;
    await t.db.query('DELETE FROM schema_migrations WHERE version = $1', [version]);
    try {
      const ready = await fetch(`${url}/readyz`);
      assert.equal(ready.status, 503);
      assert.deepEqual(await ready.json(), { ready: false, problems: [`store migrations not applied: ${version}`] });
    } finally {
      await t.db.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [version, name]);
    }
  });

  it('logs a 500 with its request id and the stack, names that id in the answer, and logs one line for the request', async () => {
    store.down(true);
    let response: Response;
    try {
      // A session id of the form ledgerlink hands out (43 base64url characters): only such a cookie is looked up.
      response = await fetch(`${url}/api/auth/state`, {
        headers: {
          cookie: 'll_session=some-session-secret-0123456789abcdefghijklm',
          authorization: 'Bearer some-bearer-secret',
        },
      });
    } finally {
      store.down(false);
    }
    assert.equal(response.status, 500);
    const body = (await response.json()) as { message: string; requestId: string };
    assert.ok(body.requestId, 'the answer names the request id');
    assert.equal(response.headers.get('x-request-id'), body.requestId);
    assert.match(body.message, new RegExp(body.requestId));
    const mine = log.lines().filter((l) => l.reqId === body.requestId);
    const error = mine.find((l) => l.level === 'error' && l.err);
    assert.ok(error, `an error line for request ${body.requestId}`);
    const err = error.err as { message: string; stack: string };
    assert.match(err.message, /ECONNREFUSED/);
    assert.match(err.stack, /ECONNREFUSED[\s\S]*\n\s+at /, 'the stack is logged');
    const request = mine.filter((l) => l.msg === 'request');
    assert.equal(request.length, 1, 'one line for the request itself');
    assert.equal(request[0]!.status, 500);
    assert.equal(request[0]!.path, '/api/auth/state');
    assert.ok(
      !log.text().includes('some-session-secret') && !log.text().includes('some-bearer-secret'),
      'cookies and bearer tokens stay out of the log',
    );
  });

  it('serves /metrics only with its bearer token', async () => {
    assert.equal((await fetch(`${url}/metrics`)).status, 401);
    assert.equal((await fetch(`${url}/metrics`, { headers: { authorization: 'Bearer wrong' } })).status, 401);
    const scrape = await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
    assert.equal(scrape.status, 200);
    assert.match(scrape.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    const text = await scrape.text();
    assert.match(text, /# TYPE ledgerlink_jobs gauge/);
    assert.equal(sample(text, 'ledgerlink_jobs', { queue: QUEUES.crmTransaction, state: 'queued' }), 0);
  });
});

describe('/metrics and job log lines over a synced payment', () => {
  let s: Stack;
  const log = logCollector();
  const scrape = async () => {
    const response = await fetch(`${s.url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
    assert.equal(response.status, 200);
    return response.text();
  };
  const pay = async (email: string) => {
    const response = await fetch(`${s.hl.url}/_emulator/locations/${s.locationId}/actions/order-form-payment`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        contact: { firstName: 'Metric', lastName: 'Payer', email },
        items: [{ name: 'Gauge', amount: 42 }],
      }),
    });
    return (await response.json()) as { transactionId: string; orderId: string };
  };

  before(async () => {
    s = await startStack({ logStream: log.stream, metricsToken: METRICS_TOKEN });
  });
  after(async () => {
    await s.close();
  });

  it('moves the counters with a synced payment and a refused webhook, and logs the job with its ids', async () => {
    const before = await scrape();
    const paid = await pay('metric.payer@example.com');
    await s.hl.flushWebhooks();
    await eventually(
      () =>
        s.qbo.admin
          .listEntities(s.realmId, 'SalesReceipt')
          .find((r) => String(r.PrivateNote ?? '').includes(paid.transactionId)),
      30_000,
      'the receipt',
    );
    await s.engine.queue.idle([QUEUES.crmOrder, QUEUES.crmTransaction], 30_000);
    const refused = await fetch(`${s.url}/webhooks/highlevel`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-ghl-signature': 'forged' },
      body: '{"type":"ContactCreate"}',
    });
    assert.equal(refused.status, 401);

    const after = await scrape();
    const delta = (name: string, labels: Record<string, string>) =>
      sample(after, name, labels) - sample(before, name, labels);
    assert.ok(
      delta('ledgerlink_sync_outcomes_total', { flow: SALES_RECEIPTS_FLOW, status: 'ok' }) >= 1,
      'a sales-receipt job ended ok',
    );
    assert.ok(
      delta('ledgerlink_webhook_requests_total', { provider: 'highlevel', outcome: 'accepted' }) >= 1,
      'the payment webhook was accepted',
    );
    assert.equal(
      delta('ledgerlink_webhook_requests_total', { provider: 'highlevel', outcome: 'refused' }),
      1,
      'the forged webhook was refused',
    );
    assert.ok(delta('ledgerlink_webhook_events_total', { provider: 'highlevel', outcome: 'stored' }) >= 1);
    assert.ok(
      delta('ledgerlink_provider_requests_total', { provider: 'quickbooks', status: '200' }) >= 2,
      'QuickBooks calls counted',
    );
    assert.ok(
      delta('ledgerlink_provider_requests_total', { provider: 'highlevel', status: '200' }) >= 1,
      'HighLevel calls counted',
    );
    assert.ok(
      delta('ledgerlink_provider_request_duration_seconds_count', { provider: 'quickbooks' }) >= 2,
      'QuickBooks latency observed',
    );
    assert.match(after, /ledgerlink_job_oldest_waiting_seconds\{queue="[^"]+"\} \d/);
    assert.equal(sample(after, 'ledgerlink_jobs', { queue: QUEUES.crmOrder, state: 'running' }), 0);

    const done = log.lines().find((l) => l.msg === 'job done' && l.orderId === paid.orderId);
    assert.ok(done, 'a log line for the order job');
    assert.equal(done.connectionId, s.connection.id);
    assert.equal(done.flow, SALES_RECEIPTS_FLOW);
    assert.equal(done.outcome, 'ok');
    assert.ok(done.jobId);
    const request = log
      .lines()
      .find((l) => l.msg === 'request' && l.path === '/webhooks/highlevel' && l.status === 401);
    assert.ok(request, 'a line for the refused webhook request');
  });

  it('logs a job that failed its last try with its ids and the stack, and counts it, without a token in the log', async () => {
    // The order's webhook is dropped, so the only job for this payment is the one made here, with no retry left.
    s.hl.core.faults.configure({ rules: [], webhooks: { drop: 1 } });
    s.qbo.faults.configure({ rules: [{ kind: 'error500', rate: 1, method: 'POST', path: '/salesreceipt' }] });
    const before = await scrape();
    try {
      const paid = await pay('failing.payer@example.com');
      const jobId = await s.engine.queue.enqueue(
        QUEUES.crmTransaction,
        {
          connectionId: s.connection.id,
          key: `${s.connection.id}:txn:${paid.transactionId}`,
          transactionId: paid.transactionId,
        },
        { startAfterSeconds: 1 },
      );
      assert.ok(jobId);
      await s.engine.queue.pgBoss.update(QUEUES.crmTransaction, undefined, { id: jobId, retryLimit: 0 });
      const failed = await eventually(
        () => log.lines().find((l) => l.jobId === jobId && l.outcome === 'failed'),
        60_000,
        'the failed job line',
      );
      assert.equal(failed.level, 'error');
      assert.equal(failed.connectionId, s.connection.id);
      assert.equal(failed.transactionId, paid.transactionId);
      assert.equal(failed.queue, QUEUES.crmTransaction);
      const err = failed.err as { type: string; stack: string };
      assert.equal(err.type, 'QuickBooksError');
      assert.match(err.stack, /\n\s+at /, 'the stack is logged');
      const after = await scrape();
      assert.equal(
        sample(after, 'ledgerlink_jobs_failed_total', { queue: QUEUES.crmTransaction }) -
          sample(before, 'ledgerlink_jobs_failed_total', { queue: QUEUES.crmTransaction }),
        1,
      );
      assert.ok(
        sample(after, 'ledgerlink_provider_retries_total', { provider: 'quickbooks' }) >
          sample(before, 'ledgerlink_provider_retries_total', { provider: 'quickbooks' }),
        'the client retries were counted',
      );
      assert.ok(sample(after, 'ledgerlink_provider_requests_total', { provider: 'quickbooks', status: '500' }) >= 2);
    } finally {
      s.qbo.faults.clear();
      s.hl.core.faults.clear();
    }
    const qbo = (await s.engine.connections.readTokens(s.connection.id, 'qbo'))!;
    const hl = (await s.engine.connections.readTokens(s.connection.id, 'hl'))!;
    for (const secret of [
      qbo.accessToken,
      qbo.refreshToken!,
      hl.accessToken,
      hl.refreshToken!,
      s.hl.core.app.clientSecret,
    ]) {
      assert.ok(!log.text().includes(secret), `a token (${secret.slice(0, 4)}…) is in the log`);
    }
  });
});

describe("a worker's own metrics port (LEDGERLINK_METRICS_PORT)", () => {
  it('serves /metrics with the process metrics, /healthz and /readyz without a token, and stops with the worker', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'll-metrics-port-'));
    const config = loadConfig({
      LEDGERLINK_DATA_DIR: dir,
      LEDGERLINK_METRICS_PORT: '0',
      LEDGERLINK_SECRET_KEY: Buffer.alloc(32, 3).toString('base64'),
      QBO_CLIENT_ID: 'id',
      QBO_CLIENT_SECRET: 'secret',
      QBO_API_URL: 'http://127.0.0.1:9',
      HL_CLIENT_ID: 'id',
      HL_CLIENT_SECRET: 'secret',
      HL_API_URL: 'http://127.0.0.1:9',
    });
    const runtime = await openRuntime(config, config.providers!, {
      server: false,
      workers: true,
      logger: createLogger({ level: 'silent' }),
    });
    try {
      assert.match(runtime.metricsUrl ?? '', /^http:\/\/127\.0\.0\.1:\d+$/);
      const scrape = await fetch(`${runtime.metricsUrl}/metrics`);
      assert.equal(scrape.status, 200);
      const text = await scrape.text();
      assert.match(text, /^ledgerlink_process_cpu_seconds_total \d/m, 'process metrics');
      assert.match(text, new RegExp(`^ledgerlink_jobs\\{queue="${QUEUES.crmTransaction}",state="queued"\\} 0$`, 'm'));
      assert.equal((await fetch(`${runtime.metricsUrl}/healthz`)).status, 200);
      assert.deepEqual(await (await fetch(`${runtime.metricsUrl}/readyz`)).json(), { ready: true });
    } finally {
      await runtime.stop();
      rmSync(dir, { recursive: true, force: true });
    }
    await assert.rejects(fetch(`${runtime.metricsUrl}/healthz`), 'closed with the worker');
  });
});
