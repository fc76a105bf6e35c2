// QuickBooks customers -> CRM contacts at connection: every existing customer is brought over (paged through the
// query API, resumable from a saved cursor, progress as {done, total}), each one as the live sync brings a new
// customer over (syncCustomer in qboCustomers.ts), pages at a time.
import type { SearchFilter } from '../../highlevel/contacts.ts';
import { HighLevelError } from '../../highlevel/errors.ts';
import type { Customer } from '../../quickbooks/entities.ts';
import { count, select } from '../../quickbooks/query.ts';
import { normalizeEmail } from '../../domain/email.ts';
import { contactFieldsForQboCustomer } from '../../domain/customer.ts';
import { indexedEmailsWithLink } from '../../store/links.ts';
import { recordActivity } from '../../store/activity.ts';
import { readCursor, writeCursor } from '../../store/cursors.ts';
import type { FlowContext } from '../engine/context.ts';
import { rememberCustomers } from '../services/customerIndex.ts';
import { CUSTOMER_LINK } from '../services/contacts.ts';
import { keepDailyReserve } from '../services/dailyReserve.ts';
import { RetryLater, SyncError } from '../engine/errors.ts';
import { QUEUES } from '../engine/queues.ts';
import { defineFlow, defineJob, payload } from '../engine/flow.ts';
import { CONTACTS_FLOW, syncCustomer } from './qboCustomers.ts';

export const CUSTOMER_IMPORT_CURSOR = 'customer-import';

const PAGE_SIZE = 200;
/** A job imports for about this long, saves its cursor and queues the next slice, so a stop never waits long. */
const SLICE_MS = 8_000;
/** Customers of one page handled at once (HighLevel's limiter paces the requests). */
const PARALLEL = 8;

export interface ImportProgress {
  /** Next STARTPOSITION (1-based). */
  position: number;
  done: number;
  total: number;
  created: number;
  matched: number;
  skipped: number;
  failed: number;
  startedAt: string;
  finishedAt?: string;
}

export const importCustomersKey = (connectionId: string) => `${connectionId}:import:customers`;

// ---------------------------------------------------------------------------------------------------------
// Initial import

/** One slice of the initial import; queues the next slice until every customer has been seen. */
export async function importCustomers(ctx: FlowContext): Promise<ImportProgress> {
  const { db, connection } = ctx;
  let progress = await readCursor<ImportProgress>(db, connection.id, CUSTOMER_IMPORT_CURSOR);
  if (progress?.finishedAt) return progress;
  if (!progress) {
    // Inactive customers are counted and paged too: the set only grows while we page, so positions never skip one.
    const total = await ctx.qbo.count(count('Customer').includeInactive());
    progress = {
      position: 1,
      done: 0,
      total,
      created: 0,
      matched: 0,
      skipped: 0,
      failed: 0,
      startedAt: new Date().toISOString(),
    };
    await writeCursor(db, connection.id, CUSTOMER_IMPORT_CURSOR, progress);
    await recordActivity(db, {
      connectionId: connection.id,
      flow: CONTACTS_FLOW,
      status: 'info',
      message: `Bringing ${total} QuickBooks customers into the CRM`,
    });
  }
  const started = Date.now();
  while (Date.now() - started < SLICE_MS) {
    await keepDailyReserve(ctx, CONTACTS_FLOW, 'The customer import');
    const page = await ctx.qbo.query(
      select('Customer').includeInactive().orderBy('Id').page(progress.position, PAGE_SIZE),
    );
    if (page.length > 0) {
      await rememberCustomers(db, connection.id, page);
      const absent = await emailsNotInCrm(ctx, page);
      const outcomes = [];
      for (const round of roundsByEmail(page))
        outcomes.push(...(await mapLimit(round, PARALLEL, (customer) => importOne(ctx, customer, absent))));
      for (const o of outcomes)
        progress[o === 'created' ? 'created' : o === 'matched' ? 'matched' : o === 'failed' ? 'failed' : 'skipped'] +=
          1;
      progress.position += page.length;
      progress.done += page.length;
      progress.total = Math.max(progress.total, progress.done);
    }
    if (page.length < PAGE_SIZE) {
      progress.finishedAt = new Date().toISOString();
      progress.total = progress.done;
      await writeCursor(db, connection.id, CUSTOMER_IMPORT_CURSOR, progress);
      await recordActivity(db, {
        connectionId: connection.id,
        flow: CONTACTS_FLOW,
        status: 'info',
        message: `Brought ${progress.done} QuickBooks customers into the CRM: ${progress.created} contacts created, ${progress.matched} matched by email, ${progress.skipped} skipped, ${progress.failed} failed`,
        detail: { ...progress },
      });
      if (connection.importOldInvoices) {
        await ctx.queue.enqueue(QUEUES.importInvoices, {
          connectionId: connection.id,
          key: `${connection.id}:import:invoices`,
        });
      }
      return progress;
    }
    await writeCursor(db, connection.id, CUSTOMER_IMPORT_CURSOR, progress);
  }
  await ctx.queue.enqueue(QUEUES.importCustomers, {
    connectionId: connection.id,
    key: importCustomersKey(connection.id),
  });
  return progress;
}

/**
 * A page in rounds, the k-th customer with a given email in round k: customers sharing an email never run side by
 * side, so the second looks up after the first has made its contact (both would otherwise find none and create
 * two, where the location allows duplicates). Almost every page is one round.
 */
