// HighLevel's own QuickBooks integration (HighLevel: Settings > Integrations > QuickBooks) posts every order payment
// (order forms, subscription payments, memberships, calendar payments) as a QuickBooks sales receipt, and marks the
// transaction: `qboSynced: true`, and QuickBooks' answer in `qboResponse` (spec example: `{domain: "QBO", sparse:
// false, Id: "180", SyncToken: "0", TotalAmt: 25}`). Both are on the transaction's detail only; list items carry
// neither. An agency moving to ledgerlink may leave that integration on: a payment it posted is then linked to its
// sales receipt (found by qboResponse.Id, else by date and amount) or skipped with an activity entry, never posted
// a second time, and the connection card warns while the integration is seen at work.
import type { Transaction } from '../../highlevel/payments.ts';
import type { SalesReceipt } from '../../quickbooks/entities.ts';
import { unlessNotFound } from '../../quickbooks/errors.ts';
import { select } from '../../quickbooks/query.ts';
import { toMinorUnits } from '../../domain/money.ts';
import { recordActivity, saveLinkAndRecord } from '../../store/activity.ts';
import { readCursor, writeCursor } from '../../store/cursors.ts';
import type { Queryable } from '../../store/db.ts';
import { findLinkByQboId, saveLink } from '../../store/links.ts';
import type { FlowContext } from '../engine/context.ts';

export const BUILT_IN_QUICKBOOKS_CURSOR = 'hl-builtin-quickbooks';
/** The card warns while a payment of the last 30 days was posted by HighLevel's integration. */
export const BUILT_IN_ACTIVE_MS = 30 * 86_400_000;
/**
 * A copy of a transaction from a list says nothing of qboSynced: at most every 5 minutes the sync reads one
 * transaction's detail anyway (the check), and while the integration is seen at work it reads every one before posting.
 */
const CHECK_EVERY_MS = 5 * 60_000;
/** The link's `postedBy` for a receipt HighLevel's integration made: ledgerlink leaves that payment (and its refunds) to it. */
export const POSTED_BY_HIGHLEVEL = 'highlevel';

interface BuiltInSeen {
  /** When the newest payment HighLevel's integration posted was taken. */
  paymentAt: string;
  transactionId: string;
  qboId: string | null;
}

const checks = new Map<string, { checkedAt: number; activeUntil: number }>();

/** Whether this payment's detail must be read (for qboSynced) rather than a listed copy trusted. */
export function mustReadDetail(connectionId: string, now = Date.now()): boolean {
  const check = checks.get(connectionId);
  if (check && now < check.activeUntil) return true;
  if (check && now - check.checkedAt <= CHECK_EVERY_MS) return false;
  // This job samples the detail for its connection; the jobs running beside it keep their listed copies, so a
  // backlog's first jobs do not each spend a HighLevel call on the same question.
  checks.set(connectionId, { checkedAt: now, activeUntil: check?.activeUntil ?? 0 });
  return true;
}

/** Notes what a transaction's detail says of HighLevel's integration (the card reads it from the cursor). */
export async function noteTransactionDetail(ctx: FlowContext, txn: Transaction, now = Date.now()): Promise<void> {
  const check = checks.get(ctx.connection.id) ?? { checkedAt: 0, activeUntil: 0 };
  check.checkedAt = now;
  if (txn.qboSynced) {
    check.activeUntil = now + BUILT_IN_ACTIVE_MS;
    const paymentAt = txn.fulfilledAt ?? txn.createdAt ?? new Date(now).toISOString();
    const seen = await readCursor<BuiltInSeen>(ctx.db, ctx.connection.id, BUILT_IN_QUICKBOOKS_CURSOR);
    if (!seen || Date.parse(seen.paymentAt) < Date.parse(paymentAt)) {
      await writeCursor(ctx.db, ctx.connection.id, BUILT_IN_QUICKBOOKS_CURSOR, {
        paymentAt,
        transactionId: txn._id,
        qboId: qboIdOf(txn) ?? null,
      } satisfies BuiltInSeen);
    }
  }
  checks.set(ctx.connection.id, check);
}

/** What the connection card says of HighLevel's own QuickBooks integration. */
export async function builtInQuickBooksState(
  db: Queryable,
  connectionId: string,
  now = Date.now(),
): Promise<{ active: boolean; lastPaymentAt: string | null; warning: string | null }> {
  const seen = await readCursor<BuiltInSeen>(db, connectionId, BUILT_IN_QUICKBOOKS_CURSOR);
  if (!seen) return { active: false, lastPaymentAt: null, warning: null };
  const active = now - Date.parse(seen.paymentAt) < BUILT_IN_ACTIVE_MS;
  return {
    active,
    lastPaymentAt: seen.paymentAt,
    warning: active
      ? `HighLevel's own QuickBooks integration is on for this location: it posted payment ${seen.transactionId} (${seen.paymentAt.slice(0, 10)}). ` +
        'ledgerlink links the payments it posted instead of posting them again, but a payment both see at the same moment can still be posted twice. ' +
        'Turn it off in HighLevel (Settings > Integrations > QuickBooks) so that ledgerlink alone posts to QuickBooks.'
      : null,
  };
}

