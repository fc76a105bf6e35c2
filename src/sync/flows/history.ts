// History from a chosen date (optional, at connection or later from the card): the CRM payments and sent CRM invoices
// made from that date up to the connection are brought into QuickBooks, which the flows otherwise leave out ("before
// the connection", src/sync/services/syncStart.ts). A dry run first lists what would be written (counts, totals per
// currency, the first records) and writes nothing; a run then hands each record to the job live events use
// (crmTransaction, crmInvoice), so links, claims and request ids keep it exactly-once whatever is repeated.
//
// The run is a slice job like the import of old invoices: it lists the records page by page, keeps its position in a
// cursor, and queues the next slice of itself, so a restart or a killed worker resumes from the cursor. Sharing with
// live traffic (docs/engine-primer.md, "History backfill and live traffic"):
// - priority: its record jobs are enqueued below every live job (HISTORY_PRIORITY), so a worker always takes a live
//   payment or invoice first;
// - window: at most HISTORY_WINDOW of its records are queued or running at once; the slice waits for them to settle
//   before it hands out more, so the queues never hold a backfill's thousands of jobs ahead of anything;
// - pace: the slice hands out records no faster than HISTORY_SHARE of each provider's rate limit allows for what a
//   record costs (historyLimit, paced by the store's limiter across processes), so live jobs still find most of the
//   budget; and it stops while HighLevel's daily budget is down to the reserve kept for live work (keepDailyReserve).
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { Invoice as HighLevelInvoice } from '../../highlevel/invoices.ts';
import type { Transaction } from '../../highlevel/payments.ts';
import { orderIdOf } from '../../highlevel/payments.ts';
import { formatMinor, toMinorUnits } from '../../domain/money.ts';
import { linksByCrmIds, type Link } from '../../store/links.ts';
import { recordActivity } from '../../store/activity.ts';
import { readCursor, writeCursor, writeCursorIf } from '../../store/cursors.ts';
import type { LimitPolicy } from '../../store/rateLimits.ts';
import type { FlowContext } from '../engine/context.ts';
import { defineFlow, defineJob, enqueue, payload } from '../engine/flow.ts';
import { QUEUES } from '../engine/queues.ts';
import { keepDailyReserve } from '../services/dailyReserve.ts';
import { SYNC_START_CURSOR, skippedBeforeSyncStart, startOfDay, syncStartDates } from '../services/syncStart.ts';
import { CUSTOMER_IMPORT_CURSOR } from './contactImport.ts';
import { isImportedCrmInvoice } from './invoiceImport.ts';
import { POSTED_BY_HIGHLEVEL } from '../services/builtInQuickBooks.ts';
import { isCharged, standingReasonToSkip } from './salesReceipts.ts';
import { createdOf, SENT } from './invoices.ts';

export const HISTORY_FLOW = 'history';
/** The last backfill's progress (and, once ended, its summary). */
export const HISTORY_CURSOR = 'history';
/** The last dry run's result, shown on the card until a run starts. */
export const HISTORY_DRY_RUN_CURSOR = 'history-dry-run';
/** The run a person cancelled: a slice that reads its own run here stops. */
const HISTORY_CANCEL_CURSOR = 'history-cancel';
const HISTORY_QUEUE = 'history-backfill';
const HISTORY_DRY_RUN_QUEUE = 'history-dry-run';
export const historyKey = (connectionId: string) => `${connectionId}:history`;

const PAGE_SIZE = 100;
const SLICE_MS = 8_000;
/** How long a slice waits before it looks at its window again. */
const WAIT_MS = 500;
/**
 * Records of a backfill queued or running at once. A record's job has one request in flight at a time, so a backfill
 * holds at most 4 of the 10 requests QuickBooks lets a company have in flight: 6 stay free for live work.
 */
export const HISTORY_WINDOW = 4;
/**
 * The priority of a backfill's record jobs. Workers take the highest priority first; live jobs have 0 (webhooks)
 * or -k for the k-th job of a connection's backlog (JobQueue.backlog counts a backlog up to 100,000), so a
 * backfill's jobs come after every live one, and after any connection's live backlog.
 */
