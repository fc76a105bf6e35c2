// Contact operations with HighLevel's rules: duplicate refusal when the location disallows duplicates
// (400 with the existing contact in `meta`), upsert matching by the location's priority (email, then phone),
// tags overwritten by PUT, and the Contact* webhooks each change produces.
import { z } from 'zod';
import type { HighLevelCore } from './core.ts';
import { badRequest } from './errors.ts';
import { alphanumericId } from './ids.ts';
import type { Contact, CustomFieldValue, Location } from './model.ts';
import { contactFullName } from './serialize.ts';
import { contactEventPayload, contactWebhookFields } from './webhookPayloads.ts';

const nullableString = z.string().nullable().optional();

const customFieldInput = z.object({
  id: z.string().optional(),
  key: z.string().optional(),
  field_value: z.unknown().optional(),
  value: z.unknown().optional(),
});

const contactFields = {
  firstName: nullableString,
  lastName: nullableString,
  name: nullableString,
  email: z
    .union([z.email(), z.literal('')])
    .nullable()
    .optional(),
  phone: nullableString,
  address1: nullableString,
  city: nullableString,
  state: nullableString,
  postalCode: nullableString,
  website: nullableString,
  timezone: nullableString,
  dnd: z.boolean().optional(),
  dndSettings: z.record(z.string(), z.unknown()).optional(),
  inboundDndSettings: z.record(z.string(), z.unknown()).optional(),
  tags: z.array(z.string()).optional(),
  customFields: z.array(customFieldInput).optional(),
  source: nullableString,
  country: nullableString,
  companyName: nullableString,
  assignedTo: nullableString,
  dateOfBirth: z.union([z.string(), z.number()]).nullable().optional(),
};

// HighLevel's NestJS validation rejects unknown properties ("property x should not exist"): strict objects.
export const createContactSchema = z.strictObject({
  locationId: z.string().min(1),
  gender: z.string().optional(),
  ...contactFields,
});
export const upsertContactSchema = z.strictObject({
  locationId: z.string().min(1),
  gender: z.string().optional(),
  createNewIfDuplicateAllowed: z.boolean().optional(),
  ...contactFields,
});
// PUT also takes type, keyword and ssn, which UpdateContactDto does not document (highlevel-api-docs issue 314's probe).
export const updateContactSchema = z.strictObject({
  ...contactFields,
  type: nullableString,
  keyword: nullableString,
  ssn: nullableString,
});
export type ContactFieldsInput = z.infer<typeof updateContactSchema>;

/** E.164-ish normalisation: digits with a leading +; 10-digit numbers in US/CA locations get +1. */
export function normalisePhone(raw: string, country: string): string {
  const trimmed = raw.trim();
  const digits = trimmed.replace(/\D/g, '');
  if (digits === '') return trimmed;
  if (trimmed.startsWith('+')) return `+${digits}`;
  if (trimmed.startsWith('00')) return `+${digits.slice(2)}`;
  if ((country === 'US' || country === 'CA') && digits.length === 10) return `+1${digits}`;
  if ((country === 'US' || country === 'CA') && digits.length === 11 && digits.startsWith('1')) return `+${digits}`;
  return `+${digits}`;
}

function emptyToNull(v: string | null | undefined): string | null | undefined {
  if (v === undefined) return undefined;
  if (v === null) return null;
  const t = v.trim();
  return t === '' ? null : t;
}

interface DuplicateHit {
  contact: Contact;
  matchingField: 'email' | 'phone';
}

export class ContactService {
  constructor(private readonly core: HighLevelCore) {}

  private location(locationId: string): Location {
    const location = this.core.store.locations.get(locationId);
    if (!location) throw badRequest('Location not found');
    return location;
  }

  /** The contact of the location with this email or phone, in the location's priority order. */
  findDuplicate(
    location: Location,
    email: string | null | undefined,
    phone: string | null | undefined,
    exceptId?: string,
  ): DuplicateHit | undefined {
    const order: Array<'email' | 'phone'> =
      location.duplicateMatchPriority === 'phone' ? ['phone', 'email'] : ['email', 'phone'];
    for (const field of order) {
      const value = field === 'email' ? email : phone;
      if (!value) continue;
      const hit =
        field === 'email'
          ? this.core.store.contactByEmail(location.id, value)
          : this.core.store.contactByPhone(location.id, value);
      if (hit && hit.id !== exceptId) return { contact: hit, matchingField: field };
    }
    return undefined;
  }

  private duplicateError(hit: DuplicateHit): Error {
    return badRequest('This location does not allow duplicated contacts.', {
      meta: {
        contactId: hit.contact.id,
        contactName: contactFullName(hit.contact) ?? '',
        matchingField: hit.matchingField,
      },
    });
  }

