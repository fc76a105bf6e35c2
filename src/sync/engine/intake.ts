// Webhook and poller intake: an accepted event is written to the inbox (unique on the provider's event id, so
// duplicates collapse) and its job is enqueued in the same transaction; only then is the sender answered.
// Events that belong to no live connection, or that no flow handles, are recorded with the reason and ignored.
// Those of a paused connection are held with their job, which is queued when the connection is resumed
// (releaseHeldEvents): neither provider sends an event again, and no poll finds every record an event names.
import type { Db } from '../../store/db.ts';
import { heldEvents, releaseHeldEvent, storeInboxEvent, type Provider } from '../../store/inbox.ts';
import { recordActivity } from '../../store/activity.ts';
import { countRefusal } from '../../store/webhookRefusals.ts';
import type { Connection } from '../../store/connections.ts';
import type { JobQueue, JobData } from './queue.ts';
import { WEBHOOKS_ACTIVITY } from './flow.ts';

export interface RoutedJob {
  queue: string;
  key: string;
  data?: Record<string, unknown>;
}

export interface IncomingEvent {
  provider: Provider;
  eventId: string;
  eventType: string;
  /** HighLevel location or QuickBooks realm the event names. */
  account: string | undefined;
  payload: unknown;
  /** The job this event asks for, when some flow handles it. */
  route: RoutedJob | undefined;
  /** Why no flow can take it, when the intake already knows (an event that could not be placed). */
  reason?: string;
  /**
   * The record the event names (QuickBooks entity and Id): an ignored event keeps it, so that the dashboard can tell
   * ledgerlink's own writes coming back (a SalesReceipt.Create for the receipt it made) from other changes.
   */
  record?: { kind: string; id: string };
}

export type IntakeOutcome =
  | { outcome: 'stored'; connectionId: string; jobId: string | null }
  | { outcome: 'duplicate'; connectionId: string | null }
  | { outcome: 'held'; connectionId: string }
  | { outcome: 'ignored'; reason: string };

export interface IntakeDeps {
  db: Db;
  queue: JobQueue;
  /** Connections the event's account belongs to (a realm may pair with several locations). */
  connectionsFor: (provider: Provider, account: string) => Promise<Connection[]>;
  /** Queues that have a flow in this deployment. */
  handles: (queue: string) => boolean;
  /** Hears each event's outcome (the webhook metrics). */
  observe?: (provider: Provider, outcome: IntakeOutcome['outcome']) => void;
}

const LIVE: ReadonlySet<string> = new Set(['connected']);
/** Statuses whose events are held for later rather than ignored: the connection syncs again by the user's say-so. */
const HELD: ReadonlySet<string> = new Set(['paused']);

export async function acceptEvent(deps: IntakeDeps, event: IncomingEvent): Promise<IntakeOutcome[]> {
  const outcomes = await placeEvent(deps, event);
  for (const o of outcomes) deps.observe?.(event.provider, o.outcome);
  return outcomes;
}

async function placeEvent(deps: IntakeDeps, event: IncomingEvent): Promise<IntakeOutcome[]> {
  const connections = event.account ? await deps.connectionsFor(event.provider, event.account) : [];
  const targets = connections.filter((c) => LIVE.has(c.status) || HELD.has(c.status));
  if (targets.length === 0) {
    const reason = !event.account
      ? (event.reason ?? `${event.eventType} names no ${event.provider === 'quickbooks' ? 'realm' : 'location'}`)
      : connections.length === 0
        ? `no connection for ${event.provider === 'quickbooks' ? 'QuickBooks company' : 'HighLevel location'} ${event.account}`
        : `the connection for ${event.account} is ${connections[0]!.status}; reconnect it to sync again`;
    // An event of a known connection that is not live is shown in that connection's activity.
    await ignore(deps.db, event, connections.length === 1 ? connections[0]!.id : null, reason);
    return [{ outcome: 'ignored', reason }];
  }
  const outcomes: IntakeOutcome[] = [];
  for (const connection of targets) {
    // Events are stored per connection: one QuickBooks event may concern two connections of one realm.
    const eventId = targets.length > 1 ? `${event.eventId}#${connection.id}` : event.eventId;
    if (!event.route || !deps.handles(event.route.queue)) {
      const reason = event.route
        ? `no flow handles ${event.eventType} in this version`
        : (event.reason ?? `${event.eventType} is not an event ledgerlink syncs`);
      await ignore(deps.db, { ...event, eventId }, connection.id, reason);
      outcomes.push({ outcome: 'ignored', reason });
      continue;
    }
    const route = event.route;
    // The event and its job in one transaction: pg-boss's send runs on the transaction's connection (its `db`
    // option), so neither is stored without the other. A duplicate event inserts no row, and gets no job.
    const data: JobData = { ...route.data, connectionId: connection.id, key: `${connection.id}:${route.key}` };
    if (HELD.has(connection.status)) {
      outcomes.push(await hold(deps, { ...event, eventId }, connection, { queue: route.queue, data }));
      continue;
    }
    const stored = await deps.db.transaction(async (tx) => {
      const inboxId = await storeInboxEvent(tx, {
        provider: event.provider,
        eventId,
        eventType: event.eventType,
        connectionId: connection.id,
        payload: event.payload,
      });
      if (inboxId === undefined) return undefined;
      return { jobId: await deps.queue.enqueue(route.queue, { ...data, inboxId }, { q: tx }) };
    });
    if (!stored) {
      outcomes.push({ outcome: 'duplicate', connectionId: connection.id });
      continue;
    }
    deps.queue.wake(route.queue);
    outcomes.push({ outcome: 'stored', connectionId: connection.id, jobId: stored.jobId });
  }
  return outcomes;
}

