import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { decimalText, pow10, type Decimal } from './money.ts';
import { lineAmountMinor, unitPriceForAmount } from './unitPrice.ts';

const d = (coefficient: bigint, scale: number): Decimal => ({ coefficient, scale });

describe('UnitPrice for a fixed line Amount', () => {
  it('finds the shortest price: 10.00 over qty 3 is 3.333', () => {
    const p = unitPriceForAmount(d(3n, 0), 1000n, 2);
    assert.equal(p && decimalText(p), '3.333');
  });
  it('returns the exact price when there is one', () => {
    const p = unitPriceForAmount(d(15n, 1), 500n, 2); // 1.5 x 3.3333333 -> 5.00, but 1.5 x 3.34 = 5.01; shortest exact-enough is 3.33 (4.995 -> 5.00)
    assert.equal(p && decimalText(p), '3.33');
  });
  it('handles qty 0 (only a zero amount) and reports impossible cases', () => {
    assert.deepEqual(unitPriceForAmount(d(0n, 0), 0n, 2), { coefficient: 0n, scale: 0 });
    assert.equal(unitPriceForAmount(d(0n, 0), 1n, 2), undefined);
    // 10^9 units: the 7-decimal grid gives steps of 100 units of currency per step -> cannot hit 1 cent
    assert.equal(unitPriceForAmount(d(10n ** 9n, 0), 1n, 2), undefined);
  });
  it('property: whenever qty <= 10^(7 - decimals) a price with <= 7 decimals exists and rounds back to the amount', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(0, 2, 3),
        fc.integer({ min: 0, max: 3 }),
        fc.bigInt({ min: 1n, max: 10n ** 8n }),
        fc.bigInt({ min: 0n, max: 10n ** 12n }),
        (exponent, qtyScale, qtyCoefficient, amount) => {
          const qty = d(qtyCoefficient, qtyScale);
          fc.pre(qtyCoefficient <= pow10(7 - exponent + qtyScale));
          const price = unitPriceForAmount(qty, amount, exponent);
          assert.ok(price, `no price for qty ${decimalText(qty)} amount ${amount}`);
          assert.ok(price.scale <= 7);
          assert.equal(lineAmountMinor(qty, price, exponent), amount);
        },
      ),
    );
  });
});
