// Marketplace webhooks as HighLevel delivers them (reference §5): one URL per app, JSON POST, a flat payload in
// the shape its event doc shows (docs/webhook events/<Event>.md: Contact* and Order* carry `type` and
// `locationId`, Invoice* carry neither and name the location in `altId`), plus the `timestamp` and `webhookId`
// that docs/oauth/WebhookAuthentication.md puts in every payload. Signed over the exact body bytes with Ed25519 in
// `x-ghl-signature` and, while it lasts, RSA-SHA256 in the legacy `x-wh-signature`. Retried only when the
// receiver answers 429 (6 retries ~10 minutes apart); 5xx and timeouts lose the event.
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import type { EmulatorClock } from '../common/clock.ts';
import type { FaultInjector } from '../common/faults.ts';
import { WebhookDispatcher, type DeliveryRecord } from '../common/webhooks.ts';
import { uuid } from './ids.ts';

/** The only events this emulator sends: those HighLevel really sends for the objects it models. */
export const WEBHOOK_EVENT_TYPES = [
  'ContactCreate',
  'ContactUpdate',
  'ContactDelete',
  'ContactTagUpdate',
  'InvoiceCreate',
  'InvoiceUpdate',
  'InvoiceSent',
  'InvoicePaid',
  'InvoicePartiallyPaid',
  'InvoiceVoid',
  'InvoiceDelete',
  'OrderCreate',
  'OrderStatusUpdate',
  'AppInstall',
  'AppUninstall',
] as const;
export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

/** Six retries about ten minutes apart (HighLevel's webhook guide, 2025-09 change): ~1 h 10 min in all. */
export const RETRY_SCHEDULE_MS = [600_000, 600_000, 600_000, 600_000, 600_000, 600_000];

export interface WebhookAppConfig {
  url: string | null;
  ed25519: boolean;
  rsa: boolean;
  /** Events the app subscribed to in its marketplace settings; null = all. */
  events: Set<string> | null;
  /**
   * Whether payloads carry `timestamp` and `webhookId`. WebhookAuthentication.md says every payload does; no
   * event doc shows them, so `false` sends exactly the event doc's fields, for receivers that must cope with both.
   */
  envelope: boolean;
}

export interface EmittedEvent {
  /** The catalogue name (AppInstall, InvoicePaid…), also for payloads that carry no `type`. */
  event: WebhookEventType;
  /** The payload's own `type` field, when its doc has one (INSTALL for AppInstall). */
  type: string | null;
  /** The location the event concerns, whether or not the payload names it that way. */
  locationId: string | null;
  /** null when the envelope is off. */
  webhookId: string | null;
  timestamp: string | null;
  body: string;
  delivery: DeliveryRecord | null;
}

export class WebhookEmitter {
  // The legacy RSA x-wh-signature was deprecated on 2026-07-01 (reference §5, from a third party quoting HighLevel's
  // guide; another source says 2026-09-01): both dates are past, so by default only Ed25519 signs, as HighLevel does
  // now. `signatures.rsa` turns the legacy header back on for clients that still handle it.
  readonly config: WebhookAppConfig = { url: null, ed25519: true, rsa: false, events: null, envelope: true };
  readonly dispatcher: WebhookDispatcher;
  private ed25519: { publicKey: KeyObject; privateKey: KeyObject };
  private rsa: { publicKey: KeyObject; privateKey: KeyObject };
  /** Every event produced (delivered or not), bounded; tests read what the app would have been told. */
  readonly emitted: EmittedEvent[] = [];

  /** Whether the app is installed on a location: marketplace events only flow for installed locations. */
  isInstalled: (locationId: string) => boolean = () => true;

  constructor(
    private readonly clock: EmulatorClock,
    faults: FaultInjector,
    options: { retryScheduleMs?: number[]; timeoutMs?: number } = {},
  ) {
    this.ed25519 = generateKeyPairSync('ed25519');
    // HighLevel's published legacy key is 4096-bit; 2048 keeps start-up fast and verifies the same way.
    this.rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    this.dispatcher = new WebhookDispatcher({
      clock,
      faults,
      retryScheduleMs: options.retryScheduleMs ?? RETRY_SCHEDULE_MS,
      shouldRetry: (status) => status === 429,
      timeoutMs: options.timeoutMs ?? 10_000,
    });
  }

  /** The signing keys as PKCS#8 PEM, so a saved emulator keeps signing with the key its clients trust. */
  exportKeys(): { ed25519: string; rsa: string } {
    return {
      ed25519: this.ed25519.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      rsa: this.rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    };
  }

  importKeys(keys: { ed25519: string; rsa: string }): void {
    const ed = createPrivateKey(keys.ed25519);
    const rsa = createPrivateKey(keys.rsa);
    this.ed25519 = { privateKey: ed, publicKey: createPublicKey(ed) };
    this.rsa = { privateKey: rsa, publicKey: createPublicKey(rsa) };
  }

  ed25519PublicKeyPem(): string {
    return this.ed25519.publicKey.export({ type: 'spki', format: 'pem' }).toString();
  }

  rsaPublicKeyPem(): string {
    return this.rsa.publicKey.export({ type: 'spki', format: 'pem' }).toString();
  }

  /**
   * Signs and queues one event. `payload` is the whole documented body (see webhookPayloads.ts); the envelope
   * fields are added here. `locationId` is the location it concerns (null for agency-level app events), used for
   * the install check and the admin log, never added to the body.
   */
  emit(eventName: WebhookEventType, locationId: string | null, payload: Record<string, unknown>): EmittedEvent {
    const envelope = this.config.envelope;
    const webhookId = envelope ? uuid() : null;
    const timestamp = envelope ? this.clock.now().toISOString() : null;
    const body = JSON.stringify(envelope ? { ...payload, timestamp, webhookId } : payload);
    const type = typeof payload.type === 'string' ? payload.type : null;
    let delivery: DeliveryRecord | null = null;
    const subscribed = this.config.events === null || this.config.events.has(eventName);
    const appEvent = eventName === 'AppInstall' || eventName === 'AppUninstall';
    const installed = appEvent || locationId === null || this.isInstalled(locationId);
    if (this.config.url && subscribed && installed) {
      const bytes = Buffer.from(body, 'utf8');
      const headers: Record<string, string> = {
        'content-type': 'application/json',
        'user-agent': 'HighLevel-Emulator-Webhooks/1.0',
      };
      if (this.config.ed25519)
        headers['x-ghl-signature'] = sign(null, bytes, this.ed25519.privateKey).toString('base64');
      if (this.config.rsa) headers['x-wh-signature'] = sign('sha256', bytes, this.rsa.privateKey).toString('base64');
      delivery = this.dispatcher.send({ url: this.config.url, headers, body, label: eventName });
    }
    const event: EmittedEvent = { event: eventName, type, locationId, webhookId, timestamp, body, delivery };
    this.emitted.push(event);
    if (this.emitted.length > 10_000) this.emitted.splice(0, this.emitted.length - 10_000);
    return event;
  }

  close(): void {
    this.dispatcher.close();
  }
}
