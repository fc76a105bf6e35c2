// A CRM invoice, once sent, gets a QuickBooks Invoice, and that invoice follows the CRM one for its whole life:
// edits (lines, dates, billing email, customer, number), payments (each rise of amountPaid becomes one QuickBooks
// Payment applied to the invoice), void, and deletion (voided in QuickBooks: accounting history is never removed).
//
// Webhook bodies are only hints: every job reads the invoice as HighLevel holds it now and compares it with the
// link's snapshot (the hash of the QuickBooks body last written, the amount already turned into Payments, the
// status), then writes only what changed. Duplicated, reordered or lost webhooks therefore converge on the same
// state, and the periodic sweep (sweepInvoices) catches up on the ones HighLevel never delivered (it does not
// retry a webhook that failed).
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { paymentLinesWithout } from '../../domain/paymentLines.ts';
import type { Invoice as HighLevelInvoice } from '../../highlevel/invoices.ts';
import { HighLevelError, isNotFound as isHighLevelNotFound } from '../../highlevel/errors.ts';
import { isNotFound as isQuickBooksNotFound, isStaleObject, QuickBooksError } from '../../quickbooks/errors.ts';
import type { Invoice as QboInvoice } from '../../quickbooks/entities.ts';
import { select } from '../../quickbooks/query.ts';
import { qboInvoiceForCrmInvoice, type CrmInvoice, type QboInvoiceBody } from '../../domain/invoiceMapping.ts';
import type { CrmItem } from '../../domain/crmTotals.ts';
import type { TotalCheck } from '../../domain/salesLines.ts';
import { formatMinor, majorFromMinor, toMinorUnits, type Minor } from '../../domain/money.ts';
import { quickbooksRequestId } from '../../domain/requestId.ts';
import { QBO_LIMITS } from '../../domain/quickbooksLimits.ts';
import {
  findLinkByCrmId,
  linkedWithOpenError,
  linksByCrmIds,
  linksByQboIds,
  listLinks,
  saveLink,
  type Link,
} from '../../store/links.ts';
import { recordActivity, resolveErrors, withWarnings } from '../../store/activity.ts';
import type { Queryable } from '../../store/db.ts';
import { readCursor, writeCursor } from '../../store/cursors.ts';
import type { FlowContext } from '../engine/context.ts';
import { customerForContact } from './customers.ts';
import { ITEM_LINK, itemIdsForNames, shortenedItemNames } from '../services/items.ts';
import { mappedItems, mappingsFor, salesFormTracking, type Mappings } from '../services/mappings.ts';
import { currencyProblem } from '../services/company.ts';
import { SyncError } from '../engine/errors.ts';
import { QUEUES } from '../engine/queues.ts';
import { defineFlow, defineJob, payload } from '../engine/flow.ts';
import { isImportedCrmInvoiceId } from './invoiceImport.ts';
import {
  BEFORE_SYNC_START,
  beforeSyncStart,
  beforeSyncStartReason,
  staysSkipped,
  syncStartOf,
} from '../services/syncStart.ts';

export const INVOICES_FLOW = 'invoices';

/** Statuses of an invoice that has been sent (HighLevel: draft -> sent -> partially_paid -> paid, and void). */
export const SENT = new Set(['sent', 'partially_paid', 'paid', 'payment_processing']);
/** Statuses in which an invoice can still change (the sweep lists these whatever their issue date). */
const OPEN = ['sent', 'partially_paid', 'payment_processing'] as const;
/** QuickBooks may answer 5010 again if a bookkeeper keeps editing; three re-reads is plenty for a person's pace. */
const STALE_ATTEMPTS = 3;

/** What the invoice link remembers (links.data), parsed at this edge because it comes back from the store. */
const linkDataSchema = z.object({
  /** The CRM status last synced. */
  status: z.string().default(''),
  /** amountPaid already recorded as QuickBooks Payments, in minor units. */
  paidMinor: z.number().int().default(0),
  currency: z.string().default(''),
  customerId: z.string().default(''),
  /** "INV-1042": how activity messages name the CRM invoice. */
  label: z.string().default(''),
  docNumber: z.string().nullable().default(null),
  totalMinor: z.number().int().nullable().default(null),
  voided: z.boolean().default(false),
  deleted: z.boolean().default(false),
  /**
   * Payments a bookkeeper recorded in QuickBooks against this invoice that ledgerlink recorded on the CRM invoice
   * (qboPayments.ts), by QuickBooks payment id. Their amounts are part of paidMinor, so that the CRM's amountPaid
   * rising by them is never written back to QuickBooks. `pendingMinor` is a record-payment call in flight, with the
   * ids of the CRM invoice's transactions before it (settleQuickBooksPayments decides whether it landed).
   */
  fromQuickBooks: z
    .record(
      z.string(),
      z.object({
        recordedMinor: z.number().int(),
        pendingMinor: z.number().int().default(0),
        transactionsBefore: z.array(z.string()).default([]),
        /** What the payment applied when it was last seen lowered, voided or deleted (reported once). */
        removedMinor: z.number().int().nullable().default(null),
      }),
    )
    .default({}),
});
export type InvoiceLinkData = z.infer<typeof linkDataSchema>;

export interface LinkedInvoice {
  crmId: string;
  qboId: string;
  syncToken: string;
  hash: string | null;
  crmUpdatedAt: string | null;
  data: InvoiceLinkData;
}

