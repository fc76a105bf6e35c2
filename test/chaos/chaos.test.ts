// The short, fixed-seed chaos run inside `npm test`: a few dozen operations of every kind under a 20% fault rate,
// SIGKILLed engine processes, an expired and a revoked token; then the five figures that must be zero. On PGlite
// one engine process (it owns the store); with DATABASE_URL, a server process and two worker processes.
// The long run is `npm run chaos` (docs/reliability.md).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { runChaos } from './harness.ts';

const onPostgres = Boolean(process.env.DATABASE_URL);

describe('chaos (short, fixed seed)', () => {
  // Timings: every restart of a killed engine process pays its start-up (tsx, PGlite's WebAssembly, the queue);
  // this PGlite run passed in 94 s on the shared development machine, and a run of the same size took about 15
  // minutes under heavier load, so the limits are generous. The figures asserted do not depend on the timing.
  it('loses, duplicates and misstates nothing under faults and killed workers', { timeout: 600_000 }, async (t) => {
    const report = await runChaos({
      signal: t.signal,
      ops: 40,
      seed: 4242,
      faultRate: 0.2,
      workers: 2,
      databaseUrl: process.env.DATABASE_URL,
      killEveryMs: onPostgres ? 6000 : 20_000,
      convergeMs: 300_000,
      progress: process.env.CHAOS_VERBOSE ? (line) => process.stderr.write(`[chaos] ${line}\n`) : undefined,
    });
    const figures = {
      duplicates: report.duplicates,
      missing: report.missing,
      amount_mismatches: report.amount_mismatches,
      review_requests_duplicated: report.review_requests_duplicated,
      unexplained_failures: report.unexplained_failures,
    };
    const context = JSON.stringify({
      ...figures,
      faults: report.faults_by_kind,
      kills: report.workers_killed,
      problems: report.problems,
      open: report.open_error_reasons,
    });
    assert.deepEqual(
      figures,
      { duplicates: 0, missing: 0, amount_mismatches: 0, review_requests_duplicated: 0, unexplained_failures: 0 },
      context,
    );
    assert.ok(report.faults_injected > 0, 'faults were injected');
    assert.ok(report.checked.payments! > 0 && report.checked.invoices! > 0, 'payments and invoices were checked');
    assert.equal(report.history.state, 'finished', `the history backfill ended: ${JSON.stringify(report.history)}`);
  });
});
