// Scenario 4: from a HighLevel order webhook leaving the emulator to the QuickBooks sales receipt write being
// answered, at a steady rate with every limit lifted, for customers and items already known (the common case).
// Each payment's chain is: order webhook -> inbox + job -> list the order's transactions (HighLevel) -> read the
// transaction and the order (HighLevel) -> create the receipt (QuickBooks). Every time is taken in this process at
// the emulators: when the webhook was sent, and when each provider request arrived and was answered. The provider
// time on the payment's path (requests naming its order or transaction, overlaps merged) is subtracted: what
// remains is what ledgerlink itself adds (HTTP, queue, store, mapping, scheduling).
//
// On PostgreSQL, ledgerlink runs as `ledgerlink start` in its own process, as in production where the providers
// are other machines: the emulators' work then does not queue on ledgerlink's event loop. On PGlite (one process
// only) everything shares this process, which overstates what ledgerlink adds.
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import type { ChildProcess } from 'node:child_process';
import { quickbooksRequestId } from '../../src/domain/requestId.ts';
import { SALES_RECEIPTS_FLOW } from '../../src/sync/flows/salesReceipts.ts';
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
  startLedgerlinkProcess,
  stopLedgerlinkProcess,
  waitFor,
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
  const separate = options.store === 'postgres';
  const served: ServedRequest[] = [];
  let recording = false;
  const probe = new FetchProbe(); // the emulator's webhook deliveries (this process's fetch)
  probe.install();
  const stack = await startBenchStack({
    connections: 1,
    limitFactor: Infinity,
    store: options.store,
    webhooks: !separate,
    workers: !separate,
    observe: (request) => {
      if (recording) served.push(request);
    },
  });
  let child: ChildProcess | undefined;
  try {
    if (separate) {
      const started = await startLedgerlinkProcess('start', {
        ...stack.workerEnv(),
        LEDGERLINK_HOST: '127.0.0.1',
        LEDGERLINK_PORT: '0',
        LEDGERLINK_ADMIN_PASSWORD: 'bench-admin-password',
      });
      child = started.child;
      stack.hl.core.webhooks.config.url = `${started.url}/webhooks/highlevel`;
    }
    const counter = new CallCounter(stack);
    const [connection] = stack.connections as [Connection];
    const locationId = connection.hlLocationId!;
    const contacts = Array.from({ length: 40 }, (_, i) => ({
      email: `regular${i}@latency.example`,
      firstName: `Regular${i}`,
      lastName: 'Buyer',
    }));
    const random = seededRandom(7);
    const pay = async (contact: (typeof contacts)[number]) =>
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
    // Warm-up: every contact becomes a customer and every product an item, so the measured payments are steady state.
    log(`  warm-up: customers and items (ledgerlink ${separate ? 'in its own process' : 'in this process'})`);
    for (const contact of contacts) await pay(contact);
    for (const name of ITEMS)
      await counter.hlAdmin('POST', `/locations/${locationId}/actions/order-form-payment`, {
        contact: contacts[0],
        items: [{ name, amount: 10 }],
      });
    const warm = contacts.length + ITEMS.length;
    await waitFor(
      async () => ((await linkedCounts(stack.db, 'salesReceipt')).get(connection.id) ?? 0) >= warm,
      600_000,
      'warm-up receipts',
    );
    await stack.hl.flushWebhooks();
    recording = true;
    probe.recording = true;

    log(`  ${options.rate} payments/s for ${options.seconds} s`);
    const payments: Array<{ orderId: string; transactionId: string }> = [];
    const total = Math.round(options.rate * options.seconds);
    const interval = 1000 / options.rate;
    const start = performance.now();
    const cpuBefore = child ? processCpuMs(child.pid!) : process.cpuUsage();
    for (let i = 0; i < total; i++) {
      const wait = start + i * interval - performance.now();
      if (wait > 0) await sleep(wait);
      payments.push(await pay(contacts[Math.floor(random() * contacts.length)]!));
    }
    const offered = total / ((performance.now() - start) / 1000);
    await waitFor(
      async () => ((await linkedCounts(stack.db, 'salesReceipt')).get(connection.id) ?? 0) >= warm + total,
      600_000,
      'the measured receipts',
    );
    recording = false;
    probe.recording = false;
    const wallMs = performance.now() - start;
    const cpuMs = child ? processCpuMs(child.pid!) - (cpuBefore as number) : cpuMsSince(cpuBefore as NodeJS.CpuUsage);

    // The first order webhook sent per order; the receipt write answered per transaction (by its requestid).
    const firstWebhook = firstOrderWebhooks(probe.calls);
    const receiptAnswered = receiptWritesAnswered(served);
    const webhookAnswered = new Map<string, number>();
    for (const call of probe.calls) {
      if (!call.url.includes('/webhooks/highlevel') || !call.body) continue;
      const body = JSON.parse(call.body) as Record<string, unknown>;
      const id = String(body._id ?? body.id ?? body.orderId ?? '');
      if (id && firstWebhook.get(id) === call.start) webhookAnswered.set(id, call.end);
    }
    const endToEnd: number[] = [];
    const added: number[] = [];
    const providerShare: number[] = [];
    // Where ledgerlink's share goes, between the provider calls of the chain (see phasesOf).
    const phases = {
      intake: [] as number[],
      to_first_call: [] as number[],
      between_calls: [] as number[],
      to_receipt_write: [] as number[],
    };
    let unmatched = 0;
    for (const p of payments) {
      const t0 = firstWebhook.get(p.orderId);
      const requestId = quickbooksRequestId({
        connectionId: connection.id,
        flow: SALES_RECEIPTS_FLOW,
        sourceId: p.transactionId,
        sourceVersion: 'sale',
      });
      const t1 = receiptAnswered.get(requestId);
      if (t0 === undefined || t1 === undefined || t1 < t0) {
        unmatched += 1;
        continue;
      }
      // Provider time on this payment's path: requests naming its order or transaction, inside [t0, t1]. Requests
      // that overlap in time are merged so parallel calls are not subtracted twice.
      const spans = served
        .filter(
          (c) =>
            c.start >= t0 &&
            c.end <= t1 &&
            (c.url.includes(p.orderId) ||
              c.url.includes(p.transactionId) ||
              c.url.includes(encodeURIComponent(requestId))),
        )
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
      const chain = served.filter(
        (c) =>
          c.start >= t0 &&
          c.end <= t1 &&
          (c.url.includes(p.orderId) ||
            c.url.includes(p.transactionId) ||
            c.url.includes(encodeURIComponent(requestId))),
      );
      const phase = phasesOf(t0, webhookAnswered.get(p.orderId), chain, requestId);
      if (phase) for (const [name, ms] of Object.entries(phase)) phases[name as keyof typeof phases].push(ms);
    }
    return {
      scenario: 4,
      name: 'Webhook -> QuickBooks write latency (limits lifted)',
      status: unmatched === 0 ? 'ok' : `ok (${unmatched} payments not matched to a webhook and a write)`,
      records: added.length,
      seconds: round((performance.now() - start) / 1000, 2),
      offered_per_second: round(offered, 1),
      store: options.store,
      ledgerlink_process: separate ? 'own process (ledgerlink start)' : 'shared with the emulators',
      p50_ms: round(percentile(added, 50), 1),
      p95_ms: round(percentile(added, 95), 1),
      p99_ms: round(percentile(added, 99), 1),
      end_to_end_p50_ms: round(percentile(endToEnd, 50), 1),
      end_to_end_p95_ms: round(percentile(endToEnd, 95), 1),
      end_to_end_p99_ms: round(percentile(endToEnd, 99), 1),
      provider_p50_ms: round(percentile(providerShare, 50), 1),
      phases_ms: Object.fromEntries(
        Object.entries(phases).map(([name, values]) => [
          name,
          {
            p50: round(percentile(values, 50), 1),
            p95: round(percentile(values, 95), 1),
            p99: round(percentile(values, 99), 1),
          },
        ]),
      ),
      ledgerlink_cpu_ms_per_payment: round(cpuMs / total, 2),
      ledgerlink_cpu_busy: round(cpuMs / wallMs, 3),
      hl_calls_total: counter.hl(),
      targets: { p99_ms: '< 50 (added by ledgerlink)' },
    };
  } finally {
    probe.uninstall();
    if (child) await stopLedgerlinkProcess(child);
    await stack.close();
  }
}

