// Class and Department (location) in the QuickBooks emulator, over real HTTP: the list entities themselves (names,
// sub-records, 6240, deactivation, query, CDC, webhooks), the Preferences switches that turn tracking on, the
// ClassRef/DepartmentRef checks on sales forms and payments, and the account types a deposit may go to.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { Json, Sandbox } from './helpers.ts';
import { createCustomer, entity, fault, startSandbox } from './helpers.ts';

async function query(sb: Sandbox, text: string): Promise<Json[]> {
  const answer = await sb.api('GET', `query?query=${encodeURIComponent(text)}`);
  assert.equal(answer.status, 200, answer.text);
  const response = answer.body.QueryResponse as Json;
  const name = Object.keys(response).find((k) => Array.isArray(response[k]));
  return name ? (response[name] as Json[]) : [];
}

async function account(sb: Sandbox, name: string): Promise<Json> {
  const [row] = await query(sb, `select * from Account where Name = '${name}'`);
  assert.ok(row, `account ${name}`);
  return row;
}

function receiptLine(extra: Json = {}): Json {
  return {
    Amount: 10,
    DetailType: 'SalesItemLineDetail',
    SalesItemLineDetail: { ItemRef: { value: '1' }, Qty: 1, UnitPrice: 10, ...extra },
  };
}

async function setTracking(sb: Sandbox, flags: Json): Promise<Json> {
  const answer = await sb.admin('PATCH', `/companies/${sb.realmId}`, flags);
  assert.equal(answer.status, 200, answer.text);
  return answer.body;
}

