import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { CrmItem } from './crmTotals.ts';
import {
  qboInvoiceForCrmInvoice,
  type CrmInvoice,
  type InvoiceContext,
  type QboInvoiceBody,
} from './invoiceMapping.ts';
import type { QboSalesItemLine, TotalCheck } from './salesLines.ts';
import type { QboTaxCodeInfo } from './taxCodes.ts';

const us: InvoiceContext = {
  region: 'US',
  customerRef: { value: '58' },
  itemIdsByName: { Haircut: '1', Wash: '2', Hours: '3' },
};
const taxCodes: QboTaxCodeInfo[] = [
  { id: '10', name: 'VAT 20%', ratePercents: [20] },
  { id: '11', name: 'Reduced 5%', ratePercents: [5] },
  { id: '12', name: 'Zero-rated', ratePercents: [0] },
  { id: '13', name: 'GST/PST BC', ratePercents: [5, 7] },
  { id: '14', name: 'Old VAT', ratePercents: [20], active: false },
];
const global: InvoiceContext = { ...us, region: 'global', taxCodes };

function invoice(items: CrmItem[], extra: Partial<CrmInvoice> = {}): CrmInvoice {
  return {
    _id: '6578278e879ad2646715ba9c',
    invoiceNumber: 'INV-000123',
    name: 'March services',
    issueDate: '2026-03-01',
    dueDate: '2026-03-31',
    currency: 'USD',
    invoiceItems: items,
    contactDetails: { id: 'c1', email: 'Jane@Example.com' },
    ...extra,
  };
}

function mapped(
  crm: CrmInvoice,
  ctx: InvoiceContext,
): { invoice: QboInvoiceBody; expectedTotal: TotalCheck; warnings: readonly string[] } {
  const r = qboInvoiceForCrmInvoice(crm, ctx);
  if (!r.ok) assert.fail(`${r.error.code}: ${r.error.message}`);
  return r;
}

function itemLines(inv: QboInvoiceBody): QboSalesItemLine[] {
  return inv.Line.filter((l): l is QboSalesItemLine => l.DetailType === 'SalesItemLineDetail');
}

function prices(inv: QboInvoiceBody): [number, number, number][] {
  return itemLines(inv).map((l) => [l.SalesItemLineDetail.Qty, l.SalesItemLineDetail.UnitPrice, l.Amount]);
}

function errorCode(crm: CrmInvoice, ctx: InvoiceContext): string {
  const r = qboInvoiceForCrmInvoice(crm, ctx);
  assert.equal(r.ok, false, 'expected an error');
  return r.ok ? '' : r.error.code;
}

