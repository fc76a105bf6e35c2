// Money as integer minor units.
//
// Convention for the whole domain folder: an amount that crosses a function boundary is a `number` holding a
// safe integer of minor units (cents, yen, fils); products of quantities, prices and rates are computed in
// `bigint` and checked back into the safe range, so nothing here is ever rounded by binary floating point.
// Decimal text (HighLevel's `12.1`, QuickBooks' `Qty` and `UnitPrice`) is parsed digit by digit, never by
// multiplying floats.
//
// Rounding rules used by the two providers, as far as we know them:
// - HighLevel: amounts are major-unit decimals; we assume each line amount (qty x unit amount) and each
//   (line, tax) amount is rounded half-up to the currency's minor unit (see crmTotals.ts).
// - QuickBooks Online: a sales line's Amount is Qty x UnitPrice rounded half-up to the currency's decimals,
//   and tax is rounded half-up per tax line (community reports; see invoiceMapping.ts).
// "Half-up" here means half away from zero, the usual commercial rule; negative values mirror positive ones.

import { fail, ok, type Result } from './result.ts';
import { ownValue } from './lookup.ts';

/** An amount in minor units, always `Number.isSafeInteger`. */
export type Minor = number;

/** An exact decimal: `coefficient / 10^scale`, `scale >= 0`. */
export interface Decimal {
  readonly coefficient: bigint;
  readonly scale: number;
}

/** ISO 4217 minor-unit exponents that differ from 2. Everything else (USD, EUR, GBP, CAD, AUD, ...) uses 2. */
const EXPONENT_EXCEPTIONS: Readonly<Record<string, number>> = {
  // zero decimals
  BIF: 0,
  CLP: 0,
  DJF: 0,
  GNF: 0,
  ISK: 0,
  JPY: 0,
  KMF: 0,
  KRW: 0,
  PYG: 0,
  RWF: 0,
  UGX: 0,
  UYI: 0,
  VND: 0,
  VUV: 0,
  XAF: 0,
  XOF: 0,
  XPF: 0,
  // three decimals
  BHD: 3,
  IQD: 3,
  JOD: 3,
  KWD: 3,
  LYD: 3,
  OMR: 3,
  TND: 3,
  // four decimals (units of account, rarely invoiced but valid codes)
  CLF: 4,
  UYW: 4,
};

/** Minor-unit exponent of an ISO 4217 code (case-insensitive). Unknown but well-formed codes get 2. */
export function currencyExponent(currency: string): number {
  return ownValue(EXPONENT_EXCEPTIONS, currency.trim().toUpperCase()) ?? 2;
}

export function isCurrencyCode(currency: string): boolean {
  return /^[A-Za-z]{3}$/.test(currency.trim());
}

// The ISO 4217 codes in use, as the platform's ICU data knows them. QuickBooks' currency list is drawn from the
// same standard, so a code outside it is one no QuickBooks company can enable, whatever its settings.
const ISO_CURRENCIES: ReadonlySet<string> = new Set(Intl.supportedValuesOf('currency'));

/** Whether `currency` is a currency in use (ISO 4217), as opposed to a well-formed code that names nothing (XYZ). */
export function isKnownCurrency(currency: string): boolean {
  return ISO_CURRENCIES.has(currency.trim().toUpperCase());
}

export function pow10(n: number): bigint {
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`pow10 needs a non-negative integer, got ${n}`);
  return 10n ** BigInt(n);
}

/** Round `numerator / denominator` to an integer, halves away from zero. */
export function roundHalfUp(numerator: bigint, denominator: bigint): bigint {
  if (denominator === 0n) throw new RangeError('division by zero');
  if (denominator < 0n) return roundHalfUp(-numerator, -denominator);
  const negative = numerator < 0n;
  const n = negative ? -numerator : numerator;
  const q = (2n * n + denominator) / (2n * denominator);
  return negative ? -q : q;
}

/** Floor division for bigint (rounds toward minus infinity). */
export function divFloor(numerator: bigint, denominator: bigint): bigint {
  if (denominator === 0n) throw new RangeError('division by zero');
  if (denominator < 0n) return divFloor(-numerator, -denominator);
  const q = numerator / denominator;
  return numerator % denominator !== 0n && numerator < 0n ? q - 1n : q;
}

