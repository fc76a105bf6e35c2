// Bad input, each tried for real: webhooks through the real server (forged and missing signatures, malformed JSON,
// bodies over the limit, unknown event types, unknown and disconnected locations), and awkward records through the
// emulators so that the flows meet them (invalid emails, names longer than QuickBooks allows, emoji and
// right-to-left text, quotes and backslashes in every field that reaches a query, zero / negative / enormous
// amounts, an unknown currency, more invoice lines than QuickBooks accepts, a tax the connection cannot map).
// Each gets a clear answer or error, an activity entry, and no lost data; and none of it grows the store without
// bound (refusals are counted, a failure met again is one error counted, history has a retention).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createPrivateKey, sign } from 'node:crypto';
import { startStack, eventually, type Stack, QBO_VERIFIER } from '../support/stack.ts';
import { listActivity, type ActivityRecord } from '../../src/store/activity.ts';
import { hashPassword } from '../../src/server/auth.ts';
import { createAdmin } from '../../src/store/sessions.ts';
import { loadConfig } from '../../src/config.ts';
import { signIntuitPayload } from '../../src/quickbooks/webhooks.ts';
import { QUEUES } from '../../src/sync/engine/routes.ts';

type Rec = Record<string, unknown>;

const PASSWORD = 'correct horse battery staple';

