// Scenario 4: from a HighLevel order webhook reaching ledgerlink to the QuickBooks sales receipt write being
// answered, at a steady rate with every limit lifted, for customers and items already known (the common case).
// Each payment's chain is: order webhook -> inbox + job -> list the order's transactions (HighLevel) -> job per
// transaction -> read the transaction and the order (HighLevel) -> create the receipt (QuickBooks). The time spent
// inside those provider calls (timed in this process, matched to the payment by the ids in their URLs) is
// subtracted: what remains is what ledgerlink itself adds (queue, store, mapping, scheduling).
import { performance } from 'node:perf_hooks';
import { quickbooksRequestId } from '../../src/domain/requestId.ts';
import { SALES_RECEIPTS_FLOW } from '../../src/sync/salesReceipts.ts';
import type { Connection } from '../../src/store/connections.ts';
import {
  CallCounter, FetchProbe, linkedCounts, percentile, round, seededRandom, sleep, startBenchStack, waitFor,
  type ScenarioResult,
} from '../support.ts';

export interface LatencyOptions {
  rate: number;
  seconds: number;
  store: 'pglite' | 'postgres';
  log: (line: string) => void;
}

const ITEMS = ['Consultation', 'Workshop seat', 'Coaching call', 'Starter kit', 'Membership month'];

export async function runLatency(options: LatencyOptions): Promise<ScenarioResult> {
  const { log } = options;
  const probe = new FetchProbe();
  probe.install(); // before the engine builds its clients, which keep a reference to fetch
  const stack = await startBenchStack({ connections: 1, limitFactor: Infinity, store: options.store, webhooks: true });
  try {
    const counter = new CallCounter(stack);
    const [connection] = stack.connections as [Connection];
    const locationId = connection.hlLocationId!;
    const contacts = Array.from({ length: 40 }, (_, i) => ({ email: `regular${i}@latency.example`, firstName: `Regular${i}`, lastName: 'Buyer' }));
    const random = seededRandom(7);
    const pay = async (contact: (typeof contacts)[number]) => counter.hlAdmin<{ orderId: string; transactionId: string }>('POST', `/locations/${locationId}/actions/order-form-payment`, {
      contact, items: [{ name: ITEMS[Math.floor(random() * ITEMS.length)]!, amount: 10 + Math.floor(random() * 90), qty: 1 }],
    });
    // Warm-up: every contact becomes a customer and every product an item, so the measured payments are steady state.
    log('  warm-up: customers and items');
    for (const contact of contacts) await pay(contact);
    for (const name of ITEMS) await counter.hlAdmin('POST', `/locations/${locationId}/actions/order-form-payment`, { contact: contacts[0], items: [{ name, amount: 10 }] });
    const warm = contacts.length + ITEMS.length;
    await waitFor(async () => ((await linkedCounts(stack.db, 'salesReceipt')).get(connection.id) ?? 0) >= warm, 600_000, 'warm-up receipts');
    await stack.hl.flushWebhooks();
    stack.webhookArrivals.length = 0;
    probe.recording = true;

    log(`  ${options.rate} payments/s for ${options.seconds} s`);
    const payments: Array<{ orderId: string; transactionId: string; sentAt: number }> = [];
    const total = Math.round(options.rate * options.seconds);
    const interval = 1000 / options.rate;
    const start = performance.now();
    for (let i = 0; i < total; i++) {
      const due = start + i * interval;
      const wait = due - performance.now();
      if (wait > 0) await sleep(wait);
      const sentAt = performance.now();
      const r = await pay(contacts[Math.floor(random() * contacts.length)]!);
      payments.push({ ...r, sentAt });
    }
    const offered = total / ((performance.now() - start) / 1000);
    await waitFor(async () => ((await linkedCounts(stack.db, 'salesReceipt')).get(connection.id) ?? 0) >= warm + total, 600_000, 'the measured receipts');
    probe.recording = false;

    // First order webhook per order; the receipt write per transaction (by its requestid).
    const firstWebhook = new Map<string, number>();
    for (const { at, body } of stack.webhookArrivals) {
      if (!String(body.type ?? '').startsWith('Order')) continue;
      const id = String(body._id ?? body.id ?? body.orderId ?? '');
      if (id && !firstWebhook.has(id)) firstWebhook.set(id, at);
    }
    const receiptAnswered = new Map<string, number>();
    for (const call of probe.calls) {
      if (call.method !== 'POST' || !/\/salesreceipt\?/i.test(call.url)) continue;
      const requestId = new URL(call.url).searchParams.get('requestid');
      if (requestId && !receiptAnswered.has(requestId)) receiptAnswered.set(requestId, call.end);
    }
    const endToEnd: number[] = [];
    const added: number[] = [];
    const providerShare: number[] = [];
    let unmatched = 0;
    for (const p of payments) {
      const t0 = firstWebhook.get(p.orderId);
      const requestId = quickbooksRequestId({ connectionId: connection.id, flow: SALES_RECEIPTS_FLOW, sourceId: p.transactionId, sourceVersion: 'sale' });
      const t1 = receiptAnswered.get(requestId);
      if (t0 === undefined || t1 === undefined || t1 < t0) {
        unmatched += 1;
        continue;
      }
      // Provider time on this payment's path: calls naming its order or transaction, inside [t0, t1]. Calls
      // that overlap in time are merged so parallel calls are not subtracted twice.
      const spans = probe.calls
        .filter((c) => c.start >= t0 && c.end <= t1 && (c.url.includes(p.orderId) || c.url.includes(p.transactionId) || c.url.includes(encodeURIComponent(requestId))))
        .map((c) => [c.start, c.end] as const)
        .sort((a, b) => a[0] - b[0]);
      let provider = 0;
      let open = -Infinity;
      for (const [s, e] of spans) {
        const from = Math.max(s, open);
        if (e > from) provider += e - from;
        open = Math.max(open, e);
      }
      endToEnd.push(t1 - t0);
      added.push(t1 - t0 - provider);
      providerShare.push(provider);
    }
    const calls = counter.hl();
    return {
      scenario: 4, name: 'Webhook -> QuickBooks write latency (limits lifted)', status: unmatched === 0 ? 'ok' : `ok (${unmatched} payments not matched to a webhook and a write)`,
      records: added.length, seconds: round((performance.now() - start) / 1000, 2), offered_per_second: round(offered, 1), store: options.store,
      p50_ms: round(percentile(added, 50), 1), p95_ms: round(percentile(added, 95), 1), p99_ms: round(percentile(added, 99), 1),
      end_to_end_p50_ms: round(percentile(endToEnd, 50), 1), end_to_end_p95_ms: round(percentile(endToEnd, 95), 1), end_to_end_p99_ms: round(percentile(endToEnd, 99), 1),
      provider_p50_ms: round(percentile(providerShare, 50), 1),
      hl_calls_total: calls,
      targets: { p99_ms: '< 50 (added by ledgerlink)' },
    };
  } finally {
    probe.uninstall();
    await stack.close();
  }
}
