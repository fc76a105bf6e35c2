import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { currencyExponent, decimalText, parseDecimal, toMinorUnits } from './money.ts';
import { unwrap } from './result.ts';
import {
  paymentMethodKey,
  qboRefundReceiptForCrmRefund,
  qboSalesReceiptForCrmPayment,
  type CrmPayment,
  type RefundReceiptContext,
} from './salesReceiptMapping.ts';
import type { QboSalesItemLine, QboSalesLine } from './salesLines.ts';
import { lineAmountMinor } from './unitPrice.ts';

const us: RefundReceiptContext = {
  region: 'US',
  customerRef: { value: '58' },
  itemIdsByName: { 'Gold membership': '7', 'Setup fee': '8' },
  paymentMethodIds: { visa: '3', card: '4', cash: '1', cheque: '2' },
  depositToAccountId: '35',
  refundFromAccountId: '35',
};
const global: RefundReceiptContext = {
  ...us,
  region: 'global',
  taxCodes: [
    { id: '10', name: 'VAT', ratePercents: [20] },
    { id: '12', name: 'Zero', ratePercents: [0] },
  ],
};

const order: CrmPayment = {
  id: '6578278e879ad2646715ba9c',
  kind: 'order',
  currency: 'USD',
  date: '2026-03-02T10:15:00Z',
  items: [
    { name: 'Gold membership', qty: 1, amount: 60, taxes: [{ name: 'Sales tax', rate: 8.875 }] },
    { name: 'Setup fee', qty: 1, amount: 40 },
  ],
  discount: { type: 'percentage', value: 10 },
  amount: 94.79, // 54.00 + 4.79 tax + 36.00
  paymentMode: 'card',
  cardBrand: 'Visa',
  chargeId: 'ch_3OabcdefGHIJKLMNOPqrstuv',
};

function lines(l: readonly QboSalesLine[]): QboSalesItemLine[] {
  return l.filter((x): x is QboSalesItemLine => x.DetailType === 'SalesItemLineDetail');
}

