// QuickBooks Items for CRM line items: found by name (links first, then one query for every missing name),
// created as service items on the income account when absent, reactivated when a bookkeeper made them
// inactive (an inactive item on a line is refused with 610).
import { isDuplicateName } from '../../quickbooks/errors.ts';
import { select } from '../../quickbooks/query.ts';
import type { Item } from '../../quickbooks/entities.ts';
import { quickbooksRequestId } from '../../domain/requestId.ts';
import { truncateText } from '../../domain/textLimits.ts';
import { forgetLinks, linksByCrmIds, saveLink } from '../../store/links.ts';
import type { LinkKindNames } from '../../store/recordNames.ts';
import type { FlowContext } from '../engine/context.ts';

/** The link of a CRM line item's name to its QuickBooks Item, written by every flow that puts items on a document. */
export const ITEM_LINK: LinkKindNames = { kind: 'item', quickbooks: { entity: 'Item', noun: 'Item' } };

const ITEM_NAME_MAX = 100;

/** QuickBooks item names may not hold ':' (it separates sub-items) and are at most 100 characters. */
export function qboItemName(crmName: string): string {
  const cleaned = crmName
    .replace(/[:\t\r\n]+/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  return truncateText(cleaned === '' ? 'Sales' : cleaned, ITEM_NAME_MAX);
}

/**
 * What `qboItemName` cut from names longer than QuickBooks allows, one sentence per name: the entry of the record
 * that uses them says so, so that a cut name is never a silent success.
 */
export function shortenedItemNames(crmNames: readonly string[]): string[] {
  const warnings = new Map<string, string>();
  for (const name of crmNames) {
    const cleaned = name
      .replace(/[:\t\r\n]+/g, ' ')
      .replace(/\s+/g, ' ')
      .trim();
    if (cleaned.length <= ITEM_NAME_MAX || warnings.has(cleaned)) continue;
    const kept = qboItemName(name);
    warnings.set(
      cleaned,
      `item name of ${cleaned.length} characters shortened to QuickBooks' ${ITEM_NAME_MAX}: "${kept}" (cut: "${preview(cleaned.slice(kept.length))}")`,
    );
  }
  return [...warnings.values()];
}

function preview(text: string): string {
  const trimmed = text.trim();
  return trimmed.length <= 40 ? trimmed : `${trimmed.slice(0, 40)}… ${trimmed.length} characters`;
}

/** The key an item is linked under: QuickBooks compares item names without regard to case. */
export function itemKey(crmName: string): string {
  return qboItemName(crmName).toLowerCase();
}

/** CRM item name -> QuickBooks Item Id, for every name given. */
export async function itemIdsForNames(ctx: FlowContext, names: readonly string[]): Promise<Record<string, string>> {
  const byKey = new Map<string, string>();
  for (const name of names) byKey.set(itemKey(name), qboItemName(name));
  const known = ctx.itemIds ?? new Map<string, string>();
  const ids = new Map<string, string>();
  for (const key of byKey.keys()) {
    const id = known.get(key);
    if (id) ids.set(key, id);
  }
  if (ids.size < byKey.size) {
    const linked = await linksByCrmIds(
      ctx.db,
      ctx.connection.id,
      'item',
      [...byKey.keys()].filter((key) => !ids.has(key)),
      'linked',
    );
    for (const link of linked) if (link.qboId) ids.set(link.crmId, link.qboId);
  }
  const missing = [...byKey.entries()].filter(([key]) => !ids.has(key));
  if (missing.length > 0) {
    const found = await findItems(
      ctx,
      missing.map(([, name]) => name),
    );
    for (const [key, name] of missing) {
      let item = found.get(key) ?? (await createItem(ctx, key, name));
      if (item.Active === false)
        item = await ctx.qbo.update(
          'Item',
          { Id: item.Id, SyncToken: item.SyncToken, Active: true },
          { requestId: requestIdFor(ctx, key, `reactivate:${item.SyncToken}`) },
        );
      ids.set(key, item.Id);
      await saveLink(ctx.db, {
        connectionId: ctx.connection.id,
        kind: 'item',
        crmId: key,
        qboId: item.Id,
        origin: 'crm',
        state: 'linked',
        snapshotHash: null,
        qboSyncToken: item.SyncToken,
        qboUpdatedAt: null,
        crmUpdatedAt: null,
        data: { name: item.Name },
      });
    }
  }
  for (const [key, id] of ids) known.set(key, id);
  return Object.fromEntries(names.map((name) => [name, ids.get(itemKey(name))!]));
}

/** Forgets the item links (after QuickBooks refused one as missing or inactive): the next run looks them up again. */
export async function forgetItems(ctx: FlowContext, names: readonly string[]): Promise<void> {
  for (const name of names) ctx.itemIds?.delete(itemKey(name));
  await forgetLinks(ctx.db, ctx.connection.id, 'item', names.map(itemKey));
}

async function findItems(ctx: FlowContext, names: readonly string[]): Promise<Map<string, Item>> {
  const found = new Map<string, Item>();
  for (let i = 0; i < names.length; i += 50) {
    const rows = await ctx.qbo.query(
      select('Item')
        .whereIn('Name', names.slice(i, i + 50))
        .includeInactive()
        .maxResults(1000),
    );
    for (const item of rows) {
      const key = String(item.Name).toLowerCase();
      const seen = found.get(key);
      if (!seen || (seen.Active === false && item.Active !== false)) found.set(key, item);
    }
  }
  return found;
}

/**
 * A service item on the income account the bookkeeper mapped for new items, else the one CompanyFacts chose. An item
 * keeps the account it was created with: a later change of the mapping applies to the items created after it.
 */
async function createItem(ctx: FlowContext, key: string, name: string): Promise<Item> {
  const incomeAccountId = ctx.connection.settings.mappings.incomeAccountId ?? (await ctx.company()).incomeAccountId;
  try {
    return await ctx.qbo.create(
      'Item',
      { Name: name, Type: 'Service', IncomeAccountRef: { value: incomeAccountId } },
      { requestId: requestIdFor(ctx, key, 'create') },
    );
  } catch (error) {
    // Another process created it meanwhile, or its name differs from ours only in case: use that item.
    if (!isDuplicateName(error)) throw error;
    const again = (await findItems(ctx, [name])).get(key);
    if (!again) throw error;
    return again;
  }
}

function requestIdFor(ctx: FlowContext, key: string, version: string): string {
  return quickbooksRequestId({ connectionId: ctx.connection.id, flow: 'items', sourceId: key, sourceVersion: version });
}
