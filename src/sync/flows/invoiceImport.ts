// Old invoices (optional, chosen at connection or later on the card): every QuickBooks invoice that existed when the
// connection went live is copied once into the CRM, for the contact of its customer, with the same number, dates,
// lines, totals and status (paid, partly paid, void; an open one sent and due, marked sent without a message to the
// customer). They are history: the link kind 'importedInvoice' marks them, and the CRM -> QuickBooks invoice flow
// must leave them alone (isImportedCrmInvoice), so neither their creation nor later edits in the CRM ever reach
// QuickBooks. Resumable like the customer import (cursor 'invoice-import'); once finished it never runs again.
import { randomUUID } from 'node:crypto';
import type { Invoice as QboInvoice, Line } from '../../quickbooks/entities.ts';
import { count, select } from '../../quickbooks/query.ts';
import type { CreateInvoiceInput, Invoice as CrmInvoice, InvoiceItemInput } from '../../highlevel/invoices.ts';
import { majorFromMinor, toMinorUnits, formatMinor } from '../../domain/money.ts';
import {
  findLinkByQboId,
  linkOrClaimNaming,
  linkOrClaimsPending,
  saveLinkIfAbsent,
  type Link,
} from '../../store/links.ts';
import { claimRecord, commitClaim, markClaimMayExist, takeOverClaim } from '../../store/linkClaims.ts';
import type { Queryable } from '../../store/db.ts';
import { recordActivity } from '../../store/activity.ts';
import { readCursor, writeCursor } from '../../store/cursors.ts';
import type { FlowContext } from '../engine/context.ts';
import { contactIdForCustomer } from './qboCustomers.ts';
import { keepDailyReserve } from '../services/dailyReserve.ts';
import { RetryLater, SyncError } from '../engine/errors.ts';
import { QUEUES } from '../engine/queues.ts';
import { defineFlow, defineJob, payload } from '../engine/flow.ts';

export const INVOICE_IMPORT_FLOW = 'invoiceImport';
export const INVOICE_IMPORT_CURSOR = 'invoice-import';
/** Written in the CRM invoice's terms, where people and other flows can see where it came from. */
export const IMPORTED_MARKER = 'Imported from QuickBooks';
const PAGE_SIZE = 100;
const SLICE_MS = 8_000;

export interface InvoiceImportProgress {
  position: number;
  done: number;
  total: number;
  imported: number;
  skipped: number;
  failed: number;
  /** Invoices created in QuickBooks up to this instant are imported (the connection time). */
  cutoff: string;
  startedAt: string;
  finishedAt?: string;
}

export const importInvoicesKey = (connectionId: string) => `${connectionId}:import:invoices`;

/**
 * Whether a CRM invoice is one ledgerlink imported from QuickBooks (so the CRM -> QuickBooks invoice flow must skip
 * it). True for a committed link, for an import still in flight (its claim names the invoice number), and for any
 * invoice carrying the import marker in its terms.
 */
export async function isImportedCrmInvoice(
  q: Queryable,
  connectionId: string,
  invoice: Pick<CrmInvoice, '_id' | 'invoiceNumber'> & { termsNotes?: unknown },
): Promise<boolean> {
  if (typeof invoice.termsNotes === 'string' && invoice.termsNotes.startsWith(IMPORTED_MARKER)) return true;
  return linkOrClaimNaming(q, connectionId, 'importedInvoice', invoice._id, {
    field: 'invoiceNumber',
    value: invoice.invoiceNumber ?? '\u0000',
  });
}

/**
 * The guard the CRM -> QuickBooks invoice queue runs first: an imported invoice (committed, or still being imported:
 * then its claim names the number, which means reading the invoice) never goes to QuickBooks.
 */
export async function isImportedCrmInvoiceId(ctx: FlowContext, invoiceId: string): Promise<boolean> {
  const found = await linkOrClaimsPending(ctx.db, ctx.connection.id, 'importedInvoice', invoiceId);
  if (found === 'linked') return true;
  if (found === 'none') return false;
  const invoice = await ctx.hl.invoices.get(invoiceId).catch(() => undefined);
  return invoice ? isImportedCrmInvoice(ctx.db, ctx.connection.id, invoice) : false;
}

