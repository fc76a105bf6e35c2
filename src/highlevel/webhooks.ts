// HighLevel webhooks (reference §5): verify the signature over the raw body, then read the flat payload
// into a typed event. Bodies are hints: the engine re-reads the record before acting.
import { createHash, createPublicKey, verify, type KeyObject } from 'node:crypto';
import { z } from 'zod';
import { contactSchema, type Contact } from './contacts.ts';
import { orderSchema, type Order } from './payments.ts';

/** HighLevel's published Ed25519 key for x-ghl-signature (SPKI, base64 DER). */
export const HIGHLEVEL_ED25519_PUBLIC_KEY = 'MCowBQYDK2VwAyEAi2HR1srL4o18O8BRa7gVJY7G7bupbN3H9AwJrHCDiOg=';

/** HighLevel's published RSA key for the legacy x-wh-signature (docs/oauth/WebhookAuthentication.md). */
export const HIGHLEVEL_RSA_PUBLIC_KEY_PEM = `-----BEGIN PUBLIC KEY-----
MIICIjANBgkqhkiG9w0BAQEFAAOCAg8AMIICCgKCAgEAokvo/r9tVgcfZ5DysOSC
Frm602qYV0MaAiNnX9O8KxMbiyRKWeL9JpCpVpt4XHIcBOK4u3cLSqJGOLaPuXw6
dO0t6Q/ZVdAV5Phz+ZtzPL16iCGeK9po6D6JHBpbi989mmzMryUnQJezlYJ3DVfB
csedpinheNnyYeFXolrJvcsjDtfAeRx5ByHQmTnSdFUzuAnC9/GepgLT9SM4nCpv
uxmZMxrJt5Rw+VUaQ9B8JSvbMPpez4peKaJPZHBbU3OdeCVx5klVXXZQGNHOs8gF
3kvoV5rTnXV0IknLBXlcKKAQLZcY/Q9rG6Ifi9c+5vqlvHPCUJFT5XUGG5RKgOKU
J062fRtN+rLYZUV+BjafxQauvC8wSWeYja63VSUruvmNj8xkx2zE/Juc+yjLjTXp
IocmaiFeAO6fUtNjDeFVkhf5LNb59vECyrHD2SQIrhgXpO4Q3dVNA5rw576PwTzN
h/AMfHKIjE4xQA1SZuYJmNnmVZLIZBlQAF9Ntd03rfadZ+yDiOXCCs9FkHibELhC
HULgCsnuDJHcrGNd5/Ddm5hxGQ0ASitgHeMZ0kcIOwKDOzOU53lDza6/Y09T7sYJ
PQe7z0cvj7aE4B+Ax1ZoZGPzpJlZtGXCsu9aTEGEnKzmsFqwcSsnw3JB31IGKAyk
T1hhTiaCeIY/OwwwNUY2yvcCAwEAAQ==
-----END PUBLIC KEY-----
`;

export interface HighLevelWebhookKeys {
  /** Ed25519 public key: PEM, or base64 SPKI DER as HighLevel publishes it. */
  ed25519PublicKey?: string;
  /** RSA public key (PEM) for the legacy header; pass null to refuse legacy signatures altogether. */
  rsaPublicKeyPem?: string | null;
}

export interface SignatureHeaders {
  'x-ghl-signature'?: string | undefined;
  'x-wh-signature'?: string | undefined;
}

export type VerificationResult = { ok: true; scheme: 'ed25519' | 'rsa-sha256' } | { ok: false; reason: string };

/** Parsed keys by their text: parsing a key on every webhook cost more than verifying the signature. */
const parsedKeys = new Map<string, KeyObject>();

function publicKey(key: string): KeyObject {
  const known = parsedKeys.get(key);
  if (known) return known;
  const parsed = key.includes('-----BEGIN')
    ? createPublicKey(key)
    : createPublicKey({ key: Buffer.from(key.trim(), 'base64'), format: 'der', type: 'spki' });
  if (parsedKeys.size < 16) parsedKeys.set(key, parsed);
  return parsed;
}

