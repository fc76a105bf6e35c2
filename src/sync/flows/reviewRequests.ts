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
//   the request is an enrolment into a workflow the user chose from the location's own, a tag, or a direct
//   SMS/email (the default: a new location has no workflows, so it is the one mechanism that needs no setup).
// - A chosen workflow that was deleted since stops review requests: the connection gets one error saying so and how
//   to fix it; the requests that meet the same gap wait (state 'failed', reason 'workflow-missing') and are sent
//   again when the settings are saved (resumeWaitingReviewRequests).
import type { Invoice, Payment } from '../../quickbooks/entities.ts';
import { unlessNotFound } from '../../quickbooks/errors.ts';
import { select } from '../../quickbooks/query.ts';
import { HighLevelError } from '../../highlevel/errors.ts';
import type { HighLevelClient } from '../../highlevel/client.ts';
import { toMinorUnits } from '../../domain/money.ts';
import type { ReviewRequestSettings } from '../../store/connections.ts';
import { recordActivity, resolveErrors } from '../../store/activity.ts';
import type { Queryable } from '../../store/db.ts';
import type { FlowContext } from '../engine/context.ts';
import { contactIdForCustomer } from './qboCustomers.ts';
import { RetryLater, SyncError } from '../engine/errors.ts';
import type { JobQueue } from '../engine/queue.ts';
import { z } from 'zod';
import { QUEUES } from '../engine/queues.ts';
import { defineFlow, defineJob, payload } from '../engine/flow.ts';

export const REVIEW_REQUESTS_FLOW = 'reviewRequests';
const DEFAULT_TEXT = 'Thank you for your business! Would you take a minute to review us? {link}';
const DEFAULT_TEXT_WITHOUT_LINK =
  'Thank you for your business! Would you take a minute to tell us how we did? Just reply to this message.';
/** The error a connection gets (once while open) when its chosen workflow is gone. */
export const WORKFLOW_MISSING = 'review-workflow-missing';
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
    // An object deleted since the event paid nothing.
    const payment = await unlessNotFound(() => ctx.qbo.read('Payment', job.paymentId!));
    for (const id of paidInvoiceIds(payment)) invoiceIds.add(id);
  }
  for (const id of invoiceIds) {
    const invoice = await unlessNotFound(() => ctx.qbo.read('Invoice', id));
    if (invoice) await reviewRequestForPaidInvoice(ctx, invoice);
  }
}

function paidInvoiceIds(payment: Payment | undefined): string[] {
  if (!payment) return [];
  return payment.Line.flatMap((line) =>
    (line.LinkedTxn ?? []).filter((t) => t.TxnType === 'Invoice').map((t) => t.TxnId),
  );
}

/** Whether the invoice is paid in full: Balance 0 on a total above 0 (a voided invoice has both at 0). */
export function isPaidInFull(invoice: Pick<Invoice, 'Balance' | 'TotalAmt' | 'CurrencyRef'>): boolean {
  const currency = invoice.CurrencyRef?.value ?? 'USD';
  const total = toMinorUnits(invoice.TotalAmt ?? 0, currency, { rounding: 'halfUp' });
  const balance = toMinorUnits(invoice.Balance ?? 0, currency, { rounding: 'halfUp' });
  return total.ok && balance.ok && total.value > 0 && balance.value === 0;
}

/** The customer's earliest invoice: by TxnDate, then creation time, then Id (numeric). Voided (zero) invoices do not count. */
export function earliestInvoice<T extends Pick<Invoice, 'Id' | 'TxnDate' | 'TotalAmt' | 'MetaData'>>(
  invoices: readonly T[],
): T | undefined {
  const key = (i: T) =>
    [
      i.TxnDate ?? '9999-12-31',
      i.MetaData?.CreateTime ? new Date(i.MetaData.CreateTime).toISOString() : '',
      i.Id.padStart(20, '0'),
    ].join('|');
  return invoices
    .filter((i) => (i.TotalAmt ?? 0) !== 0)
    .sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0))[0];
}

