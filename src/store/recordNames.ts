// What the records of activity entries are called by people: "Sales receipt 1001" rather than a QuickBooks Id, the
// customer by name and email, the amount and what is still due. Read from the links (what ledgerlink wrote) and the
// index of QuickBooks customers, a page of entries at a time (three statements, whatever the page's size). Which
// link kinds pair which records, and their nouns, are the flows' declarations, passed in as a value: the store
// knows no flow.
import type { Queryable } from './db.ts';
import type { LinkKind } from './links.ts';

export interface RecordRef {
  crmKind?: string | undefined;
  crmId?: string | undefined;
  qboKind?: string | undefined;
  qboId?: string | undefined;
}

export interface RecordFacts {
  /** Entries about the same record share this key (the link's kind and CRM id when there is a link). */
  key: string;
  /** As people call it: "Sales receipt 1001", "Invoice 1003", "Ada Lovelace". */
  label: string;
  /** The QuickBooks and CRM records it is, as far as known. */
  quickbooks: { kind: string; id: string } | null;
  crm: { kind: string; id: string } | null;
  /** The customer: QuickBooks customer (and the CRM contact linked to it). */
  contact: { name: string | null; email: string | null; qboId: string; crmId: string | null } | null;
  amount: { minor: number; currency: string; dueMinor: number | null } | null;
}

/**
 * What a link kind pairs and what people call its records: declared by the flow that writes it
 * (src/sync/engine/flow.ts), handed to recordNaming by the registry.
 */
export interface LinkKindNames {
  kind: LinkKind;
  /** The QuickBooks entity its `qbo_id` names (an activity entry's `qbo_kind`), and what people call one. */
  quickbooks: { entity: string; noun: string };
  /**
   * The CRM record kinds (an activity entry's `crm_kind`) found under it, the first the one its `crm_id` names,
   * and what people call one. Absent when no entry names a CRM record of it.
   */
  crm?: { kinds: readonly [string, ...string[]]; noun: string };
}

/** The lookups recordNaming derives from the link kinds, by either side's record kind. */
export interface NamingTables {
  /** The link kinds an entry's record is found under, by its `crm_kind`, in declaration order. */
  linkOfCrmKind: Record<string, LinkKind[]>;
  /** The link kinds an entry's record is found under, by its `qbo_kind`, in declaration order. */
  linkOfQboKind: Record<string, LinkKind[]>;
  qboKindOfLink: Partial<Record<LinkKind, string>>;
  crmKindOfLink: Partial<Record<LinkKind, string>>;
  /** What people call a record, by QuickBooks entity or CRM record kind. */
  noun: Record<string, string>;
}

export interface RecordNaming {
  tables: NamingTables;
  /**
   * The SQL test that an activity entry is ledgerlink's own write coming back: an event it ignored about a
   * QuickBooks record that ledgerlink itself created or last wrote from the CRM side (a link of CRM origin names
   * it), or about a CRM record it created from QuickBooks. `a` is the activity row's alias.
   */
  echoSql: string;
  /** The facts of each ref's record (same order), or null for an entry about no record. */
  recordFacts(q: Queryable, connectionId: string, refs: readonly RecordRef[]): Promise<Array<RecordFacts | null>>;
}

/** A SQL string literal; the kinds come from code, and are quoted all the same. */
const literal = (value: string): string => `'${value.replaceAll("'", "''")}'`;

/** The tables of the given link kinds; a record kind that two of them call by different nouns is a mistake. */
export function namingTables(kinds: readonly LinkKindNames[]): NamingTables {
  const tables: NamingTables = { linkOfCrmKind: {}, linkOfQboKind: {}, qboKindOfLink: {}, crmKindOfLink: {}, noun: {} };
  const name = (recordKind: string, noun: string) => {
    const known = tables.noun[recordKind];
    if (known !== undefined && known !== noun)
      throw new Error(`record kind ${recordKind} is called both "${known}" and "${noun}"`);
    tables.noun[recordKind] = noun;
  };
  for (const { kind, quickbooks, crm } of kinds) {
    if (Object.hasOwn(tables.qboKindOfLink, kind)) throw new Error(`link kind ${kind} is named twice`);
    tables.qboKindOfLink[kind] = quickbooks.entity;
    (tables.linkOfQboKind[quickbooks.entity] ??= []).push(kind);
    name(quickbooks.entity, quickbooks.noun);
    if (!crm) continue;
    tables.crmKindOfLink[kind] = crm.kinds[0];
    for (const crmKind of crm.kinds) {
      (tables.linkOfCrmKind[crmKind] ??= []).push(kind);
      name(crmKind, crm.noun);
    }
  }
  return tables;
}

