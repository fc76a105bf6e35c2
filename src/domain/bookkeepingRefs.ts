// Which of the bookkeeper's mappings go on a QuickBooks transaction: the deposit account, the item of a CRM product,
// the class and the department (a "Location" on QuickBooks' screens) where the company's Preferences track them, and
// the payment method of a CRM payment mode or card brand. Pure: the mappings and the company's tracking switches in,
// the references out, with a note for every mapping the company's switches leave off.
import type { QboRef } from './customer.ts';

/** The bookkeeper's choices, as stored per connection (ids of the company's own records). */
export interface MappingChoices {
  readonly depositAccountId?: string | undefined;
  readonly incomeAccountId?: string | undefined;
  readonly products: Readonly<Record<string, { readonly itemId: string; readonly productName?: string | undefined }>>;
  readonly classId?: string | undefined;
  readonly departmentId?: string | undefined;
  readonly paymentMethods: Readonly<Record<string, string>>;
}

/** The company's switches (Preferences AccountingInfoPrefs). */
export interface TrackingSwitches {
  /** ClassTrackingPerTxn: one class for the whole transaction (a header ClassRef). */
  readonly classPerTransaction: boolean;
  /** ClassTrackingPerTxnLine: one class per row (SalesItemLineDetail.ClassRef). */
  readonly classPerLine: boolean;
  /** TrackDepartments: a DepartmentRef on the transaction. */
  readonly departments: boolean;
  /** DepartmentTerminology: what the company calls departments ("Location" when absent). */
  readonly departmentTerminology?: string | undefined;
}

export const NO_TRACKING: TrackingSwitches = { classPerTransaction: false, classPerLine: false, departments: false };

/** The switches read from a Preferences answer (absent ones are off, as in a new company). */
export function trackingSwitches(preferences: {
  readonly AccountingInfoPrefs?:
    | {
        readonly ClassTrackingPerTxn?: boolean | undefined;
        readonly ClassTrackingPerTxnLine?: boolean | undefined;
        readonly TrackDepartments?: boolean | undefined;
        readonly DepartmentTerminology?: string | undefined;
      }
    | undefined;
}): TrackingSwitches {
  const prefs = preferences.AccountingInfoPrefs ?? {};
  return {
    classPerTransaction: prefs.ClassTrackingPerTxn === true,
    classPerLine: prefs.ClassTrackingPerTxnLine === true,
    departments: prefs.TrackDepartments === true,
    departmentTerminology: prefs.DepartmentTerminology || undefined,
  };
}

/** Whether the company takes a class at all, and why not when it does not (the dashboard says so). */
export function classTracking(switches: TrackingSwitches): { on: boolean; why: string | null } {
  return switches.classPerTransaction || switches.classPerLine
    ? { on: true, why: null }
    : {
        on: false,
        why: 'Class tracking is off in this QuickBooks company (Account and settings > Advanced > Categories > Track classes)',
      };
}

/** Whether the company takes a department (location), and why not when it does not. */
export function departmentTracking(switches: TrackingSwitches): { on: boolean; why: string | null } {
  const label = (switches.departmentTerminology ?? 'Location').toLowerCase();
  return switches.departments
    ? { on: true, why: null }
    : {
        on: false,
        why: `${label[0]!.toUpperCase()}${label.slice(1)} tracking is off in this QuickBooks company (Account and settings > Advanced > Categories > Track locations)`,
      };
}

/** The QuickBooks transactions ledgerlink writes. */
export type TrackedTransaction = 'SalesReceipt' | 'RefundReceipt' | 'Invoice' | 'Payment';

export interface TrackingRefs {
  /** The header ClassRef (sales forms only, and only with one class per transaction). */
  readonly ClassRef?: QboRef;
  /** The ClassRef of every SalesItemLineDetail (sales forms only, and only with one class per row). */
  readonly lineClassRef?: QboRef;
  readonly DepartmentRef?: QboRef;
  /** Mappings the company's switches leave off the transaction, in words. */
  readonly notes: readonly string[];
}

