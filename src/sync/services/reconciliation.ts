// Reconciliation: what both sides hold for one connection, compared record by record through the links, per
// kind (customers, invoices, sales receipts, payments): matched, missing on either side, amounts that differ.
// Computed from both APIs (QuickBooks queries and HighLevel lists), never from our own records alone, so it
// finds what the flows missed as well as what someone changed by hand. Amounts compare in minor units.
//
// Scope, per kind (records before the connection date are not ours to sync and are left out):
// - customers: QuickBooks customers and CRM contacts, by link and else by email. A QuickBooks customer with no
//   CRM contact is missing in the CRM (customers flow both ways); a linked contact whose customer is gone or
//   inactive is missing in QuickBooks.
// - sales receipts: CRM payments taken since the sync start (the connection, or the day of a finished history
//   backfill; not invoice payments, not test mode) against the QuickBooks sales receipts linked to them; the receipt
//   total must equal the payment amount.
// - invoices: CRM invoices issued since the sync start (not drafts) against their QuickBooks invoices, totals
//   equal; and invoices imported from QuickBooks by their own rule: each has its CRM copy, with the same total.
//   Imported invoices are history that never syncs again (invoiceImport.ts), so they are never "missing in
//   QuickBooks" and their payments (recorded in the CRM by the import) are not looked for there.
// - payments: per CRM invoice, what the CRM says was paid against the sum of the QuickBooks payments recorded.
import { toMinorUnits } from '../../domain/money.ts';
import { select } from '../../quickbooks/query.ts';
import type { Customer } from '../../quickbooks/entities.ts';
import { customerEmails } from '../../quickbooks/client.ts';
import { isNotFound as isHighLevelNotFound } from '../../highlevel/errors.ts';
import { isNotFound as isQuickBooksNotFound } from '../../quickbooks/errors.ts';
import type { Invoice as CrmInvoice } from '../../highlevel/invoices.ts';
import type { Transaction } from '../../highlevel/payments.ts';
import { normalizeEmail } from '../../domain/email.ts';
import { listLinks, type Link } from '../../store/links.ts';
import type { FlowContext } from '../engine/context.ts';
import type { FlowDeclaration } from '../engine/flow.ts';
import { FLOWS } from '../flows/index.ts';
import { IMPORTED_MARKER } from '../flows/invoiceImport.ts';
import { isCharged } from '../flows/salesReceipts.ts';
import { syncStartOf } from './syncStart.ts';

/** The kinds compared, in the report's order; the flows' `reconciles` say which job re-syncs each side. */
export const RECONCILIATION_KINDS = ['customers', 'invoices', 'salesReceipts', 'payments'] as const;
export type ReconciliationKind = (typeof RECONCILIATION_KINDS)[number];
export type Problem = 'missingInQuickBooks' | 'missingInCrm' | 'amountDiffers';

export interface Difference {
  kind: ReconciliationKind;
  problem: Problem;
  label: string;
  crmId: string | null;
  qboId: string | null;
  currency: string | null;
  crmAmountMinor: number | null;
  qboAmountMinor: number | null;
  /** The flow job that brings the record back in step (absent when no flow covers it). */
  resync: { queue: string; data: Record<string, unknown> } | null;
  /** Why a re-sync cannot change this one, and what can (when `resync` is null). */
  note: string | null;
}

export interface KindReport {
  kind: ReconciliationKind;
  matched: number;
  missingInQuickBooks: number;
  missingInCrm: number;
  amountDiffers: number;
  differences: Difference[];
}

export interface Reconciliation {
  connectionId: string;
  computedAt: string;
  /** Records from this day on are compared (the connection date). */
  since: string | null;
  kinds: KindReport[];
}

/** CRM invoice statuses that exist for the books (a draft has not been issued). */
const ISSUED = new Set(['sent', 'payment_processing', 'partially_paid', 'paid', 'void']);
// Enough for the dashboard's accounts; beyond it a kind is compared on its first 10,000 records only (a known limit).
const MAX_RECORDS = 10_000;

