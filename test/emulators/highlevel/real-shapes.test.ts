// Response shapes: the emulator's answers against facts derived from real HighLevel answers recorded in public
// repositories (NangoHQ/integration-templates, integrations/highlevel/tests/*.test.json, recorded 2026-07 from a
// real sub-account) and live probes reported in highlevel-api-docs issue 314. Only the facts are kept here: which
// keys are always there, which never, their types, the status codes.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { arr, obj, setup, type Setup } from './helpers.ts';

type Kind = 'string' | 'number' | 'boolean' | 'array' | 'object' | 'null';
const kindOf = (v: unknown): Kind => (v === null ? 'null' : Array.isArray(v) ? 'array' : (typeof v as Kind));

/** Keys every recorded answer carried, with the types seen (a key may be null where the field is unset). */
const CONTACT_ALWAYS: Record<string, Kind[]> = {
  // get-contact, create-contact, update-contact, upsert-contact, check-duplicate-contact
  id: ['string'],
  locationId: ['string'],
  type: ['string'],
  tags: ['array'],
  customFields: ['array'],
  dateAdded: ['string'],
  dateUpdated: ['string'],
};
const CONTACT_NEVER = ['name', 'address', 'contactName'];

/** Every key of a POST /contacts/search hit (contacts.test.json, list-contacts.test.json: 15 hits, all 38 keys each). */
const SEARCH_HIT_KEYS: Record<string, Kind[]> = {
  id: ['string'],
  phoneLabel: ['null', 'string'],
  country: ['string', 'null'],
  address: ['null', 'string'],
  source: ['null', 'string'],
  type: ['string'],
  locationId: ['string'],
  website: ['null', 'string'],
  dnd: ['boolean'],
  state: ['null', 'string'],
  businessName: ['string', 'null'],
  customFields: ['array'],
  tags: ['array'],
  dateAdded: ['string'],
  additionalEmails: ['array'],
  phone: ['string', 'null'],
  companyName: ['string', 'null'],
  additionalPhones: ['array'],
  dateUpdated: ['string'],
  city: ['null', 'string'],
  dateOfBirth: ['null', 'number'],
  firstNameLowerCase: ['string', 'null'],
  lastNameLowerCase: ['string', 'null'],
  firstName: ['string', 'null'],
  lastName: ['string', 'null'],
  contactName: ['string', 'null'],
  email: ['null', 'string'],
  assignedTo: ['null', 'string'],
  followers: ['array'],
  validEmail: ['null', 'boolean'],
  dndSettings: ['object'],
  postalCode: ['null', 'string'],
  businessId: ['string', 'null'],
  searchAfter: ['array'],
  timezone: ['null', 'string'],
  inboundDndSettings: ['object'],
  attributionSource: ['object'],
  lastAttributionSource: ['object'],
};
const SEARCH_HIT_NEVER = ['address1', 'name', 'emailLowerCase', 'fullNameLowerCase'];

function keyProblems(
  value: Record<string, unknown>,
  always: Record<string, Kind[]>,
  never: string[],
  where: string,
): string[] {
  const problems: string[] = [];
  for (const [key, kinds] of Object.entries(always)) {
    if (!(key in value)) problems.push(`${where}.${key}: missing`);
    else if (!kinds.includes(kindOf(value[key])))
      problems.push(`${where}.${key}: ${kindOf(value[key])}, recorded ${kinds.join('|')}`);
  }
  for (const key of never) if (key in value) problems.push(`${where}.${key}: present, never in a recorded answer`);
  return problems;
}

