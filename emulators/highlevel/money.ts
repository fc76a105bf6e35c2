// Exact money arithmetic. HighLevel serialises amounts as decimal numbers in major units (12.1 = $12.10,
// reference §3.3); internally everything is an integer count of minor units so sums are exact.
//
// ROUNDING RULE (used for every computed amount: line subtotals with fractional quantities, percentage
// discounts, each tax line): round half up (away from zero) to the currency's minor unit, once per line,
// then sum the rounded lines. Totals are sums of already-rounded lines, never re-rounded.

const fractionDigitsCache = new Map<string, number>();

/** Minor-unit exponent of an ISO currency (USD 2, JPY 0, KWD 3), from the platform's ICU data. */
export function currencyExponent(currency: string): number {
  const code = currency.toUpperCase();
  const cached = fractionDigitsCache.get(code);
  if (cached !== undefined) return cached;
  let digits = 2;
  try {
    digits =
      new Intl.NumberFormat('en', { style: 'currency', currency: code }).resolvedOptions().maximumFractionDigits ?? 2;
  } catch {
    digits = 2;
  }
  fractionDigitsCache.set(code, digits);
  return digits;
}

/** A decimal as an exact scaled integer: value = units / 10^scale. */
export interface ScaledDecimal {
  units: bigint;
  scale: number;
}

/** Parses a JS number (or numeric string) exactly as written in decimal, e.g. 0.1 -> 1/10, not 0.1000000000000000055. */
export function parseDecimal(value: number | string): ScaledDecimal {
  const text = typeof value === 'number' ? numberToPlainString(value) : value.trim();
  const match = /^([+-]?)(\d*)(?:\.(\d*))?$/.exec(text);
  if (!match || (match[2] === '' && (match[3] ?? '') === '')) throw new RangeError(`not a decimal: ${text}`);
  const sign = match[1] === '-' ? -1n : 1n;
  const whole = match[2] || '0';
  const fraction = match[3] ?? '';
  return { units: sign * BigInt(whole + fraction), scale: fraction.length };
}

function numberToPlainString(value: number): string {
  if (!Number.isFinite(value)) throw new RangeError(`not a finite number: ${value}`);
  const text = String(value);
  if (!/e/i.test(text)) return text;
  // Exponent notation (1e-7, 1e21): expand through toFixed with enough digits.
  return value.toFixed(20).replace(/\.?0+$/, '');
}

/** Divides and rounds half away from zero (exact, on bigints). */
export function divideRoundHalfUp(numerator: bigint, denominator: bigint): bigint {
  if (denominator === 0n) throw new RangeError('division by zero');
  const negative = numerator < 0n !== denominator < 0n;
  const n = numerator < 0n ? -numerator : numerator;
  const d = denominator < 0n ? -denominator : denominator;
  const quotient = (n * 2n + d) / (2n * d);
  return negative ? -quotient : quotient;
}

/** Major-unit decimal (as sent by clients, e.g. 12.345) to minor units, rounded half up. */
export function toMinor(major: number | string, currency: string): number {
  const exponent = currencyExponent(currency);
  const { units, scale } = parseDecimal(major);
  const numerator = units * 10n ** BigInt(exponent);
  return Number(divideRoundHalfUp(numerator, 10n ** BigInt(scale)));
}

/** Minor units to the decimal number HighLevel puts in JSON (1210 USD -> 12.1). */
export function toMajor(minor: number, currency: string): number {
  const exponent = currencyExponent(currency);
  // Integer / power of ten yields the double nearest to the decimal, which JSON prints exactly as written.
  return minor / 10 ** exponent;
}

/** quantity (possibly fractional, e.g. 1.5 hours) x unit price in minor units, rounded half up. */
export function multiplyQuantity(unitMinor: number, quantity: number): number {
  const q = parseDecimal(quantity);
  return Number(divideRoundHalfUp(BigInt(unitMinor) * q.units, 10n ** BigInt(q.scale)));
}

/** amount x rate% (rate as written, e.g. 8.875), rounded half up. */
export function percentOf(amountMinor: number, ratePercent: number): number {
  const r = parseDecimal(ratePercent);
  return Number(divideRoundHalfUp(BigInt(amountMinor) * r.units, 100n * 10n ** BigInt(r.scale)));
}

/**
 * Splits `total` over `weights` in proportion, by largest remainder, so the parts always sum to `total`
 * exactly (used to spread an invoice-level discount over its lines before taxing them).
 */
export function allocateProportionally(total: number, weights: number[]): number[] {
  const weightSum = weights.reduce((a, b) => a + b, 0);
  if (weightSum === 0 || total === 0) return weights.map(() => 0);
  const big = BigInt(total);
  const sum = BigInt(weightSum);
  const parts = weights.map((w) => (big * BigInt(w)) / sum);
  const remainders = weights.map((w, i) => ({ i, r: (big * BigInt(w)) % sum }));
  let left = Number(big - parts.reduce((a, b) => a + b, 0n));
  remainders.sort((a, b) => (a.r === b.r ? a.i - b.i : a.r > b.r ? -1 : 1));
  for (const { i } of remainders) {
    if (left <= 0) break;
    parts[i] = parts[i]! + 1n;
    left--;
  }
  return parts.map(Number);
}
