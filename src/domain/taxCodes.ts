// Which QuickBooks TaxCode stands for a HighLevel line's taxes (non-US companies only).
//
// In QuickBooks' global tax model each sales line carries one TaxCodeRef, and a TaxCode may group several
// TaxRates (e.g. Canada's GST + PST). A HighLevel line carries a list of (name, rate) taxes. Matching order:
// 1. the connection's explicit mapping (chosen in the dashboard), keyed by `crmTaxKey` or by the CRM tax id;
// 2. an active code with the same total rate and the same name (case-insensitive; for several taxes, the
//    names joined with " + ");
// 3. the only active code with the same total rate.
// Several codes matching by rate alone is an error (we do not guess between "GST 5%" and "Zero-rated 5%"),
// as is no code at all: both name the tax and the fix.

import { compareDecimals, decimalText, parsePercent, sumDecimals, type Decimal } from './money.ts';
import { fail, ok, type Result } from './result.ts';
import { ownValue } from './lookup.ts';

/** A QuickBooks TaxCode reduced to what matching needs: its sales rates in percent. */
export interface QboTaxCodeInfo {
  readonly id: string;
  readonly name: string;
  readonly ratePercents: readonly (number | string)[];
  readonly active?: boolean;
}

export interface CrmLineTax {
  readonly name: string;
  readonly id: string | null;
  readonly rate: Decimal;
}

export interface MatchedTaxCode {
  readonly id: string;
  readonly name: string;
  readonly rates: readonly Decimal[];
  readonly rateSum: Decimal;
  readonly matchedBy: 'mapping' | 'rate-and-name' | 'rate' | 'no-tax-code';
}

/** The mapping key of a set of CRM taxes: `vat|20`, or `gst|5 + pst|7` (sorted, lowercased). */
export function crmTaxKey(taxes: readonly { readonly name: string; readonly rate: Decimal }[]): string {
  return taxes
    .map((t) => `${t.name.trim().toLowerCase()}|${decimalText(t.rate)}`)
    .sort()
    .join(' + ');
}

function describe(taxes: readonly CrmLineTax[]): string {
  return taxes.map((t) => `"${t.name}" ${decimalText(t.rate)}%`).join(' + ');
}

/**
 * The taxes a failure is about, as values: the dashboard's Tax codes tab lists them from here. A name may hold any
 * character (a `"` too), so reading them back out of the message is not reliable.
 */
function taxesDetail(taxes: readonly CrmLineTax[]): { taxes: { name: string; rate: string }[] } {
  return { taxes: taxes.map((t) => ({ name: t.name, rate: decimalText(t.rate) })) };
}

function parsedCodes(
  codes: readonly QboTaxCodeInfo[],
): Result<{ info: QboTaxCodeInfo; rates: Decimal[]; rateSum: Decimal }[]> {
  const out: { info: QboTaxCodeInfo; rates: Decimal[]; rateSum: Decimal }[] = [];
  for (const info of codes) {
    const rates: Decimal[] = [];
    for (const r of info.ratePercents) {
      const p = parsePercent(r, `QuickBooks tax code "${info.name}" rate`);
      if (!p.ok) return p;
      rates.push(p.value);
    }
    out.push({ info, rates, rateSum: sumDecimals(rates) });
  }
  return ok(out);
}

/**
 * The TaxCode for a line's CRM taxes. `noTaxCodeId` is used for lines without tax; when it is not given, the
 * only active code with rate 0 is used (several: the one whose name says exempt / zero / no tax, else error).
 */
