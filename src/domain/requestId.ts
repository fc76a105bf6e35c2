// The QuickBooks `requestid` for a write: QuickBooks replays the first answer when the same requestid comes
// again for the same company, so a retry after a timeout (or after a crash between write and commit) returns
// the object already created instead of creating a second one. The id must therefore be a pure function of
// what the write is *for*: (connection, flow, source record id, source record version). A new version of the
// source (an edited invoice) gets a new id and is written again; the same version never is.
//
// Format: `ll1` + sha256 over the four parts (each length-prefixed, so ("ab","c") and ("a","bc") differ),
// base64url. QuickBooks allows 50 characters (36 inside a batch). A single write uses the whole 256-bit digest
// (43 characters, 46 in all); a batch item keeps 33 characters = 198 bits. Collisions: ids only need to be
// distinct within one realm; even 10^12 writes into one realm collide with probability about
// n^2 / 2^199 < 10^-35, far below the chance of any other failure.

import { createHash } from 'node:crypto';
import { QBO_LIMITS } from './quickbooksLimits.ts';

export interface RequestIdSource {
  readonly connectionId: string;
  /** e.g. `customers`, `invoices`, `salesReceipts`, `refunds`, `invoices.void`. */
  readonly flow: string;
  /** The id of the record on its origin side (HighLevel invoice id, payment id...). */
  readonly sourceId: string;
  /** The version of that record being written: HighLevel `updatedAt`, a content hash, a SyncToken. */
  readonly sourceVersion: string;
}

const PREFIX = 'll1';

export function quickbooksRequestId(source: RequestIdSource, options: { readonly batch?: boolean } = {}): string {
  const hash = createHash('sha256');
  for (const part of [source.connectionId, source.flow, source.sourceId, source.sourceVersion]) {
    const bytes = Buffer.from(part, 'utf8');
    hash.update(`${bytes.length}:`);
    hash.update(bytes);
  }
  const digest = hash.digest('base64url');
  const limit = options.batch ? QBO_LIMITS.requestId.batch : QBO_LIMITS.requestId.single;
  const bodyLength = Math.min(digest.length, limit - PREFIX.length);
  return `${PREFIX}${digest.slice(0, bodyLength)}`;
}
