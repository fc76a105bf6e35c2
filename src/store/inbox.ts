// The inbox: every accepted event, durable before it is acknowledged. (provider, event_id) is unique, so a
// webhook delivered three times is stored once.
import type { Queryable } from './db.ts';

export type Provider = 'quickbooks' | 'highlevel' | 'poller';
export type InboxStatus = 'accepted' | 'ignored' | 'rejected' | 'processed';

export interface InboxEvent {
  provider: Provider;
  eventId: string;
  eventType: string;
  connectionId: string | null;
  payload: unknown;
  status?: InboxStatus;
  reason?: string | null;
}

/** Stores the event; returns its row id when new, undefined when the same event was stored before. */
export async function storeInboxEvent(q: Queryable, event: InboxEvent): Promise<number | undefined> {
  const insert = inboxInsert(event, 1);
  const result = await q.query<{ id: string | number }>(insert.sql, insert.params);
  return result.rows[0] ? Number(result.rows[0].id) : undefined;
}

function inboxInsert(event: InboxEvent, first: number): { sql: string; params: unknown[] } {
  const p = (n: number) => `$${first + n - 1}`;
  return {
    sql: `INSERT INTO inbox (provider, event_id, event_type, connection_id, payload, status, reason)
     VALUES (${p(1)}, ${p(2)}, ${p(3)}, ${p(4)}, ${p(5)}, ${p(6)}, ${p(7)}) ON CONFLICT (provider, event_id) DO NOTHING RETURNING id`,
    params: [event.provider, event.eventId, event.eventType, event.connectionId, JSON.stringify(event.payload), event.status ?? 'accepted', event.reason ?? null],
  };
}

export async function markInboxProcessed(q: Queryable, id: number): Promise<void> {
  await q.query(`UPDATE inbox SET status = 'processed', processed_at = now() WHERE id = $1 AND status = 'accepted'`, [id]);
}
