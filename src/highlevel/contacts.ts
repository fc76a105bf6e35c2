// Contacts (reference §2; spec apps/contacts.json, Version 2021-07-28).
import { z } from 'zod';
import { API_VERSION, type HighLevelHttp } from './http.ts';

export const contactCustomFieldSchema = z.looseObject({
  id: z.string(),
  value: z.unknown().optional(),
});

export const contactSchema = z.looseObject({
  id: z.string(),
  locationId: z.string().optional(),
  name: z.string().nullable().optional(),
  firstName: z.string().nullable().optional(),
  lastName: z.string().nullable().optional(),
  email: z.string().nullable().optional(),
  emailLowerCase: z.string().nullable().optional(),
  phone: z.string().nullable().optional(),
  companyName: z.string().nullable().optional(),
  address1: z.string().nullable().optional(),
  city: z.string().nullable().optional(),
  state: z.string().nullable().optional(),
  postalCode: z.string().nullable().optional(),
  country: z.string().nullable().optional(),
  website: z.string().nullable().optional(),
  tags: z.array(z.string()).default([]),
  customFields: z.array(contactCustomFieldSchema).default([]),
  source: z.string().nullable().optional(),
  type: z.string().nullable().optional(),
  dnd: z.boolean().optional(),
  dateAdded: z.string().optional(),
  dateUpdated: z.string().optional(),
});
export type Contact = z.infer<typeof contactSchema>;

/** Fields accepted on create/update/upsert (CreateContactDto). customFields use field_value on input. */
export interface ContactInput {
  firstName?: string | null;
  lastName?: string | null;
  name?: string | null;
  email?: string | null;
  phone?: string | null;
  companyName?: string | null;
  address1?: string | null;
  city?: string | null;
  state?: string | null;
  postalCode?: string | null;
  country?: string | null;
  website?: string | null;
  timezone?: string | null;
  source?: string | null;
  /** On update this replaces every tag; use addTags/removeTags to change a few. */
  tags?: string[];
  customFields?: Array<{ id: string; key?: string; field_value: unknown }>;
  [field: string]: unknown;
}

const contactEnvelope = z.looseObject({ contact: contactSchema });
const upsertEnvelope = z.looseObject({ new: z.boolean(), contact: contactSchema, traceId: z.string().optional() });
const succeeded = z.looseObject({ succeded: z.boolean().optional(), succeeded: z.boolean().optional() });
const duplicateEnvelope = z.looseObject({ contact: contactSchema.nullable().optional() });
/**
 * A search hit names the street line `address` where every other contact answer says `address1`, and sends
 * `dateOfBirth` as epoch milliseconds (highlevel-api-docs issue 314; recorded hits in NangoHQ/integration-templates).
 * Read into the Contact shape, a hit compares equal to the same contact read by id.
 */
const searchHitSchema = z.preprocess((hit) => {
  if (hit === null || typeof hit !== 'object' || Array.isArray(hit)) return hit;
  const { address, ...rest } = hit as Record<string, unknown>;
  return rest.address1 === undefined && address !== undefined ? { ...rest, address1: address } : rest;
}, contactSchema);
const searchEnvelope = z.looseObject({ contacts: z.array(searchHitSchema).default([]), total: z.number().optional() });
const tagsEnvelope = z.looseObject({ tags: z.array(z.string()).default([]) });

/** A condition of POST /contacts/search, or a group of them (top-level filters are ANDed; reference §2.3). */
export type SearchFilter =
  | {
      field: string;
      operator: 'eq' | 'not_eq' | 'contains' | 'not_contains' | 'exists' | 'not_exists' | 'range';
      value?: unknown;
    }
  | { group: 'AND' | 'OR'; filters: SearchFilter[] };

export class ContactsApi {
  constructor(private readonly http: HighLevelHttp) {}

  /**
   * Creates a contact. When the location forbids duplicates, an existing email or phone fails with 400
   * and meta.contactId (see isDuplicateContact): prefer upsert, or adopt that id.
   */
  async create(input: ContactInput): Promise<Contact> {
    const answer = await this.http.request({
      method: 'POST',
      path: '/contacts/',
      body: { ...input, locationId: this.http.locationId },
      version: API_VERSION,
      schema: contactEnvelope,
    });
    return answer.contact;
  }

  async get(contactId: string): Promise<Contact> {
    const answer = await this.http.request({
      method: 'GET',
      path: `/contacts/${encodeURIComponent(contactId)}`,
      version: API_VERSION,
      schema: contactEnvelope,
    });
    return answer.contact;
  }