function roundsByEmail(page: readonly Customer[]): Customer[][] {
  const rounds: Customer[][] = [];
  const seen = new Map<string, number>();
  for (const customer of page) {
    const email = contactFieldsForQboCustomer(customer).email;
    const k = email ? (seen.get(email) ?? 0) : 0;
    if (email) seen.set(email, k + 1);
    (rounds[k] ??= []).push(customer);
  }
  return rounds;
}

const NONE: ReadonlySet<string> = new Set();
/** Emails per search: an OR group of this many `eq` conditions (HighLevel documents no limit; kept modest). */
const EMAILS_PER_SEARCH = 50;

/**
 * The emails of a page of customers that no CRM contact holds, found with one contact search per 50 emails instead
 * of a duplicate look-up per customer: the import then costs HighLevel one call a customer (the create) instead of
 * two, and HighLevel's limit is what binds an import (docs/performance.md, finding 20).
 *
 * HighLevel's search index lags writes by a few seconds (reference §2.3), so "not found" is trusted only where the
 * lag cannot hide our own work: an email that two customers of the page share, or that belongs to any customer of
 * this connection with a link or a claim (a contact we created, perhaps moments ago, or one a failed attempt may
 * have created), is left to the per-customer look-up. What the lag can still hide is a contact someone else created
 * in HighLevel in the seconds before the search: where the location forbids duplicates, the create is refused
 * and adopts that contact (createContact); where it allows them, that contact and ours share the email, as they
 * would had it been created a moment after a look-up. A search HighLevel refuses (400/422) falls back to look-ups.
 */
async function emailsNotInCrm(ctx: FlowContext, page: readonly Customer[]): Promise<ReadonlySet<string>> {
  const seen = new Map<string, number>();
  for (const customer of page) {
    const email = contactFieldsForQboCustomer(customer).email;
    if (email && customer.Active !== false) seen.set(email, (seen.get(email) ?? 0) + 1);
  }
  const candidates = new Set([...seen].filter(([, n]) => n === 1).map(([email]) => email));
  if (candidates.size === 0) return NONE;
  for (const email of await indexedEmailsWithLink(ctx.db, ctx.connection.id, 'customer', [...candidates]))
    candidates.delete(email);
  const emails = [...candidates];
  try {
    for (let i = 0; i < emails.length; i += EMAILS_PER_SEARCH) {
      const chunk = emails.slice(i, i + EMAILS_PER_SEARCH);
      const filters: SearchFilter[] = [
        { group: 'OR', filters: chunk.map((email) => ({ field: 'email', operator: 'eq' as const, value: email })) },
      ];
      for await (const contact of ctx.hl.contacts.searchAll(filters, 100)) {
        if (contact.email) candidates.delete(normalizeEmail(contact.email));
      }
    }
  } catch (error) {
    if (!(error instanceof HighLevelError && (error.status === 400 || error.status === 422))) throw error;
    ctx.log.warn({ err: error.message }, 'contact search by email refused: the import looks each customer up instead');
    return NONE;
  }
  return candidates;
}

async function importOne(
  ctx: FlowContext,
  customer: Customer,
  absent: ReadonlySet<string>,
): Promise<'created' | 'matched' | 'skipped' | 'failed'> {
  try {
    const result = await syncCustomer(ctx, customer, 'import', absent);
    return result.outcome === 'created' ? 'created' : result.outcome === 'matched' ? 'matched' : 'skipped';
  } catch (error) {
    if (error instanceof RetryLater) {
      // Another job holds this customer (its webhook arrived meanwhile): that job, or this one queued, finishes it.
      await ctx.queue.enqueue(
        QUEUES.qboCustomer,
        {
          connectionId: ctx.connection.id,
          key: `${ctx.connection.id}:customer:${customer.Id}`,
          customerId: customer.Id,
        },
        { startAfterSeconds: error.afterSeconds },
      );
      return 'skipped';
    }
    if (error instanceof SyncError) {
      await recordActivity(ctx.db, {
        connectionId: ctx.connection.id,
        flow: CONTACTS_FLOW,
        status: 'error',
        qboKind: 'Customer',
        qboId: customer.Id,
        crmId: `qbo-customer:${customer.Id}`,
        message: error.message,
        detail: { code: error.code, fix: error.fix, ...error.detail },
        retry: {
          queue: QUEUES.qboCustomer,
          data: {
            connectionId: ctx.connection.id,
            key: `${ctx.connection.id}:customer:${customer.Id}`,
            customerId: customer.Id,
          },
        },
      });
      return 'failed';
    }
    throw error;
  }
}

/** Runs `fn` over `items`, at most `limit` at a time, results in order. */
async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  let failure: unknown;
  const worker = async () => {
    while (next < items.length && failure === undefined) {
      const index = next++;
      try {
        results[index] = await fn(items[index]!);
      } catch (error) {
        failure ??= error;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failure !== undefined) throw failure;
  return results;
}

// ---------------------------------------------------------------------------------------------------------
// The import's declaration (src/sync/engine/flow.ts); the live customer sync is declared in qboCustomers.ts.

export const contactImportFlow = defineFlow({
  name: CONTACTS_FLOW,
  summary: 'At connection: every existing QuickBooks customer -> a CRM contact, one slice per job',
  jobs: {
    importCustomers: defineJob({
      queue: QUEUES.importCustomers,
      payload: payload({}),
      run: (ctx) => importCustomers(ctx),
      // One slice at a time per process: each slice carries on from the cursor the last one wrote.
      concurrency: () => 1,
    }),
  },
  linkKinds: [CUSTOMER_LINK],
});
