// The QuickBooks sales-form lines (Invoice, SalesReceipt, RefundReceipt share them) for a HighLevel document,
// in both QuickBooks tax models, plus the total QuickBooks will compute so the caller can compare.
//
// US companies (CompanyInfo.Country = US; Automated Sales Tax decides tax from addresses, and lines only say
// TAX or NON): HighLevel's discount and taxes are folded into the line prices. Each line's target amount is
// its own share of the document - its amount, minus its share of the discount, plus its exclusive taxes
// (crmTotals.ts computes these so that they add up to the CRM total exactly). When the caller supplies a
// different total to hit (the amount actually charged), that total is re-allocated over the lines by largest
// remainder, weighted by those targets. Quantities are kept; UnitPrice is chosen (<= 7 decimals) so that
// roundHalfUp(Qty x UnitPrice) equals the line Amount (unitPrice.ts). Lines are marked NON: the tax is in the
// price, and QuickBooks must not add more. The QuickBooks total is then exactly the CRM total.
//
// Other countries (the global model): lines keep HighLevel's quantities and prices, each line carries the
// TaxCode for its taxes (taxCodes.ts), a document discount becomes one DiscountLineDetail line, and
// GlobalTaxCalculation follows the items' taxInclusive setting. QuickBooks then computes tax itself; our model
// of that (an assumption, to be checked against a real company): the discount is spread over all item lines
// in proportion to their amounts, tax is computed per tax code on the discounted amounts and rounded half-up
// per (tax code, rate). The difference between that and the CRM total is reported, never hidden.
//
// Negative lines are refused upstream (crmTotals.ts): QuickBooks sales lines cannot express a credit, and a
// discount on the document is the faithful mapping.

import { allocateBigint } from './allocation.ts';
import type { QboRef } from './customer.ts';
import { crmDocumentTotals, type CrmDocument, type CrmItem, type CrmLineTotals, type CrmTotals } from './crmTotals.ts';
import {
  decimalToJsonNumber,
  majorFromMinor,
  percentOf,
  pow10,
  roundHalfUp,
  sumDecimals,
  type Decimal,
  type Minor,
} from './money.ts';
import { QBO_LIMITS } from './quickbooksLimits.ts';
import { fail, ok, type Result } from './result.ts';
import { taxCodeForCrmTaxes, type MatchedTaxCode, type QboTaxCodeInfo } from './taxCodes.ts';
import { truncateText } from './textLimits.ts';
import { lineAmountMinor, unitPriceForAmount } from './unitPrice.ts';
import { ownValue } from './lookup.ts';

export type TaxRegion = 'US' | 'global';

export interface SalesLineContext {
  /** `US` when the QuickBooks company's country is US, else `global`. */
  readonly region: TaxRegion;
  /** HighLevel item name -> QuickBooks Item Id. */
  readonly itemIdsByName: Readonly<Record<string, string>>;
  /** HighLevel productId -> QuickBooks Item Id (checked before names when present). */
  readonly itemIdsByProductId?: Readonly<Record<string, string>>;
  /** Item used for lines whose product is not mapped (e.g. a generic "Sales" service). */
  readonly defaultItemId?: string;
  /** Global model: the company's active sales tax codes. */
  readonly taxCodes?: readonly QboTaxCodeInfo[];
  /** Global model: the connection's explicit mapping, crmTaxKey or CRM tax id -> TaxCode Id. */
  readonly taxCodeMappings?: Readonly<Record<string, string>>;
  /** Global model: TaxCode Id for lines without tax. */
  readonly noTaxCodeId?: string;
  /** Global model: account for the discount line (QuickBooks uses its default discount account otherwise). */
  readonly discountAccountId?: string;
  /** Lines QuickBooks accepts on one form (default QBO_LIMITS.transaction.MaxLines). */
  readonly maxLines?: number;
  /** The class every item line carries (a company that tracks one class per row; bookkeepingRefs.ts). */
  readonly lineClassRef?: QboRef;
}

