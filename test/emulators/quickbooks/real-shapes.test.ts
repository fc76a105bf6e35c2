// The emulator's answers checked against the shapes of real QuickBooks Online answers. The table below is hand-written
// from recordings of real sandbox traffic (nothing is copied from them): the keys every recorded answer carried, their
// JSON types and the formats of their timestamps. Sources, cited per row:
//   NANGO = NangoHQ/integration-templates integrations/quickbooks/tests/<file>.test.json (recorded 2026)
//   VCR   = minimul/qbo_api spec/vcr/<file>.yml (recorded 2020)
// A key belongs in a row only when every recorded instance carried it, so a missing real field fails here.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ApiAnswer, Json, Sandbox } from './helpers.ts';
import { createServiceItem, entity, startSandbox } from './helpers.ts';

type Kind = 'string' | 'number' | 'boolean' | 'object' | 'array' | 'ref' | 'date' | 'meta' | 'id';

const ENTITY_KEYS: Record<string, { source: string; keys: Record<string, Kind> }> = {
  Customer: {
    source: 'NANGO customers, list-customers, get-customer; VCR all/customers, create/customer',
    keys: {
      Taxable: 'boolean',
      Job: 'boolean',
      BillWithParent: 'boolean',
      Balance: 'number',
      BalanceWithJobs: 'number',
      CurrencyRef: 'ref',
      PreferredDeliveryMethod: 'string',
      IsProject: 'boolean',
      domain: 'string',
      sparse: 'boolean',
      Id: 'id',
      SyncToken: 'string',
      MetaData: 'meta',
      FullyQualifiedName: 'string',
      DisplayName: 'string',
      PrintOnCheckName: 'string',
      Active: 'boolean',
    },
  },
  Item: {
    source: 'NANGO items, list-items, get-item, create-item',
    keys: {
      Name: 'string',
      Active: 'boolean',
      FullyQualifiedName: 'string',
      Taxable: 'boolean',
      UnitPrice: 'number',
      Type: 'string',
      IncomeAccountRef: 'ref',
      PurchaseCost: 'number',
      TrackQtyOnHand: 'boolean',
      domain: 'string',
      sparse: 'boolean',
      Id: 'id',
      SyncToken: 'string',
      MetaData: 'meta',
    },
  },
  Account: {
    source: 'NANGO accounts, list-accounts, get-account, create-account',
    keys: {
      Name: 'string',
      SubAccount: 'boolean',
      FullyQualifiedName: 'string',
      Active: 'boolean',
      Classification: 'string',
      AccountType: 'string',
      AccountSubType: 'string',
      CurrentBalance: 'number',
      CurrentBalanceWithSubAccounts: 'number',
      CurrencyRef: 'ref',
      domain: 'string',
      sparse: 'boolean',
      Id: 'id',
      SyncToken: 'string',
      MetaData: 'meta',
    },
  },
  Invoice: {
    source: 'NANGO invoices, list-invoices, get-invoice, create-invoice; VCR create/invoice, void/invoice',
    keys: {
      AllowIPNPayment: 'boolean',
      AllowOnlinePayment: 'boolean',
      AllowOnlineCreditCardPayment: 'boolean',
      AllowOnlineACHPayment: 'boolean',
      domain: 'string',
      sparse: 'boolean',
      Id: 'id',
      SyncToken: 'string',
      MetaData: 'meta',
      CustomField: 'array',
      DocNumber: 'string',
      TxnDate: 'date',
      CurrencyRef: 'ref',
      LinkedTxn: 'array',
      Line: 'array',
      TxnTaxDetail: 'object',
      CustomerRef: 'ref',
      BillAddr: 'object',
      DueDate: 'date',
      TotalAmt: 'number',
      ApplyTaxAfterDiscount: 'boolean',
      PrintStatus: 'string',
      EmailStatus: 'string',
      Balance: 'number',
    },
  },
  SalesReceipt: {
    source: 'VCR all/sales_receipts, update/sales_receipt, batch/basic',
    keys: {
      domain: 'string',
      sparse: 'boolean',
      Id: 'id',
      SyncToken: 'string',
      MetaData: 'meta',
      CustomField: 'array',
      DocNumber: 'string',
      TxnDate: 'date',
      CurrencyRef: 'ref',
      Line: 'array',
      TxnTaxDetail: 'object',
      TotalAmt: 'number',
      ApplyTaxAfterDiscount: 'boolean',
      PrintStatus: 'string',
      EmailStatus: 'string',
      Balance: 'number',
      DepositToAccountRef: 'ref',
    },
  },
  Payment: {
    source: 'NANGO payments, list-payments, get-payment, create-payment',
    keys: {
      CustomerRef: 'ref',
      TotalAmt: 'number',
      UnappliedAmt: 'number',
      ProcessPayment: 'boolean',
      domain: 'string',
      sparse: 'boolean',
      Id: 'id',
      SyncToken: 'string',
      MetaData: 'meta',
      TxnDate: 'date',
      CurrencyRef: 'ref',
      Line: 'array',
    },
  },
};

