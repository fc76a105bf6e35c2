// The arithmetic of a HighLevel document (invoice, order, transaction line items): what HighLevel itself shows
// as subTotal, discount, tax and total, in integer minor units.
//
// HighLevel does not publish its rounding. Our reading (documented once, tested, and compared with the
// emulator's independent reading in emulators/highlevel):
// 1. line amount = qty x unit amount, rounded half-up to the currency's minor unit (qty may be decimal). A unit
//    amount with more decimals than the currency (0.3333 USD) is first rounded half-up to the minor unit
//    (0.33), as the emulator does; whether HighLevel rounds the unit first or only the product is not
//    documented, and only matters for such sub-cent prices;
// 2. discount applies to the subtotal of the eligible lines (all lines, or those whose productId is in
//    `validOnProductIds`): percentage -> round half-up of eligibleSubtotal x p / 100; fixed -> the value,
//    capped at the eligible subtotal (a document never goes below zero). The discount is allocated to the
//    eligible lines by largest remainder, proportional to their amounts, so each line has a net amount;
// 3. tax per (line, tax), rounded half-up: exclusive -> net x rate / 100, added on top; inclusive (the item's
//    `taxInclusive`) -> net x rate / (100 + sum of the line's rates), already inside the amount;
// 4. subTotal = sum of line amounts; discount = sum of line discounts; tax = sum of every (line, tax) amount;
//    total = subTotal - discount + exclusive taxes.
// Negative quantities or unit amounts are refused (a credit belongs in a discount or a refund).

import { allocateBigint } from './allocation.ts';
import {
  currencyExponent,
  isCurrencyCode,
  parseDecimal,
  parsePercent,
  percentOf,
  pow10,
  roundHalfUp,
  sumDecimals,
  toMinorNumber,
  toMinorUnits,
  type Decimal,
  type Minor,
} from './money.ts';
import { fail, ok, type Result } from './result.ts';

export interface CrmTax {
  readonly _id?: string | null;
  readonly taxId?: string | null;
  readonly name: string;
  readonly rate: number | string;
  readonly calculation?: string | null;
  readonly description?: string | null;
}

export interface CrmItem {
  readonly _id?: string | null;
  readonly name: string;
  readonly description?: string | null;
  readonly productId?: string | null;
  readonly priceId?: string | null;
  readonly currency?: string | null;
  /** Unit price in major units (HighLevel `amount`: 999 = $999.00). */
  readonly amount: number | string;
  readonly qty: number | string;
  readonly taxes?: readonly CrmTax[] | null;
  readonly taxInclusive?: boolean | null;
}

export interface CrmDiscount {
  readonly type?: string | null;
  readonly value?: number | string | null;
  readonly validOnProductIds?: readonly string[] | null;
}

export interface CrmDocument {
  readonly currency: string;
  readonly items: readonly CrmItem[];
  readonly discount?: CrmDiscount | null;
}

export interface LineTax {
  readonly name: string;
  /** The CRM's id for this tax (`_id`, else `taxId`), when it has one. */
  readonly id: string | null;
  readonly rate: Decimal;
  readonly amount: Minor;
  readonly inclusive: boolean;
}

export interface CrmLineTotals {
  readonly index: number;
  readonly qty: Decimal;
  readonly unitAmount: Decimal;
  /** qty x unit amount, rounded: what the line shows (tax included when `taxInclusive`). */
  readonly amount: Minor;
  /** This line's share of the document discount. */
  readonly discount: Minor;
  /** amount - discount. */
  readonly net: Minor;
  readonly taxes: readonly LineTax[];
  readonly tax: Minor;
  /** Taxes added on top (exclusive ones only). */
  readonly exclusiveTax: Minor;
  /** What this line contributes to the document total: net + exclusive tax. */
  readonly total: Minor;
  readonly taxInclusive: boolean;
  readonly discountEligible: boolean;
}

export type DiscountSpec =
  | { readonly kind: 'none' }
  | { readonly kind: 'percentage'; readonly percent: Decimal; readonly restricted: boolean }
  | { readonly kind: 'fixed'; readonly amount: Minor; readonly restricted: boolean };

