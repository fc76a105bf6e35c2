// The bookkeeper's mappings over real HTTP: the lists come from the QuickBooks company (and the CRM products from the
// HighLevel location), every id sent is checked against them, a change is an activity entry saying it applies to
// records written from then on, class and location follow the company's Preferences, the mappings belong to the
// company (set aside on a switch, back on the way back), and mappingsFor(ctx) gives the flows what was chosen.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startStack, type Stack } from '../support/stack.ts';
import { hashPassword } from '../../src/server/auth.ts';
import { createAdmin } from '../../src/store/sessions.ts';
import { listActivity } from '../../src/store/activity.ts';
import { forgetCompanyMappings, mappingsFor } from '../../src/sync/services/mappings.ts';

const PASSWORD = 'correct horse battery staple';

interface Entry {
  id: string;
  name: string;
  type: string | null;
}
interface View {
  mappings: {
    depositAccountId: string | null;
    incomeAccountId: string | null;
    classId: string | null;
    departmentId: string | null;
    products: Array<{ productId: string; productName: string | null; itemId: string; itemName: string | null }>;
    paymentMethods: Array<{ key: string; paymentMethodId: string }>;
  };
  appliesFrom: string;
  changedAt: string | null;
  automatic: { depositAccount: string; incomeAccount: Entry | null };
  tracking: {
    class: { on: boolean; why: string | null };
    department: { on: boolean; why: string | null; label: string };
  };
  lists: Record<'depositAccounts' | 'incomeAccounts' | 'items' | 'classes' | 'departments' | 'paymentMethods', Entry[]>;
  crmProducts: { products: Array<{ id: string; name: string }>; total: number | null; error: string | null };
  changes?: string[];
}

