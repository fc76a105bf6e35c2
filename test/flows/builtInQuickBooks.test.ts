// HighLevel's own QuickBooks integration left on beside ledgerlink: a payment it posted already is linked to its
// sales receipt, or skipped with an entry saying why, and never posted a second time; the card warns meanwhile.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startStack, eventually, type Stack } from '../support/stack.ts';
import { listActivity } from '../../src/store/activity.ts';
import { findLinkByCrmId } from '../../src/store/links.ts';
import { createAdmin } from '../../src/store/sessions.ts';
import { hashPassword } from '../../src/server/auth.ts';
import { QUEUES } from '../../src/sync/engine/routes.ts';
import { pollPayments } from '../../src/sync/flows/paymentPolling.ts';
import { qboIdOf } from '../../src/sync/services/builtInQuickBooks.ts';

type Rec = Record<string, unknown>;

async function admin(base: string, path: string, body: unknown): Promise<Rec> {
  const response = await fetch(`${base}/_emulator${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const json = (await response.json()) as Rec;
  if (!response.ok) throw new Error(`${path}: ${response.status} ${JSON.stringify(json)}`);
  return json;
}

describe("HighLevel's own QuickBooks integration left on: no payment is posted twice", () => {
  let s: Stack;
  const receipts = () => s.qbo.admin.listEntities(s.realmId, 'SalesReceipt');
  const pay = (email: string, amount: number) =>
    admin(s.hl.url, `/locations/${s.locationId}/actions/order-form-payment`, {
      contact: { firstName: 'Pat', lastName: 'Payer', email },
      items: [{ name: 'Class pass', amount }],
    });
  const settle = async () => {
    await s.hl.flushWebhooks();
    await s.engine.queue.idle([QUEUES.crmOrder, QUEUES.crmTransaction], 60_000);
  };
  const linkOf = (transactionId: unknown) =>
    eventually(
      async () => findLinkByCrmId(s.t.db, s.connection.id, 'salesReceipt', String(transactionId)),
      20_000,
      "the payment's link",
    );
  const builtIn = (body: Rec) => admin(s.hl.url, `/locations/${s.locationId}/quickbooks-integration`, body);

  before(async () => {
    s = await startStack({ country: 'US' });
  });
  after(async () => {
    await s.close();
  });

  it('reads the QuickBooks id from qboResponse, as the spec shows it or wrapped in its entity', () => {
    assert.equal(
      qboIdOf({ qboResponse: { domain: 'QBO', sparse: false, Id: '180', SyncToken: '0', TotalAmt: 25 } }),
      '180',
    );
    assert.equal(qboIdOf({ qboResponse: { SalesReceipt: { Id: '181' } } }), '181');
    assert.equal(qboIdOf({ qboResponse: null }), undefined);
    assert.equal(qboIdOf({}), undefined);
  });

  it('links a payment HighLevel posted to its sales receipt (found by qboResponse.Id) instead of creating a second one', async () => {
    // What HighLevel's integration did: a customer and a sales receipt in QuickBooks for the payment.
    const company = s.qbo.admin.company(s.realmId)!;
    const income = s.qbo.admin.listEntities(s.realmId, 'Account').find((a) => a.AccountType === 'Income')!;
    const item = s.qbo.admin.accounting.create(company, 'Item', {
      Name: 'Class pass (HighLevel)',
      Type: 'Service',
      IncomeAccountRef: { value: income.Id },
    });
    const customer = s.qbo.admin.accounting.create(company, 'Customer', {
      DisplayName: 'Lin Posted',
      PrimaryEmailAddr: { Address: 'lin@example.com' },
    });
    const theirs = s.qbo.admin.accounting.create(company, 'SalesReceipt', {
      CustomerRef: { value: customer.Id },
      Line: [
        {
          Amount: 75,
          DetailType: 'SalesItemLineDetail',
          SalesItemLineDetail: { ItemRef: { value: item.Id }, Qty: 1, UnitPrice: 75 },
        },
      ],
    });
    await builtIn({ active: true, qboIds: [String(theirs.Id)] });
    const before = receipts().length;

    const paid = await pay('lin@example.com', 75);
    await settle();
    const link = await linkOf(paid.transactionId);
    assert.equal(link.state, 'linked');
    assert.equal(link.qboId, String(theirs.Id));
    assert.equal(link.data.postedBy, 'highlevel');
    // A later poll finds the payment again: still nothing posted.
    await pollPayments(s.engine.contextFor(s.connection));
    await settle();
    assert.equal(receipts().length, before, 'no second sales receipt');
    const entries = await listActivity(s.t.db, { connectionId: s.connection.id, flow: 'salesReceipts', limit: 20 });
    assert.ok(
      entries.some(
        (e) =>
          e.crmId === String(paid.transactionId) &&
          e.status === 'ok' &&
          /HighLevel's own QuickBooks integration: linked to its sales receipt/.test(e.message),
      ),
    );
  });

  it('skips, with an activity entry saying why, a payment HighLevel posted whose QuickBooks record cannot be found', async () => {
    await builtIn({ active: true, nextQboId: 777001 });
    const before = receipts().length;
    const paid = await pay('kim@example.com', 33.5);
    await settle();
    const link = await linkOf(paid.transactionId);
    assert.equal(link.state, 'skipped');
    assert.equal(receipts().length, before, 'no sales receipt created');
    const entries = await listActivity(s.t.db, {
      connectionId: s.connection.id,
      flow: 'salesReceipts',
      status: 'skipped',
      limit: 20,
    });
    const entry = entries.find((e) => e.crmId === String(paid.transactionId));
    assert.ok(entry);
    assert.match(entry.message, /HighLevel's own QuickBooks integration posted it already \(QuickBooks id 777001\)/);
  });

  it('warns on the connection card while the integration is at work, and posts payments normally once it is off', async () => {
    await createAdmin(s.t.db, { username: 'admin', passwordHash: await hashPassword('correct horse battery staple') });
    const login = await fetch(`${s.url}/api/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'admin', password: 'correct horse battery staple' }),
    });
    const cookie = login.headers.get('set-cookie')!.split(';')[0]!;
    const card = (await (
      await fetch(`${s.url}/api/connections/${s.connection.id}`, { headers: { cookie } })
    ).json()) as { builtInQuickBooks: { active: boolean; warning: string | null } };
    assert.equal(card.builtInQuickBooks.active, true);
    assert.match(
      String(card.builtInQuickBooks.warning),
      /HighLevel's own QuickBooks integration is on for this location.*Settings > Integrations > QuickBooks/,
    );

    await builtIn({ active: false });
    const before = receipts().length;
    const paid = await pay('noor@example.com', 20);
    await settle();
    const link = await linkOf(paid.transactionId);
    assert.equal(link.state, 'linked');
    assert.equal(link.data.postedBy, undefined);
    assert.equal(receipts().length, before + 1);
  });
});