async function reviewRequestForPaidInvoice(ctx: FlowContext, invoice: Invoice): Promise<void> {
  if (!isPaidInFull(invoice)) return;
  // An invoice paid before the connection existed is history, not an event to react to. QuickBooks times have whole
  // seconds: an invoice paid in the second the connection was made compares as paid before it unless the
  // connection's time is cut to its second too, and its review request would be missed.
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
    if (row.state === 'sending' && Number(row.age_ms) < ABANDONED_MS)
      throw new RetryLater(`a review request to contact ${contactId} is being sent by another job`);
    // 'failed' (refused before anything went out: Retry was pressed) or abandoned mid-send: a message or a workflow
    // enrolment is only repeated when its earlier attempt is known not to have gone out (a second enrolment can send a
    // second request when the workflow allows re-entry; the chaos run showed it); adding a tag is idempotent.
    const taken = await ctx.db.query(
      `UPDATE review_requests SET state = 'sending', method = $3, updated_at = now() WHERE connection_id = $1 AND contact_id = $2 AND state = $4`,
      [ctx.connection.id, contactId, settings.method, row.state],
    );
    if (taken.rowCount !== 1)
      throw new RetryLater(`a review request to contact ${contactId} is being sent by another job`);
    if (row.state === 'sending' && settings.method !== 'tag') {
      await finish(ctx, contactId, 'uncertain', null, {
        reason: 'the worker stopped while sending; the request may have gone out',
      });
      throw new SyncError(
        'review-uncertain',
        `A review request (${settings.method}) to contact ${contactId} may or may not have been sent (the worker stopped mid-send)`,
        "Check the contact's conversations and workflows in HighLevel; ledgerlink will not send it again on its own",
        { contactId, invoiceId: invoice.Id },
      );
    }
  }
  // What to send is settled before anything goes out: a failure here (the workflow is gone, HighLevel busy) leaves
  // the row 'failed', so that the next attempt sends without doubting an earlier one.
  let request: Prepared;
  try {
    request = await prepare(ctx, settings, contactId);
  } catch (error) {
    if (error instanceof WorkflowMissing) {
      await finish(ctx, contactId, 'failed', null, {
        reason: 'workflow-missing',
        workflowId: error.workflowId,
        invoiceId: invoice.Id,
      });
      await reportWorkflowMissing(ctx, error, contactId, invoice);
      return;
    }
    await finish(ctx, contactId, 'failed', null, { error: error instanceof Error ? error.message : String(error) });
    throw error;
  }
  let messageId: string | null = null;
  try {
    messageId = await send(ctx, request, contactId);
  } catch (error) {
    const refused =
      error instanceof HighLevelError && error.status >= 400 && error.status < 500 && error.status !== 429;
    if (settings.method !== 'tag' && !refused) {
      // A lost answer may hide a delivered message or enrolment: never send again by ourselves.
      await finish(ctx, contactId, 'uncertain', null, {
        error: error instanceof Error ? error.message : String(error),
      });
      throw new SyncError(
        'review-uncertain',
        `The review request (${settings.method}) to contact ${contactId} may or may not have been sent: ${error instanceof Error ? error.message : String(error)}`,
        "Check the contact's conversations and workflows in HighLevel; ledgerlink will not send it again on its own",
        { contactId, invoiceId: invoice.Id },
      );
    }
    if (refused) {
      await finish(ctx, contactId, 'failed', null, { error: error.message, status: error.status });
      throw new SyncError(
        'review-refused',
        `HighLevel refused the review request to contact ${contactId} (${settings.method}): ${error.message}`,
        settings.method === 'message'
          ? 'Check the contact has a phone/email and is not on Do Not Disturb, then press Retry'
          : 'Check the review-request settings in the dashboard, then press Retry',
        { contactId, invoiceId: invoice.Id, status: error.status },
      );
    }
    // Transient, for the tag method (idempotent): let the job retry (the row is taken over once abandoned).
    await ctx.db.query(
      `UPDATE review_requests SET state = 'failed', updated_at = now() WHERE connection_id = $1 AND contact_id = $2`,
      [ctx.connection.id, contactId],
    );
    throw error;
  }
  await ctx.db.transaction(async (tx) => {
    await finish(ctx, contactId, 'sent', messageId, { invoice: invoice.DocNumber ?? invoice.Id }, tx);
    await recordActivity(tx, {
      connectionId: ctx.connection.id,
      flow: REVIEW_REQUESTS_FLOW,
      status: 'ok',
      crmKind: 'contact',
      crmId: contactId,
      qboKind: 'Invoice',
      qboId: invoice.Id,
      message: `Asked contact ${contactId} for a review (${describeReviewRequest(settings)}): their first invoice ${invoice.DocNumber ?? invoice.Id} is paid`,
      detail: { method: settings.method, ...(messageId ? { messageId } : {}) },
    });
    await resolveErrors(tx, ctx.connection.id, REVIEW_REQUESTS_FLOW, contactId);
  });
}

async function finish(
  ctx: FlowContext,
  contactId: string,
  state: RequestRow['state'],
  messageId: string | null,
  detail: Record<string, unknown>,
  q: Pick<FlowContext['db'], 'query'> = ctx.db,
): Promise<void> {
  await q.query(
    `UPDATE review_requests SET state = $3, message_id = COALESCE($4, message_id), detail = $5, updated_at = now() WHERE connection_id = $1 AND contact_id = $2`,
    [ctx.connection.id, contactId, state, messageId, JSON.stringify(detail)],
  );
}

type Prepared =
  | { method: 'workflow'; workflowId: string }
  | { method: 'tag'; tag: string }
  | { method: 'message'; channel: 'SMS' | 'Email'; text: string };