/** The `crmInvoice` job: brings the QuickBooks invoice in line with the CRM invoice as it is now. */
export async function syncInvoice(ctx: FlowContext, invoiceId: string): Promise<void> {
  const invoice = await readInvoice(ctx, invoiceId);
  const link = await findLinkByCrmId(ctx.db, ctx.connection.id, 'invoice', invoiceId);
  if (link?.state === 'skipped' && (!invoice || (await staysSkipped(ctx, link.data, createdOf(invoice))))) return;
  const linked = link?.state === 'linked' && link.qboId ? linkedInvoice(link) : undefined;

  if (!invoice) {
    // Deleted in the CRM (HighLevel answers "not found"): the QuickBooks invoice is voided, never deleted.
    if (linked && !linked.data.voided) await voidInQuickBooks(ctx, linked, 'deleted in the CRM');
    if (linked && !linked.data.deleted) {
      linked.data.deleted = true;
      await ctx.db.transaction(async (tx) => {
        await persist(tx, ctx, linked, linked.crmUpdatedAt);
        await recordActivity(tx, {
          connectionId: ctx.connection.id,
          flow: INVOICES_FLOW,
          status: 'info',
          crmKind: 'invoice',
          crmId: invoiceId,
          qboKind: 'Invoice',
          qboId: linked.qboId,
          message: `CRM invoice ${linked.data.label} was deleted; QuickBooks invoice ${linked.data.docNumber ?? linked.qboId} stays, voided`,
        });
      });
    }
    return;
  }

  const skip = await reasonToSkip(ctx, invoice, linked);
  if (skip) {
    await ctx.db.transaction(async (tx) => {
      await saveLink(tx, {
        connectionId: ctx.connection.id,
        kind: 'invoice',
        crmId: invoice._id,
        qboId: null,
        origin: 'crm',
        state: 'skipped',
        snapshotHash: null,
        qboSyncToken: null,
        qboUpdatedAt: null,
        crmUpdatedAt: invoice.updatedAt ?? null,
        data: { reason: skip.reason, ...(skip.code ? { code: skip.code } : {}) },
      });
      await recordActivity(tx, {
        connectionId: ctx.connection.id,
        flow: INVOICES_FLOW,
        status: 'skipped',
        crmKind: 'invoice',
        crmId: invoice._id,
        message: `CRM invoice ${crmLabel(invoice)} not synced: ${skip.reason}`,
      });
    });
    return;
  }
  // A draft is the CRM user's work in progress: nothing exists for the customer (or the books) until it is sent.
  if (invoice.status === 'draft' && !linked) return;

  // A void CRM invoice is not edited any more; it is written only if QuickBooks has never seen it (see reasonToSkip).
  // Read once for the job: what it writes (the invoice, a payment) takes the mappings as they are now.
  const mappings = await mappingsFor(ctx);
  let current = invoice.status !== 'void' || !linked ? await writeInvoice(ctx, invoice, linked, mappings) : linked;
  // Money already received stays recorded even when the invoice is voided afterwards: payments first, then void.
  current = await recordPayments(ctx, invoice, current, mappings);
  if (invoice.status === 'void' && !current.data.voided)
    current = await voidInQuickBooks(ctx, current, 'voided in the CRM');

  // Everything this version of the invoice asked for is written: remember the version (the sweep compares it).
  current.data.status = invoice.status;
  const done = current;
  const balanceAgrees = await balanceNowAgrees(ctx, invoice, done);
  await ctx.db.transaction(async (tx) => {
    await persist(tx, ctx, done, invoice.updatedAt ?? null);
    await resolveFailures(tx, ctx, invoice._id);
    if (balanceAgrees) await resolveMismatches(tx, ctx, invoice._id, ['balance-mismatch']);
  });
}

/**
 * A balance difference reported earlier can disappear without a new payment (a later void, an edit of the
 * lines, a payment whose answer was lost and that a later run found). When the invoice has such an open error,
 * the job reads the QuickBooks balance once more and closes the error if the two sides now agree; only then, so
 * an invoice without open differences costs no extra call.
 */
async function balanceNowAgrees(ctx: FlowContext, invoice: HighLevelInvoice, linked: LinkedInvoice): Promise<boolean> {
  const open = await ctx.db.query(
    `SELECT 1 FROM activity WHERE connection_id = $1 AND flow = $2 AND crm_id = $3 AND status = 'error' AND resolved_at IS NULL AND detail->>'code' = 'balance-mismatch' LIMIT 1`,
    [ctx.connection.id, INVOICES_FLOW, invoice._id],
  );
  if (open.rows.length === 0) return false;
  if (linked.data.voided || invoice.status === 'void') return true;
  const qbo = await readQboInvoice(ctx, linked, invoice._id);
  const currency = linked.data.currency;
  const balance = toMinorUnits(qbo.Balance ?? 0, currency, { rounding: 'halfUp' });
  const due = toMinorUnits(invoice.amountDue ?? 0, currency, { rounding: 'halfUp' });
  return balance.ok && due.ok && balance.value === due.value;
}

/** Errors that report a difference between the two sides; they stay open until a later write shows them gone. */
const MISMATCH_CODES = ['total-mismatch', 'balance-mismatch', 'amount-paid-fell'];

/** A job that got through resolves the invoice's earlier failures (not the differences it reported itself). */
async function resolveFailures(q: Queryable, ctx: FlowContext, invoiceId: string): Promise<void> {
  await q.query(
    `UPDATE activity SET resolved_at = now() WHERE connection_id = $1 AND flow = $2 AND crm_id = $3 AND status = 'error' AND resolved_at IS NULL
       AND coalesce(detail->>'code', '') <> ALL($4::text[])`,
    [ctx.connection.id, INVOICES_FLOW, invoiceId, MISMATCH_CODES],
  );
}

async function resolveMismatches(
  q: Queryable,
  ctx: FlowContext,
  invoiceId: string,
  codes: readonly string[],
): Promise<void> {
  await q.query(
    `UPDATE activity SET resolved_at = now() WHERE connection_id = $1 AND flow = $2 AND crm_id = $3 AND status = 'error' AND resolved_at IS NULL AND detail->>'code' = ANY($4::text[])`,
    [ctx.connection.id, INVOICES_FLOW, invoiceId, [...codes]],
  );
}

/** The invoice as HighLevel holds it now; undefined when it was deleted. */
export async function readInvoice(ctx: FlowContext, invoiceId: string): Promise<HighLevelInvoice | undefined> {
  try {
    return await ctx.hl.invoices.get(invoiceId);
  } catch (error) {
    // HighLevel's spec answers an unknown invoice id with 400 "Unable to find an invoice with the given invoice
    // id" (reference §1 error examples), not 404; both mean the invoice is gone.
    if (isHighLevelNotFound(error)) return undefined;
    if (error instanceof HighLevelError && error.status === 400 && /unable to find an invoice/i.test(error.message))
      return undefined;
    throw error;
  }
}

/** When the CRM invoice was made, as the "before the connection's sync start" rule reads it. */
export function createdOf(invoice: Pick<HighLevelInvoice, 'createdAt' | 'issueDate'>): string | undefined {
  return invoice.createdAt ?? invoice.issueDate;
}

async function reasonToSkip(
  ctx: FlowContext,
  invoice: HighLevelInvoice,
  linked: LinkedInvoice | undefined,
): Promise<{ reason: string; code?: string } | undefined> {
  if (linked) return undefined;
  const created = createdOf(invoice);
  const start = await beforeSyncStart(ctx, created);
  if (start && created) {
    return {
      reason: `${beforeSyncStartReason(ctx, 'it was created', created, start)}; only newer invoices are synced`,
      code: BEFORE_SYNC_START,
    };
  }
  // A void invoice nobody paid left no trace in the books. One that was paid in part before being voided (its
  // webhooks lost) is still created, paid and voided below, so that the money received is recorded.
  if (invoice.status === 'void' && (invoice.amountPaid ?? 0) === 0)
    return { reason: 'it was voided before it reached QuickBooks, so there is nothing to record' };
  if (invoice.status !== 'draft' && invoice.status !== 'void' && !SENT.has(invoice.status))
    return { reason: `its status "${invoice.status}" is not one ledgerlink knows` };
  return undefined;
}

export function linkedInvoice(link: Link): LinkedInvoice {
  return {
    crmId: link.crmId,
    qboId: link.qboId ?? '',
    syncToken: link.qboSyncToken ?? '0',
    hash: link.snapshotHash,
    crmUpdatedAt: link.crmUpdatedAt,
    data: linkDataSchema.parse(link.data),
  };
}