/** The queue of the job that writes `kind` on a side, by the flows' declarations ("<kind>:<side>" -> queue). */
const RESYNC_QUEUES: ReadonlyMap<string, string> = new Map(
  (FLOWS as readonly FlowDeclaration[]).flatMap((flow) =>
    (flow.reconciles ?? []).map((r) => [`${r.kind}:${r.writes}`, flow.jobs[r.job]!.queue] as const),
  ),
);

/** The re-sync of a difference: the job of the flow that writes `kind` on the side where it is missing or differs. */
function resyncOn(
  kind: ReconciliationKind,
  writes: 'quickbooks' | 'crm',
  data: Record<string, unknown>,
): { queue: string; data: Record<string, unknown> } | null {
  const queue = RESYNC_QUEUES.get(`${kind}:${writes}`);
  return queue ? { queue, data } : null;
}

const minor = (amount: number | string | undefined, currency: string): number | null => {
  if (amount === undefined) return null;
  const m = toMinorUnits(amount, currency, { rounding: 'halfUp' });
  return m.ok ? m.value : null;
};

export async function reconcile(ctx: FlowContext): Promise<Reconciliation> {
  const connection = ctx.connection;
  // From the connection's sync start: a finished history backfill's records are compared too (syncStart.ts).
  const since = (await syncStartOf(ctx, { settledOnly: true })) ?? connection.connectedAt;
  const facts = await ctx.company();
  const links = await listLinks(ctx.db, connection.id, [
    'customer',
    'salesReceipt',
    'invoice',
    'importedInvoice',
    'payment',
  ]);
  const byKind = (kind: Link['kind']) => links.filter((l) => l.kind === kind);
  const kinds = await Promise.all([
    reconcileCustomers(ctx, byKind('customer')),
    reconcileInvoices(ctx, byKind('invoice'), byKind('importedInvoice'), since, facts.homeCurrency),
    reconcileSalesReceipts(ctx, byKind('salesReceipt'), since, facts.homeCurrency),
  ]);
  const payments = await reconcilePayments(
    ctx,
    byKind('payment'),
    byKind('importedInvoice'),
    since,
    facts.homeCurrency,
  );
  return {
    connectionId: connection.id,
    computedAt: new Date().toISOString(),
    since: since ? since.toISOString() : null,
    kinds: [kinds[0], kinds[1], kinds[2], payments],
  };
}

function report(kind: ReconciliationKind, matched: number, differences: Difference[]): KindReport {
  const count = (p: Problem) => differences.filter((d) => d.problem === p).length;
  return {
    kind,
    matched,
    missingInQuickBooks: count('missingInQuickBooks'),
    missingInCrm: count('missingInCrm'),
    amountDiffers: count('amountDiffers'),
    differences,
  };
}

async function take<T>(items: AsyncIterable<T>, limit = MAX_RECORDS): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) {
    out.push(item);
    if (out.length >= limit) break;
  }
  return out;
}

/** The day before `since` as YYYY-MM-DD: QuickBooks TxnDate and HighLevel day filters are in local days. */
const dayBefore = (since: Date) => new Date(since.getTime() - 86_400_000).toISOString().slice(0, 10);
const after = (at: string | undefined, since: Date | null) =>
  !since || !at || new Date(at).getTime() >= since.getTime();

