// Scenario 6: scale-out on PostgreSQL. The same work (sales receipts for every one of many connections, limits
// lifted) is done by 1, 2 and 4 `ledgerlink worker` processes sharing one database; this process only hosts the
// emulators, takes the payments and starts one poll job per connection. Throughput is receipts a second from the
// first poll job to the last receipt; fairness is, sampled while the work is in progress (10% to 90% done), the
// slowest connection's share of its work done divided by the average share, and the median of those samples.
import { spawn, type ChildProcess } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import type { Connection } from '../../src/store/connections.ts';
import { QUEUES } from '../../src/sync/routes.ts';
import {
  CallCounter, linkedCounts, median, postgresAvailable, round, seededRandom, sleep, startBenchStack,
  type ScenarioResult,
} from '../support.ts';

export interface ScaleOutOptions {
  connections: number;
  perConnection: number;
  workers: number[];
  log: (line: string) => void;
}

interface Run {
  workers: number;
  records: number;
  seconds: number;
  perSecond: number;
  fairness: number;
  worstFairness: number;
}

async function startWorker(env: NodeJS.ProcessEnv): Promise<ChildProcess> {
  const bin = fileURLToPath(new URL('../../bin/ledgerlink.js', import.meta.url));
  const child = spawn(process.execPath, [bin, 'worker'], { env, stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('running')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`worker exited with ${code}`)));
  });
  return child;
}

async function stopWorker(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  child.kill('SIGTERM');
  await Promise.race([new Promise((r) => child.once('exit', r)), sleep(10_000)]);
  if (child.exitCode === null) child.kill('SIGKILL');
}

async function runOnce(options: ScaleOutOptions, workers: number): Promise<Run> {
  const { log } = options;
  log(`  ${workers} worker process(es): setting up ${options.connections} connections`);
  const stack = await startBenchStack({ connections: options.connections, limitFactor: Infinity, store: 'postgres', workers: false });
  const children: ChildProcess[] = [];
  try {
    const counter = new CallCounter(stack);
    const random = seededRandom(11);
    for (const connection of stack.connections) {
      for (let i = 0; i < options.perConnection; i++) {
        const c = Math.floor(random() * 3);
        await counter.hlAdmin('POST', `/locations/${connection.hlLocationId}/actions/order-form-payment`, {
          contact: { email: `buyer${c}-${connection.id.slice(0, 8)}@scale.example`, firstName: `Buyer${c}`, lastName: 'Scale' },
          items: [{ name: `Plan ${1 + Math.floor(random() * 3)}`, amount: 20 + Math.floor(random() * 80), qty: 1 }],
        });
      }
    }
    for (let i = 0; i < workers; i++) children.push(await startWorker(stack.workerEnv()));
    const expected = options.perConnection;
    const total = expected * stack.connections.length;
    log(`  ${workers} worker process(es): ${total} receipts`);
    const started = performance.now();
    for (const connection of stack.connections as Connection[]) {
      await stack.engine.queue.enqueue(QUEUES.pollPayments, { connectionId: connection.id, key: `${connection.id}:poll:payments` });
    }
    const samples: number[] = [];
    let done = 0;
    const deadline = Date.now() + Math.max(300_000, total * 200);
    while (done < total) {
      if (Date.now() > deadline) throw new Error(`scale-out with ${workers} workers: ${done}/${total} receipts after the deadline`);
      await sleep(250);
      const counts = await linkedCounts(stack.db, 'salesReceipt');
      done = 0;
      let slowest = Infinity;
      for (const connection of stack.connections) {
        const n = Math.min(expected, counts.get(connection.id) ?? 0);
        done += n;
        slowest = Math.min(slowest, n);
      }
      const average = done / stack.connections.length;
      if (done >= total * 0.1 && done <= total * 0.9 && average > 0) samples.push(slowest / average);
    }
    const seconds = (performance.now() - started) / 1000;
    return { workers, records: total, seconds, perSecond: total / seconds, fairness: samples.length ? median(samples) : 1, worstFairness: samples.length ? Math.min(...samples) : 1 };
  } finally {
    for (const child of children) await stopWorker(child);
    await stack.close();
  }
}

export async function runScaleOut(options: ScaleOutOptions): Promise<ScenarioResult> {
  if (!(await postgresAvailable())) {
    return { scenario: 6, name: 'Scale-out on PostgreSQL', status: 'skipped: no PostgreSQL server (set DATABASE_URL)', records: 0, seconds: 0 };
  }
  const runs: Run[] = [];
  for (const workers of options.workers) runs.push(await runOnce(options, workers));
  const one = runs.find((r) => r.workers === 1);
  const most = runs[runs.length - 1]!;
  return {
    scenario: 6, name: 'Scale-out on PostgreSQL (limits lifted)', status: 'ok',
    records: most.records, seconds: round(most.seconds, 2), workers: most.workers, fairness: round(most.fairness, 2),
    connections: options.connections,
    runs: runs.map((r) => ({ workers: r.workers, records: r.records, seconds: round(r.seconds, 2), records_per_second: round(r.perSecond, 2), fairness: round(r.fairness, 2), worst_fairness: round(r.worstFairness, 2) })),
    ...(one ? { speedup: round(most.perSecond / one.perSecond, 2) } : {}),
    targets: { speedup: '>= 3 with 4 workers over 1', fairness: '>= 0.5 (slowest connection against the average)' },
  };
}