describe('HighLevel invoice -> QuickBooks Invoice: header', () => {
  it('carries number, dates, customer, email, currency and a private note naming the HighLevel invoice', () => {
    const { invoice: inv } = mapped(
      invoice([{ name: 'Haircut', qty: 1, amount: 40, description: 'Cut and style' }]),
      us,
    );
    assert.equal(inv.DocNumber, 'INV-000123');
    assert.equal(inv.TxnDate, '2026-03-01');
    assert.equal(inv.DueDate, '2026-03-31');
    assert.deepEqual(inv.CustomerRef, { value: '58' });
    assert.deepEqual(inv.BillEmail, { Address: 'jane@example.com' });
    assert.deepEqual(inv.CurrencyRef, { value: 'USD' });
    assert.equal(inv.PrivateNote, 'HighLevel invoice 6578278e879ad2646715ba9c - March services');
    assert.deepEqual(inv.Line, [
      {
        DetailType: 'SalesItemLineDetail',
        Amount: 40,
        Description: 'Cut and style',
        SalesItemLineDetail: { ItemRef: { value: '1' }, Qty: 1, UnitPrice: 40, TaxCodeRef: { value: 'NON' } },
      },
    ]);
    assert.equal(inv.GlobalTaxCalculation, undefined);
  });
  it('takes the calendar date of ISO timestamps and accepts a numeric invoice number', () => {
    const { invoice: inv } = mapped(
      invoice([{ name: 'Haircut', qty: 1, amount: 40 }], {
        issueDate: '2026-03-01T23:30:00.000Z',
        invoiceNumber: 1043,
      }),
      us,
    );
    assert.equal(inv.TxnDate, '2026-03-01');
    assert.equal(inv.DocNumber, '1043');
  });
  it('refuses an invoice number over 21 characters unless the connection allows shortening', () => {
    const long = invoice([{ name: 'Haircut', qty: 1, amount: 40 }], { invoiceNumber: 'INV-2026-LOCATION-000000123' });
    const r = qboInvoiceForCrmInvoice(long, us);
    assert.equal(r.ok, false);
    assert.equal(!r.ok && r.error.code, 'DOC_NUMBER_TOO_LONG');
    assert.match(!r.ok ? r.error.fix : '', /shorter number/);
    const cut = mapped(long, { ...us, docNumberTooLong: 'truncate' });
    assert.equal(cut.invoice.DocNumber, '26-LOCATION-000000123');
    assert.equal(cut.warnings.length, 1);
  });
  it('refuses impossible dates, unmapped items, empty invoices and too many lines', () => {
    assert.equal(
      errorCode(invoice([{ name: 'Haircut', qty: 1, amount: 1 }], { issueDate: '2026-02-30' }), us),
      'INVALID_DATE',
    );
    assert.equal(errorCode(invoice([{ name: 'Massage', qty: 1, amount: 1 }]), us), 'UNMAPPED_ITEM');
    assert.equal(errorCode(invoice([{ name: 'constructor', qty: 1, amount: 1 }]), us), 'UNMAPPED_ITEM'); // not Object.prototype's
    assert.equal(errorCode(invoice([]), us), 'NO_LINES');
    const many = Array.from({ length: 751 }, () => ({ name: 'Haircut', qty: 1, amount: 1 }));
    assert.equal(errorCode(invoice(many), us), 'TOO_MANY_LINES');
    assert.equal(errorCode(invoice(many.slice(0, 5)), { ...us, maxLines: 4 }), 'TOO_MANY_LINES');
  });
  it('uses the default item for unmapped products and matches item names case-insensitively', () => {
    const { invoice: inv } = mapped(
      invoice([
        { name: 'Massage', qty: 1, amount: 1 },
        { name: 'haircut ', qty: 1, amount: 1 },
      ]),
      { ...us, defaultItemId: '99' },
    );
    assert.deepEqual(
      itemLines(inv).map((l) => l.SalesItemLineDetail.ItemRef.value),
      ['99', '1'],
    );
  });
  it('maps a negative line to a clear error (reductions belong in the discount)', () => {
    const r = qboInvoiceForCrmInvoice(
      invoice([
        { name: 'Haircut', qty: 1, amount: 40 },
        { name: 'Wash', qty: 1, amount: -5 },
      ]),
      us,
    );
    assert.equal(r.ok, false);
    assert.equal(!r.ok && r.error.code, 'NEGATIVE_LINE');
    assert.match(!r.ok ? r.error.message : '', /line 2 \("Wash"\)/);
  });
  it("keeps O'Brien, emoji and right-to-left descriptions intact, shortening past 4000 characters on character boundaries", () => {
    const long = `${'👩🏽‍💻 '.repeat(1000)}`; // 8 UTF-16 units per repeat
    const r = mapped(
      invoice(
        [
          { name: 'Haircut', qty: 1, amount: 1, description: "O'Brien 🌻 تصفيف الشعر" },
          { name: 'Wash', qty: 1, amount: 1, description: long },
        ],
        { name: 'طلب مارس' },
      ),
      us,
    );
    const [first, second] = itemLines(r.invoice);
    assert.equal(first?.Description, "O'Brien 🌻 تصفيف الشعر");
    assert.ok((second?.Description ?? '').length <= 4000);
    assert.ok(long.startsWith(second?.Description ?? 'x'));
    assert.equal(r.invoice.PrivateNote, 'HighLevel invoice 6578278e879ad2646715ba9c - طلب مارس');
  });
  it('leaves out an invalid bill email with a warning', () => {
    const r = mapped(invoice([{ name: 'Haircut', qty: 1, amount: 1 }], { contactDetails: { email: 'nope' } }), us);
    assert.equal(r.invoice.BillEmail, undefined);
    assert.match(r.warnings.join(), /BillEmail left out/);
  });
});

