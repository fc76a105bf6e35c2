// HighLevel's app lifecycle events (AppInstall, AppUninstall) for a location. They reach here only after the
// signature, the freshness window and the app check (src/server/webhooks.ts), and are deduplicated in the inbox
// like every other event before anything acts on them: a replayed uninstall is a duplicate and does nothing.
// An uninstall dated before the connection's latest install (a late delivery, or a replay of an older one with
// another webhookId) is history and leaves the reinstalled connection alone.
import { recordActivity } from '../../store/activity.ts';
import type { ConnectionRepository } from '../../store/connections.ts';
import type { Db } from '../../store/db.ts';
import { storeInboxEvent } from '../../store/inbox.ts';
import { CONNECTION_ACTIVITY, WEBHOOKS_ACTIVITY } from '../engine/flow.ts';

export interface AppLifecycleEvent {
  eventId: string;
  type: 'INSTALL' | 'UNINSTALL';
  /** Absent for agency-level installs: nothing of ledgerlink's is tied to an agency. */
  locationId: string | undefined;
  /** The payload's timestamp when it has one; the time of receipt otherwise. */
  timestamp: string | undefined;
  payload: unknown;
}

export const UNINSTALLED_REASON =
  'The ledgerlink app was uninstalled from the HighLevel location: install it again and reconnect HighLevel';

/** Stores the event once and acts on it; 'duplicate' when the same event was stored before (nothing is done). */
export async function acceptAppLifecycleEvent(
  deps: { db: Db; connections: ConnectionRepository },
  event: AppLifecycleEvent,
  now: Date = new Date(),
): Promise<'stored' | 'duplicate'> {
  const at =
    event.timestamp !== undefined && Number.isFinite(Date.parse(event.timestamp)) ? new Date(event.timestamp) : now;
  const outcome = await deps.db.transaction(async (tx): Promise<'stored' | 'duplicate'> => {
    const connections = event.locationId ? await deps.connections.findByLocation(event.locationId, tx) : [];
    const stored = await storeInboxEvent(tx, {
      provider: 'highlevel',
      eventId: event.eventId,
      eventType: event.type,
      connectionId: connections.length === 1 ? connections[0]!.id : null,
      payload: event.payload,
      status: 'processed',
    });
    if (stored === undefined) return 'duplicate';
    if (!event.locationId || connections.length === 0) return 'stored';
    if (event.type === 'INSTALL') {
      await deps.connections.recordHighLevelInstall(event.locationId, at, tx);
      return 'stored';
    }
    const revoked = new Set(await deps.connections.revokeUninstalled(event.locationId, at, UNINSTALLED_REASON, tx));
    for (const connection of connections) {
      if (revoked.has(connection.id)) {
        await recordActivity(tx, {
          connectionId: connection.id,
          flow: CONNECTION_ACTIVITY,
          status: 'error',
          message: UNINSTALLED_REASON,
        });
      } else if (connection.status !== 'revoked') {
        await recordActivity(tx, {
          connectionId: connection.id,
          flow: WEBHOOKS_ACTIVITY,
          status: 'skipped',
          message: `Ignored HighLevel UNINSTALL dated ${at.toISOString()}: the app was installed on the location again after it`,
          detail: { eventId: event.eventId },
        });
      }
    }
    return 'stored';
  });
  // Rows read while the transaction ran must not outlive it.
  deps.connections.forgetRecent();
  return outcome;
}