/** One slice of the import; queues the next slice until every invoice up to the cutoff has been seen. */
export async function importInvoices(ctx: FlowContext): Promise<InvoiceImportProgress | undefined> {
  const { db, connection } = ctx;
  if (!connection.importOldInvoices) return undefined;
  let progress = await readCursor<InvoiceImportProgress>(db, connection.id, INVOICE_IMPORT_CURSOR);
  if (progress?.finishedAt) return progress;
  if (!progress) {
    const cutoff = (connection.connectedAt ?? new Date()).toISOString();
    const total = await ctx.qbo.count(count('Invoice').where('MetaData.CreateTime', '<=', cutoff));
    progress = {
      position: 1,
      done: 0,
      total,
      imported: 0,
      skipped: 0,
      failed: 0,
      cutoff,
      startedAt: new Date().toISOString(),
    };
    await writeCursor(db, connection.id, INVOICE_IMPORT_CURSOR, progress);
    await recordActivity(db, {
      connectionId: connection.id,
      flow: INVOICE_IMPORT_FLOW,
      status: 'info',
      message: `Importing ${total} QuickBooks invoices into the CRM`,
    });
  }
  const started = Date.now();
  while (Date.now() - started < SLICE_MS) {
    await keepDailyReserve(ctx, INVOICE_IMPORT_FLOW, 'The import of old invoices');
    const page = await ctx.qbo.query(
      select('Invoice')
        .where('MetaData.CreateTime', '<=', progress.cutoff)
        .orderBy('Id')
        .page(progress.position, PAGE_SIZE),
    );
    for (const invoice of page) {
      const outcome = await importOneSafely(ctx, invoice);
      progress[outcome] += 1;
    }
    progress.position += page.length;
    progress.done += page.length;
    progress.total = Math.max(progress.total, progress.done);
    if (page.length < PAGE_SIZE) {
      progress.finishedAt = new Date().toISOString();
      progress.total = progress.done;
      await writeCursor(db, connection.id, INVOICE_IMPORT_CURSOR, progress);
      await recordActivity(db, {
        connectionId: connection.id,
        flow: INVOICE_IMPORT_FLOW,
        status: 'info',
        message: `Imported ${progress.imported} of ${progress.done} QuickBooks invoices into the CRM (${progress.skipped} skipped, ${progress.failed} failed)`,
        detail: { ...progress },
      });
      return progress;
    }
    await writeCursor(db, connection.id, INVOICE_IMPORT_CURSOR, progress);
  }
  await ctx.queue.enqueue(QUEUES.importInvoices, {
    connectionId: connection.id,
    key: importInvoicesKey(connection.id),
  });
  return progress;
}

async function importOneSafely(ctx: FlowContext, invoice: QboInvoice): Promise<'imported' | 'skipped' | 'failed'> {
  try {
    return await importInvoice(ctx, invoice);
  } catch (error) {
    if (!(error instanceof SyncError)) throw error;
    await recordActivity(ctx.db, {
      connectionId: ctx.connection.id,
      flow: INVOICE_IMPORT_FLOW,
      status: 'error',
      qboKind: 'Invoice',
      qboId: invoice.Id,
      crmId: `qbo-invoice:${invoice.Id}`,
      message: error.message,
      detail: { code: error.code, fix: error.fix, ...error.detail },
    });
    return 'failed';
  }
}

const placeholder = (invoiceId: string) => `qbo-invoice:${invoiceId}`;
const claimOf = (ctx: FlowContext, invoiceId: string) =>
  ({ connectionId: ctx.connection.id, kind: 'importedInvoice', qboId: invoiceId }) as const;

