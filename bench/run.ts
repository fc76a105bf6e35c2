// `npm run bench [-- --quick] [--scenario N[,M]] [sizes]`: measures ledgerlink against both emulators (see
// docs/performance.md) and writes bench/results/latest.json (one object per scenario) and a markdown table.
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem, type as osType, release } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { dirname, join } from 'node:path';
import type { ScenarioResult } from './support.ts';
import { round } from './support.ts';
import { runSalesReceipts } from './scenarios/salesReceipts.ts';
import { runLatency } from './scenarios/latency.ts';
import { runScaleOut } from './scenarios/scaleOut.ts';
import { runInvoices } from './scenarios/invoices.ts';
import { runContactImport } from './scenarios/contactImport.ts';
import { runHistory } from './scenarios/history.ts';

interface Flags {
  quick: boolean;
  scenarios: Set<number>;
  factor: number;
  /**
   * Scenario 2's limit factor. Lower than scenario 1's: at 10 the benchmark's one process (both emulators, the
   * engine, the store's client) is CPU-bound on 2 cores while receipts for new customers are made, which measures
   * the machine rather than how well the limits are used (docs/performance.md has the cpu_busy figures).
   */
  receiptsFactor: number;
  store: 'pglite' | 'postgres';
  customers: number;
  payments: number;
  steady: number;
  baseline: number;
  invoices: number;
  rate: number;
  latencySeconds: number;
  importCustomers: number;
  connections: number;
  perConnection: number;
  workers: number[];
  /** Scenario 6: how long the emulators take to answer, one set of runs per value. */
  providerLatencyMs: number[];
  /** Scenario 6: LEDGERLINK_WORKER_CONCURRENCY of each worker process. */
  workerConcurrency: number;
  /** Scenario 6: LEDGERLINK_PAYMENT_CONCURRENCY of each worker process, one set of runs each. */
  paymentJobs: number[];
  /** Scenario 8: payments made before the connection that the backfill brings over. */
  history: number;
  /** Scenario 8: live payments a second, and each phase's length. */
  historyRate: number;
  historySeconds: number;
  /** Scenario 8: the providers' limits scaled (emulators and ledgerlink's limiter alike). */
  historyFactor: number;
  /** Jobs of a queue run at once per process (the engine's concurrency; production default 4). */
  concurrency: number | undefined;
  out: string;
}

const USAGE = `npm run bench -- [--quick] [--scenario 2,4] [--factor 10] [--receipts-factor 4] [--store pglite|postgres]
  [--customers 10000] [--payments 5000] [--steady 1000] [--baseline 300] [--invoices 200]
  [--rate 50] [--latency-seconds 30] [--history 10000] [--history-rate 5] [--history-seconds 60] [--history-factor 10] [--import 100000] [--connections 200] [--per-connection 10] [--workers 1,2,4] [--provider-latency-ms 0,100] [--worker-concurrency 1] [--payment-jobs 4,8] [--concurrency 4]
  [--out bench/results/latest.json]`;

