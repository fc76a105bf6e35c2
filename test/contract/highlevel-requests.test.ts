// Request contract: every call ledgerlink's HighLevel client makes, held against HighLevel's own OpenAPI documents
// (vendor-specs/highlevel). The client talks to the emulator through a recording proxy; each recorded request must
// address a documented operation with a Version it declares, only declared query parameters (required ones
// present, enums respected) and a body the operation's schema accepts with nothing undeclared: HighLevel's
// whitelist validation answers 422 `property X should not exist` to anything else. Documented exceptions (live
// probes that contradict the documents) come from the emulator's CORRECTIONS, each with its evidence.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startHighLevelEmulator, type HighLevelEmulator } from '../../emulators/highlevel/index.ts';
import { CORRECTIONS } from '../../emulators/highlevel/spec/requests.ts';
import { HighLevelClient } from '../../src/highlevel/client.ts';
import { InMemoryHighLevelLimiter } from '../../src/highlevel/limiter.ts';
import { HighLevelOAuth } from '../../src/highlevel/oauth.ts';
import { check, requestOperation, SPECS_MISSING } from '../emulators/highlevel/openapi.ts';
import { startRecordingProxy, type RecordedRequest, type RecordingProxy } from './recordingProxy.ts';

const APPS = ['contacts', 'conversations', 'invoices', 'locations', 'oauth', 'payments', 'workflows'];

/** Everything HighLevel's documents say is wrong with one recorded request (empty when it fits). */
function problemsOf(r: RecordedRequest): string[] {
  const where = `${r.method} ${r.path}`;
  const op = requestOperation(APPS, r.method, r.path);
  if (!op) return [`${where}: no such operation in the specs`];
  const key = `${r.method} ${op.path}`;
  const correction = CORRECTIONS[key];
  const problems: string[] = [];
  const version = r.headers.version;
  if (op.versions.length > 0 && !op.versions.includes(String(version)))
    problems.push(`${key}: Version ${String(version)} is not the declared ${op.versions.join('|')}`);
  for (const [name, value] of Object.entries(r.query)) {
    const declared = op.query.get(name);
    if (!declared) problems.push(`${key}: query ${name} is not declared`);
    else if (declared.enum && !declared.enum.map(String).includes(value))
      problems.push(`${key}: query ${name}=${value} is not one of ${declared.enum.join('|')}`);
  }
  for (const [name, declared] of op.query)
    if (declared.required && r.query[name] === undefined) problems.push(`${key}: required query ${name} missing`);
  if (op.body) {
    if (!r.contentType.startsWith(op.body.contentType))
      problems.push(`${key}: content type ${r.contentType}, declared ${op.body.contentType}`);
    const found = check(r.body ?? {}, op.body.located, {
      forbidUndeclared: true,
      skip: correction?.notRequired ?? [],
      allowUndeclared: Object.keys(correction?.addBody ?? {}),
    });
    problems.push(...found.map((p) => `${key}: body ${p}`));
  } else if (r.body !== undefined && r.method !== 'GET') {
    problems.push(`${key}: sends a body the operation does not declare`);
  }
  return problems;
}

