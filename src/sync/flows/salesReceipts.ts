// Every CRM payment (order form, subscription payment and renewal, membership checkout, calendar booking)
// becomes one QuickBooks SalesReceipt for the matched customer; a refund becomes a RefundReceipt (refunds.ts, a
// step of the same job). The unit is HighLevel's transaction (one charge): order webhooks and the poller
// (paymentPolling.ts) both lead here, and the link on the transaction id plus a requestid derived from it make
// every path converge on one receipt.
import { z } from 'zod';
import { orderIdOf, type Transaction, type Order } from '../../highlevel/payments.ts';
import { amountSchema } from '../../highlevel/money.ts';
import { isNotFound as isHighLevelNotFound } from '../../highlevel/errors.ts';
import { qboSalesReceiptForCrmPayment, type CrmPayment } from '../../domain/salesReceiptMapping.ts';
import type { CrmItem, CrmTax } from '../../domain/crmTotals.ts';
import { toMinorUnits, formatMinor } from '../../domain/money.ts';
import { quickbooksRequestId } from '../../domain/requestId.ts';
import { findLinkByCrmId, saveLink, type Link } from '../../store/links.ts';
import { recordActivity, saveLinkAndRecord, withWarnings } from '../../store/activity.ts';
import type { FlowContext } from '../engine/context.ts';
import { customerForContact } from './customers.ts';
import { ITEM_LINK, itemIdsForNames, shortenedItemNames } from '../services/items.ts';
import {
  mappedItems,
  mappingsFor,
  receiptPaymentMethod,
  salesFormTracking,
  type Mappings,
} from '../services/mappings.ts';
import { RetryLater, SyncError, describeError } from '../engine/errors.ts';
import { defineFlow, defineJob, enqueue, linkData, payload, POLLING_ACTIVITY } from '../engine/flow.ts';
import { QUEUES } from '../engine/queues.ts';
import { syncRefund } from './refunds.ts';
import {
  enqueueUnsynced,
  listedTransaction,
  pollPayments,
  transactionJob,
  unsyncedOf,
  type PollResult,
} from './paymentPolling.ts';
import { currencyProblem } from '../services/company.ts';
import { BEFORE_SYNC_START, beforeSyncStart, beforeSyncStartReason, staysSkipped } from '../services/syncStart.ts';
import {
  linkToHighLevelsReceipt,
  mustReadDetail,
  noteTransactionDetail,
  POSTED_BY_HIGHLEVEL,
} from '../services/builtInQuickBooks.ts';

export const SALES_RECEIPTS_FLOW = 'salesReceipts';

/** A sales receipt's link (kind 'salesReceipt', keyed by the transaction id). */
export const salesReceiptLinkData = z.looseObject({
  totalMinor: z.number().int().nullable().optional(),
  currency: z.string().optional(),
  customerId: z.string().nullable().optional(),
  /** What has been refunded so far, in minor units (refunds.ts moves it). */
  refundedMinor: z.number().int().optional(),
  docNumber: z.string().nullable().optional(),
  /** Set when HighLevel's own QuickBooks integration posted the receipt (builtInQuickBooks.ts). */
  postedBy: z.string().optional(),
  /** Why the payment is not synced (a 'skipped' link). */
  reason: z.string().optional(),
});

const orderTaxSchema = z.looseObject({ _id: z.string().optional(), name: z.string(), rate: amountSchema });
const orderItemSchema = z.looseObject({
  name: z.string().optional(),
  qty: amountSchema.optional(),
  taxes: z.array(orderTaxSchema).optional(),
  price: z
    .looseObject({ name: z.string().optional(), amount: amountSchema.optional(), currency: z.string().optional() })
    .optional(),
  product: z
    .looseObject({ _id: z.string().optional(), name: z.string().optional(), taxes: z.array(orderTaxSchema).optional() })
    .optional(),
});

/** Statuses of a charge that took money (HighLevel: succeeded; refunds keep the original sale). */
const CHARGED = new Set(['succeeded', 'success', 'paid', 'completed', 'refunded', 'partially_refunded']);

