import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, sign } from 'node:crypto';
import { startStack, type Stack } from '../support/stack.ts';
import { listActivity } from '../../src/store/activity.ts';
import { QUEUES } from '../../src/sync/engine/routes.ts';
import type { EmittedEvent } from '../../emulators/highlevel/webhookEvents.ts';
import { emulatorAdmin } from '../support/emulatorAdmin.ts';

interface Stored {
  event_id: string;
  event_type: string;
  status: string;
  reason: string | null;
}

describe('HighLevel webhook intake', () => {
  let s: Stack;
  const inbox = async () => Number((await s.t.db.query<{ n: string }>('SELECT count(*) AS n FROM inbox')).rows[0]!.n);
  const body = () =>
    JSON.stringify({
      type: 'OrderCreate',
      locationId: s.locationId,
      _id: '6578278e879ad2646715ba9c',
      altId: s.locationId,
      altType: 'location',
      status: 'completed',
      webhookId: `forged-${Date.now()}`,
      timestamp: new Date().toISOString(),
    });
  const admin = (method: string, path: string, payload?: unknown) => emulatorAdmin(s.hl.url, method, path, payload);
  /** The inbox row of one delivered event. */
  const storedFor = async (eventId: string): Promise<Stored | undefined> =>
    (
      await s.t.db.query<Stored>(
        `SELECT event_id, event_type, status, reason FROM inbox WHERE provider = 'highlevel' AND event_id = $1`,
        [eventId],
      )
    ).rows[0];
  /** The jobs waiting for a record (one per record: later events of it join the waiting job). */
  const jobsFor = async (queue: string, field: string, id: unknown): Promise<Array<Record<string, unknown>>> =>
    (await s.engine.queue.pgBoss.findJobs<Record<string, unknown>>(queue))
      .map((j) => j.data)
      .filter((data) => String(data[field]) === String(id));
  const idOf = (e: EmittedEvent): string =>
    e.webhookId ?? `sha256-${createHash('sha256').update(e.body).digest('hex')}`;
  const emittedSince = (mark: number): EmittedEvent[] => s.hl.core.webhooks.emitted.slice(mark);
  /** Posts a body the emulator's key signed, as HighLevel would deliver it. */
  const deliverSigned = async (payload: Record<string, unknown>): Promise<Response> => {
    const event = s.hl.core.webhooks.emit('InvoiceUpdate', null, payload);
    await s.hl.flushWebhooks();
    return fetch(`${s.url}/webhooks/highlevel`, { method: 'POST', headers: event.delivery!.headers, body: event.body });
  };

  before(async () => {
    s = await startStack({ workers: false });
  });
  after(async () => {
    await s.close();
  });

  it('refuses a body signed with another Ed25519 key and stores nothing', async () => {
    const before = await inbox();
    const { privateKey } = generateKeyPairSync('ed25519');
    const payload = body();
    const response = await fetch(`${s.url}/webhooks/highlevel`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-ghl-signature': sign(null, Buffer.from(payload), privateKey).toString('base64'),
      },
      body: payload,
    });
    assert.equal(response.status, 401);
    assert.equal(await inbox(), before);
    const [refusal] = await listActivity(s.t.db, { flow: 'webhooks', status: 'error' });
    assert.match(refusal!.message, /x-ghl-signature does not match/);
  });

  it('refuses an unsigned body', async () => {
    const before = await inbox();
    const response = await fetch(`${s.url}/webhooks/highlevel`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: body(),
    });
    assert.equal(response.status, 401);
    assert.equal(await inbox(), before);
  });

  for (const envelope of [true, false]) {
    const carrying = envelope ? 'with timestamp and webhookId' : 'with only the fields of their event docs';
    it(`turns every Invoice* event (no type, no locationId), ${carrying}, into a re-read of its invoice`, async () => {
      await admin('POST', '/app', { envelope });
      try {
        const mark = s.hl.core.webhooks.emitted.length;
        const contact = await admin('POST', `/locations/${s.locationId}/actions/contact`, {
          email: `invoiced-${envelope}@example.com`,
          firstName: 'Ina',
        });
        const contactId = String(contact.contactId);
        const sent = await admin('POST', `/locations/${s.locationId}/actions/invoice`, {
          contactId,
          items: [{ name: 'Work', amount: 100 }],
          send: true,
        });
        await admin('POST', `/invoices/${String(sent.invoiceId)}/record-payment`, { amount: 40 });
        await admin('POST', `/invoices/${String(sent.invoiceId)}/record-payment`, {});
        const dropped = await admin('POST', `/locations/${s.locationId}/actions/invoice`, {
          contactId,
          items: [{ name: 'Dropped', amount: 5 }],
        });
        await admin('POST', `/invoices/${String(dropped.invoiceId)}/start-online-payment`);
        await admin('POST', `/invoices/${String(dropped.invoiceId)}/fail-online-payment`);
        await admin('POST', `/invoices/${String(dropped.invoiceId)}/void`);
        const token = s.hl.mintToken(s.locationId).access_token;
        const deleted = await fetch(
          `${s.hl.url}/invoices/${String(dropped.invoiceId)}?altId=${s.locationId}&altType=location`,
          { method: 'DELETE', headers: { authorization: `Bearer ${token}`, version: '2021-07-28' } },
        );
        assert.equal(deleted.status, 200);
        await s.hl.flushWebhooks();

        const invoiceEvents = emittedSince(mark).filter((e) => e.event.startsWith('Invoice'));
        assert.deepEqual(
          new Set(invoiceEvents.map((e) => e.event)),
          new Set([
            'InvoiceCreate',
            'InvoiceSent',
            'InvoicePartiallyPaid',
            'InvoicePaid',
            'InvoiceUpdate',
            'InvoiceVoid',
            'InvoiceDelete',
          ]),
        );
        for (const e of invoiceEvents) {
          const payload = JSON.parse(e.body) as Record<string, unknown>;
          assert.equal(payload.type, undefined);
          assert.equal(payload.locationId, undefined);
          assert.equal(payload.webhookId === undefined, !envelope);
          const stored = await storedFor(idOf(e));
          assert.ok(stored, `${e.event} was not stored`);
          assert.equal(stored.status, 'accepted', `${e.event}: ${stored.reason ?? ''}`);
          assert.match(stored.event_type, /^invoice event \(status \w+\)$/);
          const jobs = await jobsFor(QUEUES.crmInvoice, 'invoiceId', payload._id);
          assert.equal(jobs.length, 1, `${e.event}: one job re-reads the invoice`);
          assert.equal(jobs[0]!.connectionId, s.connection.id);
        }

        // The same delivery again (HighLevel's retry after a 429, or a duplicate) collapses onto the first.
        const first = invoiceEvents[0]!;
        const before = await inbox();
        const again = await fetch(`${s.url}/webhooks/highlevel`, {
          method: 'POST',
          headers: first.delivery!.headers,
          body: first.body,
        });
        assert.equal(again.status, 200);
        assert.deepEqual(await again.json(), { accepted: 0 });
        assert.equal(await inbox(), before);
      } finally {
        await admin('POST', '/app', { envelope: true });
      }
    });
  }

  it('turns Contact* and Order* events into contact and order jobs', async () => {
    const mark = s.hl.core.webhooks.emitted.length;
    await admin('POST', `/locations/${s.locationId}/actions/order-form-payment`, {
      contact: { firstName: 'Signed', lastName: 'Event', email: 'signed@example.com' },
      items: [{ name: 'Thing', amount: 3 }],
    });
    const token = s.hl.mintToken(s.locationId).access_token;
    const api = (method: string, path: string, payload?: unknown) =>
      fetch(`${s.hl.url}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          version: '2021-07-28',
          ...(payload ? { 'content-type': 'application/json' } : {}),
        },
        ...(payload ? { body: JSON.stringify(payload) } : {}),
      });
    const created = (await (
      await api('POST', '/contacts/', {
        locationId: s.locationId,
        email: 'short-lived@example.com',
        firstName: 'Short',
      })
    ).json()) as { contact: { id: string } };
    assert.equal((await api('PUT', `/contacts/${created.contact.id}`, { city: 'Austin' })).status, 200);
    assert.equal((await api('POST', `/contacts/${created.contact.id}/tags`, { tags: ['vip'] })).status, 200);
    assert.equal((await api('DELETE', `/contacts/${created.contact.id}`)).status, 200);
    await s.hl.flushWebhooks();

    const events = emittedSince(mark);
    assert.deepEqual(
      new Set(events.map((e) => e.event)),
      new Set([
        'ContactCreate',
        'OrderCreate',
        'OrderStatusUpdate',
        'ContactUpdate',
        'ContactTagUpdate',
        'ContactDelete',
      ]),
    );
    for (const e of events) {
      const payload = JSON.parse(e.body) as Record<string, unknown>;
      const stored = await storedFor(idOf(e));
      assert.ok(stored, `${e.event} was not stored`);
      assert.equal(stored.event_type, e.event);
      assert.equal(stored.status, 'accepted', `${e.event}: ${stored.reason ?? ''}`);
      const jobs = e.event.startsWith('Order')
        ? await jobsFor(QUEUES.crmOrder, 'orderId', payload._id)
        : await jobsFor(QUEUES.crmContact, 'contactId', payload.id);
      assert.equal(jobs.length, 1, `${e.event}: one job for its record`);
    }
  });

  it('records a signed event it cannot place in the activity list with the reason, once however often it comes', async () => {
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [
        { _id: 'inv-of-a-company', altId: 'company-1', altType: 'company', status: 'sent', invoiceNumber: '7' },
        /names no location \(altType company\)/,
      ],
      [{ id: 'something', amount: 3 }, /no type and is not shaped like an invoice/],
      [
        { type: 'ContactCreate', locationId: 'location-nobody-connected', id: 'c-elsewhere', email: 'x@example.com' },
        /no connection for HighLevel location location-nobody-connected/,
      ],
      [
        { type: 'AppointmentCreate', locationId: s.locationId, appointment: { id: 'a1' } },
        /AppointmentCreate is not an event ledgerlink syncs/,
      ],
    ];
    for (const [payload, reason] of cases) {
      const before = (await listActivity(s.t.db, { flow: 'webhooks', status: 'skipped' })).length;
      const response = await deliverSigned({ ...payload, nonce: Math.random() });
      assert.equal(response.status, 200);
      const skipped = await listActivity(s.t.db, { flow: 'webhooks', status: 'skipped' });
      assert.equal(skipped.length, before + 1, 'one entry for the delivery and its replay');
      assert.ok(
        skipped.some((a) => reason.test(a.message)),
        `no activity matching ${reason}: ${skipped.map((a) => a.message).join(' | ')}`,
      );
    }
  });

  it('acts on AppUninstall: the connection of the location stops', async () => {
    await admin('POST', `/locations/${s.locationId}/uninstall`);
    await s.hl.flushWebhooks();
    const connection = await s.engine.connections.recent(s.connection.id);
    assert.equal(connection?.status, 'revoked');
    const stopped = await listActivity(s.t.db, { connectionId: s.connection.id, flow: 'connection', status: 'error' });
    assert.match(stopped[0]!.message, /uninstalled/);
  });
});