/** Imports one QuickBooks invoice (idempotent: a linked invoice is left alone; a claim left by a crash looks first). */
export async function importInvoice(ctx: FlowContext, invoice: QboInvoice): Promise<'imported' | 'skipped'> {
  const link = await findLinkByQboId(ctx.db, ctx.connection.id, 'importedInvoice', invoice.Id);
  if (link?.state === 'linked' || link?.state === 'skipped') return link.state === 'linked' ? 'imported' : 'skipped';
  const contactId = await contactIdForCustomer(ctx, invoice.CustomerRef.value);
  const number = invoice.DocNumber ?? `QB-${invoice.Id}`;
  if (!contactId) {
    await saveLinkIfAbsent(ctx.db, {
      connectionId: ctx.connection.id,
      kind: 'importedInvoice',
      crmId: placeholder(invoice.Id),
      qboId: invoice.Id,
      origin: 'qbo',
      state: 'skipped',
      snapshotHash: null,
      qboSyncToken: null,
      qboUpdatedAt: null,
      crmUpdatedAt: null,
      data: { reason: 'its customer has no CRM contact', customerId: invoice.CustomerRef.value },
    });
    await recordActivity(ctx.db, {
      connectionId: ctx.connection.id,
      flow: INVOICE_IMPORT_FLOW,
      status: 'skipped',
      qboKind: 'Invoice',
      qboId: invoice.Id,
      message: `QuickBooks invoice ${number} not imported: its customer ${invoice.CustomerRef.name ?? invoice.CustomerRef.value} has no CRM contact (inactive, or see the contacts activity)`,
    });
    return 'skipped';
  }
  const holder = randomUUID();
  const mayExist = await claim(ctx, invoice.Id, number, holder, link);
  const company = await ctx.company();
  const contact = await ctx.hl.contacts.get(contactId);
  const mapped = crmInvoiceForQboInvoice(invoice, {
    contact: {
      id: contact.id,
      name:
        contact.name ??
        ([contact.firstName, contact.lastName].filter(Boolean).join(' ') || (invoice.CustomerRef.name ?? '')),
      email: contact.email ?? '',
      phoneNo: contact.phone ?? '',
    },
    homeCurrency: company.homeCurrency,
    businessName: ctx.connection.name,
  });
  let crm: CrmInvoice | undefined;
  if (mayExist) crm = await findImported(ctx, number, contactId);
  if (!crm) {
    await markClaimMayExist(ctx.db, claimOf(ctx, invoice.Id));
    crm = await ctx.hl.invoices.create(mapped.input);
  }
  // The import is one job per connection, so the claim is this job's own even if it is no longer pending.
  const committed = await commitClaim(
    ctx.db,
    claimOf(ctx, invoice.Id),
    {
      crmId: crm._id,
      origin: 'qbo',
      snapshotHash: null,
      qboSyncToken: invoice.SyncToken,
      qboUpdatedAt: null,
      crmUpdatedAt: null,
      data: {
        invoiceNumber: number,
        status: mapped.status,
        totalMinor: mapped.totalMinor,
        currency: mapped.input.currency,
      },
    },
    { whilePending: false },
  );
  if (committed === 'crm-id-taken')
    throw new Error(`CRM invoice ${crm._id} is linked to another QuickBooks invoice than ${invoice.Id}`);
  // Status after the link is committed: each step checks what the CRM invoice already holds, so a retry repeats none.
  const warnings = await applyStatus(ctx, crm, mapped);
  await recordActivity(ctx.db, {
    connectionId: ctx.connection.id,
    flow: INVOICE_IMPORT_FLOW,
    status: 'ok',
    crmKind: 'invoice',
    crmId: crm._id,
    qboKind: 'Invoice',
    qboId: invoice.Id,
    message: `Imported QuickBooks invoice ${number} (${formatMinor(mapped.totalMinor, mapped.input.currency)} ${mapped.input.currency}, ${mapped.status}) for contact ${contactId}`,
    ...(warnings.length > 0 ? { detail: { warnings } } : {}),
  });
  return 'imported';
}

async function claim(
  ctx: FlowContext,
  invoiceId: string,
  number: string,
  holder: string,
  link: Link | undefined,
): Promise<boolean> {
  if (!link) {
    const claimed = await claimRecord(ctx.db, {
      connectionId: ctx.connection.id,
      kind: 'importedInvoice',
      crmId: placeholder(invoiceId),
      qboId: invoiceId,
      origin: 'qbo',
      data: { holder, invoiceNumber: number, mayExist: false },
    });
    if (claimed) return false;
  }
  // A claim left by an earlier attempt: its create may have reached HighLevel. Nothing releases these claims (a
  // failed slice leaves its holder); the import runs as one job per connection, so a claim marked mayExist can only
  // be an earlier attempt's and is taken at once, and the lookup by number finds what it created.
  const taken = await takeOverClaim(ctx.db, claimOf(ctx, invoiceId), {
    holder,
    releasedIsFree: true,
    mayExistIsFree: true,
  });
  if (!taken) throw new RetryLater(`QuickBooks invoice ${invoiceId} is being imported by another job`);
  return taken.mayExist;
}

