// The pending-claim protocol. HighLevel has no idempotency key, and a QuickBooks create must not run twice side by
// side either, so a flow claims a record before it creates its twin: it inserts a 'pending' link (unique per side),
// creates, then turns the claim into the link in the same statement that records the new id. A claim whose worker
// died is taken over after ABANDONED_CLAIM_MS; a failed attempt releases its claim (or drops it) so that the next
// try starts at once. The flows differ only in where the claim lives and in what a released claim means, which the
// options below name.
import type { Queryable } from './db.ts';
import { linkUpsert, type LinkKind, type Origin } from './links.ts';

/** A pending claim older than this was left by a worker that died (no job lives this long): the next job takes it over. */
export const ABANDONED_CLAIM_MS = 2 * 60_000;

/**
 * Which claim: by crm id when the flow knows the CRM record (a contact that needs a customer), by QuickBooks id when
 * the CRM record does not exist yet (then the claim's crm id is a placeholder until the commit).
 */
export type ClaimOf = { connectionId: string; kind: LinkKind } & ({ crmId: string } | { qboId: string });

const side = (claim: ClaimOf): { column: 'crm_id' | 'qbo_id'; id: string } =>
  'crmId' in claim ? { column: 'crm_id', id: claim.crmId } : { column: 'qbo_id', id: claim.qboId };

/** Claims a create: true when this caller inserted the pending link, false when a link or a claim already holds the record. */
export async function claimRecord(
  q: Queryable,
  claim: {
    connectionId: string;
    kind: LinkKind;
    crmId: string;
    qboId?: string | null;
    origin: Origin;
    data?: Record<string, unknown>;
  },
): Promise<boolean> {
  const { params } = linkUpsert({
    connectionId: claim.connectionId,
    kind: claim.kind,
    crmId: claim.crmId,
    qboId: claim.qboId ?? null,
    origin: claim.origin,
    state: 'pending',
    snapshotHash: null,
    qboSyncToken: null,
    qboUpdatedAt: null,
    crmUpdatedAt: null,
    data: claim.data ?? {},
  });
  const result = await q.query(
    `INSERT INTO links (connection_id, kind, crm_id, qbo_id, origin, state, snapshot_hash, qbo_sync_token, qbo_updated_at, crm_updated_at, data)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT DO NOTHING`,
    params,
  );
  return result.rowCount === 1;
}

/** Claims a create keyed by the CRM record (its QuickBooks id is not known yet). */
export async function claimPendingLink(
  q: Queryable,
  connectionId: string,
  kind: LinkKind,
  crmId: string,
  origin: Origin,
  data: Record<string, unknown> = {},
): Promise<boolean> {
  return claimRecord(q, { connectionId, kind, crmId, origin, data });
}

export interface TakeOver {
  /** Written in the claim's data as its holder, so that only this attempt releases it. */
  holder?: string;
  /**
   * A claim without a holder was released by a failed attempt (releaseClaim) and is free at once. Only for flows
   * that release with releaseClaim: a claim made without a holder is otherwise held by a live job.
   */
  releasedIsFree?: boolean;
  /**
   * A claim marked mayExist is free at once: for a flow that runs as a single job per connection (an import), where a
   * claim whose create may have reached the other side can only be its own earlier attempt's, and the attempt that
   * takes it over looks the record up before creating it.
   */
  mayExistIsFree?: boolean;
}

/**
 * Takes over a pending claim that is free: abandoned (untouched for ABANDONED_CLAIM_MS), or free by the options.
 * Touches the claim so that it is this attempt's for the next ABANDONED_CLAIM_MS. Returns whether the claim says its
 * record may exist already (mayExist in its data), or undefined when the claim is held or gone.
 */
export async function takeOverClaim(
  q: Queryable,
  claim: ClaimOf,
  options: TakeOver = {},
): Promise<{ mayExist: boolean } | undefined> {
  const { column, id } = side(claim);
  const free = [
    'updated_at <= now() - make_interval(secs => $4)',
    ...(options.releasedIsFree ? [`data->>'holder' IS NULL`] : []),
    ...(options.mayExistIsFree ? [`data->>'mayExist' = 'true'`] : []),
  ];
  const result = await q.query<{ may_exist: string | null }>(
    `UPDATE links SET data = CASE WHEN $5::text IS NULL THEN data ELSE jsonb_set(data, '{holder}', to_jsonb($5::text)) END, updated_at = now()
     WHERE connection_id = $1 AND kind = $2 AND ${column} = $3 AND state = 'pending' AND (${free.join(' OR ')})
     RETURNING data->>'mayExist' AS may_exist`,
    [claim.connectionId, claim.kind, id, ABANDONED_CLAIM_MS / 1000, options.holder ?? null],
  );
  const row = result.rows[0];
  return row ? { mayExist: row.may_exist === 'true' } : undefined;
}

