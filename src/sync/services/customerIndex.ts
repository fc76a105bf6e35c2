// The connection's index of QuickBooks customers by normalised email (see migration 004 for why). The first
// refresh pages through every customer; later ones ask only for customers changed since the last one, with
// an overlap, so a lookup costs one query call.
import { select } from '../../quickbooks/query.ts';
import type { Customer } from '../../quickbooks/entities.ts';
import { customerEmails } from '../../quickbooks/client.ts';
import type { Queryable } from '../../store/db.ts';
import { readCursor, writeCursor } from '../../store/cursors.ts';
import type { FlowContext } from '../engine/context.ts';

export const CUSTOMER_INDEX_CURSOR = 'customer-index';
const OVERLAP_MS = 2 * 60_000;

interface IndexCursor {
  /** QuickBooks LastUpdatedTime (its own clock) from which the next refresh asks for changes. */
  since: string;
}

export async function rememberCustomer(q: Queryable, connectionId: string, customer: Customer): Promise<void> {
  await rememberCustomers(q, connectionId, [customer]);
}

/**
 * Writes a page of customers in one statement. A row is rewritten only when its SyncToken moved (QuickBooks
 * raises it on every change), so the overlap of each refresh, which re-reads the customers of the last two
 * minutes, costs no writes.
 */
export async function rememberCustomers(
  q: Queryable,
  connectionId: string,
  customers: readonly Customer[],
): Promise<void> {
  if (customers.length === 0) return;
  // One row per customer id: a page can hold the same customer twice when it changed while being paged.
  const byId = new Map(customers.map((c) => [c.Id, c]));
  const rows = [...byId.values()];
  await q.query(
    `INSERT INTO qbo_customers (connection_id, qbo_id, email, display_name, active, sync_token, last_updated)
     SELECT $1, t.qbo_id, t.email, t.display_name, t.active, t.sync_token, t.last_updated
       FROM unnest($2::text[], $3::text[], $4::text[], $5::boolean[], $6::text[], $7::text[])
         AS t(qbo_id, email, display_name, active, sync_token, last_updated)
     ON CONFLICT (connection_id, qbo_id) DO UPDATE SET email = EXCLUDED.email, display_name = EXCLUDED.display_name,
       active = EXCLUDED.active, sync_token = EXCLUDED.sync_token, last_updated = EXCLUDED.last_updated
       WHERE qbo_customers.sync_token IS DISTINCT FROM EXCLUDED.sync_token`,
    [
      connectionId,
      rows.map((c) => c.Id),
      rows.map((c) => customerEmails(c)[0] ?? null),
      rows.map((c) => c.DisplayName),
      rows.map((c) => c.Active !== false),
      rows.map((c) => c.SyncToken ?? null),
      rows.map((c) => lastUpdated(c) ?? null),
    ],
  );
}

/** Brings the index up to date; returns how many customers it read. */
export async function refreshCustomerIndex(
  ctx: FlowContext,
  options: { onPage?: (customers: Customer[]) => Promise<void> } = {},
): Promise<number> {
  const cursor = await readCursor<IndexCursor>(ctx.db, ctx.connection.id, CUSTOMER_INDEX_CURSOR);
  let query = select('Customer').includeInactive().orderBy('Id');
  if (cursor)
    query = query.where('MetaData.LastUpdatedTime', '>=', new Date(new Date(cursor.since).getTime() - OVERLAP_MS));
  let newest = cursor?.since;
  let read = 0;
  let page: Customer[] = [];
  const flush = async () => {
    if (page.length === 0) return;
    await rememberCustomers(ctx.db, ctx.connection.id, page);
    await options.onPage?.(page);
    page = [];
  };
  for await (const customer of ctx.qbo.queryAll(query, 1000)) {
    read += 1;
    page.push(customer);
    const updated = lastUpdated(customer);
    if (updated && (!newest || Date.parse(updated) > Date.parse(newest))) newest = updated;
    if (page.length >= 1000) await flush();
  }
  await flush();
  if (newest && newest !== cursor?.since)
    await writeCursor(ctx.db, ctx.connection.id, CUSTOMER_INDEX_CURSOR, { since: newest } satisfies IndexCursor);
  return read;
}

/**
 * Refreshes in flight, per connection, in this process. Lookups that arrive while one runs share the next one
 * (never the running one: it may have queried QuickBooks before the customer they look for was created), so
 * many jobs looking up customers at once cost two queries at most, not one each.
 */
const refreshes = new Map<string, { running: Promise<unknown>; next?: Promise<unknown> }>();

function freshIndex(ctx: FlowContext): Promise<unknown> {
  const key = ctx.connection.id;
  const state = refreshes.get(key);
  if (!state) {
    const running: Promise<unknown> = refreshCustomerIndex(ctx).finally(() => {
      const current = refreshes.get(key);
      if (current?.running === running) {
        if (current.next) refreshes.set(key, { running: current.next });
        else refreshes.delete(key);
      }
    });
    refreshes.set(key, { running });
    return running;
  }
  if (!state.next) {
    const next: Promise<unknown> = state.running
      .catch(() => undefined)
      .then(() => refreshCustomerIndex(ctx))
      .finally(() => {
        const current = refreshes.get(key);
        if (current?.running === next) refreshes.delete(key);
      });
    state.next = next;
  }
  return state.next;
}

/** Ids of the customers holding this (normalised) email, active ones first, after a refresh. */
export async function customerIdsWithEmail(ctx: FlowContext, normalisedEmail: string): Promise<string[]> {
  await freshIndex(ctx);
  const rows = await ctx.db.query<{ qbo_id: string }>(
    `SELECT qbo_id FROM qbo_customers WHERE connection_id = $1 AND email = $2 ORDER BY active DESC, length(qbo_id), qbo_id`,
    [ctx.connection.id, normalisedEmail],
  );
  return rows.rows.map((r) => r.qbo_id);
}

function lastUpdated(customer: Customer): string | undefined {
  return (customer.MetaData as { LastUpdatedTime?: string } | undefined)?.LastUpdatedTime;
}
