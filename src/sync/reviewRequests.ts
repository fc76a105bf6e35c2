// When a contact's first QuickBooks invoice is paid in full, the CRM asks that contact for a review: once per
// contact and connection, ever, when the connection's toggle is on.
//
// - "Paid in full" is the invoice's Balance reaching 0 on a non-zero total, by whatever means (a payment recorded
//   in QuickBooks, or one synced there from the CRM): both end up as QuickBooks invoice/payment changes, which
//   webhooks and change data capture bring to QUEUES.qboInvoice.
// - "First" is the customer's earliest invoice in QuickBooks (TxnDate, then creation): a later invoice being paid
//   never sends a request, even when the first is still open.
// - "Once": a review_requests row, unique per (connection, contact), is written BEFORE sending. A duplicate event,
//   a restart or a second job finds it and sends nothing. HighLevel has no public reviews API (reference §7), so
//   the request is a workflow enrolment, a tag, or a direct SMS/email, chosen per connection.
import type { Invoice, Payment } from '../quickbooks/entities.ts';
import { isNotFound as isQuickBooksNotFound } from '../quickbooks/errors.ts';
import { select } from '../quickbooks/query.ts';
import { HighLevelError } from '../highlevel/errors.ts';
import { toMinorUnits } from '../domain/money.ts';
import type { ReviewRequestSettings } from '../store/connections.ts';
import { recordActivity, resolveErrors } from '../store/activity.ts';
import type { FlowContext } from './context.ts';
import { contactIdForCustomer } from './contactImport.ts';
import { RetryLater, SyncError } from './errors.ts';

export const REVIEW_REQUESTS_FLOW = 'reviewRequests';
/** The workflow every HighLevel location is offered for review requests (used when none was chosen). */
export const DEFAULT_REVIEW_WORKFLOW = 'Send Review Request';
const DEFAULT_TEXT = 'Thank you for your business! Would you take a minute to review us? {link}';
/** A 'sending' row older than this was left by a worker that died mid-send. */
const ABANDONED_MS = 2 * 60_000;

export interface QboInvoiceJob {
  invoiceId?: string;
  paymentId?: string;
  operation?: string;
}

/** QUEUES.qboInvoice: an invoice or payment changed in QuickBooks. */
export async function syncQboInvoiceEvent(ctx: FlowContext, job: QboInvoiceJob): Promise<void> {
  if (!ctx.connection.reviewRequests) return;
  const invoiceIds = new Set<string>();
  if (job.invoiceId) invoiceIds.add(job.invoiceId);
  if (job.paymentId) {
    const payment = await readOrUndefined(() => ctx.qbo.read('Payment', job.paymentId!));
    for (const id of paidInvoiceIds(payment)) invoiceIds.add(id);
  }
  for (const id of invoiceIds) {
    const invoice = await readOrUndefined(() => ctx.qbo.read('Invoice', id));
    if (invoice) await reviewRequestForPaidInvoice(ctx, invoice);
  }
}

function paidInvoiceIds(payment: Payment | undefined): string[] {
  if (!payment) return [];
  return payment.Line.flatMap((line) => (line.LinkedTxn ?? []).filter((t) => t.TxnType === 'Invoice').map((t) => t.TxnId));
}

async function readOrUndefined<T>(read: () => Promise<T>): Promise<T | undefined> {
  try {
    return await read();
  } catch (error) {
    if (isQuickBooksNotFound(error)) return undefined; // deleted since the event: nothing was paid by it
    throw error;
  }
}

/** Whether the invoice is paid in full: Balance 0 on a total above 0 (a voided invoice has both at 0). */
export function isPaidInFull(invoice: Pick<Invoice, 'Balance' | 'TotalAmt' | 'CurrencyRef'>): boolean {
  const currency = invoice.CurrencyRef?.value ?? 'USD';
  const total = toMinorUnits(invoice.TotalAmt ?? 0, currency, { rounding: 'halfUp' });
  const balance = toMinorUnits(invoice.Balance ?? 0, currency, { rounding: 'halfUp' });
  return total.ok && balance.ok && total.value > 0 && balance.value === 0;
}

/** The customer's earliest invoice: by TxnDate, then creation time, then Id (numeric). Voided (zero) invoices do not count. */
export function earliestInvoice<T extends Pick<Invoice, 'Id' | 'TxnDate' | 'TotalAmt' | 'MetaData'>>(invoices: readonly T[]): T | undefined {
  const key = (i: T) => [i.TxnDate ?? '9999-12-31', i.MetaData?.CreateTime ? new Date(i.MetaData.CreateTime).toISOString() : '', i.Id.padStart(20, '0')].join('|');
  return invoices.filter((i) => (i.TotalAmt ?? 0) !== 0).sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0))[0];
}

