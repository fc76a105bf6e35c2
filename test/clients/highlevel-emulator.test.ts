// The HighLevel client against the local HighLevel emulator over real HTTP: arrange through the
// emulator's admin API, act through the client, assert on what the emulator holds or sent.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startHighLevelEmulator, type HighLevelEmulator } from '../../emulators/highlevel/index.ts';
import { HighLevelClient } from '../../src/highlevel/client.ts';
import { HighLevelError, isDuplicateContact } from '../../src/highlevel/errors.ts';
import { InMemoryHighLevelLimiter } from '../../src/highlevel/limiter.ts';
import { HighLevelOAuth } from '../../src/highlevel/oauth.ts';
import { parseHighLevelWebhook, verifyHighLevelSignature } from '../../src/highlevel/webhooks.ts';
import type { TokenSource } from '../../src/highlevel/http.ts';
import { startScriptedServer, type ScriptedServer } from './scriptedServer.ts';

async function admin<T>(emu: HighLevelEmulator, method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(`${emu.url}/_emulator${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`admin ${method} ${path}: ${res.status} ${text}`);
  return (text ? JSON.parse(text) : {}) as T;
}

/** Tokens held in memory, refreshed through the emulator's real /oauth/token endpoint. */
class EmulatorTokens implements TokenSource {
  refreshes = 0;
  constructor(
    private access: string,
    private refresh: string,
    private readonly oauth: HighLevelOAuth,
  ) {}
  async accessToken(): Promise<string> {
    return this.access;
  }
  async refreshAfterUnauthorized(): Promise<string> {
    this.refreshes += 1;
    const t = await this.oauth.refresh(this.refresh);
    this.access = t.accessToken;
    this.refresh = t.refreshToken ?? this.refresh;
    return this.access;
  }
  get current(): string {
    return this.access;
  }
}

describe('HighLevel client against the emulator', () => {
  let emu: HighLevelEmulator;
  let client: HighLevelClient;
  let tokens: EmulatorTokens;
  let locationId: string;

  before(async () => {
    emu = await startHighLevelEmulator();
    ({ locationId } = await admin<{ locationId: string }>(emu, 'POST', '/locations', {
      country: 'US',
      allowDuplicateContact: false,
    }));
    const minted = await admin<{ access_token: string; refresh_token: string }>(emu, 'POST', '/tokens', { locationId });
    const app = await admin<{ clientId: string; clientSecret: string }>(emu, 'GET', '/app');
    const oauth = new HighLevelOAuth({
      clientId: app.clientId,
      clientSecret: app.clientSecret,
      redirectUri: 'http://localhost/cb',
      apiUrl: emu.url,
    });
    tokens = new EmulatorTokens(minted.access_token, minted.refresh_token, oauth);
    client = new HighLevelClient({
      baseUrl: emu.url,
      locationId,
      tokens,
      limiter: new InMemoryHighLevelLimiter(),
      retry: { baseDelayMs: 10, maxDelayMs: 50 },
    });
  });
  after(async () => {
    await emu.close();
  });

  it('creates, reads and updates a contact', async () => {
    const created = await client.contacts.create({
      firstName: 'Siobhan',
      lastName: "O'Brien",
      email: 'siobhan@example.com',
    });
    const read = await client.contacts.get(created.id);
    assert.equal(read.email, 'siobhan@example.com');
    const updated = await client.contacts.update(created.id, { companyName: 'Brien Ltd' });
    assert.equal(updated.companyName, 'Brien Ltd');
    const dup = await client.contacts.findDuplicate({ email: 'SIOBHAN@example.com' });
    assert.equal(dup?.id, created.id);
  });

  it('reports a refused duplicate with the existing contact id, and upsert finds it', async () => {
    const first = await client.contacts.create({ firstName: 'Dee', email: 'dee@example.com' });
    const error = await client.contacts
      .create({ firstName: 'Dee again', email: 'dee@example.com' })
      .catch((e: unknown) => e);
    assert.ok(isDuplicateContact(error), `expected a duplicate-contact error, got ${String(error)}`);
    assert.equal(error.duplicateContactId, first.id);
    const upserted = await client.contacts.upsert({ email: 'dee@example.com', lastName: 'Dunne' });
    assert.equal(upserted.created, false);
    assert.equal(upserted.contact.id, first.id);
  });

  it('refreshes an access token that was revoked and retries', async () => {
    const before = tokens.current;
    await admin(emu, 'POST', '/tokens/revoke', { token: before });
    const location = await client.locations.get();
    assert.equal(location.id, locationId);
    assert.equal(tokens.refreshes, 1);
    assert.notEqual(tokens.current, before);
  });

  it('retries through injected 429s', async () => {
    await admin(emu, 'POST', '/faults/rules', { kind: 'error429', rate: 1, count: 2, path: '/workflows' });
    const workflows = await client.workflows.list();
    assert.ok(Array.isArray(workflows));
    await admin(emu, 'DELETE', '/faults');
  });

  it('sends a message with the conversations Version', async () => {
    const contact = await client.contacts.create({ firstName: 'Mo', phone: '+15555550123', email: 'mo@example.com' });
    const sent = await client.conversations.sendMessage({
      type: 'SMS',
      contactId: contact.id,
      message: 'Thanks for your order!',
    });
    assert.ok(sent.messageId);
  });

  it('creates and reads an invoice, and lists invoices page by page', async () => {
    const contact = await client.contacts.create({ firstName: 'Ivy', email: 'ivy@example.com' });
    const today = new Date().toISOString().slice(0, 10);
    const created = await client.invoices.create({
      name: 'Consulting',
      currency: 'USD',
      issueDate: today,
      dueDate: today,
      businessDetails: { name: 'Acme' },
      contactDetails: { id: contact.id, name: 'Ivy', email: 'ivy@example.com', phoneNo: '' },
      items: [{ name: 'Hour', currency: 'USD', amount: 12.1, qty: 3 }],
      discount: { type: 'percentage', value: 0 },
      sentTo: { email: ['ivy@example.com'] },
      liveMode: true,
    });
    const read = await client.invoices.get(created._id);
    assert.equal(read.total, 36.3);
    assert.equal(typeof read.invoiceNumber, 'string');
    for (let i = 0; i < 2; i += 1)
      await admin(emu, 'POST', `/locations/${locationId}/actions/invoice`, {
        contactId: contact.id,
        items: [{ name: `x${i}`, amount: 5 }],
      });
    const ids: string[] = [];
    for await (const invoice of client.invoices.listAll({}, 2)) ids.push(invoice._id);
    assert.equal(ids.length, 3);
    assert.ok(ids.includes(created._id));
  });

  it('pages transactions and reads their contact snapshot', async () => {
    for (let i = 0; i < 3; i += 1) {
      await admin(emu, 'POST', `/locations/${locationId}/actions/order-form-payment`, {
        contact: { email: `buyer${i}@example.com`, firstName: 'Buyer' },
        items: [{ name: 'Tee', amount: 20 }],
      });
    }
    const seen: string[] = [];
    for await (const t of client.payments.transactions({}, 2)) seen.push(t._id);
    assert.equal(seen.length, 3);
    const detail = await client.payments.getTransaction(seen[0] ?? '');
    assert.match(detail.contactSnapshot?.email ?? detail.contactEmail ?? '', /^buyer\d@example\.com$/);
    const orders = await client.payments.listOrders({}, { limit: 10 });
    assert.equal(orders.data.length, 3);
  });

  describe('webhooks', () => {
    let receiver: ScriptedServer;
    before(async () => {
      receiver = await startScriptedServer(() => ({ status: 200, body: {} }));
      await admin(emu, 'POST', '/app', { webhookUrl: `${receiver.url}/hooks/highlevel` });
    });
    after(async () => {
      await receiver.close();
    });

    it('verifies a delivered ContactCreate with the emulator key and refuses it under another key', async () => {
      const publicKey = await (await fetch(`${emu.url}/_emulator/webhook-public-key`)).text();
      const created = await client.contacts.create({ firstName: 'Hook', email: 'hook@example.com' });
      await emu.flushWebhooks();
      const delivery = receiver.requests.find((r) => {
        const event = parseHighLevelWebhook(r.body);
        return event.kind === 'contact' && event.type === 'ContactCreate' && event.contactId === created.id;
      });
      assert.ok(delivery, `no ContactCreate delivered among ${receiver.requests.length} requests`);
      const headers = {
        'x-ghl-signature': String(delivery.headers['x-ghl-signature'] ?? ''),
        'x-wh-signature': delivery.headers['x-wh-signature'] as string | undefined,
      };
      assert.deepEqual(verifyHighLevelSignature(delivery.body, headers, { ed25519PublicKey: publicKey }), {
        ok: true,
        scheme: 'ed25519',
      });
      assert.equal(
        verifyHighLevelSignature(delivery.body, headers).ok,
        false,
        "HighLevel's production key must not accept the emulator's signature",
      );
      assert.equal(
        verifyHighLevelSignature(delivery.body.replace('hook@', 'evil@'), headers, { ed25519PublicKey: publicKey }).ok,
        false,
      );
      const event = parseHighLevelWebhook(delivery.body);
      assert.equal(event.type, 'ContactCreate');
      assert.ok(event.eventId && !event.eventId.startsWith('sha256-'), 'the emulator sends a webhookId');
    });
  });

  it('surfaces HighLevel errors as HighLevelError', async () => {
    await assert.rejects(
      client.contacts.get('doesnotexist00000000'),
      (e: unknown) => e instanceof HighLevelError && e.status >= 400,
    );
  });
});
