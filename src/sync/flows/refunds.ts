// CRM refunds -> QuickBooks RefundReceipts. HighLevel sends no refund webhook and a refund is not a record of its
// own: it shows as the refunded amount on the charge's transaction. So refunds are a step of the sales-receipt
// job (syncTransaction calls syncRefund once the charge has its receipt), not a queue of their own: the step runs
// under the transaction's record lease, after the receipt exists, and both the order webhook and the poller reach
// it. A queue of its own would add a job and a lease round trip to every refund and could run before the receipt
// it refunds against, while exactly-once needs nothing more than what the receipt job has: one RefundReceipt per
// refunded total (its requestid names the total) and the receipt link's `refundedMinor` moved in the same
// transaction as the refund's own link.
import { z } from 'zod';
import type { Transaction } from '../../highlevel/payments.ts';
import { qboRefundReceiptForCrmRefund, type CrmPayment } from '../../domain/salesReceiptMapping.ts';
import { formatMinor, toMinorUnits } from '../../domain/money.ts';
import { quickbooksRequestId } from '../../domain/requestId.ts';
import { findLinkByCrmId, mergeLinkData, saveLink } from '../../store/links.ts';
import { recordActivity, withWarnings } from '../../store/activity.ts';
import type { FlowContext } from '../engine/context.ts';
import { SyncError } from '../engine/errors.ts';
import { defineFlow, linkData } from '../engine/flow.ts';
import { ITEM_LINK, itemIdsForNames } from '../services/items.ts';
import { mappedItems, receiptPaymentMethod, salesFormTracking, type Mappings } from '../services/mappings.ts';

/** The flow's name, as its QuickBooks request ids carry it. */
export const REFUNDS_FLOW = 'refunds';

/** A refund receipt's link: keyed `<transaction>:refund:<refunded total>`, it holds the amount this receipt refunds. */
export const refundLinkData = z.looseObject({ amountMinor: z.number().int() });

/** What a refund reads of the sales receipt's link: the customer the receipt was made out to. */
const receiptCustomer = z.looseObject({ customerId: z.string().nullable().optional() });

export const refundsFlow = defineFlow({
  name: REFUNDS_FLOW,
  summary: 'CRM refunds -> QuickBooks refund receipts, one per refunded amount, within the sales-receipt job',
  jobs: {},
  linkKinds: [{ kind: 'refundReceipt', quickbooks: { entity: 'RefundReceipt', noun: 'Refund receipt' } }, ITEM_LINK],
  linkData: { refundReceipt: refundLinkData },
});

/**
 * Records what was refunded on `txn` since `alreadyRefundedMinor` (the receipt link's `refundedMinor`) as one
 * RefundReceipt. Its activity entries go under `activityFlow`, the flow of the job that runs the step: they are
 * about the same CRM record as the receipt's own.
 */
export async function syncRefund(
  ctx: FlowContext,
  txn: Transaction,
  payment: CrmPayment,
  alreadyRefundedMinor: number,
  activityFlow: string,
  mappings: Mappings,
): Promise<void> {
  const refunded = toMinorUnits(txn.amountRefunded ?? 0, payment.currency, { rounding: 'halfUp' });
  if (!refunded.ok || refunded.value <= alreadyRefundedMinor) return;
  const company = await ctx.company();
  if (!company.refundFromAccountId) {
    throw new SyncError(
      'no-bank-account',
      'The QuickBooks company has no bank account to record refunds from',
      'Add a bank account in QuickBooks, then press Retry',
      { transactionId: txn._id },
    );
  }
  const receiptLink = await findLinkByCrmId(ctx.db, ctx.connection.id, 'salesReceipt', txn._id);
  const customerId = linkData(receiptCustomer, receiptLink?.data)?.customerId ?? '';
  // A refund is a record of its own: it takes the mappings as they are when it is written, like any record.
  const items = mappedItems(mappings, payment.items);
  const itemIds = items.namesByItem.length > 0 ? await itemIdsForNames(ctx, items.namesByItem) : {};
  const tracking = mappings.tracking('RefundReceipt');
  const method = await receiptPaymentMethod(mappings, payment, company.paymentMethodIds);
  const delta = refunded.value - alreadyRefundedMinor;
  const refundId = `${txn._id}:refund:${refunded.value}`;
  const mapping = qboRefundReceiptForCrmRefund(
    {
      id: refundId,
      date: txn.updatedAt ?? new Date().toISOString(),
      currency: payment.currency,
      amount: formatMinor(delta, payment.currency),
    },
    payment,
    {
      region: company.region,
      itemIdsByName: itemIds,
      itemIdsByProductId: items.itemIdsByProductId,
      taxCodes: company.taxCodes,
      taxCodeMappings: ctx.connection.settings.taxCodeMapping,
      ...(company.noTaxCodeId ? { noTaxCodeId: company.noTaxCodeId } : {}),
      ...(customerId ? { customerRef: { value: customerId } } : {}),
      paymentMethodIds: company.paymentMethodIds,
      ...(method ? { paymentMethodRef: method } : {}),
      refundFromAccountId: company.refundFromAccountId,
      ...salesFormTracking(tracking),
    },
  );
  if (!mapping.ok)
    throw new SyncError(mapping.error.code, mapping.error.message, mapping.error.fix, {
      ...mapping.error.detail,
      transactionId: txn._id,
    });
  const refund = await ctx.qbo.create(
    'RefundReceipt',
    { ...structuredClone(mapping.refundReceipt) } as Record<string, unknown>,
    {
      requestId: quickbooksRequestId({
        connectionId: ctx.connection.id,
        flow: REFUNDS_FLOW,
        sourceId: txn._id,
        sourceVersion: String(refunded.value),
      }),
    },
  );
  await ctx.db.transaction(async (tx) => {
    await saveLink(tx, {
      connectionId: ctx.connection.id,
      kind: 'refundReceipt',
      crmId: refundId,
      qboId: refund.Id,
      origin: 'crm',
      state: 'linked',
      snapshotHash: null,
      qboSyncToken: refund.SyncToken,
      qboUpdatedAt: null,
      crmUpdatedAt: txn.updatedAt ?? null,
      data: { amountMinor: delta },
    });
    await mergeLinkData(tx, ctx.connection.id, 'salesReceipt', txn._id, { refundedMinor: refunded.value });
    await recordActivity(tx, {
      connectionId: ctx.connection.id,
      flow: activityFlow,
      status: 'ok',
      crmKind: 'transaction',
      crmId: txn._id,
      qboKind: 'RefundReceipt',
      qboId: refund.Id,
      message: withWarnings(
        `Created refund receipt ${refund.Id} for ${money(delta, payment.currency)} refunded on payment ${txn._id}`,
        tracking.notes,
      ),
      ...(tracking.notes.length > 0 ? { detail: { warnings: tracking.notes } } : {}),
    });
  });
}

function money(minor: number, currency: string): string {
  return `${formatMinor(minor, currency)} ${currency}`;
}