export interface QboSalesItemLine {
  readonly DetailType: 'SalesItemLineDetail';
  readonly Amount: number;
  readonly Description?: string;
  readonly SalesItemLineDetail: {
    readonly ItemRef: QboRef;
    readonly Qty: number;
    readonly UnitPrice: number;
    readonly TaxCodeRef?: QboRef;
    readonly TaxInclusiveAmt?: number;
    readonly ClassRef?: QboRef;
  };
}

export interface QboDiscountLine {
  readonly DetailType: 'DiscountLineDetail';
  readonly Amount: number;
  readonly DiscountLineDetail: {
    readonly PercentBased: boolean;
    readonly DiscountPercent?: number;
    readonly DiscountAccountRef?: QboRef;
  };
}

export type QboSalesLine = QboSalesItemLine | QboDiscountLine;

export type GlobalTaxCalculation = 'TaxExcluded' | 'TaxInclusive' | 'NotApplicable';

/** The CRM total against the total QuickBooks will compute, both in minor units and as JSON numbers. */
export interface TotalCheck {
  readonly currency: string;
  readonly crmTotal: Minor;
  readonly quickbooksTotal: Minor;
  /** quickbooksTotal - crmTotal. */
  readonly difference: Minor;
  readonly crm: number;
  readonly quickbooks: number;
  readonly matches: boolean;
}

export interface ItemLinePlan {
  readonly crm: CrmLineTotals;
  readonly itemRef: QboRef;
  readonly description: string;
  /** Amount written to QuickBooks, minor units. */
  readonly amount: Minor;
  readonly taxCode?: MatchedTaxCode;
}

export interface SalesLines {
  readonly lines: readonly QboSalesLine[];
  /** Global model only. */
  readonly globalTaxCalculation?: GlobalTaxCalculation;
  readonly totals: CrmTotals;
  readonly expectedTotal: TotalCheck;
  readonly itemLines: readonly ItemLinePlan[];
  readonly warnings: readonly string[];
}

export function totalCheck(currency: string, crmTotal: Minor, quickbooksTotal: Minor): TotalCheck {
  return {
    currency,
    crmTotal,
    quickbooksTotal,
    difference: quickbooksTotal - crmTotal,
    crm: majorFromMinor(crmTotal, currency),
    quickbooks: majorFromMinor(quickbooksTotal, currency),
    matches: quickbooksTotal === crmTotal,
  };
}

function itemRefFor(item: CrmItem, index: number, ctx: SalesLineContext, label: string): Result<QboRef> {
  const byProduct = item.productId != null ? ownValue(ctx.itemIdsByProductId, item.productId) : undefined;
  if (byProduct !== undefined) return ok({ value: byProduct });
  const exact = ownValue(ctx.itemIdsByName, item.name);
  if (exact !== undefined) return ok({ value: exact });
  const wanted = item.name.trim().toLowerCase();
  const loose = Object.entries(ctx.itemIdsByName).find(([name]) => name.trim().toLowerCase() === wanted);
  if (loose) return ok({ value: loose[1] });
  if (ctx.defaultItemId !== undefined) return ok({ value: ctx.defaultItemId });
  return fail(
    'UNMAPPED_ITEM',
    `${label} line ${index + 1}: HighLevel item "${item.name}" has no QuickBooks item`,
    `Create or map a QuickBooks item named "${item.name}" in the dashboard, or choose a default item for unmapped products.`,
  );
}

function jsonNumber(d: Decimal, what: string, label: string): Result<number> {
  try {
    return ok(decimalToJsonNumber(d));
  } catch {
    return fail(
      'NUMBER_NOT_REPRESENTABLE',
      `${label}: ${what} has too many significant digits for a JSON number`,
      `Round ${what} in HighLevel.`,
    );
  }
}

/** The 7-decimal price of a CRM line when it reproduces the line amount exactly, else a searched one. */
function priceFor(line: CrmLineTotals, amount: Minor, exponent: number): Decimal | undefined {
  const unit = line.unitAmount;
  if (
    unit.scale <= QBO_LIMITS.transaction.UnitPriceDecimals &&
    lineAmountMinor(line.qty, unit, exponent) === BigInt(amount)
  )
    return unit;
  return unitPriceForAmount(line.qty, BigInt(amount), exponent);
}