async function reviewRequestForPaidInvoice(ctx: FlowContext, invoice: Invoice): Promise<void> {
  if (!isPaidInFull(invoice)) return;
  // An invoice paid before the connection existed is history, not an event to react to. QuickBooks times have whole
  // seconds: an invoice paid in the second the connection was made compares as paid before it unless the
  // connection's time is cut to its second too (the review request was then missed, about one run in three of the
  // tests that pay right after connecting).
  const updated = invoice.MetaData?.LastUpdatedTime;
  const connectedSecond = ctx.connection.connectedAt && Math.floor(ctx.connection.connectedAt.getTime() / 1000) * 1000;
  if (connectedSecond && updated && Date.parse(updated) < connectedSecond) return;
  const customerId = invoice.CustomerRef.value;
  const theirs = await ctx.qbo.queryAll(select('Invoice').where('CustomerRef', '=', customerId));
  const all: Invoice[] = [];
  for await (const i of theirs) all.push(i);
  const first = earliestInvoice(all);
  if (!first || first.Id !== invoice.Id) return;
  const contactId = await contactIdForCustomer(ctx, customerId);
  if (!contactId) {
    throw new SyncError(
      'review-no-contact',
      `QuickBooks customer ${customerId} paid its first invoice ${invoice.DocNumber ?? invoice.Id}, but has no CRM contact to ask for a review`,
      'See the contacts activity for why the customer was not brought into the CRM, fix it, then press Retry',
      { customerId, invoiceId: invoice.Id },
    );
  }
  await sendOnce(ctx, contactId, customerId, invoice);
}

interface RequestRow {
  state: 'sending' | 'sent' | 'failed' | 'uncertain';
  age_ms: string | number;
}

async function sendOnce(ctx: FlowContext, contactId: string, customerId: string, invoice: Invoice): Promise<void> {
  const settings = ctx.connection.settings.reviewRequest;
  const claimed = await ctx.db.query(
    `INSERT INTO review_requests (connection_id, contact_id, qbo_customer_id, qbo_invoice_id, method) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (connection_id, contact_id) DO NOTHING`,
    [ctx.connection.id, contactId, customerId, invoice.Id, settings.method],
  );
  if (claimed.rowCount !== 1) {
    const row = (
      await ctx.db.query<RequestRow>(
        `SELECT state, EXTRACT(EPOCH FROM (now() - updated_at)) * 1000 AS age_ms FROM review_requests WHERE connection_id = $1 AND contact_id = $2`,
        [ctx.connection.id, contactId],
      )
    ).rows[0];
    if (!row || row.state === 'sent' || row.state === 'uncertain') return;
    if (row.state === 'sending' && Number(row.age_ms) < ABANDONED_MS) throw new RetryLater(`a review request to contact ${contactId} is being sent by another job`);
    // 'failed' (refused before anything went out: Retry was pressed) or abandoned mid-send: a message or a workflow
    // enrolment is only repeated when its earlier attempt is known not to have gone out (a second enrolment can send a
    // second request when the workflow allows re-entry; the chaos run showed it); adding a tag is idempotent.
    const taken = await ctx.db.query(
      `UPDATE review_requests SET state = 'sending', method = $3, updated_at = now() WHERE connection_id = $1 AND contact_id = $2 AND state = $4`,
      [ctx.connection.id, contactId, settings.method, row.state],
    );
    if (taken.rowCount !== 1) throw new RetryLater(`a review request to contact ${contactId} is being sent by another job`);
    if (row.state === 'sending' && settings.method !== 'tag') {
      await finish(ctx, contactId, 'uncertain', null, { reason: 'the worker stopped while sending; the request may have gone out' });
      throw new SyncError(
        'review-uncertain',
        `A review request (${settings.method}) to contact ${contactId} may or may not have been sent (the worker stopped mid-send)`,
        'Check the contact\'s conversations and workflows in HighLevel; ledgerlink will not send it again on its own',
        { contactId, invoiceId: invoice.Id },
      );
    }
  }
  let messageId: string | null = null;
  try {
    messageId = await send(ctx, settings, contactId);
  } catch (error) {
    const refused = error instanceof HighLevelError && error.status >= 400 && error.status < 500 && error.status !== 429;
    if (settings.method !== 'tag' && !refused) {
      // A lost answer may hide a delivered message or enrolment: never send again by ourselves.
      await finish(ctx, contactId, 'uncertain', null, { error: error instanceof Error ? error.message : String(error) });
      throw new SyncError(
        'review-uncertain',
        `The review request (${settings.method}) to contact ${contactId} may or may not have been sent: ${error instanceof Error ? error.message : String(error)}`,
        'Check the contact\'s conversations and workflows in HighLevel; ledgerlink will not send it again on its own',
        { contactId, invoiceId: invoice.Id },
      );
    }
    if (refused) {
      await finish(ctx, contactId, 'failed', null, { error: error.message, status: error.status });
      throw new SyncError(
        'review-refused',
        `HighLevel refused the review request to contact ${contactId} (${settings.method}): ${error.message}`,
        settings.method === 'message' ? 'Check the contact has a phone/email and is not on Do Not Disturb, then press Retry' : 'Check the review-request settings in the dashboard, then press Retry',
        { contactId, invoiceId: invoice.Id, status: error.status },
      );
    }
    // Transient, for the tag method (idempotent): let the job retry (the row is taken over once abandoned).
    await ctx.db.query(`UPDATE review_requests SET state = 'failed', updated_at = now() WHERE connection_id = $1 AND contact_id = $2`, [ctx.connection.id, contactId]);
    throw error;
  }
  await ctx.db.transaction(async (tx) => {
    await finish(ctx, contactId, 'sent', messageId, { invoice: invoice.DocNumber ?? invoice.Id }, tx);
    await recordActivity(tx, {
      connectionId: ctx.connection.id, flow: REVIEW_REQUESTS_FLOW, status: 'ok', crmKind: 'contact', crmId: contactId, qboKind: 'Invoice', qboId: invoice.Id,
      message: `Asked contact ${contactId} for a review (${describe(settings)}): their first invoice ${invoice.DocNumber ?? invoice.Id} is paid`,
      detail: { method: settings.method, ...(messageId ? { messageId } : {}) },
    });
    await resolveErrors(tx, ctx.connection.id, REVIEW_REQUESTS_FLOW, contactId);
  });
}

