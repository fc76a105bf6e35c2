// The inbox: every accepted event, durable before it is acknowledged. (provider, event_id) is unique, so a
// webhook delivered three times is stored once.
import type { Queryable } from './db.ts';

export type Provider = 'quickbooks' | 'highlevel' | 'poller';
/** `held`: an event of a paused connection, kept with its job (`heldJob`) until the connection is resumed. */
export type InboxStatus = 'accepted' | 'ignored' | 'rejected' | 'processed' | 'held';

/** The job a held event asks for, queued when its connection is resumed. */
export interface HeldJob {
  queue: string;
  data: Record<string, unknown>;
}

export interface InboxEvent {
  provider: Provider;
  eventId: string;
  eventType: string;
  connectionId: string | null;
  payload: unknown;
  status?: InboxStatus;
  reason?: string | null;
  heldJob?: HeldJob;
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
    sql: `INSERT INTO inbox (provider, event_id, event_type, connection_id, payload, status, reason, held_job)
     VALUES (${p(1)}, ${p(2)}, ${p(3)}, ${p(4)}, ${p(5)}, ${p(6)}, ${p(7)}, ${p(8)}) ON CONFLICT (provider, event_id) DO NOTHING RETURNING id`,
    params: [
      event.provider,
      event.eventId,
      event.eventType,
      event.connectionId,
      JSON.stringify(event.payload),
      event.status ?? 'accepted',
      event.reason ?? null,
      event.heldJob ? JSON.stringify(event.heldJob) : null,
    ],
  };
}

export async function markInboxProcessed(q: Queryable, id: number): Promise<void> {
  await q.query(`UPDATE inbox SET status = 'processed', processed_at = now() WHERE id = $1 AND status = 'accepted'`, [
    id,
  ]);
}

/** The held events of a connection, oldest first (at most `limit`). */
export async function heldEvents(
  q: Queryable,
  connectionId: string,
  limit: number,
): Promise<Array<{ id: number; job: HeldJob }>> {
  const result = await q.query<{ id: string | number; held_job: HeldJob | string }>(
    `SELECT id, held_job FROM inbox WHERE connection_id = $1 AND status = 'held' ORDER BY id LIMIT $2`,
    [connectionId, limit],
  );
  return result.rows.map((r) => ({
    id: Number(r.id),
    job: typeof r.held_job === 'string' ? (JSON.parse(r.held_job) as HeldJob) : r.held_job,
  }));
}

/**
 * Marks a held event accepted; false when it is no longer held (another process released it first). The caller
 * enqueues its job in the same transaction, so each held event gets its job once.
 */
export async function releaseHeldEvent(q: Queryable, id: number): Promise<boolean> {
  const result = await q.query(
    `UPDATE inbox SET status = 'accepted', reason = NULL, held_job = NULL WHERE id = $1 AND status = 'held' RETURNING id`,
    [id],
  );
  return result.rows.length > 0;
}
