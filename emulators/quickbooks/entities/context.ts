// What entity rules need while they validate and compute a write: the company, the emulated time, the request's
// include options, and a way to report changes (webhooks and change data capture).
import type { Company, EntityName } from '../company.ts';
import { faults } from '../errors.ts';
import type { Rec } from '../json.ts';
import { refValue, str } from '../json.ts';
import { currencyNames } from '../seed.ts';
import { companyTimestamp } from '../time.ts';

export type ChangeOperation = 'Create' | 'Update' | 'Delete' | 'Merge' | 'Void' | 'Emailed';

export interface WriteContext {
  company: Company;
  /** Emulated epoch ms of this write. */
  now: number;
  /** Lower-cased `include` query values (allowduplicatedocnum, void). */
  include: ReadonlySet<string>;
  emit(entity: EntityName, id: string, operation: ChangeOperation): void;
}

export function timestamp(ctx: WriteContext): string {
  return companyTimestamp(ctx.now, ctx.company.settings.offsetMinutes);
}

/**
 * Resolves a reference the way QuickBooks judges it: an id that never existed or was deleted gives 2500 Invalid
 * Reference Id; an inactive name-list record gives 610 (reference §2.7).
 */
export function resolveRef(ctx: WriteContext, entity: EntityName, ref: unknown, element: string): Rec {
  const id = refValue(ref);
  if (id === undefined || id === '') throw faults.requiredMissing(element);
  const record = ctx.company.get(entity, id);
  if (!record) throw faults.invalidReference(entity, id, element);
  if (record.Active === false) throw faults.inactiveReference(entity, id, element);
  return record;
}

export function currencyRef(code: string): Rec {
  return { value: code, name: currencyNames[code] ?? code };
}

/** Undeposited Funds is where QuickBooks parks receipts and payments when no DepositToAccountRef is given. */
export function accountBySubType(ctx: WriteContext, subType: string): Rec | undefined {
  for (const account of ctx.company.table('Account').values())
    if (account.AccountSubType === subType && account.Active !== false) return account;
  return undefined;
}

export function nameRef(record: Rec, nameField = 'Name'): Rec {
  return { value: str(record.Id), name: str(record[nameField]) };
}

/** Fields QuickBooks computes or owns; a client may echo them back, they never overwrite the stored values. */
export const systemFields = ['Id', 'SyncToken', 'MetaData', 'domain', 'sparse', 'status'] as const;

export function withoutSystemFields(input: Rec, extra: readonly string[] = []): Rec {
  const out: Rec = { ...input };
  for (const key of systemFields) delete out[key];
  for (const key of extra) delete out[key];
  return out;
}
