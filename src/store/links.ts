// Links between a CRM record and its QuickBooks twin: the one place that reads and writes the links table. Flows
// ask in business words (a customer link by email, the crm ids of linked records with an open error) and never
// write SQL against links themselves, so the rules below (connection scoping, guarded writes, claims in
// linkClaims.ts) hold for every flow.
import type { Queryable } from './db.ts';

/**
 * What a link joins ('customer', 'salesReceipt', 'invoice', ...). Each flow names the kinds of its own records;
 * the store keeps every kind alike and knows none of them, so a new flow adds a kind without touching the store.
 */
export type LinkKind = string;
export type Origin = 'crm' | 'qbo';
/** 'pending': a claim taken before a create (linkClaims.ts); 'skipped': a record deliberately left unsynced. */
export type LinkState = 'pending' | 'linked' | 'skipped';

export interface Link {
  connectionId: string;
  kind: LinkKind;
  crmId: string;
  qboId: string | null;
  origin: Origin;
  state: LinkState;
  snapshotHash: string | null;
  qboSyncToken: string | null;
  qboUpdatedAt: string | null;
  crmUpdatedAt: string | null;
  data: Record<string, unknown>;
}

interface LinkRow {
  connection_id: string;
  kind: LinkKind;
  crm_id: string;
  qbo_id: string | null;
  origin: Origin;
  state: LinkState;
  snapshot_hash: string | null;
  qbo_sync_token: string | null;
  qbo_updated_at: string | null;
  crm_updated_at: string | null;
  data: Record<string, unknown> | string;
}

const fromRow = (row: LinkRow): Link => ({
  connectionId: row.connection_id,
  kind: row.kind,
  crmId: row.crm_id,
  qboId: row.qbo_id,
  origin: row.origin,
  state: row.state,
  snapshotHash: row.snapshot_hash,
  qboSyncToken: row.qbo_sync_token,
  qboUpdatedAt: row.qbo_updated_at,
  crmUpdatedAt: row.crm_updated_at,
  data: typeof row.data === 'string' ? (JSON.parse(row.data) as Record<string, unknown>) : row.data,
});

export async function findLinkByCrmId(
  q: Queryable,
  connectionId: string,
  kind: LinkKind,
  crmId: string,
): Promise<Link | undefined> {
  const result = await q.query<LinkRow>('SELECT * FROM links WHERE connection_id = $1 AND kind = $2 AND crm_id = $3', [
    connectionId,
    kind,
    crmId,
  ]);
  return result.rows[0] ? fromRow(result.rows[0]) : undefined;
}

export async function findLinkByQboId(
  q: Queryable,
  connectionId: string,
  kind: LinkKind,
  qboId: string,
): Promise<Link | undefined> {
  const result = await q.query<LinkRow>('SELECT * FROM links WHERE connection_id = $1 AND kind = $2 AND qbo_id = $3', [
    connectionId,
    kind,
    qboId,
  ]);
  return result.rows[0] ? fromRow(result.rows[0]) : undefined;
}

/** Inserts or replaces the link for (connection, kind, crm id). */
export async function saveLink(q: Queryable, link: LinkToSave): Promise<void> {
  const upsert = linkUpsert(link);
  await q.query(upsert.sql, upsert.params);
}

export type LinkToSave = Omit<Link, 'data'> & { data?: Record<string, unknown> };

/** The upsert of a link as SQL whose parameters start at $first (to be a part of a larger statement). */
export function linkUpsert(link: LinkToSave, first = 1): { sql: string; params: unknown[] } {
  const p = (n: number) => `$${first + n - 1}`;
  return {
    sql: `INSERT INTO links (connection_id, kind, crm_id, qbo_id, origin, state, snapshot_hash, qbo_sync_token, qbo_updated_at, crm_updated_at, data)
     VALUES (${[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11].map(p).join(', ')})
     ON CONFLICT (connection_id, kind, crm_id) DO UPDATE SET qbo_id = EXCLUDED.qbo_id, origin = EXCLUDED.origin, state = EXCLUDED.state,
       snapshot_hash = EXCLUDED.snapshot_hash, qbo_sync_token = EXCLUDED.qbo_sync_token, qbo_updated_at = EXCLUDED.qbo_updated_at,
       crm_updated_at = EXCLUDED.crm_updated_at, data = EXCLUDED.data, updated_at = now()`,
    params: [
      link.connectionId,
      link.kind,
      link.crmId,
      link.qboId,
      link.origin,
      link.state,
      link.snapshotHash,
      link.qboSyncToken,
      link.qboUpdatedAt,
      link.crmUpdatedAt,
      JSON.stringify(link.data ?? {}),
    ],
  };
}

/**
 * SQL that is true when the link state `stored` (a table alias) is newer than `incoming` by any version both sides
 * report: QuickBooks' SyncToken (an integer it raises on every change), QuickBooks' LastUpdatedTime, HighLevel's
 * dateUpdated. A version either side lacks (null, empty, not in the expected shape) decides nothing. The snapshot
 * hash is not a version: it says whether the synced fields changed, not which state came later. CASE keeps the casts
 * from running on values that are not numbers or timestamps (PostgreSQL does not promise to evaluate AND in order).
 */
