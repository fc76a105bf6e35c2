import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { crmDocumentTotals, type CrmDocument, type CrmTotals } from './crmTotals.ts';
import { unwrap } from './result.ts';

function totals(doc: CrmDocument): CrmTotals {
  return unwrap(crmDocumentTotals(doc));
}

function summary(t: CrmTotals): { subTotal: number; discount: number; tax: number; total: number } {
  return { subTotal: t.subTotal, discount: t.discount, tax: t.tax, total: t.total };
}

const vat = (rate: number | string, name = 'VAT') => ({ _id: `tax-${name}`, name, rate });

describe('HighLevel document totals (minor units)', () => {
  it('multiplies qty by unit amount per line and adds the lines', () => {
    const t = totals({
      currency: 'USD',
      items: [
        { name: 'Cut', qty: 2, amount: 10 },
        { name: 'Wash', qty: 1, amount: 5.5 },
      ],
    });
    assert.deepEqual(summary(t), { subTotal: 2550, discount: 0, tax: 0, total: 2550 });
  });
  it('applies a percentage discount to the subtotal, rounded half-up, and spreads it over the lines', () => {
    const t = totals({
      currency: 'USD',
      items: [
        { name: 'A', qty: 2, amount: 10 },
        { name: 'B', qty: 1, amount: 5.5 },
      ],
      discount: { type: 'percentage', value: 10 },
    });
    assert.deepEqual(summary(t), { subTotal: 2550, discount: 255, tax: 0, total: 2295 });
    assert.deepEqual(
      t.lines.map((l) => l.discount),
      [200, 55],
    );
  });
  it('applies a fixed discount, capped at the subtotal', () => {
    assert.equal(
      totals({ currency: 'USD', items: [{ name: 'A', qty: 1, amount: 25.5 }], discount: { type: 'fixed', value: 5 } })
        .total,
      2050,
    );
    assert.deepEqual(
      summary(
        totals({ currency: 'USD', items: [{ name: 'A', qty: 1, amount: 3 }], discount: { type: 'fixed', value: 5 } }),
      ),
      { subTotal: 300, discount: 300, tax: 0, total: 0 },
    );
  });
  it('computes tax after the discount, per (line, tax), rounded half-up', () => {
    const t = totals({
      currency: 'USD',
      items: [{ name: 'A', qty: 1, amount: 100, taxes: [vat(10)] }],
      discount: { type: 'percentage', value: 10 },
    });
    assert.deepEqual(summary(t), { subTotal: 10000, discount: 1000, tax: 900, total: 9900 });
  });
  it('adds several exclusive taxes on one item (5% GST + 9.975% QST)', () => {
    const t = totals({
      currency: 'CAD',
      items: [{ name: 'A', qty: 1, amount: 100, taxes: [vat(5, 'GST'), vat(9.975, 'QST')] }],
    });
    assert.deepEqual(
      t.lines[0]?.taxes.map((x) => x.amount),
      [500, 998],
    ); // 9.975 -> 9.98
    assert.deepEqual(summary(t), { subTotal: 10000, discount: 0, tax: 1498, total: 11498 });
  });
  it('rounds 8.875% of 10.00 (0.8875) to 0.89', () => {
    assert.equal(
      totals({ currency: 'USD', items: [{ name: 'A', qty: 1, amount: 10, taxes: [vat(8.875, 'NYC')] }] }).tax,
      89,
    );
  });
  it('extracts inclusive tax from the amount without adding it (taxInclusive)', () => {
    const t = totals({
      currency: 'NZD',
      items: [{ name: 'A', qty: 1, amount: 115, taxInclusive: true, taxes: [vat(15, 'GST')] }],
    });
    assert.deepEqual(summary(t), { subTotal: 11500, discount: 0, tax: 1500, total: 11500 });
  });
  it('splits inclusive tax between several rates on the combined base', () => {
    // 112.00 with 5% + 7% inside: base 100.00, taxes 5.00 and 7.00
    const t = totals({
      currency: 'CAD',
      items: [{ name: 'A', qty: 1, amount: 112, taxInclusive: true, taxes: [vat(5, 'GST'), vat(7, 'PST')] }],
    });
    assert.deepEqual(
      t.lines[0]?.taxes.map((x) => x.amount),
      [500, 700],
    );
    assert.equal(t.total, 11200);
  });
  it('accepts decimal quantities and unit amounts with more decimals than the currency', () => {
    assert.equal(totals({ currency: 'USD', items: [{ name: 'Hours', qty: 1.5, amount: 3.33 }] }).total, 500); // 4.995 -> 5.00
    assert.equal(totals({ currency: 'USD', items: [{ name: 'Bolts', qty: 3, amount: '0.3333' }] }).total, 99); // unit 0.33 first, then x 3
  });
  it('works in JPY (no decimals)', () => {
    const t = totals({ currency: 'JPY', items: [{ name: 'A', qty: 3, amount: 333, taxes: [vat(10, 'JCT')] }] });
    assert.deepEqual(summary(t), { subTotal: 999, discount: 0, tax: 100, total: 1099 });
  });
  it('works in KWD (three decimals)', () => {
    assert.equal(
      totals({
        currency: 'KWD',
        items: [{ name: 'A', qty: 1, amount: 1.234 }],
        discount: { type: 'percentage', value: 50 },
      }).total,
      617,
    );
  });
  it('limits the discount to validOnProductIds when given', () => {
    const t = totals({
      currency: 'USD',
      items: [
        { name: 'A', qty: 1, amount: 100, productId: 'p1' },
        { name: 'B', qty: 1, amount: 50, productId: 'p2' },
      ],
      discount: { type: 'percentage', value: 10, validOnProductIds: ['p2'] },
    });
    assert.deepEqual(
      t.lines.map((l) => l.discount),
      [0, 500],
    );
    assert.equal(t.total, 14500);
  });
  it('refuses negative lines, negative quantities, unknown currencies and mixed currencies with the line named', () => {
    const cases: [CrmDocument, string][] = [
      [{ currency: 'USD', items: [{ name: 'Credit', qty: 1, amount: -5 }] }, 'NEGATIVE_LINE'],
      [{ currency: 'USD', items: [{ name: 'A', qty: -1, amount: 5 }] }, 'NEGATIVE_QUANTITY'],
      [{ currency: 'dollars', items: [{ name: 'A', qty: 1, amount: 5 }] }, 'INVALID_CURRENCY'],
      [{ currency: 'USD', items: [{ name: 'A', qty: 1, amount: 5, currency: 'EUR' }] }, 'MIXED_CURRENCY'],
      [
        { currency: 'USD', items: [{ name: 'A', qty: 1, amount: 5 }], discount: { type: 'percentage', value: 120 } },
        'RATE_TOO_LARGE',
      ],
      [
        { currency: 'USD', items: [{ name: 'A', qty: 1, amount: 5 }], discount: { type: 'bogo', value: 1 } },
        'UNKNOWN_DISCOUNT_TYPE',
      ],
      [{ currency: 'USD', items: [{ name: 'A', qty: '1e30', amount: 5 }] }, 'AMOUNT_TOO_LARGE'],
    ];
    for (const [doc, code] of cases) {
      const r = crmDocumentTotals(doc, 'HighLevel invoice X');
      assert.equal(r.ok, false, code);
      assert.equal(!r.ok && r.error.code, code);
      assert.match(!r.ok ? r.error.message : '', /HighLevel invoice X/);
    }
  });
});
