// QuickBooks payments -> CRM invoices. A client pays a CRM invoice by cheque or transfer and the bookkeeper records
// the payment in QuickBooks, against the invoice ledgerlink created there (or applies a credit to it: a payment of
// any amount whose lines take credit from a credit memo). The amount the payment applies to that invoice is recorded
// on the CRM invoice (record-payment: amount, date, mode), so HighLevel shows it partially paid or paid and stops its
// reminders.
//
// No echo, no double count:
// - Payments ledgerlink wrote itself (the invoice flow's, a `payment` link, or our note on them) are not read back.
// - What is recorded in the CRM joins the invoice link's paidMinor (invoices.ts `fromQuickBooks`) before the call,
//   so the CRM's amountPaid rising by it is never written to QuickBooks again; both jobs hold the invoice's record
//   lease, and a call whose answer was lost is settled by the transaction it added (settleQuickBooksPayments).
// - A payment that later applies less (edited, voided, deleted) cannot be taken back in the CRM (HighLevel has no
//   call to remove a recorded payment): it becomes one open error on the invoice for a person.
// Invoices imported from QuickBooks are history and are not followed (invoiceImport.ts); the activity says so.
// The review request flow hears of every payment from here (its job is enqueued for each), whichever side it came from.
import { z } from 'zod';
import { crmPaymentModeFor } from '../../domain/bookkeepingRefs.ts';
import { formatMinor, majorFromMinor, toMinorUnits } from '../../domain/money.ts';
import { HighLevelError } from '../../highlevel/errors.ts';
import type { Invoice as HighLevelInvoice } from '../../highlevel/invoices.ts';
import { unlessNotFound } from '../../quickbooks/errors.ts';
import { crmInvoiceOfNote } from '../../domain/invoiceMapping.ts';
import { type ActivityEntry, type ActivityStatus, recordActivity } from '../../store/activity.ts';
import { findLinkByCrmId, findLinkByQboId, linksByQboIds, saveLink } from '../../store/links.ts';
import type { FlowContext } from '../engine/context.ts';
import { RetryLater, SyncError } from '../engine/errors.ts';
import { defineFlow, defineJob, enqueue, linkData, payload } from '../engine/flow.ts';
import { QUEUES } from '../engine/queues.ts';
import { mappingsFor } from '../services/mappings.ts';
import {
  crmTransactionsOf,
  crmLabel,
  type LinkedInvoice,
  linkedInvoice,
  money,
  persist,
  type QboPayment,
  readInvoice,
  readPayment,
  settleQuickBooksPayments,
} from './invoices.ts';
import { reviewRequestsFlow } from './reviewRequests.ts';

export const QBO_PAYMENTS_FLOW = 'qboPayments';

/** The link of a bookkeeper's payment: which CRM invoices it was recorded on (for when it is deleted). */
const paymentLinkData = z.object({
  invoices: z.record(z.string(), z.object({ qboInvoiceId: z.string() })).default({}),
  /** QuickBooks invoices of this payment that were imported from QuickBooks, already reported as not followed. */
  importedReported: z.array(z.string()).default([]),
});
type PaymentLinkData = z.infer<typeof paymentLinkData>;