export async function persist(
  q: Queryable,
  ctx: FlowContext,
  linked: LinkedInvoice,
  crmUpdatedAt: string | null,
): Promise<void> {
  linked.crmUpdatedAt = crmUpdatedAt;
  await saveLink(q, {
    connectionId: ctx.connection.id,
    kind: 'invoice',
    crmId: linked.crmId,
    qboId: linked.qboId,
    origin: 'crm',
    state: 'linked',
    snapshotHash: linked.hash,
    qboSyncToken: linked.syncToken,
    qboUpdatedAt: null,
    crmUpdatedAt,
    data: { ...linked.data },
  });
}

// ---- the invoice itself ---------------------------------------------------------------------------------------

interface MappedInvoice {
  body: QboInvoiceBody;
  expected: TotalCheck;
  warnings: readonly string[];
  customerId: string;
  customerName: string;
  hash: string;
}

/** Creates the QuickBooks invoice, or updates it when the mapped body differs from the one last written. */
async function writeInvoice(
  ctx: FlowContext,
  invoice: HighLevelInvoice,
  linked: LinkedInvoice | undefined,
  mappings: Mappings,
): Promise<LinkedInvoice> {
  const mapped = await mapInvoice(ctx, invoice, mappings);
  if (linked && linked.hash === mapped.hash) return linked;
  if (linked?.data.voided) {
    // A voided QuickBooks invoice is history; a CRM that brings a voided invoice back to life is not something
    // we can mirror faithfully, so a person decides.
    throw new SyncError(
      'invoice-voided-in-quickbooks',
      `QuickBooks invoice ${linked.data.docNumber ?? linked.qboId} is voided but CRM invoice ${crmLabel(invoice)} changed`,
      'Create the invoice again in HighLevel if it is still owed',
      { invoiceId: invoice._id },
    );
  }
  let written: QboInvoice;
  let action: 'Created' | 'Updated';
  if (!linked) {
    written = await createInvoice(ctx, invoice, mapped);
    action = 'Created';
  } else {
    written = await updateInvoice(ctx, invoice, linked, mapped);
    action = 'Updated';
  }
  const next: LinkedInvoice = {
    crmId: invoice._id,
    qboId: written.Id,
    syncToken: written.SyncToken,
    hash: mapped.hash,
    crmUpdatedAt: linked?.crmUpdatedAt ?? null,
    data: {
      ...(linked?.data ?? linkDataSchema.parse({})),
      currency: invoice.currency.toUpperCase(),
      customerId: mapped.customerId,
      label: crmLabel(invoice),
      docNumber: written.DocNumber ?? null,
      totalMinor: mapped.expected.crmTotal,
      status: linked?.data.status ?? invoice.status,
    },
  };
  const currency = next.data.currency;
  const writtenTotal = toMinorUnits(written.TotalAmt ?? 0, currency, { rounding: 'halfUp' });
  const qboTotal = writtenTotal.ok ? writtenTotal.value : null;
  await ctx.db.transaction(async (tx) => {
    await persist(tx, ctx, next, next.crmUpdatedAt);
    // A new version of the invoice supersedes every earlier report about it; a difference that remains is
    // reported again just below.
    await resolveErrors(tx, ctx.connection.id, INVOICES_FLOW, invoice._id);
    await recordActivity(tx, {
      connectionId: ctx.connection.id,
      flow: INVOICES_FLOW,
      status: 'ok',
      crmKind: 'invoice',
      crmId: invoice._id,
      qboKind: 'Invoice',
      qboId: written.Id,
      message: withWarnings(
        `${action} QuickBooks invoice ${written.DocNumber ?? written.Id} for CRM invoice ${crmLabel(invoice)} (${money(mapped.expected.crmTotal, currency)}, customer "${mapped.customerName}")`,
        mapped.warnings,
      ),
      detail: { warnings: mapped.warnings, status: invoice.status },
    });
    // The mapping predicts QuickBooks' total, but QuickBooks computes it (tax in the global model): compare what
    // it actually holds with the CRM total after every write, and say so when they differ.
    if (qboTotal !== mapped.expected.crmTotal) {
      await recordActivity(tx, {
        connectionId: ctx.connection.id,
        flow: INVOICES_FLOW,
        status: 'error',
        crmKind: 'invoice',
        crmId: invoice._id,
        qboKind: 'Invoice',
        qboId: written.Id,
        message: `QuickBooks invoice ${written.DocNumber ?? written.Id} totals ${written.TotalAmt ?? '?'} ${currency}, but CRM invoice ${crmLabel(invoice)} totals ${money(mapped.expected.crmTotal, currency)}`,
        detail: {
          code: 'total-mismatch',
          crmTotal: mapped.expected.crm,
          quickbooksTotal: written.TotalAmt ?? null,
          expectedQuickbooksTotal: mapped.expected.quickbooks,
          fix: 'Check the tax codes of the lines in QuickBooks (or the tax code mapping in the connection settings), then correct the invoice on either side',
        },
      });
    }
  });
  if (!linked) await offerBookkeepersPayments(ctx, written);
  return next;
}

/**
 * An invoice linked now may already carry payments a bookkeeper recorded against it in QuickBooks (found by its
 * number before ledgerlink's link was saved): their qboPayment jobs are offered again, since the first looked for a
 * link that was not there yet (qboPayments.ts). Our own payments are left out; the job itself decides the rest.
 */
async function offerBookkeepersPayments(ctx: FlowContext, written: QboInvoice): Promise<void> {
  const paymentIds = (written.LinkedTxn ?? []).filter((l) => l.TxnType === 'Payment').map((l) => l.TxnId);
  if (paymentIds.length === 0 || !ctx.connection.paymentsFromQuickBooks) return;
  const ours = new Set((await linksByQboIds(ctx.db, ctx.connection.id, 'payment', paymentIds)).map((l) => l.qboId));
  for (const paymentId of paymentIds.filter((id) => !ours.has(id)))
    await ctx.queue.enqueue(QUEUES.qboPayment, {
      connectionId: ctx.connection.id,
      key: `${ctx.connection.id}:qbo-payment:${paymentId}`,
      paymentId,
    });
}

