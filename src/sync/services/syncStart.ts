// The rule every CRM -> QuickBooks flow applies to records made before the connection: they stay out of QuickBooks,
// unless the user chose to bring history from a date on (src/sync/flows/history.ts). The date from which records
// count is the connection's sync start: the chosen history date once a history backfill was started, else the
// connection time. The rule reads the store only for a record older than the connection, so a live payment (made
// after the connection) costs no statement for it.
import { z } from 'zod';
import { readCursor } from '../../store/cursors.ts';
import type { FlowContext } from '../engine/context.ts';

/** The cursor holding the history dates in force (written by src/sync/flows/history.ts). */
export const SYNC_START_CURSOR = 'history-sync-start';

export const syncStartSchema = z.object({
  /** The from-date (YYYY-MM-DD, UTC day) of a backfill under way. */
  running: z.string().nullable().default(null),
  /** The earliest from-date of a backfill that finished: its records are in QuickBooks, and stay followed. */
  finished: z.string().nullable().default(null),
});
export type SyncStartDates = z.infer<typeof syncStartSchema>;

/** A skipped link's data: `code` marks a record left out only because it was older than the sync start. */
export const BEFORE_SYNC_START = 'before-sync-start';

/** The start of a YYYY-MM-DD day, UTC (HighLevel's lists filter by UTC day: docs/api-evidence.md). */
export function startOfDay(day: string): Date {
  return new Date(`${day}T00:00:00.000Z`);
}

export async function syncStartDates(ctx: Pick<FlowContext, 'db' | 'connection'>): Promise<SyncStartDates> {
  const stored = await readCursor<unknown>(ctx.db, ctx.connection.id, SYNC_START_CURSOR);
  const parsed = syncStartSchema.safeParse(stored ?? {});
  return parsed.success ? parsed.data : { running: null, finished: null };
}

/**
 * The connection's sync start: records made before it are not synced. `settledOnly` leaves out a backfill under way
 * (the invoice sweep: while a backfill runs, its old records are the backfill's to bring, paced, not the sweep's).
 */
export async function syncStartOf(
  ctx: Pick<FlowContext, 'db' | 'connection'>,
  options: { settledOnly?: boolean } = {},
): Promise<Date | undefined> {
  const connectedAt = ctx.connection.connectedAt ?? undefined;
  if (!connectedAt) return undefined;
  const dates = await syncStartDates(ctx);
  const days = [options.settledOnly ? null : dates.running, dates.finished].filter((d): d is string => d !== null);
  return new Date(Math.min(connectedAt.getTime(), ...days.map((d) => startOfDay(d).getTime())));
}

/**
 * When a record made at `at` is before the sync start, the sync start (for the skip's words); else undefined.
 * Reads the store only for a record older than the connection.
 */
export async function beforeSyncStart(
  ctx: Pick<FlowContext, 'db' | 'connection'>,
  at: string | undefined,
  options: { settledOnly?: boolean } = {},
): Promise<Date | undefined> {
  const connectedAt = ctx.connection.connectedAt;
  if (!connectedAt || !at) return undefined;
  const time = new Date(at).getTime();
  if (!(time < connectedAt.getTime())) return undefined;
  const start = (await syncStartOf(ctx, options)) ?? connectedAt;
  return time < start.getTime() ? start : undefined;
}

/** The words of a skip for a record older than the sync start. */
export function beforeSyncStartReason(
  ctx: Pick<FlowContext, 'connection'>,
  what: string,
  at: string,
  start: Date,
): string {
  const connectedAt = ctx.connection.connectedAt;
  const history =
    connectedAt && start.getTime() < connectedAt.getTime() ? `, and history is synced from ${day(start)}` : '';
  return `${what} on ${at.slice(0, 10)}, before the connection (${day(connectedAt ?? start)})${history}`;
}

/**
 * Whether a skipped link was skipped only for being older than the sync start (its code, or the words links written
 * before the code had): such a record is taken up again once the sync start moves before it.
 */
export function skippedBeforeSyncStart(data: unknown): boolean {
  if (typeof data !== 'object' || data === null) return false;
  const { code, reason } = data as { code?: unknown; reason?: unknown };
  return code === BEFORE_SYNC_START || (typeof reason === 'string' && /before the connection/.test(reason));
}

/**
 * For a record whose link says skipped: whether it stays skipped. One skipped for its age is taken up again when the
 * sync start has moved before it (a history backfill).
 */
export async function staysSkipped(
  ctx: Pick<FlowContext, 'db' | 'connection'>,
  linkData: unknown,
  at: string | undefined,
): Promise<boolean> {
  if (!skippedBeforeSyncStart(linkData) || !at) return true;
  // Only a record older than the connection can be a backfill's; the connection time never moves earlier.
  const connectedAt = ctx.connection.connectedAt;
  if (!connectedAt || !(new Date(at).getTime() < connectedAt.getTime())) return true;
  return (await beforeSyncStart(ctx, at)) !== undefined;
}

const day = (d: Date) => d.toISOString().slice(0, 10);