describe('bookkeeping mappings API', () => {
  let stack: Stack;
  let cookie: string;
  let path: string;

  const call = async (method: string, url: string, body?: unknown) => {
    const response = await fetch(`${stack.url}${url}`, {
      method,
      headers: { cookie, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    return { status: response.status, json: (await response.json()) as View & { message?: string } };
  };
  const hlAdmin = async (url: string, body: unknown) => {
    const response = await fetch(`${stack.hl.url}/_emulator${url}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    assert.equal(response.status, 200, await response.clone().text());
    return (await response.json()) as { product: { _id: string; name: string } };
  };

  before(async () => {
    stack = await startStack({ workers: false });
    await createAdmin(stack.t.db, { username: 'admin', passwordHash: await hashPassword(PASSWORD) });
    const login = await fetch(`${stack.url}/api/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'admin', password: PASSWORD }),
    });
    cookie = login.headers.get('set-cookie')!.split(';')[0]!;
    path = `/api/connections/${stack.connection.id}/mappings`;
  });

  after(async () => {
    await stack?.close();
  });

  it("lists the company's accounts, items and payment methods, and the location's products; nothing is mapped at first", async () => {
    const haircut = await hlAdmin(`/locations/${stack.locationId}/products`, {
      name: 'Haircut',
      productType: 'SERVICE',
    });
    await hlAdmin(`/locations/${stack.locationId}/products`, { name: 'Colour treatment' });
    const r = await call('GET', path);
    assert.equal(r.status, 200, JSON.stringify(r.json));
    const v = r.json;
    assert.deepEqual(v.mappings, {
      depositAccountId: null,
      incomeAccountId: null,
      classId: null,
      departmentId: null,
      products: [],
      paymentMethods: [],
    });
    assert.match(v.appliesFrom, /records written from then on/);
    assert.equal(v.changedAt, null);
    assert.ok(v.lists.depositAccounts.some((a) => /undeposited/i.test(a.name)));
    assert.ok(v.lists.depositAccounts.every((a) => a.type === 'Bank' || a.type === 'Other Current Asset'));
    assert.ok(v.lists.incomeAccounts.length > 0);
    assert.ok(v.lists.incomeAccounts.every((a) => a.type === 'Income' || a.type === 'Other Income'));
    assert.ok(v.lists.items.length > 0);
    assert.ok(v.lists.paymentMethods.length > 0);
    assert.ok(v.automatic.incomeAccount, 'the automatic income account is named');
    assert.equal(v.crmProducts.error, null);
    assert.deepEqual(v.crmProducts.products.map((p) => p.name).sort(), ['Colour treatment', 'Haircut']);
    assert.equal(v.crmProducts.total, 2);

    const searched = await call('GET', `${path}?search=hair`);
    assert.deepEqual(
      searched.json.crmProducts.products.map((p) => p.id),
      [haircut.product._id],
    );
    assert.ok(searched.json.lists.items.length < v.lists.items.length || v.lists.items.length === 0);
  });

  it('offers no class or location while the company tracks neither, and says why', async () => {
    const v = (await call('GET', path)).json;
    assert.equal(v.tracking.class.on, false);
    assert.match(v.tracking.class.why ?? '', /Class tracking is off/);
    assert.equal(v.tracking.department.on, false);
    assert.match(v.tracking.department.why ?? '', /Location tracking is off/);
    assert.deepEqual(v.lists.classes, []);
    assert.deepEqual(v.lists.departments, []);
  });

  it('refuses an id that is not an active record of the right kind, naming each, and changes nothing', async () => {
    const v = (await call('GET', path)).json;
    const income = v.lists.incomeAccounts[0]!;
    const r = await call('PUT', path, {
      depositAccountId: income.id,
      incomeAccountId: '99999',
      classId: '1',
      products: [{ productId: 'p-1', itemId: '88888' }],
      paymentMethods: [{ key: 'visa', paymentMethodId: '77777' }],
    });
    assert.equal(r.status, 400, JSON.stringify(r.json));
    const message = String(r.json.message);
    assert.match(message, new RegExp(`${income.id} is not an active deposit account`));
    assert.match(message, /99999 is not an active income account/);
    assert.match(message, /class 1 cannot be set: Class tracking is off/);
    assert.match(message, /88888 is not an active Service, NonInventory or Inventory item/);
    assert.match(message, /77777 is not an active payment method/);
    const unknownKey = await call('PUT', path, { paymentMethods: [{ key: 'bitcoin', paymentMethodId: '1' }] });
    assert.equal(unknownKey.status, 400);
    assert.deepEqual((await call('GET', path)).json.mappings.products, []);
    assert.equal((await listActivity(stack.t.db, { connectionId: stack.connection.id, flow: 'mappings' })).length, 0);
  });

  it('saves the mappings, records when and who changed what, and the flows read them from the next record on', async () => {
    const v = (await call('GET', path)).json;
    const bank = v.lists.depositAccounts.find((a) => a.type === 'Bank')!;
    const income = v.lists.incomeAccounts.at(-1)!;
    const item = v.lists.items[0]!;
    const visa = v.lists.paymentMethods.find((m) => /visa/i.test(m.name)) ?? v.lists.paymentMethods[0]!;
    const product = v.crmProducts.products.find((p) => p.name === 'Haircut')!;
    const r = await call('PUT', path, {
      depositAccountId: bank.id,
      incomeAccountId: income.id,
      products: [{ productId: product.id, productName: product.name, itemId: item.id }],
      paymentMethods: [{ key: 'visa', paymentMethodId: visa.id }],
    });
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.equal(r.json.mappings.depositAccountId, bank.id);
    assert.deepEqual(r.json.mappings.products, [
      { productId: product.id, productName: 'Haircut', itemId: item.id, itemName: item.name },
    ]);
    assert.equal(r.json.changes?.length, 4);
    assert.ok(r.json.changedAt);
    const [entry] = await listActivity(stack.t.db, { connectionId: stack.connection.id, flow: 'mappings' });
    assert.equal(entry?.status, 'info');
    assert.match(entry!.message, /Mappings changed by admin, for records written from now on/);
    assert.match(entry!.message, new RegExp(`deposit account: Undeposited Funds -> ${bank.name} \\(${bank.id}\\)`));
    assert.match(entry!.message, new RegExp(`product Haircut: item by name -> ${item.name}`));

    const again = await call('PUT', path, {
      depositAccountId: bank.id,
      incomeAccountId: income.id,
      products: [{ productId: product.id, productName: product.name, itemId: item.id }],
      paymentMethods: [{ key: 'visa', paymentMethodId: visa.id }],
    });
    assert.deepEqual(again.json.changes, []);
    assert.equal((await listActivity(stack.t.db, { connectionId: stack.connection.id, flow: 'mappings' })).length, 1);

    const ctx = stack.engine.contextFor((await stack.engine.connections.require(stack.connection.id))!);
    const mappings = await mappingsFor(ctx);
    assert.deepEqual(mappings.depositToAccountRef, { value: bank.id });
    assert.equal(mappings.incomeAccountId, income.id);
    assert.equal(mappings.itemForProduct(product.id), item.id);
    assert.equal(mappings.itemForProduct('another product'), undefined);
    assert.deepEqual(await mappings.paymentMethodFor({ paymentMode: 'card', cardBrand: 'Visa' }), { value: visa.id });
  });

  it('finds an unmapped payment method by name, or creates it once', async () => {
    const ctx = stack.engine.contextFor((await stack.engine.connections.require(stack.connection.id))!);
    const cash = stack.qbo.admin.listEntities(stack.realmId, 'PaymentMethod').find((m) => m.Name === 'Cash');
    const mappings = await mappingsFor(ctx);
    if (cash) assert.equal((await mappings.paymentMethodFor({ paymentMode: 'cash' })).value, cash.Id);
    const before = stack.qbo.admin.listEntities(stack.realmId, 'PaymentMethod').length;
    const jcb = await mappings.paymentMethodFor({ paymentMode: 'card', cardBrand: 'JCB' });
    forgetCompanyMappings(stack.realmId);
    const again = await (await mappingsFor(ctx)).paymentMethodFor({ paymentMode: 'card', cardBrand: 'jcb' });
    assert.equal(again.value, jcb.value);
    const methods = stack.qbo.admin.listEntities(stack.realmId, 'PaymentMethod');
    assert.equal(methods.length, before + 1, 'one PaymentMethod created');
    assert.equal(methods.find((m) => m.Id === jcb.value)?.Name, 'JCB');
  });

  it('offers class and location once the company tracks them, and the flows put them on transactions', async () => {
    stack.qbo.admin.updateSettings(stack.realmId, { classTrackingPerTxn: true, trackDepartments: true });
    forgetCompanyMappings(stack.realmId);
    const qbo = stack.engine.contextFor(stack.connection).qbo;
    await qbo.create('Class', { Name: 'Salon' }, { requestId: 'test-class-salon' });
    await qbo.create('Department', { Name: 'Downtown' }, { requestId: 'test-department-downtown' });
    const v = (await call('GET', path)).json;
    assert.equal(v.tracking.class.on, true);
    assert.equal(v.tracking.department.on, true);
    assert.equal(v.tracking.department.label, 'Location');
    const cls = v.lists.classes.find((c) => c.name === 'Salon')!;
    const dept = v.lists.departments.find((d) => d.name === 'Downtown')!;
    const r = await call('PUT', path, { ...putBodyOf(v), classId: cls.id, departmentId: dept.id });
    assert.equal(r.status, 200, JSON.stringify(r.json));
    const ctx = stack.engine.contextFor((await stack.engine.connections.require(stack.connection.id))!);
    const refs = (await mappingsFor(ctx)).tracking('SalesReceipt');
    assert.deepEqual(refs.ClassRef, { value: cls.id });
    assert.deepEqual(refs.DepartmentRef, { value: dept.id });
    assert.equal(refs.lineClassRef, undefined);
    assert.equal((await mappingsFor(ctx)).tracking('Payment').ClassRef, undefined);
  });

  it('sets the mappings aside with the company on a switch, and restores them when the connection comes back', async () => {
    const before = (await stack.engine.connections.require(stack.connection.id)).settings.mappings;
    assert.ok(before.depositAccountId);
    const other = stack.qbo.admin.createCompany({ country: 'US', name: 'Other Books' }).realmId;
    const tokens = (realm: string) => {
      const t = stack.qbo.admin.mintToken(realm);
      return {
        accessToken: t.access_token,
        refreshToken: t.refresh_token,
        accessExpiresAt: new Date(Date.now() + 3600_000).toISOString(),
      };
    };
    await stack.engine.connections.switchQuickBooksCompany(
      stack.connection.id,
      { realmId: other, country: 'US', homeCurrency: 'USD', companyName: 'Other Books', tokens: tokens(other) },
      [],
    );
    stack.engine.forget(stack.connection.id);
    const moved = (await call('GET', path)).json;
    assert.deepEqual(moved.mappings, {
      depositAccountId: null,
      incomeAccountId: null,
      classId: null,
      departmentId: null,
      products: [],
      paymentMethods: [],
    });
    await stack.engine.connections.switchQuickBooksCompany(
      stack.connection.id,
      {
        realmId: stack.realmId,
        country: 'US',
        homeCurrency: 'USD',
        companyName: 'Books US',
        tokens: tokens(stack.realmId),
      },
      [],
    );
    stack.engine.forget(stack.connection.id);
    assert.deepEqual((await stack.engine.connections.require(stack.connection.id)).settings.mappings, before);
    assert.equal((await call('GET', path)).json.mappings.depositAccountId, before.depositAccountId);
  });

  it("says why the CRM products are missing when HighLevel's token lacks products.readonly, and keeps the connection", async () => {
    const { scope: _all, ...rest } = (await stack.engine.connections.readTokens(stack.connection.id, 'hl'))!;
    const minted = stack.hl.mintToken(stack.locationId, ['contacts.readonly', 'invoices.readonly']);
    await stack.engine.connections.refreshUnderLock(stack.connection.id, 'hl', async () => ({
      ...rest,
      accessToken: minted.access_token,
      refreshToken: minted.refresh_token,
    }));
    stack.engine.forget(stack.connection.id);
    const r = await call('GET', path);
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.deepEqual(r.json.crmProducts.products, []);
    assert.match(r.json.crmProducts.error ?? '', /HighLevel did not list the location's products: .*scope/);
    const after = await stack.engine.connections.require(stack.connection.id);
    assert.equal(after.status, 'connected');
    assert.equal(after.hlRefusedAt, null);
  });
});

function putBodyOf(v: View) {
  return {
    depositAccountId: v.mappings.depositAccountId,
    incomeAccountId: v.mappings.incomeAccountId,
    classId: v.mappings.classId,
    departmentId: v.mappings.departmentId,
    products: v.mappings.products.map((p) => ({
      productId: p.productId,
      itemId: p.itemId,
      ...(p.productName ? { productName: p.productName } : {}),
    })),
    paymentMethods: v.mappings.paymentMethods,
  };
}
