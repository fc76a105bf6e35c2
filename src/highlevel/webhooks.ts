// HighLevel webhooks (reference §5): verify the signature over the raw body, then read the flat payload
// into a typed event. Bodies are hints: the engine re-reads the record before acting.
import { createHash, createPublicKey, verify, type KeyObject } from 'node:crypto';
import { z } from 'zod';
import { contactSchema, type Contact } from './contacts.ts';
import { invoiceSchema, type Invoice } from './invoices.ts';
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
  const parsed = key.includes('-----BEGIN') ? createPublicKey(key) : createPublicKey({ key: Buffer.from(key.trim(), 'base64'), format: 'der', type: 'spki' });
  if (parsedKeys.size < 16) parsedKeys.set(key, parsed);
  return parsed;
}

/**
 * Checks a delivery's signature against the raw body bytes. x-ghl-signature (Ed25519) is checked when
 * present, with no fallback if it fails; only a delivery without it may use the legacy x-wh-signature
 * (RSA-SHA256), which HighLevel is retiring.
 */
export function verifyHighLevelSignature(rawBody: Buffer | string, headers: SignatureHeaders, keys: HighLevelWebhookKeys = {}): VerificationResult {
  const body = typeof rawBody === 'string' ? Buffer.from(rawBody, 'utf8') : rawBody;
  const ghl = headers['x-ghl-signature'];
  if (ghl !== undefined && ghl !== '') {
    try {
      const ok = verify(null, body, publicKey(keys.ed25519PublicKey ?? HIGHLEVEL_ED25519_PUBLIC_KEY), Buffer.from(ghl, 'base64'));
      return ok ? { ok: true, scheme: 'ed25519' } : { ok: false, reason: 'x-ghl-signature does not match the body' };
    } catch (error) {
      return { ok: false, reason: `x-ghl-signature could not be checked: ${error instanceof Error ? error.message : String(error)}` };
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
      return { ok: false, reason: `x-wh-signature could not be checked: ${error instanceof Error ? error.message : String(error)}` };
    }
  }
  return { ok: false, reason: 'no x-ghl-signature or x-wh-signature header' };
}

export const CONTACT_EVENT_TYPES = ['ContactCreate', 'ContactUpdate', 'ContactDelete', 'ContactTagUpdate', 'ContactDndUpdate'] as const;
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
  /** webhookId, or a hash of the body when a delivery carries none: the inbox's dedupe key. */
  eventId: string;
  timestamp: string | undefined;
}

export type HighLevelWebhookEvent =
  | (EventBase & { type: (typeof CONTACT_EVENT_TYPES)[number]; locationId: string; contactId: string; contact: Contact })
  | (EventBase & { type: (typeof INVOICE_EVENT_TYPES)[number]; locationId: string; invoiceId: string; invoice: Invoice })
  | (EventBase & { type: (typeof ORDER_EVENT_TYPES)[number]; locationId: string; orderId: string; order: Order })
  | (EventBase & { type: 'INSTALL' | 'UNINSTALL'; appId: string; locationId: string | undefined; companyId: string | undefined })
  | (EventBase & { type: 'unknown'; raw: unknown; reason: string });

const envelopeSchema = z.looseObject({
  type: z.string().optional(),
  webhookId: z.string().optional(),
  timestamp: z.string().optional(),
  locationId: z.string().optional(),
  altId: z.string().optional(),
});

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

/** Reads a verified body into a typed event; types we do not handle, or bodies that do not fit, become `unknown`. */
export function parseHighLevelWebhook(rawBody: Buffer | string): HighLevelWebhookEvent {
  const text = typeof rawBody === 'string' ? rawBody : rawBody.toString('utf8');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new HighLevelWebhookError('HighLevel webhook body is not JSON');
  }
  const envelope = envelopeSchema.safeParse(json);
  const eventId = envelope.success && envelope.data.webhookId ? envelope.data.webhookId : `sha256-${createHash('sha256').update(text).digest('hex')}`;
  const timestamp = envelope.success ? envelope.data.timestamp : undefined;
  const unknown = (reason: string): HighLevelWebhookEvent => ({ type: 'unknown', eventId, timestamp, raw: json, reason });
  if (!envelope.success || envelope.data.type === undefined) return unknown('no type field');
  const type = envelope.data.type;
  // Invoice and order payloads name the location altId; contacts name it locationId.
  const locationId = envelope.data.locationId ?? envelope.data.altId;

  if (includes(CONTACT_EVENT_TYPES, type)) {
    const contact = contactSchema.safeParse(json);
    if (!contact.success || !locationId) return unknown(`${type} without a readable contact`);
    return { type, eventId, timestamp, locationId, contactId: contact.data.id, contact: contact.data };
  }
  if (includes(INVOICE_EVENT_TYPES, type)) {
    const invoice = invoiceSchema.safeParse(json);
    if (!invoice.success || !locationId) return unknown(`${type} without a readable invoice`);
    return { type, eventId, timestamp, locationId, invoiceId: invoice.data._id, invoice: invoice.data };
  }
  if (includes(ORDER_EVENT_TYPES, type)) {
    const order = orderSchema.safeParse(json);
    if (!order.success || !locationId) return unknown(`${type} without a readable order`);
    return { type, eventId, timestamp, locationId, orderId: order.data._id, order: order.data };
  }
  if (type === 'INSTALL' || type === 'UNINSTALL') {
    const install = installSchema.safeParse(json);
    if (!install.success) return unknown(`${type} without appId`);
    return { type: install.data.type, eventId, timestamp, appId: install.data.appId, locationId: install.data.locationId, companyId: install.data.companyId };
  }
  return unknown(`event type ${type} is not handled`);
}

/** Replay guard: HighLevel's guide suggests refusing deliveries whose timestamp is over ~5 minutes old. */
export function isFreshWebhook(event: { timestamp: string | undefined }, now: number = Date.now(), maxAgeMs = 5 * 60_000): boolean {
  if (event.timestamp === undefined) return true; // older event kinds carry none; the inbox still dedupes
  const at = Date.parse(event.timestamp);
  return Number.isFinite(at) && Math.abs(now - at) <= maxAgeMs;
}
