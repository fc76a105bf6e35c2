// POST /contacts/search: HighLevel's advanced contact search (ClickUp "Contacts Search API" doc, reference §2.3).
// Filters combine with AND at top level, groups with AND/OR; `page`+`pageLimit` for standard paging (max 10,000
// records), `searchAfter` (the cursor each hit carries) beyond that; `sort` up to two fields.
import { z } from 'zod';
import type { Contact } from './model.ts';
import { unprocessable } from './errors.ts';
import { contactFullName } from './serialize.ts';

const operators = ['eq', 'not_eq', 'contains', 'not_contains', 'exists', 'not_exists', 'range'] as const;

const filterLeaf = z.object({
  field: z.string().min(1),
  operator: z.enum(operators),
  value: z.unknown().optional(),
});
type FilterLeaf = z.infer<typeof filterLeaf>;
interface FilterGroup {
  group: 'AND' | 'OR';
  filters: Array<FilterLeaf | FilterGroup>;
}
const filterNode: z.ZodType<FilterLeaf | FilterGroup> = z.lazy(() =>
  z.union([z.object({ group: z.enum(['AND', 'OR']), filters: z.array(filterNode) }), filterLeaf]),
);

export const SORTABLE_FIELDS = [
  'firstNameLowerCase',
  'lastNameLowerCase',
  'businessName',
  'dateAdded',
  'dateUpdated',
  'email',
  'dnd',
  'source',
] as const;

export const searchBodySchema = z.object({
  locationId: z.string().min(1),
  pageLimit: z.number().int().min(1).max(500),
  page: z.number().int().min(1).optional(),
  searchAfter: z.array(z.union([z.string(), z.number()])).optional(),
  query: z.string().optional(),
  filters: z.array(filterNode).optional(),
  sort: z
    .array(z.object({ field: z.enum(SORTABLE_FIELDS), direction: z.enum(['asc', 'desc']) }))
    .max(2)
    .optional(),
});
export type SearchBody = z.infer<typeof searchBodySchema>;

const STRING_FIELDS: Record<string, (c: Contact) => string | null> = {
  id: (c) => c.id,
  email: (c) => c.email?.toLowerCase() ?? null,
  phone: (c) => c.phone,
  firstName: (c) => c.firstName,
  lastName: (c) => c.lastName,
  firstNameLowerCase: (c) => c.firstName?.toLowerCase() ?? null,
  lastNameLowerCase: (c) => c.lastName?.toLowerCase() ?? null,
  fullNameLowerCase: (c) => contactFullName(c)?.toLowerCase() ?? null,
  companyName: (c) => c.companyName,
  businessName: (c) => c.companyName,
  address1: (c) => c.address1,
  city: (c) => c.city,
  state: (c) => c.state,
  postalCode: (c) => c.postalCode,
  country: (c) => c.country,
  source: (c) => c.source,
  type: (c) => c.type,
  assignedTo: (c) => c.assignedTo,
  website: (c) => c.website,
  timezone: (c) => c.timezone,
};
/** Email supports only equality and presence (the search doc says contains is not available for email). */
const EMAIL_OPERATORS = new Set(['eq', 'not_eq', 'exists', 'not_exists']);

function fail(message: string): never {
  throw unprocessable([message]);
}

function asText(value: unknown): string {
  if (typeof value === 'string') return value.toLowerCase();
  if (typeof value === 'number' || typeof value === 'boolean') return String(value).toLowerCase();
  fail('filters.value must be a string');
}

function asTime(value: unknown): number {
  if (typeof value === 'number') return value;
  if (typeof value === 'string') {
    const t = Date.parse(value);
    if (!Number.isNaN(t)) return t;
  }
  fail('filters.value range bounds must be dates');
}

function inRange(x: number, range: unknown, toNumber: (v: unknown) => number): boolean {
  if (typeof range !== 'object' || range === null) fail('filters.value must be an object with gte/gt/lte/lt for range');
  const r = range as Record<string, unknown>;
  if (r.gte !== undefined && !(x >= toNumber(r.gte))) return false;
  if (r.gt !== undefined && !(x > toNumber(r.gt))) return false;
  if (r.lte !== undefined && !(x <= toNumber(r.lte))) return false;
  if (r.lt !== undefined && !(x < toNumber(r.lt))) return false;
  return true;
}