// Parts inside entities (same recordings as their entity rows).
const SALES_ITEM_LINE_KEYS: Record<string, Kind> = {
  Id: 'string',
  LineNum: 'number',
  Amount: 'number',
  DetailType: 'string',
  SalesItemLineDetail: 'object',
  CustomExtensions: 'array',
}; // NANGO invoices
const SALES_ITEM_DETAIL_KEYS: Record<string, Kind> = { ItemRef: 'ref', TaxCodeRef: 'ref' }; // NANGO invoices; VCR create/invoice
const SUBTOTAL_LINE_KEYS: Record<string, Kind> = {
  Amount: 'number',
  DetailType: 'string',
  SubTotalLineDetail: 'object',
}; // NANGO invoices
const LINKED_TXN_KEYS: Record<string, Kind> = { TxnId: 'string', TxnType: 'string' }; // NANGO invoices, payments
const PAYMENT_LINE_KEYS: Record<string, Kind> = { Amount: 'number', LinkedTxn: 'array', LineEx: 'object' }; // NANGO list-payments (lines applying to invoices)
const LINE_EX_ITEM_KEYS: Record<string, Kind> = {
  name: 'string',
  declaredType: 'string',
  scope: 'string',
  value: 'object',
  nil: 'boolean',
  globalScope: 'boolean',
  typeSubstituted: 'boolean',
}; // NANGO list-payments
const LINE_EX_NAMES = ['txnId', 'txnOpenBalance', 'txnReferenceNumber']; // NANGO list-payments: Value of txnOpenBalance has two decimals ("387.00")

// Formats: MetaData times have seconds and the company offset, no milliseconds; an answer's `time` has milliseconds
// (VCR create/invoice: "2020-09-29T05:58:07-07:00" and time "2020-09-29T05:58:07.300-07:00"; NANGO the same forms).
const META_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}[+-]\d{2}:\d{2}$/;
const ANSWER_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}[+-]\d{2}:\d{2}$/;
const DATE = /^\d{4}-\d{2}-\d{2}$/;

// Faults (status, Fault keys, code, Message, element, whether the answer has `time`):
//   malformed id   GET customer/1.5 -> 400, code 2030 "Invalid ID", element "Id", Detail "Id should be a valid number.
//                  Supplied value:1.5", no time                                         (VCR error/500.yml)
//   duplicate name POST customer -> 400, code 6240 "Duplicate Name Exists Error", no element, time (VCR error/validation.yml)
//   bad property   POST invoice -> 400, code 2010 "Request has invalid or unsupported property", no element, time (VCR error/400_json.yml)
//   bad entity     query Custmoer -> 400, code 4001 "Invalid query", Detail "QueryValidationError: invalid context
//                  declaration: Custmoer", time                                           (VCR error/400.yml)
//   batch items    610 "Object Not Found" and 5010 "Stale Object Error", element "", type ValidationFault (VCR batch/basic.yml)

function kindOf(value: unknown): Kind | 'other' {
  if (Array.isArray(value)) return 'array';
  if (value === null) return 'other';
  return typeof value as Kind;
}

