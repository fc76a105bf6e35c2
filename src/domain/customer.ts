// HighLevel contact <-> QuickBooks Customer.
//
// - qboCustomerForContact: the Customer fields we send for a contact (QuickBooks limits applied, DisplayName
//   without ':' because QuickBooks uses ':' to separate sub-customers in FullyQualifiedName).
// - displayNameCandidate: the deterministic sequence tried when QuickBooks answers 6240 "Duplicate Name
//   Exists" (DisplayName is unique across customers, vendors and employees, inactive ones included).
// - contactFieldsForQboCustomer: the reverse mapping, for customers created in QuickBooks.
// - SyncedContact + syncedContactHash: the side-neutral form of the synced fields and its content hash, so a
//   change event that only reflects our own write hashes the same and is skipped (echo suppression).
// - CONTACT_FIELD_OWNERSHIP + fieldsToWrite: who may change which field.

import { createHash } from 'node:crypto';
import { checkEmail } from './email.ts';
import { QBO_LIMITS } from './quickbooksLimits.ts';
import { cleanOptional, singleLine, truncateText } from './textLimits.ts';
import { ownValue } from './lookup.ts';

/** A HighLevel contact as read from GET /contacts/{id} or a Contact* webhook (fields may be absent or null). */
export interface CrmContact {
  readonly id: string;
  readonly firstName?: string | null;
  readonly lastName?: string | null;
  readonly name?: string | null;
  readonly email?: string | null;
  readonly phone?: string | null;
  readonly companyName?: string | null;
  readonly address1?: string | null;
  readonly city?: string | null;
  readonly state?: string | null;
  readonly postalCode?: string | null;
  readonly country?: string | null;
  readonly tags?: readonly string[] | null;
}

export interface QboRef {
  readonly value: string;
  readonly name?: string;
}

export interface QboPhysicalAddress {
  readonly Line1?: string;
  readonly Line2?: string;
  readonly Line3?: string;
  readonly City?: string;
  readonly CountrySubDivisionCode?: string;
  readonly PostalCode?: string;
  readonly Country?: string;
  readonly CountryCode?: string;
}

/** The Customer fields this sync writes. */
export interface QboCustomerFields {
  readonly DisplayName: string;
  readonly GivenName?: string;
  readonly FamilyName?: string;
  readonly CompanyName?: string;
  readonly PrimaryEmailAddr?: { readonly Address: string };
  readonly PrimaryPhone?: { readonly FreeFormNumber: string };
  readonly BillAddr?: QboPhysicalAddress;
}

/** A QuickBooks Customer as read (only the fields we use; everything optional as QuickBooks omits nulls). */
export interface QboCustomer {
  readonly Id?: string;
  readonly DisplayName?: string;
  readonly GivenName?: string;
  readonly FamilyName?: string;
  readonly CompanyName?: string;
  readonly PrimaryEmailAddr?: { readonly Address?: string };
  readonly PrimaryPhone?: { readonly FreeFormNumber?: string };
  readonly BillAddr?: QboPhysicalAddress;
}

/** HighLevel contact fields written for a QuickBooks customer (create/update body subset). */
export interface CrmContactFields {
  firstName?: string;
  lastName?: string;
  name?: string;
  email?: string;
  phone?: string;
  companyName?: string;
  address1?: string;
  city?: string;
  state?: string;
  postalCode?: string;
  country?: string;
}

const L = QBO_LIMITS.customer;
const A = QBO_LIMITS.address;

/** A DisplayName-safe version of a text: one line, `:` replaced (QuickBooks forbids it in names). */
function nameText(text: string): string {
  return singleLine(text.replace(/:/g, '-'));
}

function limited(text: string | null | undefined, max: number): string | null {
  const s = cleanOptional(text);
  return s === null ? null : truncateText(s, max) || null;
}

/** The name a contact is known by: first + last, else `name`, else company, else email, else its id. */
export function contactBaseName(contact: CrmContact): string {
  const person = nameText([contact.firstName, contact.lastName].filter((p) => p != null).join(' '));
  if (person !== '') return person;
  for (const candidate of [contact.name, contact.companyName, contact.email]) {
    const s = candidate == null ? '' : nameText(candidate);
    if (s !== '') return s;
  }
  return `HighLevel contact ${nameText(contact.id)}`;
}

/**
 * The `attempt`-th DisplayName to try (0-based), each within 500 characters:
 *   0: `Jane Doe`   1: `Jane Doe (jane@x.com)`   n >= 2: `Jane Doe (jane@x.com) n`
 * The qualifier is the normalised email, or the HighLevel contact id when there is no email or the base name
 * already is the email. The base is shortened (on character boundaries) so the qualifier always fits, which
 * keeps the candidates distinct.
 */