/**
 * The class and department a transaction carries. A Payment has no ClassRef (QuickBooks answers 2010), so only its
 * department is set; a sales form takes the class on the header, on each line, or both, as the company tracks it.
 */
export function trackingRefs(
  mappings: Pick<MappingChoices, 'classId' | 'departmentId'>,
  switches: TrackingSwitches,
  transaction: TrackedTransaction,
): TrackingRefs {
  const notes: string[] = [];
  const refs: { ClassRef?: QboRef; lineClassRef?: QboRef; DepartmentRef?: QboRef } = {};
  if (mappings.classId !== undefined) {
    if (!classTracking(switches).on) notes.push(`class ${mappings.classId} not set: ${classTracking(switches).why}`);
    else if (transaction !== 'Payment') {
      if (switches.classPerTransaction) refs.ClassRef = { value: mappings.classId };
      if (switches.classPerLine) refs.lineClassRef = { value: mappings.classId };
    }
  }
  if (mappings.departmentId !== undefined) {
    const tracking = departmentTracking(switches);
    if (tracking.on) refs.DepartmentRef = { value: mappings.departmentId };
    else notes.push(`location ${mappings.departmentId} not set: ${tracking.why}`);
  }
  return { ...refs, notes };
}

/** Where a sales receipt deposits: the mapped account, or none (QuickBooks puts it in Undeposited Funds). */
export function depositAccountRef(mappings: Pick<MappingChoices, 'depositAccountId'>): QboRef | undefined {
  return mappings.depositAccountId === undefined ? undefined : { value: mappings.depositAccountId };
}

/** The item a CRM product's lines are written with, or undefined to keep the item found or created by name. */
export function itemForProduct(
  mappings: Pick<MappingChoices, 'products'>,
  productId: string | null | undefined,
): string | undefined {
  if (!productId || !Object.hasOwn(mappings.products, productId)) return undefined;
  return mappings.products[productId]!.itemId;
}

/** Card brands, as paymentMethodKey names them (src/domain/salesReceiptMapping.ts). */
const CARD_KEYS = new Set(['visa', 'mastercard', 'amex', 'discover', 'diners', 'jcb', 'unionpay']);

/** Whether a key's PaymentMethod is a card one (QuickBooks PaymentMethod Type CREDIT_CARD). */
export function isCardKey(key: string): boolean {
  return key === 'card' || CARD_KEYS.has(key);
}

/**
 * The PaymentMethod chosen for a payment's key: its own mapping, else for a card brand the mapping of `card`;
 * undefined when neither is mapped (the method is then found by name or created once).
 */
export function mappedPaymentMethodId(
  mappings: Pick<MappingChoices, 'paymentMethods'>,
  key: string,
): string | undefined {
  if (Object.hasOwn(mappings.paymentMethods, key)) return mappings.paymentMethods[key];
  if (CARD_KEYS.has(key) && Object.hasOwn(mappings.paymentMethods, 'card')) return mappings.paymentMethods.card;
  return undefined;
}

/** Every key a payment method can be mapped for, in the order the dashboard lists them. */
export const PAYMENT_METHOD_KEYS = [
  'cash',
  'cheque',
  'bank_transfer',
  'card',
  'visa',
  'mastercard',
  'amex',
  'discover',
  'diners',
  'jcb',
  'unionpay',
  'other',
] as const;

/**
 * The names a key's PaymentMethod may have in a company, the first being the one ledgerlink creates when none is
 * there (QuickBooks companies start with "Cash", "Check", "Visa", "MasterCard", "American Express", "Discover",
 * "Diners Club"; a company outside the US says "Cheque").
 */