/** The QuickBooks id in qboResponse: the entity itself (as in the spec's example) or wrapped in its name. */
export function qboIdOf(txn: Pick<Transaction, 'qboResponse'>): string | undefined {
  const response = txn.qboResponse;
  if (!response) return undefined;
  const candidates = [response, response.SalesReceipt, response.salesReceipt];
  for (const c of candidates) {
    const id = typeof c === 'object' && c !== null ? (c as { Id?: unknown }).Id : undefined;
    if (typeof id === 'string' && id) return id;
    if (typeof id === 'number') return String(id);
  }
  return undefined;
}

/**
 * A payment HighLevel's integration posted already: linked to that sales receipt when it is found in QuickBooks (by
 * qboResponse's Id, else as the one unlinked receipt of the same amount within a day of the payment), else skipped.
 * Either way an activity entry says so, and nothing is posted.
 */
export async function linkToHighLevelsReceipt(ctx: FlowContext, txn: Transaction, currency: string): Promise<void> {
  const amount = toMinorUnits(txn.amount, currency, { rounding: 'halfUp' });
  const qboId = qboIdOf(txn);
  let receipt: SalesReceipt | undefined;
  let foundBy: 'qboResponse' | 'date and amount' | undefined;
  if (qboId) {
    receipt = await unlessNotFound(() => ctx.qbo.read('SalesReceipt', qboId));
    if (receipt) foundBy = 'qboResponse';
  }
  if (!receipt && amount.ok) {
    receipt = await receiptOfSameAmount(ctx, txn, currency, amount.value);
    if (receipt) foundBy = 'date and amount';
  }
  const base = { connectionId: ctx.connection.id, flow: 'salesReceipts', crmKind: 'transaction', crmId: txn._id };
  if (receipt) {
    const total = toMinorUnits(receipt.TotalAmt ?? 0, currency, { rounding: 'halfUp' });
    await saveLinkAndRecord(
      ctx.db,
      {
        connectionId: ctx.connection.id,
        kind: 'salesReceipt',
        crmId: txn._id,
        qboId: receipt.Id,
        origin: 'crm',
        state: 'linked',
        snapshotHash: null,
        qboSyncToken: receipt.SyncToken ?? null,
        qboUpdatedAt: null,
        crmUpdatedAt: txn.updatedAt ?? null,
        data: {
          totalMinor: total.ok ? total.value : null,
          currency,
          customerId: receipt.CustomerRef?.value ?? null,
          refundedMinor: 0,
          postedBy: POSTED_BY_HIGHLEVEL,
        },
      },
      {
        ...base,
        status: 'ok',
        qboKind: 'SalesReceipt',
        qboId: receipt.Id,
        message: `Payment ${txn._id} was posted to QuickBooks by HighLevel's own QuickBooks integration: linked to its sales receipt ${receipt.DocNumber ?? receipt.Id}, not posted again`,
        detail: { postedBy: POSTED_BY_HIGHLEVEL, foundBy, qboResponseId: qboId ?? null },
      },
      { resolvesErrors: true },
    );
    return;
  }
  await ctx.db.transaction(async (tx) => {
    const reason = `HighLevel's own QuickBooks integration posted it already${qboId ? ` (QuickBooks id ${qboId})` : ''}, and that record was not found in QuickBooks to link to`;
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
      data: { reason, postedBy: POSTED_BY_HIGHLEVEL },
    });
    await recordActivity(tx, {
      ...base,
      status: 'skipped',
      message: `Payment ${txn._id} not synced: ${reason}. Check QuickBooks for its sales receipt; ledgerlink does not post it a second time`,
      detail: { postedBy: POSTED_BY_HIGHLEVEL, qboResponseId: qboId ?? null },
    });
  });
}

/** The one sales receipt of the payment's amount dated within a day of it that no other payment is linked to. */
async function receiptOfSameAmount(
  ctx: FlowContext,
  txn: Transaction,
  currency: string,
  amountMinor: number,
): Promise<SalesReceipt | undefined> {
  const at = Date.parse(txn.fulfilledAt ?? txn.createdAt ?? '');
  if (!Number.isFinite(at)) return undefined;
  const day = (offset: number) => new Date(at + offset * 86_400_000).toISOString().slice(0, 10);
  const page = await ctx.qbo.query(
    select('SalesReceipt').where('TxnDate', '>=', day(-1)).where('TxnDate', '<=', day(1)).maxResults(1000),
  );
  const candidates: SalesReceipt[] = [];
  for (const receipt of page) {
    const total = toMinorUnits(receipt.TotalAmt ?? 0, currency, { rounding: 'halfUp' });
    if (!total.ok || total.value !== amountMinor) continue;
    if (receipt.CurrencyRef?.value && receipt.CurrencyRef.value.toUpperCase() !== currency) continue;
    if (await findLinkByQboId(ctx.db, ctx.connection.id, 'salesReceipt', receipt.Id)) continue;
    candidates.push(receipt);
  }
  return candidates.length === 1 ? candidates[0] : undefined;
}
