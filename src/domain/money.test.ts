import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  currencyExponent,
  decimalText,
  formatMinor,
  majorFromMinor,
  parseDecimal,
  parsePercent,
  percentOf,
  roundHalfUp,
  toMinorUnits,
} from './money.ts';
import { unwrap } from './result.ts';

describe('currency exponents (ISO 4217)', () => {
  it('gives 2 for USD, EUR and unknown well-formed codes, 0 for JPY/KRW, 3 for BHD/KWD/JOD', () => {
    assert.equal(currencyExponent('USD'), 2);
    assert.equal(currencyExponent('eur'), 2);
    assert.equal(currencyExponent('XYZ'), 2);
    assert.equal(currencyExponent('JPY'), 0);
    assert.equal(currencyExponent('KRW'), 0);
    assert.equal(currencyExponent('BHD'), 3);
    assert.equal(currencyExponent('KWD'), 3);
    assert.equal(currencyExponent('JOD'), 3);
  });
});

describe('toMinorUnits reads decimal text, never multiplies floats', () => {
  const cases: [number | string, string, number][] = [
    [12.1, 'USD', 1210],
    ['12.10', 'USD', 1210],
    [0.1, 'USD', 10],
    [0.29, 'USD', 29], // 0.29 * 100 = 28.999999999999996 in floats
    ['1e2', 'USD', 10000],
    [150, 'JPY', 150],
    ['1.234', 'KWD', 1234],
    ['-3.5', 'EUR', -350],
    ['  7 ', 'USD', 700],
  ];
  for (const [input, currency, expected] of cases) {
    it(`${JSON.stringify(input)} ${currency} -> ${expected}`, () => {
      assert.equal(unwrap(toMinorUnits(input, currency)), expected);
    });
  }
  it('refuses more decimals than the currency has, unless asked to round half-up', () => {
    const r = toMinorUnits(1.005, 'USD');
    assert.equal(r.ok, false);
    assert.equal(!r.ok && r.error.code, 'TOO_MANY_DECIMALS');
    assert.equal(unwrap(toMinorUnits('1.005', 'USD', { rounding: 'halfUp' })), 101);
    assert.equal(unwrap(toMinorUnits('-1.005', 'USD', { rounding: 'halfUp' })), -101);
    assert.equal(unwrap(toMinorUnits('12.5', 'JPY', { rounding: 'halfUp' })), 13);
  });
  it('refuses NaN, Infinity, text that is not a number, and unsafe magnitudes with a clear code', () => {
    for (const [input, code] of [
      [Number.NaN, 'INVALID_NUMBER'],
      [Number.POSITIVE_INFINITY, 'INVALID_NUMBER'],
      ['12,10', 'INVALID_NUMBER'],
      ['', 'INVALID_NUMBER'],
      ['.', 'INVALID_NUMBER'],
      ['1e21', 'AMOUNT_TOO_LARGE'],
      ['1'.repeat(41), 'NUMBER_TOO_LONG'],
    ] as const) {
      const r = toMinorUnits(input, 'USD');
      assert.equal(r.ok, false, String(input));
      assert.equal(!r.ok && r.error.code, code, String(input));
      assert.ok(!r.ok && r.error.fix.length > 0);
    }
  });
});

describe('majorFromMinor and formatMinor', () => {
  it('writes JSON numbers in major units and fixed-decimal text', () => {
    assert.equal(majorFromMinor(1210, 'USD'), 12.1);
    assert.equal(majorFromMinor(5, 'JPY'), 5);
    assert.equal(majorFromMinor(1234, 'KWD'), 1.234);
    assert.equal(majorFromMinor(-1, 'USD'), -0.01);
    assert.equal(formatMinor(1210, 'USD'), '12.10');
    assert.equal(formatMinor(7, 'USD'), '0.07');
    assert.equal(formatMinor(-7, 'USD'), '-0.07');
    assert.equal(formatMinor(5, 'JPY'), '5');
  });
  it('round-trips every safe amount: toMinorUnits(majorFromMinor(x)) == x', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: -(2 ** 50), max: 2 ** 50 }),
        fc.constantFrom('USD', 'JPY', 'KWD'),
        (minor, currency) => {
          assert.equal(unwrap(toMinorUnits(majorFromMinor(minor, currency), currency)), minor);
        },
      ),
    );
  });
});

describe('rounding and rates', () => {
  it('rounds halves away from zero', () => {
    assert.equal(roundHalfUp(5n, 2n), 3n);
    assert.equal(roundHalfUp(-5n, 2n), -3n);
    assert.equal(roundHalfUp(4n, 3n), 1n);
    assert.equal(roundHalfUp(5n, 3n), 2n);
    assert.equal(roundHalfUp(-4n, 3n), -1n);
    assert.equal(roundHalfUp(7n, -2n), -4n);
  });
  it('keeps rate percentages such as 8.875 exact', () => {
    const rate = unwrap(parsePercent(8.875));
    assert.equal(decimalText(rate), '8.875');
    assert.equal(percentOf(10000n, rate), 888n); // 887.5 -> 888
    assert.equal(percentOf(1000n, unwrap(parsePercent('7.25'))), 73n); // 72.5 -> 73
    assert.equal(parsePercent(-1).ok, false);
    assert.equal(parsePercent(101, 'discount', 100).ok, false);
  });
  it('parses exponent notation exactly', () => {
    assert.equal(decimalText(unwrap(parseDecimal(1e-7))), '0.0000001');
    assert.equal(decimalText(unwrap(parseDecimal('2.50E+1'))), '25');
  });
});
