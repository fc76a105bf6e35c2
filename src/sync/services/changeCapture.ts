// QuickBooks change data capture behind the webhooks: every few minutes each connection asks QuickBooks what
// changed (customers, invoices, payments) since its cursor, so a webhook that never arrived is caught up within one
// poll interval. Intuit's webhooks are at-least-once but not guaranteed (reference §5); CDC is the safety net.
//
// - The cursor is CDC's own `time` (QuickBooks' clock, not ours) and survives restarts.
// - Windows overlap by two minutes (a change committed as the answer was built is seen next time); overlapping
//   results are deduplicated through the inbox, whose event id is entity + Id + SyncToken: the same version of a
//   record is never queued twice, and a record whose SyncToken is the one ledgerlink wrote is not queued at all.
// - CDC looks back at most 30 days: a connection that was paused longer starts 30 days back and says so.
// - CDC answers at most 1000 objects without paging: a full answer is narrowed to one entity type at a time, then
//   the window start moves to the newest change received (answers list the oldest changes first).
import type { EntityName } from '../../quickbooks/entities.ts';
import type { ChangeSet } from '../../quickbooks/cdc.ts';
import { readCursor, writeCursor } from '../../store/cursors.ts';
import { recordActivity } from '../../store/activity.ts';
import { linksByQboIds } from '../../store/links.ts';
import type { FlowContext } from '../engine/context.ts';
import { acceptEvent, type IntakeDeps } from '../engine/intake.ts';
import { routeQuickBooksEvent } from '../engine/routes.ts';
import { SyncError } from '../engine/errors.ts';
import { POLLING_ACTIVITY } from '../engine/flow.ts';

export const CDC_CURSOR = 'qbo-cdc';
export const CHANGE_CAPTURE_FLOW = POLLING_ACTIVITY;
const OVERLAP_MS = 2 * 60_000;
const MAX_LOOKBACK_MS = 30 * 24 * 60 * 60_000;
/** Kept clear of the 30-day edge, so the request is not refused by the time it reaches QuickBooks. */
const LOOKBACK_MARGIN_MS = 10 * 60_000;
const ENTITIES: readonly EntityName[] = ['Customer', 'Invoice', 'Payment'];
const MAX_ROUNDS = 20;

export interface ChangeCaptureCursor {
  /** QuickBooks' `time` of the last complete answer: the next window starts here (less the overlap). */
  since: string;
  /** When this process last finished a poll (decides when the next one is due). */
  polledAt: string;
}

export interface ChangeCaptureResult {
  seen: number;
  queued: number;
}

export const changeCaptureKey = (connectionId: string) => `${connectionId}:poll:qbo-changes`;

/** Whether a poll is due for this connection (the scheduler asks before queueing one). */
export async function changeCaptureDue(
  ctx: Pick<FlowContext, 'db' | 'connection'>,
  intervalSeconds: number,
  now = new Date(),
): Promise<boolean> {
  const cursor = await readCursor<ChangeCaptureCursor>(ctx.db, ctx.connection.id, CDC_CURSOR);
  return !cursor || now.getTime() - Date.parse(cursor.polledAt) >= intervalSeconds * 1000 - 500;
}

export async function pollQuickBooksChanges(ctx: FlowContext, now = new Date()): Promise<ChangeCaptureResult> {
  const cursor = await readCursor<ChangeCaptureCursor>(ctx.db, ctx.connection.id, CDC_CURSOR);
  const since = cursor?.since ?? (ctx.connection.connectedAt ?? now).toISOString();
  let from = Date.parse(since) - OVERLAP_MS;
  const oldest = now.getTime() - MAX_LOOKBACK_MS + LOOKBACK_MARGIN_MS;
  if (from < oldest) {
    await recordActivity(ctx.db, {
      connectionId: ctx.connection.id,
      flow: CHANGE_CAPTURE_FLOW,
      status: 'error',
      message: `QuickBooks keeps changes for 30 days only: changes between ${new Date(from).toISOString()} and ${new Date(oldest).toISOString()} could not be fetched`,
      detail: { fix: 'Edit and save the affected customers in QuickBooks to send them again' },
    });
    from = oldest;
  }
  const result: ChangeCaptureResult = { seen: 0, queued: 0 };
  const time = await fetchWindow(ctx, ENTITIES, new Date(from).toISOString(), result);
  await writeCursor(ctx.db, ctx.connection.id, CDC_CURSOR, {
    since: time,
    polledAt: new Date().toISOString(),
  } satisfies ChangeCaptureCursor);
  return result;
}