describe('HighLevel emulator: answers shaped like recorded real ones', () => {
  let s: Setup;
  let contactId = '';
  before(async () => {
    s = await setup();
  });
  after(async () => {
    await s.emulator.close();
  });

  it('POST /contacts/ answers 200 with the contact and a traceId; the contact has no name', async () => {
    const r = await s.api.post('/contacts/', {
      locationId: s.locationId,
      firstName: 'Rhea',
      lastName: 'Corded',
      email: 'rhea@example.com',
      address1: '5 Tape Rd',
      city: 'Austin',
      dateOfBirth: '1990-04-02',
    });
    assert.equal(r.status, 200, 'create-contact.test.json: status 200 (the spec says 201)');
    assert.equal(typeof r.body.traceId, 'string');
    const contact = obj(r.body.contact);
    contactId = String(contact.id);
    assert.deepEqual(keyProblems(contact, CONTACT_ALWAYS, CONTACT_NEVER, 'contact'), []);
    assert.equal(contact.address1, '5 Tape Rd', 'a read names the street line address1');
  });

  it('GET, PUT, upsert, duplicate look-up and tags answer with a traceId, and contacts without name', async () => {
    const got = await s.api.get(`/contacts/${contactId}`);
    assert.deepEqual(keyProblems(obj(got.body.contact), CONTACT_ALWAYS, CONTACT_NEVER, 'get'), []);
    assert.equal(typeof got.body.traceId, 'string');
    const put = await s.api.put(`/contacts/${contactId}`, { companyName: 'Corded Ltd', type: 'customer' });
    assert.equal(put.status, 200, 'PUT accepts companyName and type (issue 314 probe)');
    assert.equal(put.body.succeded, true);
    assert.equal(put.body.succeeded, true);
    assert.equal(typeof put.body.traceId, 'string');
    assert.deepEqual(keyProblems(obj(put.body.contact), CONTACT_ALWAYS, CONTACT_NEVER, 'put'), []);
    const gender = await s.api.put(`/contacts/${contactId}`, { gender: 'female' });
    assert.equal(gender.status, 422, 'PUT refuses gender (issue 313 probe)');
    assert.deepEqual(gender.body.message, ['property gender should not exist']);
    const up = await s.api.post('/contacts/upsert', { locationId: s.locationId, email: 'rhea@example.com' });
    assert.equal(up.status, 200);
    assert.deepEqual(Object.keys(up.body).sort(), ['contact', 'new', 'succeded', 'succeeded', 'traceId']);
    const dup = await s.api.get(`/contacts/search/duplicate?locationId=${s.locationId}&email=rhea%40example.com`);
    assert.equal(typeof dup.body.traceId, 'string');
    const tags = await s.api.post(`/contacts/${contactId}/tags`, { tags: ['vip'] });
    assert.equal(tags.status, 200, 'add-tags-to-contact.test.json: status 200');
    assert.deepEqual(Object.keys(tags.body).sort(), ['tags', 'tagsAdded', 'traceId']);
  });

  it('a search hit carries every recorded key: address (not address1), contactName lowercased, epoch dateOfBirth, nulls', async () => {
    await s.api.post('/contacts/', { locationId: s.locationId, email: 'bare@example.com' });
    const r = await s.api.post('/contacts/search', { locationId: s.locationId, pageLimit: 10 });
    assert.equal(r.status, 200);
    assert.equal(typeof r.body.traceId, 'string');
    const hits = arr(r.body.contacts);
    assert.equal(hits.length, 2);
    for (const hit of hits)
      assert.deepEqual(keyProblems(hit, SEARCH_HIT_KEYS, SEARCH_HIT_NEVER, `hit ${String(hit.email)}`), []);
    const rhea = hits.find((h) => h.email === 'rhea@example.com')!;
    assert.equal(rhea.address, '5 Tape Rd');
    assert.equal(rhea.contactName, 'rhea corded');
    assert.equal(rhea.dateOfBirth, Date.parse('1990-04-02T00:00:00.000Z'));
    const bare = hits.find((h) => h.email === 'bare@example.com')!;
    assert.equal(bare.city, null);
    assert.equal(bare.firstName, null);
  });

  it('error bodies are NestJS-shaped: statusCode, message (an array for validation), error, and a traceId', async () => {
    const r = await s.api.post('/contacts/', { locationId: s.locationId, nickname: 'x' });
    assert.equal(r.status, 422);
    const { traceId, ...rest } = r.body;
    assert.deepEqual(rest, {
      statusCode: 422,
      message: ['property nickname should not exist'],
      error: 'Unprocessable Entity',
    });
    assert.equal(typeof traceId, 'string');
    const bad = await s.api.get(`/contacts/${contactId}`, { token: 'not-a-token' });
    assert.equal(bad.status, 401);
    assert.equal(bad.body.traceId, undefined, 'the gateway refusal is documented without one');
  });
});