function checkKeys(where: string, record: unknown, keys: Record<string, Kind>, problems: string[]): void {
  if (typeof record !== 'object' || record === null || Array.isArray(record)) {
    problems.push(`${where}: not an object`);
    return;
  }
  const r = record as Json;
  for (const [key, kind] of Object.entries(keys)) {
    const value = r[key];
    if (value === undefined) {
      problems.push(`${where}.${key} is missing`);
      continue;
    }
    const ok =
      kind === 'ref'
        ? typeof value === 'object' && value !== null && typeof (value as Json).value === 'string'
        : kind === 'id'
          ? typeof value === 'string' && /^\d+$/.test(value)
          : kind === 'date'
            ? typeof value === 'string' && DATE.test(value)
            : kind === 'meta'
              ? typeof value === 'object' &&
                value !== null &&
                META_TIME.test(String((value as Json).CreateTime)) &&
                META_TIME.test(String((value as Json).LastUpdatedTime))
              : kindOf(value) === kind;
    if (!ok) problems.push(`${where}.${key} is not ${kind}: ${JSON.stringify(value)}`);
  }
}

function checkEntity(name: string, record: unknown, problems: string[]): void {
  checkKeys(name, record, ENTITY_KEYS[name]!.keys, problems);
}

function checkEnvelope(answer: ApiAnswer, problems: string[], where: string): void {
  if (answer.status !== 200) problems.push(`${where}: HTTP ${answer.status} ${answer.text.slice(0, 200)}`);
  if (!ANSWER_TIME.test(String(answer.body.time)))
    problems.push(`${where}: time ${String(answer.body.time)} is not like 2020-09-29T05:58:07.300-07:00`);
}

const q = (text: string): string => `query?query=${encodeURIComponent(text)}`;