function storedIsNewer(stored: string, incoming: { syncToken: string; qboUpdatedAt: string; crmUpdatedAt: string }) {
  const token = (v: string) => `${v} ~ '^[0-9]{1,18}$'`;
  const time = (v: string) =>
    `${v} ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]+)?(Z|[+-][0-9]{2}:?[0-9]{2})?$'`;
  return `(CASE WHEN ${token(`${stored}.qbo_sync_token`)} AND ${token(incoming.syncToken)}
            THEN ${stored}.qbo_sync_token::bigint > (${incoming.syncToken})::bigint ELSE false END
       OR CASE WHEN ${time(`${stored}.qbo_updated_at`)} AND ${time(incoming.qboUpdatedAt)}
            THEN ${stored}.qbo_updated_at::timestamptz > (${incoming.qboUpdatedAt})::timestamptz ELSE false END
       OR CASE WHEN ${time(`${stored}.crm_updated_at`)} AND ${time(incoming.crmUpdatedAt)}
            THEN ${stored}.crm_updated_at::timestamptz > (${incoming.crmUpdatedAt})::timestamptz ELSE false END)`;
}

/**
 * Saves a link unless the one stored is newer (storedIsNewer): the write of a job that read its record before
 * another job wrote a later version leaves that later state alone, like a timestamp-guarded upsert. For links both
 * sides follow (a customer changed in QuickBooks and its contact in HighLevel run as two jobs). False when the
 * stored link was kept.
 */
export async function saveLinkUnlessNewer(q: Queryable, link: LinkToSave): Promise<boolean> {
  const upsert = linkUpsert(link);
  const guard = storedIsNewer('links', {
    syncToken: 'EXCLUDED.qbo_sync_token',
    qboUpdatedAt: 'EXCLUDED.qbo_updated_at',
    crmUpdatedAt: 'EXCLUDED.crm_updated_at',
  });
  const result = await q.query(`${upsert.sql} WHERE NOT ${guard}`, upsert.params);
  return result.rowCount === 1;
}

/**
 * Remembers the SyncToken QuickBooks gave a linked record when nothing synced changed (Balance after an invoice,
 * a deleted contact's customer), unless the link already holds a later one. False when the link kept its own.
 */
export async function rememberSyncToken(
  q: Queryable,
  connectionId: string,
  kind: LinkKind,
  crmId: string,
  syncToken: string,
): Promise<boolean> {
  // The token is checked here, not in SQL: PostgreSQL may fold a cast of a bound value before the CASE guards it.
  const guard = /^[0-9]{1,18}$/.test(syncToken)
    ? ` AND NOT ${storedIsNewer('links', { syncToken: '$4::text', qboUpdatedAt: 'NULL::text', crmUpdatedAt: 'NULL::text' })}`
    : '';
  const result = await q.query(
    `UPDATE links SET qbo_sync_token = $4, updated_at = now() WHERE connection_id = $1 AND kind = $2 AND crm_id = $3${guard}`,
    [connectionId, kind, crmId, syncToken],
  );
  return result.rowCount === 1;
}

/** Inserts the link unless one already holds its crm id or its QuickBooks id (either unique side). */
export async function saveLinkIfAbsent(q: Queryable, link: LinkToSave): Promise<boolean> {
  const result = await q.query(
    `INSERT INTO links (connection_id, kind, crm_id, qbo_id, origin, state, snapshot_hash, qbo_sync_token, qbo_updated_at, crm_updated_at, data)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT DO NOTHING`,
    linkUpsert(link).params,
  );
  return result.rowCount === 1;
}

/** Adds these fields to a link's data (the others stay as they are). */
export async function mergeLinkData(
  q: Queryable,
  connectionId: string,
  kind: LinkKind,
  crmId: string,
  fields: Record<string, unknown>,
): Promise<void> {
  await q.query(
    `UPDATE links SET data = data || $4::jsonb, updated_at = now() WHERE connection_id = $1 AND kind = $2 AND crm_id = $3`,
    [connectionId, kind, crmId, JSON.stringify(fields)],
  );
}

/** Forgets the links of these crm ids, whatever their state: the next run finds or makes their twins again. */
export async function forgetLinks(
  q: Queryable,
  connectionId: string,
  kind: LinkKind,
  crmIds: readonly string[],
): Promise<void> {
  await q.query(`DELETE FROM links WHERE connection_id = $1 AND kind = $2 AND crm_id = ANY($3::text[])`, [
    connectionId,
    kind,
    [...crmIds],
  ]);
}

