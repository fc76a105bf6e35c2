import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { arr, obj, setup, WebhookReceiver, type Setup } from './helpers.ts';
import { emailsSearchedFor, searchBodySchema, searchContacts } from '../../../emulators/highlevel/contactSearch.ts';

describe('HighLevel emulator: contacts', () => {
  let s: Setup;
  let receiver: WebhookReceiver;
  before(async () => {
    s = await setup();
    receiver = await new WebhookReceiver().start();
    await s.api.admin('POST', '/app', { webhookUrl: receiver.url });
  });
  after(async () => {
    await s.emulator.close();
    await receiver.close();
  });

  it('creates (200, as recorded from the real API), gets, updates (tags overwrite) and deletes a contact, with the webhooks of each step', async () => {
    const created = await s.api.post('/contacts/', {
      locationId: s.locationId,
      firstName: 'Maria',
      lastName: 'Lopez',
      email: 'Maria.Lopez@Example.com',
      phone: '(512) 555-0142',
      tags: ['Lead', 'lead', 'web'],
    });
    assert.equal(created.status, 200);
    const contact = obj(created.body.contact);
    assert.match(String(contact.id), /^[A-Za-z0-9]{20}$/);
    assert.equal(contact.phone, '+15125550142');
    assert.equal(contact.emailLowerCase, 'maria.lopez@example.com');
    assert.deepEqual(contact.tags, ['lead', 'web']);
    const id = String(contact.id);

    const got = await s.api.get(`/contacts/${id}`);
    assert.equal(got.status, 200);
    assert.equal(obj(got.body.contact).firstName, 'Maria');

    const updated = await s.api.put(`/contacts/${id}`, { tags: ['customer'], city: 'Austin' });
    assert.equal(updated.status, 200);
    assert.equal(updated.body.succeded, true);
    assert.deepEqual(obj(updated.body.contact).tags, ['customer']);
    assert.equal(obj(updated.body.contact).city, 'Austin');

    const deleted = await s.api.delete(`/contacts/${id}`);
    assert.equal(deleted.status, 200);
    assert.deepEqual(deleted.body, { succeded: true });
    const gone = await s.api.get(`/contacts/${id}`);
    assert.equal(gone.status, 400);

    await s.emulator.flushWebhooks();
    const mine = receiver.received.filter((h) => h.payload.id === id).map((h) => h.payload.type);
    assert.deepEqual(mine, ['ContactCreate', 'ContactUpdate', 'ContactTagUpdate', 'ContactDelete']);
    const del = receiver.received.find((h) => h.payload.type === 'ContactDelete' && h.payload.id === id)!;
    assert.equal(del.payload.email, 'Maria.Lopez@Example.com');
    assert.equal(del.payload.locationId, s.locationId);
  });

  it('refuses a duplicate email (any case) or phone when the location disallows duplicates', async () => {
    const first = await s.api.post('/contacts/', {
      locationId: s.locationId,
      firstName: 'Dup',
      lastName: 'One',
      email: 'dup@example.com',
      phone: '+15125550199',
    });
    assert.equal(first.status, 200);
    const firstId = obj(first.body.contact).id;
    const byEmail = await s.api.post('/contacts/', { locationId: s.locationId, email: 'DUP@example.COM' });
    assert.equal(byEmail.status, 400);
    assert.equal(typeof byEmail.body.traceId, 'string');
    assert.deepEqual(
      { ...byEmail.body, traceId: undefined },
      {
        traceId: undefined,
        statusCode: 400,
        message: 'This location does not allow duplicated contacts.',
        meta: { contactId: firstId, contactName: 'Dup One', matchingField: 'email' },
      },
    );
    const byPhone = await s.api.post('/contacts/', {
      locationId: s.locationId,
      email: 'other@example.com',
      phone: '512-555-0199',
    });
    assert.equal(byPhone.status, 400);
    assert.equal(obj(byPhone.body.meta).matchingField, 'phone');
    // changing another contact's email onto it is refused too
    const second = await s.api.post('/contacts/', { locationId: s.locationId, email: 'second@example.com' });
    const clash = await s.api.put(`/contacts/${String(obj(second.body.contact).id)}`, { email: 'dup@example.com' });
    assert.equal(clash.status, 400);
  });

  it('allows duplicates when the location setting says so', async () => {
    const loc = await s.api.admin('POST', '/locations', { country: 'GB', allowDuplicateContact: true });
    const locationId = String(loc.body.locationId);
    const token = String((await s.api.admin('POST', '/tokens', { locationId })).body.access_token);
    const l = await s.api.get(`/locations/${locationId}`, { token });
    assert.equal(obj(obj(l.body.location).settings).allowDuplicateContact, true);
    assert.equal(obj(l.body.location).country, 'GB');
    assert.equal(obj(l.body.location).currency, undefined, 'HighLevel exposes no location currency');
    assert.equal((await s.api.post('/contacts/', { locationId, email: 'same@example.com' }, { token })).status, 200);
    assert.equal((await s.api.post('/contacts/', { locationId, email: 'same@example.com' }, { token })).status, 200);
  });

  it('upserts: new flag, match by email first then phone', async () => {
    const a = await s.api.post('/contacts/upsert', {
      locationId: s.locationId,
      email: 'ups@example.com',
      firstName: 'Up',
    });
    assert.equal(a.status, 200);
    assert.equal(a.body.new, true);
    const id = obj(a.body.contact).id;
    const b = await s.api.post('/contacts/upsert', {
      locationId: s.locationId,
      email: 'UPS@example.com',
      lastName: 'Sert',
      tags: ['x'],
    });
    assert.equal(b.body.new, false);
    assert.equal(obj(b.body.contact).id, id);
    assert.equal(obj(b.body.contact).lastName, 'Sert');
    assert.equal(typeof b.body.traceId, 'string');
    const phoneOnly = await s.api.post('/contacts/upsert', { locationId: s.locationId, phone: '+447700900123' });
    assert.equal(phoneOnly.body.new, true);
    const byPhone = await s.api.post('/contacts/upsert', {
      locationId: s.locationId,
      phone: '+44 7700 900123',
      firstName: 'Phone',
    });
    assert.equal(byPhone.body.new, false);
    assert.equal(obj(byPhone.body.contact).id, obj(phoneOnly.body.contact).id);
    // email matches contact A, phone matches contact B: email wins, B's phone is left alone
    const both = await s.api.post('/contacts/upsert', {
      locationId: s.locationId,
      email: 'ups@example.com',
      phone: '+447700900123',
    });
    assert.equal(obj(both.body.contact).id, id);
    assert.notEqual(obj(both.body.contact).phone, '+447700900123');
  });

  it('looks up duplicates by email or number', async () => {
    await s.api.post('/contacts/', { locationId: s.locationId, email: 'lookup@example.com', phone: '+15125550777' });
    const byEmail = await s.api.get(
      `/contacts/search/duplicate?locationId=${s.locationId}&email=${encodeURIComponent('LookUp@example.com')}`,
    );
    assert.equal(byEmail.status, 200);
    assert.equal(obj(byEmail.body.contact).email, 'lookup@example.com');
    const byNumber = await s.api.get(
      `/contacts/search/duplicate?locationId=${s.locationId}&number=${encodeURIComponent('+15125550777')}`,
    );
    assert.equal(obj(byNumber.body.contact).phone, '+15125550777');
    const none = await s.api.get(`/contacts/search/duplicate?locationId=${s.locationId}&email=nobody%40example.com`);
    assert.equal(none.body.contact, null);
  });

  it('adds and removes tags with ContactTagUpdate and a recorded tag change', async () => {
    const c = await s.api.post('/contacts/', { locationId: s.locationId, email: 'tags@example.com', tags: ['a'] });
    const id = String(obj(c.body.contact).id);
    const added = await s.api.post(`/contacts/${id}/tags`, { tags: ['Review-Requested', 'a'] });
    assert.equal(added.status, 200);
    assert.deepEqual(added.body.tags, ['a', 'review-requested']);
    const removed = await s.api.delete(`/contacts/${id}/tags`, { tags: ['a'] });
    assert.equal(removed.status, 200);
    assert.deepEqual(removed.body.tags, ['review-requested']);
    await s.emulator.flushWebhooks();
    assert.equal(
      receiver.received.filter((h) => h.payload.id === id && h.payload.type === 'ContactTagUpdate').length,
      2,
    );
    const activity = await s.api.admin('GET', `/activity?contactId=${id}`);
    const changes = arr(activity.body.tagChanges);
    assert.deepEqual(
      changes.map((c2) => [c2.added, c2.removed]),
      [
        [['a'], []],
        [['review-requested'], []],
        [[], ['a']],
      ],
    );
  });

  it('keeps notes on contacts', async () => {
    const c = await s.api.post('/contacts/', { locationId: s.locationId, email: 'notes@example.com' });
    const id = String(obj(c.body.contact).id);
    const n = await s.api.post(`/contacts/${id}/notes`, { body: 'Synced to QuickBooks as customer 58' });
    assert.equal(n.status, 200);
    const noteId = String(obj(n.body.note).id);
    const list = await s.api.get(`/contacts/${id}/notes`);
    assert.deepEqual(
      arr(list.body.notes).map((x) => x.body),
      ['Synced to QuickBooks as customer 58'],
    );
    assert.equal((await s.api.put(`/contacts/${id}/notes/${noteId}`, { body: 'edited' })).status, 200);
    assert.equal(obj((await s.api.get(`/contacts/${id}/notes/${noteId}`)).body.note).body, 'edited');
    assert.equal((await s.api.delete(`/contacts/${id}/notes/${noteId}`)).status, 200);
    assert.equal(arr((await s.api.get(`/contacts/${id}/notes`)).body.notes).length, 0);
  });

  it('creates custom fields and stores values on contacts (by id or key)', async () => {
    const f = await s.api.post(`/locations/${s.locationId}/customFields`, {
      name: 'QBO Customer Id',
      dataType: 'TEXT',
    });
    assert.equal(f.status, 200);
    const field = obj(f.body.customField);
    assert.equal(field.fieldKey, 'contact.qbo_customer_id');
    const list = await s.api.get(`/locations/${s.locationId}/customFields`);
    assert.ok(arr(list.body.customFields).some((x) => x.id === field.id));
    const c = await s.api.post('/contacts/', {
      locationId: s.locationId,
      email: 'cf@example.com',
      customFields: [{ key: 'qbo_customer_id', field_value: '58' }],
    });
    assert.deepEqual(obj(c.body.contact).customFields, [{ id: field.id, value: '58' }]);
    const id = String(obj(c.body.contact).id);
    await s.api.put(`/contacts/${id}`, { customFields: [{ id: String(field.id), field_value: '59' }] });
    const got = await s.api.get(`/contacts/${id}`);
    assert.deepEqual(obj(got.body.contact).customFields, [{ id: field.id, value: '59' }]);
    const search = await s.api.post('/contacts/search', {
      locationId: s.locationId,
      pageLimit: 10,
      filters: [{ field: `customFields.${String(field.id)}`, operator: 'eq', value: '59' }],
    });
    assert.equal(search.body.total, 1);
  });
});

