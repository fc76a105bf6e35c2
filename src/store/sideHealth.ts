// The health of each side of a connection as its jobs meet it: a side is failing from the first provider failure
// (a 5xx, a timeout, a 429 the client could not wait out) until a job ends well with none of its records still
// waiting on that side. The records whose jobs failed on a provider and will be tried again wait here, with their
// next try, so the card can say which side fails, since when, how much waits and when it is tried next.
import type { Queryable } from './db.ts';

export type Side = 'quickbooks' | 'highlevel';

export interface FailingSide {
  side: Side;
  since: Date;
  lastFailureAt: Date;
  lastError: string;
  /** Records whose jobs wait for their next try on this side (polls and sweeps not counted). */
  waitingRecords: number;
  /** The soonest next try of anything waiting on this side; null while a first try is under way, or once all gave up. */
  nextTryAt: Date | null;
  /** Records whose jobs ran out of tries during this outage. */
  gaveUpRecords: number;
}

export interface WaitingRecord {
  connectionId: string;
  recordKey: string;
  side: Side;
  queue: string;
  periodic: boolean;
  nextTryAt: Date | null;
  /** What the provider said (status, code, message), without secrets. */
  error: string;
}

/**
 * Records a job that failed on a provider and will be tried again: its record waits, and the side is failing from
 * now unless it already was. Returns whether this is the side's first waiting record since it last answered (the
 * activity says so once per outage).
 */
export async function recordWaiting(q: Queryable, w: WaitingRecord): Promise<{ outageStarted: boolean }> {
  const result = await q.query<{ started: boolean }>(
    `WITH waiting AS (
       INSERT INTO waiting_records (connection_id, record_key, side, queue, periodic, next_try_at)
       VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (connection_id, record_key) DO UPDATE SET
         side = EXCLUDED.side, queue = EXCLUDED.queue, last_failed_at = now(), failures = waiting_records.failures + 1, next_try_at = EXCLUDED.next_try_at
     )
     ${sideFailedSql('$1', '$3', '$7', true)}
     RETURNING announced_at = now() AS started`,
    [w.connectionId, w.recordKey, w.side, w.queue, w.periodic, w.nextTryAt, w.error],
  );
  return { outageStarted: Boolean(result.rows[0]?.started) };
}

/** A job gave up on a provider failure: its record no longer waits (it is an open error with Retry), the side still fails. */
export async function recordGaveUp(
  q: Queryable,
  g: { connectionId: string; recordKey: string; side: Side; error: string },
): Promise<{ outageStarted: boolean }> {
  const result = await q.query<{ started: boolean }>(
    `WITH gone AS (DELETE FROM waiting_records WHERE connection_id = $1 AND record_key = $2)
     ${sideFailedSql('$1', '$3', '$4', true, true)}
     RETURNING announced_at = now() AS started`,
    [g.connectionId, g.recordKey, g.side, g.error],
  );
  return { outageStarted: Boolean(result.rows[0]?.started) };
}

/**
 * A call to a side failed (a 5xx, no answer) while its job still tries: the side is failing from now, visible before
 * the job's own tries are spent (a call that times out takes 30 s a try). Nothing waits yet, and nothing is announced.
 */
export async function recordCallFailure(q: Queryable, connectionId: string, side: Side, error: string): Promise<void> {
  await q.query(sideFailedSql('$1', '$2', '$3', false), [connectionId, side, error]);
}

// `now()` is the statement's transaction time: `announced_at = now()` after the upsert says this statement set it.
/**
 * A waiting row not met again for this long is stale: any retry of its job would have updated it or ended it (the
 * longest retry delay is minutes). It is left out everywhere and deleted by the next job of its connection that ends.
 */
const LIVE = `w.last_failed_at > now() - interval '1 hour'`;

const sideFailedSql = (connection: string, side: string, error: string, announce: boolean, gaveUp = false) =>
  `INSERT INTO side_health (connection_id, side, failing_since, last_failure_at, last_error, announced_at, gave_up)
     VALUES (${connection}, ${side}, now(), now(), ${error}, ${announce ? 'now()' : 'NULL'}, ${gaveUp ? 1 : 0})
     ON CONFLICT (connection_id, side) DO UPDATE SET
       failing_since = coalesce(side_health.failing_since, now()), last_failure_at = now(), last_error = EXCLUDED.last_error
       ${announce ? ', announced_at = coalesce(side_health.announced_at, now())' : ''}
       ${gaveUp ? ', gave_up = CASE WHEN side_health.failing_since IS NULL THEN 1 ELSE side_health.gave_up + 1 END' : ''}`;

