// Refused webhooks, counted per provider and reason. Anyone can post to the webhook endpoints without
// credentials, so a refusal must cost the store a counter update, not a row: the activity list gets at most one
// sampled entry per reason and interval (src/sync/engine/intake.ts), and this table says how many there were.
import type { Queryable } from './db.ts';
import type { Provider } from './inbox.ts';

/** Longest reason kept: reasons are ledgerlink's own sentences; the cap guards the key against anything longer. */
const REASON_MAX = 200;

export interface RefusalCount {
  provider: Provider;
  reason: string;
  count: number;
  firstSeenAt: Date;
  lastSeenAt: Date;
}

/**
 * Counts one refusal. `sample` is true for the first refusal of the reason and then at most once every
 * `sampleSeconds`: the caller writes an activity entry only then.
 */
export async function countRefusal(
  q: Queryable,
  provider: Provider,
  reason: string,
  sampleSeconds: number,
): Promise<RefusalCount & { sample: boolean }> {
  const result = await q.query<{
    sample: boolean;
    count: string | number;
    first_seen_at: Date | string;
    last_seen_at: Date | string;
    reason: string;
  }>(
    `INSERT INTO webhook_refusals AS r (provider, reason) VALUES ($1, $2)
     ON CONFLICT (provider, reason) DO UPDATE SET count = r.count + 1, last_seen_at = now(),
       sampled_at = CASE WHEN r.sampled_at <= now() - make_interval(secs => $3) THEN now() ELSE r.sampled_at END
     RETURNING r.sampled_at = now() AS sample, r.count, r.first_seen_at, r.last_seen_at, r.reason`,
    [provider, reason.slice(0, REASON_MAX), sampleSeconds],
  );
  const row = result.rows[0]!;
  return {
    provider,
    reason: row.reason,
    count: Number(row.count),
    firstSeenAt: new Date(row.first_seen_at),
    lastSeenAt: new Date(row.last_seen_at),
    sample: row.sample,
  };
}

/** Every reason with its count, the most recent first. */
export async function listRefusals(q: Queryable, limit = 100): Promise<RefusalCount[]> {
  const result = await q.query<{
    provider: Provider;
    reason: string;
    count: string | number;
    first_seen_at: Date | string;
    last_seen_at: Date | string;
  }>(
    `SELECT provider, reason, count, first_seen_at, last_seen_at FROM webhook_refusals ORDER BY last_seen_at DESC LIMIT $1`,
    [limit],
  );
  return result.rows.map((row) => ({
    provider: row.provider,
    reason: row.reason,
    count: Number(row.count),
    firstSeenAt: new Date(row.first_seen_at),
    lastSeenAt: new Date(row.last_seen_at),
  }));
}
