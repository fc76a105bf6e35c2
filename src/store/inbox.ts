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
  const result = await q.query<{ id: string | number }>(
    `INSERT INTO inbox (provider, event_id, event_type, connection_id, payload, status, reason)
     VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (provider, event_id) DO NOTHING RETURNING id`,
    [event.provider, event.eventId, event.eventType, event.connectionId, JSON.stringify(event.payload), event.status ?? 'accepted', event.reason ?? null],
  );
  return result.rows[0] ? Number(result.rows[0].id) : undefined;
}

export async function markInboxProcessed(q: Queryable, id: number): Promise<void> {
  await q.query(`UPDATE inbox SET status = 'processed', processed_at = now() WHERE id = $1 AND status = 'accepted'`, [id]);
}
