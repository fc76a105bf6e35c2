// Notices about connections that need attention (migration 013): a row per problem met, opened when the problem
// starts and cleared when it ends, with what was delivered on which channel, so each notice goes out once.
import type { Queryable } from './db.ts';

export interface NoticeText {
  subject: string;
  text: string;
}

export interface AttentionNotice {
  id: number;
  connectionId: string;
  problem: string;
  openedAt: Date;
  opened: NoticeText;
  clearedAt: Date | null;
  cleared: NoticeText | null;
  /** "open:<channel>" / "clear:<channel>" -> when it was sent. */
  deliveries: Record<string, string>;
}

interface Row {
  id: string | number;
  connection_id: string;
  problem: string;
  opened_at: Date | string;
  opened: NoticeText | string;
  cleared_at: Date | string | null;
  cleared: NoticeText | string | null;
  deliveries: Record<string, string> | string;
}

const json = <T>(value: T | string): T => (typeof value === 'string' ? (JSON.parse(value) as T) : value);

function noticeOf(r: Row): AttentionNotice {
  return {
    id: Number(r.id),
    connectionId: r.connection_id,
    problem: r.problem,
    openedAt: new Date(r.opened_at),
    opened: json(r.opened),
    clearedAt: r.cleared_at === null ? null : new Date(r.cleared_at),
    cleared: r.cleared === null ? null : json(r.cleared),
    deliveries: json(r.deliveries),
  };
}

/** The notices still open, or cleared with something left to send. */
export async function unfinishedNotices(q: Queryable): Promise<AttentionNotice[]> {
  const result = await q.query<Row>(
    `SELECT id, connection_id, problem, opened_at, opened, cleared_at, cleared, deliveries FROM attention_notices WHERE NOT finished ORDER BY id`,
  );
  return result.rows.map(noticeOf);
}

/** Opens a problem's notice unless one is open already (another process may have just done it). */
export async function openNotice(
  q: Queryable,
  connectionId: string,
  problem: string,
  opened: NoticeText,
): Promise<boolean> {
  const result = await q.query(
    `INSERT INTO attention_notices (connection_id, problem, opened) VALUES ($1, $2, $3)
     ON CONFLICT (connection_id, problem) WHERE cleared_at IS NULL DO NOTHING RETURNING id`,
    [connectionId, problem, JSON.stringify(opened)],
  );
  return result.rows.length === 1;
}

export async function clearNotice(q: Queryable, id: number, cleared: NoticeText): Promise<void> {
  await q.query(`UPDATE attention_notices SET cleared_at = now(), cleared = $2 WHERE id = $1 AND cleared_at IS NULL`, [
    id,
    JSON.stringify(cleared),
  ]);
}

/** Takes a notice to send what it still owes; undefined when another process holds it (or it is finished). */
export async function claimNotice(q: Queryable, id: number, seconds: number): Promise<AttentionNotice | undefined> {
  const result = await q.query<Row>(
    `UPDATE attention_notices SET claimed_until = now() + make_interval(secs => $2)
     WHERE id = $1 AND NOT finished AND (claimed_until IS NULL OR claimed_until < now())
     RETURNING id, connection_id, problem, opened_at, opened, cleared_at, cleared, deliveries`,
    [id, seconds],
  );
  return result.rows[0] ? noticeOf(result.rows[0]) : undefined;
}

export async function recordDelivery(q: Queryable, id: number, key: string): Promise<void> {
  await q.query(
    `UPDATE attention_notices SET deliveries = deliveries || jsonb_build_object($2::text, now()) WHERE id = $1`,
    [id, key],
  );
}

export async function releaseNotice(q: Queryable, id: number, finished: boolean): Promise<void> {
  await q.query(`UPDATE attention_notices SET claimed_until = NULL, finished = finished OR $2 WHERE id = $1`, [
    id,
    finished,
  ]);
}