describe('QuickBooks emulator: Class and Department', () => {
  let sb: Sandbox;
  before(async () => {
    sb = await startSandbox({ companyOptions: { sampleData: true } });
  });
  after(async () => {
    await sb.close();
  });

  it('seeds sample classes and locations, with tracking off as in a new company', async () => {
    const classes = await query(sb, 'select * from Class orderby Name');
    assert.deepEqual(
      classes.map((c) => [c.Name, c.FullyQualifiedName, c.SubClass]),
      [
        ['Design', 'Landscaping:Design', true],
        ['Landscaping', 'Landscaping', false],
        ['Maintenance', 'Maintenance', false],
      ],
    );
    const departments = await query(sb, 'select * from Department');
    assert.deepEqual(departments.map((d) => d.Name).sort(), ['North', 'South']);
    const prefs = entity(await sb.api('GET', 'preferences'), 'Preferences');
    assert.deepEqual(
      {
        ...(prefs.AccountingInfoPrefs as Json),
        CustomerTerminology: undefined,
      },
      {
        TrackDepartments: false,
        ClassTrackingPerTxn: false,
        ClassTrackingPerTxnLine: false,
        CustomerTerminology: undefined,
      },
    );
  });

  it('creates classes and sub-classes with QuickBooks shape, refuses a missing or duplicate name', async () => {
    const parent = entity(await sb.api('POST', 'class', { Name: 'Retail' }), 'Class');
    assert.equal(parent.SubClass, false);
    assert.equal(parent.FullyQualifiedName, 'Retail');
    assert.equal(parent.Active, true);
    assert.equal(parent.SyncToken, '0');
    assert.equal(parent.domain, 'QBO');
    const child = entity(await sb.api('POST', 'class', { Name: 'Online', ParentRef: { value: parent.Id } }), 'Class');
    assert.equal(child.SubClass, true);
    assert.equal(child.FullyQualifiedName, 'Retail:Online');
    assert.deepEqual(child.ParentRef, { value: parent.Id });

    const missing = await sb.api('POST', 'class', { Active: true });
    assert.equal(missing.status, 400);
    assert.equal(fault(missing).code, '2020');
    const duplicate = await sb.api('POST', 'class', { Name: 'retail' });
    assert.equal(duplicate.status, 400);
    assert.equal(fault(duplicate).code, '6240');
    assert.equal(fault(duplicate).Message, 'Duplicate Name Exists Error');
    const unknownParent = await sb.api('POST', 'class', { Name: 'Orphan', ParentRef: { value: '9999' } });
    assert.equal(fault(unknownParent).code, '2500');
    const unknownField = await sb.api('POST', 'class', { Name: 'X', Colour: 'red' });
    assert.equal(fault(unknownField).code, '2010');

    // A deactivated class keeps its name (6240 still), disappears from plain queries, and cannot be a parent.
    const gone = entity(await sb.api('POST', 'class?operation=delete', { Id: child.Id, SyncToken: '0' }), 'Class');
    assert.equal(gone.Active, false);
    assert.equal(fault(await sb.api('POST', 'class', { Name: 'Online' })).code, '6240');
    assert.ok(!(await query(sb, 'select * from Class')).some((c) => c.Id === child.Id));
    assert.ok((await query(sb, 'select * from Class where Active = false')).some((c) => c.Id === child.Id));
    assert.equal(
      fault(await sb.api('POST', 'class', { Name: 'Under gone', ParentRef: { value: child.Id } })).code,
      '610',
    );
    // A class cannot move under its own child.
    const grand = entity(await sb.api('POST', 'class', { Name: 'Shop', ParentRef: { value: parent.Id } }), 'Class');
    const loop = await sb.api('POST', 'class', { ...parent, ParentRef: { value: grand.Id } });
    assert.equal(fault(loop).code, '6000');
  });

  it('creates departments with an address; names are unique; LIKE finds them by part of the name', async () => {
    const east = entity(
      await sb.api('POST', 'department', { Name: 'East Side', Address: { Line1: '1 Main', City: 'Town' } }),
      'Department',
    );
    assert.equal(east.SubDepartment, false);
    assert.equal(east.FullyQualifiedName, 'East Side');
    const sub = entity(
      await sb.api('POST', 'department', { Name: 'Harbour', ParentRef: { value: east.Id } }),
      'Department',
    );
    assert.equal(sub.SubDepartment, true);
    assert.equal(sub.FullyQualifiedName, 'East Side:Harbour');
    assert.equal(fault(await sb.api('POST', 'department', { Name: 'EAST SIDE' })).code, '6240');
    const found = await query(sb, "select * from Department where Name like '%side%'");
    assert.deepEqual(
      found.map((d) => d.Name),
      ['East Side'],
    );
  });

  it('reports class and department changes through CDC', async () => {
    const since = new Date(sb.emulator.clock.nowMs() - 1000).toISOString();
    const made = entity(await sb.api('POST', 'class', { Name: 'Wholesale' }), 'Class');
    const dept = entity(await sb.api('POST', 'department', { Name: 'West' }), 'Department');
    const answer = await sb.api('GET', `cdc?entities=Class,Department&changedSince=${encodeURIComponent(since)}`);
    assert.equal(answer.status, 200, answer.text);
    const responses = ((answer.body.CDCResponse as Json[])[0]!.QueryResponse as Json[]).flatMap((r) =>
      Object.entries(r).filter(([k]) => k === 'Class' || k === 'Department'),
    );
    const ids = new Map(responses.map(([k, v]) => [k, (v as Json[]).map((e) => e.Id)]));
    assert.ok(ids.get('Class')?.includes(made.Id));
    assert.ok(ids.get('Department')?.includes(dept.Id));
  });
});