/**
 * Checks a delivery's signature against the raw body bytes. x-ghl-signature (Ed25519) is checked when
 * present, with no fallback if it fails; only a delivery without it may use the legacy x-wh-signature
 * (RSA-SHA256), which HighLevel is retiring.
 */
export function verifyHighLevelSignature(
  rawBody: Buffer | string,
  headers: SignatureHeaders,
  keys: HighLevelWebhookKeys = {},
): VerificationResult {
  const body = typeof rawBody === 'string' ? Buffer.from(rawBody, 'utf8') : rawBody;
  const ghl = headers['x-ghl-signature'];
  if (ghl !== undefined && ghl !== '') {
    try {
      const ok = verify(
        null,
        body,
        publicKey(keys.ed25519PublicKey ?? HIGHLEVEL_ED25519_PUBLIC_KEY),
        Buffer.from(ghl, 'base64'),
      );
      return ok ? { ok: true, scheme: 'ed25519' } : { ok: false, reason: 'x-ghl-signature does not match the body' };
    } catch (error) {
      return {
        ok: false,
        reason: `x-ghl-signature could not be checked: ${error instanceof Error ? error.message : String(error)}`,
      };
    }
  }
  const wh = headers['x-wh-signature'];
  if (wh !== undefined && wh !== '') {
    const pem = keys.rsaPublicKeyPem === undefined ? HIGHLEVEL_RSA_PUBLIC_KEY_PEM : keys.rsaPublicKeyPem;
    if (pem === null) return { ok: false, reason: 'legacy x-wh-signature is not accepted' };
    try {
      const ok = verify('sha256', body, publicKey(pem), Buffer.from(wh, 'base64'));
      return ok ? { ok: true, scheme: 'rsa-sha256' } : { ok: false, reason: 'x-wh-signature does not match the body' };
    } catch (error) {
      return {
        ok: false,
        reason: `x-wh-signature could not be checked: ${error instanceof Error ? error.message : String(error)}`,
      };
    }
  }
  return { ok: false, reason: 'no x-ghl-signature or x-wh-signature header' };
}

export const CONTACT_EVENT_TYPES = [
  'ContactCreate',
  'ContactUpdate',
  'ContactDelete',
  'ContactTagUpdate',
  'ContactDndUpdate',
] as const;
export const INVOICE_EVENT_TYPES = [
  'InvoiceCreate',
  'InvoiceUpdate',
  'InvoiceSent',
  'InvoicePaid',
  'InvoicePartiallyPaid',
  'InvoiceVoid',
  'InvoiceDelete',
] as const;
export const ORDER_EVENT_TYPES = ['OrderCreate', 'OrderStatusUpdate'] as const;

interface EventBase {
  /** webhookId, or `sha256-` + the hash of the exact signed bytes when the payload has none: the inbox's dedupe key. */
  eventId: string;
  timestamp: string | undefined;
  /** The app the event is for: every lifecycle event names it; other events when the payload carries it. */
  appId: string | undefined;
  /** The event's name for the inbox and the activity list: its `type`, or what its shape says it is. */
  label: string;
}

export type HighLevelWebhookEvent =
  | (EventBase & {
      kind: 'contact';
      type: (typeof CONTACT_EVENT_TYPES)[number];
      locationId: string;
      contactId: string;
      contact: Contact;
    })
  | (EventBase & {
      kind: 'invoice';
      /** The payload's `type` when it has one; HighLevel's Invoice* docs show none (the shape says "invoice"). */
      type: (typeof INVOICE_EVENT_TYPES)[number] | undefined;
      locationId: string;
      invoiceId: string;
      status: string | undefined;
      invoice: Record<string, unknown>;
    })
  | (EventBase & {
      kind: 'order';
      type: (typeof ORDER_EVENT_TYPES)[number];
      locationId: string;
      orderId: string;
      order: Order;
    })
  | (EventBase & {
      kind: 'app';
      type: 'INSTALL' | 'UNINSTALL';
      locationId: string | undefined;
      companyId: string | undefined;
    })
  /** Verified but not placeable as something ledgerlink acts on; `reason` says why, `locationId` where it may belong. */
  | (EventBase & {
      kind: 'unplaced';
      type: string | undefined;
      locationId: string | undefined;
      reason: string;
      raw: unknown;
    });

