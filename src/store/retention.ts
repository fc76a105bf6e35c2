// How long history is kept. Activity entries and inbox events are history: without a limit they grow with every
// payment, poll and webhook for as long as the deployment runs. What is still needed is never deleted, whatever
// its age:
// - an open error of a connection (it waits for a person, and Retry needs its job); the sampled entries of refused
//   webhooks belong to no connection, have nothing to retry and go with their age;
// - the newest entry of each record that has a link (the dashboard shows how the pair was last synced), and the
//   newest success of each flow of a connection (the card's "last sync");
// - an inbox event that an open error's job still names (its payload is read when the job runs again), and one
//   held for a connection still paused (its job is queued when the connection is resumed).
// Links, cursors and the other sync state are not history and are not touched here.
import type { Queryable } from './db.ts';

export interface RetentionPolicy {
  /** Activity entries older than this many days go (LEDGERLINK_ACTIVITY_RETENTION_DAYS). */
  activityDays: number;
  /** Inbox events received more than this many days ago go (LEDGERLINK_INBOX_RETENTION_DAYS). */
  inboxDays: number;
}

export const DEFAULT_RETENTION: RetentionPolicy = { activityDays: 90, inboxDays: 30 };

/** Rows deleted per statement: short statements keep locks short beside the workers. */
const BATCH = 5000;

export interface PruneOutcome {
  activity: number;
  inbox: number;
  webhookRefusals: number;
}

export async function pruneHistory(q: Queryable, policy: RetentionPolicy = DEFAULT_RETENTION): Promise<PruneOutcome> {
  const activityBefore = new Date(Date.now() - policy.activityDays * 86_400_000).toISOString();
  const inboxBefore = new Date(Date.now() - policy.inboxDays * 86_400_000).toISOString();
  const outcome: PruneOutcome = { activity: 0, inbox: 0, webhookRefusals: 0 };
  outcome.activity = await inBatches(
    q,
    `DELETE FROM activity WHERE id IN (
      SELECT a.id FROM activity a
      WHERE a.created_at < $1 AND coalesce(a.last_seen_at, a.created_at) < $1
        AND NOT (a.status = 'error' AND a.resolved_at IS NULL AND a.connection_id IS NOT NULL)
        AND NOT (a.crm_id IS NOT NULL
          AND EXISTS (SELECT 1 FROM links l WHERE l.connection_id = a.connection_id AND l.crm_id = a.crm_id)
          AND NOT EXISTS (SELECT 1 FROM activity n WHERE n.connection_id = a.connection_id AND n.flow = a.flow AND n.crm_id = a.crm_id AND n.id > a.id))
        AND NOT (a.status = 'ok' AND a.connection_id IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM activity n WHERE n.connection_id = a.connection_id AND n.flow = a.flow AND n.status = 'ok' AND n.id > a.id))
      LIMIT ${BATCH})`,
    [activityBefore],
  );
  outcome.inbox = await inBatches(
    q,
    `DELETE FROM inbox WHERE id IN (
      SELECT i.id FROM inbox i
      WHERE i.received_at < $1
        AND NOT (i.status = 'held' AND EXISTS (SELECT 1 FROM connections c WHERE c.id = i.connection_id AND c.status = 'paused'))
        AND NOT EXISTS (SELECT 1 FROM activity a WHERE a.status = 'error' AND a.resolved_at IS NULL AND a.retry IS NOT NULL
          AND a.connection_id = i.connection_id AND a.retry->'data'->>'inboxId' = i.id::text)
      LIMIT ${BATCH})`,
    [inboxBefore],
  );
  // Refusal counters of reasons not seen for as long as activity is kept say nothing any more.
  const refusals = await q.query(`DELETE FROM webhook_refusals WHERE last_seen_at < $1`, [activityBefore]);
  outcome.webhookRefusals = refusals.rowCount;
  // Deleted rows free their space for new ones only once vacuumed. PostgreSQL's autovacuum would get to it; the
  // embedded PGlite store has no autovacuum, and without this its files would keep growing despite the deletes.
  if (outcome.activity > 0) await q.query('VACUUM activity');
  if (outcome.inbox > 0) await q.query('VACUUM inbox');
  return outcome;
}

async function inBatches(q: Queryable, sql: string, params: unknown[]): Promise<number> {
  let total = 0;
  for (;;) {
    const result = await q.query(sql, params);
    total += result.rowCount;
    if (result.rowCount < BATCH) return total;
  }
}
