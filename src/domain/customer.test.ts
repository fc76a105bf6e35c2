import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  CONTACT_FIELD_OWNERSHIP,
  contactFieldsForQboCustomer,
  displayNameCandidate,
  displayNameCandidates,
  fieldsToWrite,
  qboCustomerForContact,
  syncedContactHash,
  syncedFieldsFromContact,
  syncedFieldsFromQboCustomer,
  type CrmContact,
  type SyncedContact,
} from './customer.ts';
import { QBO_LIMITS } from './quickbooksLimits.ts';
import { truncateText } from './textLimits.ts';

const jane: CrmContact = {
  id: 'ocQHyuzHvysMo5N5VsXc',
  firstName: 'Jane',
  lastName: 'Doe',
  email: 'Jane.Doe@Example.com ',
  phone: '+15550102000',
  companyName: 'Doe & Co',
  address1: '1 Main St',
  city: 'Springfield',
  state: 'IL',
  postalCode: '62701',
  country: 'US',
  tags: ['vip'],
};

describe('HighLevel contact -> QuickBooks Customer', () => {
  it('maps names, email (normalised), phone, company and billing address', () => {
    const { customer, warnings } = qboCustomerForContact(jane);
    assert.deepEqual(customer, {
      DisplayName: 'Jane Doe',
      GivenName: 'Jane',
      FamilyName: 'Doe',
      CompanyName: 'Doe & Co',
      PrimaryEmailAddr: { Address: 'jane.doe@example.com' },
      PrimaryPhone: { FreeFormNumber: '+15550102000' },
      BillAddr: {
        Line1: '1 Main St',
        City: 'Springfield',
        CountrySubDivisionCode: 'IL',
        PostalCode: '62701',
        Country: 'US',
      },
    });
    assert.deepEqual(warnings, []);
  });
  it("keeps apostrophes (O'Brien), emoji and right-to-left text intact", () => {
    assert.equal(
      qboCustomerForContact({ id: 'c1', firstName: 'Seán', lastName: "O'Brien" }).customer.DisplayName,
      "Seán O'Brien",
    );
    assert.equal(
      qboCustomerForContact({ id: 'c2', firstName: 'Zoë 🌻', lastName: 'Smith' }).customer.DisplayName,
      'Zoë 🌻 Smith',
    );
    assert.equal(
      qboCustomerForContact({ id: 'c3', firstName: 'محمد', lastName: 'علي' }).customer.DisplayName,
      'محمد علي',
    );
  });
  it('replaces ":" in DisplayName (QuickBooks uses it for sub-customers) but keeps it in CompanyName', () => {
    const { customer } = qboCustomerForContact({ id: 'c4', name: 'Acme: West', companyName: 'Acme: West' });
    assert.equal(customer.DisplayName, 'Acme- West');
    assert.equal(customer.CompanyName, 'Acme: West');
  });
  it('uses company, then email, then the contact id when the contact has no name', () => {
    assert.equal(
      qboCustomerForContact({ id: 'c5', companyName: 'Acme Ltd', email: 'a@acme.com' }).customer.DisplayName,
      'Acme Ltd',
    );
    assert.equal(qboCustomerForContact({ id: 'c6', email: 'A@acme.com' }).customer.DisplayName, 'A@acme.com');
    assert.equal(qboCustomerForContact({ id: 'c7' }).customer.DisplayName, 'HighLevel contact c7');
    assert.equal(
      qboCustomerForContact({ id: 'c8', firstName: '  ', lastName: null, name: 'Bob Stone' }).customer.DisplayName,
      'Bob Stone',
    );
  });
  it('shortens too-long names to the QuickBooks limits on character boundaries, and says so', () => {
    const long = '👩‍👩‍👧'.repeat(40); // each family emoji is 8 UTF-16 units
    const { customer, warnings } = qboCustomerForContact({ id: 'c9', firstName: long, lastName: 'x'.repeat(600) });
    assert.ok((customer.GivenName ?? '').length <= 100);
    assert.equal(customer.GivenName, '👩‍👩‍👧'.repeat(12)); // 96 units; a 13th would need 104
    assert.ok(customer.DisplayName.length <= 500);
    assert.ok(warnings.some((w) => w.includes('GivenName')));
    assert.ok(warnings.some((w) => w.includes('FamilyName')));
  });
  it('leaves out an email QuickBooks would refuse and explains why', () => {
    const { customer, warnings } = qboCustomerForContact({ id: 'c10', firstName: 'Al', email: 'al@localhost' });
    assert.equal(customer.PrimaryEmailAddr, undefined);
    assert.match(warnings.join('\n'), /email not sent to QuickBooks: .*no dot/);
  });
});

