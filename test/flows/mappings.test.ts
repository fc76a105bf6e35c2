// The bookkeeper's mappings in what the flows write, over both emulators: a payment's receipt deposits to the mapped
// account with the mapped payment method, and carries the class and location where the company tracks them (a note
// on its activity entry where it does not); a mapped product's line takes the mapped item, an item ledgerlink creates
// takes the mapped income account; a mapping changed mid-stream applies to the records written after it only, and
// every payment still makes exactly one receipt.
import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { eventually, startStack, type Stack } from '../support/stack.ts';
import { listActivity } from '../../src/store/activity.ts';
import { findLinkByCrmId } from '../../src/store/links.ts';
import type { BookkeepingMappings } from '../../src/store/connections.ts';
import { QUEUES } from '../../src/sync/engine/routes.ts';
import { pollPayments } from '../../src/sync/flows/paymentPolling.ts';
import type { FlowContext } from '../../src/sync/engine/context.ts';
import {
  forgetCompanyMappings,
  mappedItems,
  mappingsFor,
  receiptPaymentMethod,
} from '../../src/sync/services/mappings.ts';

type Rec = Record<string, unknown>;

async function admin(base: string, path: string, body: unknown = {}): Promise<Rec> {
  const response = await fetch(`${base}/_emulator${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const json = (await response.json()) as Rec;
  if (!response.ok) throw new Error(`${path}: ${response.status} ${JSON.stringify(json)}`);
  return json;
}

const ref = (value: unknown) => (value as Rec | undefined)?.value;
const itemLines = (form: Rec) => (form.Line as Rec[]).filter((l) => l.DetailType === 'SalesItemLineDetail');
const itemOf = (line: Rec) => ref((line.SalesItemLineDetail as Rec).ItemRef);

describe('the flows write with the bookkeeper mappings (US company)', () => {
  let s: Stack;
  let bank: Rec;
  let undeposited: Rec;
  let clearing: Rec;
  let salesIncome: Rec;
  let servicesItem: Rec;
  let hoursItem: Rec;
  let stripeVisa: Rec;
  let salon: Rec;
  let downtown: Rec;

  const entities = (name: Parameters<Stack['qbo']['admin']['listEntities']>[1]) =>
    s.qbo.admin.listEntities(s.realmId, name);
  const receiptsOf = (transactionId: unknown) =>
    entities('SalesReceipt').filter((r) => String(r.PrivateNote ?? '').includes(String(transactionId)));
  const pay = (body: Rec) =>
    admin(s.hl.url, `/locations/${s.locationId}/actions/order-form-payment`, {
      card: { brand: 'visa', last4: '4242' },
      contact: { firstName: 'Ada', lastName: 'Lovelace', email: 'ada@example.com' },
      ...body,
    });
  const settle = async () => {
    await s.hl.flushWebhooks();
    await s.engine.queue.idle([QUEUES.crmOrder, QUEUES.crmTransaction, QUEUES.crmInvoice], 60_000);
  };
  const receiptFor = async (transactionId: unknown): Promise<Rec> => {
    await settle();
    return eventually(() => receiptsOf(transactionId)[0], 30_000, `the receipt of ${String(transactionId)}`);
  };
  /** As the dashboard saves them (src/server/dashboardApi.ts). */
  const setMappings = async (mappings: Partial<BookkeepingMappings>) => {
    await s.engine.connections.updateSettings(s.connection.id, {
      mappings: { products: {}, paymentMethods: {}, ...mappings },
    });
    s.engine.forget(s.connection.id);
    forgetCompanyMappings(s.realmId);
  };
  const track = (on: boolean) => {
    s.qbo.admin.updateSettings(s.realmId, { classTrackingPerTxn: on, trackDepartments: on });
    forgetCompanyMappings(s.realmId);
  };

  before(async () => {
    s = await startStack({ country: 'US' });
    const qbo = s.engine.contextFor(s.connection).qbo;
    const accounts = entities('Account');
    bank = accounts.find((a) => a.AccountType === 'Bank')!;
    undeposited = accounts.find((a) => a.AccountSubType === 'UndepositedFunds')!;
    salesIncome = accounts.find((a) => a.Name === 'Sales of Product Income')!;
    clearing = (await qbo.create(
      'Account',
      { Name: 'Stripe clearing', AccountType: 'Other Current Asset' },
      { requestId: 'test-account-clearing' },
    )) as unknown as Rec;
    servicesItem = entities('Item').find((i) => i.Name === 'Services')!;
    hoursItem = entities('Item').find((i) => i.Name === 'Hours')!;
    stripeVisa = (await qbo.create(
      'PaymentMethod',
      { Name: 'Stripe Visa', Type: 'CREDIT_CARD' },
      { requestId: 'test-method-stripe-visa' },
    )) as unknown as Rec;
    track(true);
    salon = (await qbo.create('Class', { Name: 'Salon' }, { requestId: 'test-class-salon' })) as unknown as Rec;
    downtown = (await qbo.create(
      'Department',
      { Name: 'Downtown' },
      { requestId: 'test-department-downtown' },
    )) as unknown as Rec;
  });
  after(async () => {
    await s?.close();
  });
  beforeEach(() => {
    s.qbo.faults.clear();
    s.hl.core.faults.clear();
  });

  it('writes a receipt as before when nothing is mapped', async () => {
    await setMappings({});
    const paid = await pay({ items: [{ name: 'Consulting hour', amount: 120 }] });
    const receipt = await receiptFor(paid.transactionId);
    assert.equal(ref(receipt.DepositToAccountRef), undeposited.Id);
    assert.equal(
      entities('PaymentMethod').find((m) => m.Id === ref(receipt.PaymentMethodRef))?.Name,
      'Visa',
      'the company method found by name',
    );
    assert.equal(receipt.ClassRef, undefined);
    assert.equal(receipt.DepartmentRef, undefined);
  });

  it('deposits to the mapped account with the mapped payment method, class and location when tracking is on', async () => {
    track(true);
    await setMappings({
      depositAccountId: String(bank.Id),
      classId: String(salon.Id),
      departmentId: String(downtown.Id),
      paymentMethods: { visa: String(stripeVisa.Id) },
    });
    const paid = await pay({ items: [{ name: 'Consulting hour', amount: 120 }] });
    const receipt = await receiptFor(paid.transactionId);
    assert.equal(ref(receipt.DepositToAccountRef), bank.Id);
    assert.equal(ref(receipt.PaymentMethodRef), stripeVisa.Id);
    assert.equal(ref(receipt.ClassRef), salon.Id);
    assert.equal(ref(receipt.DepartmentRef), downtown.Id);
    const [entry] = (await listActivity(s.t.db, { connectionId: s.connection.id, limit: 1000 })).filter(
      (a) => a.crmId === paid.transactionId && a.status === 'ok',
    );
    assert.doesNotMatch(entry?.message ?? '', /not set/);
  });

  it('leaves class and location off when the company does not track them, and says so on the entry', async () => {
    track(false);
    await setMappings({
      depositAccountId: String(bank.Id),
      classId: String(salon.Id),
      departmentId: String(downtown.Id),
    });
    const paid = await pay({ items: [{ name: 'Consulting hour', amount: 120 }] });
    const receipt = await receiptFor(paid.transactionId);
    assert.equal(receipt.ClassRef, undefined);
    assert.equal(receipt.DepartmentRef, undefined);
    assert.equal(ref(receipt.DepositToAccountRef), bank.Id);
    const entry = (await listActivity(s.t.db, { connectionId: s.connection.id, limit: 1000 })).find(
      (a) => a.crmId === paid.transactionId && a.status === 'ok',
    );
    assert.match(entry?.message ?? '', /with warnings: class .* not set: Class tracking is off/);
    const warnings = (entry?.detail as { warnings?: string[] } | null)?.warnings ?? [];
    assert.ok(
      warnings.some((w) => /location .* not set: Location tracking is off/.test(w)),
      JSON.stringify(warnings),
    );
    track(true);
  });

  it('writes a mapped product line with the mapped item, and creates new items on the mapped income account', async () => {
    await setMappings({
      incomeAccountId: String(salesIncome.Id),
      products: { 'prod-haircut': { itemId: String(hoursItem.Id), productName: 'Haircut' } },
    });
    const paid = await pay({
      items: [
        { name: 'Haircut', amount: 40, productId: 'prod-haircut' },
        { name: 'Shampoo bottle', amount: 12 },
      ],
    });
    const receipt = await receiptFor(paid.transactionId);
    const [haircut, shampoo] = itemLines(receipt);
    assert.equal(itemOf(haircut!), hoursItem.Id, 'the mapped item');
    const created = entities('Item').find((i) => i.Name === 'Shampoo bottle');
    assert.ok(created, 'the unmapped line found or created its item by name');
    assert.equal(itemOf(shampoo!), created.Id);
    assert.equal(ref(created.IncomeAccountRef), salesIncome.Id, 'on the mapped income account');
    assert.equal(
      entities('Item').find((i) => i.Name === 'Haircut'),
      undefined,
      'no item created for the mapped product',
    );
    assert.equal(receipt.TotalAmt, 52);
  });

  it('applies a mapping changed mid-stream to the receipts written after it only, one receipt per payment', async () => {
    await setMappings({ depositAccountId: String(bank.Id), paymentMethods: { visa: String(stripeVisa.Id) } });
    const first = await pay({ items: [{ name: 'Workshop', amount: 300 }] });
    const firstReceipt = await receiptFor(first.transactionId);
    await setMappings({ depositAccountId: String(clearing.Id) });
    const second = await pay({ items: [{ name: 'Workshop', amount: 150 }] });
    const secondReceipt = await receiptFor(second.transactionId);
    // The poller finds both charges again, under the new mapping.
    await pollPayments(s.engine.contextFor(s.connection));
    await settle();
    const [firstNow] = receiptsOf(first.transactionId);
    assert.equal(receiptsOf(first.transactionId).length, 1);
    assert.equal(receiptsOf(second.transactionId).length, 1);
    assert.equal(ref(firstNow!.DepositToAccountRef), bank.Id, 'the earlier receipt keeps its account');
    assert.equal(ref(firstNow!.PaymentMethodRef), stripeVisa.Id);
    assert.equal(firstNow!.SyncToken, firstReceipt.SyncToken, 'not rewritten');
    assert.equal(ref(secondReceipt.DepositToAccountRef), clearing.Id, 'the later one takes the new account');
    assert.equal(
      entities('PaymentMethod').find((m) => m.Id === ref(secondReceipt.PaymentMethodRef))?.Name,
      'Visa',
      'visa unmapped again: the method found by name',
    );
  });

  it('gives a refund receipt the class, location, payment method and item the mappings say', async () => {
    track(true);
    await setMappings({
      classId: String(salon.Id),
      departmentId: String(downtown.Id),
      paymentMethods: { visa: String(stripeVisa.Id) },
      products: { 'prod-course': { itemId: String(hoursItem.Id), productName: 'Course' } },
    });
    const paid = await pay({ items: [{ name: 'Course', amount: 100, productId: 'prod-course' }] });
    await receiptFor(paid.transactionId);
    await admin(s.hl.url, `/transactions/${String(paid.transactionId)}/refund`, { amount: 40 });
    const refunds = () =>
      entities('RefundReceipt').filter((r) => String(r.PrivateNote ?? '').includes(String(paid.transactionId)));
    await eventually(
      async () => {
        await pollPayments(s.engine.contextFor(s.connection));
        await settle();
        return refunds()[0];
      },
      30_000,
      'the refund receipt',
    );
    assert.equal(refunds().length, 1);
    const [refund] = refunds();
    assert.equal(refund!.TotalAmt, 40);
    assert.equal(ref(refund!.ClassRef), salon.Id);
    assert.equal(ref(refund!.DepartmentRef), downtown.Id);
    assert.equal(ref(refund!.PaymentMethodRef), stripeVisa.Id);
    assert.equal(itemOf(itemLines(refund!)[0]!), hoursItem.Id);
  });

  it('puts class, location and mapped items on invoices, deposit and location on their payments; a mapping change rewrites no invoice', async () => {
    track(true);
    await setMappings({
      depositAccountId: String(clearing.Id),
      classId: String(salon.Id),
      departmentId: String(downtown.Id),
      products: { 'prod-design': { itemId: String(hoursItem.Id), productName: 'Design' } },
    });
    const created = await admin(s.hl.url, `/locations/${s.locationId}/actions/invoice`, {
      contact: { firstName: 'Grace', lastName: 'Hopper', email: 'grace@example.com' },
      items: [
        { name: 'Design', amount: 500, productId: 'prod-design' },
        { name: 'Hosting', amount: 30 },
      ],
      send: true,
    });
    const id = String(created.invoiceId);
    await settle();
    const qboInvoice = async () => {
      const link = await findLinkByCrmId(s.t.db, s.connection.id, 'invoice', id);
      return entities('Invoice').find((i) => i.Id === link?.qboId);
    };
    const written = await eventually(qboInvoice, 30_000, 'the QuickBooks invoice');
    assert.equal(ref(written.ClassRef), salon.Id);
    assert.equal(ref(written.DepartmentRef), downtown.Id);
    assert.equal(itemOf(itemLines(written)[0]!), hoursItem.Id);

    // Another item for the product and another class: the invoice is not rewritten for it, even when a payment
    // brings it back through the flow; the payment takes the mappings of its time.
    const other = (await s.engine
      .contextFor(s.connection)
      .qbo.create('Class', { Name: 'Online' }, { requestId: 'test-class-online' })) as unknown as Rec;
    await setMappings({
      depositAccountId: String(bank.Id),
      classId: String(other.Id),
      departmentId: String(downtown.Id),
      products: { 'prod-design': { itemId: String(servicesItem.Id), productName: 'Design' } },
    });
    await admin(s.hl.url, `/invoices/${id}/record-payment`, { mode: 'cash', amount: 100 });
    await settle();
    const payment = await eventually(
      () =>
        entities('Payment').find((p) =>
          ((p.Line as Rec[] | undefined) ?? []).some((l) =>
            ((l.LinkedTxn as Rec[] | undefined) ?? []).some((t) => t.TxnId === written.Id),
          ),
        ),
      30_000,
      'the payment',
    );
    assert.equal(ref(payment.DepositToAccountRef), bank.Id);
    assert.equal(ref(payment.DepartmentRef), downtown.Id);
    assert.equal(payment.ClassRef, undefined);
    const after = (await qboInvoice())!;
    assert.equal(ref(after.ClassRef), salon.Id, 'the invoice keeps the class it was written with');
    assert.equal(itemOf(itemLines(after)[0]!), hoursItem.Id, 'and its item');
    const updates = (await listActivity(s.t.db, { connectionId: s.connection.id, limit: 1000 })).filter(
      (a) => a.crmId === id && /^Updated QuickBooks invoice/.test(a.message),
    );
    assert.equal(updates.length, 0, 'no update for a mapping change');

    // An edit in the CRM updates the invoice, with the mappings of that moment.
    const hl = s.engine.contextFor(s.connection).hl;
    const current = await hl.invoices.get(id);
    await hl.invoices.update(id, {
      name: current.name ?? 'Invoice',
      currency: current.currency,
      issueDate: current.issueDate ?? '',
      dueDate: current.dueDate ?? current.issueDate ?? '',
      contactDetails: {
        id: current.contactDetails!.id,
        name: current.contactDetails?.name ?? '',
        email: current.contactDetails?.email ?? '',
        phoneNo: current.contactDetails?.phoneNo ?? '',
      },
      invoiceItems: [
        { name: 'Design', currency: current.currency, amount: 600, qty: 1, productId: 'prod-design', taxes: [] },
        { name: 'Hosting', currency: current.currency, amount: 30, qty: 1, taxes: [] },
      ],
    } as Parameters<typeof hl.invoices.update>[1]);
    await settle();
    const edited = await eventually(
      async () => {
        const now = await qboInvoice();
        return now && now.TotalAmt === 630 ? now : undefined;
      },
      30_000,
      'the updated invoice',
    );
    assert.equal(ref(edited.ClassRef), other.Id, 'the edit takes the current class');
    assert.equal(itemOf(itemLines(edited)[0]!), servicesItem.Id, 'and the current item of the product');
    assert.equal(entities('Invoice').filter((i) => String(i.PrivateNote ?? '').includes(id)).length, 1);
  });
});

describe('mappingsFor without QuickBooks calls when nothing asks for them', () => {
  const fakeContext = (mappings: Partial<BookkeepingMappings>, calls: string[]) =>
    ({
      connection: {
        id: 'connection-1',
        qboRealmId: `realm-${Math.random()}`,
        qboCountry: 'US',
        settings: { mappings: { products: {}, paymentMethods: {}, ...mappings } },
      },
      qbo: {
        preferences: async () => {
          calls.push('preferences');
          return { AccountingInfoPrefs: { ClassTrackingPerTxn: true, TrackDepartments: true } };
        },
        listPaymentMethods: async () => {
          calls.push('listPaymentMethods');
          return [{ Id: '77', Name: 'Discover', Active: true }];
        },
      },
    }) as unknown as FlowContext;

  it('reads the Preferences only when a class or location is mapped', async () => {
    const calls: string[] = [];
    const none = await mappingsFor(fakeContext({ depositAccountId: '35' }, calls));
    assert.deepEqual(none.tracking('SalesReceipt'), { notes: [] });
    assert.deepEqual(calls, []);
    const tracked = await mappingsFor(fakeContext({ classId: '5', departmentId: '6' }, calls));
    assert.deepEqual(calls, ['preferences']);
    assert.deepEqual(tracked.tracking('Payment'), { DepartmentRef: { value: '6' }, notes: [] });
  });

  it('asks QuickBooks for a payment method only when neither the mapping nor the company facts decide it', async () => {
    const calls: string[] = [];
    const mappings = await mappingsFor(fakeContext({ paymentMethods: { cash: '90' } }, calls));
    const byName = { visa: '3', card: '4' };
    assert.equal(await receiptPaymentMethod(mappings, { paymentMode: 'card', cardBrand: 'Visa' }, byName), undefined);
    assert.equal(await receiptPaymentMethod(mappings, { paymentMode: null }, byName), undefined, 'unknown mode');
    assert.deepEqual(await receiptPaymentMethod(mappings, { paymentMode: 'cash' }, byName), { value: '90' });
    assert.deepEqual(calls, []);
    assert.deepEqual(await receiptPaymentMethod(mappings, { paymentMode: 'card', cardBrand: 'discover' }, {}), {
      value: '77',
      name: 'Discover',
    });
    assert.deepEqual(calls, ['listPaymentMethods']);
  });

  it('splits lines into mapped products and names to find', () => {
    const split = mappedItems({ itemForProduct: (id) => (id === 'p1' ? '70' : undefined) }, [
      { name: 'Mapped', productId: 'p1' },
      { name: 'Other product', productId: 'p2' },
      { name: 'No product' },
    ]);
    assert.deepEqual(split, { itemIdsByProductId: { p1: '70' }, namesByItem: ['Other product', 'No product'] });
  });
});
