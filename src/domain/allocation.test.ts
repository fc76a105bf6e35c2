import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { allocateBigint, allocateLargestRemainder, type Ratio } from './allocation.ts';

describe('largest-remainder allocation', () => {
  it('splits 100 over three equal weights as 34, 33, 33 (ties go to the lower index)', () => {
    assert.deepEqual(allocateLargestRemainder(100, [1, 1, 1]), [34, 33, 33]);
  });
  it('gives the leftover unit to the largest remainder', () => {
    // exact shares 10 x (1,2,7)/10 = 1, 2, 7; 11 x (1,2,7)/10 = 1.1, 2.2, 7.7 -> 1, 2, 8
    assert.deepEqual(allocateLargestRemainder(11, [1, 2, 7]), [1, 2, 8]);
  });
  it('accepts rational weights', () => {
    const third: Ratio = { numerator: 1n, denominator: 3n };
    const twoThirds: Ratio = { numerator: 2n, denominator: 3n };
    assert.deepEqual(allocateLargestRemainder(10, [third, twoThirds]), [3, 7]);
  });
  it('mirrors negative totals', () => {
    assert.deepEqual(allocateLargestRemainder(-100, [1, 1, 1]), [-34, -33, -33]);
  });
  it('gives nothing to zero weights and allows an all-zero split of zero', () => {
    assert.deepEqual(allocateLargestRemainder(5, [0, 3, 0]), [0, 5, 0]);
    assert.deepEqual(allocateLargestRemainder(0, [0, 0]), [0, 0]);
  });
  it('rejects negative weights, fractional numbers and non-zero totals over zero weights', () => {
    assert.throws(() => allocateLargestRemainder(10, [1, -1]), /negative/);
    assert.throws(() => allocateLargestRemainder(10, [0.5, 1]), /safe integer/);
    assert.throws(() => allocateLargestRemainder(10, [0, 0]), /every weight is zero/);
    assert.throws(() => allocateLargestRemainder(10, []), /zero weights/);
    assert.throws(() => allocateLargestRemainder(0.5, [1]), /safe integer/);
  });

  it('property: shares sum to the total and each is within one unit of its exact proportion', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: -(10n ** 15n), max: 10n ** 15n }),
        fc.array(fc.bigInt({ min: 0n, max: 10n ** 12n }), { minLength: 1, maxLength: 50 }),
        (total, weights) => {
          fc.pre(weights.some((w) => w > 0n));
          const shares = allocateBigint(total, weights);
          assert.equal(
            shares.reduce((a, b) => a + b, 0n),
            total,
          );
          const sum = weights.reduce((a, b) => a + b, 0n);
          shares.forEach((share, i) => {
            // |share - total*w/sum| < 1  <=>  |share*sum - total*w| < sum
            const diff = share * sum - total * (weights[i] ?? 0n);
            assert.ok((diff < 0n ? -diff : diff) < sum, `share ${i} off by a unit or more`);
          });
        },
      ),
    );
  });
  it('property: the result is deterministic and does not depend on how weights are scaled', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 10 ** 9 }),
        fc.array(fc.integer({ min: 0, max: 10 ** 6 }), { minLength: 1, maxLength: 20 }),
        fc.integer({ min: 1, max: 1000 }),
        (total, weights, k) => {
          fc.pre(weights.some((w) => w > 0));
          const a = allocateLargestRemainder(total, weights);
          assert.deepEqual(allocateLargestRemainder(total, weights), a);
          assert.deepEqual(
            allocateLargestRemainder(
              total,
              weights.map((w) => w * k),
            ),
            a,
          );
        },
      ),
    );
  });
});