describe('QuickBooks emulator answers in the shapes of real QuickBooks Online', () => {
  let sb: Sandbox;
  let item: Json;
  let customer: Json;
  let invoice: Json;

  before(async () => {
    sb = await startSandbox();
    item = await createServiceItem(sb, 'Shape Service', 40);
    customer = entity(
      await sb.api('POST', 'customer', {
        DisplayName: 'Shape Customer',
        PrimaryEmailAddr: { Address: 'shape@example.com' },
        BillAddr: { Line1: '1 Main St', City: 'Mountain View', CountrySubDivisionCode: 'CA', PostalCode: '94043' },
      }),
      'Customer',
    );
    invoice = entity(
      await sb.api('POST', 'invoice', {
        CustomerRef: { value: customer.Id },
        Line: [
          {
            Amount: 80,
            DetailType: 'SalesItemLineDetail',
            SalesItemLineDetail: { ItemRef: { value: item.Id }, Qty: 2, UnitPrice: 40 },
          },
        ],
      }),
      'Invoice',
    );
  });
  after(() => sb.close());

  it('answers entities with every key real answers always carry (Customer, Item, Account, Invoice, SalesReceipt)', async () => {
    const problems: string[] = [];
    for (const [name, path] of [
      ['Customer', `customer/${String(customer.Id)}`],
      ['Item', `item/${String(item.Id)}`],
      ['Invoice', `invoice/${String(invoice.Id)}`],
    ] as const) {
      const answer = await sb.api('GET', path);
      checkEnvelope(answer, problems, `GET ${path}`);
      checkEntity(name, answer.body[name], problems);
    }
    const accounts = await sb.api('GET', q('select * from Account'));
    for (const account of (accounts.body.QueryResponse as Json).Account as Json[])
      checkEntity('Account', account, problems);

    const lines = invoice.Line as Json[];
    checkKeys('Invoice.Line[0]', lines[0], SALES_ITEM_LINE_KEYS, problems);
    checkKeys('Invoice.Line[0].SalesItemLineDetail', lines[0]!.SalesItemLineDetail, SALES_ITEM_DETAIL_KEYS, problems);
    checkKeys(
      'Invoice.Line[1]',
      lines.find((l) => l.DetailType === 'SubTotalLineDetail'),
      SUBTOTAL_LINE_KEYS,
      problems,
    );
    assert.deepEqual(invoice.LinkedTxn, [], 'LinkedTxn is present even when empty (VCR create/invoice)');

    const receipt = await sb.api('POST', 'salesreceipt', {
      CustomerRef: { value: customer.Id },
      Line: [{ Amount: 40, DetailType: 'SalesItemLineDetail', SalesItemLineDetail: { ItemRef: { value: item.Id } } }],
    });
    checkEnvelope(receipt, problems, 'POST salesreceipt');
    checkEntity('SalesReceipt', receipt.body.SalesReceipt, problems);
    assert.deepEqual(problems, []);
  });

  it('answers a payment applied to an invoice with LineEx on its line, and links it from the invoice', async () => {
    const problems: string[] = [];
    const created = await sb.api('POST', 'payment', {
      CustomerRef: { value: customer.Id },
      TotalAmt: 30,
      Line: [{ Amount: 30, LinkedTxn: [{ TxnId: invoice.Id, TxnType: 'Invoice' }] }],
    });
    checkEnvelope(created, problems, 'POST payment');
    const payment = created.body.Payment as Json;
    checkEntity('Payment', payment, problems);
    const line = (payment.Line as Json[])[0]!;
    checkKeys('Payment.Line[0]', line, PAYMENT_LINE_KEYS, problems);
    for (const link of line.LinkedTxn as Json[])
      checkKeys('Payment.Line[0].LinkedTxn', link, LINKED_TXN_KEYS, problems);
    const any = (line.LineEx as Json).any as Json[];
    for (const element of any) checkKeys('Payment.Line[0].LineEx.any', element, LINE_EX_ITEM_KEYS, problems);
    assert.deepEqual(problems, []);
    const values = Object.fromEntries(any.map((e) => [(e.value as Json).Name, (e.value as Json).Value]));
    assert.deepEqual(Object.keys(values), LINE_EX_NAMES);
    assert.deepEqual(values, { txnId: invoice.Id, txnOpenBalance: '80.00', txnReferenceNumber: invoice.DocNumber });

    const linked = entity(await sb.api('GET', `invoice/${String(invoice.Id)}`), 'Invoice');
    assert.deepEqual(linked.LinkedTxn, [{ TxnId: payment.Id, TxnType: 'Payment' }]);
    const unapplied = entity(
      await sb.api('POST', 'payment', { CustomerRef: { value: customer.Id }, TotalAmt: 5 }),
      'Payment',
    );
    assert.deepEqual(unapplied.Line, [], 'an unapplied payment answers Line: [] (NANGO get-payment)');
  });

  it('answers query, count, empty-query, CDC and batch envelopes like real ones', async () => {
    const problems: string[] = [];
    const found = await sb.api('GET', q('select * from Customer'));
    checkEnvelope(found, problems, 'query');
    const response = found.body.QueryResponse as Json;
    assert.deepEqual(Object.keys(response).sort(), ['Customer', 'maxResults', 'startPosition']);
    const none = await sb.api('GET', q("select * from Customer where DisplayName = 'Nobody At All'"));
    assert.deepEqual(none.body.QueryResponse, {}); // VCR all/alt_select.yml
    const counted = await sb.api('GET', q('select count(*) from Customer'));
    assert.deepEqual(Object.keys(counted.body.QueryResponse as Json), ['totalCount']); // VCR all/customers.yml

    const since = new Date(sb.emulator.clock.nowMs() - 3_600_000).toISOString().replace(/\.\d{3}Z$/, 'Z');
    const cdc = await sb.api('GET', `cdc?entities=Customer,Invoice&changedSince=${encodeURIComponent(since)}`);
    checkEnvelope(cdc, problems, 'cdc');
    const sets = (cdc.body.CDCResponse as Json[])[0]!.QueryResponse as Json[]; // VCR cdc/basic.yml: CDCResponse[0].QueryResponse[]
    assert.ok(
      sets.some((s) => Array.isArray(s.Customer)) &&
        sets.every((s) => typeof s.startPosition === 'number' && typeof s.maxResults === 'number'),
    );

    const batch = await sb.api('POST', 'batch', {
      BatchItemRequest: [
        { bId: 'b1', operation: 'update', Customer: { Id: customer.Id, SyncToken: '99', sparse: true, Notes: 'x' } },
        { bId: 'b2', operation: 'delete', Invoice: { Id: '99999', SyncToken: '0' } },
        { bId: 'b3', Query: 'select * from Item' },
      ],
    });
    checkEnvelope(batch, problems, 'batch');
    const items = batch.body.BatchItemResponse as Json[];
    assert.deepEqual(
      items.map((i) => i.bId),
      ['b1', 'b2', 'b3'],
    );
    for (const [index, code, message] of [
      [0, '5010', 'Stale Object Error'],
      [1, '610', 'Object Not Found'],
    ] as const) {
      const f = items[index]!.Fault as Json;
      assert.equal(f.type, 'ValidationFault');
      const error = (f.Error as Json[])[0]!;
      assert.deepEqual([error.code, error.Message, error.element], [code, message, '']);
      assert.equal(typeof error.Detail, 'string');
    }
    assert.ok(Array.isArray((items[2]!.QueryResponse as Json).Item));
    assert.deepEqual(problems, []);
  });

  it('answers faults like real ones: malformed id (2030), duplicate name, bad property, unknown entity', async () => {
    const malformed = await sb.api('GET', 'customer/1.5');
    assert.equal(malformed.status, 400);
    assert.deepEqual(malformed.body, {
      Fault: {
        Error: [
          {
            Message: 'Invalid ID',
            Detail: 'Id should be a valid number. Supplied value:1.5',
            code: '2030',
            element: 'Id',
          },
        ],
        type: 'ValidationFault',
      },
    });
    assert.equal(fault2030(await sb.api('GET', 'invoice/abc')), true);

    const checks: Array<[ApiAnswer, string, string]> = [
      [await sb.api('POST', 'customer', { DisplayName: 'Shape Customer' }), '6240', 'Duplicate Name Exists Error'],
      [
        await sb.api('POST', 'invoice', { CustomerRef: { value: customer.Id }, BadJson: 1 }),
        '2010',
        'Request has invalid or unsupported property',
      ],
      [await sb.api('GET', q('select * from Custmoer')), '4001', 'Invalid query'],
    ];
    for (const [answer, code, message] of checks) {
      assert.equal(answer.status, 400);
      assert.ok(ANSWER_TIME.test(String(answer.body.time)), `${code} carries time`);
      const f = answer.body.Fault as Json;
      assert.equal(f.type, 'ValidationFault');
      const error = (f.Error as Json[])[0]!;
      assert.deepEqual([error.code, error.Message, 'element' in error], [code, message, false]);
    }
    assert.equal(
      ((checks[2]![0].body.Fault as Json).Error as Json[])[0]!.Detail,
      'QueryValidationError: invalid context declaration: Custmoer',
    );

    const notFound = await sb.api('GET', 'invoice/99999');
    assert.equal(notFound.status, 400);
    assert.equal(((notFound.body.Fault as Json).Error as Json[])[0]!.code, '610');
  });

  it('answers a query on a real entity type it does not model as a company without any (not 4001)', async () => {
    for (const text of [
      'select * from Bill',
      "select * from Estimate where TxnDate > '2024-01-01'",
      'SELECT * FROM purchaseorder',
    ]) {
      const answer = await sb.api('GET', q(text));
      assert.equal(answer.status, 200, text);
      assert.deepEqual(answer.body.QueryResponse, {}, text);
    }
    assert.deepEqual((await sb.api('GET', q('select count(*) from JournalEntry'))).body.QueryResponse, {
      totalCount: 0,
    });
  });

  it('answers a property that is not declared for the unmodeled entity with 4001 as before', async () => {
    const answer = await sb.api('GET', q("select * from Bill where NotAField = 'x'"));
    assert.equal(((answer.body.Fault as Json).Error as Json[])[0]!.code, '4001');
  });
});

