// Item, Account and PaymentMethod (unique Name per list, 6240), plus the company-level singletons CompanyInfo and
// Preferences. Items need IncomeAccountRef when they are Service or NonInventory (reference §3.3).
import type { EntityName } from '../company.ts';
import { faults } from '../errors.ts';
import type { Rec } from '../json.ts';
import { rec, str } from '../json.ts';
import { toScaled } from '../money.ts';
import type { WriteContext } from './context.ts';
import { currencyRef, nameRef, resolveRef, withoutSystemFields } from './context.ts';

function uniqueListName(ctx: WriteContext, entity: EntityName, name: string, selfId: string): void {
  const owner = ctx.company.findListName(entity, name);
  if (owner && owner !== selfId) {
    throw entity === 'Item' ? faults.duplicateItemName(name, owner) : faults.duplicateListName(entity, name, owner);
  }
}

export function buildItem(ctx: WriteContext, input: Rec, previous: Rec | undefined, selfId: string): Rec {
  const out = withoutSystemFields(input, ['FullyQualifiedName', 'Level']);
  const name = str(out.Name)?.trim();
  if (!name) throw faults.requiredMissing('Name');
  if (name.includes(':')) throw faults.business('The item name cannot contain a colon (:).', 'Name');
  uniqueListName(ctx, 'Item', name, selfId);
  out.Name = name;
  const type = str(out.Type) ?? str(previous?.Type);
  if (!type)
    throw faults.requiredMissing(
      'Type',
      'Required parameter Type is missing in the request (Service, NonInventory, Inventory, ...)',
    );
  out.Type = type;
  if (type === 'Service' || type === 'NonInventory' || type === 'Inventory') {
    if (out.IncomeAccountRef === undefined)
      throw faults.requiredMissing(
        'IncomeAccountRef',
        `Required parameter IncomeAccountRef is missing for an Item of Type ${type}`,
      );
  }
  if (type === 'Inventory') {
    for (const field of ['AssetAccountRef', 'ExpenseAccountRef', 'InvStartDate'] as const)
      if (out[field] === undefined) throw faults.requiredMissing(field);
    out.TrackQtyOnHand = true;
    out.QtyOnHand = out.QtyOnHand ?? 0;
  }
  for (const field of ['IncomeAccountRef', 'ExpenseAccountRef', 'AssetAccountRef'] as const) {
    if (out[field] !== undefined) out[field] = nameRef(resolveRef(ctx, 'Account', out[field], field));
  }
  if (out.SalesTaxCodeRef !== undefined)
    out.SalesTaxCodeRef = nameRef(resolveRef(ctx, 'TaxCode', out.SalesTaxCodeRef, 'SalesTaxCodeRef'));
  if (out.UnitPrice !== undefined && toScaled(out.UnitPrice) === undefined)
    throw faults.invalidNumber('UnitPrice', out.UnitPrice);
  if (out.ParentRef !== undefined) {
    const parent = resolveRef(ctx, 'Item', out.ParentRef, 'ParentRef');
    out.SubItem = true;
    out.FullyQualifiedName = `${str(parent.FullyQualifiedName)}:${name}`;
  } else out.FullyQualifiedName = name;
  out.Active = out.Active !== false;
  out.Taxable = out.Taxable ?? false;
  out.UnitPrice = out.UnitPrice ?? 0;
  out.PurchaseCost = out.PurchaseCost ?? 0;
  out.TrackQtyOnHand = out.TrackQtyOnHand ?? false;
  return out;
}

const accountClassification: Record<string, string> = {
  Bank: 'Asset',
  'Other Current Asset': 'Asset',
  'Fixed Asset': 'Asset',
  'Other Asset': 'Asset',
  'Accounts Receivable': 'Asset',
  Equity: 'Equity',
  Expense: 'Expense',
  'Other Expense': 'Expense',
  'Cost of Goods Sold': 'Expense',
  'Accounts Payable': 'Liability',
  'Credit Card': 'Liability',
  'Long Term Liability': 'Liability',
  'Other Current Liability': 'Liability',
  Income: 'Revenue',
  'Other Income': 'Revenue',
};

