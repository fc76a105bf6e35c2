// The connection's index of QuickBooks customers by normalised email (see migration 004 for why). The first
// refresh pages through every customer; later ones ask only for customers changed since the last one, with
// an overlap, so a lookup costs one query call.
import { select } from '../quickbooks/query.ts';
import type { Customer } from '../quickbooks/entities.ts';
import { customerEmails } from '../quickbooks/client.ts';
import type { Queryable } from '../store/db.ts';
import { readCursor, writeCursor } from '../store/cursors.ts';
import type { FlowContext } from './context.ts';

const CURSOR = 'customer-index';
const OVERLAP_MS = 2 * 60_000;

interface IndexCursor {
  /** QuickBooks LastUpdatedTime (its own clock) from which the next refresh asks for changes. */
  since: string;
}

export async function rememberCustomer(q: Queryable, connectionId: string, customer: Customer): Promise<void> {
  const email = customerEmails(customer)[0] ?? null;
  await q.query(
    `INSERT INTO qbo_customers (connection_id, qbo_id, email, display_name, active, sync_token, last_updated)
     VALUES ($1, $2, $3, $4, $5, $6, $7)
     ON CONFLICT (connection_id, qbo_id) DO UPDATE SET email = EXCLUDED.email, display_name = EXCLUDED.display_name,
       active = EXCLUDED.active, sync_token = EXCLUDED.sync_token, last_updated = EXCLUDED.last_updated`,
    [connectionId, customer.Id, email, customer.DisplayName, customer.Active !== false, customer.SyncToken, lastUpdated(customer) ?? null],
  );
}

/** Brings the index up to date; returns how many customers it read. */
export async function refreshCustomerIndex(ctx: FlowContext, options: { onPage?: (customers: Customer[]) => Promise<void> } = {}): Promise<number> {
  const cursor = await readCursor<IndexCursor>(ctx.db, ctx.connection.id, CURSOR);
  let query = select('Customer').includeInactive().orderBy('Id');
  if (cursor) query = query.where('MetaData.LastUpdatedTime', '>=', new Date(new Date(cursor.since).getTime() - OVERLAP_MS).toISOString());
  let newest = cursor?.since;
  let read = 0;
  let page: Customer[] = [];
  const flush = async () => {
    if (page.length === 0) return;
    await ctx.db.transaction(async (tx) => {
      for (const customer of page) await rememberCustomer(tx, ctx.connection.id, customer);
    });
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
  if (newest) await writeCursor(ctx.db, ctx.connection.id, CURSOR, { since: newest } satisfies IndexCursor);
  return read;
}

/** Ids of the customers holding this (normalised) email, active ones first, after a refresh. */
export async function customerIdsWithEmail(ctx: FlowContext, normalisedEmail: string): Promise<string[]> {
  await refreshCustomerIndex(ctx);
  const rows = await ctx.db.query<{ qbo_id: string }>(
    `SELECT qbo_id FROM qbo_customers WHERE connection_id = $1 AND email = $2 ORDER BY active DESC, length(qbo_id), qbo_id`,
    [ctx.connection.id, normalisedEmail],
  );
  return rows.rows.map((r) => r.qbo_id);
}

function lastUpdated(customer: Customer): string | undefined {
  return (customer.MetaData as { LastUpdatedTime?: string } | undefined)?.LastUpdatedTime;
}
