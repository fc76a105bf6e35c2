import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { formatMoney, localeForCountry } from './format.js';

// Intl separates some currency amounts with a narrow no-break space: compare with plain spaces.
const plain = (text: string) => text.replace(/[\u00a0\u202f]/g, ' ');

describe("formatMoney (the dashboard's amounts)", () => {
  const cases: Array<[number, string, string, number | undefined, string]> = [
    [19440, 'USD', 'en-US', undefined, '$194.40'],
    [19440, 'CAD', 'en-CA', undefined, '$194.40'],
    [12000, 'GBP', 'en-GB', undefined, '£120.00'],
    [12000, 'EUR', 'fr-FR', undefined, '120,00 €'],
    [5, 'USD', 'en-US', undefined, '$0.05'],
    [-12345, 'USD', 'en-US', undefined, '-$123.45'],
    [500, 'JPY', 'en-US', 0, '¥500'],
    [1234567, 'KWD', 'en-US', 3, 'KWD 1,234.567'],
    // The largest safe integer of cents stays exact (a float division would round it).
    [9007199254740991, 'USD', 'en-US', undefined, '$90,071,992,547,409.91'],
  ];
  for (const [minor, currency, locale, exponent, expected] of cases) {
    it(`writes ${minor} ${currency} in ${locale} as ${expected}`, () => {
      assert.equal(plain(formatMoney(minor, currency, locale, exponent)), expected);
    });
  }

  it('writes a dash for a missing amount or currency, and never throws', () => {
    assert.equal(formatMoney(null, 'USD'), '—');
    assert.equal(formatMoney(100, null), '—');
    assert.equal(formatMoney(1.5, 'USD'), '—');
    assert.equal(formatMoney(100, 'not a currency'), '—');
  });
});

describe('localeForCountry', () => {
  it('gives each QuickBooks country its conventions', () => {
    assert.equal(localeForCountry('US'), 'en-US');
    assert.equal(localeForCountry('CA'), 'en-CA');
    assert.equal(localeForCountry('gb'), 'en-GB');
    assert.equal(localeForCountry('AU'), 'en-AU');
    assert.equal(localeForCountry('FR'), 'fr-FR');
  });
  it('falls back to en-US for nothing or nonsense', () => {
    assert.equal(localeForCountry(null), 'en-US');
    assert.equal(localeForCountry('United States'), 'en-US');
  });
});