/**
 * `hint`: what the caller's list said of the transaction: the order it pays (read at the same time as the
 * transaction) and its contact (whose customer link is then read meanwhile too). Hints only save round trips: the
 * transaction as read decides, and a hint it contradicts is not used.
 */
export async function syncTransaction(
  ctx: FlowContext,
  transactionId: string,
  hint: { orderId?: string; contactId?: string; listed?: Transaction } = {},
): Promise<void> {
  const hintedOrder = hint.orderId ? readOrder(ctx, hint.orderId) : undefined;
  hintedOrder?.catch(() => {}); // awaited below only when the transaction is synced; its failure is reported there
  // The receipt's link is read while HighLevel answers (the caller holds the transaction's lease, so it cannot
  // change meanwhile): one store round trip less on the path of every payment.
  const linkRead = findLinkByCrmId(ctx.db, ctx.connection.id, 'salesReceipt', transactionId);
  linkRead.catch(() => {}); // awaited below; a failure is reported there
  const customerLinkRead = hint.contactId
    ? findLinkByCrmId(ctx.db, ctx.connection.id, 'customer', hint.contactId)
    : undefined;
  customerLinkRead?.catch(() => {}); // used only when the transaction names the same contact
  let txn: Transaction;
  // A transaction listed moments ago is not read again (listedTransaction in paymentPolling.ts says when), unless
  // its detail is needed to see whether HighLevel's own QuickBooks integration posted it (mustReadDetail).
  const listed = hint.listed?._id === transactionId && !mustReadDetail(ctx.connection.id) ? hint.listed : undefined;
  try {
    txn = listed ?? (await ctx.hl.payments.getTransaction(transactionId));
  } catch (error) {
    if (isHighLevelNotFound(error))
      throw new SyncError(
        'payment-not-found',
        `HighLevel transaction ${transactionId} does not exist`,
        'Nothing to do if it was removed on purpose',
        { transactionId },
      );
    throw error;
  }
  if (!listed) await noteTransactionDetail(ctx, txn);
  const link =
    txn._id === transactionId
      ? await linkRead
      : await findLinkByCrmId(ctx.db, ctx.connection.id, 'salesReceipt', txn._id);
  if (link?.state === 'skipped' && (await staysSkipped(ctx, link.data, txn.createdAt ?? txn.fulfilledAt))) return;
  const skip = await reasonToSkip(ctx, txn);
  if (skip) {
    await ctx.db.transaction(async (tx) => {
      await saveLink(tx, {
        connectionId: ctx.connection.id,
        kind: 'salesReceipt',
        crmId: txn._id,
        qboId: null,
        origin: 'crm',
        state: 'skipped',
        snapshotHash: null,
        qboSyncToken: null,
        qboUpdatedAt: null,
        crmUpdatedAt: txn.updatedAt ?? null,
        data: { reason: skip.reason, ...(skip.code ? { code: skip.code } : {}) },
      });
      await recordActivity(tx, {
        connectionId: ctx.connection.id,
        flow: SALES_RECEIPTS_FLOW,
        status: 'skipped',
        crmKind: 'transaction',
        crmId: txn._id,
        message: `Payment ${txn._id} not synced: ${skip.reason}`,
      });
    });
    return;
  }
  if (!isCharged(txn)) return; // pending or failed: nothing was paid (yet)
  const linked = linkData(salesReceiptLinkData, link?.data);
  if (linked?.postedBy === POSTED_BY_HIGHLEVEL) return; // HighLevel's own integration posted it, and owns its refunds
  if (txn.qboSynced && link?.state !== 'linked') {
    await linkToHighLevelsReceipt(ctx, txn, (txn.currency ?? (await ctx.company()).homeCurrency).toUpperCase());
    return;
  }
  const payment = await paymentOf(ctx, txn, hint.orderId === txn.entityId ? hintedOrder : undefined);
  let refundedMinor = link?.state === 'linked' ? (linked?.refundedMinor ?? 0) : undefined;
  const refunding = txn.amountRefunded !== undefined && txn.amountRefunded > 0;
  if (refundedMinor !== undefined && !refunding) return;
  // Read once for the job: the receipt and its refund are written with the mappings as they are now.
  const mappings = await mappingsFor(ctx);
  if (refundedMinor === undefined) {
    await createSalesReceipt(
      ctx,
      txn,
      payment,
      mappings,
      txn.contactId === hint.contactId ? customerLinkRead : undefined,
    );
    refundedMinor = 0;
  }
  if (refunding) await syncRefund(ctx, txn, payment, refundedMinor, SALES_RECEIPTS_FLOW, mappings);
}