/** The CRM invoice an earlier attempt created: same number, same contact, carrying the import marker. */
async function findImported(ctx: FlowContext, number: string, contactId: string): Promise<CrmInvoice | undefined> {
  for await (const candidate of ctx.hl.invoices.listAll({ contactId, search: number })) {
    if (candidate.invoiceNumber === number && candidate.contactDetails?.id === contactId) return candidate;
  }
  return undefined;
}

/**
 * Brings the new CRM invoice to the status it has in QuickBooks. A CRM invoice is created as a draft; an invoice
 * still open in QuickBooks was sent to its customer there, so the CRM copy is marked sent (and so due) without
 * sending it again: POST /invoices/{id}/send with action `send_manually` (docs/api-evidence.md). Returns warnings for
 * the activity entry.
 */
async function applyStatus(ctx: FlowContext, crm: CrmInvoice, mapped: MappedInvoice): Promise<string[]> {
  const currency = mapped.input.currency;
  const paid = toMinorUnits(crm.amountPaid ?? 0, currency, { rounding: 'halfUp' });
  const alreadyPaid = paid.ok ? paid.value : 0;
  if (mapped.status === 'void') {
    if (crm.status !== 'void') await ctx.hl.invoices.void(crm._id);
    return [];
  }
  const owed = mapped.paidMinor - alreadyPaid;
  if (owed > 0) {
    await ctx.hl.invoices.recordPayment(crm._id, {
      mode: 'other',
      amount: majorFromMinor(owed, currency),
      notes: `${IMPORTED_MARKER}: paid there before the connection`,
    });
  }
  if (mapped.status === 'open' && crm.status === 'draft') {
    const userId = ctx.connection.settings.highLevelUserId;
    if (!userId) {
      return [
        'Left as a draft: marking it sent needs the HighLevel user who authorised ledgerlink, which this connection does not know yet (it learns it when HighLevel is reconnected); send it manually in HighLevel to show it as due',
      ];
    }
    await ctx.hl.invoices.send(crm._id, {
      userId,
      action: 'send_manually',
      liveMode: crm.liveMode ?? mapped.input.liveMode,
    });
  }
  return [];
}

export interface MappedInvoice {
  input: CreateInvoiceInput;
  status: 'paid' | 'partially_paid' | 'void' | 'open';
  totalMinor: number;
  paidMinor: number;
}

/**
 * QuickBooks invoice -> CRM invoice input (pure). Lines keep their quantity and unit price when those reproduce the
 * line amount exactly in the currency's minor units; otherwise the line becomes 1 × its amount (QuickBooks allows
 * 7-decimal unit prices, HighLevel recomputes qty × price). Tax becomes one line of its own and a discount a fixed
 * discount, so the CRM total equals QuickBooks' TotalAmt to the cent (checked).
 */
