// Webhook notifications (reference §5): changes are collected per subscription over a window, then sent as one
// POST in the legacy `eventNotifications` format or as a CloudEvents array, signed with `intuit-signature`
// (base64 HMAC-SHA256 of the exact body, keyed by the verifier token). Bodies are thin (ids and operations).
// Non-200 answers are retried at 10 s, 20 s, 30 s, 5 min, 20 min, 2 h, 4 h, 6 h (compressed by the clock factor).
import { createHmac, randomUUID } from 'node:crypto';
import type { EmulatorClock } from '../common/clock.ts';
import type { FaultInjector } from '../common/faults.ts';
import type { DeliveryRecord } from '../common/webhooks.ts';
import { WebhookDispatcher } from '../common/webhooks.ts';
import type { ChangeOperation } from './entities/context.ts';

export const INTUIT_RETRY_SCHEDULE_MS = [10_000, 20_000, 30_000, 300_000, 1_200_000, 7_200_000, 14_400_000, 21_600_000];

export type WebhookFormat = 'cloudevents' | 'legacy';

export interface WebhookSubscription {
  url: string;
  verifierToken: string;
  format: WebhookFormat;
  /** Emulated milliseconds over which changes are batched into one POST (default 3000). */
  windowMs: number;
  /** Only these realms (default: every realm). */
  realmIds?: string[];
  /** Only these entity names (default: every entity). */
  entities?: string[];
}

export interface ChangeEvent {
  realmId: string;
  entity: string;
  id: string;
  operation: ChangeOperation;
  /** Emulated epoch ms. */
  at: number;
  deletedId?: string;
}

export function signBody(body: string, verifierToken: string): string {
  return createHmac('sha256', verifierToken).update(body, 'utf8').digest('base64');
}

const cloudEventVerb: Record<ChangeOperation, string> = {
  Create: 'created',
  Update: 'updated',
  Delete: 'deleted',
  Merge: 'merged',
  Void: 'voided',
  Emailed: 'emailed',
};

export function legacyBody(events: ChangeEvent[]): string {
  const byRealm = new Map<string, ChangeEvent[]>();
  for (const e of events) byRealm.set(e.realmId, [...(byRealm.get(e.realmId) ?? []), e]);
  return JSON.stringify({
    eventNotifications: [...byRealm].map(([realmId, list]) => ({
      realmId,
      dataChangeEvent: {
        entities: list.map((e) => ({
          name: e.entity,
          id: e.id,
          operation: e.operation,
          lastUpdated: new Date(e.at).toISOString(),
          ...(e.deletedId ? { deletedId: e.deletedId } : {}),
        })),
      },
    })),
  });
}

export function cloudEventsBody(events: ChangeEvent[]): string {
  return JSON.stringify(
    events.map((e) => ({
      specversion: '1.0',
      id: randomUUID(),
      source: 'intuit.qbo.emulator',
      type: `qbo.${e.entity.toLowerCase()}.${cloudEventVerb[e.operation]}.v1`,
      datacontenttype: 'application/json',
      time: new Date(e.at).toISOString(),
      intuitentityid: e.id,
      intuitaccountid: e.realmId,
      data: e.deletedId ? { deletedid: e.deletedId } : {},
    })),
  );
}

interface Pending {
  events: ChangeEvent[];
  timer?: NodeJS.Timeout;
}

export class WebhookNotifier {
  readonly dispatcher: WebhookDispatcher;
  private subscriptions: WebhookSubscription[] = [];
  private readonly pending = new Map<WebhookSubscription, Pending>();

  constructor(
    private readonly clock: EmulatorClock,
    faults: FaultInjector,
    retryScheduleMs: number[] = INTUIT_RETRY_SCHEDULE_MS,
  ) {
    // Intuit retries anything but HTTP 200 (reference §5.4), network errors and timeouts included.
    this.dispatcher = new WebhookDispatcher({
      clock,
      faults,
      retryScheduleMs,
      shouldRetry: (status) => status !== 200,
      isDelivered: (status) => status === 200,
      timeoutMs: 3_000,
      logLimit: 1_000,
    });
  }

  configure(subscriptions: WebhookSubscription[]): void {
    this.flushPending();
    this.subscriptions = subscriptions;
  }

  list(): readonly WebhookSubscription[] {
    return this.subscriptions;
  }

  record(event: ChangeEvent): void {
    for (const sub of this.subscriptions) {
      if (sub.realmIds && !sub.realmIds.includes(event.realmId)) continue;
      if (sub.entities && !sub.entities.some((e) => e.toLowerCase() === event.entity.toLowerCase())) continue;
      let pending = this.pending.get(sub);
      if (!pending) this.pending.set(sub, (pending = { events: [] }));
      pending.events.push(event);
      pending.timer ??= this.clock.setTimeout(() => this.sendPending(sub), sub.windowMs);
    }
  }

  /** Sends whatever is waiting in a window now. */
  flushPending(): void {
    for (const sub of [...this.pending.keys()]) this.sendPending(sub);
  }

  /** Sends pending windows and waits until every delivery (and retry) has finished. */
  async flush(): Promise<void> {
    this.flushPending();
    await this.dispatcher.flush();
  }

  deliveries(): readonly DeliveryRecord[] {
    return this.dispatcher.deliveries();
  }

  close(): void {
    for (const p of this.pending.values()) if (p.timer) clearTimeout(p.timer);
    this.pending.clear();
    this.dispatcher.close();
  }

  /** Sends a body to one subscription right away (used by the admin "test event"). */
  sendEvents(sub: WebhookSubscription, events: ChangeEvent[]): DeliveryRecord {
    const body = sub.format === 'legacy' ? legacyBody(events) : cloudEventsBody(events);
    return this.dispatcher.send({
      url: sub.url,
      body,
      label: events.map((e) => `${e.entity}.${e.operation}:${e.id}`).join(','),
      headers: {
        'content-type': 'application/json',
        'intuit-signature': signBody(body, sub.verifierToken),
        'user-agent': 'ledgerlink-quickbooks-emulator',
      },
    });
  }

  private sendPending(sub: WebhookSubscription): void {
    const pending = this.pending.get(sub);
    if (!pending) return;
    if (pending.timer) clearTimeout(pending.timer);
    this.pending.delete(sub);
    if (pending.events.length > 0) this.sendEvents(sub, pending.events);
  }
}