export const HISTORY_PRIORITY = -1_000_000;
/** The share of each provider's rate limit a backfill's records may use; the rest is left for live traffic. */
export const HISTORY_SHARE = 0.3;
/**
 * What one record costs each provider, in requests, at most in the common case: a payment reads its transaction and
 * its order in HighLevel, and in QuickBooks finds or creates its customer and writes its receipt (items found by name
 * are cached per connection); an invoice reads the invoice, then writes the invoice and a payment.
 */
const CALLS_PER_RECORD = { highlevel: 2, quickbooks: 4 };
/** How long a dry run stands as the plan of a backfill started from it. */
const PLAN_FRESH_MS = 15 * 60_000;
/** How many of the records the dry run lists by name. */
const SAMPLE_SIZE = 10;

/** The pacing keys of a connection's backfill (its HighLevel location, its QuickBooks company). */
const paceKeys = (ctx: FlowContext) => [
  `history:hl:${ctx.connection.hlLocationId ?? ''}`,
  `history:qbo:${ctx.connection.qboRealmId ?? ''}`,
];

/**
 * The store limiter's policy for a backfill's records (the engine's providerLimit hands it `history:` keys): a record
 * is handed out at most as often as HISTORY_SHARE of the provider's limit pays for what a record costs there. The
 * engine's limit factor scales these with the providers' own.
 */
export function historyLimit(key: string): LimitPolicy | undefined {
  if (key.startsWith('history:hl:'))
    // HighLevel: 100 requests per 10 s per location.
    return { limit: (100 * HISTORY_SHARE) / CALLS_PER_RECORD.highlevel, windowMs: 10_000, utilisation: 1, burst: 1 };
  if (key.startsWith('history:qbo:'))
    // QuickBooks: 500 requests a minute per company.
    return { limit: (500 * HISTORY_SHARE) / CALLS_PER_RECORD.quickbooks, windowMs: 60_000, utilisation: 1, burst: 1 };
  return undefined;
}

// ---- what a backfill would write ----------------------------------------------------------------------------

const DAY = /^\d{4}-\d{2}-\d{2}$/;
export const historyDateSchema = z
  .string()
  .regex(DAY, 'a date as YYYY-MM-DD')
  .refine((d) => !Number.isNaN(startOfDay(d).getTime()) && startOfDay(d).toISOString().slice(0, 10) === d, {
    message: 'not a calendar date',
  });

/** A chosen date that cannot be: in the future, or after the connection. Thrown before anything is read. */
export class HistoryDateError extends Error {
  override readonly name = 'HistoryDateError';
}

/** A backfill asked for while another runs, or a cancel with none running. */
export class HistoryStateError extends Error {
  override readonly name = 'HistoryStateError';
}

const totalsSchema = z.object({
  count: z.number().int(),
  /** Currency -> total in minor units. */
  byCurrency: z.record(z.string(), z.number().int()),
});
type Totals = z.infer<typeof totalsSchema>;

const sampleSchema = z.object({
  kind: z.enum(['payment', 'invoice']),
  id: z.string(),
  date: z.string(),
  amountMinor: z.number().int(),
  currency: z.string(),
  name: z.string(),
});

export const historyPlanSchema = z.object({
  from: z.string(),
  /** Records made before this instant (the connection time) are the backfill's; later ones are live. */
  until: z.string(),
  payments: totalsSchema,
  invoices: totalsSchema,
  /** The first records, oldest pages first as HighLevel lists them. */
  sample: z.array(sampleSchema),
  computedAt: z.string(),
});
export type HistoryPlan = z.infer<typeof historyPlanSchema>;

const candidateSchema = z.object({
  kind: z.enum(['payment', 'invoice']),
  id: z.string(),
  orderId: z.string().optional(),
  contactId: z.string().optional(),
});
type Candidate = z.infer<typeof candidateSchema>;