async function mapInvoice(ctx: FlowContext, invoice: HighLevelInvoice, mappings: Mappings): Promise<MappedInvoice> {
  const company = await ctx.company();
  const currency = invoice.currency.toUpperCase();
  const label = crmLabel(invoice);
  const currencyRefused = currencyProblem(company, currency, `CRM invoice ${label}`, { invoiceId: invoice._id });
  if (currencyRefused) {
    // An invoice can also be issued again in the home currency.
    if (currencyRefused.code === 'currency-not-accepted')
      throw new SyncError(
        currencyRefused.code,
        currencyRefused.message,
        `Turn on multicurrency in QuickBooks (Account and settings > Advanced > Currency), or issue the invoice in ${company.homeCurrency}, then press Retry`,
        currencyRefused.detail,
      );
    throw currencyRefused;
  }
  const contactId = invoice.contactDetails?.id;
  if (!contactId) {
    throw new SyncError(
      'invoice-without-contact',
      `CRM invoice ${label} names no contact`,
      'Choose the contact of the invoice in HighLevel, then press Retry',
      { invoiceId: invoice._id },
    );
  }
  const customer = await customerForContact(ctx, contactId, currency);
  if (company.multiCurrency && customer.outcome === 'linked') {
    // customerForContact checks the currency of a customer it matches or creates; a customer linked earlier (for a
    // payment in another currency) is checked here, because QuickBooks fixes a customer's currency for good.
    const qboCustomer = await ctx.qbo.read('Customer', customer.customerId);
    const customerCurrency = qboCustomer.CurrencyRef?.value ?? company.homeCurrency;
    if (customerCurrency !== currency) {
      throw new SyncError(
        'customer-currency',
        `CRM invoice ${label} is in ${currency}, but its QuickBooks customer "${qboCustomer.DisplayName}" takes ${customerCurrency} only`,
        "QuickBooks fixes a customer's currency at creation: issue the invoice in " +
          customerCurrency +
          ', or use a separate contact (and customer) for this currency',
        { invoiceId: invoice._id, currency, customerCurrency, customerId: customer.customerId },
      );
    }
  }
  const items: CrmItem[] = invoice.invoiceItems.map((item) => ({
    _id: item._id ?? null,
    name: item.name,
    description: item.description ?? null,
    productId: item.productId ?? null,
    amount: item.amount,
    qty: item.qty,
    taxInclusive: item.taxInclusive ?? null,
    taxes: item.taxes.map((t) => ({
      _id: t._id ?? null,
      taxId: t.taxId ?? null,
      name: t.name ?? '',
      rate: t.rate ?? 0,
      calculation: t.calculation ?? null,
    })),
  }));
  // Refused before any item is looked up or created: the mapping would refuse it anyway, after the writes.
  if (items.length > QBO_LIMITS.transaction.MaxLines) {
    throw new SyncError(
      'TOO_MANY_LINES',
      `CRM invoice ${label} has ${items.length} lines; QuickBooks accepts at most ${QBO_LIMITS.transaction.MaxLines} per invoice`,
      'Split the invoice in HighLevel into smaller ones',
      { invoiceId: invoice._id },
    );
  }
  const lineItems = mappedItems(mappings, items);
  const itemIds = lineItems.namesByItem.length > 0 ? await itemIdsForNames(ctx, lineItems.namesByItem) : {};
  const tracking = mappings.tracking('Invoice');
  const crm: CrmInvoice = {
    _id: invoice._id,
    invoiceNumber: invoice.invoiceNumber ?? null,
    name: invoice.name ?? null,
    issueDate: invoice.issueDate ?? '',
    dueDate: invoice.dueDate ?? null,
    currency,
    invoiceItems: items,
    discount: invoice.discount ? { type: invoice.discount.type ?? null, value: invoice.discount.value ?? null } : null,
    contactDetails: {
      id: contactId,
      email: invoice.contactDetails?.email ?? null,
      name: invoice.contactDetails?.name ?? null,
    },
  };
  const context = {
    region: company.region,
    itemIdsByName: itemIds,
    taxCodes: company.taxCodes,
    taxCodeMappings: ctx.connection.settings.taxCodeMapping,
    ...(company.noTaxCodeId ? { noTaxCodeId: company.noTaxCodeId } : {}),
    customerRef: { value: customer.customerId },
  };
  const mapping = qboInvoiceForCrmInvoice(crm, {
    ...context,
    itemIdsByProductId: lineItems.itemIdsByProductId,
    ...salesFormTracking(tracking),
  });
  if (!mapping.ok)
    throw new SyncError(mapping.error.code, mapping.error.message, mapping.error.fix, {
      ...mapping.error.detail,
      invoiceId: invoice._id,
    });
  // The hash covers what would be written, so any change on the CRM side that matters to QuickBooks (and nothing
  // else: a new updatedAt alone, a payment) leads to an update. What the bookkeeper's mappings chose is left out (no
  // class or location, a mapped product's item by its product id): a change of mapping applies to the records
  // written after it and rewrites no invoice by itself; an update the CRM asks for takes the mappings of its time.
  const mappedProducts = Object.keys(lineItems.itemIdsByProductId);
  const basis =
    mappedProducts.length === 0 && !tracking.ClassRef && !tracking.lineClassRef && !tracking.DepartmentRef
      ? mapping
      : qboInvoiceForCrmInvoice(crm, {
          ...context,
          itemIdsByProductId: Object.fromEntries(mappedProducts.map((id) => [id, `product:${id}`])),
        });
  const hash = createHash('sha256')
    .update(JSON.stringify(basis.ok ? basis.invoice : mapping.invoice))
    .digest('base64url');
  return {
    body: mapping.invoice,
    expected: mapping.expectedTotal,
    warnings: [...shortenedItemNames(lineItems.namesByItem), ...mapping.warnings, ...tracking.notes],
    customerId: customer.customerId,
    customerName: customer.displayName,
    hash,
  };
}

async function createInvoice(ctx: FlowContext, invoice: HighLevelInvoice, mapped: MappedInvoice): Promise<QboInvoice> {
  // A create whose answer was lost and whose CRM invoice changed before the retry carries a new requestid, so
  // QuickBooks' replay cannot help: look for our own invoice by its number (and our note) first.
  const existing = await findOurInvoice(ctx, invoice._id, mapped.body.DocNumber);
  if (existing) {
    return updateInvoice(
      ctx,
      invoice,
      {
        crmId: invoice._id,
        qboId: existing.Id,
        syncToken: existing.SyncToken,
        hash: null,
        crmUpdatedAt: null,
        data: linkDataSchema.parse({}),
      },
      mapped,
    );
  }
  try {
    return await ctx.qbo.create('Invoice', { ...structuredClone(mapped.body) } as Record<string, unknown>, {
      requestId: quickbooksRequestId({
        connectionId: ctx.connection.id,
        flow: INVOICES_FLOW,
        sourceId: invoice._id,
        sourceVersion: `create:${mapped.hash}`,
      }),
    });
  } catch (error) {
    throw explainInvoiceRefusal(error, invoice, mapped);
  }
}

async function findOurInvoice(
  ctx: FlowContext,
  invoiceId: string,
  docNumber: string | undefined,
): Promise<QboInvoice | undefined> {
  if (docNumber === undefined) return undefined;
  const rows = await ctx.qbo.query(select('Invoice').where('DocNumber', '=', docNumber).maxResults(100));
  return rows.find((row) => (row.PrivateNote ?? '').includes(`HighLevel invoice ${invoiceId}`));
}

/**
 * A sparse update: the fields ledgerlink writes change (Line replaces every line), anything a bookkeeper added
 * (memo, terms, attachments) stays. The SyncToken remembered from the last write is tried first; 5010 means
 * someone (a bookkeeper, a payment) changed the invoice since, so it is read again and the CRM's version
 * re-applied on top (the CRM is the source of truth for the fields it owns).
 */