function parseFlags(argv: readonly string[]): Flags {
  const text = { type: 'string' } as const;
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        quick: { type: 'boolean' },
        help: { type: 'boolean' },
        scenario: text,
        factor: text,
        'receipts-factor': text,
        store: text,
        customers: text,
        payments: text,
        steady: text,
        baseline: text,
        invoices: text,
        rate: text,
        'latency-seconds': text,
        history: text,
        'history-rate': text,
        'history-seconds': text,
        'history-factor': text,
        import: text,
        connections: text,
        'per-connection': text,
        workers: text,
        'provider-latency-ms': text,
        'worker-concurrency': text,
        'payment-jobs': text,
        concurrency: text,
        out: text,
      },
    }));
  } catch (error) {
    throw new Error(`${(error as Error).message}\n${USAGE}`);
  }
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const quick = values.quick === true;
  const given = (name: string) => values[name] as string | undefined;
  const num = (name: string, fallback: number): number => {
    const raw = given(name);
    if (raw === undefined) return fallback;
    const n = Number(raw);
    if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} needs a positive number\n${USAGE}`);
    return n;
  };
  const list = (name: string, fallback: number[]): number[] => given(name)?.split(',').map(Number) ?? fallback;
  const store = given('store') ?? 'pglite';
  if (store !== 'pglite' && store !== 'postgres') throw new Error(`--store is pglite or postgres\n${USAGE}`);
  const concurrency = given('concurrency');
  return {
    quick,
    scenarios: new Set(list('scenario', [1, 2, 3, 4, 5, 6, 7, 8])),
    factor: num('factor', 10),
    receiptsFactor: num('receipts-factor', 4),
    store,
    customers: num('customers', quick ? 600 : 10_000),
    payments: num('payments', quick ? 250 : 5000),
    steady: num('steady', quick ? 100 : 1000),
    baseline: num('baseline', quick ? 40 : 300),
    invoices: num('invoices', quick ? 20 : 200),
    rate: num('rate', 50),
    latencySeconds: num('latency-seconds', quick ? 6 : 30),
    history: num('history', quick ? 1000 : 10_000),
    historyRate: num('history-rate', 5),
    historySeconds: num('history-seconds', quick ? 10 : 60),
    historyFactor: num('history-factor', 10),
    importCustomers: num('import', quick ? 3000 : 100_000),
    connections: num('connections', quick ? 20 : 200),
    perConnection: num('per-connection', quick ? 6 : 10),
    workers: list('workers', [1, 2, 4]),
    // --quick: only the realistic latency (at 0 ms the runs measure the 2-core machine, see docs/performance.md).
    providerLatencyMs: list('provider-latency-ms', quick ? [100] : [0, 100]),
    workerConcurrency: num('worker-concurrency', 1),
    paymentJobs: list('payment-jobs', quick ? [4] : [4, 8]),
    concurrency: concurrency === undefined ? undefined : num('concurrency', 0),
    out: given('out') ?? join(dirname(fileURLToPath(import.meta.url)), 'results', 'latest.json'),
  };
}

function failed(scenario: number, name: string, error: unknown): ScenarioResult {
  const message = error instanceof Error ? error.message : String(error);
  return { scenario, name, status: `failed: ${message.split('\n')[0]}`, records: 0, seconds: 0 };
}

async function main(): Promise<void> {
  const flags = parseFlags(process.argv.slice(2));
  const log = (line: string) => console.error(line);
  const results: ScenarioResult[] = [];
  const started = Date.now();
  // The machine is shared: the load average at the start and end of the run says how much of it we had.
  const loadAtStart = loadavg()[0]!;
  const want = (n: number) => flags.scenarios.has(n);
  // Each result is also logged as it comes, so a long run that is stopped still shows what it measured.
  const push = (r: ScenarioResult) => {
    results.push(r);
    log(`  result: ${JSON.stringify(r)}`);
  };
  let baseline1: ScenarioResult | undefined;
  let baseline2:
    | { records: number; seconds: number; perSecond: number; qboCallsPerRecord: number; hlCallsPerRecord: number }
    | undefined;
  let s1: ScenarioResult | undefined;
  let s2: ScenarioResult | undefined;

  if (want(1) || want(5) || want(7)) {
    log(`scenario 1: import of ${flags.customers} QuickBooks customers (limit factor ${flags.factor})`);
    try {
      const r = await runContactImport({
        customers: flags.customers,
        baselineRecords: flags.baseline,
        importCustomers: flags.importCustomers,
        limitFactor: flags.factor,
        store: flags.store,
        ...(flags.concurrency ? { concurrency: flags.concurrency } : {}),
        log,
        run1: want(1) || want(7),
        run5: want(5),
      });
      s1 = r.scenario1;
      baseline1 = r.baseline;
      if (want(1)) push(r.scenario1);
      if (want(5)) push(r.scenario5);
    } catch (error) {
      if (want(1)) push(failed(1, 'QuickBooks customers -> CRM contacts', error));
      if (want(5)) push(failed(5, 'Peak memory importing customers', error));
    }
  }
  if (want(2) || want(7)) {
    log(
      `scenario 2: ${flags.payments} CRM payments -> sales receipts (limit factor ${flags.receiptsFactor}, ${flags.store})`,
    );
    try {
      const r = await runSalesReceipts({
        records: flags.payments,
        steadyRecords: flags.steady,
        baselineRecords: flags.baseline,
        limitFactor: flags.receiptsFactor,
        store: flags.store,
        ...(flags.concurrency ? { concurrency: flags.concurrency } : {}),
        log,
      });
      s2 = r.scenario2;
      baseline2 = r.baseline;
      if (want(2)) push(r.scenario2);
    } catch (error) {
      push(failed(2, 'CRM payments -> sales receipts', error));
    }
  }
  if (want(3)) {
    log(`scenario 3: ${flags.invoices} invoices through their life`);
    try {
      push(await runInvoices({ invoices: flags.invoices, store: flags.store, log }));
    } catch (error) {
      push(failed(3, 'Invoices through their life', error));
    }
  }
  if (want(4)) {
    log(
      `scenario 4: webhook -> QuickBooks write latency at ${flags.rate} events/s for ${flags.latencySeconds} s (limits lifted)`,
    );
    try {
      push(await runLatency({ rate: flags.rate, seconds: flags.latencySeconds, store: flags.store, log }));
    } catch (error) {
      push(failed(4, 'Webhook -> QuickBooks write latency', error));
    }
  }
  if (want(8)) {
    log(
      `scenario 8: ${flags.historyRate} live payments/s for ${flags.historySeconds} s without, then with, a backfill of ${flags.history} payments (limit factor ${flags.historyFactor}, ${flags.store})`,
    );
    try {
      push(
        await runHistory({
          records: flags.history,
          rate: flags.historyRate,
          seconds: flags.historySeconds,
          limitFactor: flags.historyFactor,
          store: flags.store,
          log,
        }),
      );
    } catch (error) {
      push(failed(8, 'Live payment latency while a history backfill runs', error));
    }
  }
  if (want(6)) {
    log(`scenario 6: scale-out over ${flags.connections} connections, workers ${flags.workers.join('/')}`);
    try {
      push(
        await runScaleOut({
          connections: flags.connections,
          perConnection: flags.perConnection,
          workers: flags.workers,
          providerLatencyMs: flags.providerLatencyMs,
          workerConcurrency: flags.workerConcurrency,
          paymentJobs: flags.paymentJobs,
          log,
        }),
      );
    } catch (error) {
      push(failed(6, 'Scale-out on PostgreSQL', error));
    }
  }
  if (want(7)) {
    const parts: Record<string, unknown> = {};
    const ratios: number[] = [];
    if (
      s1 &&
      typeof s1.records_per_second === 'number' &&
      baseline1 &&
      typeof baseline1.records_per_second === 'number'
    ) {
      parts.scenario1 = {
        ledgerlink_per_second: s1.records_per_second,
        baseline_per_second: baseline1.records_per_second,
        ratio: round(s1.records_per_second / baseline1.records_per_second, 2),
        baseline_calls_per_record: baseline1.calls_per_record,
      };
      ratios.push(s1.records_per_second / baseline1.records_per_second);
    } else {
      parts.scenario1 = { status: s1?.status ?? 'not run' };
    }
    if (s2 && typeof s2.records_per_second === 'number' && baseline2) {
      parts.scenario2 = {
        ledgerlink_per_second: s2.records_per_second,
        baseline_per_second: round(baseline2.perSecond, 2),
        ratio: round(s2.records_per_second / baseline2.perSecond, 2),
        baseline_records: baseline2.records,
        baseline_qbo_units_per_record: round(baseline2.qboCallsPerRecord),
        baseline_hl_calls_per_record: round(baseline2.hlCallsPerRecord),
        ledgerlink_qbo_units_per_record: s2.qbo_units_per_record_all,
        ledgerlink_hl_calls_per_record: s2.hl_calls_per_record_all,
      };
      ratios.push(s2.records_per_second / baseline2.perSecond);
    } else {
      parts.scenario2 = { status: s2?.status ?? 'not run' };
    }
    push({
      scenario: 7,
      name: 'Naive baseline (one at a time, look-up before every write, no cache, no batch)',
      status:
        ratios.length === 2
          ? 'ok'
          : ratios.length === 1
            ? 'partial: scenario 1 has no ledgerlink figure (see its status)'
            : 'blocked: no ledgerlink figures',
      records: baseline2?.records ?? 0,
      seconds: round(baseline2?.seconds ?? 0, 2),
      ...(ratios.length > 0 ? { ratio_to_baseline: round(ratios[ratios.length - 1]!, 2) } : {}),
      ...parts,
    });
  }

  results.sort((a, b) => a.scenario - b.scenario);
  const machine = {
    cpus: cpus().length,
    cpu: cpus()[0]?.model ?? 'unknown',
    memory_gb: round(totalmem() / 2 ** 30, 1),
    os: `${osType()} ${release()}`,
    node: process.version,
  };
  const meta = {
    date: new Date().toISOString(),
    quick: flags.quick,
    machine,
    total_seconds: round((Date.now() - started) / 1000, 1),
    load_average: { start: round(loadAtStart, 1), end: round(loadavg()[0]!, 1) },
    store: flags.store,
    limit_factor: flags.factor,
    receipts_limit_factor: flags.receiptsFactor,
  };
  mkdirSync(dirname(flags.out), { recursive: true });
  writeFileSync(
    flags.out,
    `${JSON.stringify(
      results.map((r) => ({ ...r, run: meta })),
      null,
      2,
    )}\n`,
  );
  console.log(markdown(results, meta));
  log(`wrote ${flags.out}`);
}

function cell(value: unknown): string {
  if (value === undefined || value === null) return '';
  if (typeof value === 'number') return String(value);
  return String(value);
}

export function markdown(
  results: readonly ScenarioResult[],
  meta: {
    date: string;
    quick: boolean;
    machine: { cpus: number; cpu: string; memory_gb: number; node: string };
    load_average: { start: number; end: number };
  },
): string {
  const columns = [
    'scenario',
    'status',
    'records',
    'seconds',
    'ratio_to_ceiling',
    'calls_per_record',
    'p50_ms',
    'p95_ms',
    'p99_ms',
    'peak_rss_mb',
    'workers',
    'fairness',
    'ratio_to_baseline',
  ] as const;
  const lines = [
    `Run ${meta.date}${meta.quick ? ' (--quick)' : ''} on ${meta.machine.cpus} × ${meta.machine.cpu}, ${meta.machine.memory_gb} GB, Node ${meta.machine.node}, load average ${meta.load_average.start} -> ${meta.load_average.end}`,
    '',
    `| ${columns.join(' | ')} |`,
    `| ${columns.map(() => '---').join(' | ')} |`,
  ];
  for (const r of results) lines.push(`| ${columns.map((c) => cell(r[c])).join(' | ')} |`);
  return lines.join('\n');
}

await main();
// Emulator sockets, pg-boss timers and PGlite keep the event loop alive after close(); the run is over.
process.exit(0);