async function reasonToSkip(
  ctx: FlowContext,
  txn: Transaction,
): Promise<{ reason: string; code?: string } | undefined> {
  const at = txn.createdAt ?? txn.fulfilledAt;
  const start = await beforeSyncStart(ctx, at);
  if (start && at) return { reason: beforeSyncStartReason(ctx, 'it was taken', at, start), code: BEFORE_SYNC_START };
  const standing = standingReasonToSkip(txn);
  return standing ? { reason: standing } : undefined;
}

/**
 * Why a charge never becomes a sales receipt, whatever its date (the history backfill's dry run leaves these out):
 * a payment of a CRM invoice (the invoice flow records it), or one made in test mode.
 */
export function standingReasonToSkip(txn: Transaction): string | undefined {
  if (sourceType(txn) === 'invoice' || txn.invoiceId)
    return 'it pays a CRM invoice; the invoice flow records it as a QuickBooks payment';
  if (txn.liveMode === false) return 'it was made in test mode';
  return undefined;
}

/** Whether a charge took money (a pending or failed one is synced once it has). */
export function isCharged(txn: Pick<Transaction, 'status'>): boolean {
  return CHARGED.has(String(txn.status ?? '').toLowerCase());
}

/** The payment as the mapping sees it: the order's lines when the charge pays an order, else one line. */
async function paymentOf(
  ctx: FlowContext,
  txn: Transaction,
  orderRead?: Promise<Order | undefined>,
): Promise<CrmPayment> {
  const currency = (txn.currency ?? (await ctx.company()).homeCurrency).toUpperCase();
  let order: Order | undefined;
  const orderId = orderIdOf(txn);
  if (orderId) order = await (orderRead ?? readOrder(ctx, orderId));
  const items: CrmItem[] = [];
  for (const raw of order?.items ?? []) {
    const item = orderItemSchema.safeParse(raw);
    if (!item.success) continue;
    const taxes: CrmTax[] = (item.data.taxes ?? item.data.product?.taxes ?? []).map((t) => ({
      _id: t._id ?? null,
      name: t.name,
      rate: t.rate,
    }));
    items.push({
      name: item.data.product?.name ?? item.data.name ?? item.data.price?.name ?? 'Sale',
      productId: item.data.product?._id ?? null,
      amount: item.data.price?.amount ?? 0,
      qty: item.data.qty ?? 1,
      taxes,
    });
  }
  if (items.length === 0)
    items.push({
      name: txn.entitySourceName ?? txn.entitySource?.name ?? sourceLabel(txn),
      amount: txn.amount,
      qty: 1,
    });
  const card = (txn.paymentMethod as { card?: { brand?: string } } | undefined)?.card;
  const discount = order?.amountSummary?.discount;
  return {
    id: txn._id,
    kind: 'transaction',
    currency,
    date: txn.fulfilledAt ?? txn.createdAt ?? new Date().toISOString(),
    items,
    discount: discount && discount > 0 ? { type: 'fixed', value: discount } : null,
    amount: txn.amount,
    paymentMode: card ? 'card' : null,
    cardBrand: card?.brand ?? null,
    chargeId: txn.chargeId ?? null,
  };
}

