import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Json, Sandbox } from './helpers.ts';
import { createCustomer, createServiceItem, entity, fault, startSandbox } from './helpers.ts';

const itemLine = (itemId: unknown, amount: number, extra: Json = {}): Json => ({
  Amount: amount,
  DetailType: 'SalesItemLineDetail',
  SalesItemLineDetail: { ItemRef: { value: itemId }, ...extra },
});

describe('QuickBooks emulator entities and business rules', () => {
  let sb: Sandbox;
  let item: Json;
  let customer: Json;

  before(async () => {
    sb = await startSandbox();
    item = await createServiceItem(sb, 'Consulting', 100);
    customer = await createCustomer(sb, 'Jane Doe', {
      PrimaryEmailAddr: { Address: 'jane@example.com' },
      BillAddr: { Line1: '1 Main St', City: 'Austin' },
    });
  });
  after(() => sb.close());

  it('creates a customer with QuickBooks defaults, string ids, SyncToken "0", MetaData in the company offset, and an envelope time', async () => {
    const answer = await sb.api('POST', 'customer', { DisplayName: 'Doe5, Jane' });
    assert.equal(answer.status, 200);
    assert.ok(answer.headers.get('intuit_tid'));
    const c = entity(answer, 'Customer');
    assert.equal(typeof c.Id, 'string');
    assert.equal(c.SyncToken, '0');
    assert.equal(c.domain, 'QBO');
    assert.equal(c.sparse, false);
    assert.equal(c.Active, true);
    assert.equal(c.Balance, 0);
    assert.equal(c.FullyQualifiedName, 'Doe5, Jane');
    assert.deepEqual(c.CurrencyRef, { value: 'USD', name: 'United States Dollar' });
    const meta = c.MetaData as Json;
    assert.match(String(meta.CreateTime), /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}-07:00$/);
    assert.match(String(answer.body.time), /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}-07:00$/);
    assert.ok(!answer.text.includes('null'), 'nulls are omitted');
    const read = entity(await sb.api('GET', `customer/${String(c.Id)}`), 'Customer');
    assert.deepEqual(read, c);
  });

  it('builds DisplayName from name parts and refuses a nameless customer (6080)', async () => {
    const c = entity(await sb.api('POST', 'customer', { GivenName: 'Ada', FamilyName: 'Lovelace' }), 'Customer');
    assert.equal(c.DisplayName, 'Ada Lovelace');
    const nameless = await sb.api('POST', 'customer', { CompanyName: '' });
    assert.equal(fault(nameless).code, '6080');
  });

  it('shares one DisplayName namespace across customers, vendors and employees, inactive ones included (6240)', async () => {
    await createCustomer(sb, 'Shared Name');
    const vendor = await sb.api('POST', 'vendor', { DisplayName: 'shared name' });
    assert.equal(vendor.status, 400);
    const f = fault(vendor);
    assert.equal(f.code, '6240');
    assert.equal(f.Message, 'Duplicate Name Exists Error');
    assert.equal(f.type, 'ValidationFault');
    const employee = entity(
      await sb.api('POST', 'employee', { GivenName: 'Emp', FamilyName: 'One', DisplayName: 'Emp One' }),
      'Employee',
    );
    assert.equal(fault(await sb.api('POST', 'customer', { DisplayName: 'Emp One' })).code, '6240');
    // Inactive records keep their name.
    const inactive = entity(await sb.api('POST', 'vendor', { DisplayName: 'Sleepy Vendor' }), 'Vendor');
    entity(
      await sb.api('POST', 'vendor?operation=update', {
        Id: inactive.Id,
        SyncToken: inactive.SyncToken,
        sparse: true,
        Active: false,
      }),
      'Vendor',
    );
    const clash = await sb.api('POST', 'customer', { DisplayName: 'Sleepy Vendor (deleted)' });
    assert.equal(fault(clash).code, '6240');
    assert.ok(employee.Id);
  });

  it('keeps Item names unique (6240) and requires IncomeAccountRef for Service items (2020); bad Type is 2170', async () => {
    assert.equal(
      fault(await sb.api('POST', 'item', { Name: 'consulting', Type: 'Service', IncomeAccountRef: { value: '1' } }))
        .code,
      '6240',
    );
    const missing = await sb.api('POST', 'item', { Name: 'No Account', Type: 'Service' });
    assert.equal(fault(missing).code, '2020');
    assert.equal(fault(missing).Message, 'Required param missing, need to supply the required value for the API');
    assert.equal(
      fault(await sb.api('POST', 'item', { Name: 'Bad Type', Type: 'Gizmo', IncomeAccountRef: { value: '1' } })).code,
      '2170',
    );
    assert.equal(
      fault(await sb.api('POST', 'item', { Name: 'Bad Account', Type: 'Service', IncomeAccountRef: { value: '999' } }))
        .code,
      '2500',
    );
  });

  it('creates accounts and payment methods with unique names (6240) and needs an account type (6010) and an item Type (2020)', async () => {
    const account = await sb.api('POST', 'account', {
      Name: 'Consulting Income',
      AccountType: 'Income',
      AccountSubType: 'ServiceFeeIncome',
    });
    assert.equal(entity(account, 'Account').Classification, 'Revenue');
    assert.equal(
      fault(await sb.api('POST', 'account', { Name: 'consulting income', AccountType: 'Income' })).code,
      '6240',
    );
    assert.equal(fault(await sb.api('POST', 'account', { Name: 'Typeless' })).code, '6010');
    assert.equal(fault(await sb.api('POST', 'account', { Name: 'Weird', AccountType: 'Pocket Money' })).code, '2170');
    assert.equal(
      entity(await sb.api('POST', 'paymentmethod', { Name: 'Bitcoin', Type: 'NON_CREDIT_CARD' }), 'PaymentMethod').Name,
      'Bitcoin',
    );
    assert.equal(fault(await sb.api('POST', 'paymentmethod', { Name: 'visa' })).code, '6240');
    assert.equal(
      fault(await sb.api('POST', 'item', { Name: 'No Type', IncomeAccountRef: { value: '1' } })).code,
      '2020',
    );
  });

  it('refuses unknown properties with 2010, at the top level and nested', async () => {
    const top = await sb.api('POST', 'customer', { DisplayName: 'Prop Test', FavouriteColour: 'blue' });
    assert.equal(fault(top).code, '2010');
    assert.match(fault(top).Detail, /FavouriteColour/);
    const nested = await sb.api('POST', 'invoice', {
      CustomerRef: { value: customer.Id },
      Line: [itemLine(item.Id, 100, { Colour: 'red' })],
    });
    assert.equal(fault(nested).code, '2010');
  });

  it('refuses a non-numeric amount with 2040', async () => {
    const answer = await sb.api('POST', 'invoice', {
      CustomerRef: { value: customer.Id },
      Line: [itemLine(item.Id, 'ten' as unknown as number)],
    });
    assert.equal(fault(answer).code, '2040');
  });

  it('requires CustomerRef and a line on invoices (2020); an item line without ItemRef goes to the default "Services" item', async () => {
    assert.equal(fault(await sb.api('POST', 'invoice', { Line: [itemLine(item.Id, 100)] })).code, '2020');
    assert.equal(
      fault(await sb.api('POST', 'invoice', { CustomerRef: { value: customer.Id }, Line: [] })).code,
      '2020',
    );
    const noItem = entity(
      await sb.api('POST', 'invoice', {
        CustomerRef: { value: customer.Id },
        Line: [{ Amount: 5, DetailType: 'SalesItemLineDetail', SalesItemLineDetail: {} }],
      }),
      'Invoice',
    );
    const line = (noItem.Line as Json[])[0]!;
    assert.deepEqual((line.SalesItemLineDetail as Json).ItemRef, { value: '1', name: 'Services' });
    assert.equal(noItem.TotalAmt, 5);
    assert.equal(
      fault(
        await sb.api('POST', 'invoice', {
          CustomerRef: { value: customer.Id },
          Line: [{ Amount: 5, DetailType: 'Nonsense' }],
        }),
      ).code,
      '2170',
    );
  });

  it('answers 2500 for a reference to nothing and 610 for an inactive one', async () => {
    assert.equal(
      fault(await sb.api('POST', 'invoice', { CustomerRef: { value: '98765' }, Line: [itemLine(item.Id, 100)] })).code,
      '2500',
    );
    const gone = await createCustomer(sb, 'Gone Customer');
    const deleted = await sb.api('POST', 'customer?operation=update', {
      Id: gone.Id,
      SyncToken: gone.SyncToken,
      sparse: true,
      Active: false,
    });
    assert.equal(entity(deleted, 'Customer').DisplayName, 'Gone Customer (deleted)');
    const ref = await sb.api('POST', 'invoice', { CustomerRef: { value: gone.Id }, Line: [itemLine(item.Id, 100)] });
    assert.equal(fault(ref).code, '610');
  });

  it('computes line Amount from Qty x UnitPrice rounded half-up to the cent, and refuses a mismatch with 6070', async () => {
    const inv = entity(
      await sb.api('POST', 'invoice', {
        CustomerRef: { value: customer.Id },
        Line: [itemLine(item.Id, 0.3, { Qty: 3, UnitPrice: 0.1 })],
      }),
      'Invoice',
    );
    assert.equal((inv.Line as Json[])[0]!.Amount, 0.3);
    // 1.005 x 1 = 1.005 -> 1.01 (half up, exact decimal arithmetic; a float would give 1.00).
    const half = entity(
      await sb.api('POST', 'invoice', {
        CustomerRef: { value: customer.Id },
        Line: [
          {
            DetailType: 'SalesItemLineDetail',
            SalesItemLineDetail: { ItemRef: { value: item.Id }, Qty: 1, UnitPrice: 1.005 },
          },
        ],
      }),
      'Invoice',
    );
    assert.equal((half.Line as Json[])[0]!.Amount, 1.01);
    const sevenDecimals = entity(
      await sb.api('POST', 'invoice', {
        CustomerRef: { value: customer.Id },
        Line: [itemLine(item.Id, 12.35, { Qty: 3, UnitPrice: 4.1166667 })],
      }),
      'Invoice',
    );
    assert.equal(sevenDecimals.TotalAmt, 12.35);
    const mismatch = await sb.api('POST', 'invoice', {
      CustomerRef: { value: customer.Id },
      Line: [itemLine(item.Id, 250, { Qty: 2, UnitPrice: 100 })],
    });
    assert.equal(fault(mismatch).code, '6070');
    assert.match(fault(mismatch).Detail, /Amount is not equal to Qty \* UnitPrice/);
  });

  it('adds a SubTotal line, TotalAmt and Balance; ids, LineNum and customer defaults are filled in', async () => {
    const inv = entity(
      await sb.api('POST', 'invoice', {
        CustomerRef: { value: customer.Id },
        Line: [itemLine(item.Id, 100), itemLine(item.Id, 50.25, { Qty: 1, UnitPrice: 50.25 })],
      }),
      'Invoice',
    );
    const lines = inv.Line as Json[];
    assert.equal(lines.length, 3);
    assert.deepEqual(
      lines.map((l) => l.Id),
      ['1', '2', undefined],
    );
    assert.equal(lines[2]!.DetailType, 'SubTotalLineDetail');
    assert.equal(lines[2]!.Amount, 150.25);
    assert.equal(inv.TotalAmt, 150.25);
    assert.equal(inv.Balance, 150.25);
    assert.deepEqual(inv.CustomerRef, { value: customer.Id, name: 'Jane Doe' });
    assert.deepEqual(inv.BillEmail, { Address: 'jane@example.com' });
    assert.equal((inv.TxnTaxDetail as Json).TotalTax, 0);
    assert.match(String(inv.DocNumber), /^\d+$/);
  });

  it('applies percent and amount discount lines', async () => {
    const pct = entity(
      await sb.api('POST', 'invoice', {
        CustomerRef: { value: customer.Id },
        Line: [
          itemLine(item.Id, 199.99),
          { DetailType: 'DiscountLineDetail', DiscountLineDetail: { PercentBased: true, DiscountPercent: 10 } },
        ],
      }),
      'Invoice',
    );
    assert.equal(pct.TotalAmt, 179.99); // 199.99 - 20.00 (19.999 rounds to 20.00)
    const discount = (pct.Line as Json[]).find((l) => l.DetailType === 'DiscountLineDetail')!;
    assert.equal(discount.Amount, 20);
    const amt = entity(
      await sb.api('POST', 'invoice', {
        CustomerRef: { value: customer.Id },
        Line: [
          itemLine(item.Id, 100),
          { Amount: 15.5, DetailType: 'DiscountLineDetail', DiscountLineDetail: { PercentBased: false } },
        ],
      }),
      'Invoice',
    );
    assert.equal(amt.TotalAmt, 84.5);
    const incomplete = await sb.api('POST', 'invoice', {
      CustomerRef: { value: customer.Id },
      Line: [itemLine(item.Id, 100), { DetailType: 'DiscountLineDetail', DiscountLineDetail: { PercentBased: true } }],
    });
    assert.equal(fault(incomplete).code, '6090');
  });

  it('refuses a duplicate DocNumber with 6140 unless include=allowduplicatedocnum', async () => {
    entity(
      await sb.api('POST', 'invoice', {
        DocNumber: 'INV-77',
        CustomerRef: { value: customer.Id },
        Line: [itemLine(item.Id, 10)],
      }),
      'Invoice',
    );
    const dup = await sb.api('POST', 'invoice', {
      DocNumber: 'INV-77',
      CustomerRef: { value: customer.Id },
      Line: [itemLine(item.Id, 10)],
    });
    assert.equal(fault(dup).code, '6140');
    const allowed = await sb.api('POST', 'invoice?include=allowduplicatedocnum', {
      DocNumber: 'INV-77',
      CustomerRef: { value: customer.Id },
      Line: [itemLine(item.Id, 10)],
    });
    assert.equal(entity(allowed, 'Invoice').DocNumber, 'INV-77');
  });

  it('checks SyncToken on update (5010 when stale), supports sparse and full updates, and increments SyncToken', async () => {
    const c = await createCustomer(sb, 'Sync Person', { Notes: 'first', CompanyName: 'Sync Co' });
    const sparse = entity(
      await sb.api('POST', 'customer?operation=update', { Id: c.Id, SyncToken: '0', sparse: true, Notes: 'second' }),
      'Customer',
    );
    assert.equal(sparse.SyncToken, '1');
    assert.equal(sparse.Notes, 'second');
    assert.equal(sparse.CompanyName, 'Sync Co', 'sparse keeps fields not sent');
    const stale = await sb.api('POST', 'customer', { Id: c.Id, SyncToken: '0', sparse: true, Notes: 'third' });
    assert.equal(fault(stale).code, '5010');
    assert.equal(fault(stale).Message, 'Stale Object Error');
    const full = entity(
      await sb.api('POST', 'customer', { Id: c.Id, SyncToken: '1', DisplayName: 'Sync Person' }),
      'Customer',
    );
    assert.equal(full.SyncToken, '2');
    assert.equal(full.CompanyName, undefined, 'a full update clears writable fields left out');
    assert.equal(
      fault(await sb.api('POST', 'customer?operation=update', { Id: '424242', SyncToken: '0', DisplayName: 'x' })).code,
      '610',
    );
  });

  it('links payments to invoices: Balance drops, LinkedTxn appears, customer Balance follows; void by update+include=void restores', async () => {
    const payer = await createCustomer(sb, 'Payer Inc');
    const inv = entity(
      await sb.api('POST', 'invoice', { CustomerRef: { value: payer.Id }, Line: [itemLine(item.Id, 300)] }),
      'Invoice',
    );
    assert.equal(entity(await sb.api('GET', `customer/${String(payer.Id)}`), 'Customer').Balance, 300);
    const payment = entity(
      await sb.api('POST', 'payment', {
        CustomerRef: { value: payer.Id },
        TotalAmt: 120,
        Line: [{ Amount: 100, LinkedTxn: [{ TxnId: inv.Id, TxnType: 'Invoice' }] }],
      }),
      'Payment',
    );
    assert.equal(payment.UnappliedAmt, 20);
    const paid = entity(await sb.api('GET', `invoice/${String(inv.Id)}`), 'Invoice');
    assert.equal(paid.Balance, 200);
    assert.deepEqual(paid.LinkedTxn, [{ TxnId: payment.Id, TxnType: 'Payment' }]);
    assert.equal(entity(await sb.api('GET', `customer/${String(payer.Id)}`), 'Customer').Balance, 180);
    const over = await sb.api('POST', 'payment', {
      CustomerRef: { value: payer.Id },
      TotalAmt: 500,
      Line: [{ Amount: 500, LinkedTxn: [{ TxnId: inv.Id, TxnType: 'Invoice' }] }],
    });
    assert.equal(fault(over).code, '6000');
    const blocked = await sb.api('POST', 'invoice?operation=void', { Id: inv.Id, SyncToken: paid.SyncToken });
    assert.equal(fault(blocked).code, '6000');
    // node-quickbooks voidPayment: update with include=void and sparse=true.
    const voided = entity(
      await sb.api('POST', 'payment?operation=update&include=void', {
        Id: payment.Id,
        SyncToken: payment.SyncToken,
        sparse: true,
      }),
      'Payment',
    );
    assert.equal(voided.TotalAmt, 0);
    assert.equal(voided.PrivateNote, 'Voided');
    assert.equal(voided.SyncToken, '1');
    const restored = entity(await sb.api('GET', `invoice/${String(inv.Id)}`), 'Invoice');
    assert.equal(restored.Balance, 300);
    assert.deepEqual(restored.LinkedTxn, []);
    assert.equal(entity(await sb.api('GET', `customer/${String(payer.Id)}`), 'Customer').Balance, 300);
  });

  it('voids an invoice (amounts zeroed, PrivateNote "Voided", SyncToken+1) and deletes one (stub, then 610)', async () => {
    const inv = entity(
      await sb.api('POST', 'invoice', {
        CustomerRef: { value: customer.Id },
        Line: [itemLine(item.Id, 80, { TaxCodeRef: { value: 'TAX' } })],
      }),
      'Invoice',
    );
    const voided = entity(
      await sb.api('POST', 'invoice?operation=void', { Id: inv.Id, SyncToken: inv.SyncToken }),
      'Invoice',
    );
    assert.equal(voided.Id, inv.Id);
    assert.equal(voided.SyncToken, '1');
    assert.equal(voided.TotalAmt, 0);
    assert.equal(voided.Balance, 0);
    assert.equal(voided.PrivateNote, 'Voided');
    assert.equal((voided.TxnTaxDetail as Json).TotalTax, 0);
    assert.ok((voided.Line as Json[]).every((l) => l.Amount === 0));
    assert.equal(entity(await sb.api('GET', `invoice/${String(inv.Id)}`), 'Invoice').PrivateNote, 'Voided');

    const doomed = entity(
      await sb.api('POST', 'invoice', { CustomerRef: { value: customer.Id }, Line: [itemLine(item.Id, 10)] }),
      'Invoice',
    );
    const deleted = await sb.api('POST', 'invoice?operation=delete', { Id: doomed.Id, SyncToken: doomed.SyncToken });
    assert.deepEqual(deleted.body.Invoice, { domain: 'QBO', status: 'Deleted', Id: doomed.Id });
    assert.equal(fault(await sb.api('GET', `invoice/${String(doomed.Id)}`)).code, '610');
    assert.equal(
      fault(await sb.api('POST', 'invoice?operation=delete', { Id: doomed.Id, SyncToken: doomed.SyncToken })).code,
      '610',
    );
  });

  it('never hard-deletes a customer: delete deactivates it with a " (deleted)" suffix', async () => {
    const c = await createCustomer(sb, 'Temporary Client');
    const answer = entity(
      await sb.api('POST', 'customer?operation=delete', { Id: c.Id, SyncToken: c.SyncToken }),
      'Customer',
    );
    assert.equal(answer.Active, false);
    assert.equal(answer.DisplayName, 'Temporary Client (deleted)');
    assert.equal(entity(await sb.api('GET', `customer/${String(c.Id)}`), 'Customer').Active, false);
    // The original name is free again and reactivation strips the suffix only if the name is still free.
    const back = entity(
      await sb.api('POST', 'customer', { Id: c.Id, SyncToken: answer.SyncToken, sparse: true, Active: true }),
      'Customer',
    );
    assert.equal(back.DisplayName, 'Temporary Client');
  });

  it('sends an invoice: EmailStatus EmailSent with DeliveryInfo', async () => {
    const inv = entity(
      await sb.api('POST', 'invoice', { CustomerRef: { value: customer.Id }, Line: [itemLine(item.Id, 10)] }),
      'Invoice',
    );
    const sent = await sb.api(
      'POST',
      `invoice/${String(inv.Id)}/send?sendTo=${encodeURIComponent('billing@example.com')}`,
      undefined,
      { contentType: 'application/octet-stream' },
    );
    const body = entity(sent, 'Invoice');
    assert.equal(body.EmailStatus, 'EmailSent');
    assert.equal((body.DeliveryInfo as Json).DeliveryType, 'Email');
    assert.deepEqual(body.BillEmail, { Address: 'billing@example.com' });
  });

  it('creates sales receipts into Undeposited Funds, credit memos and refund receipts, and voids a sales receipt', async () => {
    const receipt = entity(
      await sb.api('POST', 'salesreceipt', {
        CustomerRef: { value: customer.Id },
        PaymentMethodRef: { value: '1' },
        Line: [itemLine(item.Id, 42)],
      }),
      'SalesReceipt',
    );
    assert.equal(receipt.TotalAmt, 42);
    assert.equal(receipt.Balance, 0);
    assert.equal((receipt.DepositToAccountRef as Json).name, 'Undeposited Funds');
    const voided = entity(
      await sb.api('POST', 'salesreceipt?operation=void', { Id: receipt.Id, SyncToken: receipt.SyncToken }),
      'SalesReceipt',
    );
    assert.equal(voided.TotalAmt, 0);
    const memo = entity(
      await sb.api('POST', 'creditmemo', { CustomerRef: { value: customer.Id }, Line: [itemLine(item.Id, 5)] }),
      'CreditMemo',
    );
    assert.equal(memo.RemainingCredit, 5);
    const refund = entity(
      await sb.api('POST', 'refundreceipt', { CustomerRef: { value: customer.Id }, Line: [itemLine(item.Id, 7)] }),
      'RefundReceipt',
    );
    assert.equal(refund.TotalAmt, 7);
  });

  it('reads CompanyInfo and Preferences, lists seeded accounts, payment methods and tax codes', async () => {
    const info = entity(await sb.api('GET', `companyinfo/${sb.realmId}`), 'CompanyInfo');
    assert.equal(info.Country, 'US');
    const prefs = entity(await sb.api('GET', 'preferences'), 'Preferences');
    assert.deepEqual((prefs.CurrencyPrefs as Json).HomeCurrency, { value: 'USD' });
    const methods = await sb.api('GET', `query?query=${encodeURIComponent('select * from PaymentMethod')}`);
    assert.ok(((methods.body.QueryResponse as Json).PaymentMethod as Json[]).length >= 3);
    const codes = await sb.api('GET', `query?query=${encodeURIComponent('select * from TaxCode')}`);
    assert.deepEqual(((codes.body.QueryResponse as Json).TaxCode as Json[]).map((c) => c.Id).slice(0, 2), [
      'TAX',
      'NON',
    ]);
    assert.equal(fault(await sb.api('POST', 'taxcode', { Name: 'Nope' })).code, '500');
  });

  it('updates Preferences and CompanyInfo; CustomTxnNumbers turns off automatic DocNumbers; the home currency is fixed', async () => {
    const prefs = entity(await sb.api('GET', 'preferences'), 'Preferences');
    const updated = entity(
      await sb.api('POST', 'preferences', {
        Id: prefs.Id,
        SyncToken: prefs.SyncToken,
        sparse: true,
        SalesFormsPrefs: { ...(prefs.SalesFormsPrefs as Json), CustomTxnNumbers: true },
      }),
      'Preferences',
    );
    assert.equal((updated.SalesFormsPrefs as Json).CustomTxnNumbers, true);
    const manual = entity(
      await sb.api('POST', 'invoice', { CustomerRef: { value: customer.Id }, Line: [itemLine(item.Id, 1)] }),
      'Invoice',
    );
    assert.equal(manual.DocNumber, undefined);
    const home = await sb.api('POST', 'preferences', {
      Id: prefs.Id,
      SyncToken: updated.SyncToken,
      sparse: true,
      CurrencyPrefs: { HomeCurrency: { value: 'EUR' } },
    });
    assert.equal(fault(home).code, '6000');
    const back = entity(
      await sb.api('POST', 'preferences', {
        Id: prefs.Id,
        SyncToken: updated.SyncToken,
        sparse: true,
        SalesFormsPrefs: { ...(prefs.SalesFormsPrefs as Json), CustomTxnNumbers: false },
      }),
      'Preferences',
    );
    assert.equal((back.SalesFormsPrefs as Json).CustomTxnNumbers, false);
    const info = entity(await sb.api('GET', `companyinfo/${sb.realmId}`), 'CompanyInfo');
    const renamed = entity(
      await sb.api('POST', 'companyinfo', {
        Id: info.Id,
        SyncToken: info.SyncToken,
        sparse: true,
        CompanyName: 'Renamed Ltd',
      }),
      'CompanyInfo',
    );
    assert.equal(renamed.CompanyName, 'Renamed Ltd');
    assert.equal(renamed.Country, 'US');
    // A company that does not enforce unique numbers accepts a reused DocNumber.
    await sb.admin('PATCH', `/companies/${sb.realmId}`, { enforceUniqueDocNumbers: false });
    for (let i = 0; i < 2; i++)
      entity(
        await sb.api('POST', 'invoice', {
          DocNumber: 'SAME-1',
          CustomerRef: { value: customer.Id },
          Line: [itemLine(item.Id, 1)],
        }),
        'Invoice',
      );
    await sb.admin('PATCH', `/companies/${sb.realmId}`, { enforceUniqueDocNumbers: true });
  });

  it('answers bad requests as Intuit does: malformed JSON, wrong content type, unknown paths', async () => {
    const malformed = await sb.api('POST', 'customer', undefined, { raw: '{"DisplayName": ' });
    assert.equal(malformed.status, 400);
    assert.equal(fault(malformed).code, '2010');
    assert.match(fault(malformed).Detail, /failed to parse json object/);
    const wrongType = await sb.api('POST', 'customer', undefined, {
      raw: 'DisplayName=x',
      contentType: 'application/x-www-form-urlencoded',
    });
    assert.equal(wrongType.status, 415);
    assert.ok(wrongType.body.Fault);
    const unknown = await sb.api('GET', 'widgets/1');
    assert.equal(unknown.status, 400);
    assert.equal(fault(unknown).code, '500');
    assert.equal(fault(unknown).Message, 'Unsupported Operation');
    const badOp = await sb.api('POST', 'customer?operation=explode', { DisplayName: 'x' });
    assert.equal(fault(badOp).code, '500');
  });

  it('refuses a currency other than the home currency when multicurrency is off', async () => {
    const eur = await sb.api('POST', 'customer', { DisplayName: 'Euro Client', CurrencyRef: { value: 'EUR' } });
    assert.equal(fault(eur).code, '6000');
  });
});