  async update(contactId: string, input: ContactInput): Promise<Contact> {
    const answer = await this.http.request({
      method: 'PUT',
      path: `/contacts/${encodeURIComponent(contactId)}`,
      body: input,
      version: API_VERSION,
      schema: contactEnvelope,
    });
    return answer.contact;
  }

  async delete(contactId: string): Promise<void> {
    await this.http.request({
      method: 'DELETE',
      path: `/contacts/${encodeURIComponent(contactId)}`,
      version: API_VERSION,
      schema: succeeded,
    });
  }

  /**
   * Match-or-create by the location's duplicate rules (email/phone priority). Safe to retry: a second
   * run finds the contact the first one made.
   */
  async upsert(input: ContactInput): Promise<{ created: boolean; contact: Contact }> {
    const answer = await this.http.request({
      method: 'POST',
      path: '/contacts/upsert',
      body: { ...input, locationId: this.http.locationId },
      version: API_VERSION,
      schema: upsertEnvelope,
      idempotent: true,
    });
    return { created: answer.new, contact: answer.contact };
  }

  /**
   * The contact HighLevel would treat as a duplicate of this email/phone, or undefined. Reads the
   * primary store, unlike search, whose index lags writes by a few seconds.
   */
  async findDuplicate(by: { email?: string; phone?: string }): Promise<Contact | undefined> {
    const answer = await this.http.request({
      method: 'GET',
      path: '/contacts/search/duplicate',
      query: { locationId: this.http.locationId, email: by.email, number: by.phone },
      version: API_VERSION,
      schema: duplicateEnvelope,
    });
    return answer.contact ?? undefined;
  }

  /** One page of POST /contacts/search (page is 1-based; at most 10,000 rows reachable this way). */
  async search(
    options: {
      filters?: SearchFilter[];
      page?: number;
      pageLimit?: number;
      query?: string;
      sort?: Array<{ field: string; direction: 'asc' | 'desc' }>;
    } = {},
  ) {
    return this.http.request({
      method: 'POST',
      path: '/contacts/search',
      body: {
        locationId: this.http.locationId,
        page: options.page ?? 1,
        pageLimit: options.pageLimit ?? 100,
        filters: options.filters ?? [],
        ...(options.sort ? { sort: options.sort } : {}),
        ...(options.query ? { query: options.query } : {}),
      },
      version: API_VERSION,
      schema: searchEnvelope,
      idempotent: true,
    });
  }

  /** Every contact matching the filters, streamed page by page. */
  async *searchAll(filters: SearchFilter[] = [], pageLimit = 100): AsyncGenerator<Contact, void, undefined> {
    for (let page = 1; ; page += 1) {
      const answer = await this.search({ filters, page, pageLimit });
      yield* answer.contacts;
      if (answer.contacts.length < pageLimit) return;
    }
  }

  async addTags(contactId: string, tags: string[]): Promise<string[]> {
    const answer = await this.http.request({
      method: 'POST',
      path: `/contacts/${encodeURIComponent(contactId)}/tags`,
      body: { tags },
      version: API_VERSION,
      schema: tagsEnvelope,
      idempotent: true, // adding a tag twice leaves one tag
    });
    return answer.tags;
  }

  async removeTags(contactId: string, tags: string[]): Promise<string[]> {
    const answer = await this.http.request({
      method: 'DELETE',
      path: `/contacts/${encodeURIComponent(contactId)}/tags`,
      body: { tags },
      version: API_VERSION,
      schema: tagsEnvelope,
    });
    return answer.tags;
  }

  /** Enrols the contact in a workflow (how review requests are sent by default, reference §7). */
  async addToWorkflow(contactId: string, workflowId: string, eventStartTime?: string): Promise<void> {
    await this.http.request({
      method: 'POST',
      path: `/contacts/${encodeURIComponent(contactId)}/workflow/${encodeURIComponent(workflowId)}`,
      body: eventStartTime ? { eventStartTime } : {},
      version: API_VERSION,
      schema: succeeded,
    });
  }

  async removeFromWorkflow(contactId: string, workflowId: string): Promise<void> {
    await this.http.request({
      method: 'DELETE',
      path: `/contacts/${encodeURIComponent(contactId)}/workflow/${encodeURIComponent(workflowId)}`,
      body: {},
      version: API_VERSION,
      schema: succeeded,
    });
  }

  /** Adds a note (e.g. "Synced to QuickBooks as customer 58"). */
  async addNote(contactId: string, body: string): Promise<void> {
    await this.http.request({
      method: 'POST',
      path: `/contacts/${encodeURIComponent(contactId)}/notes`,
      body: { body },
      version: API_VERSION,
      schema: z.looseObject({}),
    });
  }
}
