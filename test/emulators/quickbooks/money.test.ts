import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  formatScaled,
  inclusiveTaxToCents,
  multiplyToCents,
  percentOfToCents,
  roundDiv,
  toJsonNumber,
  toScaled,
} from '../../../emulators/quickbooks/money.ts';
import { RequestIdCache } from '../../../emulators/quickbooks/idempotency.ts';

const s = (v: number | string): bigint => {
  const r = toScaled(v);
  if (r === undefined) throw new Error(`not a number: ${v}`);
  return r;
};

describe('QuickBooks emulator exact money', () => {
  it('reads JSON numbers through their decimal text and writes them back unchanged', () => {
    assert.equal(s(0.1) + s(0.2), s(0.3));
    assert.equal(toJsonNumber(s(0.1) + s(0.2)), 0.3);
    assert.equal(formatScaled(s('4.1166667')), '4.1166667');
    assert.equal(toScaled('1.12345678'), undefined, 'more than 7 decimals is refused');
    assert.equal(toScaled(Number.NaN), undefined);
    assert.equal(toJsonNumber(s(-12.5)), -12.5);
    assert.equal(toScaled(1e-7), 1n);
  });

  it('rounds half away from zero to the cent', () => {
    assert.equal(roundDiv(5n, 10n), 1n);
    assert.equal(roundDiv(-5n, 10n), -1n);
    assert.equal(roundDiv(4n, 10n), 0n);
    assert.equal(toJsonNumber(multiplyToCents(s(1), s(1.005))), 1.01);
    assert.equal(toJsonNumber(multiplyToCents(s(3), s(4.1166667))), 12.35);
    assert.equal(toJsonNumber(percentOfToCents(s(90), s(8.25))), 7.43);
    assert.equal(toJsonNumber(inclusiveTaxToCents(s(113), s(13))), 13);
  });

  it('matches integer-cent arithmetic for any quantity and price (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 10_000 }),
        fc.integer({ min: 0, max: 100_000_000 }),
        (qtyHundredths, priceMicro) => {
          // qty with 2 decimals, price with 6 decimals: exact product in 10^-8 units, rounded half up to cents.
          const exact = BigInt(qtyHundredths) * BigInt(priceMicro);
          const cents = (exact * 2n + 1_000_000n) / 2_000_000n;
          const got = multiplyToCents(s((qtyHundredths / 100).toFixed(2)), s((priceMicro / 1e6).toFixed(6)));
          assert.equal(got, cents * 100_000n);
        },
      ),
    );
  });
});

describe('QuickBooks emulator bounded memory', () => {
  it('forgets the oldest requestid answers past the cache size', () => {
    const cache = new RequestIdCache(3);
    for (let i = 0; i < 10; i++) cache.set('realm', `r${i}`, { status: 200, body: String(i) });
    assert.equal(cache.size, 3);
    assert.equal(cache.get('realm', 'r0'), undefined);
    assert.equal(cache.get('realm', 'r9')?.body, '9');
  });
});
