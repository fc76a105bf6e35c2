// Largest-remainder allocation (Hamilton's method): split an integer total into integer shares proportional
// to weights, so that the shares add up to the total exactly. Used to spread a discount over lines, to fold
// an invoice total into line prices for US companies, and to spread a partial refund over the sold lines.
//
// Guarantees (checked by property tests):
// - the shares sum to `total` exactly;
// - each share is the floor or the ceiling of its exact proportion `total x w_i / sum(w)`, so it is within
//   one unit of it;
// - ties between equal remainders go to the lower index, so the result is deterministic.
// Weights may be integers (number or bigint) or exact ratios; negative weights, non-integer numbers and
// an all-zero weight vector with a non-zero total are programming errors and throw RangeError.

/** An exact rational weight. */
export interface Ratio {
  readonly numerator: bigint;
  readonly denominator: bigint;
}

export type Weight = number | bigint | Ratio;

function asRatio(w: Weight, index: number): Ratio {
  if (typeof w === 'bigint') return { numerator: w, denominator: 1n };
  if (typeof w === 'number') {
    if (!Number.isSafeInteger(w))
      throw new RangeError(`allocation weight #${index} (${w}) must be a safe integer; pass a Ratio for fractions`);
    return { numerator: BigInt(w), denominator: 1n };
  }
  if (w.denominator <= 0n) throw new RangeError(`allocation weight #${index} has a non-positive denominator`);
  return w;
}

function gcd(a: bigint, b: bigint): bigint {
  let x = a < 0n ? -a : a;
  let y = b < 0n ? -b : b;
  while (y !== 0n) [x, y] = [y, x % y];
  return x;
}

/** Bring all weights to integers over one common denominator (their ratios are unchanged). */
function integerWeights(weights: readonly Weight[]): bigint[] {
  const ratios = weights.map(asRatio);
  let lcm = 1n;
  for (const r of ratios) lcm = (lcm / gcd(lcm, r.denominator)) * r.denominator;
  return ratios.map((r, i) => {
    const w = r.numerator * (lcm / r.denominator);
    if (w < 0n) throw new RangeError(`allocation weight #${i} is negative; weights must be >= 0`);
    return w;
  });
}

/** Allocate a bigint total. Negative totals are allocated as the mirror image of the positive case. */
export function allocateBigint(total: bigint, weights: readonly Weight[]): bigint[] {
  if (weights.length === 0) {
    if (total === 0n) return [];
    throw new RangeError(`cannot allocate ${total} over zero weights`);
  }
  const w = integerWeights(weights);
  const sum = w.reduce((a, b) => a + b, 0n);
  if (sum === 0n) {
    if (total === 0n) return w.map(() => 0n);
    throw new RangeError(`cannot allocate ${total} when every weight is zero`);
  }
  if (total < 0n) return allocateBigint(-total, weights).map((s) => -s);
  const shares = w.map((wi) => (total * wi) / sum);
  const remainders = w.map((wi, index) => ({ index, remainder: (total * wi) % sum }));
  let left = total - shares.reduce((a, b) => a + b, 0n);
  remainders.sort((a, b) => (a.remainder === b.remainder ? a.index - b.index : a.remainder > b.remainder ? -1 : 1));
  for (const { index } of remainders) {
    if (left === 0n) break;
    shares[index] = (shares[index] ?? 0n) + 1n;
    left -= 1n;
  }
  return shares;
}

/** Allocate a total in minor units (`number`, safe integer) over weights; see the file comment. */
export function allocateLargestRemainder(total: number, weights: readonly Weight[]): number[] {
  if (!Number.isSafeInteger(total)) throw new RangeError(`allocation total ${total} must be a safe integer`);
  return allocateBigint(BigInt(total), weights).map(Number);
}
