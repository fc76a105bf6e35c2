// Property tests over random HighLevel invoices: the folded US QuickBooks invoice totals exactly the CRM total,
// every line satisfies Amount == roundHalfUp(Qty x UnitPrice), and the global model's lines and discount
// line add up to the CRM subtotal minus discount.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { crmDocumentTotals, type CrmDiscount, type CrmItem } from './crmTotals.ts';
import { qboInvoiceForCrmInvoice, type CrmInvoice, type InvoiceContext } from './invoiceMapping.ts';
import { currencyExponent, decimalText, parseDecimal, parsePercent, toMinorUnits } from './money.ts';
import { unwrap } from './result.ts';
import type { QboSalesItemLine, QboSalesLine } from './salesLines.ts';
import { crmTaxKey, type QboTaxCodeInfo } from './taxCodes.ts';
import { lineAmountMinor } from './unitPrice.ts';

const decimalString = (maxCoefficient: number, maxScale: number, minCoefficient = 0) =>
  fc
    .tuple(fc.integer({ min: minCoefficient, max: maxCoefficient }), fc.integer({ min: 0, max: maxScale }))
    .map(([c, s]) => decimalText({ coefficient: BigInt(c), scale: s }));

const taxArb = fc.record({
  name: fc.constantFrom('State', 'City', 'GST', 'PST', 'VAT'),
  rate: fc.constantFrom(0, 5, 7, 8.875, 9.975, 10, 20, '2.625'),
});

function itemArb(inclusive: fc.Arbitrary<boolean>, currency: string): fc.Arbitrary<CrmItem> {
  const exponent = currencyExponent(currency);
  return fc.record({
    name: fc.constantFrom('Haircut', 'Wash', 'Hours'),
    productId: fc.constantFrom('p1', 'p2', 'p3'),
    // QuickBooks' 7-decimal UnitPrice can hit every amount only while qty <= 10^(7 - currency decimals)
    // (100,000 for USD, 10,000 for KWD); beyond that the mapping returns UNIT_PRICE_UNREPRESENTABLE.
    qty: fc.oneof(fc.integer({ min: 0, max: 50 }), decimalString(Math.min(99_999, 10 ** (7 - exponent)), 3, 1)),
    amount: decimalString(10_000_000, exponent + 2),
    taxes: fc.array(taxArb, { maxLength: 3 }),
    taxInclusive: inclusive,
  });
}

function discountArb(currency: string): fc.Arbitrary<CrmDiscount | null> {
  const exponent = currencyExponent(currency);
  return fc.oneof(
    fc.constant(null),
    fc.record({ type: fc.constant('percentage'), value: decimalString(10_000, 2).filter((v) => Number(v) <= 100) }),
    fc.record({ type: fc.constant('fixed'), value: decimalString(100_000_000, exponent) }),
    fc.record({
      type: fc.constant('percentage'),
      value: fc.constantFrom(100, 50, 12.5),
      validOnProductIds: fc.constant(['p2']),
    }),
  );
}

function invoiceArb(inclusiveFor: (docInclusive: boolean) => fc.Arbitrary<boolean>): fc.Arbitrary<CrmInvoice> {
  return fc.tuple(fc.constantFrom('USD', 'JPY', 'KWD', 'EUR'), fc.boolean()).chain(([currency, docInclusive]) =>
    fc.record({
      _id: fc.constant('6578278e879ad2646715ba9c'),
      invoiceNumber: fc.constant('INV-1'),
      issueDate: fc.constant('2026-03-01'),
      currency: fc.constant(currency),
      invoiceItems: fc.array(itemArb(inclusiveFor(docInclusive), currency), { minLength: 1, maxLength: 40 }),
      discount: discountArb(currency),
    }),
  );
}

const items = { Haircut: '1', Wash: '2', Hours: '3' };

function minor(value: number, currency: string): bigint {
  return BigInt(unwrap(toMinorUnits(value, currency)));
}

function checkLineArithmetic(lines: readonly QboSalesLine[], currency: string): void {
  const exponent = currencyExponent(currency);
  for (const line of lines) {
    if (line.DetailType !== 'SalesItemLineDetail') continue;
    const qty = unwrap(parseDecimal(line.SalesItemLineDetail.Qty));
    const price = unwrap(parseDecimal(line.SalesItemLineDetail.UnitPrice));
    assert.ok(price.scale <= 7, `UnitPrice ${line.SalesItemLineDetail.UnitPrice} has more than 7 decimals`);
    assert.ok(line.Amount >= 0);
    assert.equal(
      lineAmountMinor(qty, price, exponent),
      minor(line.Amount, currency),
      `Qty ${line.SalesItemLineDetail.Qty} x UnitPrice ${line.SalesItemLineDetail.UnitPrice} does not round to ${line.Amount}`,
    );
  }
}