  private resolveCustomFields(
    locationId: string,
    input: z.infer<typeof customFieldInput>[],
  ): Record<string, CustomFieldValue> {
    const out: Record<string, CustomFieldValue> = {};
    for (const item of input) {
      let id = item.id;
      if (!id && item.key) {
        const key = item.key.startsWith('contact.') ? item.key : `contact.${item.key}`;
        for (const def of this.core.store.customFields.values()) {
          if (def.locationId === locationId && def.fieldKey === key) {
            id = def.id;
            break;
          }
        }
      }
      if (!id) continue; // HighLevel silently ignores values for unknown fields.
      const value = (item.field_value ?? item.value) as CustomFieldValue | undefined;
      if (value === undefined || value === null || value === '') delete out[id];
      else out[id] = value;
    }
    return out;
  }

  private applyFields(contact: Contact, location: Location, input: ContactFieldsInput): void {
    const strings = [
      'firstName',
      'lastName',
      'name',
      'address1',
      'city',
      'state',
      'postalCode',
      'website',
      'timezone',
      'source',
      'country',
      'companyName',
      'assignedTo',
    ] as const;
    for (const key of strings) {
      const v = emptyToNull(input[key]);
      if (v !== undefined) contact[key] = v;
    }
    if (input.email !== undefined) contact.email = emptyToNull(input.email) ?? null;
    if (input.phone !== undefined) {
      const p = emptyToNull(input.phone);
      contact.phone = p ? normalisePhone(p, location.country) : null;
    }
    if (input.dnd !== undefined) contact.dnd = input.dnd;
    if (input.type) contact.type = input.type;
    if (input.dateOfBirth !== undefined)
      contact.dateOfBirth = input.dateOfBirth === null ? null : normaliseDate(input.dateOfBirth);
    if (input.customFields)
      contact.customFields = { ...contact.customFields, ...this.resolveCustomFields(location.id, input.customFields) };
    if (contact.name && !contact.firstName && !contact.lastName) {
      // A bare `name` is split into first/last, as HighLevel's UI and API do.
      const [first, ...rest] = contact.name.split(/\s+/);
      contact.firstName = first ?? null;
      contact.lastName = rest.length > 0 ? rest.join(' ') : null;
    }
  }

  create(locationId: string, input: ContactFieldsInput, via = 'api'): Contact {
    const location = this.location(locationId);
    const email = emptyToNull(input.email);
    const phone = emptyToNull(input.phone);
    const normalisedPhone = phone ? normalisePhone(phone, location.country) : null;
    if (!location.allowDuplicateContact) {
      const hit = this.findDuplicate(location, email, normalisedPhone);
      if (hit) throw this.duplicateError(hit);
    }
    return this.insert(location, input, via);
  }

  private insert(location: Location, input: ContactFieldsInput, via: string): Contact {
    const now = this.core.nowMs();
    const contact: Contact = {
      id: alphanumericId(),
      locationId: location.id,
      firstName: null,
      lastName: null,
      name: null,
      email: null,
      phone: null,
      companyName: null,
      address1: null,
      city: null,
      state: null,
      postalCode: null,
      country: null,
      website: null,
      timezone: null,
      source: null,
      type: 'lead',
      dnd: false,
      dateOfBirth: null,
      assignedTo: null,
      tags: [],
      customFields: {},
      dateAdded: now,
      dateUpdated: now,
      seq: ++this.core.store.contactSeq,
    };
    this.applyFields(contact, location, input);
    contact.tags = dedupeTags(input.tags ?? []);
    this.core.store.insertContact(contact);
    this.core.webhooks.emit('ContactCreate', location.id, contactEventPayload('ContactCreate', contact));
    if (contact.tags.length > 0)
      this.core.store.logTagChange({
        locationId: location.id,
        contactId: contact.id,
        added: [...contact.tags],
        removed: [],
        via,
        at: this.core.clock.now().toISOString(),
      });
    return contact;
  }

  update(contact: Contact, input: ContactFieldsInput, via = 'api'): Contact {
    const location = this.location(contact.locationId);
    const nextEmail = input.email !== undefined ? emptyToNull(input.email) : contact.email;
    const nextPhoneRaw = input.phone !== undefined ? emptyToNull(input.phone) : contact.phone;
    const nextPhone = nextPhoneRaw ? normalisePhone(nextPhoneRaw, location.country) : null;
    if (!location.allowDuplicateContact) {
      const emailChanged = (nextEmail ?? '').toLowerCase() !== (contact.email ?? '').toLowerCase();
      const phoneChanged = nextPhone !== contact.phone;
      const hit = this.findDuplicate(
        location,
        emailChanged ? nextEmail : null,
        phoneChanged ? nextPhone : null,
        contact.id,
      );
      if (hit) throw this.duplicateError(hit);
    }
    const before = JSON.stringify(contactWebhookFields(contact));
    const tagsBefore = [...contact.tags];
    this.core.store.unindexContact(contact);
    this.applyFields(contact, location, input);
    // PUT overwrites the whole tag list (contacts.json UpdateContactDto note).
    if (input.tags !== undefined) contact.tags = dedupeTags(input.tags);
    this.core.store.indexContact(contact);
    const tagsChanged = !sameTags(tagsBefore, contact.tags);
    const after = JSON.stringify(contactWebhookFields(contact));
    if (before !== after) {
      contact.dateUpdated = this.core.nowMs();
      if (tagsChanged) this.recordTagChange(contact, tagsBefore, via);
      const otherChanged =
        JSON.stringify({ ...JSON.parse(before), tags: [] }) !== JSON.stringify({ ...JSON.parse(after), tags: [] });
      if (otherChanged)
        this.core.webhooks.emit('ContactUpdate', contact.locationId, contactEventPayload('ContactUpdate', contact));
      if (tagsChanged)
        this.core.webhooks.emit(
          'ContactTagUpdate',
          contact.locationId,
          contactEventPayload('ContactTagUpdate', contact),
        );
    }
    return contact;
  }

