import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Json, Sandbox } from './helpers.ts';
import { createCustomer, createServiceItem, entity, fault, startSandbox } from './helpers.ts';

async function byName(sb: Sandbox, entityName: string, name: string): Promise<Json> {
  const answer = await sb.api(
    'GET',
    `query?query=${encodeURIComponent(`select * from ${entityName} where Name = '${name}'`)}`,
  );
  const list = (answer.body.QueryResponse as Json)[entityName] as Json[] | undefined;
  if (!list?.[0]) throw new Error(`no ${entityName} named ${name}`);
  return list[0];
}

const line = (itemId: unknown, amount: number, taxCode?: unknown): Json => ({
  Amount: amount,
  DetailType: 'SalesItemLineDetail',
  SalesItemLineDetail: {
    ItemRef: { value: itemId },
    ...(taxCode !== undefined ? { TaxCodeRef: { value: taxCode } } : {}),
  },
});

describe('QuickBooks emulator tax: US companies', () => {
  it('taxes TAX lines at the company rate, with and without ApplyTaxAfterDiscount, and accepts only TAX/NON on lines', async () => {
    const sb = await startSandbox({ country: 'US', companyOptions: { salesTaxPercent: 8.25 } });
    try {
      const item = await createServiceItem(sb, 'Labour', 100);
      const c = await createCustomer(sb, 'Tax Payer');
      const lines = [
        line(item.Id, 100, 'TAX'),
        line(item.Id, 50, 'NON'),
        { DetailType: 'DiscountLineDetail', DiscountLineDetail: { PercentBased: true, DiscountPercent: 10 } },
      ];
      const before = entity(await sb.api('POST', 'invoice', { CustomerRef: { value: c.Id }, Line: lines }), 'Invoice');
      assert.equal((before.TxnTaxDetail as Json).TotalTax, 8.25);
      assert.equal(before.TotalAmt, 143.25);
      const afterDiscount = entity(
        await sb.api('POST', 'invoice', { CustomerRef: { value: c.Id }, ApplyTaxAfterDiscount: true, Line: lines }),
        'Invoice',
      );
      // Taxable base 100 - 15 x 100/150 = 90; 90 x 8.25% = 7.425 -> 7.43 (half up).
      const detail = afterDiscount.TxnTaxDetail as Json;
      assert.equal(detail.TotalTax, 7.43);
      assert.equal(afterDiscount.TotalAmt, 142.43);
      const taxLine = (detail.TaxLine as Json[])[0]!;
      assert.deepEqual((taxLine.TaxLineDetail as Json).NetAmountTaxable, 90);
      assert.deepEqual((taxLine.TaxLineDetail as Json).TaxPercent, 8.25);
      assert.equal(
        fault(await sb.api('POST', 'invoice', { CustomerRef: { value: c.Id }, Line: [line(item.Id, 10, 'GST')] })).code,
        '6100',
      );
      const badRate = await sb.api('POST', 'invoice', {
        CustomerRef: { value: c.Id },
        TxnTaxDetail: { TxnTaxCodeRef: { value: '777' } },
        Line: [line(item.Id, 10, 'TAX')],
      });
      assert.equal(fault(badRate).code, '2500');
      const untaxed = entity(
        await sb.api('POST', 'invoice', { CustomerRef: { value: c.Id }, Line: [line(item.Id, 10)] }),
        'Invoice',
      );
      assert.deepEqual(
        (untaxed.Line as Json[])[0]!.SalesItemLineDetail &&
          ((untaxed.Line as Json[])[0]!.SalesItemLineDetail as Json).TaxCodeRef,
        { value: 'NON' },
      );
      assert.equal((untaxed.TxnTaxDetail as Json).TotalTax, 0);
      assert.equal(untaxed.GlobalTaxCalculation, undefined);
    } finally {
      await sb.close();
    }
  });
});