export interface CrmTotals {
  readonly currency: string;
  readonly exponent: number;
  readonly lines: readonly CrmLineTotals[];
  readonly discountSpec: DiscountSpec;
  readonly subTotal: Minor;
  readonly discount: Minor;
  readonly tax: Minor;
  readonly total: Minor;
}

const MAX_ITEMS = 10_000;

/** subTotal, discount, tax and total of a HighLevel document, or an error naming the line and the rule. */
export function crmDocumentTotals(doc: CrmDocument, label = 'document'): Result<CrmTotals> {
  try {
    return documentTotals(doc, label);
  } catch (e) {
    // toMinorNumber refuses magnitudes beyond the safe integer range; report it as data, not a crash.
    if (e instanceof RangeError)
      return fail('AMOUNT_TOO_LARGE', `${label}: ${e.message}`, 'Check the quantities and amounts of the record.');
    throw e;
  }
}

function documentTotals(doc: CrmDocument, label: string): Result<CrmTotals> {
  const currency = doc.currency?.trim().toUpperCase() ?? '';
  if (!isCurrencyCode(currency)) {
    return fail(
      'INVALID_CURRENCY',
      `${label} has currency "${doc.currency}", not an ISO 4217 code`,
      'Set the currency of the record in HighLevel.',
    );
  }
  if (doc.items.length > MAX_ITEMS)
    return fail('TOO_MANY_ITEMS', `${label} has ${doc.items.length} items`, 'Split the document.');
  const exponent = currencyExponent(currency);
  const unitScale = pow10(exponent);

  interface Parsed {
    qty: Decimal;
    unit: Decimal;
    amount: bigint;
    rates: { name: string; id: string | null; rate: Decimal }[];
    inclusive: boolean;
    eligible: boolean;
  }
  const parsed: Parsed[] = [];
  const discount = doc.discount ?? null;
  const restrictTo = discount?.validOnProductIds?.filter((p) => p !== '') ?? [];
  for (const [index, item] of doc.items.entries()) {
    const where = `${label} line ${index + 1} ("${item.name}")`;
    if (item.currency && item.currency.trim().toUpperCase() !== currency) {
      return fail(
        'MIXED_CURRENCY',
        `${where} is in ${item.currency} but the document is in ${currency}`,
        'Use one currency per document in HighLevel.',
      );
    }
    const qty = parseDecimal(item.qty, `${where} quantity`);
    if (!qty.ok) return qty;
    if (qty.value.coefficient < 0n) {
      return fail(
        'NEGATIVE_QUANTITY',
        `${where} has a negative quantity`,
        'Use a positive quantity, and a discount or a refund for money given back.',
      );
    }
    const unit = parseDecimal(item.amount, `${where} unit amount`);
    if (!unit.ok) return unit;
    if (unit.value.coefficient < 0n) {
      return fail(
        'NEGATIVE_LINE',
        `${where} has a negative unit amount`,
        'Record reductions as a discount on the document (QuickBooks sales lines cannot be negative).',
      );
    }
    const rates: Parsed['rates'] = [];
    for (const tax of item.taxes ?? []) {
      const rate = parsePercent(tax.rate, `${where} tax "${tax.name}" rate`);
      if (!rate.ok) return rate;
      rates.push({ name: tax.name, id: tax._id ?? tax.taxId ?? null, rate: rate.value });
    }
    const q = qty.value;
    const u = unit.value;
    // The unit amount is first rounded to the minor unit, then multiplied by qty and rounded again (rule 1).
    const unitMinor = roundHalfUp(u.coefficient * unitScale, pow10(u.scale));
    const amount = roundHalfUp(q.coefficient * unitMinor, pow10(q.scale));
    const eligible = restrictTo.length === 0 || (item.productId != null && restrictTo.includes(item.productId));
    // Only the item's `taxInclusive` switches a line to inclusive (HighLevel's tax `calculation` enum is
    // "exclusive" only, per the invoices spec).
    parsed.push({ qty: q, unit: u, amount, rates, inclusive: item.taxInclusive === true, eligible });
  }

  // Discount
  let spec: DiscountSpec = { kind: 'none' };
  let documentDiscount = 0n;
  const eligibleSubtotal = parsed.reduce((s, p) => (p.eligible ? s + p.amount : s), 0n);
  const value = discount?.value;
  if (discount && value != null && value !== '' && value !== 0) {
    const type = discount.type ?? 'percentage';
    if (type === 'percentage') {
      const pct = parsePercent(value, `${label} discount`, 100);
      if (!pct.ok) return pct;
      if (pct.value.coefficient > 0n) {
        spec = { kind: 'percentage', percent: pct.value, restricted: restrictTo.length > 0 };
        documentDiscount = percentOf(eligibleSubtotal, pct.value);
      }
    } else if (type === 'fixed') {
      const fixed = toMinorUnits(value, currency, { rounding: 'halfUp', what: `${label} discount` });
      if (!fixed.ok) return fixed;
      if (fixed.value < 0)
        return fail(
          'NEGATIVE_DISCOUNT',
          `${label} has a negative discount`,
          'Use a positive discount value in HighLevel.',
        );
      if (fixed.value > 0) {
        documentDiscount = BigInt(fixed.value) < eligibleSubtotal ? BigInt(fixed.value) : eligibleSubtotal;
        spec = { kind: 'fixed', amount: toMinorNumber(documentDiscount), restricted: restrictTo.length > 0 };
      }
    } else {
      return fail(
        'UNKNOWN_DISCOUNT_TYPE',
        `${label} has discount type "${type}"`,
        'Use a percentage or fixed discount.',
      );
    }
  }
  const shares =
    eligibleSubtotal === 0n
      ? parsed.map(() => 0n)
      : allocateBigint(
          documentDiscount,
          parsed.map((p) => (p.eligible ? p.amount : 0n)),
        );

  // Taxes, line by line
  const lines: CrmLineTotals[] = [];
  let subTotal = 0n;
  let tax = 0n;
  let total = 0n;
  for (const [index, p] of parsed.entries()) {
    const lineDiscount = shares[index] ?? 0n;
    const net = p.amount - lineDiscount;
    const rateSum = sumDecimals(p.rates.map((r) => r.rate));
    const taxes: LineTax[] = p.rates.map((r) => {
      let amount: bigint;
      if (p.inclusive) {
        // net x r / (100 + R), with r = rc/10^rs and R = Rc/10^Rs, all brought to one scale
        const scale = Math.max(r.rate.scale, rateSum.scale);
        const rr = r.rate.coefficient * pow10(scale - r.rate.scale);
        const RR = rateSum.coefficient * pow10(scale - rateSum.scale);
        amount = roundHalfUp(net * rr, 100n * pow10(scale) + RR);
      } else {
        amount = percentOf(net, r.rate);
      }
      return { name: r.name, id: r.id, rate: r.rate, amount: toMinorNumber(amount, 'tax'), inclusive: p.inclusive };
    });
    const lineTax = taxes.reduce((s, t) => s + BigInt(t.amount), 0n);
    const exclusiveTax = p.inclusive ? 0n : lineTax;
    subTotal += p.amount;
    tax += lineTax;
    total += net + exclusiveTax;
    lines.push({
      index,
      qty: p.qty,
      unitAmount: p.unit,
      amount: toMinorNumber(p.amount, `${label} line ${index + 1} amount`),
      discount: toMinorNumber(lineDiscount),
      net: toMinorNumber(net),
      taxes,
      tax: toMinorNumber(lineTax),
      exclusiveTax: toMinorNumber(exclusiveTax),
      total: toMinorNumber(net + exclusiveTax),
      taxInclusive: p.inclusive,
      discountEligible: p.eligible,
    });
  }
  return ok({
    currency,
    exponent,
    lines,
    discountSpec: spec,
    subTotal: toMinorNumber(subTotal, `${label} subtotal`),
    discount: toMinorNumber(documentDiscount),
    tax: toMinorNumber(tax),
    total: toMinorNumber(total, `${label} total`),
  });
}