/**
 * Splits one payment's time outside the providers: `intake` from the webhook sent to its answer (verify, inbox,
 * job); `to_first_call` from that answer to the first HighLevel request of the chain (queue wake-up, job fetch,
 * lease); `between_calls` the gaps between HighLevel requests (link look-ups, the transaction's lease);
 * `to_receipt_write` from the last HighLevel answer to the QuickBooks write arriving (customer, items, mapping).
 */
function phasesOf(
  sent: number,
  answered: number | undefined,
  chain: readonly ServedRequest[],
  receiptRequestId: string,
): Record<'intake' | 'to_first_call' | 'between_calls' | 'to_receipt_write', number> | undefined {
  const write = chain.find((c) => c.method === 'POST' && c.url.includes(encodeURIComponent(receiptRequestId)));
  const reads = chain.filter((c) => c !== write).sort((a, b) => a.start - b.start);
  if (answered === undefined || !write || reads.length === 0) return undefined;
  let between = 0;
  let open = reads[0]!.end;
  for (const read of reads.slice(1)) {
    if (read.start > open) between += read.start - open;
    open = Math.max(open, read.end);
  }
  return {
    intake: answered - sent,
    to_first_call: reads[0]!.start - answered,
    between_calls: between,
    to_receipt_write: write.start - open,
  };
}

/** CPU time (user + system) a process has used, from /proc (Linux). */
function processCpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8')
    .replace(/^.*\) /, '')
    .split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15 of the line)
  return (ticks * 1000) / 100; // USER_HZ is 100 on Linux
}

function cpuMsSince(before: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(before);
  return (used.user + used.system) / 1000;
}
