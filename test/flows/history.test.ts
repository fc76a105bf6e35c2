import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startStack, eventually, type Stack } from '../support/stack.ts';
import { onPostgres } from '../support/db.ts';
import { Engine } from '../../src/sync/engine/engine.ts';
import { QUEUES } from '../../src/sync/engine/routes.ts';
import { listActivity } from '../../src/store/activity.ts';
import { readCursor } from '../../src/store/cursors.ts';
import { saveLink } from '../../src/store/links.ts';
import {
  cancelHistoryBackfill,
  HISTORY_PRIORITY,
  HISTORY_WINDOW,
  HistoryDateError,
  historyDryRun,
  readHistoryProgress,
  startHistoryBackfill,
  type HistoryProgress,
} from '../../src/sync/flows/history.ts';
import { SYNC_START_CURSOR, type SyncStartDates } from '../../src/sync/services/syncStart.ts';
import { syncInvoice } from '../../src/sync/flows/invoices.ts';
import { reconcile } from '../../src/sync/services/reconciliation.ts';

type Rec = Record<string, unknown>;
const bin = fileURLToPath(new URL('../../bin/ledgerlink.js', import.meta.url));

async function admin(base: string, path: string, body: unknown): Promise<Rec> {
  const response = await fetch(`${base}/_emulator${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const json = (await response.json()) as Rec;
  if (!response.ok) throw new Error(`${path}: ${response.status} ${JSON.stringify(json)}`);
  return json;
}

const today = () => new Date().toISOString().slice(0, 10);
const minor = (amount: unknown) => Math.round(Number(amount) * 100);
const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);

/** Waits for the backfill to end (finished or cancelled) and returns its progress. */
async function ended(s: Stack, engine: Engine = s.engine, timeoutMs = 120_000): Promise<HistoryProgress> {
  return eventually(
    async () => {
      const p = await readHistoryProgress({ db: s.t.db, connection: (await engine.connections.get(s.connection.id))! });
      return p?.state === 'finished' || p?.state === 'cancelled' ? p : undefined;
    },
    timeoutMs,
    'the backfill to end',
  );
}

describe('history from a chosen date: dry run, then each record written once', () => {
  let s: Stack;
  const seeded = { payments: [] as string[], invoices: {} as Record<string, string> };
  const receipts = () => s.qbo.admin.listEntities(s.realmId, 'SalesReceipt');
  const qboInvoices = () => s.qbo.admin.listEntities(s.realmId, 'Invoice');
  const ctx = () => s.engine.contextFor(s.connection);

  before(async () => {
    s = await startStack({
      country: 'US',
      // The backfill's share of the limits, scaled like the providers' own: the test runs at 20 times their pace.
      engine: { limitFactor: 20 },
      // Records made before the connection: no webhook reaches ledgerlink (it is not registered yet).
      beforeConnect: async ({ hl, locationId }) => {
        const pay = (body: Rec) =>
          admin(hl.url, `/locations/${locationId}/actions/order-form-payment`, {
            card: { brand: 'visa', last4: '4242' },
            ...body,
          });
        for (let i = 1; i <= 5; i++) {
          const paid = await pay({
            contact: { firstName: `Early${i}`, lastName: 'Buyer', email: `early${i}@example.com` },
            items: [{ name: 'Workshop', amount: 10 * i + 0.25 }],
          });
          seeded.payments.push(String(paid.transactionId));
        }
        await pay({
          contact: { firstName: 'Test', lastName: 'Mode', email: 'test.mode@example.com' },
          items: [{ name: 'Workshop', amount: 99 }],
          liveMode: false,
        });
        const invoice = async (name: string, amount: number, send: boolean) =>
          String(
            (
              await admin(hl.url, `/locations/${locationId}/actions/invoice`, {
                contact: { firstName: name, lastName: 'Client', email: `${name.toLowerCase()}@example.com` },
                items: [{ name: 'Consulting', amount }],
                send,
              })
            ).invoiceId,
          );
        seeded.invoices.sent = await invoice('Sent', 120, true);
        seeded.invoices.other = await invoice('Other', 80.5, true);
        seeded.invoices.partly = await invoice('Partly', 200, true);
        // Paid in part in the CRM: the payment is the invoice's (the invoice flow records it), not a sales receipt.
        await admin(hl.url, `/invoices/${seeded.invoices.partly}/record-payment`, { amount: 50, mode: 'cash' });
        seeded.invoices.draft = await invoice('Draft', 60, false);
        seeded.invoices.imported = await invoice('Imported', 45, true);
      },
    });
    // One of them came from QuickBooks (the import of old invoices): it never goes back.
    await saveLink(s.t.db, {
      connectionId: s.connection.id,
      kind: 'importedInvoice',
      crmId: seeded.invoices.imported!,
      qboId: '9999',
      origin: 'qbo',
      state: 'linked',
      snapshotHash: null,
      qboSyncToken: null,
      qboUpdatedAt: null,
      crmUpdatedAt: null,
      data: { invoiceNumber: 'X-1' },
    });
  });
  after(async () => {
    await s.close();
  });

  it('refuses a date after the connection, or in the future, with the reason', async () => {
    const connected = s.connection.connectedAt!;
    const tomorrow = new Date(connected.getTime() + 86_400_000).toISOString().slice(0, 10);
    await assert.rejects(
      historyDryRun(ctx(), tomorrow),
      (error: unknown) => error instanceof HistoryDateError && /after the connection|in the future/.test(error.message),
    );
    await assert.rejects(startHistoryBackfill(ctx(), tomorrow), HistoryDateError);
    await assert.rejects(historyDryRun(ctx(), '2026-02-30'), HistoryDateError);
    assert.equal(await readHistoryProgress(ctx()), undefined, 'nothing started');
  });

  it('a dry run lists what would be written, leaving out test mode, invoice payments, drafts and imported invoices, and writes nothing', async () => {
    const plan = await historyDryRun(ctx(), today());
    assert.equal(plan.payments.count, 5, 'five live payments (not the test one, not the invoice payment)');
    assert.deepEqual(plan.payments.byCurrency, { USD: sum([1025, 2025, 3025, 4025, 5025]) });
    assert.equal(plan.invoices.count, 3, 'three sent invoices (not the draft, not the imported one)');
    assert.deepEqual(plan.invoices.byCurrency, { USD: 12_000 + 8_050 + 20_000 });
    assert.ok(plan.sample.length > 0 && plan.sample.every((r) => r.date === today() && r.amountMinor > 0 && r.name));
    assert.equal(receipts().length, 0, 'no sales receipt written');
    assert.equal(qboInvoices().length, 0, 'no invoice written');
    const links = await s.t.db.query(
      `SELECT 1 FROM links WHERE connection_id = $1 AND kind IN ('salesReceipt', 'invoice')`,
      [s.connection.id],
    );
    assert.equal(links.rows.length, 0, 'no link either');
  });

  it('before any backfill, the flows still skip those records as older than the connection', async () => {
    await syncInvoice(ctx(), seeded.invoices.other!);
    const skipped = (await listActivity(s.t.db, { connectionId: s.connection.id, status: 'skipped' })).find(
      (a) => a.crmId === seeded.invoices.other,
    );
    assert.match(skipped?.message ?? '', /before the connection/);
    assert.equal(qboInvoices().length, 0);
  });

  it('the run writes what the dry run listed, each once, with its progress and activity (the skipped invoice taken up)', async () => {
    const plan = await historyDryRun(ctx(), today());
    assert.equal(plan.invoices.count, 3, 'an invoice skipped for its age is still the backfill’s');
    await startHistoryBackfill(ctx(), today(), { plan });
    const done = await ended(s);
    assert.equal(done.state, 'finished');
    assert.deepEqual(
      { payments: done.payments, invoices: done.invoices, failed: done.failed, done: done.done, total: done.total },
      { payments: 5, invoices: 3, failed: 0, done: 8, total: 8 },
    );
    await s.engine.queue.idle([QUEUES.crmTransaction, QUEUES.crmInvoice], 30_000);
    const written = receipts();
    assert.equal(written.length, 5);
    assert.equal(sum(written.map((r) => minor(r.TotalAmt))), plan.payments.byCurrency.USD);
    for (const id of seeded.payments)
      assert.equal(written.filter((r) => String(r.PrivateNote ?? '').includes(id)).length, 1, `one receipt for ${id}`);
    const invoices = qboInvoices();
    assert.equal(invoices.length, 3);
    assert.equal(sum(invoices.map((i) => minor(i.TotalAmt))), plan.invoices.byCurrency.USD);
    const payments = s.qbo.admin.listEntities(s.realmId, 'Payment');
    assert.deepEqual(
      payments.map((p) => minor(p.TotalAmt)),
      [5000],
      'the partly paid invoice got its payment',
    );
    const info = (await listActivity(s.t.db, { connectionId: s.connection.id, flow: 'history' })).map((a) => a.message);
    assert.ok(info.some((m) => /^Bringing history from .*: 5 payments \(151\.25 USD\) and 3 invoices/.test(m)));
    assert.ok(info.some((m) => /5 payments and 3 invoices written \(0 skipped, 0 failed/.test(m)));
    const dates = await readCursor<SyncStartDates>(s.t.db, s.connection.id, SYNC_START_CURSOR);
    assert.deepEqual(dates, { running: null, finished: today() });
    // Reconciliation compares from the sync start: the history is checked like live records.
    const report = await reconcile(ctx());
    const receiptsReport = report.kinds.find((k) => k.kind === 'salesReceipts')!;
    assert.deepEqual(
      [receiptsReport.matched, receiptsReport.missingInQuickBooks, receiptsReport.amountDiffers],
      [5, 0, 0],
    );
    const invoicesReport = report.kinds.find((k) => k.kind === 'invoices')!;
    assert.equal(invoicesReport.matched, 3);
    // The one difference is this test's stand-in for an imported invoice (its QuickBooks side was never made).
    assert.deepEqual(
      invoicesReport.differences.map((d) => d.crmId),
      [seeded.invoices.imported],
    );
  });

  it('a second run from the same date writes nothing more', async () => {
    const plan = await historyDryRun(ctx(), today());
    assert.equal(plan.payments.count + plan.invoices.count, 0, 'everything is linked');
    await startHistoryBackfill(ctx(), today(), { plan });
    const done = await ended(s);
    assert.equal(done.state, 'finished');
    assert.equal(done.done, 0);
    assert.equal(receipts().length, 5);
    assert.equal(qboInvoices().length, 3);
  });
});

describe('a backfill shares the queues with live payments, can be cancelled, and resumes after a restart', () => {
  const COUNT = 24;
  let s: Stack;
  let second: Engine | undefined;
  const seeded: string[] = [];
  const receipts = () => s.qbo.admin.listEntities(s.realmId, 'SalesReceipt');

  before(async () => {
    s = await startStack({
      country: 'US',
      engine: { limitFactor: 20 },
      beforeConnect: async ({ hl, locationId }) => {
        for (let i = 1; i <= COUNT; i++) {
          const paid = await admin(hl.url, `/locations/${locationId}/actions/order-form-payment`, {
            contact: { firstName: `Old${i}`, lastName: 'Customer', email: `old${i}@example.com` },
            items: [{ name: 'Class pass', amount: 15 }],
          });
          seeded.push(String(paid.transactionId));
        }
      },
    });
  });
  after(async () => {
    await second?.stop();
    await s.close();
  });

  it('keeps its record jobs below live ones and within its window; a live payment is synced meanwhile', async () => {
    // QuickBooks answers slowly, so the backfill is still under way when the live payment arrives.
    s.qbo.faults.configure({ rules: [{ kind: 'latency', rate: 1, latencyMs: 600, method: 'POST' }] });
    const started = await startHistoryBackfill(s.engine.contextFor(s.connection), today());
    const seen = new Set<number>();
    let most = 0;
    const watch = async () => {
      const jobs = await s.engine.queue.pgBoss.findJobs(QUEUES.crmTransaction, { data: { history: started.runId } });
      for (const job of jobs) seen.add(job.priority);
      most = Math.max(most, jobs.filter((j) => ['created', 'retry', 'active'].includes(j.state)).length);
    };
    await eventually(
      async () => {
        await watch();
        return seen.size > 0 ? true : undefined;
      },
      20_000,
      'the first backfill jobs',
    );
    const live = await admin(s.hl.url, `/locations/${s.locationId}/actions/order-form-payment`, {
      contact: { firstName: 'Live', lastName: 'Buyer', email: 'live@example.com' },
      items: [{ name: 'Today', amount: 42 }],
    });
    await s.hl.flushWebhooks();
    await eventually(
      async () => {
        await watch();
        return receipts().some((r) => String(r.PrivateNote ?? '').includes(String(live.transactionId)))
          ? true
          : undefined;
      },
      30_000,
      'the live payment’s receipt',
    );
    const progress = (await readHistoryProgress(s.engine.contextFor(s.connection)))!;
    assert.ok(progress.done < COUNT, `the live payment did not wait for the backfill (${progress.done} of ${COUNT})`);
    assert.deepEqual([...seen], [HISTORY_PRIORITY], 'every backfill job is below live priority');
    // Live jobs are enqueued at 0 (webhooks) or -k for a backlog (JobQueue.backlog counts up to 100,000).
    assert.ok(HISTORY_PRIORITY < -100_000);
    assert.ok(most <= HISTORY_WINDOW, `at most ${HISTORY_WINDOW} backfill records at once (saw ${most})`);
  });

  it('a cancel stops it: waiting records are dropped, nothing more is written', async () => {
    const cancelled = await cancelHistoryBackfill({ db: s.t.db, connection: s.connection, queue: s.engine.queue });
    assert.equal(cancelled.state, 'cancelled');
    s.qbo.faults.clear();
    await s.engine.queue.idle([QUEUES.crmTransaction], 30_000);
    const after = receipts().length;
    assert.ok(after < COUNT + 1, `stopped before the end (${after - 1} of ${COUNT})`);
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(receipts().length, after, 'nothing more written');
    assert.equal((await readHistoryProgress(s.engine.contextFor(s.connection)))?.state, 'cancelled');
    const dates = await readCursor<SyncStartDates>(s.t.db, s.connection.id, SYNC_START_CURSOR);
    assert.equal(dates?.running, null, 'the records it did not reach are before the sync start again');
    const messages = (await listActivity(s.t.db, { connectionId: s.connection.id, flow: 'history' })).map(
      (a) => a.message,
    );
    assert.ok(messages.some((m) => /was cancelled after/.test(m)));
  });

  it('started again, it resumes after a restart in the middle and writes each payment exactly once', async () => {
    const before = receipts().length;
    s.qbo.faults.configure({ rules: [{ kind: 'latency', rate: 1, latencyMs: 300, method: 'POST' }] });
    const plan = await historyDryRun(s.engine.contextFor(s.connection), today());
    assert.equal(plan.payments.count, COUNT + 1 - before, 'the dry run leaves out what the first run wrote');
    await startHistoryBackfill(s.engine.contextFor(s.connection), today(), { plan });
    await eventually(
      async () => {
        const p = await readHistoryProgress(s.engine.contextFor(s.connection));
        return p && p.done >= 1 ? p : undefined;
      },
      60_000,
      'the second run to be under way',
    );
    // The engine stops with the slice and record jobs under way (they go back to the queue); a new one carries on.
    await s.engine.stop();
    s.qbo.faults.clear();
    const midway = (await readHistoryProgress(s.engine.contextFor(s.connection)))!;
    assert.equal(midway.state, 'running', 'stopped in the middle');
    second = await Engine.create(s.engineOptions);
    await second.startWorkers({ pollers: true });
    const done = await ended(s, second);
    assert.equal(done.state, 'finished');
    assert.equal(done.failed, 0);
    await second.queue.idle([QUEUES.crmTransaction], 30_000);
    const written = receipts();
    assert.equal(written.length, COUNT + 1, 'every old payment once, and the live one');
    for (const id of seeded)
      assert.equal(written.filter((r) => String(r.PrivateNote ?? '').includes(id)).length, 1, `one receipt for ${id}`);
  });
});

describe('a backfill whose worker process is killed', {
  skip: onPostgres ? false : 'needs DATABASE_URL (a PostgreSQL server shared by processes)',
}, () => {
  const COUNT = 8;
  let s: Stack;
  const workers: ChildProcess[] = [];
  const seeded: string[] = [];
  const receipts = () => s.qbo.admin.listEntities(s.realmId, 'SalesReceipt');

  before(async () => {
    s = await startStack({
      workers: false,
      beforeConnect: async ({ hl, locationId }) => {
        for (let i = 1; i <= COUNT; i++) {
          const paid = await admin(hl.url, `/locations/${locationId}/actions/order-form-payment`, {
            contact: { firstName: `Killed${i}`, lastName: 'Worker', email: `killed${i}@example.com` },
            items: [{ name: 'Session', amount: 20 + i }],
          });
          seeded.push(String(paid.transactionId));
        }
      },
    });
  });
  after(async () => {
    for (const w of workers) await stopWorker(w, 'SIGKILL');
    await s?.close();
  });

  it('resumes from its cursor in another worker and writes each payment once', async () => {
    // Jobs of a dead worker go back on the queue after 15 s: longer than a slice (8 s and the record it is on).
    const env = { ...s.workerEnv(), LEDGERLINK_JOB_EXPIRE_SECONDS: '15' };
    s.qbo.faults.configure({ rules: [{ kind: 'latency', rate: 1, latencyMs: 400, method: 'POST' }] });
    await startHistoryBackfill(s.engine.contextFor(s.connection), today());
    const doomed = startWorker(env);
    workers.push(doomed);
    const progress = () => readHistoryProgress(s.engine.contextFor(s.connection));
    await eventually(
      async () => {
        const p = await progress();
        return p && p.done >= 2 ? p : undefined;
      },
      120_000,
      'the backfill to be under way in the first worker',
    );
    await stopWorker(doomed, 'SIGKILL');
    const midway = (await progress())!;
    assert.ok(midway.state === 'running' && midway.done < COUNT, `killed in the middle (${midway.done} of ${COUNT})`);
    s.qbo.faults.clear();
    workers.push(startWorker(env));
    const done = await eventually(
      async () => {
        const p = await progress();
        return p?.state === 'finished' ? p : undefined;
      },
      180_000,
      'the backfill to finish in the second worker',
    );
    assert.equal(done.failed, 0);
    await eventually(() => (receipts().length >= COUNT ? true : undefined), 30_000, 'every receipt');
    await new Promise((r) => setTimeout(r, 1000));
    const written = receipts();
    assert.equal(written.length, COUNT);
    for (const id of seeded)
      assert.equal(written.filter((r) => String(r.PrivateNote ?? '').includes(id)).length, 1, `one receipt for ${id}`);
  });
});

function startWorker(env: NodeJS.ProcessEnv): ChildProcess {
  const child = spawn(process.execPath, [bin, 'worker'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (d) => (output += d));
  child.stderr?.on('data', (d) => (output += d));
  child.on('exit', (code, signal) => {
    if (code && code !== 0 && signal === null) console.error(`worker exited with ${code}:\n${output}`);
  });
  return child;
}

async function stopWorker(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill(signal);
  await exited;
}