interface LineOptions {
  /** US model: the total to hit instead of the CRM document total (e.g. the amount actually charged). */
  readonly targetTotal?: Minor;
}

/** QuickBooks lines for a HighLevel document; see the file comment for the two tax models. */
export function qboSalesLines(
  doc: CrmDocument,
  ctx: SalesLineContext,
  label: string,
  options: LineOptions = {},
): Result<SalesLines> {
  if (doc.items.length === 0)
    return fail(
      'NO_LINES',
      `${label} has no line items`,
      'Add at least one item in HighLevel; QuickBooks needs one line.',
    );
  const computed = crmDocumentTotals(doc, label);
  if (!computed.ok) return computed;
  const totals = computed.value;
  const maxLines = ctx.maxLines ?? QBO_LIMITS.transaction.MaxLines;
  const lineCount = totals.lines.length + (ctx.region === 'global' && totals.discount > 0 ? 1 : 0);
  if (lineCount > maxLines) {
    return fail(
      'TOO_MANY_LINES',
      `${label} needs ${lineCount} QuickBooks lines; QuickBooks accepts at most ${maxLines} per form`,
      'Split the document in HighLevel into smaller ones.',
    );
  }
  const refs: QboRef[] = [];
  for (const [index, item] of doc.items.entries()) {
    const ref = itemRefFor(item, index, ctx, label);
    if (!ref.ok) return ref;
    refs.push(ref.value);
  }
  const describe = (i: number): string => {
    const item = doc.items[i];
    const text = item?.description?.trim() || item?.name || '';
    return truncateText(text, QBO_LIMITS.transaction.LineDescription);
  };
  const lines =
    ctx.region === 'US'
      ? usLines(totals, refs, describe, label, options, ctx.lineClassRef)
      : globalLines(totals, refs, describe, ctx, label);
  if (!lines.ok) return lines;
  // A description cut to QuickBooks' limit is said, line by line, so that the record's entry is no silent ok.
  const cut = doc.items.flatMap((item, i) => {
    const text = item.description?.trim() || item.name || '';
    return text.length > QBO_LIMITS.transaction.LineDescription
      ? [
          `${label} line ${i + 1}: description of ${text.length} characters shortened to QuickBooks' ${QBO_LIMITS.transaction.LineDescription}`,
        ]
      : [];
  });
  return cut.length === 0 ? lines : ok({ ...lines.value, warnings: [...lines.value.warnings, ...cut] });
}