/** Ceiling division for bigint. */
export function divCeil(numerator: bigint, denominator: bigint): bigint {
  return -divFloor(-numerator, denominator);
}

const MAX_DIGITS = 40;
const DECIMAL_TEXT = /^([+-])?(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d{1,3}))?$/;

/**
 * Parse a JSON number or a decimal string exactly. A JSON number is read through its shortest round-trip
 * text (`String(12.1) === "12.1"`), which is the decimal its sender wrote; we never multiply the float.
 */
export function parseDecimal(input: number | string, what = 'amount'): Result<Decimal> {
  if (typeof input === 'number' && !Number.isFinite(input)) {
    return fail(
      'INVALID_NUMBER',
      `${what} is ${String(input)}, not a finite number`,
      `Send ${what} as a finite decimal number.`,
    );
  }
  const text = typeof input === 'number' ? String(input) : input.trim();
  const m = DECIMAL_TEXT.exec(text);
  const intPart = m?.[2] ?? '';
  const fracPart = m?.[3] ?? '';
  if (!m || intPart.length + fracPart.length === 0) {
    return fail(
      'INVALID_NUMBER',
      `${what} "${text}" is not a decimal number`,
      `Send ${what} as digits with an optional decimal point, e.g. 12.10.`,
    );
  }
  const digits = (intPart + fracPart).replace(/^0+(?=\d)/, '');
  if (digits.length > MAX_DIGITS) {
    return fail(
      'NUMBER_TOO_LONG',
      `${what} "${text}" has more than ${MAX_DIGITS} digits`,
      `Send ${what} with fewer digits.`,
    );
  }
  let coefficient = BigInt(digits === '' ? '0' : digits);
  let scale = fracPart.length - Number(m[4] ?? '0');
  if (scale < 0) {
    coefficient *= pow10(-scale);
    scale = 0;
  }
  if (m[1] === '-') coefficient = -coefficient;
  return ok(normalizeDecimal({ coefficient, scale }));
}

/** Remove trailing zeros of the fraction: 12.10 -> 12.1 (same value, smallest scale). */
export function normalizeDecimal(d: Decimal): Decimal {
  let { coefficient, scale } = d;
  while (scale > 0 && coefficient % 10n === 0n) {
    coefficient /= 10n;
    scale -= 1;
  }
  return { coefficient, scale };
}

/** Express `d` with exactly `scale` decimals; undefined when that would lose digits. */
export function rescale(d: Decimal, scale: number): bigint | undefined {
  if (scale >= d.scale) return d.coefficient * pow10(scale - d.scale);
  const factor = pow10(d.scale - scale);
  return d.coefficient % factor === 0n ? d.coefficient / factor : undefined;
}

export function decimalText(d: Decimal): string {
  const negative = d.coefficient < 0n;
  const digits = (negative ? -d.coefficient : d.coefficient).toString().padStart(d.scale + 1, '0');
  const int = digits.slice(0, digits.length - d.scale);
  const frac = digits.slice(digits.length - d.scale);
  return `${negative ? '-' : ''}${int}${d.scale > 0 ? `.${frac}` : ''}`;
}

/**
 * The JSON number for an exact decimal. JSON.stringify writes the shortest text that reads back as the same
 * double, so as long as the decimal has at most 15 significant digits the wire text equals the decimal text.
 * Beyond that we throw: sending a silently different number to an accounting API is worse than failing.
 */
export function decimalToJsonNumber(d: Decimal): number {
  const n = normalizeDecimal(d);
  const text = decimalText(n);
  const value = Number(text);
  const back = parseDecimal(value);
  if (!back.ok || back.value.coefficient !== n.coefficient || back.value.scale !== n.scale) {
    throw new RangeError(`${text} cannot be written as a JSON number without changing its digits`);
  }
  return value;
}

export function isSafeMinor(value: bigint): boolean {
  return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER);
}

/** Convert a bigint of minor units back to the `number` convention, refusing unsafe magnitudes. */
export function toMinorNumber(value: bigint, what = 'amount'): Minor {
  if (!isSafeMinor(value)) throw new RangeError(`${what} ${value} minor units is beyond the safe integer range`);
  return Number(value);
}