const envelopeSchema = z.looseObject({
  type: z.string().optional(),
  webhookId: z.string().optional(),
  timestamp: z.string().optional(),
  locationId: z.string().optional(),
  altId: z.string().optional(),
  altType: z.string().optional(),
  appId: z.string().optional(),
});

/**
 * What identifies an invoice event when the payload has no `type` (docs/webhook events/Invoice*.md): the invoice
 * object at top level, `_id` and the `altId`/`altType` owner, with the invoice's own fields beside them.
 */
const invoiceShapeSchema = z.looseObject({
  _id: z.string().min(1),
  altId: z.string().min(1),
  altType: z.string().min(1),
  status: z.string().optional(),
});

/** An event that names itself Invoice*: only the invoice id is needed, the job re-reads the invoice. */
const typedInvoiceSchema = invoiceShapeSchema.partial({ altId: true, altType: true });

const installSchema = z.looseObject({
  type: z.enum(['INSTALL', 'UNINSTALL']),
  appId: z.string(),
  locationId: z.string().optional(),
  companyId: z.string().optional(),
});

function includes<T extends string>(list: readonly T[], value: string): value is T {
  return (list as readonly string[]).includes(value);
}

export class HighLevelWebhookError extends Error {
  override readonly name = 'HighLevelWebhookError';
}

/**
 * The identity of a delivery. HighLevel's guide tells receivers to dedupe on `webhookId`; a payload without one
 * (no event doc shows it) is identified by the hash of its exact signed bytes: a redelivery of the same event
 * (a 429 retry, a duplicate) carries the same bytes, while two changes of one record differ at least in
 * `updatedAt`. Two identical bodies collapsing is harmless, as the job re-reads the record either way.
 */
export function highLevelEventId(webhookId: string | undefined, body: Buffer): string {
  return webhookId ?? `sha256-${createHash('sha256').update(body).digest('hex')}`;
}

/**
 * Reads a verified body into a typed event. The event is identified by its `type` when it has one, otherwise by
 * its shape (an invoice); its location by `locationId`, otherwise by an `altId` whose `altType` is "location".
 * Whatever cannot be placed comes back as `unplaced` with the reason, never as an exception (only non-JSON throws).
 */
