// GET /cdc?entities=A,B&changedSince=ISO (reference §4): the latest full version of every object changed since the
// given time, deleted ones as {status:"Deleted", Id, MetaData}; at most 30 days back (older -> a Fault) and at
// most 1000 objects in all (oldest changes first).
import type { Company, EntityName } from './company.ts';
import { entityNames } from './company.ts';
import { faults } from './errors.ts';
import type { Rec } from './json.ts';
import { realEntityName } from './query.ts';
import { companyTimestamp, parseTimestamp } from './time.ts';

export const CDC_MAX_OBJECTS = 1000;
export const CDC_LOOKBACK_MS = 30 * 24 * 3600 * 1000;
// TaxCode and TaxRate are not supported by CDC (Intuit docs list).
const cdcEntities = new Map(
  entityNames.filter((n) => n !== 'TaxCode' && n !== 'TaxRate').map((n) => [n.toLowerCase(), n]),
);

export function changeDataCapture(
  company: Company,
  entitiesParam: string | undefined,
  changedSince: string | undefined,
  nowMs: number,
): Rec {
  if (!entitiesParam) throw faults.requiredMissing('entities', 'Required parameter entities is missing in the request');
  if (!changedSince)
    throw faults.requiredMissing('changedSince', 'Required parameter changedSince is missing in the request');
  const since = parseTimestamp(changedSince, company.settings.offsetMinutes);
  if (since === undefined) throw faults.invalidValue('changedSince', `Invalid date/time: ${changedSince}`);
  if (nowMs - since > CDC_LOOKBACK_MS) throw faults.cdcTooOld(changedSince);
  const requested: EntityName[] = [];
  for (const name of entitiesParam
    .split(',')
    .map((e) => e.trim())
    .filter(Boolean)) {
    const entity = cdcEntities.get(name.toLowerCase());
    // A real entity type the emulator keeps no records of (Bill, Estimate...) has no changes, as in a company without any.
    if (!entity && realEntityName(name) !== undefined && !/^tax(code|rate)$/i.test(name)) continue;
    if (!entity) throw faults.queryInvalid(`CDC is not supported for entity ${name}`);
    if (!requested.includes(entity)) requested.push(entity);
  }
  const changes: Array<{ entity: EntityName; id: string; at: number; deleted: boolean }> = [];
  for (const entity of requested) {
    for (const [id, mark] of company.changes.get(entity)!) if (mark.at >= since) changes.push({ entity, id, ...mark });
  }
  changes.sort((a, b) => a.at - b.at);
  const byEntity = new Map<EntityName, Rec[]>();
  for (const change of changes.slice(0, CDC_MAX_OBJECTS)) {
    const record = change.deleted
      ? {
          domain: 'QBO',
          status: 'Deleted',
          Id: change.id,
          MetaData: { LastUpdatedTime: companyTimestamp(change.at, company.settings.offsetMinutes) },
        }
      : company.get(change.entity, change.id);
    if (!record) continue;
    let list = byEntity.get(change.entity);
    if (!list) byEntity.set(change.entity, (list = []));
    list.push(record);
  }
  const queryResponses = requested
    .filter((entity) => byEntity.has(entity))
    .map((entity) => ({ [entity]: byEntity.get(entity)!, startPosition: 1, maxResults: byEntity.get(entity)!.length }));
  return { CDCResponse: [{ QueryResponse: queryResponses }] };
}