export function crmInvoiceForQboInvoice(
  invoice: QboInvoice,
  options: {
    contact: { id: string; name: string; email: string; phoneNo: string };
    homeCurrency: string;
    businessName: string;
  },
): MappedInvoice {
  const currency = (invoice.CurrencyRef?.value ?? options.homeCurrency).toUpperCase();
  const minor = (value: number | undefined, what: string): number => {
    const m = toMinorUnits(value ?? 0, currency, { rounding: 'halfUp' });
    if (!m.ok)
      throw new SyncError(
        'invoice-amount',
        `QuickBooks invoice ${invoice.DocNumber ?? invoice.Id}: ${what} ${value} is not an amount in ${currency}`,
        'Correct the invoice in QuickBooks, then press Retry',
        { invoiceId: invoice.Id },
      );
    return m.value;
  };
  const items: InvoiceItemInput[] = [];
  let linesMinor = 0;
  let discountMinor = 0;
  for (const line of invoice.Line) {
    if (line.DetailType === 'SalesItemLineDetail') {
      const amount = minor(line.Amount, 'line amount');
      linesMinor += amount;
      items.push(itemFor(line, amount, currency));
    } else if (line.DetailType === 'DiscountLineDetail') {
      discountMinor += minor(line.Amount, 'discount');
    }
  }
  const taxMinor = minor(invoice.TxnTaxDetail?.TotalTax, 'tax');
  if (taxMinor !== 0) {
    items.push({
      name: 'Tax',
      description: 'Tax as calculated by QuickBooks',
      currency,
      amount: majorFromMinor(taxMinor, currency),
      qty: 1,
    });
    linesMinor += taxMinor;
  }
  const voided = invoice.PrivateNote === 'Voided' && (invoice.TotalAmt ?? 0) === 0;
  if (items.length === 0)
    items.push({ name: voided ? 'Voided in QuickBooks' : 'Invoice', currency, amount: 0, qty: 1 });
  const totalMinor = minor(invoice.TotalAmt, 'total');
  const computed = linesMinor - discountMinor;
  if (computed !== totalMinor) {
    throw new SyncError(
      'invoice-total-mismatch',
      `QuickBooks invoice ${invoice.DocNumber ?? invoice.Id} totals ${formatMinor(totalMinor, currency)} ${currency}, but its lines, tax and discount add up to ${formatMinor(computed, currency)}`,
      'Check the invoice in QuickBooks (shipping or deposit lines are not imported), then press Retry',
      { invoiceId: invoice.Id },
    );
  }
  const balanceMinor = minor(invoice.Balance, 'balance');
  const paidMinor = Math.max(0, totalMinor - balanceMinor);
  const status: MappedInvoice['status'] = voided
    ? 'void'
    : totalMinor > 0 && balanceMinor === 0
      ? 'paid'
      : paidMinor > 0
        ? 'partially_paid'
        : 'open';
  const number = invoice.DocNumber ?? `QB-${invoice.Id}`;
  const issueDate = invoice.TxnDate ?? new Date().toISOString().slice(0, 10);
  const input: CreateInvoiceInput = {
    name: `QuickBooks invoice ${number}`,
    title: 'INVOICE',
    currency,
    issueDate,
    dueDate: invoice.DueDate ?? issueDate,
    invoiceNumber: number,
    // The number is QuickBooks' as printed: no CRM prefix in front of it.
    invoiceNumberPrefix: '',
    businessDetails: { name: options.businessName },
    contactDetails: options.contact,
    items,
    discount: { type: 'fixed', value: majorFromMinor(discountMinor, currency) },
    sentTo: { email: options.contact.email ? [options.contact.email] : [] },
    liveMode: true,
    termsNotes: `${IMPORTED_MARKER} (invoice ${number}). Changes made here are not sent to QuickBooks.`,
  };
  return { input, status, totalMinor, paidMinor };
}

function itemFor(line: Line, amountMinor: number, currency: string): InvoiceItemInput {
  const detail = line.SalesItemLineDetail;
  const name = detail?.ItemRef?.name ?? line.Description ?? 'Item';
  const qty = detail?.Qty;
  const unit = detail?.UnitPrice;
  const base = { name, currency, ...(line.Description ? { description: line.Description } : {}) };
  if (qty !== undefined && unit !== undefined && qty > 0 && Number.isInteger(qty)) {
    const unitMinor = toMinorUnits(unit, currency, { rounding: 'reject' });
    if (unitMinor.ok && unitMinor.value * qty === amountMinor)
      return { ...base, amount: majorFromMinor(unitMinor.value, currency), qty };
  }
  const note = qty !== undefined && unit !== undefined ? `${qty} × ${unit}` : undefined;
  return {
    ...base,
    amount: majorFromMinor(amountMinor, currency),
    qty: 1,
    ...(note ? { description: line.Description ? `${line.Description} (${note})` : note } : {}),
  };
}

// ---------------------------------------------------------------------------------------------------------
// The flow's declaration (src/sync/engine/flow.ts).

export const invoiceImportFlow = defineFlow({
  name: INVOICE_IMPORT_FLOW,
  summary: 'At connection, when chosen: every existing QuickBooks invoice -> a CRM invoice, once',
  jobs: {
    importInvoices: defineJob({
      queue: QUEUES.importInvoices,
      payload: payload({}),
      run: (ctx) => importInvoices(ctx),
      // One slice at a time per process: each slice carries on from the cursor the last one wrote.
      concurrency: () => 1,
    }),
  },
  linkKinds: [
    {
      kind: 'importedInvoice',
      quickbooks: { entity: 'Invoice', noun: 'Invoice' },
      crm: { kinds: ['invoice'], noun: 'Invoice' },
    },
  ],
});
