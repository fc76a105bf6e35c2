// Scenario 8: live payments while a history backfill runs. A location holds N CRM payments made before the
// connection; live payments arrive at a steady rate, first with no backfill, then while the backfill brings the N
// into QuickBooks. The figure is each live payment's time from its order webhook leaving the HighLevel emulator to
// its sales receipt write being answered by QuickBooks, with the providers' limits in force (scaled by the limit
// factor, both in the emulators and in ledgerlink's limiter): the backfill competes with live work for the same
// rate budget, workers and store, and the question is whether live payments notice.
import { performance } from 'node:perf_hooks';
import { quickbooksRequestId } from '../../src/domain/requestId.ts';
import { SALES_RECEIPTS_FLOW } from '../../src/sync/flows/salesReceipts.ts';
import { readHistoryProgress, startHistoryBackfill } from '../../src/sync/flows/history.ts';
import type { Connection } from '../../src/store/connections.ts';
import type { ServedRequest } from '../../emulators/common/http.ts';
import {
  CallCounter,
  FetchProbe,
  firstOrderWebhooks,
  linkedCounts,
  percentile,
  receiptWritesAnswered,
  round,
  seededRandom,
  sleep,
  startBenchStack,
  waitFor,
  type ScenarioResult,
} from '../support.ts';

export interface HistoryOptions {
  /** Payments made before the connection, for the backfill. */
  records: number;
  /** Live payments a second, in each phase. */
  rate: number;
  /** Length of each phase. */
  seconds: number;
  limitFactor: number;
  store: 'pglite' | 'postgres';
  log: (line: string) => void;
}

const ITEMS = ['Consultation', 'Workshop seat', 'Coaching call', 'Starter kit', 'Membership month'];

