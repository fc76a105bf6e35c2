// Worker processes (`ledgerlink worker`) sharing one PostgreSQL store: they split the work without doing a job
// twice, and a worker killed with SIGKILL in the middle of a write leaves nothing lost or duplicated. Separate
// processes need a shared server, so these run when DATABASE_URL is set (CI runs the suite both ways).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startStack, eventually, type Stack } from '../support/stack.ts';
import { onPostgres } from '../support/db.ts';

type Rec = Record<string, unknown>;
const bin = fileURLToPath(new URL('../../bin/ledgerlink.js', import.meta.url));

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

describe('worker processes on PostgreSQL', {
  skip: onPostgres ? false : 'needs DATABASE_URL (a PostgreSQL server shared by processes)',
}, () => {
  let s: Stack;
  const workers: ChildProcess[] = [];
  const receiptsFor = (txnId: unknown) =>
    s.qbo.admin
      .listEntities(s.realmId, 'SalesReceipt')
      .filter((r) => String(r.PrivateNote ?? '').includes(String(txnId)));
  const pay = async (n: number): Promise<Rec> => {
    const response = await fetch(`${s.hl.url}/_emulator/locations/${s.locationId}/actions/order-form-payment`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        contact: { firstName: 'Worker', lastName: `Test ${n}`, email: `worker${n}@example.com` },
        items: [{ name: 'Session', amount: 10 + n }],
      }),
    });
    return (await response.json()) as Rec;
  };

  before(async () => {
    s = await startStack({ workers: false });
  });
  after(async () => {
    for (const w of workers) await stopWorker(w, 'SIGKILL');
    await s?.close();
  });

  it('lets two worker processes share the work without ever doing one job twice', async () => {
    const env = { ...s.workerEnv(), LEDGERLINK_JOB_EXPIRE_SECONDS: '30' };
    workers.push(startWorker(env), startWorker(env));
    const paid = [];
    for (let n = 0; n < 16; n++) paid.push(await pay(n));
    for (const p of paid)
      await eventually(
        () => (receiptsFor(p.transactionId).length > 0 ? true : undefined),
        90_000,
        `the receipt of ${String(p.transactionId)}`,
      );
    for (const p of paid) assert.equal(receiptsFor(p.transactionId).length, 1);
    // A job done twice would have written its activity entry twice.
    // The receipt exists a moment before its job commits the activity entry: wait for every entry.
    const done = await eventually(
      async () => {
        const rows = await s.t.db.query<{ crm_id: string; n: string }>(
          `SELECT crm_id, count(*) AS n FROM activity WHERE connection_id = $1 AND flow = 'salesReceipts' AND status = 'ok' AND qbo_kind = 'SalesReceipt' GROUP BY crm_id`,
          [s.connection.id],
        );
        return rows.rows.length >= paid.length ? rows : undefined;
      },
      30_000,
      'every activity entry',
    );
    await new Promise((r) => setTimeout(r, 1000));
    const settled = await s.t.db.query<{ crm_id: string; n: string }>(
      `SELECT crm_id, count(*) AS n FROM activity WHERE connection_id = $1 AND flow = 'salesReceipts' AND status = 'ok' AND qbo_kind = 'SalesReceipt' GROUP BY crm_id`,
      [s.connection.id],
    );
    assert.equal(done.rows.length, paid.length);
    assert.equal(settled.rows.length, paid.length);
    assert.ok(
      settled.rows.every((r) => Number(r.n) === 1),
      'each payment was synced by exactly one job run',
    );
    while (workers.length) await stopWorker(workers.pop()!);
  });

  it('recovers the job of a worker killed with SIGKILL in the middle of a QuickBooks write', async () => {
    const env = { ...s.workerEnv(), LEDGERLINK_JOB_EXPIRE_SECONDS: '4' };
    s.qbo.faults.configure({
      rules: [{ kind: 'latency', rate: 1, latencyMs: 3000, method: 'POST', path: '/salesreceipt', count: 1 }],
    });
    const doomed = startWorker(env);
    workers.push(doomed);
    const paid = await pay(100);
    await eventually(() => (s.qbo.faults.stats().latency === 1 ? true : undefined), 60_000, 'the write to start');
    await stopWorker(doomed, 'SIGKILL');
    workers.push(startWorker(env));
    await eventually(
      () => (receiptsFor(paid.transactionId).length > 0 ? true : undefined),
      90_000,
      'the receipt after the restart',
    );
    await new Promise((r) => setTimeout(r, 2000));
    assert.equal(receiptsFor(paid.transactionId).length, 1, 'exactly one receipt');
  });
});