describe('HighLevel payment -> QuickBooks SalesReceipt', () => {
  it('folds discount and tax for a US company and references the payment', () => {
    const r = qboSalesReceiptForCrmPayment(order, us);
    if (!r.ok) return assert.fail(r.error.message);
    const s = r.salesReceipt;
    assert.equal(s.TxnDate, '2026-03-02');
    assert.deepEqual(s.PaymentMethodRef, { value: '3' });
    assert.deepEqual(s.DepositToAccountRef, { value: '35' });
    assert.deepEqual(s.CustomerRef, { value: '58' });
    assert.equal(s.PaymentRefNum, 'OabcdefGHIJKLMNOPqrstuv'.slice(-21));
    assert.equal(s.PaymentRefNum?.length, 21);
    assert.equal(s.PrivateNote, 'HighLevel order 6578278e879ad2646715ba9c (charge ch_3OabcdefGHIJKLMNOPqrstuv)');
    assert.deepEqual(
      lines(s.Line).map((l) => l.Amount),
      [58.79, 36],
    );
    assert.equal(r.expectedTotal.quickbooks, 94.79);
    assert.deepEqual(r.warnings, []);
  });
  it('records the amount actually charged when it differs from the lines, and says so', () => {
    const r = qboSalesReceiptForCrmPayment({ ...order, amount: 100 }, us);
    if (!r.ok) return assert.fail(r.error.message);
    assert.equal(r.expectedTotal.quickbooks, 100);
    assert.equal(
      lines(r.salesReceipt.Line).reduce((s, l) => s + Math.round(l.Amount * 100), 0),
      10000,
    );
    assert.match(r.warnings.join(), /was charged/);
  });
  it('maps card brands, cash, cheque and bank transfers to payment-method keys', () => {
    assert.equal(paymentMethodKey({ paymentMode: 'card', cardBrand: 'American Express' }), 'amex');
    assert.equal(paymentMethodKey({ paymentMode: 'card', cardBrand: 'Visa' }), 'visa');
    assert.equal(paymentMethodKey({ paymentMode: 'card' }), 'card');
    assert.equal(paymentMethodKey({ cardBrand: 'unknownbrand' }), 'card');
    assert.equal(paymentMethodKey({ paymentMode: 'cash' }), 'cash');
    assert.equal(paymentMethodKey({ paymentMode: 'check' }), 'cheque');
    assert.equal(paymentMethodKey({ paymentMode: 'bank_transfer' }), 'bank_transfer');
    assert.equal(paymentMethodKey({ paymentMode: 'crypto' }), 'other');
    assert.equal(paymentMethodKey({ paymentMode: 'card', cardBrand: 'toString' }), 'card');
  });
  it('falls back from an unmapped brand to the card method, and warns when nothing is mapped', () => {
    const amex = qboSalesReceiptForCrmPayment({ ...order, cardBrand: 'amex' }, us);
    assert.deepEqual(amex.ok && amex.salesReceipt.PaymentMethodRef, { value: '4' });
    const transfer = qboSalesReceiptForCrmPayment({ ...order, paymentMode: 'bank_transfer', cardBrand: null }, us);
    assert.equal(transfer.ok && transfer.salesReceipt.PaymentMethodRef, undefined);
    assert.match(
      transfer.ok ? transfer.warnings.join() : '',
      /no QuickBooks payment method is mapped for "bank_transfer"/,
    );
  });
  it('uses the cheque number as PaymentRefNum', () => {
    const r = qboSalesReceiptForCrmPayment(
      { ...order, paymentMode: 'cheque', cardBrand: null, chequeNumber: '001234' },
      us,
    );
    assert.equal(r.ok && r.salesReceipt.PaymentRefNum, '001234');
  });
  it('uses tax codes and a discount line for a non-US company', () => {
    const r = qboSalesReceiptForCrmPayment(
      {
        ...order,
        currency: 'GBP',
        amount: 102,
        items: [
          { name: 'Gold membership', qty: 1, amount: 60, taxes: [{ name: 'VAT', rate: 20 }] },
          { name: 'Setup fee', qty: 1, amount: 40, taxes: [{ name: 'VAT', rate: 20 }] },
        ],
        discount: { type: 'fixed', value: 15 },
      },
      global,
    );
    if (!r.ok) return assert.fail(r.error.message);
    assert.equal(r.salesReceipt.GlobalTaxCalculation, 'TaxExcluded');
    assert.deepEqual(r.salesReceipt.Line.at(-1), {
      DetailType: 'DiscountLineDetail',
      Amount: 15,
      DiscountLineDetail: { PercentBased: false },
    });
    assert.equal(r.expectedTotal.quickbooks, 102);
    assert.equal(r.expectedTotal.matches, true);
  });
  it('refuses an amount with more decimals than the currency', () => {
    const r = qboSalesReceiptForCrmPayment({ ...order, amount: '94.795' }, us);
    assert.equal(!r.ok && r.error.code, 'TOO_MANY_DECIMALS');
  });
});