function matchLeaf(c: Contact, f: FilterLeaf): boolean {
  const { field, operator, value } = f;
  if (field === 'email' && !EMAIL_OPERATORS.has(operator))
    fail(`operator ${operator} is not supported for field email`);
  if (field === 'dateAdded' || field === 'dateUpdated') {
    const t = field === 'dateAdded' ? c.dateAdded : c.dateUpdated;
    if (operator === 'range') return inRange(t, value, asTime);
    if (operator === 'exists') return true;
    if (operator === 'not_exists') return false;
    if (operator === 'eq') return t === asTime(value);
    if (operator === 'not_eq') return t !== asTime(value);
    fail(`operator ${operator} is not supported for field ${field}`);
  }
  if (field === 'tags') {
    const tags = c.tags;
    const wanted = (Array.isArray(value) ? value : value === undefined ? [] : [value]).map(asText);
    switch (operator) {
      case 'eq':
        return wanted.some((w) => tags.includes(w));
      case 'not_eq':
        return !wanted.some((w) => tags.includes(w));
      case 'contains':
        return wanted.some((w) => tags.some((t) => t.includes(w)));
      case 'not_contains':
        return !wanted.some((w) => tags.some((t) => t.includes(w)));
      case 'exists':
        return tags.length > 0;
      case 'not_exists':
        return tags.length === 0;
      default:
        fail(`operator ${operator} is not supported for field tags`);
    }
  }
  if (field === 'dnd') {
    if (operator === 'eq') return c.dnd === (value === true || value === 'true');
    if (operator === 'not_eq') return c.dnd !== (value === true || value === 'true');
    if (operator === 'exists') return true;
    if (operator === 'not_exists') return false;
    fail(`operator ${operator} is not supported for field dnd`);
  }
  let actual: string | null;
  let numeric: number | null = null;
  if (field.startsWith('customFields.') || field.startsWith('customField.')) {
    const id = field.slice(field.indexOf('.') + 1);
    const raw = c.customFields[id];
    actual =
      raw === undefined || raw === null
        ? null
        : Array.isArray(raw)
          ? raw.join(',').toLowerCase()
          : typeof raw === 'object'
            ? JSON.stringify(raw)
            : String(raw).toLowerCase();
    numeric =
      typeof raw === 'number'
        ? raw
        : raw !== undefined && raw !== '' && !Number.isNaN(Number(raw))
          ? Number(raw)
          : null;
  } else {
    const getter = STRING_FIELDS[field];
    if (!getter) fail(`field ${field} is not supported`);
    const v = getter(c);
    actual = v === null || v === '' ? null : v.toLowerCase();
  }
  switch (operator) {
    case 'exists':
      return actual !== null;
    case 'not_exists':
      return actual === null;
    case 'eq':
      return actual !== null && (Array.isArray(value) ? value.map(asText).includes(actual) : actual === asText(value));
    case 'not_eq':
      return actual === null || (Array.isArray(value) ? !value.map(asText).includes(actual) : actual !== asText(value));
    case 'contains':
      return actual?.includes(asText(value)) === true;
    case 'not_contains':
      return actual === null || !actual.includes(asText(value));
    case 'range':
      if (numeric === null) return false;
      return inRange(numeric, value, (v) => (typeof v === 'number' ? v : Number(v)));
  }
}

function matches(c: Contact, node: FilterLeaf | FilterGroup): boolean {
  if ('group' in node)
    return node.group === 'AND' ? node.filters.every((n) => matches(c, n)) : node.filters.some((n) => matches(c, n));
  return matchLeaf(c, node);
}

function sortValue(c: Contact, field: string): string | number {
  switch (field) {
    case 'dateAdded':
      return c.dateAdded;
    case 'dateUpdated':
      return c.dateUpdated;
    case 'dnd':
      return c.dnd ? 1 : 0;
    case 'email':
      return c.email?.toLowerCase() ?? '';
    case 'firstNameLowerCase':
      return c.firstName?.toLowerCase() ?? '';
    case 'lastNameLowerCase':
      return c.lastName?.toLowerCase() ?? '';
    case 'businessName':
      return c.companyName?.toLowerCase() ?? '';
    case 'source':
      return c.source?.toLowerCase() ?? '';
    default:
      return '';
  }
}