export function buildAccount(ctx: WriteContext, input: Rec, previous: Rec | undefined, selfId: string): Rec {
  const out = withoutSystemFields(input, [
    'FullyQualifiedName',
    'CurrentBalance',
    'CurrentBalanceWithSubAccounts',
    'Classification',
  ]);
  const name = str(out.Name)?.trim();
  if (!name) throw faults.requiredMissing('Name');
  if (name.includes(':') || name.includes('"'))
    throw faults.business('The account name cannot contain a colon or a double quote.', 'Name');
  uniqueListName(ctx, 'Account', name, selfId);
  const type = str(out.AccountType);
  if (!type && !str(out.AccountSubType)) {
    throw faults.accountTypeMissing();
  }
  out.Name = name;
  out.AccountType = type ?? 'Other Current Asset';
  out.Classification = accountClassification[out.AccountType as string] ?? 'Asset';
  out.FullyQualifiedName = name;
  out.SubAccount = out.ParentRef !== undefined;
  out.Active = out.Active !== false;
  out.CurrencyRef = currencyRef(str(rec(out.CurrencyRef)?.value) ?? ctx.company.settings.currency);
  out.CurrentBalance = previous?.CurrentBalance ?? 0;
  out.CurrentBalanceWithSubAccounts = previous?.CurrentBalanceWithSubAccounts ?? 0;
  return out;
}

export function buildPaymentMethod(ctx: WriteContext, input: Rec, _previous: Rec | undefined, selfId: string): Rec {
  const out = withoutSystemFields(input);
  const name = str(out.Name)?.trim();
  if (!name) throw faults.requiredMissing('Name');
  uniqueListName(ctx, 'PaymentMethod', name, selfId);
  out.Name = name;
  out.Active = out.Active !== false;
  out.Type = out.Type ?? 'NON_CREDIT_CARD';
  if (out.Type !== 'CREDIT_CARD' && out.Type !== 'NON_CREDIT_CARD')
    throw faults.invalidEnum('Type', String(out.Type), ['CREDIT_CARD', 'NON_CREDIT_CARD']);
  return out;
}

/** CompanyInfo: the name, addresses and contact details may change; Country and the NameValue list are QuickBooks'. */
export function buildCompanyInfo(_ctx: WriteContext, input: Rec, previous: Rec | undefined): Rec {
  const out = withoutSystemFields(input);
  if (!str(out.CompanyName)) throw faults.requiredMissing('CompanyName');
  out.Country = previous?.Country;
  out.NameValue = previous?.NameValue;
  return out;
}

/** Preferences: writable as a whole, but the home currency and the multicurrency switch cannot change (reference §7). */
export function buildPreferences(ctx: WriteContext, input: Rec, previous: Rec | undefined): Rec {
  const out = withoutSystemFields(input);
  const s = ctx.company.settings;
  const prefs = rec(out.CurrencyPrefs);
  const home = str(rec(prefs?.HomeCurrency)?.value);
  if (home && home !== s.currency)
    throw faults.business('The home currency cannot be changed.', 'CurrencyPrefs.HomeCurrency');
  if (prefs?.MultiCurrencyEnabled === false && s.multiCurrency)
    throw faults.business('Multicurrency cannot be turned off once it is on.', 'CurrencyPrefs.MultiCurrencyEnabled');
  if (prefs?.MultiCurrencyEnabled === true) s.multiCurrency = true;
  const sales = rec(out.SalesFormsPrefs);
  if (sales && typeof sales.CustomTxnNumbers === 'boolean') s.customTxnNumbers = sales.CustomTxnNumbers;
  const merged: Rec = { ...(previous ?? {}), ...out };
  merged.CurrencyPrefs = { MultiCurrencyEnabled: s.multiCurrency, HomeCurrency: { value: s.currency } };
  return merged;
}