export function parseHighLevelWebhook(rawBody: Buffer | string): HighLevelWebhookEvent {
  const bytes = typeof rawBody === 'string' ? Buffer.from(rawBody, 'utf8') : rawBody;
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new HighLevelWebhookError('HighLevel webhook body is not JSON');
  }
  const envelope = envelopeSchema.safeParse(json);
  if (!envelope.success) {
    return {
      kind: 'unplaced',
      eventId: highLevelEventId(undefined, bytes),
      timestamp: undefined,
      appId: undefined,
      label: 'unrecognised event',
      type: undefined,
      locationId: undefined,
      reason: 'the body is not a JSON object',
      raw: json,
    };
  }
  const e = envelope.data;
  const eventId = highLevelEventId(e.webhookId, bytes);
  const timestamp = e.timestamp;
  const appId = e.appId;
  const locationId = e.locationId ?? (e.altType === 'location' ? e.altId : undefined);
  const type = e.type;
  const unplaced = (label: string, reason: string): HighLevelWebhookEvent => ({
    kind: 'unplaced',
    eventId,
    timestamp,
    appId,
    label,
    type,
    locationId,
    reason,
    raw: json,
  });

  if (type === undefined || includes(INVOICE_EVENT_TYPES, type)) {
    const invoice = (type === undefined ? invoiceShapeSchema : typedInvoiceSchema).safeParse(json);
    if (!invoice.success) {
      return type === undefined
        ? unplaced(
            'unrecognised event',
            'the payload has no type and is not shaped like an invoice (_id, altId, altType)',
          )
        : unplaced(type, `${type} without an invoice _id, altId and altType`);
    }
    const status = invoice.data.status;
    const label = type ?? `invoice event (status ${status ?? 'unknown'})`;
    if (!locationId)
      return unplaced(label, `the invoice names no location (altType ${invoice.data.altType ?? 'absent'})`);
    return {
      kind: 'invoice',
      eventId,
      timestamp,
      appId,
      label,
      type,
      locationId,
      invoiceId: invoice.data._id,
      status,
      invoice: invoice.data,
    };
  }
  if (includes(CONTACT_EVENT_TYPES, type)) {
    const contact = contactSchema.safeParse(json);
    if (!contact.success) return unplaced(type, `${type} without a readable contact`);
    if (!locationId) return unplaced(type, `${type} names no locationId`);
    return {
      kind: 'contact',
      type,
      eventId,
      timestamp,
      appId,
      label: type,
      locationId,
      contactId: contact.data.id,
      contact: contact.data,
    };
  }
  if (includes(ORDER_EVENT_TYPES, type)) {
    const order = orderSchema.safeParse(json);
    if (!order.success) return unplaced(type, `${type} without a readable order`);
    if (!locationId) return unplaced(type, `${type} names no locationId`);
    return {
      kind: 'order',
      type,
      eventId,
      timestamp,
      appId,
      label: type,
      locationId,
      orderId: order.data._id,
      order: order.data,
    };
  }
  if (type === 'INSTALL' || type === 'UNINSTALL') {
    const install = installSchema.safeParse(json);
    if (!install.success) return unplaced(type, `${type} without appId`);
    return {
      kind: 'app',
      type: install.data.type,
      eventId,
      timestamp,
      label: type,
      appId: install.data.appId,
      locationId: install.data.locationId,
      companyId: install.data.companyId,
    };
  }
  return unplaced(type, `${type} is not an event ledgerlink syncs`);
}

/**
 * How old a delivery may be. HighLevel's guide suggests ~5 minutes, but a delivery the intake answered with 429 comes
 * back up to six times ~10 minutes apart with the same signed body (and timestamp): a 5-minute window would refuse
 * the very retries the intake asked for. Replays inside the window are duplicates in the inbox.
 */
export const HIGHLEVEL_WEBHOOK_MAX_AGE_MS = 75 * 60_000;
/** Clock skew allowed for a timestamp ahead of ours. */
export const HIGHLEVEL_WEBHOOK_MAX_AHEAD_MS = 5 * 60_000;

/** Replay guard: a delivery whose timestamp is older than the window (or far ahead of our clock) is refused. */
export function isFreshWebhook(
  event: { timestamp: string | undefined },
  now: number = Date.now(),
  maxAgeMs = HIGHLEVEL_WEBHOOK_MAX_AGE_MS,
): boolean {
  if (event.timestamp === undefined) return true; // event docs show none; the inbox still dedupes on the body hash
  const at = Date.parse(event.timestamp);
  return Number.isFinite(at) && now - at <= maxAgeMs && at - now <= HIGHLEVEL_WEBHOOK_MAX_AHEAD_MS;
}

/**
 * HighLevel's id of an app, from its OAuth client id (`<appId>-<suffix>`), derived as HighLevel's SDK derives it
 * (`client_id.split('-')[0]`, lib/webhook/webhook-manager.ts); events name the app by `appId`.
 */
export function highLevelAppId(clientId: string): string {
  return clientId.split('-')[0] ?? clientId;
}
