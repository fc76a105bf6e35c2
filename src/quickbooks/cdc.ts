// Change data capture (reference §4): GET /cdc?entities=A,B&changedSince=<ISO>. Up to 30 days back and
// 1000 objects per answer, no paging: a caller that hits the cap narrows its window. Deleted objects
// come back as stubs {Id, status:"Deleted"}.
import { z } from 'zod';
import { entitySchemas, isEntityName, type EntityName, type EntityOf } from './entities.ts';

export const MAX_CDC_OBJECTS = 1000;

export const cdcResponseSchema = z.looseObject({
  CDCResponse: z
    .array(
      z.looseObject({
        QueryResponse: z.array(z.record(z.string(), z.unknown())).default([]),
      }),
    )
    .default([]),
  time: z.string(),
});

export interface ChangedEntity<N extends EntityName = EntityName> {
  entity: N;
  value: EntityOf<N>;
}

export interface DeletedEntity {
  entity: EntityName;
  id: string;
  lastUpdated: string | undefined;
}

export interface ChangeSet {
  changed: ChangedEntity[];
  deleted: DeletedEntity[];
  /** The answer's own timestamp: use it as the next changedSince, not the local clock. */
  time: string;
  /** Objects in the answer; at MAX_CDC_OBJECTS some changes may be missing and the window should shrink. */
  total: number;
  truncated: boolean;
}

const stub = z.looseObject({
  Id: z.string(),
  status: z.literal('Deleted'),
  MetaData: z.looseObject({ LastUpdatedTime: z.string().optional() }).optional(),
});

/** Parses a CDC answer; objects of types we do not model, or that fail their schema, are reported in `unparsed`. */
export function parseChangeSet(
  body: z.infer<typeof cdcResponseSchema>,
): ChangeSet & { unparsed: Array<{ entity: string; issue: string }> } {
  const changed: ChangedEntity[] = [];
  const deleted: DeletedEntity[] = [];
  const unparsed: Array<{ entity: string; issue: string }> = [];
  let total = 0;
  for (const response of body.CDCResponse) {
    for (const group of response.QueryResponse) {
      for (const [key, list] of Object.entries(group)) {
        if (!Array.isArray(list)) continue; // startPosition, maxResults, totalCount
        for (const raw of list) {
          total += 1;
          if (!isEntityName(key)) {
            unparsed.push({ entity: key, issue: 'entity type not modelled' });
            continue;
          }
          const asStub = stub.safeParse(raw);
          if (asStub.success) {
            deleted.push({ entity: key, id: asStub.data.Id, lastUpdated: asStub.data.MetaData?.LastUpdatedTime });
            continue;
          }
          const parsed = entitySchemas[key].safeParse(raw);
          if (parsed.success) changed.push({ entity: key, value: parsed.data });
          else unparsed.push({ entity: key, issue: parsed.error.issues[0]?.message ?? 'invalid' });
        }
      }
    }
  }
  return { changed, deleted, time: body.time, total, truncated: total >= MAX_CDC_OBJECTS, unparsed };
}