export const historyProgressSchema = z.object({
  runId: z.string(),
  from: z.string(),
  until: z.string(),
  state: z.enum(['waiting', 'running', 'finished', 'cancelled']),
  phase: z.enum(['payments', 'invoices', 'done']),
  /** The position in the current phase's list. */
  offset: z.number().int(),
  /** Listed, not yet handed to a job. */
  pending: z.array(candidateSchema),
  /** Handed to a job, not yet settled. */
  outstanding: z.array(candidateSchema),
  total: z.number().int(),
  done: z.number().int(),
  payments: z.number().int(),
  invoices: z.number().int(),
  skipped: z.number().int(),
  failed: z.number().int(),
  /** What the dry run found at the start. */
  planned: z.object({ payments: totalsSchema, invoices: totalsSchema }),
  startedAt: z.string(),
  finishedAt: z.string().optional(),
  cancelledAt: z.string().optional(),
});
export type HistoryProgress = z.infer<typeof historyProgressSchema>;

/** The window a date opens: from the start of its day (UTC) to the connection. Refuses a date that cannot be. */
export function historyWindow(ctx: Pick<FlowContext, 'connection'>, from: string): { from: Date; until: Date } {
  const parsed = historyDateSchema.safeParse(from);
  if (!parsed.success) throw new HistoryDateError(`"${from}" is not a date (YYYY-MM-DD)`);
  const connectedAt = ctx.connection.connectedAt;
  if (!connectedAt) throw new HistoryDateError('The connection is not live yet: connect both sides first');
  const start = startOfDay(from);
  const today = new Date().toISOString().slice(0, 10);
  if (from > today) throw new HistoryDateError(`${from} is in the future: choose a day on or before ${today}`);
  const connectedDay = connectedAt.toISOString().slice(0, 10);
  if (from > connectedDay)
    throw new HistoryDateError(
      `${from} is after the connection (${connectedDay}): records from then on are synced already; choose a day on or before ${connectedDay}`,
    );
  return { from: start, until: connectedAt };
}

const within = (at: string | undefined, window: { from: Date; until: Date }) => {
  if (!at) return false;
  const time = new Date(at).getTime();
  return time >= window.from.getTime() && time < window.until.getTime();
};

/** A page of transactions -> those the backfill would bring (the dry run and the run use the same rule). */
async function paymentsToBring(
  ctx: FlowContext,
  page: readonly Transaction[],
  window: { from: Date; until: Date },
): Promise<Transaction[]> {
  const inWindow = page.filter(
    (txn) => within(txn.createdAt ?? txn.fulfilledAt, window) && isCharged(txn) && !standingReasonToSkip(txn),
  );
  const links = await linksByCrmIds(
    ctx.db,
    ctx.connection.id,
    'salesReceipt',
    inWindow.map((t) => t._id),
  );
  const byId = new Map(links.map((link) => [link.crmId, link]));
  return inWindow.filter((txn) => leftForBackfill(byId.get(txn._id)));
}

/** A record without a link, or skipped only for its age, is the backfill's; one linked (or skipped otherwise) is not. */
function leftForBackfill(link: Link | undefined): boolean {
  if (!link) return true;
  if (link.data.postedBy === POSTED_BY_HIGHLEVEL) return false;
  return link.state === 'skipped' ? skippedBeforeSyncStart(link.data) : link.state === 'pending';
}

async function invoicesToBring(
  ctx: FlowContext,
  page: readonly HighLevelInvoice[],
  window: { from: Date; until: Date },
): Promise<HighLevelInvoice[]> {
  const inWindow = page.filter(
    (invoice) =>
      within(createdOf(invoice), window) &&
      // The statuses the invoice flow brings to QuickBooks (a void one only when money was received first).
      (SENT.has(invoice.status) || (invoice.status === 'void' && (invoice.amountPaid ?? 0) > 0)),
  );
  const links = await linksByCrmIds(
    ctx.db,
    ctx.connection.id,
    'invoice',
    inWindow.map((i) => i._id),
  );
  const byId = new Map(links.map((link) => [link.crmId, link]));
  const out: HighLevelInvoice[] = [];
  for (const invoice of inWindow) {
    if (!leftForBackfill(byId.get(invoice._id))) continue;
    // Invoices imported from QuickBooks are history that never goes back (invoiceImport.ts).
    if (await isImportedCrmInvoice(ctx.db, ctx.connection.id, invoice)) continue;
    out.push(invoice);
  }
  return out;
}

/** HighLevel's lists filter by UTC day; the window's own bounds are applied to each record after. */
const listFilter = (window: { from: Date; until: Date }) => ({
  startAt: window.from.toISOString().slice(0, 10),
  endAt: window.until.toISOString().slice(0, 10),
});