function usLines(
  totals: CrmTotals,
  refs: readonly QboRef[],
  describe: (i: number) => string,
  label: string,
  options: LineOptions,
  lineClassRef: QboRef | undefined,
): Result<SalesLines> {
  const warnings: string[] = [];
  let targets = totals.lines.map((l) => BigInt(l.total));
  const crmTotal = options.targetTotal ?? totals.total;
  if (options.targetTotal !== undefined && options.targetTotal !== totals.total) {
    if (options.targetTotal < 0)
      return fail(
        'NEGATIVE_TOTAL',
        `${label}: the amount to record is negative`,
        'Record money given back as a refund.',
      );
    const weights = totals.lines.map((l) => BigInt(l.total));
    if (weights.every((w) => w === 0n)) {
      return fail(
        'ZERO_LINES_FOR_AMOUNT',
        `${label}: every line is zero but ${totals.currency} ${majorFromMinor(options.targetTotal, totals.currency)} was charged`,
        'Check the line items of the payment in HighLevel.',
      );
    }
    targets = allocateBigint(BigInt(options.targetTotal), weights);
    warnings.push(
      `${label}: lines add up to ${majorFromMinor(totals.total, totals.currency)} but ${majorFromMinor(options.targetTotal, totals.currency)} was charged; the charged amount was spread over the lines`,
    );
  }
  const lines: QboSalesItemLine[] = [];
  const plans: ItemLinePlan[] = [];
  for (const [i, crm] of totals.lines.entries()) {
    const amount = targets[i] ?? 0n;
    const price = priceFor(crm, Number(amount), totals.exponent);
    if (price === undefined) {
      return fail(
        'UNIT_PRICE_UNREPRESENTABLE',
        `${label} line ${i + 1}: no QuickBooks unit price (7 decimals at most) times quantity gives exactly ${majorFromMinor(Number(amount), totals.currency)}`,
        'Use a smaller quantity on this line in HighLevel (e.g. sell in packs).',
      );
    }
    const qty = jsonNumber(crm.qty, 'the quantity', `${label} line ${i + 1}`);
    if (!qty.ok) return qty;
    const unitPrice = jsonNumber(price, 'the unit price', `${label} line ${i + 1}`);
    if (!unitPrice.ok) return unitPrice;
    const ref = refs[i] as QboRef;
    const description = describe(i);
    lines.push({
      DetailType: 'SalesItemLineDetail',
      Amount: majorFromMinor(Number(amount), totals.currency),
      ...(description !== '' ? { Description: description } : {}),
      SalesItemLineDetail: {
        ItemRef: ref,
        Qty: qty.value,
        UnitPrice: unitPrice.value,
        TaxCodeRef: { value: 'NON' },
        ...(lineClassRef ? { ClassRef: lineClassRef } : {}),
      },
    });
    plans.push({ crm, itemRef: ref, description, amount: Number(amount) });
  }
  const quickbooksTotal = Number(targets.reduce((a, b) => a + b, 0n));
  return ok({
    lines,
    totals,
    expectedTotal: totalCheck(totals.currency, crmTotal, quickbooksTotal),
    itemLines: plans,
    warnings,
  });
}