describe('US company: discount and tax folded into the line prices', () => {
  it('keeps simple lines as they are', () => {
    const r = mapped(
      invoice([
        { name: 'Haircut', qty: 2, amount: 10 },
        { name: 'Wash', qty: 1, amount: 5.5 },
      ]),
      us,
    );
    assert.deepEqual(prices(r.invoice), [
      [2, 10, 20],
      [1, 5.5, 5.5],
    ]);
    assert.equal(r.expectedTotal.quickbooks, 25.5);
    assert.equal(r.expectedTotal.matches, true);
  });
  it('folds a percentage discount into the prices', () => {
    const r = mapped(
      invoice(
        [
          { name: 'Haircut', qty: 3, amount: 10 },
          { name: 'Wash', qty: 1, amount: 5 },
        ],
        { discount: { type: 'percentage', value: 10 } },
      ),
      us,
    );
    assert.deepEqual(prices(r.invoice), [
      [3, 9, 27],
      [1, 4.5, 4.5],
    ]);
    assert.equal(r.expectedTotal.crm, 31.5);
    assert.equal(r.expectedTotal.quickbooks, 31.5);
  });
  it('folds a fixed discount: total 10.00 over qty 3 gives UnitPrice 3.333', () => {
    const r = mapped(
      invoice([{ name: 'Haircut', qty: 3, amount: 3.5 }], { discount: { type: 'fixed', value: 0.5 } }),
      us,
    );
    assert.deepEqual(prices(r.invoice), [[3, 3.333, 10]]);
  });
  it('folds several taxes into the price and marks lines NON', () => {
    const r = mapped(
      invoice([
        {
          name: 'Haircut',
          qty: 1,
          amount: 100,
          taxes: [
            { name: 'State', rate: 6.25 },
            { name: 'City', rate: 2.625 },
          ],
        },
      ]),
      us,
    );
    assert.deepEqual(prices(r.invoice), [[1, 108.88, 108.88]]); // 6.25 + 2.63 (2.625 rounded half-up)
    assert.equal(itemLines(r.invoice)[0]?.SalesItemLineDetail.TaxCodeRef?.value, 'NON');
    assert.equal(r.expectedTotal.crmTotal, 10888);
  });
  it('keeps tax-inclusive prices as they are (the tax is already inside)', () => {
    const r = mapped(
      invoice([{ name: 'Haircut', qty: 2, amount: 11.5, taxInclusive: true, taxes: [{ name: 'GST', rate: 15 }] }]),
      us,
    );
    assert.deepEqual(prices(r.invoice), [[2, 11.5, 23]]);
  });
  it('maps a 100% discount to a valid invoice with zero prices', () => {
    const r = mapped(
      invoice(
        [
          { name: 'Haircut', qty: 2, amount: 40, taxes: [{ name: 'Tax', rate: 8 }] },
          { name: 'Wash', qty: 1, amount: 5 },
        ],
        { discount: { type: 'percentage', value: 100 } },
      ),
      us,
    );
    assert.deepEqual(prices(r.invoice), [
      [2, 0, 0],
      [1, 0, 0],
    ]);
    assert.equal(r.expectedTotal.quickbooks, 0);
    assert.equal(r.expectedTotal.matches, true);
  });
  it('keeps decimal quantities: 1.5 hours at 3.33 is 5.00', () => {
    const r = mapped(invoice([{ name: 'Hours', qty: 1.5, amount: 3.33 }]), us);
    assert.deepEqual(prices(r.invoice), [[1.5, 3.33, 5]]);
  });
  it('spreads a discount over awkward quantities with the shortest UnitPrice that reproduces the amount', () => {
    const r = mapped(
      invoice(
        [
          { name: 'Hours', qty: 7, amount: 1.01 },
          { name: 'Wash', qty: 3, amount: 1 },
        ],
        { discount: { type: 'fixed', value: 0.01 } },
      ),
      us,
    );
    // subtotal 10.07, discount 1 cent goes to the larger line: 7.06 over qty 7; 7 x 1.009 = 7.063 -> 7.06
    assert.deepEqual(prices(r.invoice), [
      [7, 1.009, 7.06],
      [3, 1, 3],
    ]);
  });
  it('explains when no 7-decimal UnitPrice can reproduce the amount (huge quantity in a 3-decimal currency)', () => {
    const crm = invoice([{ name: 'Hours', qty: 12342, amount: '63.735' }], {
      currency: 'KWD',
      discount: { type: 'fixed', value: '0.003' },
    });
    assert.equal(errorCode(crm, us), 'UNIT_PRICE_UNREPRESENTABLE');
  });
  it('works in JPY (no decimals)', () => {
    const r = mapped(
      invoice([{ name: 'Haircut', qty: 3, amount: 1000, taxes: [{ name: 'JCT', rate: 10 }] }], {
        currency: 'JPY',
        discount: { type: 'fixed', value: 1 },
      }),
      us,
    );
    // 3000 - 1 = 2999, tax 299.9 -> 300, total 3299 over qty 3
    assert.deepEqual(prices(r.invoice), [[3, 1099.7, 3299]]);
    assert.deepEqual(r.invoice.CurrencyRef, { value: 'JPY' });
  });
});