function minorOf(amount: number | undefined, currency: string): number {
  const minor = toMinorUnits(amount ?? 0, currency, { rounding: 'halfUp' });
  return minor.ok ? minor.value : 0;
}

function addTo(totals: Totals, currency: string, minor: number): void {
  totals.count += 1;
  totals.byCurrency[currency] = (totals.byCurrency[currency] ?? 0) + minor;
}

/**
 * The dry run: what a backfill from `from` would write, read from HighLevel and the links, writing nothing but its
 * own result (shown on the card). Throws HistoryDateError for a date that cannot be.
 */
export async function historyDryRun(ctx: FlowContext, from: string): Promise<HistoryPlan> {
  const window = historyWindow(ctx, from);
  const home = (await ctx.company()).homeCurrency.toUpperCase();
  const plan: HistoryPlan = {
    from,
    until: window.until.toISOString(),
    payments: { count: 0, byCurrency: {} },
    invoices: { count: 0, byCurrency: {} },
    sample: [],
    computedAt: new Date().toISOString(),
  };
  const sample = (entry: HistoryPlan['sample'][number]) => {
    if (plan.sample.length < SAMPLE_SIZE) plan.sample.push(entry);
  };
  for (let offset = 0; ; offset += PAGE_SIZE) {
    await keepDailyReserve(ctx, HISTORY_FLOW, 'The history dry run');
    const page = await ctx.hl.payments.listTransactions(listFilter(window), { limit: PAGE_SIZE, offset });
    for (const txn of await paymentsToBring(ctx, page.data, window)) {
      const currency = (txn.currency ?? home).toUpperCase();
      const minor = minorOf(txn.amount, currency);
      addTo(plan.payments, currency, minor);
      sample({
        kind: 'payment',
        id: txn._id,
        date: (txn.createdAt ?? txn.fulfilledAt ?? '').slice(0, 10),
        amountMinor: minor,
        currency,
        name: txn.contactName ?? txn.contactEmail ?? txn.contactId ?? 'Payment',
      });
    }
    if (page.data.length < PAGE_SIZE) break;
  }
  for (let offset = 0; ; offset += PAGE_SIZE) {
    await keepDailyReserve(ctx, HISTORY_FLOW, 'The history dry run');
    const page = await ctx.hl.invoices.list({ startAt: listFilter(window).startAt }, { limit: PAGE_SIZE, offset });
    for (const invoice of await invoicesToBring(ctx, page.invoices, window)) {
      const currency = (invoice.currency ?? home).toUpperCase();
      const minor = minorOf(invoice.total, currency);
      addTo(plan.invoices, currency, minor);
      sample({
        kind: 'invoice',
        id: invoice._id,
        date: (invoice.issueDate ?? invoice.createdAt ?? '').slice(0, 10),
        amountMinor: minor,
        currency,
        name: `${invoice.invoiceNumberPrefix ?? ''}${invoice.invoiceNumber ?? invoice._id} ${invoice.contactDetails?.name ?? ''}`.trim(),
      });
    }
    if (page.invoices.length < PAGE_SIZE) break;
  }
  await writeCursor(ctx.db, ctx.connection.id, HISTORY_DRY_RUN_CURSOR, plan);
  return plan;
}

// ---- the run ------------------------------------------------------------------------------------------------

export async function readHistoryProgress(
  ctx: Pick<FlowContext, 'db' | 'connection'>,
): Promise<HistoryProgress | undefined> {
  const parsed = historyProgressSchema.safeParse(await readCursor<unknown>(ctx.db, ctx.connection.id, HISTORY_CURSOR));
  if (!parsed.success) return undefined;
  const progress = parsed.data;
  if (progress.state === 'running' || progress.state === 'waiting') {
    // A cancel is written apart from the progress (which the running slice rewrites): it wins.
    const at = await cancelledAt(ctx, progress.runId);
    if (at) return { ...progress, state: 'cancelled', cancelledAt: at };
  }
  return progress;
}

export async function readHistoryDryRun(ctx: Pick<FlowContext, 'db' | 'connection'>): Promise<HistoryPlan | undefined> {
  const parsed = historyPlanSchema.safeParse(
    await readCursor<unknown>(ctx.db, ctx.connection.id, HISTORY_DRY_RUN_CURSOR),
  );
  return parsed.success ? parsed.data : undefined;
}