/** After a failure: the claim is kept with its holder cleared, so the next try takes it over (releasedIsFree). */
export async function releaseClaim(q: Queryable, claim: ClaimOf, holder: string): Promise<void> {
  const { column, id } = side(claim);
  await q.query(
    `UPDATE links SET data = data - 'holder', updated_at = now()
     WHERE connection_id = $1 AND kind = $2 AND ${column} = $3 AND state = 'pending' AND data->>'holder' = $4`,
    [claim.connectionId, claim.kind, id, holder],
  );
}

/** Drops a pending claim (a committed link is never touched): the record is free for the next attempt. */
export async function dropClaim(q: Queryable, claim: ClaimOf): Promise<void> {
  const { column, id } = side(claim);
  await q.query(`DELETE FROM links WHERE connection_id = $1 AND kind = $2 AND ${column} = $3 AND state = 'pending'`, [
    claim.connectionId,
    claim.kind,
    id,
  ]);
}

/** Drops a pending claim only if it was abandoned (ABANDONED_CLAIM_MS); true when it was. */
export async function dropAbandonedClaim(q: Queryable, claim: ClaimOf): Promise<boolean> {
  const { column, id } = side(claim);
  const result = await q.query(
    `DELETE FROM links WHERE connection_id = $1 AND kind = $2 AND ${column} = $3 AND state = 'pending'
       AND updated_at <= now() - make_interval(secs => $4)`,
    [claim.connectionId, claim.kind, id, ABANDONED_CLAIM_MS / 1000],
  );
  return (result.rowCount ?? 0) > 0;
}

/** Marks the claim's record as possibly created: from here on, a later attempt looks before it creates. */
export async function markClaimMayExist(q: Queryable, claim: ClaimOf): Promise<void> {
  const { column, id } = side(claim);
  await q.query(
    `UPDATE links SET data = jsonb_set(data, '{mayExist}', 'true'::jsonb), updated_at = now()
     WHERE connection_id = $1 AND kind = $2 AND ${column} = $3 AND state = 'pending'`,
    [claim.connectionId, claim.kind, id],
  );
}

export interface ClaimedLink {
  crmId: string;
  origin: Origin;
  snapshotHash: string | null;
  qboSyncToken: string | null;
  qboUpdatedAt: string | null;
  crmUpdatedAt: string | null;
  data: Record<string, unknown>;
}

/**
 * Turns the claim on a QuickBooks record into its link, with the CRM record's id now known. 'claim-lost': no
 * pending claim was there (another attempt took it over and finished); 'crm-id-taken': another link holds this crm
 * id. Inside a transaction, the caller ends it on 'crm-id-taken' (PostgreSQL aborted the statement).
 * `whilePending: false` also rewrites a link that is no longer pending, for a flow whose claims are its own alone.
 */
export async function commitClaim(
  q: Queryable,
  claim: { connectionId: string; kind: LinkKind; qboId: string },
  link: ClaimedLink,
  options: { whilePending?: boolean } = {},
): Promise<'linked' | 'claim-lost' | 'crm-id-taken'> {
  try {
    const result = await q.query(
      `UPDATE links SET crm_id = $4, state = 'linked', origin = $5, snapshot_hash = $6, qbo_sync_token = $7, qbo_updated_at = $8,
         crm_updated_at = $9, data = $10, updated_at = now()
       WHERE connection_id = $1 AND kind = $2 AND qbo_id = $3${options.whilePending === false ? '' : ` AND state = 'pending'`}`,
      [
        claim.connectionId,
        claim.kind,
        claim.qboId,
        link.crmId,
        link.origin,
        link.snapshotHash,
        link.qboSyncToken,
        link.qboUpdatedAt,
        link.crmUpdatedAt,
        JSON.stringify(link.data),
      ],
    );
    return result.rowCount === 1 ? 'linked' : 'claim-lost';
  } catch (error) {
    if (isUniqueViolation(error)) return 'crm-id-taken';
    throw error;
  }
}

function isUniqueViolation(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === '23505';
}