/** How activity entries name their records and which of them are echoes, for the given link kinds. */
export function recordNaming(kinds: readonly LinkKindNames[]): RecordNaming {
  const tables = namingTables(kinds);
  const kindsBy = (column: string, table: Record<string, LinkKind[]>) => {
    const cases = Object.entries(table).map(([k, v]) => `WHEN ${literal(k)} THEN ARRAY[${v.map(literal).join(',')}]`);
    return cases.length === 0 ? 'ARRAY[]::text[]' : `CASE ${column} ${cases.join(' ')} ELSE ARRAY[]::text[] END`;
  };
  const echoSql = `(a.flow = 'webhooks' AND a.status = 'skipped' AND (
    (a.qbo_id IS NOT NULL AND EXISTS (SELECT 1 FROM links l WHERE l.connection_id = a.connection_id AND l.qbo_id = a.qbo_id AND l.origin = 'crm'
      AND l.kind = ANY(${kindsBy('a.qbo_kind', tables.linkOfQboKind)})))
    OR (a.crm_id IS NOT NULL AND EXISTS (SELECT 1 FROM links l WHERE l.connection_id = a.connection_id AND l.crm_id = a.crm_id AND l.origin = 'qbo'
      AND l.kind = ANY(${kindsBy('a.crm_kind', tables.linkOfCrmKind)})))))`;
  return {
    tables,
    echoSql,
    recordFacts: (q, connectionId, refs) => recordFacts(tables, q, connectionId, refs),
  };
}

interface LinkRow {
  kind: LinkKind;
  crm_id: string;
  qbo_id: string | null;
  origin: 'crm' | 'qbo';
  data: Record<string, unknown> | string;
}

const parse = (value: Record<string, unknown> | string): Record<string, unknown> =>
  typeof value === 'string' ? (JSON.parse(value) as Record<string, unknown>) : (value ?? {});
const text = (value: unknown): string | null => (typeof value === 'string' && value.trim() !== '' ? value : null);
const int = (value: unknown): number | null =>
  typeof value === 'number' && Number.isSafeInteger(value) ? value : null;

