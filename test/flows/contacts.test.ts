import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startStack, eventually, type Stack } from '../support/stack.ts';
import { Engine } from '../../src/sync/engine/engine.ts';
import { listActivity } from '../../src/store/activity.ts';
import { readCursor } from '../../src/store/cursors.ts';
import { findLinkByQboId } from '../../src/store/links.ts';
import { QUEUES } from '../../src/sync/engine/routes.ts';
import { CUSTOMER_IMPORT_CURSOR, type ImportProgress } from '../../src/sync/flows/contactImport.ts';
import { INACTIVE_TAG } from '../../src/sync/flows/qboCustomers.ts';
import { pollQuickBooksChanges } from '../../src/sync/services/changeCapture.ts';
import { sweepContacts } from '../../src/sync/flows/customers.ts';
import { emulatorAdmin } from '../support/emulatorAdmin.ts';

type Rec = Record<string, unknown>;

const hlAdmin = (base: string, path: string, body: unknown): Promise<Rec> => emulatorAdmin(base, 'POST', path, body);

const contactsOf = (s: Pick<Stack, 'hl' | 'locationId'>) => [...s.hl.core.store.contactsOf(s.locationId).values()];
const SYNC_QUEUES = [QUEUES.qboCustomer, QUEUES.crmContact, QUEUES.importCustomers, QUEUES.pollQboChanges];