async function cancelled(ctx: Pick<FlowContext, 'db' | 'connection'>, runId: string): Promise<boolean> {
  return (await cancelledAt(ctx, runId)) !== undefined;
}

/** When the run was cancelled, if it was. */
async function cancelledAt(ctx: Pick<FlowContext, 'db' | 'connection'>, runId: string): Promise<string | undefined> {
  const cancel = await readCursor<{ runId?: string; at?: string }>(ctx.db, ctx.connection.id, HISTORY_CANCEL_CURSOR);
  return cancel?.runId === runId ? (cancel.at ?? new Date(0).toISOString()) : undefined;
}

/**
 * Starts a backfill from `from` (the dashboard's Start, the connect page's choice, or a script such as a benchmark):
 * writes what the dry run finds as the planned total and queues the first slice, which waits for the customer import
 * of a new connection (payments need their customers, as the invoice import does), then moves the connection's sync
 * start to `from` (so the flows take these records instead of skipping them). `plan`: a dry run just shown, used
 * when it is for the same day and recent.
 */
export async function startHistoryBackfill(
  ctx: FlowContext,
  from: string,
  options: { plan?: HistoryPlan } = {},
): Promise<HistoryProgress> {
  const window = historyWindow(ctx, from);
  const running = await readHistoryProgress(ctx);
  if (running && (running.state === 'running' || running.state === 'waiting'))
    throw new HistoryStateError(
      `A backfill from ${running.from} is under way (${running.done} of ${running.total}): cancel it first, or wait for it to finish`,
    );
  // The dry run the person just looked at is the plan; an older one, or one for another date, is run again.
  const fresh =
    options.plan &&
    options.plan.from === from &&
    options.plan.until === window.until.toISOString() &&
    Date.now() - Date.parse(options.plan.computedAt) < PLAN_FRESH_MS;
  const plan = fresh && options.plan ? options.plan : await historyDryRun(ctx, from);
  const progress: HistoryProgress = {
    runId: randomUUID(),
    from,
    until: window.until.toISOString(),
    state: 'waiting',
    phase: 'payments',
    offset: 0,
    pending: [],
    outstanding: [],
    total: plan.payments.count + plan.invoices.count,
    done: 0,
    payments: 0,
    invoices: 0,
    skipped: 0,
    failed: 0,
    planned: { payments: plan.payments, invoices: plan.invoices },
    startedAt: new Date().toISOString(),
  };
  await ctx.db.transaction(async (tx) => {
    await writeCursor(tx, ctx.connection.id, HISTORY_CURSOR, progress);
    await recordActivity(tx, {
      connectionId: ctx.connection.id,
      flow: HISTORY_FLOW,
      status: 'info',
      message: `Bringing history from ${from} into QuickBooks: ${describePlan(plan)}`,
      detail: { from, until: progress.until, runId: progress.runId, planned: progress.planned },
    });
  });
  await enqueue(ctx.queue, historyFlow.jobs.historyBackfill, {
    connectionId: ctx.connection.id,
    key: historyKey(ctx.connection.id),
  });
  return progress;
}

/** Cancels the backfill under way: its waiting record jobs are dropped, and records not reached stay out. */
export async function cancelHistoryBackfill(ctx: Pick<FlowContext, 'db' | 'connection' | 'queue'>) {
  const progress = await readHistoryProgress(ctx);
  if (!progress || (progress.state !== 'running' && progress.state !== 'waiting'))
    throw new HistoryStateError('No backfill is under way');
  const dates = await syncStartDates(ctx);
  const cancelledAt = new Date().toISOString();
  await ctx.db.transaction(async (tx) => {
    await writeCursor(tx, ctx.connection.id, HISTORY_CANCEL_CURSOR, { runId: progress.runId, at: cancelledAt });
    await writeCursor(tx, ctx.connection.id, HISTORY_CURSOR, { ...progress, state: 'cancelled', cancelledAt });
    // Records the run did not reach are before the sync start again; the ones it brought stay followed (linked).
    await writeCursor(tx, ctx.connection.id, SYNC_START_CURSOR, { ...dates, running: null });
  });
  let dropped = 0;
  for (const queue of [QUEUES.crmTransaction, QUEUES.crmInvoice])
    dropped += await ctx.queue.cancelWaiting(queue, { connectionId: ctx.connection.id, history: progress.runId });
  await recordActivity(ctx.db, {
    connectionId: ctx.connection.id,
    flow: HISTORY_FLOW,
    status: 'info',
    message: `The backfill of history from ${progress.from} was cancelled after ${progress.done} of ${progress.total} records (${progress.payments} payments and ${progress.invoices} invoices written); the records it had not reached stay out of QuickBooks`,
    detail: { runId: progress.runId, done: progress.done, total: progress.total, droppedJobs: dropped },
  });
  return { ...progress, state: 'cancelled' as const, cancelledAt };
}