describe('HighLevel client requests fit the vendor specs', { skip: SPECS_MISSING }, () => {
  let emu: HighLevelEmulator;
  let proxy: RecordingProxy;
  let client: HighLevelClient;
  let oauth: HighLevelOAuth;
  let refreshToken = '';
  let locationId = '';

  const admin = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const res = await fetch(`${emu.url}/_emulator${path}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    assert.ok(res.ok, `admin ${method} ${path}: ${res.status}`);
    return (await res.json()) as T;
  };

  before(async () => {
    emu = await startHighLevelEmulator();
    proxy = await startRecordingProxy(emu.url);
    ({ locationId } = await admin<{ locationId: string }>('POST', '/locations', {
      country: 'US',
      allowDuplicateContact: false,
    }));
    const minted = await admin<{ access_token: string; refresh_token: string }>('POST', '/tokens', { locationId });
    refreshToken = minted.refresh_token;
    const app = await admin<{ clientId: string; clientSecret: string }>('GET', '/app');
    oauth = new HighLevelOAuth({
      clientId: app.clientId,
      clientSecret: app.clientSecret,
      redirectUri: 'http://localhost/cb',
      apiUrl: proxy.url,
    });
    const access = minted.access_token;
    client = new HighLevelClient({
      baseUrl: proxy.url,
      locationId,
      limiter: new InMemoryHighLevelLimiter(),
      retry: { baseDelayMs: 10, maxDelayMs: 50 },
      tokens: { accessToken: async () => access, refreshAfterUnauthorized: async () => access },
    });
  });
  after(async () => {
    await proxy.close();
    await emu.close();
  });

  it('every client call, as sent, is one the specs declare', async () => {
    // Contacts: the customer flows, the import and the sweep.
    const contact = await client.contacts.create({
      firstName: 'Ada',
      lastName: 'Spec',
      email: 'ada.spec@example.com',
      phone: '+15125550100',
      companyName: 'Spec Co',
      address1: '1 Spec St',
      city: 'Austin',
      state: 'TX',
      postalCode: '78701',
      country: 'US',
      source: 'ledgerlink',
    });
    await client.contacts.get(contact.id);
    await client.contacts.update(contact.id, { lastName: 'Specced', companyName: 'Spec Ltd', address1: '2 Spec St' });
    await client.contacts.upsert({ email: 'ada.spec@example.com', firstName: 'Ada' });
    await client.contacts.findDuplicate({ email: 'ada.spec@example.com' });
    await client.contacts.findDuplicate({ phone: '+15125550100' });
    await client.contacts.search({
      filters: [{ field: 'email', operator: 'eq', value: 'ada.spec@example.com' }],
      pageLimit: 10,
    });
    for await (const hit of client.contacts.searchAll(
      [{ field: 'dateUpdated', operator: 'range', value: { gte: '2020-01-01T00:00:00.000Z' } }],
      100,
    ))
      assert.ok(hit.id);
    await client.contacts.addTags(contact.id, ['customer']);
    await client.contacts.removeTags(contact.id, ['customer']);
    await client.contacts.addNote(contact.id, 'Synced to QuickBooks');
    const workflow = await admin<{ id?: string; workflowId?: string }>('POST', `/locations/${locationId}/workflows`, {
      name: 'Review',
    }).catch(() => undefined);
    const workflows = await client.workflows.list();
    const workflowId = workflows[0]?.id ?? workflow?.id ?? workflow?.workflowId;
    if (workflowId) {
      await client.contacts.addToWorkflow(contact.id, workflowId);
      await client.contacts.removeFromWorkflow(contact.id, workflowId);
    }
    await client.conversations.sendMessage({ type: 'SMS', contactId: contact.id, message: 'How did we do?' });
    await client.conversations.sendMessage({
      type: 'Email',
      contactId: contact.id,
      subject: 'How did we do?',
      html: '<p>Thanks</p>',
    });
    await client.locations.get();
    await client.customFields.list();
    await client.customFields.ensure('QuickBooks customer id');

    // Invoices: the import of old QuickBooks invoices creates, sends and records payments; the invoice flow reads.
    const today = new Date().toISOString().slice(0, 10);
    const invoice = await client.invoices.create({
      name: 'Imported 1001',
      currency: 'USD',
      issueDate: today,
      dueDate: today,
      invoiceNumber: '1001',
      businessDetails: { name: 'Spec Co' },
      contactDetails: { id: contact.id, name: 'Ada Spec', email: 'ada.spec@example.com', phoneNo: '' },
      items: [{ name: 'Work', currency: 'USD', amount: 100, qty: 1 }],
      discount: { type: 'fixed', value: 0 },
      sentTo: { email: ['ada.spec@example.com'] },
      liveMode: true,
    });
    await client.invoices.get(invoice._id);
    await client.invoices.update(invoice._id, {
      name: 'Imported 1001',
      currency: 'USD',
      issueDate: today,
      dueDate: today,
      invoiceItems: [{ name: 'Work', currency: 'USD', amount: 120, qty: 1 }],
    });
    await client.invoices.nextNumber();
    await client.invoices.send(invoice._id, { userId: 'ledgerlink', action: 'send_manually', liveMode: true });
    await client.invoices.recordPayment(invoice._id, { mode: 'cash', amount: 20, notes: 'QuickBooks payment 7' });
    await client.invoices.list({ status: 'sent' }, { limit: 10, offset: 0 });
    for await (const i of client.invoices.listAll({}, 100)) assert.ok(i._id);
    const voidable = await client.invoices.create({
      name: 'Void me',
      currency: 'USD',
      issueDate: today,
      dueDate: today,
      businessDetails: { name: 'Spec Co' },
      contactDetails: { id: contact.id, name: 'Ada Spec', email: 'ada.spec@example.com', phoneNo: '' },
      items: [{ name: 'X', currency: 'USD', amount: 1, qty: 1 }],
      discount: { type: 'fixed', value: 0 },
      sentTo: { email: ['ada.spec@example.com'] },
      liveMode: true,
    });
    await client.invoices.void(voidable._id);
    await client.invoices.delete(voidable._id);

    // Payments: the polls and the transaction, order and subscription reads behind every sales receipt.
    const sub = await admin<{ orderId: string; transactionId: string; subscriptionId: string }>(
      'POST',
      `/locations/${locationId}/actions/subscription`,
      { contact: { email: 'ada.spec@example.com' }, product: { name: 'Plan', amount: 20 } },
    );
    const since = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
    await client.payments.listOrders({ startAt: since, endAt: today }, { limit: 10, offset: 0 });
    for await (const o of client.payments.orders({ startAt: since }, 100)) assert.ok(o._id);
    await client.payments.getOrder(sub.orderId);
    await client.payments.listTransactions({ startAt: since, endAt: today }, { limit: 10, offset: 0 });
    for await (const t of client.payments.transactions({ startAt: since }, 100)) assert.ok(t._id);
    await client.payments.getTransaction(sub.transactionId);
    await client.payments.listSubscriptions({ startAt: since }, { limit: 10, offset: 0 });
    await client.payments.getSubscription(sub.subscriptionId);

    // OAuth: the refresh that keeps a connection alive.
    await oauth.refresh(refreshToken);

    await client.contacts.delete(contact.id);

    const seen = new Set(
      proxy.requests.map((r) => `${r.method} ${requestOperation(APPS, r.method, r.path)?.path ?? r.path}`),
    );
    assert.ok(seen.size >= 30, `the suite exercised ${seen.size} operations: ${[...seen].join(', ')}`);
    const problems = proxy.requests.flatMap(problemsOf);
    assert.deepEqual([...new Set(problems)], []);
  });

  it('catches an undeclared parameter (the check itself can fail)', () => {
    const bad: RecordedRequest = {
      method: 'GET',
      path: '/payments/orders/abc',
      query: { altId: 'loc', altType: 'location' },
      headers: { version: '2021-07-28' },
      body: undefined,
      contentType: '',
    };
    assert.deepEqual(problemsOf(bad), ['GET /payments/orders/{orderId}: query altType is not declared']);
    const body: RecordedRequest = {
      method: 'PUT',
      path: '/contacts/abc',
      query: {},
      headers: { version: '2021-07-28', 'content-type': 'application/json' },
      body: { gender: 'female', type: 'lead' },
      contentType: 'application/json',
    };
    assert.deepEqual(problemsOf(body), ['PUT /contacts/{contactId}: body gender: not declared']);
  });
});