/**
 * Keeps the event of a paused connection with its job. The connection's status was read a moment ago (and may be
 * a second old): if it was resumed meanwhile, the resume may have released the held events before this one was
 * stored, so the status is read again afterwards and the event released here when the connection is live.
 */
async function hold(
  deps: IntakeDeps,
  event: IncomingEvent,
  connection: Connection,
  job: { queue: string; data: JobData },
): Promise<IntakeOutcome> {
  const inboxId = await storeInboxEvent(deps.db, {
    provider: event.provider,
    eventId: event.eventId,
    eventType: event.eventType,
    connectionId: connection.id,
    payload: event.payload,
    status: 'held',
    reason: `the connection is ${connection.status}; this event syncs when it is resumed`,
    heldJob: job,
  });
  if (inboxId === undefined) return { outcome: 'duplicate', connectionId: connection.id };
  const now = await deps.db.query<{ status: string }>(`SELECT status FROM connections WHERE id = $1`, [connection.id]);
  if (LIVE.has(now.rows[0]?.status ?? '')) await releaseHeldEvents(deps.db, deps.queue, connection.id);
  return { outcome: 'held', connectionId: connection.id };
}

/** How many held events a release takes per statement batch. */
const RELEASE_BATCH = 500;

/**
 * Queues the jobs of a connection's held events, oldest first, each with its event in one statement (a job per
 * record: several events of one record collapse into the job already waiting). Returns how many events it released.
 */
export async function releaseHeldEvents(db: Db, queue: JobQueue, connectionId: string): Promise<number> {
  let released = 0;
  const woken = new Set<string>();
  for (;;) {
    const batch = await heldEvents(db, connectionId, RELEASE_BATCH);
    for (const held of batch) {
      // Accepted and given its job in one transaction, as a new event is: once, whichever process releases it.
      const done = await db.transaction(async (tx) => {
        if (!(await releaseHeldEvent(tx, held.id))) return false;
        await queue.enqueue(held.job.queue, { ...(held.job.data as JobData), inboxId: held.id }, { q: tx });
        return true;
      });
      if (!done) continue;
      released += 1;
      woken.add(held.job.queue);
    }
    if (batch.length < RELEASE_BATCH) break;
  }
  for (const name of woken) queue.wake(name);
  return released;
}

async function ignore(db: Db, event: IncomingEvent, connectionId: string | null, reason: string): Promise<void> {
  const inboxId = await storeInboxEvent(db, {
    provider: event.provider,
    eventId: event.eventId,
    eventType: event.eventType,
    connectionId,
    payload: event.payload,
    status: 'ignored',
    reason,
  });
  if (inboxId === undefined) return;
  await recordActivity(db, {
    connectionId,
    flow: WEBHOOKS_ACTIVITY,
    status: 'skipped',
    ...(event.record
      ? event.provider === 'quickbooks'
        ? { qboKind: event.record.kind, qboId: event.record.id }
        : { crmKind: event.record.kind, crmId: event.record.id }
      : {}),
    message: `Ignored ${event.provider === 'quickbooks' ? 'QuickBooks' : 'HighLevel'} ${event.eventType}: ${reason}`,
    detail: { eventId: event.eventId, account: event.account ?? null },
  });
}

/** At most one activity entry per refusal reason in this many seconds; the rest are counted (webhook_refusals). */
export const REFUSAL_SAMPLE_SECONDS = 600;

/**
 * A refused webhook (bad signature, malformed body): counted per provider and reason, its body never stored. The
 * activity list shows a sample, the first refusal of a reason and then one every REFUSAL_SAMPLE_SECONDS, each
 * saying how many there were: unsigned posts by the thousand cost counter updates, not rows.
 */
export async function recordRefusal(
  db: Db,
  provider: Provider,
  reason: string,
  detail: Record<string, unknown>,
): Promise<void> {
  const counted = await countRefusal(db, provider, reason, REFUSAL_SAMPLE_SECONDS);
  if (!counted.sample) return;
  await recordActivity(db, {
    connectionId: null,
    flow: WEBHOOKS_ACTIVITY,
    status: 'error',
    message:
      `Refused a ${provider === 'quickbooks' ? 'QuickBooks' : 'HighLevel'} webhook: ${reason}` +
      (counted.count > 1
        ? ` (${counted.count} refused for this reason since ${counted.firstSeenAt.toISOString()}; one entry per ${REFUSAL_SAMPLE_SECONDS / 60} minutes is listed)`
        : ''),
    detail: { ...detail, refusedSoFar: counted.count, firstSeenAt: counted.firstSeenAt.toISOString() },
  });
}