describe('QuickBooks emulator: ClassRef and DepartmentRef on transactions', () => {
  let sb: Sandbox;
  let customer: Json;
  let retail: Json;
  let north: Json;
  before(async () => {
    sb = await startSandbox();
    customer = await createCustomer(sb, 'Tracked Customer');
    retail = entity(await sb.api('POST', 'class', { Name: 'Retail' }), 'Class');
    north = entity(await sb.api('POST', 'department', { Name: 'North' }), 'Department');
  });
  after(async () => {
    await sb.close();
  });

  it('refuses a ClassRef or DepartmentRef while tracking is off', async () => {
    const header = await sb.api('POST', 'salesreceipt', {
      CustomerRef: { value: customer.Id },
      ClassRef: { value: retail.Id },
      Line: [receiptLine()],
    });
    assert.equal(header.status, 400);
    assert.equal(fault(header).code, '6000');
    const line = await sb.api('POST', 'invoice', {
      CustomerRef: { value: customer.Id },
      Line: [receiptLine({ ClassRef: { value: retail.Id } })],
    });
    assert.equal(fault(line).code, '6000');
    const dept = await sb.api('POST', 'payment', {
      CustomerRef: { value: customer.Id },
      TotalAmt: 5,
      DepartmentRef: { value: north.Id },
    });
    assert.equal(fault(dept).code, '6000');
  });

  it('keeps a header class and a location once tracking per transaction is on; ignores line classes then', async () => {
    const settings = await setTracking(sb, { classTrackingPerTxn: true, trackDepartments: true });
    assert.equal(settings.classTrackingPerTxn, true);
    assert.equal(settings.trackDepartments, true);
    const prefs = entity(await sb.api('GET', 'preferences'), 'Preferences').AccountingInfoPrefs as Json;
    assert.equal(prefs.ClassTrackingPerTxn, true);
    assert.equal(prefs.TrackDepartments, true);
    assert.equal(prefs.DepartmentTerminology, 'Location');

    for (const kind of ['salesreceipt', 'invoice', 'refundreceipt'] as const) {
      const name = { salesreceipt: 'SalesReceipt', invoice: 'Invoice', refundreceipt: 'RefundReceipt' }[kind];
      const record = entity(
        await sb.api('POST', kind, {
          CustomerRef: { value: customer.Id },
          ClassRef: { value: retail.Id },
          DepartmentRef: { value: north.Id },
          Line: [receiptLine({ ClassRef: { value: retail.Id } })],
        }),
        name,
      );
      assert.deepEqual(record.ClassRef, { value: retail.Id, name: 'Retail' }, kind);
      assert.deepEqual(record.DepartmentRef, { value: north.Id, name: 'North' }, kind);
      const detail = (record.Line as Json[])[0]!.SalesItemLineDetail as Json;
      assert.equal(detail.ClassRef, undefined, `${kind}: a line class is ignored when classes go on the transaction`);
    }
    const payment = entity(
      await sb.api('POST', 'payment', {
        CustomerRef: { value: customer.Id },
        TotalAmt: 5,
        DepartmentRef: { value: north.Id },
      }),
      'Payment',
    );
    assert.deepEqual(payment.DepartmentRef, { value: north.Id, name: 'North' });
    // A Payment has no header ClassRef in the XSD: 2010 like any unknown property.
    const classed = await sb.api('POST', 'payment', {
      CustomerRef: { value: customer.Id },
      TotalAmt: 5,
      ClassRef: { value: retail.Id },
    });
    assert.equal(fault(classed).code, '2010');
  });

  it('answers 2500 for an unknown class or location and 610 for an inactive one', async () => {
    const unknown = await sb.api('POST', 'salesreceipt', {
      CustomerRef: { value: customer.Id },
      ClassRef: { value: '9999' },
      Line: [receiptLine()],
    });
    assert.equal(fault(unknown).code, '2500');
    const unknownDept = await sb.api('POST', 'salesreceipt', {
      CustomerRef: { value: customer.Id },
      DepartmentRef: { value: '9999' },
      Line: [receiptLine()],
    });
    assert.equal(fault(unknownDept).code, '2500');
    const old = entity(await sb.api('POST', 'department', { Name: 'Closed branch' }), 'Department');
    await sb.api('POST', 'department', { Id: old.Id, SyncToken: old.SyncToken, sparse: true, Active: false });
    const inactive = await sb.api('POST', 'salesreceipt', {
      CustomerRef: { value: customer.Id },
      DepartmentRef: { value: old.Id },
      Line: [receiptLine()],
    });
    assert.equal(fault(inactive).code, '610');
  });

  it('keeps line classes and ignores a header class when classes go on each row', async () => {
    await setTracking(sb, { classTrackingPerTxn: false, classTrackingPerTxnLine: true });
    const receipt = entity(
      await sb.api('POST', 'salesreceipt', {
        CustomerRef: { value: customer.Id },
        ClassRef: { value: retail.Id },
        Line: [receiptLine({ ClassRef: { value: retail.Id } })],
      }),
      'SalesReceipt',
    );
    assert.equal(receipt.ClassRef, undefined);
    const detail = (receipt.Line as Json[])[0]!.SalesItemLineDetail as Json;
    assert.deepEqual(detail.ClassRef, { value: retail.Id, name: 'Retail' });
    const badLine = await sb.api('POST', 'salesreceipt', {
      CustomerRef: { value: customer.Id },
      Line: [receiptLine({ ClassRef: { value: '9999' } })],
    });
    assert.equal(fault(badLine).code, '2500');
  });

  it('turns tracking on through a Preferences update too', async () => {
    const fresh = await startSandbox();
    try {
      const prefs = entity(await fresh.api('GET', 'preferences'), 'Preferences');
      const updated = entity(
        await fresh.api('POST', 'preferences', {
          Id: prefs.Id,
          SyncToken: prefs.SyncToken,
          sparse: true,
          AccountingInfoPrefs: { ...(prefs.AccountingInfoPrefs as Json), TrackDepartments: true },
        }),
        'Preferences',
      );
      assert.equal((updated.AccountingInfoPrefs as Json).TrackDepartments, true);
      const dept = entity(await fresh.api('POST', 'department', { Name: 'Only' }), 'Department');
      const c = await createCustomer(fresh, 'Dept Customer');
      const receipt = entity(
        await fresh.api('POST', 'salesreceipt', {
          CustomerRef: { value: c.Id },
          DepartmentRef: { value: dept.Id },
          Line: [receiptLine()],
        }),
        'SalesReceipt',
      );
      assert.deepEqual(receipt.DepartmentRef, { value: dept.Id, name: 'Only' });
    } finally {
      await fresh.close();
    }
  });
});