describe('Other regions: tax codes, a discount line and GlobalTaxCalculation', () => {
  it('maps each tax to a QuickBooks tax code by rate and name, tax excluded', () => {
    const r = mapped(
      invoice([{ name: 'Haircut', qty: 2, amount: 10, taxes: [{ name: 'VAT 20%', rate: 20 }] }], { currency: 'GBP' }),
      global,
    );
    assert.equal(r.invoice.GlobalTaxCalculation, 'TaxExcluded');
    const line = itemLines(r.invoice)[0];
    assert.deepEqual(line?.SalesItemLineDetail, {
      ItemRef: { value: '1' },
      Qty: 2,
      UnitPrice: 10,
      TaxCodeRef: { value: '10' },
    });
    assert.equal(line?.Amount, 20);
    assert.equal(r.expectedTotal.crm, 24);
    assert.equal(r.expectedTotal.quickbooks, 24);
  });
  it('turns a percentage discount into a percent-based discount line', () => {
    const r = mapped(
      invoice([{ name: 'Haircut', qty: 1, amount: 100, taxes: [{ name: 'VAT', rate: 20 }] }], {
        currency: 'GBP',
        discount: { type: 'percentage', value: 12.5 },
      }),
      global,
    );
    assert.deepEqual(r.invoice.Line.at(-1), {
      DetailType: 'DiscountLineDetail',
      Amount: 12.5,
      DiscountLineDetail: { PercentBased: true, DiscountPercent: 12.5 },
    });
    assert.equal(r.expectedTotal.quickbooks, 105); // (100 - 12.50) x 1.2
    assert.equal(r.expectedTotal.matches, true);
  });
  it('turns a fixed discount into an amount discount line, with the discount account when configured', () => {
    const r = mapped(
      invoice([{ name: 'Haircut', qty: 1, amount: 100, taxes: [{ name: 'VAT', rate: 20 }] }], {
        currency: 'GBP',
        discount: { type: 'fixed', value: 10 },
      }),
      { ...global, discountAccountId: '86' },
    );
    assert.deepEqual(r.invoice.Line.at(-1), {
      DetailType: 'DiscountLineDetail',
      Amount: 10,
      DiscountLineDetail: { PercentBased: false, DiscountAccountRef: { value: '86' } },
    });
    assert.equal(r.expectedTotal.quickbooks, 108);
  });
  it('maps two taxes on one line to the tax code grouping the same rates', () => {
    const r = mapped(
      invoice(
        [
          {
            name: 'Haircut',
            qty: 1,
            amount: 100,
            taxes: [
              { name: 'GST', rate: 5 },
              { name: 'PST', rate: 7 },
            ],
          },
        ],
        { currency: 'CAD' },
      ),
      global,
    );
    assert.equal(itemLines(r.invoice)[0]?.SalesItemLineDetail.TaxCodeRef?.value, '13');
    assert.equal(r.expectedTotal.quickbooks, 112);
  });
  it('follows tax-inclusive items with TaxInclusive', () => {
    const r = mapped(
      invoice([{ name: 'Haircut', qty: 1, amount: 120, taxInclusive: true, taxes: [{ name: 'VAT', rate: 20 }] }], {
        currency: 'GBP',
      }),
      global,
    );
    assert.equal(r.invoice.GlobalTaxCalculation, 'TaxInclusive');
    assert.equal(itemLines(r.invoice)[0]?.SalesItemLineDetail.TaxInclusiveAmt, 120);
    assert.equal(r.expectedTotal.quickbooks, 120);
  });
  it('uses NotApplicable and no tax codes when nothing is taxed', () => {
    const r = mapped(invoice([{ name: 'Haircut', qty: 1, amount: 100 }], { currency: 'GBP' }), global);
    assert.equal(r.invoice.GlobalTaxCalculation, 'NotApplicable');
    assert.equal(itemLines(r.invoice)[0]?.SalesItemLineDetail.TaxCodeRef, undefined);
  });
  it('puts untaxed lines of a taxed invoice on the zero-rate code', () => {
    const r = mapped(
      invoice(
        [
          { name: 'Haircut', qty: 1, amount: 100, taxes: [{ name: 'VAT', rate: 20 }] },
          { name: 'Wash', qty: 1, amount: 10 },
        ],
        { currency: 'GBP' },
      ),
      global,
    );
    assert.deepEqual(
      itemLines(r.invoice).map((l) => l.SalesItemLineDetail.TaxCodeRef?.value),
      ['10', '12'],
    );
  });
  it('names the tax and the fix when no tax code fits', () => {
    const r = qboInvoiceForCrmInvoice(
      invoice([{ name: 'Haircut', qty: 1, amount: 100, taxes: [{ name: 'Tourism levy', rate: 3 }] }], {
        currency: 'GBP',
      }),
      global,
    );
    assert.equal(r.ok, false);
    if (r.ok) return;
    assert.equal(r.error.code, 'UNMAPPED_TAX');
    assert.match(r.error.message, /"Tourism levy" 3%/);
    assert.match(r.error.fix, /dashboard/);
  });
  it('refuses to guess between codes with the same rate, and follows the explicit mapping', () => {
    const twins: QboTaxCodeInfo[] = [...taxCodes, { id: '15', name: 'VAT 20% services', ratePercents: [20] }];
    const crm = invoice(
      [{ name: 'Haircut', qty: 1, amount: 100, taxes: [{ _id: 'hl-vat', name: 'Standard', rate: 20 }] }],
      { currency: 'GBP' },
    );
    assert.equal(errorCode(crm, { ...global, taxCodes: twins }), 'AMBIGUOUS_TAX_CODE');
    const viaKey = mapped(crm, { ...global, taxCodes: twins, taxCodeMappings: { 'standard|20': '15' } });
    assert.equal(itemLines(viaKey.invoice)[0]?.SalesItemLineDetail.TaxCodeRef?.value, '15');
    const viaId = mapped(crm, { ...global, taxCodes: twins, taxCodeMappings: { 'hl-vat': '10' } });
    assert.equal(itemLines(viaId.invoice)[0]?.SalesItemLineDetail.TaxCodeRef?.value, '10');
    assert.equal(
      errorCode(crm, { ...global, taxCodes: twins, taxCodeMappings: { 'hl-vat': '14' } }),
      'TAX_CODE_NOT_FOUND',
    );
  });
  it('uses the name to choose between codes with the same rate', () => {
    const twins: QboTaxCodeInfo[] = [...taxCodes, { id: '15', name: 'VAT 20% services', ratePercents: [20] }];
    const r = mapped(
      invoice([{ name: 'Haircut', qty: 1, amount: 100, taxes: [{ name: 'VAT 20% Services', rate: 20 }] }], {
        currency: 'GBP',
      }),
      { ...global, taxCodes: twins },
    );
    assert.equal(itemLines(r.invoice)[0]?.SalesItemLineDetail.TaxCodeRef?.value, '15');
  });
  it('asks for a zero-rate code when an untaxed line has none to go on', () => {
    const crm = invoice(
      [
        { name: 'Haircut', qty: 1, amount: 100, taxes: [{ name: 'VAT', rate: 20 }] },
        { name: 'Wash', qty: 1, amount: 10 },
      ],
      { currency: 'GBP' },
    );
    assert.equal(
      errorCode(crm, { ...global, taxCodes: taxCodes.filter((c) => c.id !== '12') }),
      'NO_ZERO_RATE_TAX_CODE',
    );
  });
  it('refuses an invoice mixing tax-inclusive and exclusive items', () => {
    const crm = invoice([
      { name: 'Haircut', qty: 1, amount: 120, taxInclusive: true, taxes: [{ name: 'VAT', rate: 20 }] },
      { name: 'Wash', qty: 1, amount: 10, taxes: [{ name: 'VAT', rate: 20 }] },
    ]);
    assert.equal(errorCode(crm, global), 'MIXED_TAX_INCLUSIVE');
  });
  it('reports the expected difference when QuickBooks rounds per tax code and HighLevel per line', () => {
    // three lines of 0.05 at 10%: HighLevel rounds 0.005 up on each line (0.03 tax), QuickBooks taxes 0.15 once (0.02)
    const items = ['Haircut', 'Wash', 'Hours'].map((name) => ({
      name,
      qty: 1,
      amount: 0.05,
      taxes: [{ name: 'GST', rate: 10 }],
    }));
    const r = mapped(invoice(items, { currency: 'AUD' }), {
      ...global,
      taxCodes: [{ id: '20', name: 'GST', ratePercents: [10] }],
    });
    assert.deepEqual(
      {
        crm: r.expectedTotal.crm,
        quickbooks: r.expectedTotal.quickbooks,
        difference: r.expectedTotal.difference,
        matches: r.expectedTotal.matches,
      },
      { crm: 0.18, quickbooks: 0.17, difference: -1, matches: false },
    );
  });
  it('maps a 100% discount to zero-total invoice with a discount line', () => {
    const r = mapped(
      invoice([{ name: 'Haircut', qty: 1, amount: 50, taxes: [{ name: 'VAT', rate: 20 }] }], {
        currency: 'GBP',
        discount: { type: 'percentage', value: 100 },
      }),
      global,
    );
    assert.equal(r.expectedTotal.quickbooks, 0);
    assert.equal(r.expectedTotal.crm, 0);
  });
});