function globalLines(
  totals: CrmTotals,
  refs: readonly QboRef[],
  describe: (i: number) => string,
  ctx: SalesLineContext,
  label: string,
): Result<SalesLines> {
  const anyTax = totals.lines.some((l) => l.taxes.length > 0);
  const inclusive = totals.lines.some((l) => l.taxInclusive && l.taxes.length > 0);
  if (inclusive && totals.lines.some((l) => !l.taxInclusive && l.taxes.length > 0)) {
    return fail(
      'MIXED_TAX_INCLUSIVE',
      `${label} mixes tax-inclusive and tax-exclusive items; a QuickBooks form is one or the other (GlobalTaxCalculation)`,
      'Make all items of the document tax-inclusive or all tax-exclusive in HighLevel.',
    );
  }
  const calculation: GlobalTaxCalculation = anyTax ? (inclusive ? 'TaxInclusive' : 'TaxExcluded') : 'NotApplicable';
  const needsCodes = anyTax || ctx.noTaxCodeId !== undefined;
  const lines: QboSalesLine[] = [];
  const plans: ItemLinePlan[] = [];
  for (const [i, crm] of totals.lines.entries()) {
    let taxCode: MatchedTaxCode | undefined;
    if (needsCodes) {
      const matched = taxCodeForCrmTaxes(crm.taxes, ctx.taxCodes ?? [], ctx.taxCodeMappings, ctx.noTaxCodeId);
      if (!matched.ok)
        return fail(
          matched.error.code,
          `${label} line ${i + 1}: ${matched.error.message}`,
          matched.error.fix,
          matched.error.detail,
        );
      taxCode = matched.value;
    }
    const price = priceFor(crm, crm.amount, totals.exponent);
    if (price === undefined) {
      return fail(
        'UNIT_PRICE_UNREPRESENTABLE',
        `${label} line ${i + 1}: no QuickBooks unit price reproduces the line amount`,
        'Use a smaller quantity on this line in HighLevel.',
      );
    }
    const qty = jsonNumber(crm.qty, 'the quantity', `${label} line ${i + 1}`);
    if (!qty.ok) return qty;
    const unitPrice = jsonNumber(price, 'the unit price', `${label} line ${i + 1}`);
    if (!unitPrice.ok) return unitPrice;
    const ref = refs[i] as QboRef;
    const description = describe(i);
    const amount = majorFromMinor(crm.amount, totals.currency);
    lines.push({
      DetailType: 'SalesItemLineDetail',
      Amount: amount,
      ...(description !== '' ? { Description: description } : {}),
      SalesItemLineDetail: {
        ItemRef: ref,
        Qty: qty.value,
        UnitPrice: unitPrice.value,
        ...(taxCode ? { TaxCodeRef: { value: taxCode.id } } : {}),
        // With GlobalTaxCalculation=TaxInclusive the entered amounts contain the tax. [assumption: QuickBooks
        // accepts the gross Amount with TaxInclusiveAmt equal to it and derives the net itself]
        ...(calculation === 'TaxInclusive' ? { TaxInclusiveAmt: amount } : {}),
        ...(ctx.lineClassRef ? { ClassRef: ctx.lineClassRef } : {}),
      },
    });
    plans.push({ crm, itemRef: ref, description, amount: crm.amount, ...(taxCode ? { taxCode } : {}) });
  }
  if (totals.discount > 0) {
    const spec = totals.discountSpec;
    const percent =
      spec.kind === 'percentage' && !spec.restricted
        ? jsonNumber(spec.percent, 'the discount percentage', label)
        : undefined;
    if (percent && !percent.ok) return percent;
    const discountAccount =
      ctx.discountAccountId !== undefined ? { DiscountAccountRef: { value: ctx.discountAccountId } } : {};
    // A percentage on all lines maps to a percent-based discount line. A fixed discount, or a percentage valid on
    // some products only (QuickBooks' discount line applies to everything above it), maps to its amount.
    lines.push({
      DetailType: 'DiscountLineDetail',
      Amount: majorFromMinor(totals.discount, totals.currency),
      DiscountLineDetail: percent?.ok
        ? { PercentBased: true, DiscountPercent: percent.value, ...discountAccount }
        : { PercentBased: false, ...discountAccount },
    });
  }
  const quickbooksTotal = expectedGlobalTotal(totals, plans, calculation);
  return ok({
    lines,
    globalTaxCalculation: calculation,
    totals,
    expectedTotal: totalCheck(totals.currency, totals.total, quickbooksTotal),
    itemLines: plans,
    warnings: [],
  });
}

/** Our model of QuickBooks' global-model total; see the file comment. */
export function expectedGlobalTotal(
  totals: CrmTotals,
  plans: readonly ItemLinePlan[],
  calculation: GlobalTaxCalculation,
): Minor {
  const subtotal = plans.reduce((s, p) => s + BigInt(p.amount), 0n);
  const discount = BigInt(totals.discount);
  if (calculation === 'NotApplicable') return Number(subtotal - discount);
  const groups = new Map<string, { amount: bigint; code: MatchedTaxCode }>();
  for (const p of plans) {
    if (!p.taxCode) continue;
    const g = groups.get(p.taxCode.id) ?? { amount: 0n, code: p.taxCode };
    g.amount += BigInt(p.amount);
    groups.set(p.taxCode.id, g);
  }
  const list = [...groups.values()];
  const shares =
    subtotal === 0n
      ? list.map(() => 0n)
      : allocateBigint(
          discount,
          list.map((g) => g.amount),
        );
  let tax = 0n;
  for (const [i, g] of list.entries()) {
    const base = g.amount - (shares[i] ?? 0n);
    if (calculation === 'TaxExcluded') {
      for (const r of g.code.rates) tax += percentOf(base, r);
    } else {
      const sum = sumDecimals(g.code.rates);
      for (const r of g.code.rates) {
        const scale = Math.max(r.scale, sum.scale);
        tax += roundHalfUp(
          base * r.coefficient * pow10(scale - r.scale),
          100n * pow10(scale) + sum.coefficient * pow10(scale - sum.scale),
        );
      }
    }
  }
  return Number(subtotal - discount + (calculation === 'TaxExcluded' ? tax : 0n));
}