describe('DisplayName candidates for clash resolution (QuickBooks error 6240)', () => {
  it('tries the name, then the name with the email, then numbered variants', () => {
    assert.deepEqual(displayNameCandidates(jane, 4), [
      'Jane Doe',
      'Jane Doe (jane.doe@example.com)',
      'Jane Doe (jane.doe@example.com) 2',
      'Jane Doe (jane.doe@example.com) 3',
    ]);
  });
  it('qualifies by the contact id when there is no email, or when the name already is the email', () => {
    assert.equal(displayNameCandidate({ id: 'abc123', firstName: 'Jane' }, 1), 'Jane (abc123)');
    assert.equal(displayNameCandidate({ id: 'abc123', email: 'jane@x.com' }, 1), 'jane@x.com (abc123)');
  });
  it('property: candidates fit in 500 characters, never contain ":", and are all distinct', () => {
    fc.assert(
      fc.property(
        fc.string({ maxLength: 700, unit: 'grapheme' }),
        fc.option(fc.emailAddress()),
        fc.string({ minLength: 1, maxLength: 24 }),
        (name, email, id) => {
          const contact: CrmContact = { id, name, email };
          const names = displayNameCandidates(contact, 6);
          for (const n of names) {
            assert.ok(n.length <= 500, `${n.length} > 500`);
            assert.ok(!n.includes(':'));
            assert.ok(n.length > 0);
          }
          assert.equal(new Set(names).size, names.length);
        },
      ),
    );
  });
});

describe('truncation on character boundaries', () => {
  it('never splits a surrogate pair or a ZWJ sequence', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 80, unit: 'grapheme' }), fc.integer({ min: 0, max: 90 }), (s, max) => {
        const cut = truncateText(s, max);
        assert.ok(cut.length <= max);
        assert.ok(s.startsWith(cut.trimEnd()));
        assert.ok(!/[\uD800-\uDBFF]$/.test(cut), 'ends inside a surrogate pair');
      }),
    );
  });
});

describe('QuickBooks Customer -> HighLevel contact fields', () => {
  it('maps the Customer of a QuickBooks-created record', () => {
    assert.deepEqual(
      contactFieldsForQboCustomer({
        Id: '58',
        DisplayName: "Amy's Bird Sanctuary",
        GivenName: 'Amy',
        FamilyName: 'Lauterbach',
        CompanyName: "Amy's Bird Sanctuary",
        PrimaryEmailAddr: { Address: 'Birds@Intuit.com' },
        PrimaryPhone: { FreeFormNumber: '(650) 555-3311' },
        BillAddr: {
          Line1: '4581 Finch St.',
          Line2: 'Suite 2',
          City: 'Bayshore',
          CountrySubDivisionCode: 'CA',
          PostalCode: '94326',
          Country: 'USA',
        },
      }),
      {
        firstName: 'Amy',
        lastName: 'Lauterbach',
        name: 'Amy Lauterbach',
        email: 'birds@intuit.com',
        phone: '(650) 555-3311',
        companyName: "Amy's Bird Sanctuary",
        address1: '4581 Finch St., Suite 2',
        city: 'Bayshore',
        state: 'CA',
        postalCode: '94326',
        country: 'US',
      },
    );
  });
  it('falls back to DisplayName for the name and leaves out unknown countries and bad emails', () => {
    assert.deepEqual(
      contactFieldsForQboCustomer({
        DisplayName: 'Cool Cars',
        PrimaryEmailAddr: { Address: 'not-an-email' },
        BillAddr: { Country: 'Atlantis' },
      }),
      { name: 'Cool Cars' },
    );
  });
});

describe('content hash for echo suppression', () => {
  it('hashes a contact and the customer we wrote for it the same', () => {
    const { customer } = qboCustomerForContact(jane);
    assert.equal(
      syncedContactHash(syncedFieldsFromQboCustomer(customer)),
      syncedContactHash(syncedFieldsFromContact(jane)),
    );
  });
  it('hashes the same after QuickBooks shortened a long address, and ignores phone formatting', () => {
    const contact: CrmContact = { ...jane, address1: 'Road '.repeat(150), phone: '+1 (555) 010-2000' };
    const { customer } = qboCustomerForContact(contact);
    assert.equal(
      syncedContactHash(syncedFieldsFromQboCustomer(customer)),
      syncedContactHash(syncedFieldsFromContact({ ...contact, phone: '+15550102000' })),
    );
  });
  it('changes when a synced field changes, not when tags change', () => {
    const base = syncedContactHash(syncedFieldsFromContact(jane));
    assert.notEqual(syncedContactHash(syncedFieldsFromContact({ ...jane, city: 'Chicago' })), base);
    assert.equal(syncedContactHash(syncedFieldsFromContact({ ...jane, tags: ['other'] })), base);
    assert.equal(syncedContactHash(syncedFieldsFromContact({ ...jane, email: 'JANE.DOE@example.com' })), base);
  });
});

