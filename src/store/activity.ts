// The activity log: every sync, skip and error, with the record on both sides, what changed, and for errors
// what happened and what to do, plus what Retry should run again.
import type { Queryable } from './db.ts';
import { linkUpsert, type LinkToSave } from './links.ts';
import type { RecordNaming } from './recordNames.ts';

export type ActivityStatus = 'ok' | 'skipped' | 'error' | 'info';

export interface ActivityEntry {
  connectionId: string | null;
  flow: string;
  status: ActivityStatus;
  crmKind?: string;
  crmId?: string;
  qboKind?: string;
  qboId?: string;
  message: string;
  detail?: Record<string, unknown>;
  /** For errors: the job to enqueue again when the user presses Retry. */
  retry?: { queue: string; data: Record<string, unknown> };
  /**
   * For errors: what failed, so that the same failure of the same record met again (on every poll, say) updates
   * its one open error instead of adding another. Default: `detail.code`, else the message.
   */
  cause?: string;
}

export interface ActivityRecord extends ActivityEntry {
  id: number;
  createdAt: Date;
  resolvedAt: Date | null;
  /** How many times this error was met while it stayed open (1 for everything else). */
  occurrences: number;
  /** When it was last met (createdAt when only once). */
  lastSeenAt: Date;
  /** An event ledgerlink ignored because it only reports ledgerlink's own write (see RecordNaming.echoSql). */
  echo: boolean;
}

/**
 * The message of a success that had to change something on the way (text cut to QuickBooks' limits, a field left
 * out): it says so, so that it is never a silent ok. `detail.warnings` holds every warning; the dashboard shows
 * such an entry as synced with warnings.
 */
export function withWarnings(message: string, warnings: readonly string[]): string {
  if (warnings.length === 0) return message;
  const more = warnings.length > 1 ? ` (and ${warnings.length - 1} more warning${warnings.length > 2 ? 's' : ''})` : '';
  return `${message}; with warnings: ${warnings[0]}${more}`;
}

export async function recordActivity(q: Queryable, entry: ActivityEntry): Promise<number> {
  const insert = activityInsert(entry, {}, 1);
  const result = await q.query<{ id: string | number }>(insert.sql, insert.params);
  return Number(result.rows[0]!.id);
}

/**
 * Saves a link and records what was done, atomically in one statement (no transaction round trips): the common
 * end of a flow that wrote one record. `resolvesErrors`: the entry is a success that also resolves the record's
 * open errors of the same flow (as resolveErrors does).
 */
export async function saveLinkAndRecord(
  q: Queryable,
  link: LinkToSave,
  entry: ActivityEntry,
  options: { resolvesErrors?: boolean } = {},
): Promise<number> {
  const upsert = linkUpsert(link, 1);
  const insert = activityInsert(entry, options, upsert.params.length + 1, `saved AS (${upsert.sql})`);
  const result = await q.query<{ id: string | number }>(insert.sql, [...upsert.params, ...insert.params]);
  return Number(result.rows[0]!.id);
}

function activityInsert(
  entry: ActivityEntry,
  options: { resolvesErrors?: boolean },
  first: number,
  before?: string,
): { sql: string; params: unknown[] } {
  const p = (n: number) => `$${first + n - 1}`;
  const parts = before ? [before] : [];
  if (options.resolvesErrors && entry.crmId) {
    parts.push(
      `resolved AS (UPDATE activity SET resolved_at = now() WHERE connection_id = ${p(1)} AND flow = ${p(2)} AND crm_id = ${p(5)} AND status = 'error' AND resolved_at IS NULL)`,
    );
  }
  // An error of a record that is already open for the same cause is the same error met again: it is counted and
  // its text brought up to date in place (activity_open_error_per_cause, migration 007), never added once more.
  return {
    sql: `${parts.length ? `WITH ${parts.join(', ')} ` : ''}INSERT INTO activity (connection_id, flow, status, crm_kind, crm_id, qbo_kind, qbo_id, message, detail, retry, cause)
     VALUES (${[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11].map(p).join(', ')})
     ON CONFLICT (connection_id, flow, crm_id, cause) WHERE ${OPEN_ERROR_WITH_CAUSE} DO UPDATE SET
       occurrences = activity.occurrences + 1, last_seen_at = now(), message = EXCLUDED.message, detail = EXCLUDED.detail,
       retry = EXCLUDED.retry, crm_kind = EXCLUDED.crm_kind, qbo_kind = coalesce(EXCLUDED.qbo_kind, activity.qbo_kind), qbo_id = coalesce(EXCLUDED.qbo_id, activity.qbo_id)
     RETURNING id`,
    params: [
      entry.connectionId,
      entry.flow,
      entry.status,
      entry.crmKind ?? null,
      entry.crmId ?? null,
      entry.qboKind ?? null,
      entry.qboId ?? null,
      entry.message,
      JSON.stringify(entry.detail ?? {}),
      entry.retry ? JSON.stringify(entry.retry) : null,
      causeOf(entry),
    ],
  };
}

/** The predicate of the unique index activity_open_error_per_cause: ON CONFLICT must name it to use the index. */
const OPEN_ERROR_WITH_CAUSE = `status = 'error' AND resolved_at IS NULL AND crm_id IS NOT NULL AND cause IS NOT NULL`;

function causeOf(entry: ActivityEntry): string | null {
  if (entry.status !== 'error') return null;
  if (entry.cause) return entry.cause;
  const code = entry.detail?.code;
  return typeof code === 'string' && code !== '' ? code : entry.message;
}