/** One slice of a backfill; queues the next slice until every record is settled. */
export async function historySlice(ctx: FlowContext): Promise<HistoryProgress | undefined> {
  let progress = await readHistoryProgress(ctx);
  if (!progress || progress.state === 'finished' || progress.state === 'cancelled') return progress;
  if (progress.state === 'waiting') {
    // A new connection's customers come first (the payments' customers are matched against them).
    const customers = await readCursor<{ finishedAt?: string }>(ctx.db, ctx.connection.id, CUSTOMER_IMPORT_CURSOR);
    if (!customers?.finishedAt) {
      await nextSlice(ctx, 5);
      return progress;
    }
    progress = { ...progress, state: 'running' };
    // From now on the flows take records from the chosen day on, whichever job meets them first.
    const dates = await syncStartDates(ctx);
    await writeCursor(ctx.db, ctx.connection.id, SYNC_START_CURSOR, { ...dates, running: progress.from });
  }
  const p = progress;
  // Only while the cursor is still this run's: a run started after a cancel is never written over by this one.
  const save = async () => {
    if (!(await writeCursorIf(ctx.db, ctx.connection.id, HISTORY_CURSOR, p, { field: 'runId', expected: p.runId })))
      throw new Replaced();
  };
  try {
    return await sliceOf(ctx, p, save);
  } catch (error) {
    if (error instanceof Replaced) return readHistoryProgress(ctx);
    throw error;
  }
}

/** Queues the next slice of the connection's backfill (one waits at a time: the queue keeps one job per key). */
function nextSlice(ctx: FlowContext, afterSeconds?: number) {
  return enqueue(
    ctx.queue,
    historyFlow.jobs.historyBackfill,
    { connectionId: ctx.connection.id, key: historyKey(ctx.connection.id) },
    afterSeconds ? { startAfterSeconds: afterSeconds } : {},
  );
}

/** A run's cursor now holds another run (started after a cancel): the older run's slice stops without a word. */
class Replaced extends Error {}

async function sliceOf(ctx: FlowContext, p: HistoryProgress, save: () => Promise<void>): Promise<HistoryProgress> {
  const window = { from: startOfDay(p.from), until: new Date(p.until) };
  const started = Date.now();
  while (Date.now() - started < SLICE_MS) {
    if (await cancelled(ctx, p.runId)) return { ...p, state: 'cancelled' };
    p.outstanding = await unsettled(ctx, p);
    if (p.outstanding.length >= HISTORY_WINDOW) {
      await save();
      await sleep(WAIT_MS);
      continue;
    }
    const next = p.pending.shift();
    if (next) {
      await pace(ctx);
      // A cancel while the slice waited for its turn: the record is not handed out.
      if (await cancelled(ctx, p.runId)) return { ...p, state: 'cancelled' };
      const data = recordJob(ctx, p.runId, next);
      if (next.kind === 'payment') await ctx.queue.enqueue(QUEUES.crmTransaction, data, { priority: HISTORY_PRIORITY });
      else await ctx.queue.enqueue(QUEUES.crmInvoice, data, { priority: HISTORY_PRIORITY });
      p.outstanding.push(next);
      await save();
      continue;
    }
    if (p.phase === 'done') {
      if (p.outstanding.length === 0) return finish(ctx, p, save);
      await save();
      await sleep(WAIT_MS);
      continue;
    }
    await keepDailyReserve(ctx, HISTORY_FLOW, 'The backfill of history');
    if (p.phase === 'payments') {
      const page = await ctx.hl.payments.listTransactions(listFilter(window), { limit: PAGE_SIZE, offset: p.offset });
      for (const txn of await paymentsToBring(ctx, page.data, window)) {
        const orderId = orderIdOf(txn);
        p.pending.push({
          kind: 'payment',
          id: txn._id,
          ...(orderId ? { orderId } : {}),
          ...(txn.contactId ? { contactId: txn.contactId } : {}),
        });
      }
      p.offset += page.data.length;
      if (page.data.length < PAGE_SIZE) Object.assign(p, { phase: 'invoices', offset: 0 });
    } else {
      const page = await ctx.hl.invoices.list(
        { startAt: listFilter(window).startAt },
        { limit: PAGE_SIZE, offset: p.offset },
      );
      for (const invoice of await invoicesToBring(ctx, page.invoices, window))
        p.pending.push({ kind: 'invoice', id: invoice._id });
      p.offset += page.invoices.length;
      if (page.invoices.length < PAGE_SIZE) Object.assign(p, { phase: 'done', offset: 0 });
    }
    // The list may hold more than the dry run found (records changed since): the bar never goes past its end.
    p.total = Math.max(p.total, p.done + p.outstanding.length + p.pending.length);
    await save();
  }
  await nextSlice(ctx);
  return p;
}

