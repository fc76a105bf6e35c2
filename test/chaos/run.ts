// `npm run chaos -- --ops N --seed S --fault-rate R [--workers W] [--kill-every-seconds K] [--converge-seconds C] [--json]`: a chaos run against both emulators
// (PGlite by default; PostgreSQL with W worker processes when DATABASE_URL is set), then the reconciliation
// figures. With --json the last line printed is one JSON object. Exit code 1 when any of the five must-be-zero
// figures is not zero.
import { runChaos, type ChaosReport } from './harness.ts';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
}

export function table(r: ChaosReport): string {
  const rows: Array<[string, string | number]> = [
    ['seed', r.seed],
    ['store', `${r.store}${r.store === 'postgresql' ? ` (${r.worker_processes} worker processes)` : ''}`],
    ['operations', r.ops],
    [
      'operations by kind',
      Object.entries(r.ops_by_kind)
        .map(([k, v]) => `${k} ${v}`)
        .join(', '),
    ],
    ['fault rate', r.fault_rate],
    ['faults injected', r.faults_injected],
    [
      'faults by kind',
      Object.entries(r.faults_by_kind)
        .map(([k, v]) => `${k} ${v}`)
        .join(', '),
    ],
    ['workers killed (SIGKILL)', r.workers_killed],
    ['run / convergence seconds', `${r.run_seconds} / ${r.convergence_seconds}`],
    [
      'checked',
      Object.entries(r.checked)
        .map(([k, v]) => `${k} ${v}`)
        .join(', '),
    ],
    ['duplicates', r.duplicates],
    ['missing', r.missing],
    ['amount mismatches', r.amount_mismatches],
    ['review requests duplicated', r.review_requests_duplicated],
    ['unexplained failures', r.unexplained_failures],
    ['explained failures (open error with a reason)', r.explained_failures],
    ['open errors', r.open_errors],
    ['contact edits not propagated (informational)', r.contact_edits_not_propagated],
    ['review requests sent', r.review_requests_sent],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n');
}

async function main(): Promise<number> {
  const json = process.argv.includes('--json');
  const report = await runChaos({
    ops: Number(arg('ops', '2000')),
    seed: Number(arg('seed', String(Date.now() % 100000))),
    faultRate: Number(arg('fault-rate', '0.2')),
    workers: Number(arg('workers', '3')),
    databaseUrl: process.env.DATABASE_URL,
    convergeMs: Number(arg('converge-seconds', '600')) * 1000,
    ...(process.argv.includes('--kill-every-seconds')
      ? { killEveryMs: Number(arg('kill-every-seconds', '8')) * 1000 }
      : {}),
    progress: (line) => process.stderr.write(`[chaos ${new Date().toISOString().slice(11, 19)}] ${line}\n`),
  });
  console.log(table(report));
  if (report.problems.length) console.log(`\nfirst problems:\n  ${report.problems.join('\n  ')}`);
  if (Object.keys(report.open_error_reasons).length) {
    console.log(
      `\nopen errors by reason:\n  ${Object.entries(report.open_error_reasons)
        .map(([k, v]) => `${v} × ${k}`)
        .join('\n  ')}`,
    );
  }
  if (json) console.log(JSON.stringify(report));
  return report.duplicates +
    report.missing +
    report.amount_mismatches +
    report.review_requests_duplicated +
    report.unexplained_failures ===
    0
    ? 0
    : 1;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(2);
  },
);