describe('HighLevel emulator: contact search', () => {
  let s: Setup;
  const ids: string[] = [];
  before(async () => {
    s = await setup();
    for (let i = 0; i < 25; i++) {
      const r = await s.api.post('/contacts/', {
        locationId: s.locationId,
        firstName: `Person${String(i).padStart(2, '0')}`,
        lastName: i % 2 === 0 ? 'Even' : 'Odd',
        email: `p${i}@example.com`,
        ...(i % 5 === 0 ? {} : { phone: `+1512555${String(1000 + i)}` }),
        tags: i % 3 === 0 ? ['vip'] : [],
      });
      ids.push(String(obj(r.body.contact).id));
      s.emulator.core.clock.advance(1000);
    }
  });
  after(async () => {
    await s.emulator.close();
  });

  const search = (body: Record<string, unknown>): ReturnType<typeof s.api.post> =>
    s.api.post('/contacts/search', { locationId: s.locationId, ...body });

  it('filters with eq / not_eq / exists / not_exists / contains / range', async () => {
    assert.equal(
      (await search({ pageLimit: 100, filters: [{ field: 'email', operator: 'eq', value: 'P7@EXAMPLE.com' }] })).body
        .total,
      1,
    );
    assert.equal(
      (await search({ pageLimit: 100, filters: [{ field: 'tags', operator: 'eq', value: 'vip' }] })).body.total,
      9,
    );
    assert.equal(
      (await search({ pageLimit: 100, filters: [{ field: 'tags', operator: 'not_eq', value: 'vip' }] })).body.total,
      16,
    );
    assert.equal(
      (await search({ pageLimit: 100, filters: [{ field: 'phone', operator: 'not_exists' }] })).body.total,
      5,
    );
    assert.equal((await search({ pageLimit: 100, filters: [{ field: 'phone', operator: 'exists' }] })).body.total, 20);
    assert.equal(
      (await search({ pageLimit: 100, filters: [{ field: 'lastNameLowerCase', operator: 'eq', value: 'odd' }] })).body
        .total,
      12,
    );
    assert.equal(
      (
        await search({
          pageLimit: 100,
          filters: [{ field: 'firstNameLowerCase', operator: 'contains', value: 'person1' }],
        })
      ).body.total,
      10,
    );
    const all = await search({ pageLimit: 100, sort: [{ field: 'dateAdded', direction: 'asc' }] });
    const contacts = arr(all.body.contacts);
    const from = String(contacts[5]!.dateAdded);
    const to = String(contacts[9]!.dateAdded);
    assert.equal(
      (
        await search({
          pageLimit: 100,
          filters: [{ field: 'dateAdded', operator: 'range', value: { gte: from, lte: to } }],
        })
      ).body.total,
      5,
    );
    const group = await search({
      pageLimit: 100,
      filters: [
        {
          group: 'OR',
          filters: [
            { field: 'email', operator: 'eq', value: 'p1@example.com' },
            { field: 'email', operator: 'eq', value: 'p2@example.com' },
          ],
        },
      ],
    });
    assert.equal(group.body.total, 2);
  });

  it('answers a search by email from its index exactly as a scan of the location would', async () => {
    const emails = ['P3@Example.com', 'p6@example.com', 'p9@example.com', 'p12@example.com', 'nobody@example.com'];
    const bodies = [
      {
        pageLimit: 100,
        filters: [{ group: 'OR', filters: emails.map((value) => ({ field: 'email', operator: 'eq', value })) }],
      },
      {
        pageLimit: 2,
        page: 2,
        sort: [{ field: 'firstNameLowerCase', direction: 'desc' }],
        filters: [
          { field: 'tags', operator: 'eq', value: 'vip' },
          { group: 'OR', filters: emails.map((value) => ({ field: 'email', operator: 'eq', value })) },
        ],
      },
      {
        pageLimit: 10,
        filters: [
          { field: 'email', operator: 'eq', value: ['p1@example.com', 'P2@EXAMPLE.COM'] },
          { field: 'lastNameLowerCase', operator: 'eq', value: 'odd' },
        ],
      },
    ];
    for (const body of bodies) {
      const answer = await search(body);
      assert.equal(answer.status, 200);
      const scan = searchContacts(
        s.emulator.core.store.contactsOf(s.locationId).values(),
        searchBodySchema.parse({ locationId: s.locationId, ...body }),
      );
      assert.ok(
        emailsSearchedFor(searchBodySchema.parse({ locationId: s.locationId, ...body }).filters),
        'the index is used for this search',
      );
      assert.equal(answer.body.total, scan.total);
      assert.deepEqual(
        arr(answer.body.contacts).map((c) => c.id),
        scan.hits.map((h) => h.contact.id),
      );
    }
    // An email changed by an update is found under its new value only.
    await s.api.put(`/contacts/${ids[4]!}`, { email: 'renamed4@example.com' });
    assert.equal(
      (await search({ pageLimit: 10, filters: [{ field: 'email', operator: 'eq', value: 'p4@example.com' }] })).body
        .total,
      0,
    );
    const renamed = await search({
      pageLimit: 10,
      filters: [{ group: 'OR', filters: [{ field: 'email', operator: 'eq', value: 'renamed4@example.com' }] }],
    });
    assert.deepEqual(
      arr(renamed.body.contacts).map((c) => c.id),
      [ids[4]],
    );
    await s.api.put(`/contacts/${ids[4]!}`, { email: 'p4@example.com' });
  });

  it('refuses contains on email (eq only) with 422', async () => {
    const r = await search({ pageLimit: 10, filters: [{ field: 'email', operator: 'contains', value: 'example' }] });
    assert.equal(r.status, 422);
  });

  it('pages with page/pageLimit and reports the total', async () => {
    const p1 = await search({ pageLimit: 10, page: 1 });
    const p3 = await search({ pageLimit: 10, page: 3 });
    assert.equal(p1.body.total, 25);
    assert.equal(arr(p1.body.contacts).length, 10);
    assert.equal(arr(p3.body.contacts).length, 5);
    // default order: newest first
    assert.equal(arr(p1.body.contacts)[0]!.id, ids[24]);
  });

  it('walks every contact exactly once with the searchAfter cursor', async () => {
    const seen: string[] = [];
    let cursor: unknown;
    for (let round = 0; round < 10; round++) {
      const r = await search({
        pageLimit: 7,
        sort: [{ field: 'dateAdded', direction: 'asc' }],
        ...(cursor ? { searchAfter: cursor } : {}),
      });
      assert.equal(r.status, 200);
      const page = arr(r.body.contacts);
      if (page.length === 0) break;
      for (const c of page) seen.push(String(c.id));
      cursor = page[page.length - 1]!.searchAfter;
      assert.ok(Array.isArray(cursor));
    }
    assert.deepEqual(seen, ids);
    const mixed = await search({ pageLimit: 7, page: 2, searchAfter: [1, 2] });
    assert.equal(mixed.status, 422);
  });

  it('can model the search index lag: new contacts show in search later, but at once by id', async () => {
    await s.api.admin('POST', '/search-lag', { ms: 5_000 });
    const c = await s.api.post('/contacts/', { locationId: s.locationId, email: 'laggy@example.com' });
    const q = { pageLimit: 10, filters: [{ field: 'email', operator: 'eq', value: 'laggy@example.com' }] };
    assert.equal((await search(q)).body.total, 0);
    assert.equal((await s.api.get(`/contacts/${String(obj(c.body.contact).id)}`)).status, 200);
    s.emulator.core.clock.advance(5_000);
    assert.equal((await search(q)).body.total, 1);
    await s.api.admin('POST', '/search-lag', { ms: 0 });
    await s.api.delete(`/contacts/${String(obj(c.body.contact).id)}`);
  });

  it('sorts by name', async () => {
    const r = await search({ pageLimit: 3, sort: [{ field: 'firstNameLowerCase', direction: 'desc' }] });
    assert.deepEqual(
      arr(r.body.contacts).map((c) => c.firstName),
      ['Person24', 'Person23', 'Person22'],
    );
  });

  it('lists contacts with the deprecated GET /contacts/ and its cursor', async () => {
    const first = await s.api.get(`/contacts/?locationId=${s.locationId}&limit=20`);
    assert.equal(first.status, 200);
    assert.equal(arr(first.body.contacts).length, 20);
    const meta = obj(first.body.meta);
    assert.equal(meta.total, 25);
    const next = await s.api.get(
      `/contacts/?locationId=${s.locationId}&limit=20&startAfterId=${String(meta.startAfterId)}&startAfter=${String(meta.startAfter)}`,
    );
    assert.equal(arr(next.body.contacts).length, 5);
    assert.equal(obj(next.body.meta).nextPageUrl, null);
  });
});
