// Choosing a QuickBooks UnitPrice for a line whose Amount is fixed (US folding, partial refunds): QuickBooks
// keeps Qty x UnitPrice = Amount, rounding the product half-up to the currency's decimals, and UnitPrice can
// carry up to 7 decimals. We pick the UnitPrice with the fewest decimals (0..7) for which
//   roundHalfUp(Qty x UnitPrice, currency decimals) == Amount,
// and among those the one closest to the exact Amount / Qty. Everything is exact integer arithmetic.

import { divCeil, pow10, roundHalfUp, type Decimal } from './money.ts';
import { QBO_LIMITS } from './quickbooksLimits.ts';

/** roundHalfUp(qty x price) in minor units of a currency with `exponent` decimals. */
export function lineAmountMinor(qty: Decimal, price: Decimal, exponent: number): bigint {
  return roundHalfUp(qty.coefficient * price.coefficient * pow10(exponent), pow10(qty.scale + price.scale));
}

/**
 * A UnitPrice (at most 7 decimals) such that qty x UnitPrice rounds to `amountMinor`, or undefined when none
 * exists (a quantity so large that the 7-decimal grid is coarser than a cent, or qty 0 with a non-zero
 * amount). `amountMinor` and `qty` must be >= 0.
 */
export function unitPriceForAmount(
  qty: Decimal,
  amountMinor: bigint,
  exponent: number,
  maxDecimals: number = QBO_LIMITS.transaction.UnitPriceDecimals,
): Decimal | undefined {
  if (qty.coefficient < 0n || amountMinor < 0n)
    throw new RangeError('unitPriceForAmount needs a non-negative quantity and amount');
  if (qty.coefficient === 0n) return amountMinor === 0n ? { coefficient: 0n, scale: 0 } : undefined;
  const q = qty.coefficient;
  const M = pow10(exponent);
  for (let d = 0; d <= maxDecimals; d++) {
    // price p / 10^d; amount in minor units v = q p M / K with K = 10^(qty.scale + d).
    // roundHalfUp(v) == t  <=>  (2t - 1) K <= 2 q p M < (2t + 1) K
    const K = pow10(qty.scale + d);
    const t = amountMinor;
    const lowBound = (2n * t - 1n) * K;
    let pMin = divCeil(lowBound, 2n * q * M);
    if (pMin < 0n) pMin = 0n;
    const pMax = divCeil((2n * t + 1n) * K, 2n * q * M) - 1n;
    if (pMin > pMax) continue;
    let p = roundHalfUp(t * K, q * M);
    if (p < pMin) p = pMin;
    if (p > pMax) p = pMax;
    return { coefficient: p, scale: d };
  }
  return undefined;
}
