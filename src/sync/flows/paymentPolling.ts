// The sales-receipt flow's poll (its schedule, declared in salesReceipts.ts). HighLevel sends no webhook for
// transactions, subscriptions or refunds, so each connection's transactions are polled in overlapping windows
// (once a minute by default). The cursor survives restarts; the overlap is harmless because every transaction
// converges on one link. Order webhooks trigger the same work early (syncOrder).
import { toMinorUnits } from '../../domain/money.ts';
import { readCursor, writeCursor } from '../../store/cursors.ts';
import { linksByCrmIds } from '../../store/links.ts';
import type { FlowContext } from '../engine/context.ts';
import type { JobData } from '../engine/queue.ts';
import { QUEUES } from '../engine/queues.ts';
import { POSTED_BY_HIGHLEVEL } from '../services/builtInQuickBooks.ts';
import { orderIdOf, transactionSchema, type Transaction } from '../../highlevel/payments.ts';

const CURSOR = 'payments';
/** HighLevel filters by calendar day (startAt/endAt as YYYY-MM-DD): a day of overlap covers time zones and late writes. */
const OVERLAP_MS = 24 * 60 * 60_000;

interface PaymentsCursor {
  /** When the last completed poll started. */
  since: string;
}

export interface PollResult {
  seen: number;
  enqueued: number;
}

export async function pollPayments(ctx: FlowContext, now = new Date()): Promise<PollResult> {
  const cursor = await readCursor<PaymentsCursor>(ctx.db, ctx.connection.id, CURSOR);
  const since = new Date(cursor?.since ?? ctx.connection.connectedAt?.toISOString() ?? now.toISOString());
  const startAt = new Date(since.getTime() - OVERLAP_MS).toISOString().slice(0, 10);
  const endAt = new Date(now.getTime() + OVERLAP_MS).toISOString().slice(0, 10);
  const result = await enqueueUnsynced(ctx, ctx.hl.payments.transactions({ startAt, endAt }, 100));
  await writeCursor(ctx.db, ctx.connection.id, CURSOR, { since: now.toISOString() } satisfies PaymentsCursor);
  return result;
}

/**
 * The job of one transaction, carrying the transaction as HighLevel's list gave it (`listed`, with the time it was
 * listed): a job that runs soon after uses it instead of reading the transaction again (listedTransaction). The
 * order it pays and its contact let the job read the order and the contact's customer link at once.
 */
export function transactionJob(ctx: FlowContext, txn: Transaction): TransactionJob {
  const orderId = orderIdOf(txn);
  return {
    connectionId: ctx.connection.id,
    key: `${ctx.connection.id}:txn:${txn._id}`,
    transactionId: txn._id,
    ...(orderId ? { orderId } : {}),
    ...(txn.contactId ? { contactId: txn.contactId } : {}),
    listed: txn,
    listedAt: new Date().toISOString(),
  };
}

/** The payload of a sales-receipt transaction job (salesReceipts.ts checks it against the job's schema). */
export interface TransactionJob extends JobData {
  transactionId: string;
  orderId?: string;
  contactId?: string;
  listed: Transaction;
  listedAt: string;
}

/** How old a listed transaction may be for a job to use it instead of reading the transaction again. */
const LISTED_FRESH_MS = 15 * 60_000;
/** ... and how recent the payment: later polls list it again for about a day (OVERLAP_MS), and catch what changed. */
const LISTED_RECENT_PAYMENT_MS = 12 * 60 * 60_000;

/**
 * The transaction a poll or an order job listed, when a job may trust it: on the job's first attempt, listed in the
 * last 15 minutes, for a payment of the last 12 hours. HighLevel's list items carry every field the sync reads
 * (reference §4.2: the detail adds contactSnapshot, entitySource, invoiceId, qboSynced..., of which the sync uses
 * only what the flat entitySource* fields also say), so this saves one HighLevel call a receipt: half of what a
 * payment costs HighLevel, whose limit binds a backlog (docs/performance.md, finding 22). A copy can be stale: a
 * refund or a pending charge completing after it was listed. The polls that follow list the payment again for a
 * day and enqueue it whenever its receipt or refund is missing, so a stale copy delays that change to the next
 * poll; past those bounds, and on any retry (a person's Retry may come days later), the job reads the transaction.
 */
export function listedTransaction(
  data: { transactionId: string; listed?: unknown; listedAt?: string | undefined },
  attempt: number,
  now = Date.now(),
): Transaction | undefined {
  if (attempt !== 1 || data.listedAt === undefined) return undefined;
  if (now - Date.parse(data.listedAt) > LISTED_FRESH_MS) return undefined;
  const listed = transactionSchema.safeParse(data.listed);
  if (!listed.success || listed.data._id !== data.transactionId) return undefined;
  const at = Date.parse(listed.data.createdAt ?? listed.data.fulfilledAt ?? '');
  return Number.isFinite(at) && now - at <= LISTED_RECENT_PAYMENT_MS ? listed.data : undefined;
}

/** The transactions not yet synced (no receipt, or a refund not yet recorded); skipped ones stay skipped. */
export async function unsyncedOf(ctx: FlowContext, page: readonly Transaction[]): Promise<Transaction[]> {
  if (page.length === 0) return [];
  const known = await linksByCrmIds(
    ctx.db,
    ctx.connection.id,
    'salesReceipt',
    page.map((t) => t._id),
  );
  const byId = new Map(known.map((link) => [link.crmId, link]));
  return page.filter((txn) => {
    const link = byId.get(txn._id);
    if (link?.state === 'skipped' || link?.data.postedBy === POSTED_BY_HIGHLEVEL) return false;
    return !(link?.state === 'linked' && !refundPending(txn, Number(link.data.refundedMinor ?? 0)));
  });
}

/** One job per unsynced transaction, numbered for fairness (JobQueue.backlog). */
export async function enqueueUnsynced(
  ctx: FlowContext,
  transactions: AsyncIterable<Transaction> | Iterable<Transaction>,
): Promise<PollResult> {
  let seen = 0;
  let enqueued = 0;
  const backlog = ctx.queue.backlog(QUEUES.crmTransaction, ctx.connection.id);
  let page: Transaction[] = [];
  const flush = async () => {
    const jobs = [];
    for (const txn of await unsyncedOf(ctx, page))
      jobs.push({ data: transactionJob(ctx, txn), priority: await backlog.next() });
    enqueued += await ctx.queue.enqueueMany(QUEUES.crmTransaction, jobs);
    page = [];
  };
  for await (const txn of transactions) {
    seen += 1;
    page.push(txn);
    if (page.length >= 100) await flush();
  }
  await flush();
  return { seen, enqueued };
}

function refundPending(
  txn: { amountRefunded?: number | undefined; currency?: string | undefined },
  syncedMinor: number,
): boolean {
  if (!txn.amountRefunded || !txn.currency) return false;
  const refunded = toMinorUnits(txn.amountRefunded, txn.currency, { rounding: 'halfUp' });
  return refunded.ok && refunded.value > syncedMinor;
}
