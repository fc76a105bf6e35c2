// Class and Department (the "Location" of QuickBooks' screens): the two name lists a company may tag its
// transactions with, and the checks a transaction's ClassRef/DepartmentRef go through. Whether a company tracks
// them is read from its Preferences (AccountingInfoPrefs), the only switch QuickBooks has for it
// (docs/api-evidence.md, "Classes, locations and deposit accounts").
import type { Company } from '../company.ts';
import { faults } from '../errors.ts';
import type { Rec } from '../json.ts';
import { rec, refValue, str } from '../json.ts';
import type { WriteContext } from './context.ts';
import { nameRef, resolveRef, withoutSystemFields } from './context.ts';

export type SegmentEntity = 'Class' | 'Department';

export interface Tracking {
  classPerTxn: boolean;
  classPerLine: boolean;
  departments: boolean;
}

export function trackingOf(company: Company): Tracking {
  const prefs = rec(company.get('Preferences', '1')?.AccountingInfoPrefs);
  return {
    classPerTxn: prefs?.ClassTrackingPerTxn === true,
    classPerLine: prefs?.ClassTrackingPerTxnLine === true,
    departments: prefs?.TrackDepartments === true,
  };
}

/**
 * Class and Department share one shape (Finance.xsd): Name (required, unique in its list, inactive records
 * included, 6240), an optional ParentRef to a record of the same list that makes it a sub-record
 * (SubClass/SubDepartment) named "Parent:Child" in FullyQualifiedName, and Active. Department also keeps an Address.
 */
export function buildSegment(
  ctx: WriteContext,
  entity: SegmentEntity,
  input: Rec,
  _previous: Rec | undefined,
  selfId: string,
): Rec {
  const subFlag = entity === 'Class' ? 'SubClass' : 'SubDepartment';
  const out = withoutSystemFields(input, ['FullyQualifiedName', subFlag]);
  const name = str(out.Name)?.trim();
  if (!name) throw faults.requiredMissing('Name');
  if (name.length > 100)
    throw faults.invalidValue(
      'Name',
      'String length is either shorter or longer than supported by specification. Min:1 Max:100',
    );
  if (name.includes(':')) throw faults.business(`The ${entity.toLowerCase()} name cannot contain a colon (:).`, 'Name');
  const owner = ctx.company.findListName(entity, name);
  if (owner && owner !== selfId) throw faults.duplicateListName(entity, name, owner);
  out.Name = name;
  if (out.ParentRef !== undefined) {
    const parent = resolveRef(ctx, entity, out.ParentRef, 'ParentRef');
    // A record cannot sit under itself or under one of its own descendants.
    for (let up: Rec | undefined = parent; up; up = lookupParent(ctx.company, entity, up)) {
      if (selfId !== '' && str(up.Id) === selfId)
        throw faults.business(`A ${entity.toLowerCase()} cannot be its own parent.`, 'ParentRef');
    }
    out.ParentRef = { value: str(parent.Id) };
    out[subFlag] = true;
    out.FullyQualifiedName = `${str(parent.FullyQualifiedName) ?? str(parent.Name)}:${name}`;
  } else {
    out[subFlag] = false;
    out.FullyQualifiedName = name;
  }
  out.Active = out.Active !== false;
  return out;
}

function lookupParent(company: Company, entity: SegmentEntity, record: Rec): Rec | undefined {
  const id = refValue(record.ParentRef);
  return id ? company.get(entity, id) : undefined;
}

/** An active record of the list, as `{value, name}` with its full name (2500 when unknown, 610 when inactive). */
function segmentRef(ctx: WriteContext, entity: SegmentEntity, ref: unknown, element: string): Rec {
  return nameRef(resolveRef(ctx, entity, ref, element));
}

function trackingOff(what: string, element: string): never {
  throw faults.business(
    `${what} tracking is turned off for this company: turn it on in Preferences.AccountingInfoPrefs before sending ${element}.`,
    element,
  );
}

/**
 * A transaction's header ClassRef and DepartmentRef. With classes assigned "one to each row" only (per line),
 * QuickBooks ignores a header ClassRef without error; with tracking off altogether the emulator refuses the
 * reference (6000), never more lenient than QuickBooks (whose answer then is not on record).
 */
export function applyHeaderSegments(ctx: WriteContext, out: Rec, withClass: boolean): void {
  const tracking = trackingOf(ctx.company);
  if (withClass && out.ClassRef !== undefined) {
    if (tracking.classPerTxn) out.ClassRef = segmentRef(ctx, 'Class', out.ClassRef, 'ClassRef');
    else if (tracking.classPerLine) delete out.ClassRef;
    else trackingOff('Class', 'ClassRef');
  }
  if (out.DepartmentRef !== undefined) {
    if (!tracking.departments) trackingOff('Location (department)', 'DepartmentRef');
    out.DepartmentRef = segmentRef(ctx, 'Department', out.DepartmentRef, 'DepartmentRef');
  }
}

/** A sales line's SalesItemLineDetail.ClassRef: kept when classes go on rows, ignored when they go on the whole transaction. */
export function applyLineClass(ctx: WriteContext, detail: Rec, element: string): void {
  if (detail.ClassRef === undefined) return;
  const tracking = trackingOf(ctx.company);
  if (tracking.classPerLine) detail.ClassRef = segmentRef(ctx, 'Class', detail.ClassRef, `${element}.ClassRef`);
  else if (tracking.classPerTxn) delete detail.ClassRef;
  else trackingOff('Class', `${element}.SalesItemLineDetail.ClassRef`);
}

/** Account types QuickBooks lets money be deposited to: bank accounts and other current assets (Undeposited Funds among them). */
export const DEPOSIT_ACCOUNT_TYPES: readonly string[] = ['Bank', 'Other Current Asset'];

export function checkDepositAccount(account: Rec): void {
  if (!DEPOSIT_ACCOUNT_TYPES.includes(str(account.AccountType) ?? ''))
    throw faults.business(
      'Invalid account type: You need to select a different type of account for this transaction.',
      'DepositToAccountRef',
    );
}
