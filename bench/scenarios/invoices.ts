// Scenario 3: CRM invoices through their life, driven by the webhooks HighLevel sends (limits lifted): sent (the
// QuickBooks invoice is created), two partial payments and the final one (each a QuickBooks Payment applied to
// it). Provider calls are counted at the emulators per event and divided by the number of invoices. Customers and
// items are known before the run (a warm-up invoice per contact), so the figures are the steady-state cost.
import { performance } from 'node:perf_hooks';
import type { Connection } from '../../src/store/connections.ts';
import { QUEUES } from '../../src/sync/engine/routes.ts';
import { CallCounter, round, seededRandom, startBenchStack, waitFor, type ScenarioResult } from '../support.ts';

export interface InvoiceOptions {
  invoices: number;
  store: 'pglite' | 'postgres';
  log: (line: string) => void;
}

const ITEMS = ['Design work', 'Hosting (year)', 'Support hours'];

export async function runInvoices(options: InvoiceOptions): Promise<ScenarioResult> {
  const { log } = options;
  const stack = await startBenchStack({ connections: 1, limitFactor: Infinity, store: options.store, webhooks: true });
  try {
    const counter = new CallCounter(stack);
    const [connection] = stack.connections as [Connection];
    const realm = connection.qboRealmId!;
    const locationId = connection.hlLocationId!;
    const random = seededRandom(5);
    const qboCount = (entity: 'Invoice' | 'Payment') => stack.qbo.admin.listEntities(realm, entity).length;
    const settle = async (entity: 'Invoice' | 'Payment', target: number, what: string) => {
      await waitFor(async () => qboCount(entity) >= target, Math.max(120_000, options.invoices * 2000), what, 50);
      await stack.hl.flushWebhooks();
      await stack.engine.queue.idle(
        [QUEUES.crmInvoice, QUEUES.crmContact, QUEUES.qboInvoice, QUEUES.qboCustomer],
        120_000,
      );
    };
    const contacts = Array.from({ length: 10 }, (_, i) => ({
      email: `client${i}@invoices.example`,
      firstName: `Client${i}`,
      lastName: 'Billing',
    }));
    const contactIds: string[] = [];
    log('  warm-up: one invoice per contact');
    for (const contact of contacts) {
      const r = await counter.hlAdmin<{ invoiceId: string; invoice: { contactDetails?: { id?: string } } }>(
        'POST',
        `/locations/${locationId}/actions/invoice`,
        {
          contact,
          items: ITEMS.map((name) => ({ name, amount: 50, qty: 1 })),
          send: true,
        },
      );
      contactIds.push(String(r.invoice.contactDetails?.id ?? ''));
    }
    await settle('Invoice', contacts.length, 'warm-up invoices');

    const phases: Array<{ event: string; seconds: number; qbo: number; hl: number }> = [];
    const measure = async (event: string, act: () => Promise<void>, entity: 'Invoice' | 'Payment', target: number) => {
      const q0 = counter.qbo([realm]).calls;
      const h0 = counter.hl();
      const t0 = performance.now();
      await act();
      await settle(entity, target, event);
      phases.push({
        event,
        seconds: (performance.now() - t0) / 1000,
        qbo: counter.qbo([realm]).calls - q0,
        hl: counter.hl() - h0,
      });
    };

    const n = options.invoices;
    const invoices: Array<{ id: string; total: number }> = [];
    log(`  ${n} invoices: sent, paid 30%, paid 30%, paid the rest`);
    await measure(
      'sent',
      async () => {
        for (let i = 0; i < n; i++) {
          const amount = 100 + Math.floor(random() * 900);
          const r = await counter.hlAdmin<{ invoiceId: string; invoice: { total?: number } }>(
            'POST',
            `/locations/${locationId}/actions/invoice`,
            {
              contactId: contactIds[i % contactIds.length],
              items: [{ name: ITEMS[i % ITEMS.length]!, amount, qty: 1 }],
              send: true,
            },
          );
          invoices.push({ id: r.invoiceId, total: Number(r.invoice.total ?? amount) });
        }
      },
      'Invoice',
      contacts.length + n,
    );
    const payments0 = qboCount('Payment');
    const pay = (part: (total: number) => number | undefined) => async () => {
      for (const inv of invoices) {
        const amount = part(inv.total);
        await counter.hlAdmin('POST', `/invoices/${inv.id}/record-payment`, amount === undefined ? {} : { amount });
      }
    };
    const third = (total: number) => Math.floor(total * 30) / 100;
    await measure('partial payment 1', pay(third), 'Payment', payments0 + n);
    await measure('partial payment 2', pay(third), 'Payment', payments0 + 2 * n);
    await measure(
      'paid',
      pay(() => undefined),
      'Payment',
      payments0 + 3 * n,
    );

    const perEvent = Object.fromEntries(
      phases.map((p) => [
        p.event,
        {
          qbo_calls_per_invoice: round(p.qbo / n, 2),
          hl_calls_per_invoice: round(p.hl / n, 2),
          seconds: round(p.seconds, 2),
        },
      ]),
    );
    const qboTotal = phases.reduce((s, p) => s + p.qbo, 0);
    const hlTotal = phases.reduce((s, p) => s + p.hl, 0);
    return {
      scenario: 3,
      name: 'Invoices through their life (send, two partial payments, paid; limits lifted)',
      status: 'ok',
      records: n,
      seconds: round(
        phases.reduce((s, p) => s + p.seconds, 0),
        2,
      ),
      calls_per_record: round(qboTotal / n / phases.length, 2),
      hl_calls_per_record: round(hlTotal / n / phases.length, 2),
      per_event: perEvent,
    };
  } finally {
    await stack.close();
  }
}
