// Exact money arithmetic. Every amount is a bigint of 10^-7 units (QuickBooks UnitPrice carries up to 7
// decimals; Amount carries 2), so no float ever takes part in a sum, product or rounding. JSON numbers are read
// through their shortest decimal text, which is exactly what the client wrote.

export const SCALE = 7;
const ONE = 10n ** BigInt(SCALE);
const CENT_FACTOR = 10n ** BigInt(SCALE - 2);

export type Scaled = bigint;

/** Parses a JSON number (or numeric string) to scaled units; undefined when it is not a finite number or has more than 7 decimals. */
export function toScaled(value: unknown): Scaled | undefined {
  let text: string;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) return undefined;
    text = numberToPlainText(value);
  } else if (typeof value === 'string' && /^-?\d+(\.\d+)?$/.test(value.trim())) text = value.trim();
  else return undefined;
  const negative = text.startsWith('-');
  const [whole = '0', fraction = ''] = (negative ? text.slice(1) : text).split('.');
  if (fraction.length > SCALE) return undefined;
  const units = BigInt(whole) * ONE + BigInt(fraction.padEnd(SCALE, '0') || '0');
  return negative ? -units : units;
}

/** Shortest round-trip text of a double, without exponent notation. */
function numberToPlainText(value: number): string {
  const text = String(value);
  if (!/e/i.test(text)) return text;
  // Tiny or huge values: toFixed(20) keeps all the digits that matter for money (amounts under 10^21).
  return value.toFixed(20).replace(/\.?0+$/, '');
}

/** Scaled units back to a JSON number, as Intuit serialises amounts (100, 26.06, 0.1234567). */
export function toJsonNumber(units: Scaled): number {
  return Number(formatScaled(units));
}

export function formatScaled(units: Scaled): string {
  const negative = units < 0n;
  const abs = negative ? -units : units;
  const whole = abs / ONE;
  const fraction = (abs % ONE).toString().padStart(SCALE, '0').replace(/0+$/, '');
  return `${negative ? '-' : ''}${whole}${fraction ? `.${fraction}` : ''}`;
}

/** Whole cents as text with exactly two decimals ("387.00"), as QuickBooks writes amounts inside LineEx. */
export function toFixedCents(units: Scaled): string {
  const cents = roundToCents(units) / CENT_FACTOR;
  const negative = cents < 0n;
  const abs = negative ? -cents : cents;
  return `${negative ? '-' : ''}${abs / 100n}.${(abs % 100n).toString().padStart(2, '0')}`;
}

/** n / d rounded half away from zero (Intuit rounds half-up on positive amounts). */
export function roundDiv(n: bigint, d: bigint): bigint {
  if (d < 0n) return roundDiv(-n, -d);
  if (n < 0n) return -roundDiv(-n, d);
  return (n * 2n + d) / (2n * d);
}

/** Rounds scaled units to whole cents. */
export function roundToCents(units: Scaled): Scaled {
  return roundDiv(units, CENT_FACTOR) * CENT_FACTOR;
}

/** True when the value has no more than two decimals. */
export function isWholeCents(units: Scaled): boolean {
  return units % CENT_FACTOR === 0n;
}

/** a x b, rounded to cents (line Amount = Qty x UnitPrice). */
export function multiplyToCents(a: Scaled, b: Scaled): Scaled {
  return roundDiv(a * b, ONE * CENT_FACTOR) * CENT_FACTOR;
}

/** amount x percent / 100, rounded to cents (tax and percentage discounts). */
export function percentOfToCents(amount: Scaled, percent: Scaled): Scaled {
  return roundDiv(amount * percent, 100n * ONE * CENT_FACTOR) * CENT_FACTOR;
}

/** The tax part of a tax-inclusive gross amount at a percent rate: gross x rate / (100 + rate), to cents. */
export function inclusiveTaxToCents(gross: Scaled, percent: Scaled): Scaled {
  return roundDiv(gross * percent, (100n * ONE + percent) * CENT_FACTOR) * CENT_FACTOR;
}

/** part x numerator / denominator to cents (proportional allocation of a discount across tax bases). */
export function proportionToCents(part: Scaled, numerator: Scaled, denominator: Scaled): Scaled {
  if (denominator === 0n) return 0n;
  return roundDiv(part * numerator, denominator * CENT_FACTOR) * CENT_FACTOR;
}

export const ZERO: Scaled = 0n;
export const sum = (values: Iterable<Scaled>): Scaled => {
  let total = 0n;
  for (const v of values) total += v;
  return total;
};