  upsert(
    locationId: string,
    input: ContactFieldsInput & { createNewIfDuplicateAllowed?: boolean | undefined },
    via = 'api',
  ): { contact: Contact; isNew: boolean } {
    const location = this.location(locationId);
    if (location.allowDuplicateContact && input.createNewIfDuplicateAllowed === true)
      return { contact: this.insert(location, input, via), isNew: true };
    const email = emptyToNull(input.email);
    const phoneRaw = emptyToNull(input.phone);
    const phone = phoneRaw ? normalisePhone(phoneRaw, location.country) : null;
    const hit = this.findDuplicate(location, email, phone);
    if (hit) {
      // Only the first field in priority decides; the other field of the input updates the matched contact,
      // unless it belongs to a different contact (then HighLevel leaves it alone).
      const patch: ContactFieldsInput = { ...input };
      const other = hit.matchingField === 'email' ? 'phone' : 'email';
      const otherValue = other === 'email' ? email : phone;
      if (otherValue && !location.allowDuplicateContact) {
        const clash =
          other === 'email'
            ? this.core.store.contactByEmail(location.id, otherValue)
            : this.core.store.contactByPhone(location.id, otherValue);
        if (clash && clash.id !== hit.contact.id) delete patch[other];
      }
      // Upsert adds tags rather than replacing them (HighLevel merges tags on upsert).
      if (patch.tags) patch.tags = dedupeTags([...hit.contact.tags, ...patch.tags]);
      return { contact: this.update(hit.contact, patch, via), isNew: false };
    }
    return { contact: this.insert(location, input, via), isNew: true };
  }

  delete(contact: Contact): void {
    this.core.store.deleteContact(contact);
    this.core.webhooks.emit('ContactDelete', contact.locationId, contactEventPayload('ContactDelete', contact));
  }

  addTags(contact: Contact, tags: string[], via = 'api'): Contact {
    const before = [...contact.tags];
    contact.tags = dedupeTags([...contact.tags, ...tags]);
    if (!sameTags(before, contact.tags)) {
      contact.dateUpdated = this.core.nowMs();
      this.recordTagChange(contact, before, via);
      this.core.webhooks.emit('ContactTagUpdate', contact.locationId, contactEventPayload('ContactTagUpdate', contact));
    }
    return contact;
  }

  removeTags(contact: Contact, tags: string[], via = 'api'): Contact {
    const before = [...contact.tags];
    const drop = new Set(tags.map((t) => t.toLowerCase()));
    contact.tags = contact.tags.filter((t) => !drop.has(t.toLowerCase()));
    if (!sameTags(before, contact.tags)) {
      contact.dateUpdated = this.core.nowMs();
      this.recordTagChange(contact, before, via);
      this.core.webhooks.emit('ContactTagUpdate', contact.locationId, contactEventPayload('ContactTagUpdate', contact));
    }
    return contact;
  }

  private recordTagChange(contact: Contact, before: string[], via: string): void {
    const beforeSet = new Set(before);
    const afterSet = new Set(contact.tags);
    this.core.store.logTagChange({
      locationId: contact.locationId,
      contactId: contact.id,
      added: contact.tags.filter((t) => !beforeSet.has(t)),
      removed: before.filter((t) => !afterSet.has(t)),
      via,
      at: this.core.clock.now().toISOString(),
    });
  }
}

/** HighLevel stores tags lowercased and trimmed, without repeats. */
export function dedupeTags(tags: string[]): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  for (const raw of tags) {
    const t = raw.trim().toLowerCase();
    if (t === '' || seen.has(t)) continue;
    seen.add(t);
    out.push(t);
  }
  return out;
}

function sameTags(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((t, i) => t === b[i]);
}

function normaliseDate(value: string | number): string {
  const d = typeof value === 'number' ? new Date(value) : new Date(value);
  return Number.isNaN(d.getTime()) ? String(value) : d.toISOString();
}