describe('QuickBooks emulator: deposit accounts', () => {
  let sb: Sandbox;
  let customer: Json;
  before(async () => {
    sb = await startSandbox({ companyOptions: { sampleData: true } });
    customer = await createCustomer(sb, 'Deposit Customer');
  });
  after(async () => {
    await sb.close();
  });

  it('deposits a sales receipt to Undeposited Funds by default, or to a bank or other current asset account', async () => {
    const plain = entity(
      await sb.api('POST', 'salesreceipt', { CustomerRef: { value: customer.Id }, Line: [receiptLine()] }),
      'SalesReceipt',
    );
    assert.equal((plain.DepositToAccountRef as Json).name, 'Undeposited Funds');
    const checking = await account(sb, 'Checking');
    const bank = entity(
      await sb.api('POST', 'salesreceipt', {
        CustomerRef: { value: customer.Id },
        DepositToAccountRef: { value: checking.Id },
        Line: [receiptLine()],
      }),
      'SalesReceipt',
    );
    assert.deepEqual(bank.DepositToAccountRef, { value: checking.Id, name: 'Checking' });
    const clearing = entity(
      await sb.api('POST', 'account', { Name: 'Stripe clearing', AccountType: 'Other Current Asset' }),
      'Account',
    );
    const cleared = entity(
      await sb.api('POST', 'salesreceipt', {
        CustomerRef: { value: customer.Id },
        DepositToAccountRef: { value: clearing.Id },
        Line: [receiptLine()],
      }),
      'SalesReceipt',
    );
    assert.equal((cleared.DepositToAccountRef as Json).value, clearing.Id);
  });

  it('refuses an income, expense or receivable account as where money is deposited', async () => {
    for (const name of ['Services', 'Advertising', 'Accounts Receivable (A/R)']) {
      const target = await account(sb, name);
      const receipt = await sb.api('POST', 'salesreceipt', {
        CustomerRef: { value: customer.Id },
        DepositToAccountRef: { value: target.Id },
        Line: [receiptLine()],
      });
      assert.equal(receipt.status, 400, name);
      assert.equal(fault(receipt).code, '6000');
      assert.match(fault(receipt).Detail, /Invalid account type/);
      const payment = await sb.api('POST', 'payment', {
        CustomerRef: { value: customer.Id },
        TotalAmt: 5,
        DepositToAccountRef: { value: target.Id },
      });
      assert.equal(fault(payment).code, '6000', name);
    }
  });
});

describe('QuickBooks emulator: class and department webhooks', () => {
  let server: Server;
  let url: string;
  before(async () => {
    server = createServer((req, res) => {
      req.resume();
      req.on('end', () => res.writeHead(200).end());
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  });
  after(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('notifies creates of classes and departments', async () => {
    const sb = await startSandbox();
    try {
      await sb.admin('PUT', '/webhooks', { url, verifierToken: 'vt', windowMs: 0 });
      entity(await sb.api('POST', 'class', { Name: 'Hooked' }), 'Class');
      entity(await sb.api('POST', 'department', { Name: 'Hooked too' }), 'Department');
      await sb.admin('POST', '/webhooks/flush');
      const log = (await sb.admin('GET', '/webhooks')).body;
      const bodies = JSON.stringify(log);
      assert.match(bodies, /qbo\.class\.created\.v1/);
      assert.match(bodies, /qbo\.department\.created\.v1/);
    } finally {
      await sb.close();
    }
  });
});