async function reconcileCustomers(ctx: FlowContext, links: Link[]): Promise<KindReport> {
  const qboCustomers = await take(ctx.qbo.queryAll(select('Customer').includeInactive()));
  const qboById = new Map<string, Customer>(qboCustomers.map((c) => [c.Id, c]));
  const contacts = await take(ctx.hl.contacts.searchAll());
  const contactIds = new Set(contacts.map((c) => c.id));
  const contactEmails = new Set(contacts.flatMap((c) => (c.email ? [normalizeEmail(c.email)] : [])));
  const linkedQbo = new Set(links.filter((l) => l.state === 'linked' && l.qboId).map((l) => l.qboId!));
  const differences: Difference[] = [];
  let matched = 0;
  for (const link of links) {
    if (link.state !== 'linked' || !link.qboId) continue;
    const customer = qboById.get(link.qboId);
    const contactThere = contactIds.has(link.crmId);
    if (customer && customer.Active !== false && contactThere) {
      matched += 1;
    } else if (!contactThere) {
      differences.push({
        kind: 'customers',
        problem: 'missingInCrm',
        label: `Customer ${customer?.DisplayName ?? link.qboId}: its CRM contact ${link.crmId} is gone`,
        crmId: link.crmId,
        qboId: link.qboId,
        currency: null,
        crmAmountMinor: null,
        qboAmountMinor: null,
        resync: resyncOn('customers', 'crm', {
          customerId: link.qboId,
          key: `${ctx.connection.id}:customer:${link.qboId}`,
          operation: 'Update',
        }),
        note: null,
      });
    } else {
      differences.push({
        kind: 'customers',
        problem: 'missingInQuickBooks',
        label: `CRM contact ${link.crmId}: QuickBooks customer ${link.qboId} is ${customer ? 'inactive' : 'gone'}`,
        crmId: link.crmId,
        qboId: link.qboId,
        currency: null,
        crmAmountMinor: null,
        qboAmountMinor: null,
        resync: resyncOn('customers', 'quickbooks', {
          contactId: link.crmId,
          key: `${ctx.connection.id}:contact:${link.crmId}`,
          event: 'ContactUpdate',
        }),
        note: null,
      });
    }
  }
  for (const customer of qboCustomers) {
    if (customer.Active === false || linkedQbo.has(customer.Id)) continue;
    const emails = customerEmails(customer).map(normalizeEmail);
    if (emails.some((e) => contactEmails.has(e))) {
      matched += 1; // same person on both sides, found by email (the flows link them on their next change)
      continue;
    }
    differences.push({
      kind: 'customers',
      problem: 'missingInCrm',
      label: `QuickBooks customer ${customer.DisplayName ?? customer.Id} has no CRM contact`,
      crmId: null,
      qboId: customer.Id,
      currency: null,
      crmAmountMinor: null,
      qboAmountMinor: null,
      resync: resyncOn('customers', 'crm', {
        customerId: customer.Id,
        key: `${ctx.connection.id}:customer:${customer.Id}`,
        operation: 'Create',
      }),
      note: null,
    });
  }
  return report('customers', matched, differences);
}

async function reconcileSalesReceipts(
  ctx: FlowContext,
  links: Link[],
  since: Date | null,
  homeCurrency: string,
): Promise<KindReport> {
  const transactions = (await take(ctx.hl.payments.transactions(since ? { startAt: dayBefore(since) } : {}))).filter(
    (t) =>
      after(t.createdAt ?? t.fulfilledAt, since) &&
      isCharged(t) &&
      t.entitySourceType !== 'invoice' &&
      !t.invoiceId &&
      t.liveMode !== false,
  );
  const receipts = await take(
    ctx.qbo.queryAll(since ? select('SalesReceipt').where('TxnDate', '>=', dayBefore(since)) : select('SalesReceipt')),
  );
  const receiptById = new Map(receipts.map((r) => [r.Id, r]));
  const linkByCrm = new Map(links.map((l) => [l.crmId, l]));
  const differences: Difference[] = [];
  let matched = 0;
  const resync = (t: Transaction) =>
    resyncOn('salesReceipts', 'quickbooks', { transactionId: t._id, key: `${ctx.connection.id}:txn:${t._id}` });
  for (const txn of transactions) {
    const currency = (txn.currency ?? homeCurrency).toUpperCase();
    const crmAmount = minor(txn.amount, currency);
    const label = `Payment ${txn._id} (${txn.contactName ?? txn.contactEmail ?? 'no name'})`;
    const link = linkByCrm.get(txn._id);
    if (link?.state === 'skipped') continue;
    if (link?.state !== 'linked' || !link.qboId) {
      differences.push({
        kind: 'salesReceipts',
        problem: 'missingInQuickBooks',
        label: `${label} has no QuickBooks sales receipt`,
        crmId: txn._id,
        qboId: null,
        currency,
        crmAmountMinor: crmAmount,
        qboAmountMinor: null,
        resync: resync(txn),
        note: null,
      });
      continue;
    }
    const receipt =
      receiptById.get(link.qboId) ?? (await readOrUndefined(() => ctx.qbo.read('SalesReceipt', link.qboId!)));
    if (!receipt) {
      differences.push({
        kind: 'salesReceipts',
        problem: 'missingInQuickBooks',
        label: `${label}: sales receipt ${link.qboId} is gone from QuickBooks`,
        crmId: txn._id,
        qboId: link.qboId,
        currency,
        crmAmountMinor: crmAmount,
        qboAmountMinor: null,
        resync: resync(txn),
        note: null,
      });
      continue;
    }
    const qboAmount = minor(receipt.TotalAmt, currency);
    if (crmAmount !== qboAmount) {
      differences.push({
        kind: 'salesReceipts',
        problem: 'amountDiffers',
        label: `${label}: sales receipt ${receipt.DocNumber ?? receipt.Id} total differs`,
        crmId: txn._id,
        qboId: receipt.Id,
        currency,
        crmAmountMinor: crmAmount,
        qboAmountMinor: qboAmount,
        resync: resync(txn),
        note: null,
      });
    } else matched += 1;
  }
  const seen = new Set(transactions.map((t) => t._id));
  for (const link of links) {
    if (link.state !== 'linked' || !link.qboId || seen.has(link.crmId)) continue;
    const txn = await readOrUndefined(() => ctx.hl.payments.getTransaction(link.crmId));
    if (!txn) {
      differences.push({
        kind: 'salesReceipts',
        problem: 'missingInCrm',
        label: `Sales receipt ${link.qboId}: its CRM payment ${link.crmId} is gone`,
        crmId: link.crmId,
        qboId: link.qboId,
        currency: null,
        crmAmountMinor: null,
        qboAmountMinor: null,
        resync: null,
        note: 'The CRM payment is gone: nothing in the CRM to sync from; remove the sales receipt in QuickBooks if the payment was cancelled',
      });
    }
  }
  return report('salesReceipts', matched, differences);
}