/** The links of these crm ids (one query for a page of records), in any state unless `state` narrows it. */
export async function linksByCrmIds(
  q: Queryable,
  connectionId: string,
  kind: LinkKind,
  crmIds: readonly string[],
  state?: LinkState,
): Promise<Link[]> {
  if (crmIds.length === 0) return [];
  const result = await q.query<LinkRow>(
    `SELECT * FROM links WHERE connection_id = $1 AND kind = $2 AND crm_id = ANY($3::text[]) AND ($4::text IS NULL OR state = $4)`,
    [connectionId, kind, [...crmIds], state ?? null],
  );
  return result.rows.map(fromRow);
}

/** The links of these QuickBooks ids, in any state unless `state` narrows it. */
export async function linksByQboIds(
  q: Queryable,
  connectionId: string,
  kind: LinkKind,
  qboIds: readonly string[],
  state?: LinkState,
): Promise<Link[]> {
  if (qboIds.length === 0) return [];
  const result = await q.query<LinkRow>(
    `SELECT * FROM links WHERE connection_id = $1 AND kind = $2 AND qbo_id = ANY($3::text[]) AND ($4::text IS NULL OR state = $4)`,
    [connectionId, kind, [...qboIds], state ?? null],
  );
  return result.rows.map(fromRow);
}

/**
 * Of these emails, those that a QuickBooks customer in the connection's customer index holds while that customer has a
 * link of this kind in any state (a contact made for it, perhaps moments ago, or a claim on one).
 */
export async function indexedEmailsWithLink(
  q: Queryable,
  connectionId: string,
  kind: LinkKind,
  emails: readonly string[],
): Promise<string[]> {
  const result = await q.query<{ email: string }>(
    `SELECT DISTINCT c.email FROM qbo_customers c JOIN links l ON l.connection_id = c.connection_id AND l.kind = $2 AND l.qbo_id = c.qbo_id
     WHERE c.connection_id = $1 AND c.email = ANY($3::text[])`,
    [connectionId, kind, [...emails]],
  );
  return result.rows.map((row) => row.email);
}

/** Whether a link holds this crm id, or a pending claim carries `value` in its data field `field`. */
export async function linkOrClaimNaming(
  q: Queryable,
  connectionId: string,
  kind: LinkKind,
  crmId: string,
  claim: { field: string; value: string },
): Promise<boolean> {
  const result = await q.query(
    `SELECT 1 FROM links WHERE connection_id = $1 AND kind = $2 AND (crm_id = $3 OR (state = 'pending' AND data->>$4 = $5)) LIMIT 1`,
    [connectionId, kind, crmId, claim.field, claim.value],
  );
  return result.rows.length > 0;
}

/**
 * Whether a link of this kind holds this crm id, and else whether any claim of this kind is pending (one of them may
 * be creating this very record, which only its data can tell).
 */
export async function linkOrClaimsPending(
  q: Queryable,
  connectionId: string,
  kind: LinkKind,
  crmId: string,
): Promise<'linked' | 'claims-pending' | 'none'> {
  const found = await q.query<{ state: string; crm_id: string }>(
    `SELECT state, crm_id FROM links WHERE connection_id = $1 AND kind = $2 AND (crm_id = $3 OR state = 'pending') LIMIT 2`,
    [connectionId, kind, crmId],
  );
  if (found.rows.some((r) => r.crm_id === crmId)) return 'linked';
  return found.rows.length === 0 ? 'none' : 'claims-pending';
}

/**
 * The crm ids of linked records of this kind with an open error of this flow and code, seen in the last `days` days
 * (at most `limit`): records a sweep looks at again until the error closes.
 */
export async function linkedWithOpenError(
  q: Queryable,
  connectionId: string,
  kind: LinkKind,
  error: { flow: string; code: string; days: number; limit: number },
): Promise<string[]> {
  const result = await q.query<{ crm_id: string }>(
    `SELECT DISTINCT a.crm_id FROM activity a JOIN links l ON l.connection_id = a.connection_id AND l.kind = $2 AND l.crm_id = a.crm_id AND l.state = 'linked'
      WHERE a.connection_id = $1 AND a.flow = $3 AND a.status = 'error' AND a.resolved_at IS NULL AND a.detail->>'code' = $4
        AND coalesce(a.last_seen_at, a.created_at) > now() - make_interval(days => $5) LIMIT $6`,
    [connectionId, kind, error.flow, error.code, error.days, error.limit],
  );
  return result.rows.map((row) => row.crm_id);
}

export async function countLinks(q: Queryable, connectionId: string): Promise<Record<string, number>> {
  const result = await q.query<{ kind: string; n: string | number }>(
    `SELECT kind, count(*) AS n FROM links WHERE connection_id = $1 AND state = 'linked' GROUP BY kind`,
    [connectionId],
  );
  return Object.fromEntries(result.rows.map((r) => [r.kind, Number(r.n)]));
}

/** Every link of these kinds for a connection (reconciliation compares them with what both APIs hold). */
export async function listLinks(q: Queryable, connectionId: string, kinds: readonly LinkKind[]): Promise<Link[]> {
  const result = await q.query<LinkRow>('SELECT * FROM links WHERE connection_id = $1 AND kind = ANY($2::text[])', [
    connectionId,
    [...kinds],
  ]);
  return result.rows.map(fromRow);
}
