// HighLevel sends no webhook for transactions, subscriptions or refunds, so each connection's transactions are
// polled in overlapping windows (once a minute by default). The cursor survives restarts; the overlap is
// harmless because every transaction converges on one link. Order webhooks trigger the same work early.
import { toMinorUnits } from '../domain/money.ts';
import { readCursor, writeCursor } from '../store/cursors.ts';
import type { FlowContext } from './context.ts';
import { QUEUES } from './routes.ts';

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

/** An order changed (OrderCreate / OrderStatusUpdate webhook): its charges are looked up now rather than at the next poll. */
export async function syncOrder(ctx: FlowContext, orderId: string): Promise<PollResult> {
  return enqueueUnsynced(ctx, ctx.hl.payments.transactions({ entityId: orderId }, 100));
}

async function enqueueUnsynced(
  ctx: FlowContext,
  transactions: AsyncIterable<{ _id: string; amountRefunded?: number | undefined; currency?: string | undefined; status?: string | undefined }>,
): Promise<PollResult> {
  let seen = 0;
  let enqueued = 0;
  const backlog = ctx.queue.backlog(QUEUES.crmTransaction, ctx.connection.id);
  let page: Array<{ _id: string; amountRefunded?: number | undefined; currency?: string | undefined }> = [];
  const flush = async () => {
    if (page.length === 0) return;
    const known = await ctx.db.query<{ crm_id: string; state: string; refunded: string | null }>(
      `SELECT crm_id, state, data->>'refundedMinor' AS refunded FROM links WHERE connection_id = $1 AND kind = 'salesReceipt' AND crm_id = ANY($2::text[])`,
      [ctx.connection.id, page.map((t) => t._id)],
    );
    const byId = new Map(known.rows.map((r) => [r.crm_id, r]));
    for (const txn of page) {
      const link = byId.get(txn._id);
      if (link?.state === 'skipped') continue;
      if (link?.state === 'linked' && !refundPending(txn, Number(link.refunded ?? 0))) continue;
      const id = await ctx.queue.enqueue(
        QUEUES.crmTransaction,
        { connectionId: ctx.connection.id, key: `${ctx.connection.id}:txn:${txn._id}`, transactionId: txn._id },
        { priority: await backlog.next() },
      );
      if (id) enqueued += 1;
    }
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

function refundPending(txn: { amountRefunded?: number | undefined; currency?: string | undefined }, syncedMinor: number): boolean {
  if (!txn.amountRefunded || !txn.currency) return false;
  const refunded = toMinorUnits(txn.amountRefunded, txn.currency, { rounding: 'halfUp' });
  return refunded.ok && refunded.value > syncedMinor;
}