async function finish(ctx: FlowContext, contactId: string, state: RequestRow['state'], messageId: string | null, detail: Record<string, unknown>, q: Pick<FlowContext['db'], 'query'> = ctx.db): Promise<void> {
  await q.query(
    `UPDATE review_requests SET state = $3, message_id = COALESCE($4, message_id), detail = $5, updated_at = now() WHERE connection_id = $1 AND contact_id = $2`,
    [ctx.connection.id, contactId, state, messageId, JSON.stringify(detail)],
  );
}

/** Sends the request by the connection's method; returns the HighLevel messageId for direct messages. */
async function send(ctx: FlowContext, settings: ReviewRequestSettings, contactId: string): Promise<string | null> {
  switch (settings.method) {
    case 'workflow': {
      const workflowId = settings.workflowId ?? (await defaultWorkflowId(ctx));
      await ctx.hl.contacts.addToWorkflow(contactId, workflowId);
      return null;
    }
    case 'tag':
      await ctx.hl.contacts.addTags(contactId, [settings.tag]);
      return null;
    case 'message': {
      const text = (settings.text ?? DEFAULT_TEXT).includes('{link}') ? (settings.text ?? DEFAULT_TEXT).replaceAll('{link}', settings.reviewLink) : `${settings.text} ${settings.reviewLink}`;
      const sent =
        settings.channel === 'SMS'
          ? await ctx.hl.conversations.sendMessage({ type: 'SMS', contactId, message: text })
          : await ctx.hl.conversations.sendMessage({ type: 'Email', contactId, subject: 'How did we do?', message: text, html: `<p>${escapeHtml(text)}</p>` });
      return sent.messageId;
    }
  }
}

async function defaultWorkflowId(ctx: FlowContext): Promise<string> {
  const workflows = await ctx.hl.workflows.list();
  const found = workflows.find((w) => w.name?.trim().toLowerCase() === DEFAULT_REVIEW_WORKFLOW.toLowerCase());
  if (!found) {
    throw new SyncError(
      'review-workflow-missing',
      `The HighLevel location has no "${DEFAULT_REVIEW_WORKFLOW}" workflow, and none was chosen for review requests`,
      'Choose the review-request workflow (or another method) in the connection settings, then press Retry',
      {},
    );
  }
  return found.id;
}

function describe(settings: ReviewRequestSettings): string {
  switch (settings.method) {
    case 'workflow':
      return settings.workflowId ? `workflow ${settings.workflowId}` : `workflow "${DEFAULT_REVIEW_WORKFLOW}"`;
    case 'tag':
      return `tag "${settings.tag}"`;
    case 'message':
      return `${settings.channel} with the review link`;
  }
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c] ?? c);
}