/** A later success for the same record resolves its open errors, so that the error list shows what still needs a person. */
export async function resolveErrors(q: Queryable, connectionId: string, flow: string, crmId: string): Promise<void> {
  await q.query(
    `UPDATE activity SET resolved_at = now() WHERE connection_id = $1 AND flow = $2 AND crm_id = $3 AND status = 'error' AND resolved_at IS NULL`,
    [connectionId, flow, crmId],
  );
}

export interface ActivityFilter {
  connectionId?: string;
  flow?: string;
  status?: ActivityStatus;
  text?: string;
  openErrorsOnly?: boolean;
  /** Leave out ledgerlink's own writes coming back as events (the dashboard folds them away by default). */
  withoutEchoes?: boolean;
  limit?: number;
  beforeId?: number;
}

interface ActivityRow {
  id: string | number;
  connection_id: string | null;
  flow: string;
  status: ActivityStatus;
  crm_kind: string | null;
  crm_id: string | null;
  qbo_kind: string | null;
  qbo_id: string | null;
  message: string;
  detail: Record<string, unknown> | string;
  retry: ActivityEntry['retry'] | string | null;
  resolved_at: Date | string | null;
  created_at: Date | string;
  occurrences: number | string | null;
  last_seen_at: Date | string | null;
  echo: boolean | null;
}

const parse = <T>(value: T | string): T => (typeof value === 'string' ? (JSON.parse(value) as T) : value);

/**
 * Entries, newest first. `naming` (the registry's, from the flows' declarations) tells echoes: without it no entry
 * is marked one, and `withoutEchoes` is refused.
 */
export async function listActivity(
  q: Queryable,
  filter: ActivityFilter = {},
  naming?: RecordNaming,
): Promise<ActivityRecord[]> {
  if (filter.withoutEchoes && !naming) throw new Error('leaving echoes out needs the record naming');
  const echoSql = naming?.echoSql ?? 'false';
  const where: string[] = [];
  const params: unknown[] = [];
  const add = (sql: string, value: unknown) => {
    params.push(value);
    where.push(sql.replace('?', `$${params.length}`));
  };
  if (filter.connectionId) add('connection_id = ?', filter.connectionId);
  if (filter.flow) add('flow = ?', filter.flow);
  if (filter.status) add('status = ?', filter.status);
  if (filter.text) {
    params.push(`%${filter.text.replace(/[%_\\]/g, '\\$&')}%`);
    const p = `$${params.length}`;
    where.push(`(message ILIKE ${p} OR crm_id ILIKE ${p} OR qbo_id ILIKE ${p})`);
  }
  if (filter.openErrorsOnly) where.push(`status = 'error' AND resolved_at IS NULL`);
  if (filter.withoutEchoes) where.push(`NOT ${echoSql}`);
  if (filter.beforeId) add('id < ?', filter.beforeId);
  params.push(Math.min(filter.limit ?? 100, 1000));
  const result = await q.query<ActivityRow>(
    `SELECT a.*, ${echoSql} AS echo FROM activity a ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT $${params.length}`,
    params,
  );
  return result.rows.map((row) => ({
    id: Number(row.id),
    connectionId: row.connection_id,
    flow: row.flow,
    status: row.status,
    ...(row.crm_kind ? { crmKind: row.crm_kind } : {}),
    ...(row.crm_id ? { crmId: row.crm_id } : {}),
    ...(row.qbo_kind ? { qboKind: row.qbo_kind } : {}),
    ...(row.qbo_id ? { qboId: row.qbo_id } : {}),
    message: row.message,
    detail: parse(row.detail),
    ...(row.retry ? { retry: parse(row.retry) } : {}),
    createdAt: new Date(row.created_at),
    resolvedAt: row.resolved_at ? new Date(row.resolved_at) : null,
    occurrences: Number(row.occurrences ?? 1),
    lastSeenAt: new Date(row.last_seen_at ?? row.created_at),
    echo: row.echo === true,
  }));
}

/** One entry of a connection (undefined when it belongs to another connection: every read is scoped). */
export async function getActivity(
  q: Queryable,
  connectionId: string,
  id: number,
  naming?: RecordNaming,
): Promise<ActivityRecord | undefined> {
  const rows = await listActivity(q, { connectionId, beforeId: id + 1, limit: 1 }, naming);
  return rows[0]?.id === id ? rows[0] : undefined;
}

/** Marks open errors resolved (Retry pressed): they leave the list of what needs a person. */
export async function markResolved(q: Queryable, connectionId: string, ids: readonly number[]): Promise<number> {
  if (ids.length === 0) return 0;
  const result = await q.query(
    `UPDATE activity SET resolved_at = now() WHERE connection_id = $1 AND id = ANY($2::bigint[]) AND status = 'error' AND resolved_at IS NULL`,
    [connectionId, ids.map(String)],
  );
  return result.rowCount;
}

/** When each flow last synced something for a connection, and how many errors wait for a person. */
export async function activitySummary(
  q: Queryable,
  connectionId: string,
): Promise<{ lastSuccess: Record<string, Date>; openErrors: number }> {
  const last = await q.query<{ flow: string; at: Date | string }>(
    `SELECT flow, max(created_at) AS at FROM activity WHERE connection_id = $1 AND status = 'ok' GROUP BY flow`,
    [connectionId],
  );
  const open = await q.query<{ n: string | number }>(
    `SELECT count(*) AS n FROM activity WHERE connection_id = $1 AND status = 'error' AND resolved_at IS NULL`,
    [connectionId],
  );
  return {
    lastSuccess: Object.fromEntries(last.rows.map((r) => [r.flow, new Date(r.at)])),
    openErrors: Number(open.rows[0]?.n ?? 0),
  };
}