/** The order, or undefined when HighLevel no longer has it. */
async function readOrder(ctx: FlowContext, orderId: string): Promise<Order | undefined> {
  try {
    return await ctx.hl.payments.getOrder(orderId);
  } catch (error) {
    if (isHighLevelNotFound(error)) return undefined;
    throw error;
  }
}

/** Where the payment was taken (funnel, calendar, membership, invoice...): flat on lists, an object on details. */
function sourceType(txn: Transaction): string | undefined {
  return txn.entitySourceType ?? txn.entitySource?.type;
}

function sourceLabel(txn: Transaction): string {
  switch (sourceType(txn)) {
    case 'calendar':
      return 'Appointment booking';
    case 'membership':
      return 'Membership';
    case 'funnel':
    case 'website':
      return 'Order form sale';
    default:
      return txn.subscriptionId ? 'Subscription payment' : 'Sale';
  }
}

async function createSalesReceipt(
  ctx: FlowContext,
  txn: Transaction,
  payment: CrmPayment,
  mappings: Mappings,
  customerLinkRead?: Promise<Link | undefined>,
): Promise<void> {
  const company = await ctx.company();
  const currencyRefused = currencyProblem(company, payment.currency, `Payment ${txn._id}`, { transactionId: txn._id });
  if (currencyRefused) throw currencyRefused;
  if (!txn.contactId) {
    throw new SyncError(
      'payment-without-contact',
      `Payment ${txn._id} names no contact`,
      'Attach the payment to a contact in HighLevel, then press Retry',
      { transactionId: txn._id },
    );
  }
  const customer = await customerForContact(ctx, txn.contactId, payment.currency, customerLinkRead);
  const items = mappedItems(mappings, payment.items);
  const itemIds = items.namesByItem.length > 0 ? await itemIdsForNames(ctx, items.namesByItem) : {};
  const tracking = mappings.tracking('SalesReceipt');
  const method = await receiptPaymentMethod(mappings, payment, company.paymentMethodIds);
  const depositToAccountId = mappings.depositToAccountRef?.value ?? company.depositAccountId;
  const mapping = qboSalesReceiptForCrmPayment(payment, {
    region: company.region,
    itemIdsByName: itemIds,
    itemIdsByProductId: items.itemIdsByProductId,
    taxCodes: company.taxCodes,
    taxCodeMappings: ctx.connection.settings.taxCodeMapping,
    ...(company.noTaxCodeId ? { noTaxCodeId: company.noTaxCodeId } : {}),
    customerRef: { value: customer.customerId },
    paymentMethodIds: company.paymentMethodIds,
    ...(method ? { paymentMethodRef: method } : {}),
    ...(depositToAccountId ? { depositToAccountId } : {}),
    ...salesFormTracking(tracking),
  });
  if (!mapping.ok) {
    throw new SyncError(mapping.error.code, mapping.error.message, mapping.error.fix, {
      ...mapping.error.detail,
      transactionId: txn._id,
    });
  }
  const receipt = await ctx.qbo.create(
    'SalesReceipt',
    { ...structuredClone(mapping.salesReceipt) } as Record<string, unknown>,
    {
      requestId: quickbooksRequestId({
        connectionId: ctx.connection.id,
        flow: SALES_RECEIPTS_FLOW,
        sourceId: txn._id,
        sourceVersion: 'sale',
      }),
    },
  );
  const written = toMinorUnits(receipt.TotalAmt ?? 0, payment.currency, { rounding: 'halfUp' });
  const expected = mapping.expectedTotal;
  const matches = written.ok && written.value === expected.crmTotal;
  const link = {
    connectionId: ctx.connection.id,
    kind: 'salesReceipt' as const,
    crmId: txn._id,
    qboId: receipt.Id,
    origin: 'crm' as const,
    state: 'linked' as const,
    snapshotHash: null,
    qboSyncToken: receipt.SyncToken,
    qboUpdatedAt: null,
    crmUpdatedAt: txn.updatedAt ?? null,
    data: {
      totalMinor: written.ok ? written.value : null,
      currency: payment.currency,
      customerId: customer.customerId,
      refundedMinor: 0,
      docNumber: receipt.DocNumber ?? null,
    },
  };
  // A cut item name first: it is what the bookkeeper sees in QuickBooks' item list.
  const warnings = [...shortenedItemNames(items.namesByItem), ...mapping.warnings, ...tracking.notes];
  const created = {
    connectionId: ctx.connection.id,
    flow: SALES_RECEIPTS_FLOW,
    status: 'ok' as const,
    crmKind: 'transaction',
    crmId: txn._id,
    qboKind: 'SalesReceipt',
    qboId: receipt.Id,
    message: withWarnings(
      `Created sales receipt ${receipt.DocNumber ?? receipt.Id} for ${money(expected.crmTotal, payment.currency)} (customer "${customer.displayName}")`,
      warnings,
    ),
    detail: { warnings, source: sourceType(txn) ?? null, subscriptionId: txn.subscriptionId ?? null },
  };
  if (matches) {
    await saveLinkAndRecord(ctx.db, link, created, { resolvesErrors: true });
    return;
  }
  await ctx.db.transaction(async (tx) => {
    await saveLinkAndRecord(tx, link, created);
    await recordActivity(tx, {
      connectionId: ctx.connection.id,
      flow: SALES_RECEIPTS_FLOW,
      status: 'error',
      crmKind: 'transaction',
      crmId: txn._id,
      qboKind: 'SalesReceipt',
      qboId: receipt.Id,
      message: `QuickBooks totals sales receipt ${receipt.Id} at ${receipt.TotalAmt} ${payment.currency}, but the CRM payment is ${money(expected.crmTotal, payment.currency)}`,
      detail: { crmTotal: expected.crm, quickbooksTotal: receipt.TotalAmt ?? null },
    });
  });
}

