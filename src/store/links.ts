// Links between a CRM record and its QuickBooks twin. A 'pending' link is written before a create on a side
// that has no idempotency key (HighLevel), so that a crash between the create and the commit is recognised
// on retry instead of creating a second record.
import type { Queryable } from './db.ts';

export type LinkKind =
  | 'customer'
  | 'salesReceipt'
  | 'refundReceipt'
  | 'invoice'
  | 'payment'
  | 'item'
  | 'importedInvoice';
export type Origin = 'crm' | 'qbo';

export interface Link {
  connectionId: string;
  kind: LinkKind;
  crmId: string;
  qboId: string | null;
  origin: Origin;
  state: 'pending' | 'linked' | 'skipped';
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
  state: 'pending' | 'linked' | 'skipped';
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

/** Claims a create: true when this caller inserted the pending link, false when a link already exists. */
export async function claimPendingLink(
  q: Queryable,
  connectionId: string,
  kind: LinkKind,
  crmId: string,
  origin: Origin,
  data: Record<string, unknown> = {},
): Promise<boolean> {
  const result = await q.query(
    `INSERT INTO links (connection_id, kind, crm_id, origin, state, data) VALUES ($1, $2, $3, $4, 'pending', $5)
     ON CONFLICT (connection_id, kind, crm_id) DO NOTHING`,
    [connectionId, kind, crmId, origin, JSON.stringify(data)],
  );
  return result.rowCount === 1;
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