export function displayNameCandidate(contact: CrmContact, attempt: number): string {
  if (!Number.isSafeInteger(attempt) || attempt < 0)
    throw new RangeError(`attempt must be a non-negative integer, got ${attempt}`);
  const base = contactBaseName(contact);
  if (attempt === 0) return truncateText(base, L.DisplayName);
  const email = contact.email == null ? null : checkEmail(contact.email);
  const qualifier = email?.ok && email.email !== base.toLowerCase() ? nameText(email.email) : nameText(contact.id);
  const suffix = ` (${qualifier})${attempt >= 2 ? ` ${attempt}` : ''}`;
  return `${truncateText(base, L.DisplayName - suffix.length)}${suffix}`;
}

/** The first `count` DisplayName candidates, for logs and tests. */
export function displayNameCandidates(contact: CrmContact, count: number): string[] {
  return Array.from({ length: count }, (_, i) => displayNameCandidate(contact, i));
}

export interface CustomerMapping {
  readonly customer: QboCustomerFields;
  /** Things the user may want to know (shortened fields, an email QuickBooks would refuse). */
  readonly warnings: readonly string[];
}

/** HighLevel contact -> QuickBooks Customer fields. `displayNameAttempt` selects the clash-resolution candidate. */
export function qboCustomerForContact(
  contact: CrmContact,
  options: { readonly displayNameAttempt?: number } = {},
): CustomerMapping {
  const warnings: string[] = [];
  const fit = (field: string, value: string | null | undefined, max: number): string | undefined => {
    const clean = cleanOptional(value);
    if (clean === null) return undefined;
    const cut = truncateText(clean, max);
    if (cut !== clean) warnings.push(`${field} was shortened to ${max} characters for QuickBooks`);
    return cut === '' ? undefined : cut;
  };
  const baseName = contactBaseName(contact);
  if (baseName.length > L.DisplayName)
    warnings.push(`DisplayName was shortened to ${L.DisplayName} characters for QuickBooks`);
  const customer: {
    DisplayName: string;
    GivenName?: string;
    FamilyName?: string;
    CompanyName?: string;
    PrimaryEmailAddr?: { Address: string };
    PrimaryPhone?: { FreeFormNumber: string };
    BillAddr?: QboPhysicalAddress;
  } = { DisplayName: displayNameCandidate(contact, options.displayNameAttempt ?? 0) };
  const given = fit('GivenName', contact.firstName, L.GivenName);
  if (given !== undefined) customer.GivenName = given;
  const family = fit('FamilyName', contact.lastName, L.FamilyName);
  if (family !== undefined) customer.FamilyName = family;
  const company = fit('CompanyName', contact.companyName, L.CompanyName);
  if (company !== undefined) customer.CompanyName = company;
  if (contact.email != null && contact.email.trim() !== '') {
    const email = checkEmail(contact.email);
    if (!email.ok) warnings.push(`email not sent to QuickBooks: ${email.reason}`);
    else if (email.email.length > L.PrimaryEmailAddress)
      warnings.push(`email not sent to QuickBooks: longer than ${L.PrimaryEmailAddress} characters`);
    else customer.PrimaryEmailAddr = { Address: email.email };
  }
  const phone = fit('PrimaryPhone', contact.phone, L.FreeFormNumber);
  if (phone !== undefined) customer.PrimaryPhone = { FreeFormNumber: phone };
  const addr: {
    Line1?: string;
    City?: string;
    CountrySubDivisionCode?: string;
    PostalCode?: string;
    Country?: string;
  } = {};
  const line1 = fit('BillAddr.Line1', contact.address1, A.Line);
  if (line1 !== undefined) addr.Line1 = line1;
  const city = fit('BillAddr.City', contact.city, A.City);
  if (city !== undefined) addr.City = city;
  const state = fit('BillAddr.CountrySubDivisionCode', contact.state, A.CountrySubDivisionCode);
  if (state !== undefined) addr.CountrySubDivisionCode = state;
  const postal = fit('BillAddr.PostalCode', contact.postalCode, A.PostalCode);
  if (postal !== undefined) addr.PostalCode = postal;
  const country = fit('BillAddr.Country', contact.country, A.Country);
  if (country !== undefined) addr.Country = country;
  if (Object.keys(addr).length > 0) customer.BillAddr = addr;
  return { customer, warnings };
}