describe('every existing QuickBooks customer becomes a CRM contact at connection', () => {
  let s: Stack;
  let second: Engine | undefined;
  const CUSTOMERS = 2500;

  before(async () => {
    s = await startStack({
      country: 'US',
      qbo: { limits: false },
      hl: { limitFactor: Infinity },
      engine: { limits: false, concurrency: 2 },
      beforeConnect: async ({ qbo, hl, realmId, locationId }) => {
        const company = qbo.admin.company(realmId)!;
        for (let i = 1; i <= CUSTOMERS; i++) {
          const body: Rec = { DisplayName: `Customer ${i}`, GivenName: `Given${i}`, FamilyName: `Family${i}` };
          // Every 250th customer has no email: brought over by name and phone.
          if (i % 250 === 0) body.PrimaryPhone = { FreeFormNumber: `+1555${String(i).padStart(7, '0')}` };
          else
            body.PrimaryEmailAddr = { Address: i === 7 ? ' Existing.Seven@Example.com ' : `customer${i}@example.com` };
          if (i === 9)
            body.BillAddr = {
              Line1: '9 Ledger Lane',
              City: 'Portland',
              CountrySubDivisionCode: 'OR',
              PostalCode: '97201',
              Country: 'USA',
            };
          qbo.admin.accounting.create(company, 'Customer', body);
        }
        // A contact that already exists in the CRM with customer 7's email (in another case): matched, not duplicated.
        await hlAdmin(hl.url, `/locations/${locationId}/actions/contact`, {
          email: 'existing.seven@example.com',
          firstName: 'Seven',
          tags: ['vip'],
        });
        // The 2,500 ContactCreate echoes of the import are not subscribed here: echo handling is the next suite's
        // subject, and on a busy machine they would only slow this one down.
        hl.core.webhooks.config.events = new Set(['InvoiceCreate', 'InvoiceUpdate', 'OrderCreate']);
      },
    });
  });
  after(async () => {
    await second?.stop();
    await s.close();
  });

  it('imports 2,500 customers with none duplicated after a lost answer and a restart in the middle', async () => {
    // The first contact create reaches HighLevel but its answer is lost: the retry must find it, not create another.
    s.hl.core.faults.configure({
      rules: [{ kind: 'loseAnswer', rate: 1, method: 'POST', path: '/contacts/', count: 1 }],
    });
    const progress = () => readCursor<ImportProgress>(s.t.db, s.connection.id, CUSTOMER_IMPORT_CURSOR);
    const midway = await eventually(
      async () => {
        const p = await progress();
        return p && p.done >= 400 ? p : undefined;
      },
      150_000,
      'the import to be under way',
    );
    // Stop the engine in the middle of the import, and carry on with a new Engine on the same store. Stopping waits
    // up to 10 s for the running import slice: HighLevel slows down first, so that the slice cannot finish the
    // whole import in that time on a fast machine.
    s.hl.core.faults.addRule({ kind: 'latency', rate: 1, latencyMs: 300, method: 'POST', path: '/contacts/' });
    await s.engine.stop();
    s.hl.core.faults.clear();
    const stoppedAt = await progress();
    assert.ok(
      stoppedAt && !stoppedAt.finishedAt && stoppedAt.done < CUSTOMERS,
      `stopped mid-import (done ${stoppedAt?.done})`,
    );
    assert.equal(midway.total, CUSTOMERS, 'progress knows the total from the start');
    second = await Engine.create(s.engineOptions);
    await second.startWorkers({ pollers: true });
    const done = await eventually(
      async () => {
        const p = await progress();
        return p?.finishedAt ? p : undefined;
      },
      240_000,
      'the import to finish',
    );
    assert.equal(done.done, CUSTOMERS);
    assert.equal(s.hl.core.faults.stats().loseAnswer, 1, 'the lost answer happened');

    const contacts = contactsOf(s);
    assert.equal(contacts.length, CUSTOMERS, 'one contact per customer (customer 7 matched the existing contact)');
    const emails = contacts.map((c) => c.email).filter((e): e is string => Boolean(e));
    assert.equal(new Set(emails.map((e) => e.toLowerCase())).size, emails.length, 'no email appears twice');
    const links = await s.t.db.query<{ n: string | number }>(
      `SELECT count(*) AS n FROM links WHERE connection_id = $1 AND kind = 'customer' AND state = 'linked'`,
      [s.connection.id],
    );
    assert.equal(Number(links.rows[0]!.n), CUSTOMERS, 'every customer is linked');

    const seven = contacts.find((c) => c.email === 'existing.seven@example.com');
    assert.ok(seven, 'the existing contact is still there');
    assert.deepEqual(seven.tags, ['vip'], "tags are the CRM's: untouched");
    assert.equal(seven.firstName, 'Seven', 'a matched contact keeps its own name');
    assert.equal(seven.lastName, 'Family7', 'and gains what it lacked');

    const nine = contacts.find((c) => c.email === 'customer9@example.com');
    assert.equal(nine?.address1, '9 Ledger Lane');
    assert.equal(nine?.country, 'US');

    const phoneOnly = contacts.find((c) => c.firstName === 'Given250');
    assert.ok(phoneOnly, 'a customer without email came over');
    assert.equal(phoneOnly.email ?? null, null);
    assert.ok(phoneOnly.phone?.endsWith('0000250'));
    const why = await listActivity(s.t.db, {
      connectionId: s.connection.id,
      text: 'cannot be matched by email',
      limit: 50,
    });
    assert.equal(why.length, CUSTOMERS / 250, 'the reason is shown for each customer without email');
  });
});