/** The job of one record, as live events make it, marked with the run (a cancel drops the run's waiting jobs). */
function recordJob(ctx: FlowContext, runId: string, record: Candidate) {
  const common = { connectionId: ctx.connection.id, history: runId };
  if (record.kind === 'payment')
    return {
      ...common,
      key: `${ctx.connection.id}:txn:${record.id}`,
      transactionId: record.id,
      ...(record.orderId ? { orderId: record.orderId } : {}),
      ...(record.contactId ? { contactId: record.contactId } : {}),
    };
  return { ...common, key: `${ctx.connection.id}:invoice:${record.id}`, invoiceId: record.id, event: 'history' };
}

/** Waits for the backfill's turn under its share of both providers' limits (nothing without limits). */
async function pace(ctx: FlowContext): Promise<void> {
  const limiter = ctx.limiter;
  if (!limiter) return;
  for (const key of paceKeys(ctx)) (await limiter.acquire(key))();
}

/**
 * The records handed out whose jobs have not ended yet; the others are counted by what their link says: linked
 * (written), skipped (the flow's rules), or none (the job failed; its error is on the dashboard, one per record).
 */
async function unsettled(ctx: FlowContext, p: HistoryProgress): Promise<Candidate[]> {
  if (p.outstanding.length === 0) return [];
  const still: Candidate[] = [];
  const ended: Candidate[] = [];
  for (const record of p.outstanding) {
    const { queue, key } = recordJobKey(ctx, record);
    if (await ctx.queue.hasUnfinished(queue, key)) still.push(record);
    else ended.push(record);
  }
  for (const kind of ['payment', 'invoice'] as const) {
    const ids = ended.filter((r) => r.kind === kind).map((r) => r.id);
    if (ids.length === 0) continue;
    const links = await linksByCrmIds(ctx.db, ctx.connection.id, kind === 'payment' ? 'salesReceipt' : 'invoice', ids);
    const byId = new Map(links.map((link) => [link.crmId, link]));
    for (const id of ids) {
      const state = byId.get(id)?.state;
      p.done += 1;
      if (state === 'linked') p[kind === 'payment' ? 'payments' : 'invoices'] += 1;
      else if (state === 'skipped') p.skipped += 1;
      else p.failed += 1;
    }
  }
  return still;
}

function recordJobKey(ctx: FlowContext, record: Candidate): { queue: string; key: string } {
  return record.kind === 'payment'
    ? { queue: QUEUES.crmTransaction, key: `${ctx.connection.id}:txn:${record.id}` }
    : { queue: QUEUES.crmInvoice, key: `${ctx.connection.id}:invoice:${record.id}` };
}

