// Customer, Vendor and Employee: one DisplayName namespace across the three, inactive records included (6240);
// a DisplayName may be built from the name parts; customers are never hard-deleted: deactivation renames them
// "<name> (deleted)" (RUBY-FX deleted_customer.xml).
import type { EntityName } from '../company.ts';
import { faults } from '../errors.ts';
import type { Rec } from '../json.ts';
import { refValue, str } from '../json.ts';
import { toJsonNumber, toScaled } from '../money.ts';
import type { WriteContext } from './context.ts';
import { currencyRef, resolveRef, withoutSystemFields } from './context.ts';

export type NameEntity = 'Customer' | 'Vendor' | 'Employee';
const DELETED_SUFFIX = ' (deleted)';

const computedFields: Record<NameEntity, string[]> = {
  Customer: ['Balance', 'BalanceWithJobs', 'FullyQualifiedName', 'OverDueBalance', 'TotalRevenue', 'TotalExpense'],
  Vendor: ['Balance'],
  Employee: [],
};

function displayNameFromParts(input: Rec): string | undefined {
  const parts = ['Title', 'GivenName', 'MiddleName', 'FamilyName', 'Suffix']
    .map((k) => str(input[k])?.trim())
    .filter((p): p is string => !!p);
  return parts.length > 0 ? parts.join(' ') : undefined;
}

function uniqueDeletedName(ctx: WriteContext, base: string, selfId: string): string {
  let candidate = `${base}${DELETED_SUFFIX}`;
  for (let n = 2; ; n++) {
    const owner = ctx.company.findDisplayName(candidate);
    if (!owner || owner.id === selfId) return candidate;
    candidate = `${base} (deleted ${n})`;
  }
}

export function buildName(
  ctx: WriteContext,
  entity: NameEntity,
  input: Rec,
  previous: Rec | undefined,
  selfId: string,
): Rec {
  const s = ctx.company.settings;
  const out = withoutSystemFields(input, computedFields[entity]);
  let displayName =
    str(out.DisplayName)?.trim() ||
    displayNameFromParts(out) ||
    (entity === 'Customer' || entity === 'Vendor' ? str(out.CompanyName)?.trim() : undefined);
  if (!displayName) throw faults.noNameProvided();
  if (displayName.length > 500)
    throw faults.invalidValue(
      'DisplayName',
      'String length is either shorter or longer than supported by specification. Min:1 Max:500',
    );
  if (displayName.includes(':')) throw faults.business('The name cannot contain a colon (:).', 'DisplayName');
  if (entity === 'Employee' && !str(out.GivenName) && !str(out.FamilyName))
    throw faults.requiredMissing('GivenName', 'Employee GivenName or FamilyName is required');

  const active = out.Active !== false;
  const wasActive = previous ? previous.Active !== false : true;
  if (!active && wasActive && !displayName.endsWith(DELETED_SUFFIX))
    displayName = uniqueDeletedName(ctx, displayName, selfId);
  if (active && !wasActive && displayName.endsWith(DELETED_SUFFIX)) {
    const base = displayName.slice(0, -DELETED_SUFFIX.length);
    const owner = ctx.company.findDisplayName(base);
    if (!owner || owner.id === selfId) displayName = base;
  }
  const owner = ctx.company.findDisplayName(displayName);
  if (owner && !(owner.entity === entity && owner.id === selfId))
    throw faults.duplicateName(displayName, owner.entity, owner.id);
  out.DisplayName = displayName;
  out.Active = active;
  out.PrintOnCheckName = str(out.PrintOnCheckName) ?? displayName;

  // Currency: fixed at creation (reference §7); without multicurrency every name uses the home currency.
  const requested = refValue(out.CurrencyRef);
  const currency = previous ? (refValue(previous.CurrencyRef) ?? s.currency) : (requested ?? s.currency);
  if (previous && requested && requested !== currency) {
    throw faults.business(
      `The currency of a ${entity.toLowerCase()} cannot be changed after it is created (${currency} -> ${requested}).`,
      'CurrencyRef',
    );
  }
  if (!s.multiCurrency && currency !== s.currency) {
    throw faults.business(
      `Multicurrency is not enabled for this company; ${entity}.CurrencyRef must be ${s.currency}, got ${currency}.`,
      'CurrencyRef',
    );
  }
  // Employees carry no currency in the XSD.
  if (entity !== 'Employee') out.CurrencyRef = currencyRef(currency);
  else delete out.CurrencyRef;

  if (entity === 'Customer') {
    out.FullyQualifiedName = displayName;
    out.Taxable = out.Taxable ?? s.country === 'US';
    out.Job = out.Job ?? false;
    out.BillWithParent = out.BillWithParent ?? false;
    out.PreferredDeliveryMethod = out.PreferredDeliveryMethod ?? 'Print';
    // Current answers always say whether the customer is a project (NangoHQ customer recordings).
    out.IsProject = out.IsProject ?? false;
    if (s.country === 'US' && out.Taxable === true && out.DefaultTaxCodeRef === undefined && s.usDefaultTaxCodeId)
      out.DefaultTaxCodeRef = { value: s.usDefaultTaxCodeId };
    if (out.DefaultTaxCodeRef !== undefined) resolveRef(ctx, 'TaxCode', out.DefaultTaxCodeRef, 'DefaultTaxCodeRef');
    if (out.PaymentMethodRef !== undefined) resolveRef(ctx, 'PaymentMethod', out.PaymentMethodRef, 'PaymentMethodRef');
    if (out.ParentRef !== undefined) {
      const parent = resolveRef(ctx, 'Customer', out.ParentRef, 'ParentRef');
      out.Job = true;
      out.FullyQualifiedName = `${str(parent.FullyQualifiedName)}:${displayName}`;
    }
    const balance = previous ? (toScaled(previous.Balance) ?? 0n) : 0n;
    out.Balance = toJsonNumber(balance);
    out.BalanceWithJobs = toJsonNumber(balance);
  } else if (entity === 'Vendor') {
    out.Vendor1099 = out.Vendor1099 ?? false;
    out.Balance = previous?.Balance ?? 0;
  } else {
    out.BillableTime = out.BillableTime ?? false;
  }
  if (entity === 'Customer' || entity === 'Vendor') {
    const email = out.PrimaryEmailAddr;
    if (email && typeof email === 'object' && 'Address' in email) {
      const address = str((email as Rec).Address);
      // Assumption: QuickBooks checks the address without its surrounding spaces and keeps what it was given (books
      // imported or typed by hand hold addresses like 'Jane.Doe@Example.com '); spaces inside are refused.
      if (address && !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(address.trim()))
        throw faults.invalidValue('PrimaryEmailAddr', `Invalid Email Address format: ${address}`);
    }
  }
  return out;
}

export const isNameEntity = (entity: EntityName): entity is NameEntity =>
  entity === 'Customer' || entity === 'Vendor' || entity === 'Employee';