async function updateInvoice(
  ctx: FlowContext,
  invoice: HighLevelInvoice,
  linked: LinkedInvoice,
  mapped: MappedInvoice,
): Promise<QboInvoice> {
  let syncToken = linked.syncToken;
  for (let attempt = 0; ; attempt++) {
    try {
      return await ctx.qbo.update(
        'Invoice',
        { ...({ ...structuredClone(mapped.body) } as Record<string, unknown>), Id: linked.qboId, SyncToken: syncToken },
        {
          requestId: quickbooksRequestId({
            connectionId: ctx.connection.id,
            flow: INVOICES_FLOW,
            sourceId: invoice._id,
            sourceVersion: `update:${mapped.hash}:${syncToken}`,
          }),
        },
      );
    } catch (error) {
      if (isStaleObject(error) && attempt < STALE_ATTEMPTS) {
        ctx.log.info(
          { invoiceId: invoice._id, qboInvoiceId: linked.qboId, syncToken },
          'stale SyncToken (5010): re-reading the QuickBooks invoice and re-applying the CRM version',
        );
        syncToken = (await readQboInvoice(ctx, linked, invoice._id)).SyncToken;
        continue;
      }
      throw explainInvoiceRefusal(error, invoice, mapped);
    }
  }
}

async function readQboInvoice(ctx: FlowContext, linked: LinkedInvoice, invoiceId: string): Promise<QboInvoice> {
  try {
    return await ctx.qbo.read('Invoice', linked.qboId);
  } catch (error) {
    if (isQuickBooksNotFound(error)) {
      throw new SyncError(
        'quickbooks-invoice-missing',
        `QuickBooks invoice ${linked.data.docNumber ?? linked.qboId} (CRM invoice ${linked.data.label || invoiceId}) no longer exists; someone deleted it in QuickBooks`,
        'Recreate the invoice in QuickBooks by hand, or ask support to unlink it so ledgerlink creates it again',
        { invoiceId, qboInvoiceId: linked.qboId },
      );
    }
    throw error;
  }
}

/** QuickBooks refusals a person must act on become SyncErrors with the fix; anything else stays transient. */
function explainInvoiceRefusal(error: unknown, invoice: HighLevelInvoice, mapped: MappedInvoice): unknown {
  if (!(error instanceof QuickBooksError)) return error;
  const label = crmLabel(invoice);
  if (error.code === '6140') {
    return new SyncError(
      'duplicate-doc-number',
      `QuickBooks already has another invoice numbered ${mapped.body.DocNumber ?? ''}, so CRM invoice ${label} cannot take that number`,
      'Renumber one of the two invoices (in HighLevel or in QuickBooks), then press Retry',
      { invoiceId: invoice._id, docNumber: mapped.body.DocNumber ?? null, quickbooks: error.describe() },
    );
  }
  if (error.status === 400 && /^(2\d{3}|6\d{3}|610)$/.test(error.code)) {
    return new SyncError(
      'invoice-refused',
      `QuickBooks refused CRM invoice ${label}: ${error.describe()}`,
      'Correct the invoice in HighLevel (or the named record in QuickBooks), then press Retry',
      { invoiceId: invoice._id },
    );
  }
  return error;
}

// ---- payments -------------------------------------------------------------------------------------------------

/**
 * Each rise of the CRM's amountPaid becomes one QuickBooks Payment for the difference, applied to the invoice.
 * Its requestid and its link are keyed by the cumulative amount paid, so a retry, a duplicated webhook or the
 * sweep can never pay twice: the same cumulative amount is the same Payment.
 */
async function recordPayments(
  ctx: FlowContext,
  invoice: HighLevelInvoice,
  given: LinkedInvoice,
  mappings: Mappings,
): Promise<LinkedInvoice> {
  const currency = given.data.currency || invoice.currency.toUpperCase();
  const paid = crmAmountPaid(invoice, currency);
  const linked = await settleQuickBooksPayments(ctx, invoice, given);
  if (paid.value === linked.data.paidMinor) return linked;
  if (paid.value < linked.data.paidMinor) {
    // HighLevel keeps amountPaid when a payment is refunded; a fall means something we do not model. Say so
    // once per value rather than guess at reversing a QuickBooks payment.
    await recordActivity(ctx.db, {
      connectionId: ctx.connection.id,
      flow: INVOICES_FLOW,
      status: 'error',
      crmKind: 'invoice',
      crmId: invoice._id,
      qboKind: 'Invoice',
      qboId: linked.qboId,
      message: `The amount paid on CRM invoice ${crmLabel(invoice)} fell from ${money(linked.data.paidMinor, currency)} to ${money(paid.value, currency)}; QuickBooks payments were left as they are`,
      detail: {
        code: 'amount-paid-fell',
        fix: 'Void or adjust the QuickBooks payment by hand if money was given back',
      },
    });
    linked.data.paidMinor = paid.value;
    await persist(ctx.db, ctx, linked, linked.crmUpdatedAt);
    return linked;
  }
  const delta = paid.value - linked.data.paidMinor;
  const before = await readQboInvoice(ctx, linked, invoice._id);
  const balance = toMinorUnits(before.Balance ?? 0, currency, { rounding: 'halfUp' });
  // Apply no more than the QuickBooks balance (over-applying is refused); any rest stays on the payment as the
  // customer's credit, and is reported below, because it means the two totals differ.
  const applied = Math.max(0, Math.min(delta, balance.ok ? balance.value : delta));
  const cumulativeKey = `${invoice._id}:paid:${paid.value}`;
  // A Payment takes the deposit account and the location (it has no class); HighLevel's invoice says nothing of how
  // it was paid, so no PaymentMethodRef.
  const tracking = mappings.tracking('Payment');
  const payment = await writePayment(ctx, {
    path: '/payment',
    body: {
      CustomerRef: { value: before.CustomerRef.value },
      TotalAmt: majorFromMinor(delta, currency),
      ...(mappings.depositToAccountRef ? { DepositToAccountRef: mappings.depositToAccountRef } : {}),
      ...(tracking.DepartmentRef ? { DepartmentRef: tracking.DepartmentRef } : {}),
      ...(applied > 0
        ? {
            Line: [
              { Amount: majorFromMinor(applied, currency), LinkedTxn: [{ TxnId: linked.qboId, TxnType: 'Invoice' }] },
            ],
          }
        : {}),
      PrivateNote: `HighLevel invoice ${invoice._id} (${crmLabel(invoice)}): paid ${formatMinor(paid.value, currency)} ${currency} in all`,
    },
    requestId: quickbooksRequestId({
      connectionId: ctx.connection.id,
      flow: 'invoices.payments',
      sourceId: invoice._id,
      sourceVersion: String(paid.value),
    }),
  });
  // The payment moved the invoice's SyncToken and Balance: read both for the next write and for the check.
  const after = await readQboInvoice(ctx, linked, invoice._id);
  const afterBalance = toMinorUnits(after.Balance ?? 0, currency, { rounding: 'halfUp' });
  const due = toMinorUnits(invoice.amountDue ?? 0, currency, { rounding: 'halfUp' });
  const next: LinkedInvoice = {
    ...linked,
    syncToken: after.SyncToken,
    data: { ...linked.data, paidMinor: paid.value },
  };
  const docNumber = after.DocNumber ?? linked.qboId;
  await ctx.db.transaction(async (tx) => {
    await saveLink(tx, {
      connectionId: ctx.connection.id,
      kind: 'payment',
      crmId: cumulativeKey,
      qboId: payment.Id,
      origin: 'crm',
      state: 'linked',
      snapshotHash: null,
      qboSyncToken: payment.SyncToken,
      qboUpdatedAt: null,
      crmUpdatedAt: invoice.updatedAt ?? null,
      data: { invoiceId: invoice._id, qboInvoiceId: linked.qboId, amountMinor: delta, appliedMinor: applied, currency },
    });
    await persist(tx, ctx, next, linked.crmUpdatedAt);
    await recordActivity(tx, {
      connectionId: ctx.connection.id,
      flow: INVOICES_FLOW,
      status: 'ok',
      crmKind: 'invoice',
      crmId: invoice._id,
      qboKind: 'Payment',
      qboId: payment.Id,
      message: `Recorded payment of ${money(delta, currency)} on QuickBooks invoice ${docNumber} (CRM invoice ${crmLabel(invoice)}, ${money(paid.value, currency)} paid in all)`,
    });
    const mismatch =
      applied < delta || (afterBalance.ok && due.ok && afterBalance.value !== due.value && invoice.status !== 'void');
    if (!mismatch) await resolveMismatches(tx, ctx, invoice._id, ['balance-mismatch']);
    if (mismatch) {
      await recordActivity(tx, {
        connectionId: ctx.connection.id,
        flow: INVOICES_FLOW,
        status: 'error',
        crmKind: 'invoice',
        crmId: invoice._id,
        qboKind: 'Invoice',
        qboId: linked.qboId,
        message:
          `QuickBooks invoice ${docNumber} has a balance of ${after.Balance ?? '?'} ${currency}, but CRM invoice ${crmLabel(invoice)} has ${money(due.ok ? due.value : 0, currency)} due` +
          (applied < delta
            ? `; ${money(delta - applied, currency)} of the payment was left unapplied as the customer's credit`
            : ''),
        detail: {
          code: 'balance-mismatch',
          crmAmountDue: invoice.amountDue ?? null,
          quickbooksBalance: after.Balance ?? null,
          fix: "Compare the two invoices' totals and lines, correct the one that is wrong, and apply the credit in QuickBooks",
        },
      });
    }
  });
  return next;
}