function compareValues(a: string | number, b: string | number): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  return String(a) < String(b) ? -1 : String(a) > String(b) ? 1 : 0;
}

/**
 * The emails a search is restricted to, when one of its top-level (ANDed) filters is an email equality or an OR
 * group made only of email equalities: the route then takes its candidates from the store's email index instead of
 * scanning the location, and searchContacts still applies every filter to them, so the answer is the same.
 */
export function emailsSearchedFor(filters: ReadonlyArray<FilterLeaf | FilterGroup> | undefined): string[] | undefined {
  const equalities = (node: FilterLeaf | FilterGroup): string[] | undefined => {
    if ('group' in node) {
      if (node.group !== 'OR' || node.filters.length === 0) return undefined;
      const all: string[] = [];
      for (const child of node.filters) {
        const some = equalities(child);
        if (!some) return undefined;
        all.push(...some);
      }
      return all;
    }
    if (node.field !== 'email' || node.operator !== 'eq') return undefined;
    const values = Array.isArray(node.value) ? node.value : [node.value];
    return values.every((v) => typeof v === 'string') ? (values as string[]) : undefined;
  };
  for (const filter of filters ?? []) {
    const emails = equalities(filter);
    if (emails) return emails;
  }
  return undefined;
}

export interface SearchResult {
  hits: Array<{ contact: Contact; searchAfter: Array<string | number> }>;
  total: number;
}

/** Max records reachable with page/pageLimit; beyond that HighLevel requires searchAfter. */
export const MAX_PAGED_RECORDS = 10_000;

export function searchContacts(contacts: Iterable<Contact>, body: SearchBody): SearchResult {
  if (body.page !== undefined && body.searchAfter !== undefined) fail('page and searchAfter cannot be used together');
  const page = body.page ?? 1;
  if (body.searchAfter === undefined && page * body.pageLimit > MAX_PAGED_RECORDS) {
    fail(`page * pageLimit must not exceed ${MAX_PAGED_RECORDS}; use searchAfter to go further`);
  }
  const query = body.query?.trim().toLowerCase();
  const filters = body.filters ?? [];
  const matched: Contact[] = [];
  for (const c of contacts) {
    if (query) {
      const hay = [contactFullName(c), c.email, c.phone, c.companyName].filter(Boolean).join(' ').toLowerCase();
      if (!hay.includes(query)) continue;
    }
    if (filters.every((f) => matches(c, f))) matched.push(c);
  }
  // Default order: newest first; ties broken by creation sequence so cursors are total.
  const sort =
    body.sort && body.sort.length > 0 ? body.sort : [{ field: 'dateAdded' as const, direction: 'desc' as const }];
  const keyOf = (c: Contact): Array<string | number> => [...sort.map((s) => sortValue(c, s.field)), c.seq];
  const directionOf = (i: number): number => (i < sort.length ? (sort[i]!.direction === 'desc' ? -1 : 1) : 1);
  const compareKeys = (a: Array<string | number>, b: Array<string | number>): number => {
    for (let i = 0; i < a.length; i++) {
      const d = compareValues(a[i]!, b[i]!) * directionOf(i);
      if (d !== 0) return d;
    }
    return 0;
  };
  const keyed = matched.map((contact) => ({ contact, key: keyOf(contact) }));
  keyed.sort((x, y) => compareKeys(x.key, y.key));
  let start = (page - 1) * body.pageLimit;
  if (body.searchAfter !== undefined) {
    const cursor = body.searchAfter;
    if (cursor.length !== sort.length + 1)
      fail('searchAfter must be the value returned on a contact of the previous page');
    start = keyed.findIndex((k) => compareKeys(k.key, cursor) > 0);
    if (start === -1) start = keyed.length;
  }
  const slice = keyed.slice(start, start + body.pageLimit);
  return { hits: slice.map((k) => ({ contact: k.contact, searchAfter: k.key })), total: matched.length };
}