describe('QuickBooks emulator tax: non-US companies', () => {
  it('CA, TaxExcluded: per-line codes, one TaxLine per rate, GST/PST combined code', async () => {
    const sb = await startSandbox({ country: 'CA' });
    try {
      const item = await createServiceItem(sb, 'Service CA', 100);
      const c = await createCustomer(sb, 'Canadian Client');
      const gstPst = await byName(sb, 'TaxCode', 'GST/PST BC');
      const hst = await byName(sb, 'TaxCode', 'HST ON');
      const exempt = await byName(sb, 'TaxCode', 'Exempt');
      const inv = entity(
        await sb.api('POST', 'invoice', {
          CustomerRef: { value: c.Id },
          GlobalTaxCalculation: 'TaxExcluded',
          Line: [line(item.Id, 100, gstPst.Id), line(item.Id, 200, hst.Id), line(item.Id, 50, exempt.Id)],
        }),
        'Invoice',
      );
      const detail = inv.TxnTaxDetail as Json;
      assert.equal(detail.TotalTax, 38);
      assert.equal(inv.TotalAmt, 388);
      assert.deepEqual(
        Object.fromEntries(
          (detail.TaxLine as Json[]).map((t) => [((t.TaxLineDetail as Json).TaxRateRef as Json).name, t.Amount]),
        ),
        { GST: 5, 'PST BC': 7, 'HST ON': 26, Exempt: 0 },
      );
      assert.equal(inv.CurrencyRef && (inv.CurrencyRef as Json).value, 'CAD');
    } finally {
      await sb.close();
    }
  });

  it('CA, TaxInclusive: a gross TaxInclusiveAmt gives the net Amount and exact tax; a plain Amount is net; NotApplicable adds no tax', async () => {
    const sb = await startSandbox({ country: 'CA' });
    try {
      const item = await createServiceItem(sb, 'Service CA', 100);
      const c = await createCustomer(sb, 'Inclusive Client');
      const gstPst = await byName(sb, 'TaxCode', 'GST/PST BC');
      const hst = await byName(sb, 'TaxCode', 'HST ON');
      const grossLine = (amount: number, code: unknown): Json => ({
        DetailType: 'SalesItemLineDetail',
        SalesItemLineDetail: { ItemRef: { value: item.Id }, TaxCodeRef: { value: code }, TaxInclusiveAmt: amount },
      });
      const inv = entity(
        await sb.api('POST', 'invoice', {
          CustomerRef: { value: c.Id },
          GlobalTaxCalculation: 'TaxInclusive',
          Line: [grossLine(113, hst.Id), grossLine(10, gstPst.Id)],
        }),
        'Invoice',
      );
      const detail = inv.TxnTaxDetail as Json;
      // HST: 113 x 13/113 = 13.00 (net 100); GST+PST in 10.00 gross: 10 x 12/112 = 1.07 (net 8.93), split 0.45 / 0.62.
      assert.deepEqual(
        (inv.Line as Json[]).slice(0, 2).map((l) => [l.Amount, (l.SalesItemLineDetail as Json).TaxInclusiveAmt]),
        [
          [100, 113],
          [8.93, 10],
        ],
      );
      assert.equal(detail.TotalTax, 14.07);
      assert.equal(inv.TotalAmt, 123);
      const byRate = Object.fromEntries(
        (detail.TaxLine as Json[]).map((t) => [
          ((t.TaxLineDetail as Json).TaxRateRef as Json).name,
          [t.Amount, (t.TaxLineDetail as Json).NetAmountTaxable],
        ]),
      );
      assert.deepEqual(byRate, { 'HST ON': [13, 100], GST: [0.45, 8.93], 'PST BC': [0.62, 8.93] });
      const net = entity(
        await sb.api('POST', 'invoice', {
          CustomerRef: { value: c.Id },
          GlobalTaxCalculation: 'TaxInclusive',
          Line: [line(item.Id, 100, hst.Id)],
        }),
        'Invoice',
      );
      assert.equal(net.TotalAmt, 113, 'Line.Amount is net of tax');
      assert.equal(((net.Line as Json[])[0]!.SalesItemLineDetail as Json).TaxInclusiveAmt, 113);
      const none = entity(
        await sb.api('POST', 'invoice', {
          CustomerRef: { value: c.Id },
          GlobalTaxCalculation: 'NotApplicable',
          Line: [line(item.Id, 100)],
        }),
        'Invoice',
      );
      assert.equal((none.TxnTaxDetail as Json).TotalTax, 0);
      assert.equal(none.TotalAmt, 100);
      assert.equal(
        fault(await sb.api('POST', 'invoice', { CustomerRef: { value: c.Id }, Line: [line(item.Id, 100)] })).code,
        '6000',
      );
      assert.equal(
        fault(
          await sb.api('POST', 'invoice', {
            CustomerRef: { value: c.Id },
            GlobalTaxCalculation: 'Sometimes',
            Line: [line(item.Id, 100, hst.Id)],
          }),
        ).code,
        '2170',
      );
      // The item's sales tax code is used when the line names none.
      const coded = await createServiceItem(sb, 'Coded Service', 50, { SalesTaxCodeRef: { value: hst.Id } });
      const fromItem = entity(
        await sb.api('POST', 'invoice', { CustomerRef: { value: c.Id }, Line: [line(coded.Id, 50)] }),
        'Invoice',
      );
      assert.equal((fromItem.TxnTaxDetail as Json).TotalTax, 6.5);
    } finally {
      await sb.close();
    }
  });

  it('GB VAT 20% with a discount spread before tax', async () => {
    const sb = await startSandbox({ country: 'GB' });
    try {
      const item = await createServiceItem(sb, 'Service GB', 100);
      const c = await createCustomer(sb, 'British Client');
      const standard = await byName(sb, 'TaxCode', '20.0% S');
      const inv = entity(
        await sb.api('POST', 'invoice', {
          CustomerRef: { value: c.Id },
          Line: [
            line(item.Id, 99.99, standard.Id),
            { Amount: 9.99, DetailType: 'DiscountLineDetail', DiscountLineDetail: { PercentBased: false } },
          ],
        }),
        'Invoice',
      );
      // (99.99 - 9.99) x 20% = 18.00; total 90.00 + 18.00.
      assert.equal((inv.TxnTaxDetail as Json).TotalTax, 18);
      assert.equal(inv.TotalAmt, 108);
      assert.deepEqual(inv.CurrencyRef, { value: 'GBP', name: 'British Pound Sterling' });
      assert.equal(inv.GlobalTaxCalculation, 'TaxExcluded');
    } finally {
      await sb.close();
    }
  });
});