class WorkflowMissing extends Error {
  constructor(
    readonly workflowId: string,
    readonly workflowName: string | undefined,
  ) {
    super(`workflow ${workflowId} is gone`);
  }
}

/** The request as it will be sent: the chosen workflow checked against the location's, the channel and text decided. */
async function prepare(ctx: FlowContext, settings: ReviewRequestSettings, contactId: string): Promise<Prepared> {
  switch (settings.method) {
    case 'workflow': {
      // Enrolling into a deleted workflow is not documented to fail (the emulator answers 400): it is checked first.
      const workflows = await ctx.hl.workflows.list();
      if (!workflows.some((w) => w.id === settings.workflowId))
        throw new WorkflowMissing(settings.workflowId, settings.workflowName);
      return { method: 'workflow', workflowId: settings.workflowId };
    }
    case 'tag':
      return { method: 'tag', tag: settings.tag };
    case 'message': {
      let channel: 'SMS' | 'Email';
      if (settings.channel === 'auto') {
        const contact = await ctx.hl.contacts.get(contactId);
        if (contact.phone) channel = 'SMS';
        else if (contact.email) channel = 'Email';
        else {
          throw new SyncError(
            'review-no-address',
            `Contact ${contactId} has neither a phone nor an email to send the review request to`,
            'Add a phone or an email to the contact in HighLevel (or its QuickBooks customer), then press Retry',
            { contactId },
          );
        }
      } else channel = settings.channel;
      return { method: 'message', channel, text: reviewText(settings.text, settings.reviewLink) };
    }
  }
}

/** The message text: `{link}` stands for the review link; a link the text does not place goes at its end. */
export function reviewText(text: string | undefined, link: string | undefined): string {
  if (!link) return (text ?? DEFAULT_TEXT_WITHOUT_LINK).replaceAll('{link}', '').replace(/\s+$/, '');
  const template = text ?? DEFAULT_TEXT;
  return template.includes('{link}') ? template.replaceAll('{link}', link) : `${template} ${link}`;
}

/** Sends the prepared request; returns the HighLevel messageId for direct messages. */
async function send(ctx: FlowContext, request: Prepared, contactId: string): Promise<string | null> {
  switch (request.method) {
    case 'workflow':
      await ctx.hl.contacts.addToWorkflow(contactId, request.workflowId);
      return null;
    case 'tag':
      await ctx.hl.contacts.addTags(contactId, [request.tag]);
      return null;
    case 'message': {
      const sent =
        request.channel === 'SMS'
          ? await ctx.hl.conversations.sendMessage({ type: 'SMS', contactId, message: request.text })
          : await ctx.hl.conversations.sendMessage({
              type: 'Email',
              contactId,
              subject: 'How did we do?',
              message: request.text,
              html: `<p>${escapeHtml(request.text)}</p>`,
            });
      return sent.messageId;
    }
  }
}

/**
 * The chosen workflow is gone: one open error per connection says so (with the job to Retry); a request meeting the
 * same gap meanwhile waits quietly, recorded as skipped, and goes out when the settings are saved.
 */
async function reportWorkflowMissing(
  ctx: FlowContext,
  missing: WorkflowMissing,
  contactId: string,
  invoice: Invoice,
): Promise<void> {
  const open = await openWorkflowMissingErrors(ctx.db, ctx.connection.id);
  const name = missing.workflowName ? `"${missing.workflowName}" (${missing.workflowId})` : missing.workflowId;
  if (open.length > 0) {
    await recordActivity(ctx.db, {
      connectionId: ctx.connection.id,
      flow: REVIEW_REQUESTS_FLOW,
      status: 'skipped',
      crmKind: 'contact',
      crmId: contactId,
      qboKind: 'Invoice',
      qboId: invoice.Id,
      message: `The review request to contact ${contactId} waits: the HighLevel workflow ${name} chosen for review requests no longer exists`,
      detail: { reason: 'workflow-missing', workflowId: missing.workflowId },
    });
    return;
  }
  throw new SyncError(
    WORKFLOW_MISSING,
    `The HighLevel workflow ${name} chosen for review requests no longer exists on the location, so no review request can be sent`,
    "Open the connection's Review requests settings and choose another workflow, or the direct SMS/email (needs no workflow), then save: the waiting review requests are sent then",
    { contactId, invoiceId: invoice.Id, workflowId: missing.workflowId },
  );
}

async function openWorkflowMissingErrors(db: Queryable, connectionId: string): Promise<number[]> {
  const rows = await db.query<{ id: string | number }>(
    `SELECT id FROM activity WHERE connection_id = $1 AND flow = $2 AND status = 'error' AND resolved_at IS NULL AND detail->>'code' = $3`,
    [connectionId, REVIEW_REQUESTS_FLOW, WORKFLOW_MISSING],
  );
  return rows.rows.map((r) => Number(r.id));
}