/** Signs in to the dashboard of a stack as the admin; returns a function calling its JSON API. */
async function dashboardOf(stack: Stack): Promise<(path: string) => Promise<Rec>> {
  await createAdmin(stack.t.db, { username: 'admin', passwordHash: await hashPassword(PASSWORD) });
  const login = await fetch(`${stack.url}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'admin', password: PASSWORD }),
  });
  assert.equal(login.status, 200);
  const cookie = login.headers.get('set-cookie')!.split(';')[0]!;
  return async (path) => {
    const response = await fetch(`${stack.url}${path}`, { headers: { cookie } });
    assert.equal(response.status, 200, path);
    return (await response.json()) as Rec;
  };
}

describe('bad input', () => {
  let s: Stack;
  let api: (path: string) => Promise<Rec>;

  const admin = async (path: string, body: unknown = {}): Promise<{ status: number; json: Rec }> => {
    const response = await fetch(`${s.hl.url}/_emulator${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return { status: response.status, json: (await response.json()) as Rec };
  };
  const pay = async (body: Rec): Promise<string> => {
    const r = await admin(`/locations/${s.locationId}/actions/order-form-payment`, body);
    assert.equal(r.status, 200, JSON.stringify(r.json));
    return String(r.json.transactionId);
  };
  /** Polling finds every payment, whatever the webhooks did; then the transaction queue drains. */
  const settle = async () => {
    await s.hl.flushWebhooks();
    await s.engine.enqueuePolls();
    await new Promise((r) => setTimeout(r, 300));
    await s.engine.queue.idle(
      [
        QUEUES.pollPayments,
        QUEUES.crmOrder,
        QUEUES.crmTransaction,
        QUEUES.crmContact,
        QUEUES.crmInvoice,
        QUEUES.qboCustomer,
      ],
      60_000,
    );
  };
  const receiptsFor = (txnId: string) =>
    s.qbo.admin.listEntities(s.realmId, 'SalesReceipt').filter((r) => String(r.PrivateNote ?? '').includes(txnId));
  const activityFor = async (id: string): Promise<ActivityRecord[]> =>
    (await listActivity(s.t.db, { connectionId: s.connection.id, limit: 2000 })).filter(
      (a) => a.crmId === id || a.qboId === id,
    );
  const webhookActivity = async () => listActivity(s.t.db, { flow: 'webhooks', limit: 50 });
  const signHighLevel = (body: string | Buffer): string => {
    // The emulator exports its signing key (a saved emulator keeps it): sign as HighLevel would.
    const key = createPrivateKey(s.hl.core.webhooks.exportKeys().ed25519);
    return sign(null, Buffer.isBuffer(body) ? body : Buffer.from(body), key).toString('base64');
  };
  const postHighLevel = (body: string, headers: Record<string, string>) =>
    fetch(`${s.url}/webhooks/highlevel`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body,
    });
  const postQuickBooks = (body: string, headers: Record<string, string>) =>
    fetch(`${s.url}/webhooks/quickbooks`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body,
    });

  before(async () => {
    s = await startStack();
    api = await dashboardOf(s);
  });
  after(async () => {
    await s.close();
  });

  describe('webhooks through the server', () => {
    const contactEvent = (locationId: string, type = 'ContactCreate') =>
      JSON.stringify({
        type,
        locationId,
        id: 'c-bad-input',
        email: 'x@example.com',
        webhookId: `wh-${Math.random()}`,
        timestamp: new Date().toISOString(),
      });

    it('refuses forged and missing signatures with 401 and records each refusal, keeping no body', async () => {
      const body = contactEvent(s.locationId);
      assert.equal(
        (await postHighLevel(body, { 'x-ghl-signature': Buffer.alloc(64, 7).toString('base64') })).status,
        401,
      );
      assert.equal((await postHighLevel(body, {})).status, 401);
      assert.equal(
        (
          await postQuickBooks('{"eventNotifications":[]}', {
            'intuit-signature': signIntuitPayload('{"eventNotifications":[]}', 'not-the-verifier'),
          })
        ).status,
        401,
      );
      assert.equal((await postQuickBooks('{"eventNotifications":[]}', {})).status, 401);
      const refusals = (await webhookActivity()).filter((a) => a.status === 'error' && /Refused/.test(a.message));
      assert.ok(refusals.length >= 4, JSON.stringify(refusals.map((r) => r.message)));
      assert.ok(refusals.some((r) => /x-ghl-signature/.test(r.message)));
      assert.ok(refusals.some((r) => /intuit-signature does not match/.test(r.message)));
      assert.ok(refusals.some((r) => /intuit-signature header is missing/.test(r.message)));
      assert.doesNotMatch(JSON.stringify(refusals), /c-bad-input/, 'a refused body is not kept');
    });

    it('counts unsigned posts instead of storing each: 300 refusals add one activity entry and one counter, shown in the dashboard', async () => {
      const rows = async () =>
        Number((await s.t.db.query<{ n: string }>(`SELECT count(*) AS n FROM activity`)).rows[0]!.n);
      const before = await rows();
      const body = contactEvent(s.locationId);
      for (let batch = 0; batch < 30; batch++) {
        const answers = await Promise.all(
          Array.from({ length: 10 }, () =>
            postHighLevel(body, { 'x-ghl-signature': Buffer.alloc(64, 9).toString('base64') }),
          ),
        );
        assert.ok(answers.every((a) => a.status === 401));
      }
      assert.ok(
        (await rows()) - before <= 1,
        `activity grew by ${(await rows()) - before} rows for 300 refusals of one reason`,
      );
      const shown = (await api('/api/webhook-refusals')) as {
        refusals: Array<{ provider: string; reason: string; count: number }>;
        sampleMinutes: number;
      };
      const forged = shown.refusals.find(
        (r) => r.provider === 'highlevel' && /x-ghl-signature does not match/.test(r.reason),
      );
      assert.ok(forged && forged.count >= 300, JSON.stringify(shown));
      const [sample] = (await webhookActivity()).filter((a) => /x-ghl-signature does not match/.test(a.message));
      assert.match(sample!.message, /Refused a HighLevel webhook/);
    });

    it('answers malformed JSON with a clear error and an activity entry (HighLevel 400; QuickBooks 200 so later events are not held back)', async () => {
      const broken = '{"type": "ContactCreate", "locationId": ';
      const hl = await postHighLevel(broken, { 'x-ghl-signature': signHighLevel(broken) });
      assert.equal(hl.status, 400);
      const qbo = await postQuickBooks(broken, { 'intuit-signature': signIntuitPayload(broken, QBO_VERIFIER) });
      assert.equal(qbo.status, 200);
      const entries = (await webhookActivity()).slice(0, 2);
      assert.ok(
        entries.every((e) => /Refused a (HighLevel|QuickBooks) webhook/.test(e.message)),
        JSON.stringify(entries.map((e) => e.message)),
      );
    });

    it('refuses a body over the size limit with 413 and says so', async () => {
      const huge = JSON.stringify({ type: 'ContactCreate', locationId: s.locationId, padding: 'x'.repeat(1_100_000) });
      const response = await postHighLevel(huge, { 'x-ghl-signature': signHighLevel(huge) });
      assert.equal(response.status, 413);
      const [latest] = await webhookActivity();
      assert.match(latest!.message, /over the \d+-byte limit/);
    });

    it('records and ignores unknown event types and events for unknown or disconnected locations', async () => {
      const unknownType = contactEvent(s.locationId, 'SpaceshipLaunched');
      assert.equal((await postHighLevel(unknownType, { 'x-ghl-signature': signHighLevel(unknownType) })).status, 200);
      const unknownLocation = contactEvent('location-nobody-knows');
      assert.equal(
        (await postHighLevel(unknownLocation, { 'x-ghl-signature': signHighLevel(unknownLocation) })).status,
        200,
      );
      // A second location whose connection was revoked.
      const other = s.hl.createLocation({ country: 'US', name: 'Disconnected studio' });
      const c = await s.engine.connections.create({ name: 'Disconnected' });
      await s.engine.connections.attachHighLevel(c.id, {
        locationId: other.id,
        country: 'US',
        tokens: { accessToken: 'a', refreshToken: 'r', accessExpiresAt: new Date().toISOString() },
      });
      await s.engine.connections.setStatus(c.id, 'revoked', 'test');
      const disconnected = contactEvent(other.id);
      assert.equal((await postHighLevel(disconnected, { 'x-ghl-signature': signHighLevel(disconnected) })).status, 200);
      const messages = (await listActivity(s.t.db, { limit: 20 })).map((a) => a.message);
      assert.ok(
        messages.some((m) => /SpaceshipLaunched.*not an event ledgerlink syncs/.test(m)),
        messages.join('\n'),
      );
      assert.ok(
        messages.some((m) => /no connection for HighLevel location location-nobody-knows/.test(m)),
        messages.join('\n'),
      );
      assert.ok(
        messages.some((m) => new RegExp(`connection for ${other.id} is revoked`).test(m)),
        messages.join('\n'),
      );
      const inbox = await s.t.db.query<{ status: string }>(
        `SELECT status FROM inbox WHERE event_type LIKE '%SpaceshipLaunched%' OR payload::text LIKE '%location-nobody-knows%'`,
      );
      assert.ok(
        inbox.rows.length >= 2 && inbox.rows.every((r) => r.status === 'ignored'),
        'kept in the inbox as ignored, with the reason',
      );
    });
  });

  describe('history has a retention', () => {
    it('defaults to 90 days of activity and 30 of inbox, each configurable', () => {
      assert.deepEqual(loadConfig({}).retention, { activityDays: 90, inboxDays: 30 });
      assert.deepEqual(
        loadConfig({ LEDGERLINK_ACTIVITY_RETENTION_DAYS: '7', LEDGERLINK_INBOX_RETENTION_DAYS: '2' }).retention,
        { activityDays: 7, inboxDays: 2 },
      );
      assert.throws(() => loadConfig({ LEDGERLINK_INBOX_RETENTION_DAYS: '0' }), /LEDGERLINK_INBOX_RETENTION_DAYS/);
    });

    it('prunes old activity and inbox rows, never an open error, the newest entry of a linked record, or an event an open error needs', async () => {
      const c = s.connection.id;
      const old = new Date(Date.now() - 200 * 86_400_000).toISOString();
      const add = async (fields: {
        status: string;
        crmId?: string;
        resolved?: boolean;
        retry?: unknown;
        connectionId?: string | null;
      }): Promise<number> => {
        const r = await s.t.db.query<{ id: string }>(
          `INSERT INTO activity (connection_id, flow, status, crm_id, message, retry, resolved_at, created_at, cause)
           VALUES ($1, 'retentionTest', $2, $3, 'old entry', $4, $5, $6, CASE WHEN $2 = 'error' THEN 'old' END) RETURNING id`,
          [
            fields.connectionId === undefined ? c : fields.connectionId,
            fields.status,
            fields.crmId ?? null,
            fields.retry ? JSON.stringify(fields.retry) : null,
            fields.resolved ? old : null,
            old,
          ],
        );
        return Number(r.rows[0]!.id);
      };
      const event = async (eventId: string): Promise<number> => {
        const r = await s.t.db.query<{ id: string }>(
          `INSERT INTO inbox (provider, event_id, event_type, connection_id, payload, received_at) VALUES ('highlevel', $1, 'ContactUpdate', $2, '{}', $3) RETURNING id`,
          [eventId, c, old],
        );
        return Number(r.rows[0]!.id);
      };
      await s.t.db.query(
        `INSERT INTO links (connection_id, kind, crm_id, qbo_id, origin) VALUES ($1, 'customer', 'retention-linked', 'q-retention', 'crm')`,
        [c],
      );
      const neededEvent = await event('retention-needed');
      const oldEvent = await event('retention-old');
      const ids = {
        unlinkedOk: await add({ status: 'ok', crmId: 'retention-unlinked' }),
        unlinkedOkNewer: await add({ status: 'ok', crmId: 'retention-unlinked' }),
        resolvedError: await add({ status: 'error', crmId: 'retention-unlinked', resolved: true }),
        openError: await add({
          status: 'error',
          crmId: 'retention-open',
          retry: { queue: 'crm-contact', data: { inboxId: neededEvent } },
        }),
        linkedOlder: await add({ status: 'skipped', crmId: 'retention-linked' }),
        linkedNewest: await add({ status: 'skipped', crmId: 'retention-linked' }),
        refusalSample: await add({ status: 'error', connectionId: null }),
        recent: 0,
      };
      await s.t.db.query(`UPDATE activity SET created_at = now() WHERE id = $1`, [ids.unlinkedOkNewer]);
      ids.recent = ids.unlinkedOkNewer;
      const outcome = await s.engine.pruneHistory();
      assert.ok(outcome.activity >= 4 && outcome.inbox >= 1, JSON.stringify(outcome));
      const left = new Set(
        (await s.t.db.query<{ id: string }>(`SELECT id FROM activity WHERE flow = 'retentionTest'`)).rows.map((r) =>
          Number(r.id),
        ),
      );
      assert.deepEqual(
        [...left].sort((a, b) => a - b),
        [ids.unlinkedOkNewer, ids.openError, ids.linkedNewest].sort((a, b) => a - b),
      );
      const events = new Set(
        (await s.t.db.query<{ id: string }>(`SELECT id FROM inbox WHERE event_id LIKE 'retention-%'`)).rows.map((r) =>
          Number(r.id),
        ),
      );
      assert.ok(events.has(neededEvent) && !events.has(oldEvent));
      await s.t.db.query(`DELETE FROM links WHERE connection_id = $1 AND crm_id = 'retention-linked'`, [c]);
      await s.t.db.query(`UPDATE activity SET resolved_at = now() WHERE id = $1`, [ids.openError]);
    });
  });

  describe('records the flows meet', () => {
    it('a QuickBooks customer with an invalid email: an activity entry that says why, and no lost customer', async () => {
      const token = s.qbo.admin.mintToken(s.realmId).access_token;
      const response = await fetch(`${s.qbo.url}/v3/company/${s.realmId}/customer?minorversion=75`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify({
          DisplayName: 'Broken Email Ltd',
          PrimaryEmailAddr: { Address: 'not an email@@' },
          PrimaryPhone: { FreeFormNumber: '(555) 010-2030' },
        }),
      });
      const created = (await response.json()) as { Customer?: Rec; Fault?: Rec };
      if (!created.Customer) {
        // QuickBooks itself refused it: nothing reached ledgerlink, nothing to lose.
        assert.ok(created.Fault, 'QuickBooks either stores or refuses the customer');
        return;
      }
      const id = String(created.Customer.Id);
      await s.qbo.admin.webhooks.flush();
      const entries = await eventually(
        async () => {
          const found = await activityFor(id);
          return found.length > 0 ? found : undefined;
        },
        30_000,
        'an activity entry for the customer',
      );
      const contact = [...s.hl.core.store.contacts.values()].find(
        (c) => c.locationId === s.locationId && (c.phone ?? '').endsWith('5550102030'),
      );
      assert.ok(
        contact || entries.some((e) => e.status === 'error' && /email/i.test(e.message)),
        JSON.stringify(entries.map((e) => e.message)),
      );
      if (contact)
        assert.ok(
          entries.some((e) => /email/i.test(e.message) || e.status === 'ok'),
          'the entry mentions the email or the import',
        );
    });

    it('a HighLevel contact with an invalid email is refused where it is typed (HighLevel answers 422)', async () => {
      const r = await admin(`/locations/${s.locationId}/actions/order-form-payment`, {
        contact: { firstName: 'Bad', lastName: 'Email', email: 'bad@@example' },
        items: [{ name: 'Thing', amount: 5 }],
      });
      assert.ok(r.status >= 400 && r.status < 500, `status ${r.status}`);
    });

    it('names longer than QuickBooks allows are shortened, visibly, and the payment is synced', async () => {
      const long = 'Bartholomew'.repeat(14);
      const txn = await pay({
        contact: { firstName: long, lastName: `${long}son`, email: 'long.name@example.com' },
        items: [{ name: `Service ${'x'.repeat(200)}`, amount: 42 }],
      });
      await settle();
      const [receipt] = await eventually(
        () => (receiptsFor(txn).length ? receiptsFor(txn) : undefined),
        30_000,
        'the receipt',
      );
      assert.equal(receipt!.TotalAmt, 42);
      const customer = s.qbo.admin
        .listEntities(s.realmId, 'Customer')
        .find((c) => (c.PrimaryEmailAddr as Rec | undefined)?.Address === 'long.name@example.com')!;
      assert.ok(
        String(customer.GivenName).length <= 100 &&
          String(customer.FamilyName).length <= 100 &&
          String(customer.DisplayName).length <= 500,
      );
      assert.ok((await activityFor(txn)).some((a) => a.status === 'ok'));
      const created = (await activityFor(String(customer.Id))).find(
        (a) => a.flow === 'customers' && a.status === 'ok',
      )!;
      assert.match(created.message, /with warnings: GivenName was shortened to 100 characters/);
      assert.ok(((created.detail?.warnings ?? []) as string[]).some((w) => /FamilyName/.test(w)));
    });

    it("a 5,000-character item name is cut to QuickBooks' 100, and the payment's entry says what was cut (ok with warnings)", async () => {
      const name = `Deluxe ${'package '.repeat(624)}end`.slice(0, 5000);
      assert.equal(name.length, 5000);
      const txn = await pay({
        contact: { firstName: 'Long', lastName: 'Item', email: 'long.item@example.com' },
        items: [{ name, amount: 30 }],
      });
      await settle();
      const [receipt] = await eventually(
        () => (receiptsFor(txn).length ? receiptsFor(txn) : undefined),
        30_000,
        'the receipt',
      );
      assert.equal(receipt!.TotalAmt, 30);
      const entry = (await activityFor(txn)).find((a) => a.status === 'ok' && a.qboKind === 'SalesReceipt')!;
      assert.match(entry.message, /with warnings: item name of 5000 characters shortened to QuickBooks' 100/);
      const warnings = entry.detail?.warnings as string[];
      assert.ok(
        warnings.some((w) => /item name of 5000 characters/.test(w)),
        JSON.stringify(warnings),
      );
      assert.ok(
        warnings.some((w) => /description of 5000 characters shortened to QuickBooks' 4000/.test(w)),
        JSON.stringify(warnings),
      );
      const shown = (await api(`/api/connections/${s.connection.id}/activity/${entry.id}`)) as {
        warnings: string[];
        status: string;
      };
      assert.equal(shown.status, 'ok');
      assert.ok(shown.warnings.length >= 2, 'the dashboard shows it as synced with warnings');
    });

    it('emoji and right-to-left text reach QuickBooks unchanged', async () => {
      const txn = await pay({
        contact: { firstName: 'דנה 🌟', lastName: 'عبد الله', email: 'rtl.emoji@example.com' },
        items: [{ name: 'קפה ☕ قهوة', amount: 7.5 }],
      });
      await settle();
      const [receipt] = await eventually(
        () => (receiptsFor(txn).length ? receiptsFor(txn) : undefined),
        30_000,
        'the receipt',
      );
      assert.equal(receipt!.TotalAmt, 7.5);
      const customer = s.qbo.admin
        .listEntities(s.realmId, 'Customer')
        .find((c) => (c.PrimaryEmailAddr as Rec | undefined)?.Address === 'rtl.emoji@example.com')!;
      assert.equal(customer.GivenName, 'דנה 🌟');
      assert.equal(customer.FamilyName, 'عبد الله');
      const line = (receipt!.Line as Rec[]).find((l) => l.DetailType === 'SalesItemLineDetail')!;
      assert.match(String(line.Description ?? ''), /קפה ☕ قهوة/);
    });

    it('quotes and backslashes in names, emails and item names: found again by query, never duplicated', async () => {
      const contact = {
        firstName: `Ma'ry "Q" \\`,
        lastName: `O'Brien\\'; DROP TABLE links; --`,
        email: "o'brien.quote@example.com",
      };
      const item = `Tom's "Special" \\ Blend`;
      const first = await pay({ contact, items: [{ name: item, amount: 10 }] });
      await settle();
      const second = await pay({ contact, items: [{ name: item, amount: 11 }] });
      await settle();
      for (const txn of [first, second])
        await eventually(() => (receiptsFor(txn).length === 1 ? true : undefined), 30_000, `the receipt of ${txn}`);
      const customers = s.qbo.admin
        .listEntities(s.realmId, 'Customer')
        .filter((c) => (c.PrimaryEmailAddr as Rec | undefined)?.Address === "o'brien.quote@example.com");
      assert.equal(customers.length, 1, 'one customer, matched again by its quoted email');
      const items = s.qbo.admin.listEntities(s.realmId, 'Item').filter((i) => String(i.Name).includes('Special'));
      assert.equal(items.length, 1, 'one item, found again by its quoted name');
      const links = await s.t.db.query<{ n: string }>(`SELECT count(*) AS n FROM links`);
      assert.ok(Number(links.rows[0]!.n) > 0, 'the links table is still there');
    });

    it('zero, negative and enormous amounts: zero and enormous are synced exactly; negative is refused at the source', async () => {
      const zero = await admin(`/locations/${s.locationId}/actions/order-form-payment`, {
        contact: { firstName: 'Zero', lastName: 'Amount', email: 'zero.amount@example.com' },
        items: [{ name: 'Free sample', amount: 0 }],
      });
      const negative = await admin(`/locations/${s.locationId}/actions/order-form-payment`, {
        contact: { firstName: 'Neg', lastName: 'Amount', email: 'neg.amount@example.com' },
        items: [{ name: 'Refund me', amount: -5 }],
      });
      assert.ok(
        negative.status >= 400 && negative.status < 500,
        `HighLevel refuses a negative price (${negative.status})`,
      );
      const huge = await pay({
        contact: { firstName: 'Big', lastName: 'Spender', email: 'big.spender@example.com' },
        items: [{ name: 'Yacht', amount: 99_999_999.99 }],
      });
      await settle();
      const [receipt] = await eventually(
        () => (receiptsFor(huge).length ? receiptsFor(huge) : undefined),
        30_000,
        'the enormous receipt',
      );
      assert.equal(receipt!.TotalAmt, 99_999_999.99);
      if (zero.status === 200) {
        const id = String(zero.json.transactionId);
        const entries = await eventually(
          async () => {
            const found = await activityFor(id);
            return found.length || receiptsFor(id).length ? found : undefined;
          },
          30_000,
          'the zero payment handled',
        );
        const receipts = receiptsFor(id);
        assert.ok(
          receipts.length === 1 ? receipts[0]!.TotalAmt === 0 : entries.length > 0,
          'a zero receipt, or an entry saying why not',
        );
      }
    });

    it('an unknown currency gives a clear, retryable error and no receipt, whose advice is not multicurrency', async () => {
      const txn = await pay({
        contact: { firstName: 'Odd', lastName: 'Money', email: 'odd.money@example.com' },
        currency: 'XYZ',
        items: [{ name: 'Thing', amount: 12 }],
      });
      await settle();
      const error = await eventually(
        async () => (await activityFor(txn)).find((a) => a.status === 'error'),
        30_000,
        'the error',
      );
      assert.match(error.message, /XYZ.*not a currency QuickBooks knows/);
      assert.equal(error.detail?.code, 'currency-unknown');
      assert.doesNotMatch(
        String(error.detail?.fix),
        /multicurrency/i,
        'turning on multicurrency cannot make QuickBooks accept XYZ',
      );
      assert.match(String(error.detail?.fix), /currency in HighLevel/);
      assert.ok(error.retry, 'Retry is offered');
      assert.equal(receiptsFor(txn).length, 0);
    });

    it('a payment that can never sync keeps one open error, counted and stamped, however often it is polled', async () => {
      const txn = await pay({
        contact: { firstName: 'Euro', lastName: 'Buyer', email: 'euro.buyer@example.com' },
        currency: 'EUR',
        items: [{ name: 'Thing', amount: 12 }],
      });
      for (let poll = 0; poll < 4; poll++) await settle();
      const errors = (await activityFor(txn)).filter((a) => a.status === 'error');
      assert.equal(errors.length, 1, JSON.stringify(errors.map((e) => [e.id, e.message])));
      const [error] = errors;
      assert.ok(error!.occurrences >= 2, `met ${error!.occurrences} time(s)`);
      assert.ok(error!.lastSeenAt.getTime() > error!.createdAt.getTime());
      // A real currency the company has not enabled: here multicurrency is the fix.
      assert.equal(error!.detail?.code, 'currency-not-accepted');
      assert.match(String(error!.detail?.fix), /multicurrency/);
      const shown = (await api(`/api/connections/${s.connection.id}/activity?openErrors=true&limit=500`)) as {
        entries: Array<{ id: number; occurrences: number; lastSeenAt: string }>;
      };
      const entry = shown.entries.find((e) => e.id === error!.id);
      assert.equal(entry?.occurrences, error!.occurrences);
      assert.equal(entry?.lastSeenAt, error!.lastSeenAt.toISOString());
    });

    it('more invoice lines than QuickBooks accepts: refused before anything is created, with the numbers', async () => {
      const items = Array.from({ length: 751 }, (_, i) => ({ name: `Line ${i}`, amount: 1 }));
      const r = await admin(`/locations/${s.locationId}/actions/invoice`, {
        contact: { firstName: 'Many', lastName: 'Lines', email: 'many.lines.bad@example.com' },
        items,
        send: true,
      });
      assert.equal(r.status, 200);
      const id = String(r.json.invoiceId);
      await settle();
      const error = await eventually(
        async () => (await activityFor(id)).find((a) => a.status === 'error'),
        30_000,
        'the error',
      );
      assert.match(error.message, /751 lines; QuickBooks accepts at most 750/);
      assert.equal(
        s.qbo.admin.listEntities(s.realmId, 'Invoice').filter((i) => String(i.PrivateNote ?? '').includes(id)).length,
        0,
      );
    });

    it('a tax the connection cannot map: an error naming the tax (or a receipt whose total matches the CRM), never a silent difference', async () => {
      const txn = await pay({
        contact: { firstName: 'Tax', lastName: 'Puzzle', email: 'tax.puzzle@example.com' },
        items: [{ name: 'Taxed thing', amount: 100, taxes: [{ name: 'Martian levy', rate: 13.37 }] }],
      });
      await settle();
      const outcome = await eventually(
        async () => {
          const entries = await activityFor(txn);
          return entries.some((e) => e.status === 'error' || e.status === 'ok') ? entries : undefined;
        },
        30_000,
        'the outcome',
      );
      const receipts = receiptsFor(txn);
      const error = outcome.find((e) => e.status === 'error');
      if (error) {
        assert.match(error.message, /tax|Martian/i, error.message);
        assert.equal(receipts.length, 0, 'no receipt with a wrong total');
      } else {
        assert.equal(receipts.length, 1);
        assert.equal(receipts[0]!.TotalAmt, 113.37, 'the QuickBooks total equals what the customer paid');
      }
    });
  });

  describe('a Canadian company (tax codes)', () => {
    let ca: Stack;
    let caApi: (path: string) => Promise<Rec>;
    before(async () => {
      ca = await startStack({ country: 'CA' });
      caApi = await dashboardOf(ca);
    });
    after(async () => {
      await ca?.close();
    });

    it('a CRM tax whose name holds a double quote is listed in the Tax codes tab its error sends the user to', async () => {
      const name = 'Eco "green" levy';
      const r = await fetch(`${ca.hl.url}/_emulator/locations/${ca.locationId}/actions/order-form-payment`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          contact: { firstName: 'Quote', lastName: 'Tax', email: 'quote.tax@example.com' },
          items: [{ name: 'Taxed thing', amount: 100, taxes: [{ name, rate: 13.37 }] }],
        }),
      });
      assert.equal(r.status, 200);
      const txn = String(((await r.json()) as Rec).transactionId);
      await ca.hl.flushWebhooks();
      await ca.engine.enqueuePolls();
      const error = await eventually(
        async () =>
          (await listActivity(ca.t.db, { connectionId: ca.connection.id, limit: 200 })).find(
            (a) => a.crmId === txn && a.status === 'error',
          ),
        30_000,
        'the tax error',
      );
      assert.match(String(error.detail?.fix), /dashboard/);
      const tab = (await caApi(`/api/connections/${ca.connection.id}/tax-codes`)) as {
        applies: boolean;
        unmapped: Array<{ key: string; taxes: Array<{ name: string; rate: string }> }>;
      };
      assert.equal(tab.applies, true);
      const listed = tab.unmapped.find((u) => u.taxes.some((t) => t.name === name));
      assert.ok(listed, JSON.stringify(tab.unmapped));
      assert.deepEqual(listed.taxes, [{ name, rate: '13.37' }]);
    });
  });
});