// HighLevel wants ISO 3166 alpha-2 country codes; QuickBooks' Country is free text. The common spellings
// QuickBooks users type are mapped; anything else is left out rather than sent wrong.
const COUNTRY_NAMES: Readonly<Record<string, string>> = {
  'united states': 'US',
  'united states of america': 'US',
  usa: 'US',
  'u.s.a.': 'US',
  'u.s.': 'US',
  canada: 'CA',
  can: 'CA',
  'united kingdom': 'GB',
  uk: 'GB',
  'great britain': 'GB',
  gbr: 'GB',
  england: 'GB',
  australia: 'AU',
  aus: 'AU',
  'new zealand': 'NZ',
  nzl: 'NZ',
  ireland: 'IE',
  india: 'IN',
  ind: 'IN',
  france: 'FR',
  germany: 'DE',
  spain: 'ES',
  italy: 'IT',
  netherlands: 'NL',
  mexico: 'MX',
  'south africa': 'ZA',
  singapore: 'SG',
  japan: 'JP',
};

/** QuickBooks free-text country -> ISO alpha-2, or null when we cannot tell. */
export function countryCodeFor(country: string | null | undefined): string | null {
  const s = cleanOptional(country);
  if (s === null) return null;
  if (/^[A-Za-z]{2}$/.test(s)) return s.toUpperCase();
  return ownValue(COUNTRY_NAMES, s.toLowerCase()) ?? null;
}

function addressLine(addr: QboPhysicalAddress | undefined): string | null {
  if (!addr) return null;
  const parts = [addr.Line1, addr.Line2, addr.Line3].map(cleanOptional).filter((p): p is string => p !== null);
  return parts.length === 0 ? null : parts.join(', ');
}