export async function runHistory(options: HistoryOptions): Promise<ScenarioResult> {
  const { log } = options;
  const served: ServedRequest[] = [];
  let recording = false;
  const probe = new FetchProbe();
  probe.install();
  const old = Array.from({ length: 200 }, (_, i) => ({
    email: `old${i}@history.example`,
    firstName: `Old${i}`,
    lastName: 'Customer',
  }));
  const seeded = performance.now();
  const stack = await startBenchStack({
    connections: 1,
    limitFactor: options.limitFactor,
    store: options.store,
    webhooks: true,
    observe: (request) => {
      if (recording) served.push(request);
    },
    beforeConnect: async ({ locationId, admin }) => {
      log(`  ${options.records} payments made before the connection`);
      const random = seededRandom(11);
      const next = { i: 0 };
      const worker = async () => {
        while (next.i < options.records) {
          next.i += 1;
          await admin(`/locations/${locationId}/actions/order-form-payment`, {
            contact: old[Math.floor(random() * old.length)],
            items: [{ name: ITEMS[Math.floor(random() * ITEMS.length)]!, amount: 5 + Math.floor(random() * 200) }],
          });
        }
      };
      await Promise.all(Array.from({ length: 8 }, worker));
    },
  });
  const seedSeconds = (performance.now() - seeded) / 1000;
  try {
    const counter = new CallCounter(stack);
    const [connection] = stack.connections as [Connection];
    const locationId = connection.hlLocationId!;
    const live = Array.from({ length: 20 }, (_, i) => ({
      email: `live${i}@history.example`,
      firstName: `Live${i}`,
      lastName: 'Buyer',
    }));
    const random = seededRandom(7);
    const pay = (contact: (typeof live)[number]) =>
      counter.hlAdmin<{ orderId: string; transactionId: string }>(
        'POST',
        `/locations/${locationId}/actions/order-form-payment`,
        {
          contact,
          items: [
            { name: ITEMS[Math.floor(random() * ITEMS.length)]!, amount: 10 + Math.floor(random() * 90), qty: 1 },
          ],
        },
      );
    // Warm-up: the live contacts become customers and the products items, so both phases measure the steady case.
    for (const contact of live) await pay(contact);
    let receipts = live.length;
    await waitFor(
      async () => ((await linkedCounts(stack.db, 'salesReceipt')).get(connection.id) ?? 0) >= receipts,
      600_000,
      'warm-up receipts',
    );

    const phase = async (name: string) => {
      log(`  ${name}: ${options.rate} live payments/s for ${options.seconds} s`);
      served.length = 0;
      probe.calls.length = 0;
      recording = true;
      probe.recording = true;
      const payments: Array<{ orderId: string; transactionId: string }> = [];
      const total = Math.round(options.rate * options.seconds);
      const start = performance.now();
      for (let i = 0; i < total; i++) {
        const wait = start + (i * 1000) / options.rate - performance.now();
        if (wait > 0) await sleep(wait);
        payments.push(await pay(live[Math.floor(random() * live.length)]!));
      }
      const requestIds = new Map(
        payments.map((p) => [
          quickbooksRequestId({
            connectionId: connection.id,
            flow: SALES_RECEIPTS_FLOW,
            sourceId: p.transactionId,
            sourceVersion: 'sale',
          }),
          p,
        ]),
      );
      // Every live receipt answered (the backfill's own may still be going).
      await waitFor(
        async () => {
          const answered = new Set(
            served
              .filter((r) => r.method === 'POST' && /\/salesreceipt\?/i.test(r.url))
              .map((r) => new URL(r.url, 'http://emulator').searchParams.get('requestid')),
          );
          return [...requestIds.keys()].every((id) => answered.has(id));
        },
        600_000,
        `${name}: the live receipts`,
      );
      recording = false;
      probe.recording = false;
      const firstWebhook = firstOrderWebhooks(probe.calls);
      const answered = receiptWritesAnswered(served);
      const latencies: number[] = [];
      for (const [requestId, p] of requestIds) {
        const t0 = firstWebhook.get(p.orderId);
        const t1 = answered.get(requestId);
        if (t0 !== undefined && t1 !== undefined && t1 >= t0) latencies.push(t1 - t0);
      }
      receipts += total;
      return {
        payments: total,
        matched: latencies.length,
        p50_ms: round(percentile(latencies, 50), 1),
        p95_ms: round(percentile(latencies, 95), 1),
        p99_ms: round(percentile(latencies, 99), 1),
        seconds: round((performance.now() - start) / 1000, 1),
      };
    };

    const without = await phase('without a backfill');
    const ctx = stack.engine.contextFor(connection);
    const from = new Date(Date.now() - 2 * 86_400_000).toISOString().slice(0, 10);
    log(`  starting the backfill from ${from}`);
    const started = performance.now();
    await startHistoryBackfill(ctx, from);
    await waitFor(
      async () => {
        const p = await readHistoryProgress(ctx);
        return p !== undefined && p.state === 'running' && p.done > 0;
      },
      600_000,
      'the backfill to start writing',
    );
    const doneBefore = (await readHistoryProgress(ctx))?.done ?? 0;
    const during = await phase('while the backfill runs');
    const progress = await readHistoryProgress(ctx);
    const doneDuring = (progress?.done ?? 0) - doneBefore;
    const stillRunning = progress?.state === 'running' || progress?.state === 'waiting';
    const backfillSeconds = (performance.now() - started) / 1000;
    return {
      scenario: 8,
      name: 'Live payment latency while a history backfill runs',
      status: stillRunning
        ? 'ok'
        : `ok (the backfill ended before the phase did: ${progress?.state ?? 'unknown'}, its figure covers less)`,
      records: options.records,
      seconds: round(backfillSeconds, 1),
      store: options.store,
      limit_factor: options.limitFactor,
      seed_seconds: round(seedSeconds, 1),
      live_rate_per_second: options.rate,
      // The table's columns: the live payments' figures while the backfill runs (both phases are below).
      p50_ms: during.p50_ms,
      p95_ms: during.p95_ms,
      p99_ms: during.p99_ms,
      without_backfill: without,
      with_backfill: during,
      p50_ratio: round(during.p50_ms / without.p50_ms, 2),
      p99_ratio: round(during.p99_ms / without.p99_ms, 2),
      backfill_planned: progress?.total ?? null,
      backfill_done_during_phase: doneDuring,
      backfill_records_per_minute: round((doneDuring / during.seconds) * 60, 1),
      hl_calls_total: counter.hl(),
      qbo_calls_total: counter.qbo().calls,
      qbo_throttled: counter.qbo().throttled,
    };
  } finally {
    await stack.close();
  }
}