describe('new and changed QuickBooks customers keep coming, without echoes', () => {
  let s: Stack;
  const company = () => s.qbo.admin.company(s.realmId)!;
  const customer = (id: string) => s.qbo.admin.listEntities(s.realmId, 'Customer').find((c) => c.Id === id)!;
  const settle = async () => {
    await s.qbo.admin.webhooks.flush();
    await s.hl.flushWebhooks();
    await s.engine.queue.idle(SYNC_QUEUES, 30_000);
  };
  const contactFor = async (customerId: string) => {
    const link = await findLinkByQboId(s.t.db, s.connection.id, 'customer', customerId);
    return link?.state === 'linked' ? s.hl.core.store.contacts.get(link.crmId) : undefined;
  };

  before(async () => {
    s = await startStack({
      country: 'US',
      qbo: { limits: false },
      hl: { limitFactor: Infinity },
      engine: { limits: false, pollSeconds: 1, cdcPollSeconds: 2 },
      pollers: true,
    });
  });
  after(async () => {
    await s.close();
  });

  it('brings a customer created in QuickBooks into the CRM within seconds (webhook)', async () => {
    const created = s.qbo.admin.accounting.create(company(), 'Customer', {
      DisplayName: 'Ada Lovelace',
      GivenName: 'Ada',
      FamilyName: 'Lovelace',
      PrimaryEmailAddr: { Address: 'ada@example.com' },
    });
    const contact = await eventually(() => contactFor(String(created.Id)), 30_000, 'the contact');
    assert.equal(contact.email, 'ada@example.com');
    assert.equal(contact.firstName, 'Ada');
  });

  it('catches up a change whose webhook was dropped, through change data capture', async () => {
    const created = s.qbo.admin.accounting.create(company(), 'Customer', {
      DisplayName: 'Grace Hopper',
      GivenName: 'Grace',
      FamilyName: 'Hopper',
      PrimaryEmailAddr: { Address: 'grace@example.com' },
    });
    await eventually(() => contactFor(String(created.Id)), 30_000, 'the contact');
    s.qbo.faults.configure({ rules: [], webhooks: { drop: 1 } });
    try {
      s.qbo.admin.accounting.update(company(), 'Customer', {
        Id: created.Id,
        SyncToken: customer(String(created.Id)).SyncToken,
        sparse: true,
        PrimaryPhone: { FreeFormNumber: '+1 (555) 010-2000' },
      });
      const contact = await eventually(
        async () => {
          const c = await contactFor(String(created.Id));
          return c?.phone ? c : undefined;
        },
        30_000,
        'the phone change to arrive by polling',
      );
      assert.equal(contact.phone, '+15550102000');
      await s.qbo.admin.webhooks.flush();
      assert.ok((s.qbo.faults.stats()['webhook.drop'] ?? 0) >= 1, 'the webhook was dropped');
    } finally {
      s.qbo.faults.clear();
    }
  });

  it('deduplicates overlapping change-capture windows', async () => {
    const inboxBefore = await s.t.db.query<{ n: string | number }>(
      `SELECT count(*) AS n FROM inbox WHERE event_id LIKE 'cdc:%'`,
    );
    const ctx = s.engine.contextFor(s.connection);
    const first = await pollQuickBooksChanges(ctx);
    const again = await pollQuickBooksChanges(ctx);
    assert.ok(first.seen > 0, 'the window overlaps earlier changes');
    assert.equal(again.queued, 0, 'the same versions are not queued twice');
    const inboxAfter = await s.t.db.query<{ n: string | number }>(
      `SELECT count(*) AS n FROM inbox WHERE event_id LIKE 'cdc:%'`,
    );
    assert.equal(Number(inboxAfter.rows[0]!.n), Number(inboxBefore.rows[0]!.n) + first.queued);
  });

  it('lets QuickBooks own the billing address and the CRM own tags, and echoes nothing', async () => {
    const created = s.qbo.admin.accounting.create(company(), 'Customer', {
      DisplayName: 'Alan Turing',
      GivenName: 'Alan',
      FamilyName: 'Turing',
      PrimaryEmailAddr: { Address: 'alan@example.com' },
    });
    const contact = await eventually(() => contactFor(String(created.Id)), 30_000, 'the contact');
    await settle();
    // QuickBooks changes the billing address: the contact follows.
    s.qbo.admin.accounting.update(company(), 'Customer', {
      Id: created.Id,
      SyncToken: customer(String(created.Id)).SyncToken,
      sparse: true,
      BillAddr: { Line1: '1 Bletchley Park', City: 'Milton Keynes', PostalCode: 'MK3 6EB', Country: 'GB' },
    });
    await eventually(
      () => (s.hl.core.store.contacts.get(contact.id)?.address1 === '1 Bletchley Park' ? true : undefined),
      30_000,
      'the address',
    );
    await settle();
    const tokenAfterAddress = customer(String(created.Id)).SyncToken;
    // The CRM's own write did not go back to QuickBooks.
    assert.equal(customer(String(created.Id)).SyncToken, tokenAfterAddress);

    const token = s.hl.mintToken(s.locationId).access_token;
    const put = async (body: Rec) => {
      const r = await fetch(`${s.hl.url}/contacts/${contact.id}`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${token}`, version: '2021-07-28', 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      assert.equal(r.status, 200, await r.text());
    };
    // The CRM changes the address (QuickBooks owns it for a customer it created) and tags: nothing goes to QuickBooks.
    await put({ address1: '99 Elsewhere Road', tags: ['newsletter'] });
    await settle();
    const unchanged = customer(String(created.Id));
    assert.equal(
      unchanged.SyncToken,
      tokenAfterAddress,
      'no QuickBooks write for CRM-owned or QuickBooks-owned fields',
    );
    assert.equal((unchanged.BillAddr as Rec).Line1, '1 Bletchley Park');
    // The CRM changes the phone (either side may): QuickBooks follows, once, and that write does not come back.
    await put({ phone: '+447700900123' });
    await settle();
    const updated = customer(String(created.Id));
    assert.equal((updated.PrimaryPhone as Rec).FreeFormNumber, '+447700900123');
    assert.equal(Number(updated.SyncToken), Number(tokenAfterAddress) + 1, 'exactly one QuickBooks update');
    const contactAfter = s.hl.core.store.contacts.get(contact.id)!;
    assert.equal(contactAfter.address1, '99 Elsewhere Road', 'the echo did not overwrite the CRM');
    await settle();
    assert.equal(
      customer(String(created.Id)).SyncToken,
      updated.SyncToken,
      'still one update after everything settled',
    );
  });

  it('catches up a CRM contact edit whose webhook was lost, through the contact sweep', async () => {
    const created = s.qbo.admin.accounting.create(company(), 'Customer', {
      DisplayName: 'Hedy Lamarr',
      GivenName: 'Hedy',
      FamilyName: 'Lamarr',
      PrimaryEmailAddr: { Address: 'hedy@example.com' },
      BillAddr: { Line1: '1 Frequency Way', City: 'Vienna', PostalCode: '1010', Country: 'AT' },
    });
    const contact = await eventually(() => contactFor(String(created.Id)), 30_000, 'the contact');
    await settle();
    const ctx = s.engine.contextFor(s.connection);
    // A search hit names the street line `address`, a read by id `address1`: a contact in sync is not re-queued.
    const quiet = await sweepContacts(ctx, { minIntervalMs: 0 });
    assert.equal(quiet.enqueued, 0, `nothing changed since the import (${JSON.stringify(quiet)})`);
    await settle();
    const before = customer(String(created.Id)).SyncToken;
    // The CRM changes the phone while every webhook is lost (HighLevel does not send it again).
    s.hl.core.faults.configure({ rules: [], webhooks: { drop: 1 } });
    const token = s.hl.mintToken(s.locationId).access_token;
    const r = await fetch(`${s.hl.url}/contacts/${contact.id}`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${token}`, version: '2021-07-28', 'content-type': 'application/json' },
      body: JSON.stringify({ phone: '+15550107777' }),
    });
    assert.equal(r.status, 200, await r.text());
    await settle();
    s.hl.core.faults.clear();
    assert.equal(customer(String(created.Id)).SyncToken, before, 'nothing arrived by webhook');
    const swept = await sweepContacts(ctx, { minIntervalMs: 0 });
    assert.ok(swept.enqueued >= 1, `the sweep enqueued the edited contact (${JSON.stringify(swept)})`);
    await settle();
    const after = customer(String(created.Id));
    assert.equal((after.PrimaryPhone as Rec).FreeFormNumber, '+15550107777');
    // Nothing changed since: the next sweep enqueues nothing for it.
    const again = await sweepContacts(ctx, { minIntervalMs: 0 });
    await settle();
    assert.equal(again.enqueued, 0);
    assert.equal(customer(String(created.Id)).SyncToken, after.SyncToken);
  });

  it('links a QuickBooks customer to its contact when the CRM-side job that claimed the contact died', async () => {
    // The CRM-side flow claimed the contact (pending link), created the QuickBooks customer, and died before
    // linking; nothing retried it. The customer's own webhook must not wait on that claim for ever.
    const made = await hlAdmin(s.hl.url, `/locations/${s.locationId}/actions/contact`, {
      email: 'orphan.claim@example.com',
      firstName: 'Orphan',
      lastName: 'Claim',
    });
    const contactId = String(made.contactId);
    await s.t.db.query(
      `INSERT INTO links (connection_id, kind, crm_id, origin, state, data, updated_at) VALUES ($1, 'customer', $2, 'crm', 'pending', '{}', now() - interval '3 minutes')`,
      [s.connection.id, contactId],
    );
    const created = s.qbo.admin.accounting.create(company(), 'Customer', {
      DisplayName: 'Orphan Claim',
      GivenName: 'Orphan',
      FamilyName: 'Claim',
      PrimaryEmailAddr: { Address: 'orphan.claim@example.com' },
    });
    const contact = await eventually(
      () => contactFor(String(created.Id)),
      30_000,
      'the customer linked to the contact',
    );
    assert.equal(contact.id, contactId, 'linked to the existing contact, not a new one');
    assert.equal(contactsOf(s).filter((c) => c.email === 'orphan.claim@example.com').length, 1);
  });

  it('tags the contact when its customer is made inactive, instead of deleting it', async () => {
    const created = s.qbo.admin.accounting.create(company(), 'Customer', {
      DisplayName: 'Old Client',
      GivenName: 'Old',
      FamilyName: 'Client',
      PrimaryEmailAddr: { Address: 'old@example.com' },
    });
    const contact = await eventually(() => contactFor(String(created.Id)), 30_000, 'the contact');
    s.qbo.admin.accounting.delete(company(), 'Customer', {
      Id: created.Id,
      SyncToken: customer(String(created.Id)).SyncToken,
    });
    await eventually(
      () => (s.hl.core.store.contacts.get(contact.id)?.tags.includes(INACTIVE_TAG) ? true : undefined),
      30_000,
      'the inactive tag',
    );
    assert.ok(s.hl.core.store.contacts.get(contact.id), 'the contact still exists');
  });

  it('brings a customer without email over by name and phone, saying why it cannot be matched', async () => {
    const created = s.qbo.admin.accounting.create(company(), 'Customer', {
      DisplayName: 'Walk-in Wanda',
      GivenName: 'Wanda',
      PrimaryPhone: { FreeFormNumber: '+15550109999' },
    });
    const contact = await eventually(() => contactFor(String(created.Id)), 30_000, 'the contact');
    assert.equal(contact.firstName, 'Wanda');
    assert.equal(contact.phone, '+15550109999');
    const [entry] = await listActivity(s.t.db, { connectionId: s.connection.id, text: 'Walk-in Wanda', limit: 5 });
    assert.match(entry!.message, /no email/);
  });
});