/** The CRM invoice's amountPaid in minor units; an unreadable one stops the job (nothing can be compared). */
export function crmAmountPaid(invoice: HighLevelInvoice, currency: string): { value: Minor } {
  const paid = toMinorUnits(invoice.amountPaid ?? 0, currency, { rounding: 'halfUp' });
  if (!paid.ok)
    throw new SyncError(
      'invalid-amount-paid',
      `CRM invoice ${crmLabel(invoice)} has an unreadable amount paid: ${paid.error.message}`,
      paid.error.fix,
      { invoiceId: invoice._id },
    );
  return { value: paid.value };
}

/**
 * Decides the QuickBooks payments whose record-payment call was in flight when a job stopped (its answer lost, or
 * the worker killed). HighLevel has no idempotency key, but each recorded payment is a transaction of the invoice
 * (GET /payments/transactions?entityId=<invoice>): a transaction of the pending amount that was not there before
 * the call means it landed; none means it did not, and the amount leaves paidMinor again so that the qboPayment job
 * records it anew. Runs under the invoice's record lease (both the crmInvoice job and qboPayments hold it), so no
 * other ledgerlink write of this invoice interleaves; only a customer paying that very amount online in the same
 * interval could pass for the lost record (docs/engine-primer.md says so).
 */
export async function settleQuickBooksPayments(
  ctx: FlowContext,
  invoice: HighLevelInvoice,
  linked: LinkedInvoice,
): Promise<LinkedInvoice> {
  const pending = Object.entries(linked.data.fromQuickBooks).filter(([, entry]) => entry.pendingMinor > 0);
  if (pending.length === 0) return linked;
  const currency = linked.data.currency || invoice.currency.toUpperCase();
  const transactions = await crmTransactionsOf(ctx, invoice._id, currency);
  const claimed = new Set<string>();
  const fromQuickBooks = { ...linked.data.fromQuickBooks };
  let paidMinor = linked.data.paidMinor;
  for (const [paymentId, entry] of pending) {
    const before = new Set(entry.transactionsBefore);
    const match = transactions.find(
      (t) => !before.has(t.id) && !claimed.has(t.id) && t.amountMinor === entry.pendingMinor,
    );
    if (match) claimed.add(match.id);
    const landed = match !== undefined;
    if (!landed) paidMinor -= entry.pendingMinor;
    fromQuickBooks[paymentId] = {
      ...entry,
      recordedMinor: entry.recordedMinor + (landed ? entry.pendingMinor : 0),
      pendingMinor: 0,
    };
  }
  const next: LinkedInvoice = { ...linked, data: { ...linked.data, paidMinor, fromQuickBooks } };
  await persist(ctx.db, ctx, next, linked.crmUpdatedAt);
  return next;
}

/** The CRM invoice's transactions (the payments recorded on it, online or by hand), with amounts in minor units. */
export async function crmTransactionsOf(
  ctx: FlowContext,
  invoiceId: string,
  currency: string,
): Promise<Array<{ id: string; amountMinor: Minor }>> {
  const out: Array<{ id: string; amountMinor: Minor }> = [];
  for await (const txn of ctx.hl.payments.transactions({ entityId: invoiceId }, 100)) {
    const amount = toMinorUnits(txn.amount, currency, { rounding: 'halfUp' });
    if (amount.ok) out.push({ id: txn._id, amountMinor: amount.value });
  }
  return out;
}

// ---- void -----------------------------------------------------------------------------------------------------

/**
 * Voids the QuickBooks invoice. QuickBooks refuses to void an invoice that has payments applied (6000), and the
 * money of those payments was really received (HighLevel's void does not refund it). So each payment is first
 * unapplied, not voided: it stays in QuickBooks as the customer's credit, which is what QuickBooks' own screen
 * does when a bookkeeper voids a paid-into invoice, and the bookkeeper can refund or re-apply it.
 */