describe('property: US folding', () => {
  it('the QuickBooks lines add up to the CRM total exactly and each Amount is roundHalfUp(Qty x UnitPrice)', () => {
    const ctx: InvoiceContext = { region: 'US', customerRef: { value: '1' }, itemIdsByName: items };
    fc.assert(
      fc.property(
        invoiceArb(() => fc.boolean()),
        (crm) => {
          const totals = unwrap(
            crmDocumentTotals({
              currency: crm.currency,
              items: crm.invoiceItems ?? [],
              discount: crm.discount ?? null,
            }),
          );
          const r = qboInvoiceForCrmInvoice(crm, ctx);
          if (!r.ok) assert.fail(`${r.error.code}: ${r.error.message}`);
          checkLineArithmetic(r.invoice.Line, crm.currency);
          const sum = r.invoice.Line.reduce((s, l) => s + minor(l.Amount, crm.currency), 0n);
          assert.equal(sum, BigInt(totals.total));
          assert.equal(r.expectedTotal.quickbooksTotal, totals.total);
          assert.equal(r.expectedTotal.crmTotal, totals.total);
          assert.ok(
            r.invoice.Line.every(
              (l) => l.DetailType === 'SalesItemLineDetail' && l.SalesItemLineDetail.TaxCodeRef?.value === 'NON',
            ),
          );
          assert.equal(r.invoice.Line.length, (crm.invoiceItems ?? []).length);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('property: CRM totals', () => {
  it('total = subTotal - discount + exclusive taxes, and the lines add up', () => {
    fc.assert(
      fc.property(
        invoiceArb(() => fc.boolean()),
        (crm) => {
          const t = unwrap(
            crmDocumentTotals({
              currency: crm.currency,
              items: crm.invoiceItems ?? [],
              discount: crm.discount ?? null,
            }),
          );
          const exclusive = t.lines.reduce((s, l) => s + l.exclusiveTax, 0);
          assert.equal(t.total, t.subTotal - t.discount + exclusive);
          assert.equal(
            t.lines.reduce((s, l) => s + l.total, 0),
            t.total,
          );
          assert.equal(
            t.lines.reduce((s, l) => s + l.discount, 0),
            t.discount,
          );
          assert.ok(t.discount <= t.subTotal && t.discount >= 0);
          assert.ok(t.lines.every((l) => l.discount <= l.amount));
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('property: global tax model', () => {
  it('lines reproduce the CRM amounts, the discount line the CRM discount, and every taxed line has a code', () => {
    fc.assert(
      fc.property(
        invoiceArb((docInclusive) => fc.constant(docInclusive)),
        (crm) => {
          // One QuickBooks tax code per combination of taxes in this invoice, mapped explicitly.
          const codes: QboTaxCodeInfo[] = [{ id: 'zero', name: 'Exempt', ratePercents: [0] }];
          const mappings: Record<string, string> = {};
          for (const item of crm.invoiceItems ?? []) {
            const taxes = (item.taxes ?? []).map((t) => ({ name: t.name, rate: unwrap(parsePercent(t.rate)) }));
            if (taxes.length === 0) continue;
            const key = crmTaxKey(taxes);
            if (mappings[key] === undefined) {
              mappings[key] = `code-${codes.length}`;
              codes.push({
                id: `code-${codes.length}`,
                name: key,
                ratePercents: taxes.map((t) => decimalText(t.rate)),
              });
            }
          }
          const ctx: InvoiceContext = {
            region: 'global',
            customerRef: { value: '1' },
            itemIdsByName: items,
            taxCodes: codes,
            taxCodeMappings: mappings,
            noTaxCodeId: 'zero',
          };
          const totals = unwrap(
            crmDocumentTotals({
              currency: crm.currency,
              items: crm.invoiceItems ?? [],
              discount: crm.discount ?? null,
            }),
          );
          const r = qboInvoiceForCrmInvoice(crm, ctx);
          if (!r.ok) assert.fail(`${r.error.code}: ${r.error.message}`);
          checkLineArithmetic(r.invoice.Line, crm.currency);
          const itemLines = r.invoice.Line.filter((l): l is QboSalesItemLine => l.DetailType === 'SalesItemLineDetail');
          assert.deepEqual(
            itemLines.map((l) => minor(l.Amount, crm.currency)),
            totals.lines.map((l) => BigInt(l.amount)),
          );
          const discount = r.invoice.Line.filter((l) => l.DetailType === 'DiscountLineDetail').reduce(
            (s, l) => s + minor(l.Amount, crm.currency),
            0n,
          );
          assert.equal(discount, BigInt(totals.discount));
          assert.ok(itemLines.every((l) => l.SalesItemLineDetail.TaxCodeRef !== undefined));
          const anyTax = totals.lines.some((l) => l.taxes.length > 0);
          if (!anyTax) {
            assert.equal(r.invoice.GlobalTaxCalculation, 'NotApplicable');
            assert.equal(r.expectedTotal.difference, 0);
          }
          assert.equal(r.expectedTotal.crmTotal, totals.total);
          assert.equal(r.expectedTotal.difference, r.expectedTotal.quickbooksTotal - r.expectedTotal.crmTotal);
        },
      ),
      { numRuns: 200 },
    );
  });
});