export function paymentMethodNames(key: string, country: string): readonly string[] {
  switch (key) {
    case 'cash':
      return ['Cash'];
    case 'cheque':
      return country === 'US' ? ['Check', 'Cheque'] : ['Cheque', 'Check'];
    case 'bank_transfer':
      return ['Bank Transfer', 'EFT', 'Direct Deposit', 'ACH'];
    case 'card':
      return ['Credit Card', 'Card'];
    case 'visa':
      return ['Visa'];
    case 'mastercard':
      return ['MasterCard', 'Master Card'];
    case 'amex':
      return ['American Express', 'Amex'];
    case 'discover':
      return ['Discover'];
    case 'diners':
      return ['Diners Club', 'Diners'];
    case 'jcb':
      return ['JCB'];
    case 'unionpay':
      return ['UnionPay'];
    default:
      return ['Other'];
  }
}

/** The QuickBooks lists a mapping names a record of. */
export type MappedList = 'Account' | 'Item' | 'Class' | 'Department' | 'PaymentMethod';

/**
 * What a mapping change says in the activity list: which mapping changed, from what to what, each QuickBooks record
 * named by `nameOf` (its id when it has no name to give).
 */
export function mappingChanges(
  before: MappingChoices,
  after: MappingChoices,
  nameOf: (list: MappedList, id: string) => string = (_list, id) => id,
): string[] {
  const changes: string[] = [];
  const one = (label: string, list: MappedList, a: string | undefined, b: string | undefined, none: string) => {
    const named = (id: string | undefined) => (id === undefined ? none : nameOf(list, id));
    if (a !== b) changes.push(`${label}: ${named(a)} -> ${named(b)}`);
  };
  one('deposit account', 'Account', before.depositAccountId, after.depositAccountId, 'Undeposited Funds');
  one('income account for new items', 'Account', before.incomeAccountId, after.incomeAccountId, 'automatic');
  one('class', 'Class', before.classId, after.classId, 'none');
  one('location', 'Department', before.departmentId, after.departmentId, 'none');
  const keys = (a: Readonly<Record<string, unknown>>, b: Readonly<Record<string, unknown>>) =>
    [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
  for (const product of keys(before.products, after.products))
    one(
      `product ${after.products[product]?.productName ?? before.products[product]?.productName ?? product}`,
      'Item',
      before.products[product]?.itemId,
      after.products[product]?.itemId,
      'item by name',
    );
  for (const key of keys(before.paymentMethods, after.paymentMethods))
    one(
      `payment method ${key}`,
      'PaymentMethod',
      before.paymentMethods[key],
      after.paymentMethods[key],
      'found by name',
    );
  return changes;
}

/** How a CRM invoice records a payment made outside it (HighLevel's record-payment `mode`). */
export type CrmPaymentMode = 'cash' | 'card' | 'cheque' | 'bank_transfer' | 'other';

/**
 * The CRM payment mode of a QuickBooks payment, from its PaymentMethod: the key the connection's mapping gives that
 * method (the mapping read backwards, so a company that calls its transfers "Wire" maps both ways at once), else the
 * key whose usual names it bears, else a card for a method of type CREDIT_CARD, else other. A card brand comes back
 * as `brand`, for the note (HighLevel's card object also wants the last four digits, which QuickBooks does not hold).
 */
export function crmPaymentModeFor(
  method: { Id: string; Name?: string | undefined; Type?: string | undefined } | undefined,
  mappings: Pick<MappingChoices, 'paymentMethods'>,
): { mode: CrmPaymentMode; brand?: string } {
  if (!method) return { mode: 'other' };
  const mapped = PAYMENT_METHOD_KEYS.find((key) => mappings.paymentMethods[key] === method.Id);
  const name = (method.Name ?? '').trim().toLowerCase();
  const named =
    mapped ??
    PAYMENT_METHOD_KEYS.find(
      (key) =>
        key !== 'other' && ['US', 'CA'].some((c) => paymentMethodNames(key, c).some((n) => n.toLowerCase() === name)),
    );
  if (named === 'cash' || named === 'cheque' || named === 'bank_transfer' || named === 'other') return { mode: named };
  if (named === 'card') return { mode: 'card' };
  if (named !== undefined) return { mode: 'card', brand: method.Name ?? named };
  if (method.Type === 'CREDIT_CARD') return { mode: 'card', ...(method.Name ? { brand: method.Name } : {}) };
  return { mode: 'other' };
}
