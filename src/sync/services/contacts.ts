// What both contact flows share: the CRM -> QuickBooks side (customers.ts) and the QuickBooks -> CRM side
// (qboCustomers.ts, contactImport.ts) read HighLevel contacts and link snapshots the same way.
import { z } from 'zod';
import type { Contact } from '../../highlevel/contacts.ts';
import { HighLevelError } from '../../highlevel/errors.ts';
import {
  SYNCED_CONTACT_FIELDS,
  type CrmContact,
  type Side,
  type SyncedContact,
  type SyncedContactField,
} from '../../domain/customer.ts';
import type { LinkKindNames } from '../../store/recordNames.ts';

/** The link of a CRM contact to its QuickBooks Customer, written by the contact flows of both sides. */
export const CUSTOMER_LINK: LinkKindNames = {
  kind: 'customer',
  quickbooks: { entity: 'Customer', noun: 'Customer' },
  crm: { kinds: ['contact'], noun: 'Contact' },
};

export function crmContactOf(contact: Contact): CrmContact {
  return {
    id: contact.id,
    firstName: contact.firstName ?? null,
    lastName: contact.lastName ?? null,
    name: contact.name ?? null,
    email: contact.email ?? null,
    phone: contact.phone ?? null,
    companyName: contact.companyName ?? null,
    address1: contact.address1 ?? null,
    city: contact.city ?? null,
    state: contact.state ?? null,
    postalCode: contact.postalCode ?? null,
    country: contact.country ?? null,
    tags: contact.tags,
  };
}

export function contactLabel(contact: Pick<Contact, 'id' | 'name' | 'firstName' | 'lastName' | 'email'>): string {
  const name = contact.name ?? [contact.firstName, contact.lastName].filter(Boolean).join(' ');
  return name ? `"${name}" (${contact.id})` : contact.id;
}

const syncedSchema = z.object(
  Object.fromEntries(SYNCED_CONTACT_FIELDS.map((f) => [f, z.string().nullable()])) as Record<
    SyncedContactField,
    z.ZodNullable<z.ZodString>
  >,
);

/** The synced fields a link's data holds, or undefined where it holds none in this shape. */
export function syncedSnapshot(value: unknown): SyncedContact | undefined {
  const parsed = syncedSchema.safeParse(value);
  return parsed.success ? parsed.data : undefined;
}

export function sideOf(origin: 'crm' | 'qbo'): Side {
  return origin === 'crm' ? 'crm' : 'quickbooks';
}

/** HighLevel answers 404, or 400 "Contact not found", for a contact that was deleted. */
export function isContactMissing(error: unknown): boolean {
  return (
    error instanceof HighLevelError &&
    (error.status === 404 || (error.status === 400 && /not found/i.test(error.message)))
  );
}