async function reconcileInvoices(
  ctx: FlowContext,
  links: Link[],
  imported: Link[],
  since: Date | null,
  homeCurrency: string,
): Promise<KindReport> {
  const invoices = await take(ctx.hl.invoices.listAll());
  const crmById = new Map(invoices.map((i) => [i._id, i]));
  const linkByCrm = new Map(links.map((l) => [l.crmId, l]));
  const differences: Difference[] = [];
  let matched = 0;
  const resync = (i: CrmInvoice) =>
    resyncOn('invoices', 'quickbooks', {
      invoiceId: i._id,
      key: `${ctx.connection.id}:invoice:${i._id}`,
      event: 'reconcile',
    });
  const importedIds = importedCrmIds(imported);
  for (const invoice of invoices) {
    if (!ISSUED.has(invoice.status) || !after(invoice.createdAt, since) || isImported(invoice, importedIds)) continue;
    const link = linkByCrm.get(invoice._id);
    if (link?.state === 'skipped') continue;
    const currency = invoice.currency.toUpperCase();
    const crmAmount = minor(invoice.total, currency);
    const label = `CRM invoice ${invoice.invoiceNumberPrefix ?? ''}${invoice.invoiceNumber ?? invoice._id}`;
    if (link?.state !== 'linked' || !link.qboId) {
      differences.push({
        kind: 'invoices',
        problem: 'missingInQuickBooks',
        label: `${label} has no QuickBooks invoice`,
        crmId: invoice._id,
        qboId: null,
        currency,
        crmAmountMinor: crmAmount,
        qboAmountMinor: null,
        resync: resync(invoice),
        note: null,
      });
      continue;
    }
    const qbo = await readOrUndefined(() => ctx.qbo.read('Invoice', link.qboId!));
    if (!qbo) {
      differences.push({
        kind: 'invoices',
        problem: 'missingInQuickBooks',
        label: `${label}: QuickBooks invoice ${link.qboId} is gone`,
        crmId: invoice._id,
        qboId: link.qboId,
        currency,
        crmAmountMinor: crmAmount,
        qboAmountMinor: null,
        resync: resync(invoice),
        note: null,
      });
      continue;
    }
    const qboAmount = minor(qbo.TotalAmt, currency);
    if (crmAmount !== qboAmount) {
      differences.push({
        kind: 'invoices',
        problem: 'amountDiffers',
        label: `${label}: QuickBooks invoice ${qbo.DocNumber ?? qbo.Id} total differs`,
        crmId: invoice._id,
        qboId: qbo.Id,
        currency,
        crmAmountMinor: crmAmount,
        qboAmountMinor: qboAmount,
        resync: resync(invoice),
        note: null,
      });
    } else matched += 1;
  }
  // Old invoices imported from QuickBooks: the CRM copy must exist and carry the same total.
  for (const link of imported) {
    if (link.state !== 'linked' || !link.qboId) continue;
    const qbo = await readOrUndefined(() => ctx.qbo.read('Invoice', link.qboId!));
    const crm = crmById.get(link.crmId);
    const currency = (crm?.currency ?? homeCurrency).toUpperCase();
    if (!qbo) {
      differences.push({
        kind: 'invoices',
        problem: 'missingInQuickBooks',
        label: `Imported invoice ${link.qboId} is gone from QuickBooks`,
        crmId: link.crmId,
        qboId: link.qboId,
        currency,
        crmAmountMinor: crm ? minor(crm.total, currency) : null,
        qboAmountMinor: null,
        resync: null,
        note: IMPORTED_NOTE,
      });
    } else if (!crm) {
      differences.push({
        kind: 'invoices',
        problem: 'missingInCrm',
        label: `QuickBooks invoice ${qbo.DocNumber ?? qbo.Id} was imported but its CRM copy is gone`,
        crmId: link.crmId,
        qboId: link.qboId,
        currency,
        crmAmountMinor: null,
        qboAmountMinor: minor(qbo.TotalAmt, currency),
        resync: null,
        note: IMPORTED_NOTE,
      });
    } else if (minor(crm.total, currency) !== minor(qbo.TotalAmt, currency)) {
      differences.push({
        kind: 'invoices',
        problem: 'amountDiffers',
        label: `Imported invoice ${qbo.DocNumber ?? qbo.Id}: totals differ`,
        crmId: crm._id,
        qboId: qbo.Id,
        currency,
        crmAmountMinor: minor(crm.total, currency),
        qboAmountMinor: minor(qbo.TotalAmt, currency),
        resync: null,
        note: IMPORTED_NOTE,
      });
    } else matched += 1;
  }
  return report('invoices', matched, differences);
}