describe('HighLevel refund -> QuickBooks RefundReceipt', () => {
  it('repeats the sale lines for a full refund, paid from the refund account', () => {
    const sale = qboSalesReceiptForCrmPayment(order, us);
    const r = qboRefundReceiptForCrmRefund({ id: 'rf1', date: '2026-03-05', currency: 'USD' }, order, {
      ...us,
      refundFromAccountId: '36',
    });
    if (!r.ok || !sale.ok) return assert.fail('mapping failed');
    assert.deepEqual(r.refundReceipt.Line, sale.salesReceipt.Line);
    assert.deepEqual(r.refundReceipt.DepositToAccountRef, { value: '36' });
    assert.equal(r.refundReceipt.TxnDate, '2026-03-05');
    assert.equal(r.expectedTotal.quickbooks, 94.79);
    assert.match(r.refundReceipt.PrivateNote, /HighLevel refund rf1 of order 6578278e879ad2646715ba9c/);
  });
  it('spreads a partial refund over the sold lines by largest remainder', () => {
    const r = qboRefundReceiptForCrmRefund({ id: 'rf2', date: '2026-03-05', currency: 'USD', amount: 10 }, order, us);
    if (!r.ok) return assert.fail(r.error.message);
    // weights 58.79 and 36.00 -> 6.2021... and 3.7978... -> 6.20 and 3.80
    assert.deepEqual(
      lines(r.refundReceipt.Line).map((l) => [l.SalesItemLineDetail.Qty, l.SalesItemLineDetail.UnitPrice, l.Amount]),
      [
        [1, 6.2, 6.2],
        [1, 3.8, 3.8],
      ],
    );
    assert.equal(r.expectedTotal.quickbooks, 10);
  });
  it('makes a partial refund tax-inclusive in the global model so QuickBooks backs the tax out', () => {
    const payment: CrmPayment = {
      ...order,
      currency: 'GBP',
      amount: null,
      discount: null,
      items: [{ name: 'Gold membership', qty: 1, amount: 50, taxes: [{ name: 'VAT', rate: 20 }] }],
    };
    const r = qboRefundReceiptForCrmRefund(
      { id: 'rf3', date: '2026-03-05', currency: 'GBP', amount: 12 },
      payment,
      global,
    );
    if (!r.ok) return assert.fail(r.error.message);
    assert.equal(r.refundReceipt.GlobalTaxCalculation, 'TaxInclusive');
    assert.deepEqual(lines(r.refundReceipt.Line)[0]?.SalesItemLineDetail, {
      ItemRef: { value: '7' },
      Qty: 1,
      UnitPrice: 12,
      TaxCodeRef: { value: '10' },
      TaxInclusiveAmt: 12,
    });
  });
  it('refuses refunds larger than the payment, empty refunds and other currencies', () => {
    const big = qboRefundReceiptForCrmRefund(
      { id: 'rf4', date: '2026-03-05', currency: 'USD', amount: 100 },
      order,
      us,
    );
    assert.equal(!big.ok && big.error.code, 'REFUND_TOO_LARGE');
    const none = qboRefundReceiptForCrmRefund({ id: 'rf5', date: '2026-03-05', currency: 'USD', amount: 0 }, order, us);
    assert.equal(!none.ok && none.error.code, 'EMPTY_REFUND');
    const eur = qboRefundReceiptForCrmRefund({ id: 'rf6', date: '2026-03-05', currency: 'EUR', amount: 1 }, order, us);
    assert.equal(!eur.ok && eur.error.code, 'MIXED_CURRENCY');
  });
  it('property: a partial refund adds up exactly and every line rounds back (US)', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('USD', 'JPY', 'KWD'),
        fc.array(fc.record({ qty: fc.integer({ min: 1, max: 20 }), price: fc.integer({ min: 0, max: 1_000_000 }) }), {
          minLength: 1,
          maxLength: 10,
        }),
        fc.integer({ min: 1, max: 1_000_000_000 }),
        (currency, rows, refundSeed) => {
          const exponent = currencyExponent(currency);
          const payment: CrmPayment = {
            id: 'p1',
            currency,
            date: '2026-03-02',
            items: rows.map((row) => ({
              name: 'Setup fee',
              qty: row.qty,
              amount: decimalText({ coefficient: BigInt(row.price), scale: exponent }),
            })),
          };
          const sale = qboSalesReceiptForCrmPayment(payment, us);
          if (!sale.ok) return assert.fail(sale.error.message);
          const total = sale.expectedTotal.crmTotal;
          fc.pre(total > 0);
          const refunded = (refundSeed % total) + 1;
          const amount = decimalText({ coefficient: BigInt(refunded), scale: exponent });
          const r = qboRefundReceiptForCrmRefund({ id: 'r1', date: '2026-03-03', currency, amount }, payment, us);
          if (!r.ok) return assert.fail(r.error.message);
          let sum = 0n;
          for (const l of lines(r.refundReceipt.Line)) {
            const minor = BigInt(unwrap(toMinorUnits(l.Amount, currency)));
            sum += minor;
            assert.equal(
              lineAmountMinor(
                unwrap(parseDecimal(l.SalesItemLineDetail.Qty)),
                unwrap(parseDecimal(l.SalesItemLineDetail.UnitPrice)),
                exponent,
              ),
              minor,
            );
          }
          assert.equal(sum, BigInt(refunded));
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe("the bookkeeper's refs on receipts and refunds", () => {
  const cases: Array<{
    name: string;
    context: Partial<RefundReceiptContext>;
    header: { ClassRef?: { value: string }; DepartmentRef?: { value: string }; PaymentMethodRef?: { value: string } };
    lineClass?: { value: string };
  }> = [
    { name: 'nothing mapped: as before', context: {}, header: { PaymentMethodRef: { value: '3' } } },
    {
      name: 'a mapped payment method wins over the one found by name',
      context: { paymentMethodRef: { value: '90' } },
      header: { PaymentMethodRef: { value: '90' } },
    },
    {
      name: 'class per transaction and location on the header',
      context: { classRef: { value: '5' }, departmentRef: { value: '6' } },
      header: { ClassRef: { value: '5' }, DepartmentRef: { value: '6' }, PaymentMethodRef: { value: '3' } },
    },
    {
      name: 'class per row on every item line',
      context: { lineClassRef: { value: '5' } },
      header: { PaymentMethodRef: { value: '3' } },
      lineClass: { value: '5' },
    },
  ];
  for (const c of cases) {
    for (const [region, base] of [
      ['US', us],
      [
        'global',
        { ...global, taxCodes: [...(global.taxCodes ?? []), { id: '15', name: 'NY', ratePercents: [8.875] }] },
      ],
    ] as const) {
      it(`${c.name} (${region})`, () => {
        const context = { ...base, ...c.context };
        const sale = qboSalesReceiptForCrmPayment(order, context);
        if (!sale.ok) return assert.fail(sale.error.message);
        const full = qboRefundReceiptForCrmRefund({ id: 'r1', date: '2026-03-03', currency: 'USD' }, order, context);
        if (!full.ok) return assert.fail(full.error.message);
        const partial = qboRefundReceiptForCrmRefund(
          { id: 'r2', date: '2026-03-03', currency: 'USD', amount: 10 },
          order,
          context,
        );
        if (!partial.ok) return assert.fail(partial.error.message);
        for (const form of [sale.salesReceipt, full.refundReceipt, partial.refundReceipt]) {
          assert.deepEqual(form.ClassRef, c.header.ClassRef);
          assert.deepEqual(form.DepartmentRef, c.header.DepartmentRef);
          assert.deepEqual(form.PaymentMethodRef, c.header.PaymentMethodRef);
          for (const line of lines(form.Line)) assert.deepEqual(line.SalesItemLineDetail.ClassRef, c.lineClass);
        }
        assert.equal(
          sale.warnings.some((w) => /no QuickBooks payment method/.test(w)),
          false,
        );
      });
    }
  }

  it('writes a mapped product with its item, before any item by name', () => {
    const mapped = { ...order, items: order.items.map((i, n) => (n === 0 ? { ...i, productId: 'p-gold' } : i)) };
    const r = qboSalesReceiptForCrmPayment(mapped, { ...us, itemIdsByProductId: { 'p-gold': '70' } });
    if (!r.ok) return assert.fail(r.error.message);
    assert.deepEqual(
      lines(r.salesReceipt.Line).map((l) => l.SalesItemLineDetail.ItemRef.value),
      ['70', '8'],
    );
  });
});