export function taxCodeForCrmTaxes(
  taxes: readonly CrmLineTax[],
  codes: readonly QboTaxCodeInfo[],
  mappings: Readonly<Record<string, string>> = {},
  noTaxCodeId?: string,
): Result<MatchedTaxCode> {
  const parsed = parsedCodes(codes.filter((c) => c.active !== false));
  if (!parsed.ok) return parsed;
  const active = parsed.value;
  const found = (id: string, matchedBy: MatchedTaxCode['matchedBy']): Result<MatchedTaxCode> | undefined => {
    const code = active.find((c) => c.info.id === id);
    return code && ok({ id, name: code.info.name, rates: code.rates, rateSum: code.rateSum, matchedBy });
  };
  const wanted = sumDecimals(taxes.map((t) => t.rate));

  if (taxes.length === 0) {
    if (noTaxCodeId !== undefined) {
      return (
        found(noTaxCodeId, 'no-tax-code') ??
        fail(
          'TAX_CODE_NOT_FOUND',
          `the tax code ${noTaxCodeId} chosen for untaxed lines is not an active QuickBooks tax code`,
          'Choose an active exempt or zero-rated tax code for untaxed lines in the dashboard.',
        )
      );
    }
    const zero = active.filter((c) => c.rateSum.coefficient === 0n);
    const named = zero.filter((c) => /exempt|zero|no tax|out of scope|non/i.test(c.info.name));
    const pick = zero.length === 1 ? zero[0] : named.length === 1 ? named[0] : undefined;
    if (pick)
      return ok({
        id: pick.info.id,
        name: pick.info.name,
        rates: pick.rates,
        rateSum: pick.rateSum,
        matchedBy: 'no-tax-code',
      });
    return fail(
      zero.length === 0 ? 'NO_ZERO_RATE_TAX_CODE' : 'AMBIGUOUS_ZERO_RATE_TAX_CODE',
      zero.length === 0
        ? 'a line has no tax, and the QuickBooks company has no active zero-rate tax code to put on it'
        : `a line has no tax, and several zero-rate QuickBooks tax codes could apply (${zero.map((c) => c.info.name).join(', ')})`,
      'Choose the QuickBooks tax code for untaxed lines in the dashboard.',
    );
  }

  const key = crmTaxKey(taxes);
  const single = taxes.length === 1 ? taxes[0] : undefined;
  const mappedId = ownValue(mappings, key) ?? (single?.id != null ? ownValue(mappings, single.id) : undefined);
  if (mappedId !== undefined) {
    return (
      found(mappedId, 'mapping') ??
      fail(
        'TAX_CODE_NOT_FOUND',
        `HighLevel tax ${describe(taxes)} is mapped to QuickBooks tax code ${mappedId}, which is not an active tax code`,
        `Choose another QuickBooks tax code for ${describe(taxes)} in the dashboard.`,
        taxesDetail(taxes),
      )
    );
  }

  const sameRate = active.filter((c) => compareDecimals(c.rateSum, wanted) === 0);
  const name = taxes.map((t) => t.name.trim().toLowerCase()).join(' + ');
  const byName = sameRate.filter((c) => c.info.name.trim().toLowerCase() === name);
  const pick = byName.length === 1 ? byName[0] : byName.length === 0 && sameRate.length === 1 ? sameRate[0] : undefined;
  if (pick)
    return ok({
      id: pick.info.id,
      name: pick.info.name,
      rates: pick.rates,
      rateSum: pick.rateSum,
      matchedBy: byName.length === 1 ? 'rate-and-name' : 'rate',
    });
  if (sameRate.length > 1) {
    return fail(
      'AMBIGUOUS_TAX_CODE',
      `HighLevel tax ${describe(taxes)} matches several QuickBooks tax codes by rate (${sameRate.map((c) => `"${c.info.name}"`).join(', ')})`,
      `Choose which QuickBooks tax code to use for ${describe(taxes)} in the dashboard.`,
      taxesDetail(taxes),
    );
  }
  return fail(
    'UNMAPPED_TAX',
    `HighLevel tax ${describe(taxes)} has no QuickBooks tax code with the same rate (${decimalText(wanted)}%)`,
    `Create a ${decimalText(wanted)}% tax code in QuickBooks, or choose one for ${describe(taxes)} in the dashboard.`,
    taxesDetail(taxes),
  );
}