function fault2030(answer: ApiAnswer): boolean {
  const error = ((answer.body.Fault as Json | undefined)?.Error as Json[] | undefined)?.[0];
  return answer.status === 400 && error?.code === '2030' && error.element === 'Id' && answer.body.time === undefined;
}

describe('QuickBooks emulator company with sample data', () => {
  let sb: Sandbox;
  before(async () => {
    sb = await startSandbox({ companyOptions: { sampleData: true } });
  });
  after(() => sb.close());

  it('holds Expense accounts, items and customers like a real sandbox company', async () => {
    const rows = async (text: string): Promise<Json[]> =>
      (((await sb.api('GET', q(text))).body.QueryResponse as Json)[text.split(' ')[3]!] as Json[]) ?? [];
    assert.ok((await rows("select * from Account where AccountType = 'Expense'")).length >= 10);
    const items = await rows('select * from Item');
    assert.deepEqual(
      items.slice(0, 2).map((i) => [i.Id, i.Name]),
      [
        ['1', 'Services'],
        ['2', 'Hours'],
      ],
    );
    assert.ok(items.length >= 5);
    const customers = await rows('select * from Customer');
    assert.ok(customers.some((c) => c.DisplayName === "Amy's Bird Sanctuary"));
    const problems: string[] = [];
    for (const c of customers) checkEntity('Customer', c, problems);
    for (const i of items) checkEntity('Item', i, problems);
    assert.deepEqual(problems, []);
  });
});