/** The `qboPayment` job: what this QuickBooks payment applies to CRM-made invoices, recorded on them in the CRM. */
export async function syncQboPayment(
  ctx: FlowContext,
  paymentId: string,
  operation: string | undefined,
  job: { lastAttempt: boolean; retry?: { queue: string; data: Record<string, unknown> } } = { lastAttempt: true },
): Promise<void> {
  // Review requests look at every payment, whether or not it is recorded in the CRM.
  await enqueue(ctx.queue, reviewRequestsFlow.jobs.qboInvoice, {
    connectionId: ctx.connection.id,
    key: `${ctx.connection.id}:qbo-payment-review:${paymentId}`,
    paymentId,
    ...(operation !== undefined ? { operation } : {}),
  });
  if (!ctx.connection.paymentsFromQuickBooks) return;
  if (await findLinkByQboId(ctx.db, ctx.connection.id, 'payment', paymentId)) return;
  // Deleted since the event: it applies nothing any more.
  const payment = await unlessNotFound(() => readPayment(ctx, paymentId));
  if (crmInvoiceOfNote(payment?.PrivateNote) !== undefined) return;

  const linkKey = `qbo-payment:${paymentId}`;
  const stored = await findLinkByCrmId(ctx.db, ctx.connection.id, 'qboPayment', linkKey);
  const known: PaymentLinkData = linkData(paymentLinkData, stored?.data) ?? paymentLinkData.parse({});
  const applied = applications(payment);

  // The CRM invoices to look at: those the payment applies to now, and those it was recorded on before.
  const invoiceLinks = await linksByQboIds(ctx.db, ctx.connection.id, 'invoice', [...applied.keys()], 'linked');
  const crmByQbo = new Map(invoiceLinks.map((link) => [link.qboId!, link.crmId]));
  const targets = new Map<string, string>();
  for (const [crmId, entry] of Object.entries(known.invoices)) targets.set(crmId, entry.qboInvoiceId);
  for (const [qboInvoiceId, crmId] of crmByQbo) targets.set(crmId, qboInvoiceId);

  const others = [...applied.keys()].filter((id) => !crmByQbo.has(id) && !known.importedReported.includes(id));
  const imported = await linksByQboIds(ctx.db, ctx.connection.id, 'importedInvoice', others, 'linked');
  for (const link of imported) {
    await recordActivity(
      ctx.db,
      paymentEntry(ctx, link.crmId, paymentId, 'skipped', {
        message: `QuickBooks payment ${paymentId} on invoice ${link.qboId} not recorded in the CRM: the invoice was imported from QuickBooks as history, and imported invoices are not synced in either direction`,
      }),
    );
    known.importedReported.push(link.qboId!);
  }
  // An invoice ledgerlink made whose link is not saved yet: its create and the bookkeeper's payment crossed (the
  // bookkeeper found it in QuickBooks the moment it appeared), or the job that made it stopped before linking it.
  // Its note names the CRM invoice; the payment waits for the link rather than being dropped.
  const importedIds = new Set(imported.map((link) => link.qboId));
  const awaiting = new Set<string>();
  for (const qboInvoiceId of others.filter((id) => !importedIds.has(id))) {
    const invoice = await unlessNotFound(() => ctx.qbo.read('Invoice', qboInvoiceId));
    const crmInvoiceId = crmInvoiceOfNote(invoice?.PrivateNote);
    if (!crmInvoiceId) continue;
    targets.set(crmInvoiceId, qboInvoiceId);
    awaiting.add(crmInvoiceId);
  }

  const unlinked: string[] = [];
  for (const [crmInvoiceId, qboInvoiceId] of targets) {
    const key = `${ctx.connection.id}:invoice:${crmInvoiceId}`;
    let linked = true;
    const done = await ctx.queue.withLease(key, async () => {
      linked = await recordOnCrmInvoice(ctx, payment, paymentId, crmInvoiceId, applied.get(qboInvoiceId) ?? []);
    });
    if (!done) throw new RetryLater(`CRM invoice ${crmInvoiceId} is being synced by another job`, 1);
    if (linked) known.invoices[crmInvoiceId] = { qboInvoiceId };
    else if (awaiting.has(crmInvoiceId)) unlinked.push(crmInvoiceId);
  }
  if (targets.size > 0 || imported.length > 0) {
    await saveLink(ctx.db, {
      connectionId: ctx.connection.id,
      kind: 'qboPayment',
      crmId: linkKey,
      qboId: paymentId,
      origin: 'qbo',
      state: 'linked',
      snapshotHash: null,
      qboSyncToken: payment?.SyncToken ?? stored?.qboSyncToken ?? null,
      qboUpdatedAt: null,
      crmUpdatedAt: null,
      data: known,
    });
  }
  if (unlinked.length === 0) return;
  const waiting = `QuickBooks payment ${paymentId} applies to an invoice ledgerlink made from CRM invoice ${unlinked.join(', ')}, which is not linked yet`;
  // Retried like any failure while the invoice flow links it; on the last try, an error a person can retry.
  if (!job.lastAttempt) throw new Error(waiting);
  for (const crmInvoiceId of unlinked)
    await recordActivity(
      ctx.db,
      paymentEntry(ctx, crmInvoiceId, paymentId, 'error', {
        message: `${waiting}: it is not recorded in the CRM`,
        detail: {
          code: 'invoice-not-linked',
          paymentId,
          fix: "See the invoice's own errors in the activity (it reaches QuickBooks first), then press Retry",
        },
        cause: `invoice-not-linked:${paymentId}`,
        ...(job.retry ? { retry: job.retry } : {}),
      }),
    );
}