/** Fetches and queues every change since `from`; returns the `time` the next window starts from. */
async function fetchWindow(
  ctx: FlowContext,
  entities: readonly EntityName[],
  from: string,
  result: ChangeCaptureResult,
): Promise<string> {
  let windowStart = from;
  for (let round = 0; round < MAX_ROUNDS; round++) {
    const set = await ctx.qbo.changedSince(entities, windowStart);
    await queueChanges(ctx, set, result);
    if (!set.truncated) return set.time;
    if (entities.length > 1) {
      // Narrow: one entity type per request, each with its own 1000.
      const times: string[] = [];
      for (const entity of entities) times.push(await fetchWindow(ctx, [entity], windowStart, result));
      return times.reduce((a, b) => (Date.parse(a) <= Date.parse(b) ? a : b));
    }
    const newest = newestChange(set);
    if (!newest || Date.parse(newest) <= Date.parse(windowStart)) {
      throw new SyncError(
        'cdc-overflow',
        `QuickBooks reports more than 1000 ${entities.join(', ')} changes at ${windowStart}; change data capture cannot page through them`,
        'Press Retry; if it persists, the webhooks still deliver each change',
        { since: windowStart },
      );
    }
    windowStart = newest;
  }
  throw new Error(`change data capture did not catch up after ${MAX_ROUNDS} rounds; the next poll continues`);
}

function newestChange(set: ChangeSet): string | undefined {
  let newest: string | undefined;
  const consider = (at: string | undefined) => {
    if (at && (!newest || Date.parse(at) > Date.parse(newest))) newest = at;
  };
  for (const c of set.changed)
    consider((c.value as { MetaData?: { LastUpdatedTime?: string } }).MetaData?.LastUpdatedTime);
  for (const d of set.deleted) consider(d.lastUpdated);
  return newest;
}

async function queueChanges(ctx: FlowContext, set: ChangeSet, result: ChangeCaptureResult): Promise<void> {
  const customerIds = set.changed.filter((c) => c.entity === 'Customer').map((c) => c.value.Id);
  const written = new Map<string, string | null>();
  if (customerIds.length > 0) {
    for (const link of await linksByQboIds(ctx.db, ctx.connection.id, 'customer', customerIds, 'linked'))
      written.set(link.qboId!, link.qboSyncToken);
  }
  const deps: IntakeDeps = {
    db: ctx.db,
    queue: ctx.queue,
    connectionsFor: async () => [ctx.connection],
    handles: () => true,
  };
  const changes = [
    ...set.changed.map((c) => ({ entity: c.entity, id: c.value.Id, version: c.value.SyncToken, operation: 'Update' })),
    ...set.deleted.map((d) => ({ entity: d.entity, id: d.id, version: 'deleted', operation: 'Delete' })),
  ];
  for (const change of changes) {
    result.seen += 1;
    // The version ledgerlink itself wrote (or already synced): not a change to bring over.
    if (change.entity === 'Customer' && written.get(change.id) === change.version) continue;
    const route = routeQuickBooksEvent(change.entity, change.id, change.operation);
    if (!route) continue;
    const outcomes = await acceptEvent(deps, {
      provider: 'quickbooks',
      eventId: `cdc:${ctx.connection.id}:${change.entity}:${change.id}:${change.version}`,
      eventType: `${change.entity}.${change.operation}`,
      account: ctx.connection.qboRealmId ?? undefined,
      payload: { source: 'cdc', entity: change.entity, id: change.id, syncToken: change.version },
      route,
    });
    result.queued += outcomes.filter((o) => o.outcome === 'stored').length;
  }
}
