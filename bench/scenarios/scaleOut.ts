// Scenario 6: scale-out on PostgreSQL. The same work (sales receipts for every one of many connections, limits
// lifted) is done by 1, 2 and 4 `ledgerlink worker` processes sharing one database; this process only hosts the
// emulators, takes the payments and starts one poll job per connection. Throughput is receipts a second from the
// first poll job to the last receipt; fairness is, sampled while the work is in progress (10% to 90% done), the
// slowest connection's share of its work done divided by the average share, and the median of those samples.
import type { ChildProcess } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import type { Connection } from '../../src/store/connections.ts';
import { QUEUES } from '../../src/sync/engine/routes.ts';
import {
  CallCounter,
  linkedCounts,
  median,
  postgresAvailable,
  round,
  seededRandom,
  sleep,
  startBenchStack,
  startLedgerlinkProcess,
  stopLedgerlinkProcess,
  type ScenarioResult,
} from '../support.ts';

export interface ScaleOutOptions {
  connections: number;
  perConnection: number;
  workers: number[];
  /**
   * Times both emulators take to answer each API request, one set of runs each (0: at once). Real providers
   * answer in 100-300 ms; with no latency at all, the workers' throughput is the CPU of the machine they share
   * with the emulators and PostgreSQL, which is what the runs at 0 measure.
   */
  providerLatencyMs: number[];
  /** LEDGERLINK_WORKER_CONCURRENCY of each worker process (the other queues' jobs at once). */
  workerConcurrency: number;
  /**
   * LEDGERLINK_PAYMENT_CONCURRENCY of each worker process, one set of runs each. With providers answering in 100 ms a
   * worker's throughput is its payment jobs in flight over a job's time, so this sets how much CPU 4 workers need:
   * 4 a worker (the set docs/performance.md's figures compare) leaves the 2-core machine room; 8 (the default of one
   * unit) binds it.
   */
  paymentJobs: number[];
  log: (line: string) => void;
}

interface Run {
  workers: number;
  records: number;
  seconds: number;
  perSecond: number;
  fairness: number;
  worstFairness: number;
  /** Share of the samples in which the slowest connection had less than half the average progress. */
  belowHalf: number;
  /** How far the run was (share of receipts done) at the last such sample, if any. */
  lastBelowHalfAt: number | undefined;
}

async function runOnce(
  options: ScaleOutOptions,
  workers: number,
  latencyMs: number,
  paymentJobs: number,
): Promise<Run> {
  const { log } = options;
  log(`  ${workers} worker process(es): setting up ${options.connections} connections`);
  const stack = await startBenchStack({
    connections: options.connections,
    limitFactor: Infinity,
    store: 'postgres',
    workers: false,
  });
  const children: ChildProcess[] = [];
  try {
    const counter = new CallCounter(stack);
    const random = seededRandom(11);
    for (const connection of stack.connections) {
      for (let i = 0; i < options.perConnection; i++) {
        const c = Math.floor(random() * 3);
        await counter.hlAdmin('POST', `/locations/${connection.hlLocationId}/actions/order-form-payment`, {
          contact: {
            email: `buyer${c}-${connection.id.slice(0, 8)}@scale.example`,
            firstName: `Buyer${c}`,
            lastName: 'Scale',
          },
          items: [{ name: `Plan ${1 + Math.floor(random() * 3)}`, amount: 20 + Math.floor(random() * 80), qty: 1 }],
        });
      }
    }
    if (latencyMs > 0) {
      const slow = { rules: [{ kind: 'latency' as const, rate: 1, latencyMs }] };
      stack.qbo.faults.configure(slow);
      stack.hl.core.faults.configure(slow);
    }
    for (let i = 0; i < workers; i++)
      children.push(
        (
          await startLedgerlinkProcess('worker', {
            ...stack.workerEnv(),
            LEDGERLINK_WORKER_CONCURRENCY: String(options.workerConcurrency),
            LEDGERLINK_PAYMENT_CONCURRENCY: String(paymentJobs),
          })
        ).child,
      );
    const expected = options.perConnection;
    const total = expected * stack.connections.length;
    log(`  ${workers} worker process(es): ${total} receipts`);
    const started = performance.now();
    for (const connection of stack.connections as Connection[]) {
      await stack.engine.queue.enqueue(QUEUES.pollPayments, {
        connectionId: connection.id,
        key: `${connection.id}:poll:payments`,
      });
    }
    const samples: number[] = [];
    let lastBelowHalfAt: number | undefined;
    let done = 0;
    const deadline = Date.now() + Math.max(300_000, total * 200);
    while (done < total) {
      if (Date.now() > deadline)
        throw new Error(`scale-out with ${workers} workers: ${done}/${total} receipts after the deadline`);
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
      if (done >= total * 0.1 && done <= total * 0.9 && average > 0) {
        samples.push(slowest / average);
        if (slowest / average < 0.5) lastBelowHalfAt = done / total;
      }
    }
    const seconds = (performance.now() - started) / 1000;
    return {
      workers,
      records: total,
      seconds,
      perSecond: total / seconds,
      fairness: samples.length ? median(samples) : 1,
      worstFairness: samples.length ? Math.min(...samples) : 1,
      belowHalf: samples.length ? samples.filter((x) => x < 0.5).length / samples.length : 0,
      lastBelowHalfAt,
    };
  } finally {
    for (const child of children) await stopLedgerlinkProcess(child);
    await stack.close();
  }
}