export type MinorRounding = 'reject' | 'halfUp';

/**
 * Major-unit amount (JSON number or decimal string) -> minor units of `currency`.
 * By default more decimals than the currency has is an error (`12.345` USD); `rounding: 'halfUp'` rounds instead.
 */
export function toMinorUnits(
  amount: number | string,
  currency: string,
  options: { readonly rounding?: MinorRounding; readonly what?: string } = {},
): Result<Minor> {
  const what = options.what ?? 'amount';
  const parsed = parseDecimal(amount, what);
  if (!parsed.ok) return parsed;
  const exponent = currencyExponent(currency);
  const d = parsed.value;
  let minor = rescale(d, exponent);
  if (minor === undefined) {
    if (options.rounding !== 'halfUp') {
      return fail(
        'TOO_MANY_DECIMALS',
        `${what} ${decimalText(d)} has ${d.scale} decimals but ${currency.toUpperCase()} has ${exponent}`,
        `Round ${what} to ${exponent} decimals in the source record.`,
      );
    }
    minor = roundHalfUp(d.coefficient, pow10(d.scale - exponent));
  }
  if (!isSafeMinor(minor)) {
    return fail(
      'AMOUNT_TOO_LARGE',
      `${what} ${decimalText(d)} ${currency.toUpperCase()} is too large to handle exactly`,
      `Check ${what} in the source record.`,
    );
  }
  return ok(Number(minor));
}

/** Minor units -> exact decimal in major units. */
export function minorToDecimal(minor: Minor | bigint, currency: string): Decimal {
  const value = typeof minor === 'bigint' ? minor : BigInt(checkedMinor(minor));
  return normalizeDecimal({ coefficient: value, scale: currencyExponent(currency) });
}

/** Minor units -> JSON number in major units (what both APIs carry): 1210 USD -> 12.1. */
export function majorFromMinor(minor: Minor, currency: string): number {
  return decimalToJsonNumber(minorToDecimal(minor, currency));
}

/** Minor units -> fixed-decimals text for people and logs: 1210 USD -> "12.10", 5 JPY -> "5". */
export function formatMinor(minor: Minor, currency: string): string {
  const exponent = currencyExponent(currency);
  return decimalText({ coefficient: BigInt(checkedMinor(minor)), scale: exponent });
}

function checkedMinor(minor: Minor): Minor {
  if (!Number.isSafeInteger(minor)) throw new RangeError(`${minor} is not a safe integer of minor units`);
  return minor;
}

/**
 * A percentage such as a tax rate `8.875` or a discount `12.5`, kept exact. The value is `percent`
 * (so 8.875% is coefficient 8875, scale 3). `max` guards against absurd input (default 1000%).
 */
export function parsePercent(input: number | string, what = 'rate', max = 1000): Result<Decimal> {
  const parsed = parseDecimal(input, what);
  if (!parsed.ok) return parsed;
  const d = parsed.value;
  if (d.coefficient < 0n)
    return fail('NEGATIVE_RATE', `${what} ${decimalText(d)}% is negative`, `Use a rate between 0 and ${max}.`);
  if (d.coefficient > BigInt(max) * pow10(d.scale)) {
    return fail('RATE_TOO_LARGE', `${what} ${decimalText(d)}% is above ${max}%`, `Use a rate between 0 and ${max}.`);
  }
  return ok(d);
}

/** `amount x percent / 100`, rounded half-up, all exact. */
export function percentOf(amount: bigint, percent: Decimal): bigint {
  return roundHalfUp(amount * percent.coefficient, 100n * pow10(percent.scale));
}

export function sumDecimals(values: readonly Decimal[]): Decimal {
  const scale = values.reduce((s, v) => Math.max(s, v.scale), 0);
  let coefficient = 0n;
  for (const v of values) coefficient += v.coefficient * pow10(scale - v.scale);
  return normalizeDecimal({ coefficient, scale });
}

export function compareDecimals(a: Decimal, b: Decimal): number {
  const scale = Math.max(a.scale, b.scale);
  const x = a.coefficient * pow10(scale - a.scale);
  const y = b.coefficient * pow10(scale - b.scale);
  return x < y ? -1 : x > y ? 1 : 0;
}
