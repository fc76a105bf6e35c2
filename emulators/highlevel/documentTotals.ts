// Totals of an invoice or order from its lines, in integer minor units.
//
// Rules (HighLevel documents none of them precisely; these are the emulator's, stated once here):
// - line subtotal = qty x unit amount, rounded half up to the minor unit (qty may be fractional);
// - subTotal = sum of line subtotals (for taxInclusive lines the entered amount already contains the tax);
// - discount: `percentage` -> subTotal x value%, rounded half up; `fixed` -> value, capped at the base.
//   With `validOnProductIds` the discount applies only to lines whose productId is listed.
//   The discount is spread over the eligible lines by largest remainder so the lines add up exactly;
// - tax: computed per (line, tax) on the discounted line amount, rounded half up per tax line:
//     exclusive: base x rate%;
//     inclusive (item.taxInclusive): base x rate / (100 + sum of the line's rates) - the tax already inside;
// - total = subTotal - discount + exclusive taxes (inclusive taxes are already in subTotal);
//   totalSummary.tax reports all tax, exclusive and inclusive.
import { allocateProportionally, divideRoundHalfUp, multiplyQuantity, parseDecimal, percentOf } from './money.ts';

export interface TaxLineInput {
  _id: string;
  name: string;
  rate: number;
  calculation?: 'exclusive' | 'inclusive' | undefined;
}

export interface LineInput {
  unitMinor: number;
  qty: number;
  productId?: string | undefined;
  taxInclusive?: boolean | undefined;
  taxes: TaxLineInput[];
}

export interface DiscountInput {
  type: 'percentage' | 'fixed';
  value: number; // percentage as written, or fixed amount in minor units
  validOnProductIds?: string[] | undefined;
}

export interface TaxSummaryLine {
  _id: string;
  name: string;
  rate: number;
  calculation: 'exclusive' | 'inclusive';
  amountMinor: number;
}

export interface DocumentTotals {
  lineSubtotals: number[];
  lineDiscounts: number[];
  lineTaxes: number[];
  subTotal: number;
  discount: number;
  tax: number;
  exclusiveTax: number;
  total: number;
  taxSummary: TaxSummaryLine[];
}

export function computeDocumentTotals(lines: LineInput[], discount: DiscountInput | undefined): DocumentTotals {
  const lineSubtotals = lines.map((line) => multiplyQuantity(line.unitMinor, line.qty));
  const subTotal = lineSubtotals.reduce((a, b) => a + b, 0);

  const restrictTo =
    discount?.validOnProductIds && discount.validOnProductIds.length > 0 ? new Set(discount.validOnProductIds) : null;
  const eligible = lines.map((line, i) =>
    restrictTo === null || (line.productId !== undefined && restrictTo.has(line.productId)) ? lineSubtotals[i]! : 0,
  );
  const eligibleBase = eligible.reduce((a, b) => a + b, 0);
  let discountTotal = 0;
  if (discount && discount.value > 0) {
    discountTotal =
      discount.type === 'percentage' ? percentOf(eligibleBase, discount.value) : Math.round(discount.value);
    discountTotal = Math.min(Math.max(discountTotal, 0), eligibleBase);
  }
  const lineDiscounts = allocateProportionally(discountTotal, eligible);

  const summary = new Map<string, TaxSummaryLine>();
  const lineTaxes: number[] = [];
  let tax = 0;
  let exclusiveTax = 0;
  lines.forEach((line, i) => {
    const base = lineSubtotals[i]! - lineDiscounts[i]!;
    const inclusive = line.taxInclusive === true;
    let lineTax = 0;
    if (inclusive) {
      const rateSum = line.taxes.reduce((acc, t) => addRates(acc, t.rate), { units: 0n, scale: 0 });
      for (const t of line.taxes) {
        const amount = inclusiveShare(base, t.rate, rateSum);
        lineTax += amount;
        addToSummary(summary, t, 'inclusive', amount);
      }
    } else {
      for (const t of line.taxes) {
        const amount = percentOf(base, t.rate);
        lineTax += amount;
        exclusiveTax += amount;
        addToSummary(summary, t, 'exclusive', amount);
      }
    }
    lineTaxes.push(lineTax);
    tax += lineTax;
  });

  return {
    lineSubtotals,
    lineDiscounts,
    lineTaxes,
    subTotal,
    discount: discountTotal,
    tax,
    exclusiveTax,
    total: subTotal - discountTotal + exclusiveTax,
    taxSummary: [...summary.values()],
  };
}

function addRates(acc: { units: bigint; scale: number }, rate: number): { units: bigint; scale: number } {
  const r = parseDecimal(rate);
  const scale = Math.max(acc.scale, r.scale);
  return { units: acc.units * 10n ** BigInt(scale - acc.scale) + r.units * 10n ** BigInt(scale - r.scale), scale };
}

/** base x rate / (100 + rateSum), exact then rounded half up. */
function inclusiveShare(baseMinor: number, rate: number, rateSum: { units: bigint; scale: number }): number {
  const r = parseDecimal(rate);
  const scale = Math.max(r.scale, rateSum.scale);
  const rateUnits = r.units * 10n ** BigInt(scale - r.scale);
  const sumUnits = rateSum.units * 10n ** BigInt(scale - rateSum.scale);
  const hundred = 100n * 10n ** BigInt(scale);
  return Number(divideRoundHalfUp(BigInt(baseMinor) * rateUnits, hundred + sumUnits));
}

function addToSummary(
  summary: Map<string, TaxSummaryLine>,
  t: TaxLineInput,
  calculation: 'exclusive' | 'inclusive',
  amount: number,
): void {
  const key = `${t._id}|${calculation}`;
  const existing = summary.get(key);
  if (existing) existing.amountMinor += amount;
  else summary.set(key, { _id: t._id, name: t.name, rate: t.rate, calculation, amountMinor: amount });
}