/**
 * A job of the connection ended without a provider failure (done, or stopped for a reason of its own): its record
 * waits no more, and each side that has nothing left waiting on it and has not failed since the job started answers
 * again (a job that started before a failure says nothing of it). Returns the sides that recovered, and whether
 * their failure had been announced.
 */
export async function recordJobEnded(
  q: Queryable,
  connectionId: string,
  recordKey: string,
  startedAt: Date,
): Promise<Array<{ side: Side; announced: boolean }>> {
  // The DELETE is not visible to the UPDATE of the same statement: the ended record is left out by hand. The row
  // joined as `o` is read before the update: it tells whether the failure was announced.
  const result = await q.query<{ side: Side; announced: boolean }>(
    `WITH gone AS (DELETE FROM waiting_records w WHERE w.connection_id = $1 AND (w.record_key = $2 OR NOT (${LIVE})))
     UPDATE side_health h SET failing_since = NULL, announced_at = NULL, gave_up = 0, recovered_at = now()
     FROM side_health o
     WHERE o.connection_id = h.connection_id AND o.side = h.side
       AND h.connection_id = $1 AND h.failing_since IS NOT NULL AND h.last_failure_at < $3
       AND NOT EXISTS (SELECT 1 FROM waiting_records w WHERE w.connection_id = $1 AND w.side = h.side AND w.record_key <> $2 AND ${LIVE})
     RETURNING h.side, o.announced_at IS NOT NULL AS announced`,
    [connectionId, recordKey, startedAt],
  );
  return result.rows.map((r) => ({ side: r.side, announced: Boolean(r.announced) }));
}

/** The failing sides of a connection, QuickBooks first. */
export async function failingSides(q: Queryable, connectionId: string): Promise<FailingSide[]> {
  return (await readFailingSides(q, connectionId)).map(({ connectionId: _, ...side }) => side);
}

/** The failing sides of every connection (the attention check reads them all at once). */
export function everyFailingSide(q: Queryable): Promise<Array<FailingSide & { connectionId: string }>> {
  return readFailingSides(q);
}

async function readFailingSides(
  q: Queryable,
  connectionId?: string,
): Promise<Array<FailingSide & { connectionId: string }>> {
  const result = await q.query<{
    connection_id: string;
    side: Side;
    failing_since: Date | string;
    last_failure_at: Date | string;
    last_error: string | null;
    gave_up: number;
    waiting: string | number;
    next_try_at: Date | string | null;
  }>(
    `SELECT h.connection_id, h.side, h.failing_since, h.last_failure_at, h.last_error, h.gave_up,
       (SELECT count(*) FROM waiting_records w WHERE w.connection_id = h.connection_id AND w.side = h.side AND NOT w.periodic AND ${LIVE}) AS waiting,
       (SELECT min(w.next_try_at) FROM waiting_records w WHERE w.connection_id = h.connection_id AND w.side = h.side AND ${LIVE}) AS next_try_at
     FROM side_health h WHERE h.failing_since IS NOT NULL ${connectionId === undefined ? '' : 'AND h.connection_id = $1'}
     ORDER BY h.connection_id, h.side DESC`,
    connectionId === undefined ? [] : [connectionId],
  );
  return result.rows.map((r) => ({
    connectionId: r.connection_id,
    side: r.side,
    since: new Date(r.failing_since),
    lastFailureAt: new Date(r.last_failure_at),
    lastError: r.last_error ?? '',
    waitingRecords: Number(r.waiting),
    nextTryAt: r.next_try_at === null ? null : new Date(r.next_try_at),
    gaveUpRecords: Number(r.gave_up),
  }));
}

/** Every connection with a side failing or a record waiting (the engine asks this instead of once per job). */
export async function connectionsWithFailures(q: Queryable): Promise<Set<string>> {
  const result = await q.query<{ connection_id: string }>(
    `SELECT connection_id FROM side_health WHERE failing_since IS NOT NULL UNION SELECT connection_id FROM waiting_records w WHERE ${LIVE}`,
  );
  return new Set(result.rows.map((r) => r.connection_id));
}