async function voidInQuickBooks(ctx: FlowContext, linked: LinkedInvoice, why: string): Promise<LinkedInvoice> {
  let current = await readQboInvoice(ctx, linked, linked.crmId);
  const currency = linked.data.currency;
  const paymentIds = (current.LinkedTxn ?? []).filter((l) => l.TxnType === 'Payment').map((l) => l.TxnId);
  for (const paymentId of paymentIds) {
    const unapplied = await unapplyPayment(ctx, linked, paymentId);
    if (!unapplied) continue;
    await recordActivity(ctx.db, {
      connectionId: ctx.connection.id,
      flow: INVOICES_FLOW,
      status: 'ok',
      crmKind: 'invoice',
      crmId: linked.crmId,
      qboKind: 'Payment',
      qboId: paymentId,
      message: `Unapplied QuickBooks payment ${paymentId} (${unapplied.TotalAmt ?? '?'} ${currency}) from invoice ${linked.data.docNumber ?? linked.qboId} (CRM invoice ${linked.data.label}) before voiding it; the money stays on the customer as a credit`,
    });
  }
  if (paymentIds.length > 0) current = await readQboInvoice(ctx, linked, linked.crmId);
  let syncToken = current.SyncToken;
  let voided: QboInvoice;
  for (let attempt = 0; ; attempt++) {
    try {
      voided = await ctx.qbo.void(
        'Invoice',
        { Id: linked.qboId, SyncToken: syncToken },
        {
          requestId: quickbooksRequestId({
            connectionId: ctx.connection.id,
            flow: 'invoices.void',
            sourceId: linked.crmId,
            sourceVersion: syncToken,
          }),
        },
      );
      break;
    } catch (error) {
      if (!isStaleObject(error) || attempt >= STALE_ATTEMPTS) throw error;
      syncToken = (await readQboInvoice(ctx, linked, linked.crmId)).SyncToken;
    }
  }
  const next: LinkedInvoice = { ...linked, syncToken: voided.SyncToken, data: { ...linked.data, voided: true } };
  await ctx.db.transaction(async (tx) => {
    await persist(tx, ctx, next, linked.crmUpdatedAt);
    await recordActivity(tx, {
      connectionId: ctx.connection.id,
      flow: INVOICES_FLOW,
      status: 'ok',
      crmKind: 'invoice',
      crmId: linked.crmId,
      qboKind: 'Invoice',
      qboId: linked.qboId,
      message: `Voided QuickBooks invoice ${linked.data.docNumber ?? linked.qboId}: CRM invoice ${linked.data.label} was ${why}`,
    });
  });
  return next;
}

/** Removes the payment's application to this invoice (sparse update of its lines); undefined if it had none. */
async function unapplyPayment(
  ctx: FlowContext,
  linked: LinkedInvoice,
  paymentId: string,
): Promise<QboPayment | undefined> {
  let payment = await readPayment(ctx, paymentId);
  for (let attempt = 0; ; attempt++) {
    const lines = paymentLinesWithout(payment.Line, linked.qboId);
    if (!lines) return undefined;
    try {
      return await writePayment(ctx, {
        path: '/payment',
        query: { operation: 'update' },
        body: { Id: payment.Id, SyncToken: payment.SyncToken, sparse: true, Line: lines },
        requestId: quickbooksRequestId({
          connectionId: ctx.connection.id,
          flow: 'invoices.unapply',
          sourceId: `${linked.crmId}:${paymentId}`,
          sourceVersion: payment.SyncToken,
        }),
      });
    } catch (error) {
      if (!isStaleObject(error) || attempt >= STALE_ATTEMPTS) throw error;
      payment = await readPayment(ctx, paymentId);
    }
  }
}

// Payments are read and written through the client's HTTP layer with this schema: Payment lines carry no
// DetailType (QuickBooks' Payment Line is Amount + LinkedTxn), which the shared line schema of sales forms
// requires, so the typed client cannot parse a payment that is applied to anything.
const paymentLineSchema = z.looseObject({
  Amount: z.number().optional(),
  LinkedTxn: z.array(z.looseObject({ TxnId: z.string(), TxnType: z.string() })).optional(),
});
const qboPaymentSchema = z.looseObject({
  Id: z.string(),
  SyncToken: z.string(),
  TxnDate: z.string().optional(),
  TotalAmt: z.number().optional(),
  PaymentRefNum: z.string().optional(),
  PrivateNote: z.string().optional(),
  PaymentMethodRef: z.looseObject({ value: z.string() }).optional(),
  Line: z.array(paymentLineSchema).default([]),
});
const paymentEnvelope = z.looseObject({ Payment: qboPaymentSchema });
export type QboPayment = z.infer<typeof qboPaymentSchema>;

/** A QuickBooks payment (ours, or a bookkeeper's for qboPayments.ts). */
export async function readPayment(ctx: FlowContext, paymentId: string): Promise<QboPayment> {
  const answer = await ctx.qbo.http.request({
    method: 'GET',
    path: `/payment/${encodeURIComponent(paymentId)}`,
    schema: paymentEnvelope,
  });
  return answer.Payment;
}

async function writePayment(
  ctx: FlowContext,
  write: { path: string; query?: Record<string, string>; body: Record<string, unknown>; requestId: string },
): Promise<QboPayment> {
  const answer = await ctx.qbo.http.request({
    method: 'POST',
    path: write.path,
    ...(write.query ? { query: write.query } : {}),
    body: write.body,
    requestId: write.requestId,
    schema: paymentEnvelope,
  });
  return answer.Payment;
}

// ---- sweep ----------------------------------------------------------------------------------------------------

const SWEEP_CURSOR = 'invoices';
/** How far back (by issue date) the sweep also lists invoices in any status, to catch new ones already paid or voided. */
const RECENT_ISSUE_DAYS = 31;
const DAY_MS = 24 * 60 * 60_000;
const SWEEP_EVERY_MS = 5 * 60_000;

const sweepCursorSchema = z.object({ since: z.string() });

export interface SweepResult {
  seen: number;
  enqueued: number;
}

/**
 * HighLevel does not retry a failed webhook, so this sweep finds what webhooks did not bring. HighLevel's invoice
 * list filters by issue date only (startAt/endAt) and has no "updated since", so the sweep lists:
 * 1. every open invoice (status sent, partially_paid, payment_processing), whatever its issue date: these are
 *    the ones that can still be edited or paid;
 * 2. every invoice issued from RECENT_ISSUE_DAYS before the last sweep on: new invoices that were sent and then
 *    paid or voided between two sweeps are no longer open;
 * 3. and takes every invoice our links still believe open but that (1) did not list: it was paid, voided or
 *    deleted since.
 * An invoice is enqueued when its updatedAt differs from the one its link recorded (or it has no link and was
 * created after the connection). The job itself decides what, if anything, to write. Not covered: a draft with an
 * old issue date paid in full without ever being sent (it is never open and never recent).
 */