describe('QuickBooks emulator multicurrency', () => {
  it('sets a customer currency on create only and requires transactions in that currency; home amounts use the exchange rate', async () => {
    const sb = await startSandbox({
      country: 'US',
      companyOptions: { multiCurrency: true, exchangeRates: { EUR: '1.1' } },
    });
    try {
      const prefs = entity(await sb.api('GET', 'preferences'), 'Preferences');
      assert.equal((prefs.CurrencyPrefs as Json).MultiCurrencyEnabled, true);
      const item = await createServiceItem(sb, 'Euro Service', 100);
      const eur = await createCustomer(sb, 'Euro Client', { CurrencyRef: { value: 'EUR' } });
      assert.deepEqual(eur.CurrencyRef, { value: 'EUR', name: 'Euro' });
      const change = await sb.api('POST', 'customer', {
        Id: eur.Id,
        SyncToken: eur.SyncToken,
        sparse: true,
        CurrencyRef: { value: 'USD' },
      });
      assert.equal(fault(change).code, '6000');
      const inv = entity(
        await sb.api('POST', 'invoice', { CustomerRef: { value: eur.Id }, Line: [line(item.Id, 100)] }),
        'Invoice',
      );
      assert.equal((inv.CurrencyRef as Json).value, 'EUR');
      assert.equal(inv.ExchangeRate, 1.1);
      assert.equal(inv.HomeTotalAmt, 110);
      const mismatch = await sb.api('POST', 'invoice', {
        CustomerRef: { value: eur.Id },
        CurrencyRef: { value: 'USD' },
        Line: [line(item.Id, 100)],
      });
      assert.equal(fault(mismatch).code, '6000');
    } finally {
      await sb.close();
    }
  });
});