/** QuickBooks Customer -> HighLevel contact fields (for customers created in QuickBooks). */
export function contactFieldsForQboCustomer(customer: QboCustomer): CrmContactFields {
  const out: CrmContactFields = {};
  const given = cleanOptional(customer.GivenName);
  const family = cleanOptional(customer.FamilyName);
  if (given !== null) out.firstName = given;
  if (family !== null) out.lastName = family;
  const display = cleanOptional(customer.DisplayName);
  const name = [given, family].filter((p) => p !== null).join(' ') || display;
  if (name) out.name = name;
  const rawEmail = customer.PrimaryEmailAddr?.Address;
  if (rawEmail != null) {
    const email = checkEmail(rawEmail);
    if (email.ok) out.email = email.email;
  }
  const phone = cleanOptional(customer.PrimaryPhone?.FreeFormNumber);
  if (phone !== null) out.phone = phone;
  const company = cleanOptional(customer.CompanyName);
  if (company !== null) out.companyName = company;
  const line = addressLine(customer.BillAddr);
  if (line !== null) out.address1 = line;
  const city = cleanOptional(customer.BillAddr?.City);
  if (city !== null) out.city = city;
  const state = cleanOptional(customer.BillAddr?.CountrySubDivisionCode);
  if (state !== null) out.state = state;
  const postal = cleanOptional(customer.BillAddr?.PostalCode);
  if (postal !== null) out.postalCode = postal;
  const country = countryCodeFor(customer.BillAddr?.CountryCode ?? customer.BillAddr?.Country);
  if (country !== null) out.country = country;
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// The side-neutral synced fields, their hash and their ownership.

export type Side = 'crm' | 'quickbooks';

export const SYNCED_CONTACT_FIELDS = [
  'firstName',
  'lastName',
  'companyName',
  'email',
  'phone',
  'address1',
  'city',
  'state',
  'postalCode',
  'country',
] as const;

export type SyncedContactField = (typeof SYNCED_CONTACT_FIELDS)[number];

/** The synced fields in canonical form (`null` = empty), comparable across both sides. */
export type SyncedContact = { readonly [K in SyncedContactField]: string | null };

/** Phones compare by `+` and digits only: "+1 (555) 010-2000" and "+15550102000" are the same number. */
function canonicalPhone(phone: string | null | undefined): string | null {
  const s = limited(phone, L.FreeFormNumber);
  if (s === null) return null;
  const digits = s.replace(/[^\d+]/g, '').replace(/(?!^)\+/g, '');
  return digits === '' || digits === '+' ? s : digits;
}

function canonicalEmail(email: string | null | undefined): string | null {
  if (email == null) return null;
  const check = checkEmail(email);
  return check.ok && check.email.length <= L.PrimaryEmailAddress ? check.email : null;
}

/**
 * Canonical synced fields of a HighLevel contact. QuickBooks' limits are applied here too, so that a value we
 * had to shorten on the way in hashes the same as what QuickBooks then holds.
 */
export function syncedFieldsFromContact(contact: CrmContact): SyncedContact {
  return {
    firstName: limited(contact.firstName, L.GivenName),
    lastName: limited(contact.lastName, L.FamilyName),
    companyName: limited(contact.companyName, L.CompanyName),
    email: canonicalEmail(contact.email),
    phone: canonicalPhone(contact.phone),
    address1: limited(contact.address1, A.Line),
    city: limited(contact.city, A.City),
    state: limited(contact.state, A.CountrySubDivisionCode),
    postalCode: limited(contact.postalCode, A.PostalCode),
    country: countryCodeFor(contact.country) ?? limited(contact.country, A.Country),
  };
}

/** Canonical synced fields of a QuickBooks Customer. */
export function syncedFieldsFromQboCustomer(customer: QboCustomer): SyncedContact {
  const c = contactFieldsForQboCustomer(customer);
  return syncedFieldsFromContact({
    id: customer.Id ?? '',
    ...c,
    country: c.country ?? customer.BillAddr?.Country ?? null,
  });
}

/** sha256 (hex) of the canonical synced fields in a fixed order. Same content on either side, same hash. */
export function syncedContactHash(fields: SyncedContact): string {
  const canonical = JSON.stringify(SYNCED_CONTACT_FIELDS.map((f) => [f, fields[f]]));
  return createHash('sha256').update(`contact.v1\n${canonical}`).digest('hex');
}

export type FieldOwner =
  | { readonly kind: 'side'; readonly side: Side }
  | { readonly kind: 'origin' }
  | { readonly kind: 'both'; readonly rule: 'last-writer' };

export interface FieldOwnershipRow {
  readonly field: SyncedContactField | 'tags' | 'DisplayName';
  readonly owner: FieldOwner;
  readonly why: string;
}

const both: FieldOwner = { kind: 'both', rule: 'last-writer' };
const origin: FieldOwner = { kind: 'origin' };

/**
 * Who may change which field. `origin` = the side the contact/customer was first created on (from the link).
 * `both` = either side, the latest change wins (the change being processed is the latest one we know of).
 */
export const CONTACT_FIELD_OWNERSHIP: readonly FieldOwnershipRow[] = [
  { field: 'firstName', owner: both, why: 'people fix names wherever they notice them' },
  { field: 'lastName', owner: both, why: 'as firstName' },
  {
    field: 'email',
    owner: both,
    why: 'the matching key; a change on either side must follow, or the next match creates a duplicate',
  },
  { field: 'phone', owner: both, why: 'as email' },
  { field: 'companyName', owner: both, why: 'as firstName' },
  {
    field: 'address1',
    owner: origin,
    why: 'QuickBooks owns the billing address of customers it created; HighLevel owns addresses it collected',
  },
  { field: 'city', owner: origin, why: 'part of the address' },
  { field: 'state', owner: origin, why: 'part of the address' },
  { field: 'postalCode', owner: origin, why: 'part of the address' },
  { field: 'country', owner: origin, why: 'part of the address' },
  {
    field: 'tags',
    owner: { kind: 'side', side: 'crm' },
    why: 'HighLevel workflows run on tags; QuickBooks has none, so they are never written by the sync',
  },
  {
    field: 'DisplayName',
    owner: { kind: 'side', side: 'quickbooks' },
    why: 'set once at create (clash-resolved); later edits in QuickBooks are kept',
  },
];

function ownerOf(field: SyncedContactField): FieldOwner {
  return CONTACT_FIELD_OWNERSHIP.find((r) => r.field === field)?.owner ?? both;
}

export interface FieldsToWriteOptions {
  /** The side the record was created on (needed for `origin`-owned fields; without it they are not written). */
  readonly origin?: Side;
  /** The snapshot stored after the last successful sync. With it, only fields the source changed since are written. */
  readonly lastSynced?: SyncedContact;
}

/**
 * The fields to write to `side`, given what the other side says (`desired`) and what `side` holds now
 * (`current`). A field is written when the source side may own it, it differs from the current value and:
 * - with `lastSynced`: the source changed it since the last sync (so a change made meanwhile on the target is
 *   not overwritten by a stale value, and a deliberate clear on the source is propagated);
 * - without it: the desired value is not empty (we never blank out data we cannot prove was removed).
 */
export function fieldsToWrite(
  side: Side,
  desired: SyncedContact,
  current: SyncedContact,
  options: FieldsToWriteOptions = {},
): Partial<SyncedContact> {
  const source: Side = side === 'crm' ? 'quickbooks' : 'crm';
  const out: { [K in SyncedContactField]?: string | null } = {};
  for (const field of SYNCED_CONTACT_FIELDS) {
    const owner = ownerOf(field);
    const allowed =
      owner.kind === 'both' ||
      (owner.kind === 'side' && owner.side === source) ||
      (owner.kind === 'origin' && options.origin === source);
    if (!allowed) continue;
    const want = desired[field];
    if (want === current[field]) continue;
    if (options.lastSynced) {
      if (want === options.lastSynced[field]) continue;
    } else if (want === null) {
      continue;
    }
    out[field] = want;
  }
  return out;
}