export async function runScaleOut(options: ScaleOutOptions): Promise<ScenarioResult> {
  if (!(await postgresAvailable())) {
    return {
      scenario: 6,
      name: 'Scale-out on PostgreSQL',
      status: 'skipped: no PostgreSQL server (set DATABASE_URL)',
      records: 0,
      seconds: 0,
    };
  }
  const sets = [];
  for (const latencyMs of options.providerLatencyMs)
    for (const paymentJobs of options.paymentJobs) {
      const runs: Run[] = [];
      for (const workers of options.workers) {
        options.log(`  providers answering in ${latencyMs} ms, ${paymentJobs} payment jobs a worker`);
        runs.push(await runOnce(options, workers, latencyMs, paymentJobs));
      }
      const one = runs.find((r) => r.workers === 1);
      const most = runs[runs.length - 1]!;
      sets.push({
        provider_latency_ms: latencyMs,
        payment_jobs_per_worker: paymentJobs,
        ...(one ? { speedup: round(most.perSecond / one.perSecond, 2) } : {}),
        fairness: round(Math.min(...runs.map((r) => r.fairness)), 2),
        runs: runs.map((r) => ({
          workers: r.workers,
          records: r.records,
          seconds: round(r.seconds, 2),
          records_per_second: round(r.perSecond, 2),
          fairness: round(r.fairness, 2),
          worst_fairness: round(r.worstFairness, 2),
          samples_below_half: round(r.belowHalf, 3),
          ...(r.lastBelowHalfAt !== undefined ? { last_below_half_at_done: round(r.lastBelowHalfAt, 2) } : {}),
        })),
      });
    }
  // The headline figures are those of the highest latency (the realistic one by default) with the first payment
  // concurrency given (4 a worker by default, comparable with the figures in docs/performance.md); every set is
  // reported beside it.
  const top = Math.max(...options.providerLatencyMs);
  const last = sets.find(
    (set) => set.provider_latency_ms === top && set.payment_jobs_per_worker === options.paymentJobs[0],
  )!;
  const lastRun = last.runs[last.runs.length - 1]!;
  return {
    scenario: 6,
    name: 'Scale-out on PostgreSQL (limits lifted)',
    status: 'ok',
    records: lastRun.records,
    seconds: lastRun.seconds,
    workers: lastRun.workers,
    fairness: last.fairness,
    connections: options.connections,
    provider_latency_ms: last.provider_latency_ms,
    worker_concurrency: options.workerConcurrency,
    payment_jobs_per_worker: last.payment_jobs_per_worker,
    ...(last.speedup !== undefined ? { speedup: last.speedup } : {}),
    by_provider_latency: sets,
    targets: { speedup: '>= 3 with 4 workers over 1', fairness: '>= 0.5 (slowest connection against the average)' },
  };
}