describe('field ownership', () => {
  const synced = syncedFieldsFromContact(jane);
  const empty: SyncedContact = Object.fromEntries(
    Object.keys(synced).map((k) => [k, null]),
  ) as unknown as SyncedContact;

  it('is written down as data: tags belong to HighLevel, the address to the side that created the record', () => {
    assert.deepEqual(CONTACT_FIELD_OWNERSHIP.find((r) => r.field === 'tags')?.owner, { kind: 'side', side: 'crm' });
    assert.deepEqual(CONTACT_FIELD_OWNERSHIP.find((r) => r.field === 'city')?.owner, { kind: 'origin' });
    assert.deepEqual(CONTACT_FIELD_OWNERSHIP.find((r) => r.field === 'email')?.owner, {
      kind: 'both',
      rule: 'last-writer',
    });
  });
  it('writes name, email and phone either way, but not the address of a QuickBooks-created customer from HighLevel', () => {
    const current = syncedFieldsFromQboCustomer({ GivenName: 'Jane', FamilyName: 'Roe', BillAddr: { City: 'Boston' } });
    const write = fieldsToWrite('quickbooks', synced, current, { origin: 'quickbooks' });
    assert.equal(write.lastName, 'Doe');
    assert.equal(write.email, 'jane.doe@example.com');
    assert.equal('city' in write, false);
  });
  it('writes the address from QuickBooks to HighLevel for customers QuickBooks created', () => {
    const fromQbo = { ...synced, city: 'Boston' };
    assert.deepEqual(fieldsToWrite('crm', fromQbo, synced, { origin: 'quickbooks' }), { city: 'Boston' });
    assert.deepEqual(fieldsToWrite('crm', fromQbo, synced, { origin: 'crm' }), {});
  });
  it('writes nothing when nothing differs (our own echo)', () => {
    assert.deepEqual(fieldsToWrite('quickbooks', synced, synced, { origin: 'crm' }), {});
  });
  it('does not blank out a value without a last-synced snapshot proving the source removed it', () => {
    assert.deepEqual(fieldsToWrite('quickbooks', { ...synced, phone: null }, synced, { origin: 'crm' }), {});
    assert.deepEqual(
      fieldsToWrite('quickbooks', { ...synced, phone: null }, synced, { origin: 'crm', lastSynced: synced }),
      { phone: null },
    );
  });
  it('with a snapshot, keeps a change made on the target that the source never touched (last writer wins)', () => {
    const current = { ...synced, phone: '+15559990000' }; // edited in QuickBooks after the last sync
    assert.deepEqual(fieldsToWrite('quickbooks', synced, current, { origin: 'crm', lastSynced: synced }), {});
    assert.deepEqual(
      fieldsToWrite('quickbooks', { ...synced, firstName: 'Janet' }, current, { origin: 'crm', lastSynced: synced }),
      { firstName: 'Janet' },
    );
  });
  it('fills an empty target', () => {
    const write = fieldsToWrite('crm', synced, empty, { origin: 'quickbooks' });
    assert.equal(write.address1, '1 Main St');
    assert.equal(write.firstName, 'Jane');
  });
});

describe('properties over arbitrary contacts', () => {
  const text = fc.option(
    fc.oneof(
      fc.string({ maxLength: 700, unit: 'grapheme' }),
      fc.constantFrom('US', 'United States', 'Canada', 'gb', '  ', 'Jane: Doe', '+1 (555) 010-2000'),
    ),
  );
  const contactArb = fc.record({
    id: fc.string({ minLength: 1, maxLength: 24 }),
    firstName: text,
    lastName: text,
    name: text,
    email: fc.option(fc.oneof(fc.emailAddress(), fc.string({ maxLength: 120 }))),
    phone: text,
    companyName: text,
    address1: text,
    city: text,
    state: text,
    postalCode: text,
    country: text,
  });
  it('every Customer field fits its QuickBooks limit and DisplayName has no ":"', () => {
    fc.assert(
      fc.property(contactArb, (contact) => {
        const { customer: c } = qboCustomerForContact(contact);
        const L = QBO_LIMITS.customer;
        const A = QBO_LIMITS.address;
        assert.ok(c.DisplayName.length > 0 && c.DisplayName.length <= L.DisplayName && !c.DisplayName.includes(':'));
        assert.ok((c.GivenName ?? '').length <= L.GivenName);
        assert.ok((c.FamilyName ?? '').length <= L.FamilyName);
        assert.ok((c.CompanyName ?? '').length <= L.CompanyName);
        assert.ok((c.PrimaryEmailAddr?.Address ?? '').length <= L.PrimaryEmailAddress);
        assert.ok((c.PrimaryPhone?.FreeFormNumber ?? '').length <= L.FreeFormNumber);
        assert.ok((c.BillAddr?.Line1 ?? '').length <= A.Line);
        assert.ok((c.BillAddr?.City ?? '').length <= A.City);
        assert.ok((c.BillAddr?.PostalCode ?? '').length <= A.PostalCode);
      }),
    );
  });
  it('echo: the Customer we write hashes the same as the contact it came from', () => {
    fc.assert(
      fc.property(contactArb, (contact) => {
        const { customer } = qboCustomerForContact(contact);
        assert.equal(
          syncedContactHash(syncedFieldsFromQboCustomer(customer)),
          syncedContactHash(syncedFieldsFromContact(contact)),
        );
      }),
    );
  });
});