export async function sweepInvoices(
  ctx: FlowContext,
  options: { now?: Date; minIntervalMs?: number } = {},
): Promise<SweepResult> {
  const now = options.now ?? new Date();
  const stored = await readCursor<unknown>(ctx.db, ctx.connection.id, SWEEP_CURSOR);
  const cursor = sweepCursorSchema.safeParse(stored);
  // The engine offers a sweep at every poll (a minute by default); listing every open invoice that often is more
  // than a lost webhook needs, so a sweep runs at most every SWEEP_EVERY_MS.
  if (
    cursor.success &&
    now.getTime() - new Date(cursor.data.since).getTime() < (options.minIntervalMs ?? SWEEP_EVERY_MS)
  )
    return { seen: 0, enqueued: 0 };
  const since = new Date(cursor.success ? cursor.data.since : (ctx.connection.connectedAt ?? now).toISOString());
  const seen = new Map<string, HighLevelInvoice>();
  for (const status of OPEN) {
    for await (const invoice of ctx.hl.invoices.listAll({ status })) seen.set(invoice._id, invoice);
  }
  const openIds = new Set(seen.keys());
  const startAt = new Date(since.getTime() - RECENT_ISSUE_DAYS * DAY_MS).toISOString().slice(0, 10);
  for await (const invoice of ctx.hl.invoices.listAll({ startAt })) seen.set(invoice._id, invoice);

  const links = await listLinks(ctx.db, ctx.connection.id, ['invoice']);
  const byId = new Map(links.map((link) => [link.crmId, link]));
  // An invoice whose last run ended in an error a person must fix (recorded after its last change) would only
  // fail the same way again and repeat the error every sweep: it waits for the Retry button or a new change.
  const failed = await ctx.db.query<{ crm_id: string; at: Date | string }>(
    `SELECT crm_id, max(coalesce(last_seen_at, created_at)) AS at FROM activity WHERE connection_id = $1 AND flow = $2 AND status = 'error' AND resolved_at IS NULL
       AND crm_id = ANY($3::text[]) AND coalesce(detail->>'code', '') <> ALL($4::text[]) GROUP BY crm_id`,
    [ctx.connection.id, INVOICES_FLOW, [...seen.keys()], MISMATCH_CODES],
  );
  const failedAt = new Map(failed.rows.map((row) => [row.crm_id, new Date(row.at).getTime()]));
  // CRM invoices made by the import of old QuickBooks invoices (invoiceImport.ts) are history that never goes
  // back; the crmInvoice job ignores them, so the sweep does not offer them every time either.
  const imported = await linksByCrmIds(ctx.db, ctx.connection.id, 'importedInvoice', [...seen.keys()]);
  const importedIds = new Set(imported.map((link) => link.crmId));
  // A backfill under way brings its own old invoices, paced (history.ts): the sweep leaves them to it.
  const syncStart = (await syncStartOf(ctx, { settledOnly: true })) ?? new Date(0);
  const due = new Set<string>();
  for (const invoice of seen.values()) {
    const link = byId.get(invoice._id);
    if (link?.state === 'skipped' || importedIds.has(invoice._id)) continue;
    const errorAt = failedAt.get(invoice._id);
    if (errorAt !== undefined && (!invoice.updatedAt || errorAt >= new Date(invoice.updatedAt).getTime())) continue;
    if (!link) {
      if (invoice.status === 'draft') continue;
      const created = createdOf(invoice);
      if (created && new Date(created).getTime() < syncStart.getTime()) continue;
      due.add(invoice._id);
    } else if (link.crmUpdatedAt !== (invoice.updatedAt ?? null) || link.state !== 'linked') {
      due.add(invoice._id);
    }
  }
  for (const link of links) {
    if (
      link.state === 'linked' &&
      link.data.voided !== true &&
      OPEN.some((s) => s === link.data.status) &&
      !openIds.has(link.crmId)
    )
      due.add(link.crmId);
  }
  // Invoices with an open balance difference are looked at again: the job closes the error once both sides agree.
  const differing = await linkedWithOpenError(ctx.db, ctx.connection.id, 'invoice', {
    flow: INVOICES_FLOW,
    code: 'balance-mismatch',
    days: 7,
    limit: 500,
  });
  for (const crmId of differing) due.add(crmId);
  let enqueued = 0;
  const backlog = ctx.queue.backlog(QUEUES.crmInvoice, ctx.connection.id);
  for (const invoiceId of due) {
    const id = await ctx.queue.enqueue(
      QUEUES.crmInvoice,
      { connectionId: ctx.connection.id, key: `${ctx.connection.id}:invoice:${invoiceId}`, invoiceId, event: 'sweep' },
      { priority: await backlog.next() },
    );
    if (id) enqueued += 1;
  }
  await writeCursor(ctx.db, ctx.connection.id, SWEEP_CURSOR, { since: now.toISOString() });
  return { seen: seen.size, enqueued };
}

// ---- words ----------------------------------------------------------------------------------------------------

/** How people see the CRM invoice: its prefix and number ("INV-1042"), else its id. */
export function crmLabel(invoice: HighLevelInvoice): string {
  if (invoice.invoiceNumber === undefined || invoice.invoiceNumber === '') return invoice._id;
  return `${invoice.invoiceNumberPrefix ?? ''}${invoice.invoiceNumber}`;
}

export function money(minor: Minor, currency: string): string {
  const [whole = '', fraction] = formatMinor(minor, currency).split('.');
  const grouped = whole.replace(/\B(?=(\d{3})+$)/g, ',');
  return `${grouped}${fraction !== undefined ? `.${fraction}` : ''} ${currency}`;
}

// ---------------------------------------------------------------------------------------------------------
// The flow's declaration (src/sync/engine/flow.ts).

export const invoicesFlow = defineFlow({
  name: INVOICES_FLOW,
  summary: "CRM invoices -> QuickBooks invoices and their payments, for the invoice's whole life",
  jobs: {
    crmInvoice: defineJob({
      queue: QUEUES.crmInvoice,
      payload: payload({ invoiceId: z.string(), event: z.string().optional() }),
      run: async (ctx, data) => {
        // Invoices imported from QuickBooks are history: neither their creation nor their edits go back (invoiceImport.ts).
        if (await isImportedCrmInvoiceId(ctx, data.invoiceId)) return;
        await syncInvoice(ctx, data.invoiceId);
      },
      crmRef: (data) => ({ crmKind: 'invoice', crmId: data.invoiceId }),
      logIds: (data) => ({ invoiceId: data.invoiceId }),
    }),
  },
  linkKinds: [
    {
      kind: 'invoice',
      quickbooks: { entity: 'Invoice', noun: 'Invoice' },
      crm: { kinds: ['invoice'], noun: 'Invoice' },
    },
    { kind: 'payment', quickbooks: { entity: 'Payment', noun: 'Payment' } },
    ITEM_LINK,
  ],
  events: {
    highlevel: {
      // Every invoice event, whatever its type or whether it has one (HighLevel's Invoice* docs show none), asks
      // the same thing: re-read the invoice and bring QuickBooks in line.
      invoice: ({ type, recordId }) => ({
        job: 'crmInvoice',
        key: `invoice:${recordId}`,
        data: { invoiceId: recordId, event: type },
      }),
    },
  },
  sweep: (ctx, options) => sweepInvoices(ctx, options),
  reconciles: [
    { kind: 'invoices', writes: 'quickbooks', job: 'crmInvoice' },
    { kind: 'payments', writes: 'quickbooks', job: 'crmInvoice' },
  ],
});
