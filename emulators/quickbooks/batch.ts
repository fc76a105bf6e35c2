// POST /batch (reference §6.1): at most 30 items (else fault 1040), run serially in order; each item answers with
// its bId and either the entity, a QueryResponse or a Fault; the HTTP status is 200 even when items fail.
// A void is `operation:"update"` with `optionsData:"void"` (or operation "void").
import type { Accounting } from './accounting.ts';
import type { Company, EntityName } from './company.ts';
import { entityNames } from './company.ts';
import { QboFault, faults } from './errors.ts';
import type { Rec } from './json.ts';
import { isRec, str } from './json.ts';
import { parseQuery, queryResponse, runQuery } from './query.ts';

export const MAX_BATCH_ITEMS = 30;

const entityByLowerName = new Map(entityNames.map((n) => [n.toLowerCase(), n]));

export function batchItems(body: unknown): Rec[] {
  if (!isRec(body) || !Array.isArray(body.BatchItemRequest))
    throw faults.malformedRequest('a BatchItemRequest array was expected');
  const items = body.BatchItemRequest.filter(isRec);
  if (items.length !== body.BatchItemRequest.length)
    throw faults.malformedRequest('every BatchItemRequest item must be an object');
  if (items.length > MAX_BATCH_ITEMS) throw faults.batchTooLarge(items.length, MAX_BATCH_ITEMS);
  return items;
}

export function runBatch(
  accounting: Accounting,
  company: Company,
  items: Rec[],
  nameLists: ReadonlySet<EntityName>,
): Rec[] {
  return items.map((item) => {
    const bId = str(item.bId) ?? '';
    try {
      return { ...runItem(accounting, company, item, nameLists), bId };
    } catch (error) {
      if (error instanceof QboFault) return { ...error.body(true), bId };
      throw error;
    }
  });
}

function runItem(accounting: Accounting, company: Company, item: Rec, nameLists: ReadonlySet<EntityName>): Rec {
  if (item.Query !== undefined) {
    const query = parseQuery(String(item.Query));
    return { QueryResponse: queryResponse(query, runQuery(company, query, nameLists)) };
  }
  const keys = Object.keys(item).filter((k) => !['bId', 'operation', 'optionsData'].includes(k));
  const entityKey = keys.find((k) => entityByLowerName.has(k.toLowerCase()));
  if (!entityKey) throw faults.unsupported(`batch item without a known entity (keys: ${keys.join(', ') || 'none'})`);
  const entity = entityByLowerName.get(entityKey.toLowerCase())!;
  const body = item[entityKey];
  const operation = (str(item.operation) ?? 'create').toLowerCase();
  const options = (str(item.optionsData) ?? '').toLowerCase();
  const include = new Set(options ? options.split(',').map((o) => o.trim()) : []);
  let record: Rec;
  if ((operation === 'update' && include.has('void')) || operation === 'void')
    record = accounting.void(company, entity, body);
  else if (operation === 'create') record = accounting.create(company, entity, body, include);
  else if (operation === 'update') record = accounting.update(company, entity, body, include);
  else if (operation === 'delete') record = accounting.delete(company, entity, body);
  else throw faults.unsupported(`${operation} in batch`);
  return { [entity]: record };
}