function money(minor: number, currency: string): string {
  return `${formatMinor(minor, currency)} ${currency}`;
}

/** Transactions an order job syncs itself; an order with more (a long subscription) hands them to jobs. */
const INLINE_TRANSACTIONS = 3;

/**
 * An order changed (OrderCreate / OrderStatusUpdate webhook): its charges are looked up now rather than at the
 * next poll, and synced in this job under each transaction's record lease, so that a payment costs one job, not an
 * order job and then a transaction job (docs/performance.md, finding 22 says what the second job cost). A
 * transaction that fails here, or whose record is busy, goes to its own job, which reports and retries it as usual.
 */
export async function syncOrder(ctx: FlowContext, orderId: string): Promise<PollResult> {
  const transactions: Transaction[] = [];
  for await (const txn of ctx.hl.payments.transactions({ entityId: orderId }, 100)) transactions.push(txn);
  const unsynced = await unsyncedOf(ctx, transactions);
  if (unsynced.length > INLINE_TRANSACTIONS) return enqueueUnsynced(ctx, unsynced);
  let enqueued = 0;
  for (const txn of unsynced) {
    const data = transactionJob(ctx, txn);
    try {
      // Listed a moment ago by this very job: the transaction as HighLevel has it now.
      if (
        await ctx.queue.withLease(data.key, () =>
          syncTransaction(ctx, txn._id, {
            orderId,
            listed: txn,
            ...(txn.contactId ? { contactId: txn.contactId } : {}),
          }),
        )
      )
        continue;
    } catch (error) {
      const later = error instanceof RetryLater ? { startAfterSeconds: error.afterSeconds } : {};
      if (!(error instanceof RetryLater))
        ctx.log.info(
          { transactionId: txn._id, err: describeError(error) },
          'payment handed to its own job after an error',
        );
      if (await enqueue(ctx.queue, salesReceiptsFlow.jobs.crmTransaction, data, later)) enqueued += 1;
      continue;
    }
    // Busy: its own job runs once the record is free.
    if (await enqueue(ctx.queue, salesReceiptsFlow.jobs.crmTransaction, data, { startAfterSeconds: 1 })) enqueued += 1;
  }
  return { seen: transactions.length, enqueued };
}