describe('the initial import costs HighLevel about one call a customer', () => {
  const importRoutes = ['POST /contacts/', 'GET /contacts/search/duplicate', 'POST /contacts/search'];

  /** A stack whose HighLevel counts the import's requests by route; the import starts as it connects. */
  async function importing(
    customers: number,
    options: {
      searchLagMs?: number;
      allowDuplicates?: boolean;
      existing: Array<{ customer: number; firstName: string }>;
      sharedEmail?: [number, number];
    },
  ) {
    const requests = new Map<string, number>();
    const s = await startStack({
      country: 'US',
      qbo: { limits: false },
      hl: {
        limitFactor: Infinity,
        ...(options.searchLagMs ? { searchLagMs: options.searchLagMs } : {}),
        observe: (r) => {
          const route = `${r.method} ${r.url.split('?')[0]}`;
          if (importRoutes.includes(route)) requests.set(route, (requests.get(route) ?? 0) + 1);
        },
      },
      engine: { limits: false },
      beforeConnect: async ({ qbo, hl, realmId, locationId }) => {
        const company = qbo.admin.company(realmId)!;
        hl.core.store.locations.get(locationId)!.allowDuplicateContact = options.allowDuplicates ?? false;
        for (let i = 1; i <= customers; i++) {
          const email = options.sharedEmail?.includes(i) ? 'shared@calls.example' : `buyer${i}@calls.example`;
          qbo.admin.accounting.create(company, 'Customer', {
            DisplayName: `Buyer ${i}`,
            GivenName: `Given${i}`,
            FamilyName: `Family${i}`,
            PrimaryEmailAddr: { Address: email },
          });
        }
        for (const { customer, firstName } of options.existing) {
          await hlAdmin(hl.url, `/locations/${locationId}/actions/contact`, {
            email: `buyer${customer}@calls.example`,
            firstName,
            tags: ['vip'],
          });
        }
        hl.core.webhooks.config.events = new Set(['InvoiceCreate', 'InvoiceUpdate', 'OrderCreate']);
      },
    });
    const done = await eventually(
      async () => {
        const p = await readCursor<ImportProgress>(s.t.db, s.connection.id, CUSTOMER_IMPORT_CURSOR);
        return p?.finishedAt ? p : undefined;
      },
      120_000,
      'the import to finish',
    );
    await s.engine.queue.idle(SYNC_QUEUES, 30_000);
    return { s, done, requests: (route: string) => requests.get(route) ?? 0 };
  }

  it('creates unknown customers without a look-up each, and still matches and refuses by email', async () => {
    const existing = [20, 21, 22, 23, 24].map((customer) => ({ customer, firstName: `Known${customer}` }));
    // Duplicates allowed: only ledgerlink's own look-ups keep a second contact from being made for an email.
    const { s, done, requests } = await importing(300, { existing, sharedEmail: [10, 11], allowDuplicates: true });
    try {
      assert.equal(done.done, 300);
      const contacts = contactsOf(s);
      // 300 customers: 5 matched to existing contacts, the second of two sharing an email skipped.
      assert.equal(contacts.length, 300 - 1, 'one contact a customer, but for the shared email');
      const emails = contacts.map((c) => c.email?.toLowerCase()).filter(Boolean);
      assert.equal(new Set(emails).size, emails.length, 'no email appears twice');
      for (const { customer, firstName } of existing) {
        const contact = contacts.find((c) => c.email === `buyer${customer}@calls.example`)!;
        assert.equal(contact.firstName, firstName, 'a matched contact keeps its own name');
        assert.equal(contact.lastName, `Family${customer}`, 'and gains what it lacked');
      }
      const skipped = await listActivity(s.t.db, {
        connectionId: s.connection.id,
        text: 'shared@calls.example',
        limit: 5,
      });
      assert.equal(
        skipped.filter((e) => e.status === 'skipped').length,
        1,
        'the customer whose email another holds is skipped, with the reason',
      );

      assert.equal(requests('POST /contacts/'), 300 - 5 - 1, 'a create for each customer no contact holds');
      assert.equal(
        requests('GET /contacts/search/duplicate'),
        5 + 2,
        'a look-up only for the emails found, and for the shared one',
      );
      // Page 1: 200 customers, 198 single emails in 4 searches of 50; page 2: 100 in 2.
      assert.equal(requests('POST /contacts/search'), 6, 'one search per 50 emails');
    } finally {
      await s.close();
    }
  });

  it('adopts, rather than duplicates, a contact that the lagging search did not show', async () => {
    // HighLevel's search index lags writes: here it hides every contact, so the import believes customer 3's email
    // is free; the location forbids duplicates (HighLevel's default), so the create is refused and names the contact.
    const { s, requests } = await importing(20, {
      searchLagMs: 600_000,
      existing: [{ customer: 3, firstName: 'Three' }],
    });
    try {
      const contacts = contactsOf(s);
      assert.equal(contacts.length, 20, 'one contact a customer, none twice');
      const three = contacts.find((c) => c.email === 'buyer3@calls.example')!;
      assert.equal(three.firstName, 'Three', 'the adopted contact keeps its own name');
      assert.equal(three.lastName, 'Family3', 'and gains what it lacked, as a contact found by look-up does');
      assert.deepEqual(three.tags, ['vip']);
      const customer3 = s.qbo.admin.listEntities(s.realmId, 'Customer').find((c) => c.DisplayName === 'Buyer 3')!;
      const link = await findLinkByQboId(s.t.db, s.connection.id, 'customer', String(customer3.Id));
      assert.equal(link?.state, 'linked');
      assert.equal(link?.crmId, three.id);
      assert.equal(requests('GET /contacts/search/duplicate'), 0, 'the search said every email was free');
    } finally {
      await s.close();
    }
  });
});