async function finish(ctx: FlowContext, p: HistoryProgress, save: () => Promise<void>): Promise<HistoryProgress> {
  // Still this run's (no cancel and new start since the last step), or Replaced.
  await save();
  const done: HistoryProgress = { ...p, state: 'finished', total: p.done, finishedAt: new Date().toISOString() };
  const dates = await syncStartDates(ctx);
  const finished = dates.finished && dates.finished < p.from ? dates.finished : p.from;
  await ctx.db.transaction(async (tx) => {
    await writeCursor(tx, ctx.connection.id, HISTORY_CURSOR, done);
    await writeCursor(tx, ctx.connection.id, SYNC_START_CURSOR, { running: null, finished });
    await recordActivity(tx, {
      connectionId: ctx.connection.id,
      flow: HISTORY_FLOW,
      status: 'info',
      message: `History from ${p.from} is in QuickBooks: ${p.payments} payments and ${p.invoices} invoices written (${p.skipped} skipped, ${p.failed} failed: see their errors)`,
      detail: {
        runId: p.runId,
        payments: p.payments,
        invoices: p.invoices,
        skipped: p.skipped,
        failed: p.failed,
        planned: p.planned,
      },
    });
  });
  return done;
}

/** "12 payments (1,234.00 USD) and 3 invoices (450.00 USD)". */
export function describePlan(plan: Pick<HistoryPlan, 'payments' | 'invoices'>): string {
  const part = (totals: Totals, noun: string) => {
    const sums = Object.entries(totals.byCurrency)
      .map(([currency, minor]) => `${formatMinor(minor, currency)} ${currency}`)
      .join(', ');
    return `${totals.count} ${noun}${totals.count === 1 ? '' : 's'}${sums ? ` (${sums})` : ''}`;
  };
  return `${part(plan.payments, 'payment')} and ${part(plan.invoices, 'invoice')}`;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * History chosen on the connect form: once both sides work, a dry run lists what a backfill from that day would write,
 * and the card shows it with its Start button. Nothing is written before the person has seen the counts and totals,
 * as when the day is chosen on the card (its dry run may list thousands of records, so it is a job, not the OAuth
 * callback's work).
 */
export function queueHistoryDryRun(ctx: Pick<FlowContext, 'connection' | 'queue'>, from: string) {
  return enqueue(ctx.queue, historyFlow.jobs.historyDryRun, {
    connectionId: ctx.connection.id,
    key: `${ctx.connection.id}:history-dry-run`,
    from,
  });
}

async function dryRunAtConnection(ctx: FlowContext, from: string): Promise<void> {
  let said: string;
  try {
    const plan = await historyDryRun(ctx, from);
    said = `History from ${from}, chosen at connection: ${describePlan(plan)} would be written to QuickBooks. Nothing is written until Start is pressed on the card`;
  } catch (error) {
    if (!(error instanceof HistoryDateError)) throw error;
    said = `History from ${from}, chosen at connection, cannot be brought: ${error.message}`;
  }
  await recordActivity(ctx.db, { connectionId: ctx.connection.id, flow: HISTORY_FLOW, status: 'info', message: said });
}

// ---------------------------------------------------------------------------------------------------------
// The flow's declaration (src/sync/engine/flow.ts).

export const historyFlow = defineFlow({
  name: HISTORY_FLOW,
  summary: 'When chosen: CRM payments and sent invoices from a date up to the connection -> QuickBooks, once',
  jobs: {
    historyDryRun: defineJob({
      queue: HISTORY_DRY_RUN_QUEUE,
      payload: payload({ from: historyDateSchema }),
      run: (ctx, data) => dryRunAtConnection(ctx, data.from),
      concurrency: () => 1,
    }),
    historyBackfill: defineJob({
      queue: HISTORY_QUEUE,
      payload: payload({}),
      run: (ctx) => historySlice(ctx),
      // One slice at a time per process; the record lease keeps one at a time per connection across processes.
      concurrency: () => 1,
      // A paused or revoked connection's backfill waits; the schedule below takes it up again.
      periodic: true,
    }),
  },
  linkKinds: [],
  // A backfill whose slice was lost (a worker killed while its job ran out of tries) carries on at the next tick.
  schedules: [
    {
      job: 'historyBackfill',
      key: historyKey,
      due: async (ctx) => {
        const progress = await readHistoryProgress(ctx);
        return progress?.state === 'running' || progress?.state === 'waiting';
      },
    },
  ],
});