describe("HighLevel invoice -> QuickBooks Invoice: the bookkeeper's refs", () => {
  const cases: Array<{
    name: string;
    context: Partial<InvoiceContext>;
    classRef?: { value: string };
    departmentRef?: { value: string };
    lineClass?: { value: string };
    items: string[];
  }> = [
    { name: 'nothing mapped', context: {}, items: ['7', '8'] },
    {
      name: 'class on the header, location, a mapped product',
      context: { classRef: { value: '5' }, departmentRef: { value: '6' }, itemIdsByProductId: { 'p-1': '70' } },
      classRef: { value: '5' },
      departmentRef: { value: '6' },
      items: ['70', '8'],
    },
    {
      name: 'class per row',
      context: { lineClassRef: { value: '5' } },
      lineClass: { value: '5' },
      items: ['7', '8'],
    },
  ];
  for (const c of cases) {
    for (const [region, base] of [
      ['US', us],
      ['global', global],
    ] as const) {
      it(`${c.name} (${region})`, () => {
        const crm = invoice([
          { name: 'Design', amount: 100, qty: 1, productId: 'p-1' },
          { name: 'Hosting', amount: 20, qty: 1 },
        ]);
        const { invoice: body } = mapped(crm, { ...base, itemIdsByName: { Design: '7', Hosting: '8' }, ...c.context });
        assert.deepEqual(body.ClassRef, c.classRef);
        assert.deepEqual(body.DepartmentRef, c.departmentRef);
        assert.deepEqual(
          itemLines(body).map((l) => l.SalesItemLineDetail.ItemRef.value),
          c.items,
        );
        for (const line of itemLines(body)) assert.deepEqual(line.SalesItemLineDetail.ClassRef, c.lineClass);
      });
    }
  }
});