/**
 * QuickBooks invoice id -> the amounts of the payment's lines applied to it, as QuickBooks numbers: they are added
 * in minor units of the invoice's currency where that is known (recordOnCrmInvoice), never as floats.
 */
function applications(payment: QboPayment | undefined): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const line of payment?.Line ?? [])
    for (const link of line.LinkedTxn ?? [])
      if (link.TxnType === 'Invoice') out.set(link.TxnId, [...(out.get(link.TxnId) ?? []), line.Amount ?? 0]);
  return out;
}

/**
 * Under the CRM invoice's record lease: brings what the CRM holds of this payment to what it applies now. More than
 * recorded: the difference is recorded (no more than the CRM invoice still has due). Less: reported, once.
 */
async function recordOnCrmInvoice(
  ctx: FlowContext,
  payment: QboPayment | undefined,
  paymentId: string,
  crmInvoiceId: string,
  appliedLines: readonly number[],
): Promise<boolean> {
  const link = await findLinkByCrmId(ctx.db, ctx.connection.id, 'invoice', crmInvoiceId);
  if (link?.state !== 'linked' || !link.qboId) return false;
  const invoice = await readInvoice(ctx, crmInvoiceId);
  if (!invoice) return true;
  let linked = await settleQuickBooksPayments(ctx, invoice, linkedInvoice(link));
  const currency = linked.data.currency || invoice.currency.toUpperCase();
  let target = 0;
  for (const amount of appliedLines) {
    const minor = toMinorUnits(amount, currency, { rounding: 'halfUp' });
    if (!minor.ok)
      throw new SyncError(
        'payment-amount',
        `QuickBooks payment ${paymentId} applies ${amount}, which is not an amount in ${currency}`,
        'Correct the payment in QuickBooks, then press Retry',
        { paymentId, invoiceId: crmInvoiceId },
      );
    target += minor.value;
  }
  const entry = linked.data.fromQuickBooks[paymentId] ?? {
    recordedMinor: 0,
    pendingMinor: 0,
    transactionsBefore: [],
    removedMinor: null,
  };
  const label = crmLabel(invoice);
  const docNumber = linked.data.docNumber ?? linked.qboId;

  if (target < entry.recordedMinor) {
    if (entry.removedMinor === target) return true;
    const what = !payment
      ? 'was deleted'
      : (payment.TotalAmt ?? 0) === 0 && target === 0
        ? 'was voided'
        : 'was changed';
    await ctx.db.transaction(async (tx) => {
      await persist(tx, ctx, withEntry(linked, paymentId, { ...entry, removedMinor: target }), linked.crmUpdatedAt);
      await recordActivity(
        tx,
        paymentEntry(ctx, crmInvoiceId, paymentId, 'error', {
          message: `QuickBooks payment ${paymentId} ${what} in QuickBooks: it now applies ${money(target, currency)} to invoice ${docNumber}, but ${money(entry.recordedMinor, currency)} of it is recorded on CRM invoice ${label}, which HighLevel cannot take back`,
          detail: {
            code: 'quickbooks-payment-removed',
            paymentId,
            recordedMinor: entry.recordedMinor,
            appliedMinor: target,
            fix: 'Record the correction in HighLevel by hand (refund or adjust the invoice there), or record the payment again in QuickBooks; then resolve this error',
          },
          cause: `quickbooks-payment-removed:${paymentId}`,
        }),
      );
    });
    return true;
  }
  if (target === entry.recordedMinor) return true;

  const wanted = target - entry.recordedMinor;
  const due = toMinorUnits(invoice.amountDue ?? 0, currency, { rounding: 'halfUp' });
  const dueMinor = due.ok ? Math.max(0, due.value) : 0;
  if (invoice.status === 'void' || dueMinor === 0) {
    await recordActivity(
      ctx.db,
      paymentEntry(ctx, crmInvoiceId, paymentId, 'error', {
        message: `QuickBooks payment ${paymentId} of ${money(wanted, currency)} on invoice ${docNumber} cannot be recorded on CRM invoice ${label}: it is ${invoice.status === 'void' ? 'void' : 'already paid'} in the CRM`,
        detail: {
          code: 'crm-invoice-not-payable',
          paymentId,
          status: invoice.status,
          fix: 'Check whether the client paid twice; refund or re-apply the payment in QuickBooks, then resolve this error',
        },
        cause: `crm-invoice-not-payable:${paymentId}`,
      }),
    );
    return true;
  }
  const amount = Math.min(wanted, dueMinor);
  // What the invoice's transactions are before the call: a lost answer is settled by the one it adds.
  const transactionsBefore = (await crmTransactionsOf(ctx, crmInvoiceId, currency)).map((t) => t.id);
  // In flight: the amount counts as mirrored (paidMinor) before HighLevel hears of it, so the invoice webhook its
  // record-payment sends finds nothing to write to QuickBooks.
  linked = withEntry({ ...linked, data: { ...linked.data, paidMinor: linked.data.paidMinor + amount } }, paymentId, {
    ...entry,
    pendingMinor: amount,
    transactionsBefore,
    removedMinor: null,
  });
  await persist(ctx.db, ctx, linked, linked.crmUpdatedAt);

  const mappings = await mappingsFor(ctx);
  const method = payment?.PaymentMethodRef
    ? (await ctx.qbo.listPaymentMethods()).find((m) => m.Id === payment.PaymentMethodRef!.value)
    : undefined;
  const mode = crmPaymentModeFor(method, mappings.choices);
  const reference = payment?.PaymentRefNum ? ` ref. ${payment.PaymentRefNum}` : '';
  let recorded: HighLevelInvoice;
  try {
    recorded = await ctx.hl.invoices.recordPayment(crmInvoiceId, {
      mode: mode.mode,
      amount: majorFromMinor(amount, currency),
      notes: `QuickBooks payment ${paymentId}${reference}${mode.brand ? ` (${mode.brand})` : ''}`,
      ...(mode.mode === 'cheque' && payment?.PaymentRefNum ? { cheque: { number: payment.PaymentRefNum } } : {}),
      // Noon UTC keeps QuickBooks' calendar date in every time zone HighLevel may show it in.
      ...(payment?.TxnDate ? { fulfilledAt: `${payment.TxnDate.slice(0, 10)}T12:00:00.000Z` } : {}),
    });
  } catch (error) {
    if (error instanceof HighLevelError && error.status >= 400 && error.status < 500 && error.status !== 429) {
      // Refused: nothing was recorded, so the amount leaves paidMinor again.
      await persist(
        ctx.db,
        ctx,
        withEntry({ ...linked, data: { ...linked.data, paidMinor: linked.data.paidMinor - amount } }, paymentId, {
          ...entry,
        }),
        linked.crmUpdatedAt,
      );
      throw new SyncError(
        'crm-payment-refused',
        `HighLevel refused to record QuickBooks payment ${paymentId} (${money(amount, currency)}) on CRM invoice ${label}: ${error.message}`,
        'Check the CRM invoice (its status and amount due), then press Retry',
        { paymentId, invoiceId: crmInvoiceId },
      );
    }
    throw error;
  }
  const done = withEntry(linked, paymentId, {
    ...entry,
    recordedMinor: entry.recordedMinor + amount,
    pendingMinor: 0,
    transactionsBefore: [],
    removedMinor: null,
  });
  const paidNow = toMinorUnits(recorded.amountPaid ?? 0, currency, { rounding: 'halfUp' });
  await ctx.db.transaction(async (tx) => {
    await persist(tx, ctx, done, linked.crmUpdatedAt);
    await recordActivity(
      tx,
      paymentEntry(ctx, crmInvoiceId, paymentId, 'ok', {
        message: `Recorded QuickBooks payment ${paymentId} (${money(amount, currency)}, ${mode.mode.replace('_', ' ')}${payment?.TxnDate ? `, ${payment.TxnDate.slice(0, 10)}` : ''}) on CRM invoice ${label}: ${recorded.status.replace('_', ' ')}${paidNow.ok ? `, ${formatMinor(paidNow.value, currency)} ${currency} paid in all` : ''}`,
        detail: { paymentId, amountMinor: amount, mode: mode.mode, status: recorded.status },
      }),
    );
    if (amount < wanted) {
      await recordActivity(
        tx,
        paymentEntry(ctx, crmInvoiceId, paymentId, 'error', {
          message: `QuickBooks payment ${paymentId} applies ${money(wanted, currency)} to invoice ${docNumber}, but CRM invoice ${label} had only ${money(dueMinor, currency)} due; ${money(wanted - amount, currency)} was not recorded in the CRM`,
          detail: {
            code: 'crm-invoice-overpaid',
            paymentId,
            fix: "Compare the two invoices' totals; correct the one that is wrong, or refund the difference in QuickBooks",
          },
          cause: `crm-invoice-overpaid:${paymentId}`,
        }),
      );
    }
  });
  return true;
}