/**
 * After the review-request settings were saved: the open "workflow missing" errors are resolved and every request
 * that waited for a working mechanism runs again (its row is 'failed', so it is sent once, by the new settings).
 */
export async function resumeWaitingReviewRequests(
  db: Queryable,
  queue: JobQueue,
  connectionId: string,
): Promise<number> {
  const open = await openWorkflowMissingErrors(db, connectionId);
  if (open.length > 0) await db.query(`UPDATE activity SET resolved_at = now() WHERE id = ANY($1::bigint[])`, [open]);
  const waiting = await db.query<{ qbo_invoice_id: string }>(
    `SELECT qbo_invoice_id FROM review_requests WHERE connection_id = $1 AND state = 'failed' AND detail->>'reason' = 'workflow-missing'`,
    [connectionId],
  );
  let enqueued = 0;
  for (const row of waiting.rows) {
    const id = await queue.enqueue(QUEUES.qboInvoice, {
      connectionId,
      key: `${connectionId}:qbo-invoice:${row.qbo_invoice_id}`,
      invoiceId: row.qbo_invoice_id,
    });
    if (id) enqueued += 1;
  }
  return enqueued;
}

/** A mechanism a person chose, checked: a workflow must be one of the location's own (its name is kept for display). */
export async function checkedReviewRequest(
  hl: HighLevelClient,
  chosen: ReviewRequestSettings,
): Promise<ReviewRequestSettings> {
  if (chosen.method !== 'workflow') return chosen;
  const found = (await hl.workflows.list()).find((w) => w.id === chosen.workflowId);
  if (!found) {
    throw new SyncError(
      'review-workflow-unknown',
      `Workflow ${chosen.workflowId} is not one of the HighLevel location's workflows`,
      'Choose one of the workflows listed for the location, or the direct SMS/email',
      {},
    );
  }
  return { method: 'workflow', workflowId: found.id, ...(found.name ? { workflowName: found.name } : {}) };
}

/** What the card says of a connection's review requests that stopped: the open "workflow missing" error, if any. */
export async function reviewRequestProblem(db: Queryable, connectionId: string): Promise<string | null> {
  const open = await openWorkflowMissingErrors(db, connectionId);
  if (open.length === 0) return null;
  const row = await db.query<{ message: string }>(`SELECT message FROM activity WHERE id = $1`, [open[0]]);
  return row.rows[0]?.message ?? null;
}

/** The mechanism in force, in words (activity entries and the connection card). */
export function describeReviewRequest(settings: ReviewRequestSettings): string {
  switch (settings.method) {
    case 'workflow':
      return `enrolment in the HighLevel workflow ${settings.workflowName ? `"${settings.workflowName}"` : settings.workflowId}`;
    case 'tag':
      return `tag "${settings.tag}" added to the contact (a HighLevel workflow that starts on it sends the request)`;
    case 'message': {
      const channel =
        settings.channel === 'auto'
          ? 'SMS (email when the contact has no phone)'
          : settings.channel === 'SMS'
            ? 'SMS'
            : 'email';
      return `a direct ${channel} sent by ledgerlink, ${settings.reviewLink ? 'with the review link' : 'asking for a reply (no review link set)'}`;
    }
  }
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c] ?? c);
}

// ---------------------------------------------------------------------------------------------------------
// The flow's declaration (src/sync/engine/flow.ts).

export const reviewRequestsFlow = defineFlow({
  name: REVIEW_REQUESTS_FLOW,
  summary: "QuickBooks invoices paid in full -> a review request to the contact, after the contact's first invoice",
  jobs: {
    qboInvoice: defineJob({
      queue: QUEUES.qboInvoice,
      payload: payload({
        invoiceId: z.string().optional(),
        paymentId: z.string().optional(),
        operation: z.string().optional(),
      }),
      run: (ctx, data) =>
        syncQboInvoiceEvent(ctx, {
          ...(data.invoiceId !== undefined ? { invoiceId: data.invoiceId } : {}),
          ...(data.paymentId !== undefined ? { paymentId: data.paymentId } : {}),
        }),
      // The activity entries name the invoice by its id (a QuickBooks invoice's, for this flow).
      crmRef: (data) => (data.invoiceId !== undefined ? { crmKind: 'invoice', crmId: data.invoiceId } : undefined),
      logIds: (data) => ({ invoiceId: data.invoiceId, paymentId: data.paymentId }),
    }),
  },
  linkKinds: [],
  events: {
    quickbooks: {
      Invoice: ({ entityId, operation }) => ({
        job: 'qboInvoice',
        key: `qbo-invoice:${entityId}`,
        data: { invoiceId: entityId, operation },
      }),
    },
  },
});
