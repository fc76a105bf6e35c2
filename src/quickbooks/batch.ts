// POST /batch: up to 30 operations per request (2023 Intuit guidance; reference §6.1), run serially by
// QuickBooks with no rollback; the HTTP status is 200 even when items fail, so each item carries its
// own result, matched back by bId.
import { z } from 'zod';
import { QuickBooksError, errorFromFault, faultSchema } from './errors.ts';
import { entitySchemas, isEntityName, type EntityName, type EntityOf } from './entities.ts';

export const MAX_BATCH_ITEMS = 30;
// With a requestid on the batch, each bId may hold at most 10 characters (reference §2.4).
const MAX_BID_LENGTH = 10;

export type BatchOperation = 'create' | 'update' | 'delete';

export type BatchItem =
  | { bId?: string; operation: BatchOperation; entity: EntityName; body: Record<string, unknown>; void?: never }
  | { bId?: string; operation: 'void'; entity: EntityName; body: { Id: string; SyncToken: string } }
  | { bId?: string; query: string };

export type BatchResult =
  | { bId: string; ok: true; entity: EntityName; value: EntityOf<EntityName> | Record<string, unknown> }
  | { bId: string; ok: true; query: Record<string, unknown> }
  | { bId: string; ok: false; error: QuickBooksError };

export const batchResponseSchema = z.looseObject({
  BatchItemResponse: z.array(z.looseObject({ bId: z.string() })).default([]),
  time: z.string().optional(),
});

/** Splits a list into chunks QuickBooks accepts. */
export function chunk<T>(items: readonly T[], size: number = MAX_BATCH_ITEMS): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** Gives every item a bId (its position when the caller gave none) and checks they are unique and short. */
export function assignBatchIds(items: readonly BatchItem[]): Array<BatchItem & { bId: string }> {
  const seen = new Set<string>();
  return items.map((item, index) => {
    const bId = item.bId ?? `b${index}`;
    if (bId.length > MAX_BID_LENGTH)
      throw new RangeError(`batch bId ${JSON.stringify(bId)} exceeds ${MAX_BID_LENGTH} characters`);
    if (seen.has(bId)) throw new RangeError(`batch bId ${JSON.stringify(bId)} is used twice`);
    seen.add(bId);
    return { ...item, bId };
  });
}

/** The wire form of one item. A void travels as an update with optionsData "void" (reference §6.1). */
export function batchItemRequest(item: BatchItem & { bId: string }): Record<string, unknown> {
  if ('query' in item) return { bId: item.bId, Query: item.query };
  if (item.operation === 'void')
    return { bId: item.bId, operation: 'update', optionsData: 'void', [item.entity]: item.body };
  return { bId: item.bId, operation: item.operation, [item.entity]: item.body };
}

/** Turns one BatchItemResponse into a typed result. */
export function batchItemResult(
  raw: Record<string, unknown> & { bId: string },
  intuitTid: string | undefined,
): BatchResult {
  const bId = raw.bId;
  if ('Fault' in raw) {
    const fault = faultSchema.safeParse(raw.Fault);
    const error = fault.success
      ? errorFromFault(fault.data, { status: 200, intuitTid })
      : new QuickBooksError({
          code: 'invalid_response',
          message: 'unreadable Fault in batch item',
          status: 200,
          intuitTid,
        });
    return { bId, ok: false, error };
  }
  if ('QueryResponse' in raw && typeof raw.QueryResponse === 'object' && raw.QueryResponse !== null) {
    return { bId, ok: true, query: raw.QueryResponse as Record<string, unknown> };
  }
  for (const [key, value] of Object.entries(raw)) {
    if (key === 'bId' || !isEntityName(key)) continue;
    const parsed = entitySchemas[key].safeParse(value);
    // A deleted stub ({Id, status:"Deleted"}) does not fit the full schema; hand it over as it came.
    if (parsed.success) return { bId, ok: true, entity: key, value: parsed.data };
    if (typeof value === 'object' && value !== null)
      return { bId, ok: true, entity: key, value: value as Record<string, unknown> };
  }
  return {
    bId,
    ok: false,
    error: new QuickBooksError({
      code: 'invalid_response',
      message: `batch item ${bId} holds neither an entity nor a Fault`,
      status: 200,
      intuitTid,
    }),
  };
}