/** An activity entry of this flow: one QuickBooks payment on one CRM invoice. */
function paymentEntry(
  ctx: FlowContext,
  crmInvoiceId: string,
  paymentId: string,
  status: ActivityStatus,
  entry: Pick<ActivityEntry, 'message' | 'detail' | 'cause' | 'retry'>,
): ActivityEntry {
  return {
    connectionId: ctx.connection.id,
    flow: QBO_PAYMENTS_FLOW,
    status,
    crmKind: 'invoice',
    crmId: crmInvoiceId,
    qboKind: 'Payment',
    qboId: paymentId,
    ...entry,
  };
}

function withEntry(
  linked: LinkedInvoice,
  paymentId: string,
  entry: LinkedInvoice['data']['fromQuickBooks'][string],
): LinkedInvoice {
  return { ...linked, data: { ...linked.data, fromQuickBooks: { ...linked.data.fromQuickBooks, [paymentId]: entry } } };
}

// ---------------------------------------------------------------------------------------------------------
// The flow's declaration (src/sync/engine/flow.ts).

export const qboPaymentsFlow = defineFlow({
  name: QBO_PAYMENTS_FLOW,
  summary: 'QuickBooks payments on invoices made from CRM invoices -> payments recorded on the CRM invoices',
  jobs: {
    qboPayment: defineJob({
      queue: QUEUES.qboPayment,
      payload: payload({ paymentId: z.string(), operation: z.string().optional() }),
      run: (ctx, data, job) =>
        syncQboPayment(ctx, data.paymentId, data.operation, {
          lastAttempt: job.lastAttempt,
          retry: { queue: QUEUES.qboPayment, data },
        }),
      logIds: (data) => ({ paymentId: data.paymentId }),
    }),
  },
  linkKinds: [{ kind: 'qboPayment', quickbooks: { entity: 'Payment', noun: 'Payment' } }],
  linkData: { qboPayment: paymentLinkData },
  events: {
    quickbooks: {
      Payment: ({ entityId, operation }) => ({
        job: 'qboPayment',
        key: `qbo-payment:${entityId}`,
        data: { paymentId: entityId, operation },
      }),
    },
  },
});
