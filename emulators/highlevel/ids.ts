// Identifier shapes as HighLevel issues them (reference §2.2): contacts, locations and companies carry
// 20-char alphanumeric ids (e.g. "ocQHyuzHvysMo5N5VsXc"); invoices, orders, transactions and subscriptions
// carry Mongo-style 24-hex ObjectIds (e.g. "6578278e879ad2646715ba9c").
import { randomBytes, randomUUID } from 'node:crypto';

const ALPHANUMERIC = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

export function alphanumericId(length = 20): string {
  const bytes = randomBytes(length);
  let out = '';
  // 62 does not divide 256: the tiny modulo bias is irrelevant for an emulator's ids.
  for (const byte of bytes) out += ALPHANUMERIC[byte % ALPHANUMERIC.length];
  return out;
}

let objectIdCounter = randomBytes(3).readUIntBE(0, 3);
const objectIdProcess = randomBytes(5).toString('hex');

/** A 24-hex ObjectId: 4-byte seconds, 5 random bytes, 3-byte counter, like MongoDB's, so ids sort by creation. */
export function objectId(nowMs: number = Date.now()): string {
  objectIdCounter = (objectIdCounter + 1) % 0x1000000;
  const seconds = Math.floor(nowMs / 1000)
    .toString(16)
    .padStart(8, '0')
    .slice(-8);
  return seconds + objectIdProcess + objectIdCounter.toString(16).padStart(6, '0');
}

export function uuid(): string {
  return randomUUID();
}

/** Opaque token strings; real ones look like JWTs ("eyJ..."), clients must treat them as opaque. */
export function opaqueToken(prefix: string): string {
  return prefix + randomBytes(24).toString('base64url');
}