async function recordFacts(
  { linkOfCrmKind, linkOfQboKind, qboKindOfLink, crmKindOfLink, noun: nouns }: NamingTables,
  q: Queryable,
  connectionId: string,
  refs: readonly RecordRef[],
): Promise<Array<RecordFacts | null>> {
  const byCrm: Array<[string, string]> = [];
  const byQbo: Array<[string, string]> = [];
  for (const ref of refs) {
    if (ref.crmKind && ref.crmId) for (const kind of linkOfCrmKind[ref.crmKind] ?? []) byCrm.push([kind, ref.crmId]);
    if (ref.qboKind && ref.qboId) for (const kind of linkOfQboKind[ref.qboKind] ?? []) byQbo.push([kind, ref.qboId]);
  }
  const links =
    byCrm.length + byQbo.length === 0
      ? []
      : (
          await q.query<LinkRow>(
            `SELECT l.kind, l.crm_id, l.qbo_id, l.origin, l.data FROM links l JOIN unnest($2::text[], $3::text[]) AS w(kind, id) ON l.kind = w.kind AND l.crm_id = w.id
      WHERE l.connection_id = $1 AND l.state = 'linked'
     UNION ALL
     SELECT l.kind, l.crm_id, l.qbo_id, l.origin, l.data FROM links l JOIN unnest($4::text[], $5::text[]) AS w(kind, id) ON l.kind = w.kind AND l.qbo_id = w.id
      WHERE l.connection_id = $1 AND l.state = 'linked'`,
            [
              connectionId,
              byCrm.map((p) => p[0]),
              byCrm.map((p) => p[1]),
              byQbo.map((p) => p[0]),
              byQbo.map((p) => p[1]),
            ],
          )
        ).rows;
  const linkByCrm = new Map(links.map((l) => [`${l.kind}:${l.crm_id}`, l]));
  const linkByQbo = new Map(links.filter((l) => l.qbo_id).map((l) => [`${l.kind}:${l.qbo_id}`, l]));
  const linkOf = (ref: RecordRef): LinkRow | undefined => {
    for (const kind of ref.crmKind && ref.crmId ? (linkOfCrmKind[ref.crmKind] ?? []) : []) {
      const found = linkByCrm.get(`${kind}:${ref.crmId}`);
      if (found) return found;
    }
    for (const kind of ref.qboKind && ref.qboId ? (linkOfQboKind[ref.qboKind] ?? []) : []) {
      const found = linkByQbo.get(`${kind}:${ref.qboId}`);
      if (found) return found;
    }
    return undefined;
  };

  // The customers named: by the documents' links, and entries about a customer itself.
  const customerIds = new Set<string>();
  for (const ref of refs) {
    const link = linkOf(ref);
    if (link?.kind === 'customer' && link.qbo_id) customerIds.add(link.qbo_id);
    const customerId = link ? text(parse(link.data).customerId) : null;
    if (customerId) customerIds.add(customerId);
    if (ref.qboKind === 'Customer' && ref.qboId) customerIds.add(ref.qboId);
  }
  const customers = new Map<string, { name: string | null; email: string | null; crmId: string | null }>();
  if (customerIds.size > 0) {
    const ids = [...customerIds];
    const [index, contacts] = await Promise.all([
      q.query<{ qbo_id: string; display_name: string; email: string | null }>(
        `SELECT qbo_id, display_name, email FROM qbo_customers WHERE connection_id = $1 AND qbo_id = ANY($2::text[])`,
        [connectionId, ids],
      ),
      q.query<{ qbo_id: string; crm_id: string; data: Record<string, unknown> | string }>(
        `SELECT qbo_id, crm_id, data FROM links WHERE connection_id = $1 AND kind = 'customer' AND state = 'linked' AND qbo_id = ANY($2::text[])`,
        [connectionId, ids],
      ),
    ]);
    for (const row of contacts.rows)
      customers.set(row.qbo_id, { name: text(parse(row.data).displayName), email: null, crmId: row.crm_id });
    for (const row of index.rows)
      customers.set(row.qbo_id, {
        name: row.display_name,
        email: row.email,
        crmId: customers.get(row.qbo_id)?.crmId ?? null,
      });
  }

  return refs.map((ref) => {
    const link = linkOf(ref);
    if (!link && !ref.crmId && !ref.qboId) return null;
    const data = link ? parse(link.data) : {};
    const qboKind = link ? qboKindOfLink[link.kind] : ref.qboKind;
    const qboId = link?.qbo_id ?? (ref.qboId && (!link || ref.qboKind === qboKind) ? ref.qboId : undefined);
    const crmKind = link ? (crmKindOfLink[link.kind] ?? ref.crmKind) : ref.crmKind;
    const crmId = link && crmKindOfLink[link.kind] ? link.crm_id : ref.crmId;
    const customerId =
      link?.kind === 'customer'
        ? link.qbo_id
        : (text(data.customerId) ?? (ref.qboKind === 'Customer' ? (ref.qboId ?? null) : null));
    const customer = customerId ? customers.get(customerId) : undefined;
    const contact = customerId
      ? {
          name: customer?.name ?? text(data.displayName),
          email: customer?.email ?? null,
          qboId: customerId,
          crmId: customer?.crmId ?? (link?.kind === 'customer' ? link.crm_id : null),
        }
      : null;
    const total = int(data.totalMinor);
    const currency = text(data.currency);
    const paid = int(data.paidMinor);
    const amount =
      total !== null && currency
        ? { minor: total, currency, dueMinor: link?.kind === 'invoice' && !data.voided ? total - (paid ?? 0) : null }
        : null;
    const docNumber = text(data.docNumber);
    const noun = nouns[qboKind ?? crmKind ?? ''] ?? 'Record';
    const label =
      link?.kind === 'item'
        ? `Item "${text(data.name) ?? link.crm_id}"`
        : link?.kind === 'customer' || (!link && (ref.qboKind === 'Customer' || ref.crmKind === 'contact'))
          ? (contact?.name ?? (crmId ? `Contact ${crmId}` : `Customer ${qboId ?? ''}`))
          : docNumber
            ? `${noun} ${docNumber}`
            : text(data.label)
              ? `${noun} ${text(data.label)}`
              : qboId
                ? `${noun} (QuickBooks Id ${qboId})`
                : `${noun} ${crmId ?? ''}`.trim();
    const key = link ? `${link.kind}:${link.crm_id}` : crmId ? `crm:${crmKind}:${crmId}` : `qbo:${qboKind}:${qboId}`;
    return {
      key,
      label,
      quickbooks: qboKind && qboId ? { kind: qboKind, id: qboId } : null,
      crm: crmKind && crmId && !crmId.includes(':') ? { kind: crmKind, id: crmId } : null,
      contact,
      amount,
    };
  });
}