async function reconcilePayments(
  ctx: FlowContext,
  links: Link[],
  imported: Link[],
  since: Date | null,
  homeCurrency: string,
): Promise<KindReport> {
  const importedIds = importedCrmIds(imported);
  const invoices = (await take(ctx.hl.invoices.listAll())).filter(
    (i) => after(i.createdAt, since) && (i.amountPaid ?? 0) > 0 && !isImported(i, importedIds),
  );
  const differences: Difference[] = [];
  let matched = 0;
  const paymentsByInvoice = new Map<string, Link[]>();
  for (const link of links) {
    const invoiceId = typeof link.data.invoiceId === 'string' ? link.data.invoiceId : undefined;
    if (invoiceId && link.state === 'linked')
      paymentsByInvoice.set(invoiceId, [...(paymentsByInvoice.get(invoiceId) ?? []), link]);
  }
  for (const invoice of invoices) {
    const currency = (invoice.currency ?? homeCurrency).toUpperCase();
    const paid = minor(invoice.amountPaid, currency);
    const label = `Payments on CRM invoice ${invoice.invoiceNumberPrefix ?? ''}${invoice.invoiceNumber ?? invoice._id}`;
    const resync = resyncOn('payments', 'quickbooks', {
      invoiceId: invoice._id,
      key: `${ctx.connection.id}:invoice:${invoice._id}`,
      event: 'reconcile',
    });
    const recorded = paymentsByInvoice.get(invoice._id) ?? [];
    if (recorded.length === 0) {
      differences.push({
        kind: 'payments',
        problem: 'missingInQuickBooks',
        label: `${label}: none recorded in QuickBooks`,
        crmId: invoice._id,
        qboId: null,
        currency,
        crmAmountMinor: paid,
        qboAmountMinor: 0,
        resync,
        note: null,
      });
      continue;
    }
    let total = 0;
    const present: string[] = [];
    for (const link of recorded) {
      const payment = await readOrUndefined(() => ctx.qbo.read('Payment', link.qboId!));
      if (payment) {
        present.push(payment.Id);
        total += minor(payment.TotalAmt, currency) ?? 0;
      }
    }
    if (total !== paid) {
      differences.push({
        kind: 'payments',
        problem: present.length === 0 ? 'missingInQuickBooks' : 'amountDiffers',
        label: `${label}: QuickBooks holds a different amount`,
        crmId: invoice._id,
        qboId: present.join(', ') || null,
        currency,
        crmAmountMinor: paid,
        qboAmountMinor: total,
        resync,
        note: null,
      });
    } else matched += 1;
  }
  return report('payments', matched, differences);
}