/**
 * Payment jobs at once per unit of worker concurrency. A payment's job spends nearly all its time waiting for the
 * providers, so keeping HighLevel's calls a second busy takes several in flight, and more while new customers make
 * QuickBooks the binding limit for a while; the limiter, not the job count, keeps both providers within their limits
 * (docs/performance.md has the measurements). Waiting jobs cost little: the limiter keeps one waiter per key asking
 * the store (src/store/rateLimits.ts).
 */
const PAYMENT_JOBS_PER_UNIT = 8;

/**
 * Payment polls at once in a process. A poll is one or two HighLevel calls, so a process keeps up with well over a
 * thousand connections, and after a restart with many connections behind, all are polled within seconds instead of
 * the first ones' payments racing ahead of the last ones' polls (scenario 6's fairness, docs/performance.md).
 */
const POLL_JOBS = 8;

export const salesReceiptsFlow = defineFlow({
  name: SALES_RECEIPTS_FLOW,
  summary: 'CRM payments (orders, subscriptions, bookings) -> QuickBooks sales receipts',
  jobs: {
    /** One charge -> its sales receipt (and its refunds, refunds.ts). */
    crmTransaction: defineJob({
      queue: QUEUES.crmTransaction,
      payload: payload({
        transactionId: z.string(),
        /** Hints from the list that found it (syncTransaction says how they are used). */
        orderId: z.string().optional(),
        contactId: z.string().optional(),
        /** The transaction as listed, and when (listedTransaction says when a job may use it). */
        listed: z.unknown().optional(),
        listedAt: z.string().optional(),
      }),
      run: (ctx, data, job) => {
        const listed = listedTransaction(data, job.attempt);
        return syncTransaction(ctx, data.transactionId, {
          ...(data.orderId !== undefined ? { orderId: data.orderId } : {}),
          ...(data.contactId !== undefined ? { contactId: data.contactId } : {}),
          ...(listed ? { listed } : {}),
        });
      },
      concurrency: (settings) => settings.paymentConcurrency ?? settings.concurrency * PAYMENT_JOBS_PER_UNIT,
      crmRef: (data) => ({ crmKind: 'transaction', crmId: data.transactionId }),
      logIds: (data) => ({ transactionId: data.transactionId, orderId: data.orderId, contactId: data.contactId }),
    }),
    /** An order's charges, synced in the order's job (syncOrder). */
    crmOrder: defineJob({
      queue: QUEUES.crmOrder,
      payload: payload({ orderId: z.string() }),
      run: (ctx, data) => syncOrder(ctx, data.orderId),
      // The order job writes nothing itself: each transaction is synced under its own lease (queue.ts).
      recordLease: 'process',
      crmRef: (data) => ({ crmKind: 'order', crmId: data.orderId }),
      logIds: (data) => ({ orderId: data.orderId }),
    }),
    /** Every connection's recent transactions, once a minute (paymentPolling.ts). */
    pollPayments: defineJob({
      queue: QUEUES.pollPayments,
      payload: payload({}),
      run: (ctx) => pollPayments(ctx),
      concurrency: () => POLL_JOBS,
      periodic: true,
      activityFlow: POLLING_ACTIVITY,
    }),
  },
  linkKinds: [
    {
      kind: 'salesReceipt',
      quickbooks: { entity: 'SalesReceipt', noun: 'Sales receipt' },
      crm: { kinds: ['transaction', 'order'], noun: 'Payment' },
    },
    ITEM_LINK,
  ],
  linkData: { salesReceipt: salesReceiptLinkData },
  events: {
    highlevel: {
      order: ({ recordId }) => ({ job: 'crmOrder', key: `order:${recordId}`, data: { orderId: recordId } }),
    },
  },
  schedules: [{ job: 'pollPayments', key: (connectionId) => `${connectionId}:poll:payments` }],
  reconciles: [{ kind: 'salesReceipts', writes: 'quickbooks', job: 'crmTransaction' }],
});