/** What a re-sync of an imported invoice would do: nothing, by design. */
const IMPORTED_NOTE =
  'Imported from QuickBooks once, as history: it is not synced again, so a re-sync changes nothing; correct it by hand on the side that is wrong';

/** The CRM ids of invoices imported from QuickBooks (committed, or claimed by an import under way). */
function importedCrmIds(imported: readonly Link[]): Set<string> {
  return new Set(imported.filter((l) => l.state !== 'skipped').map((l) => l.crmId));
}

/** An imported invoice, known by its link or, while its link is still a claim, by the marker the import writes in its terms. */
function isImported(invoice: CrmInvoice, importedIds: ReadonlySet<string>): boolean {
  return (
    importedIds.has(invoice._id) ||
    (typeof invoice.termsNotes === 'string' && invoice.termsNotes.startsWith(IMPORTED_MARKER))
  );
}

async function readOrUndefined<T>(read: () => Promise<T>): Promise<T | undefined> {
  try {
    const value = await read();
    // QuickBooks answers a deleted transaction's read with a stub {status: "Deleted"} in some paths.
    if (value && typeof value === 'object' && (value as { status?: unknown }).status === 'Deleted') return undefined;
    return value;
  } catch (error) {
    if (isHighLevelNotFound(error) || isQuickBooksNotFound(error)) return undefined;
    throw error;
  }
}

/**
 * Puts the differences' flow jobs on the queue. Differences no job can change (imported invoices, records gone from
 * the CRM) and jobs of flows this deployment does not run are counted, not enqueued; `message` says what was done,
 * and says so plainly when nothing could be. The jobs re-read both sides: re-syncing a record already in step
 * writes nothing.
 */
export async function resyncDifferences(
  ctx: FlowContext,
  reconciliation: Reconciliation,
  handles: (queue: string) => boolean,
  kinds?: readonly ReconciliationKind[],
): Promise<{ enqueued: number; alreadyQueued: number; notCovered: number; message: string }> {
  let enqueued = 0;
  let alreadyQueued = 0;
  let notCovered = 0;
  for (const kind of reconciliation.kinds) {
    if (kinds && !kinds.includes(kind.kind)) continue;
    for (const difference of kind.differences) {
      if (!difference.resync || !handles(difference.resync.queue)) {
        notCovered += 1;
        continue;
      }
      const data = {
        ...difference.resync.data,
        connectionId: ctx.connection.id,
        key: String(difference.resync.data.key),
      };
      const id = await ctx.queue.enqueue(difference.resync.queue, data);
      if (id) enqueued += 1;
      else alreadyQueued += 1;
    }
  }
  return { enqueued, alreadyQueued, notCovered, message: resyncMessage(enqueued, alreadyQueued, notCovered) };
}

const plural = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;

export function resyncMessage(enqueued: number, alreadyQueued: number, notCovered: number): string {
  const cannot =
    notCovered > 0 ? `${plural(notCovered, 'difference', 'differences')} a re-sync cannot change (each says why)` : '';
  if (enqueued + alreadyQueued === 0) {
    return notCovered === 0
      ? 'Nothing to re-sync: both sides agree.'
      : `Nothing to re-sync: no job was queued, because a re-sync cannot change ${notCovered === 1 ? 'this difference' : `any of these ${notCovered} differences`} (each says why).`;
  }
  const parts = [
    enqueued > 0 ? `${plural(enqueued, 'job', 'jobs')} queued` : '',
    alreadyQueued > 0 ? `${alreadyQueued} already waiting` : '',
    cannot,
  ].filter((p) => p !== '');
  return `Re-sync: ${parts.join(', ')}. Watch Activity, then compare again.`;
}
