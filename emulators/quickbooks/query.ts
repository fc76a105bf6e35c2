// The QuickBooks query language (reference §2.3): SELECT * | COUNT(*) | fields FROM Entity [WHERE a op v AND ...]
// [ORDERBY f [ASC|DESC], ...] [STARTPOSITION n] [MAXRESULTS n]. Keywords and entity names in any case (node-quickbooks
// sends lowercase), strings in single quotes with backslash escapes ('O\'Brien'), operators = < > <= >= IN LIKE
// (only the % wildcard), AND only. Malformed text gives 4000, a query that parses but cannot run gives 4001.
import type { Company, EntityName } from './company.ts';
import { entityNames } from './company.ts';
import { faults } from './errors.ts';
import type { Rec } from './json.ts';
import { isRec } from './json.ts';
import { fieldsOf, isKnownType } from './schema/validate.ts';
import { xsd } from './schema/xsd.generated.ts';
import { parseTimestamp } from './time.ts';

export const MAX_RESULTS = 1000;
export const DEFAULT_MAX_RESULTS = 100;

type Literal = string | number | boolean;

export interface Condition {
  path: string[];
  op: '=' | '<' | '>' | '<=' | '>=' | 'IN' | 'LIKE' | '!=';
  values: Literal[];
}

export interface ParsedQuery {
  /** The entity's canonical name: one the emulator models, or another real QuickBooks entity (always empty). */
  entity: string;
  count: boolean;
  fields?: string[];
  where: Condition[];
  orderBy: Array<{ path: string[]; descending: boolean }>;
  startPosition: number;
  maxResults: number;
}

type Token =
  | { kind: 'word'; text: string }
  | { kind: 'string'; text: string }
  | { kind: 'number'; text: string }
  | { kind: 'punct'; text: string };

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const ch = text[i]!;
    if (/\s/.test(ch)) {
      i++;
      continue;
    }
    if (ch === "'") {
      let value = '';
      i++;
      let closed = false;
      while (i < text.length) {
        const c = text[i]!;
        if (c === '\\' && i + 1 < text.length) {
          value += text[i + 1];
          i += 2;
          continue;
        }
        if (c === "'") {
          closed = true;
          i++;
          break;
        }
        value += c;
        i++;
      }
      if (!closed) throw faults.queryParse(`Encountered unterminated string literal starting "'${value.slice(0, 20)}"`);
      tokens.push({ kind: 'string', text: value });
      continue;
    }
    const two = text.slice(i, i + 2);
    if (two === '<=' || two === '>=' || two === '!=' || two === '<>') {
      tokens.push({ kind: 'punct', text: two === '<>' ? '!=' : two });
      i += 2;
      continue;
    }
    if ('()*,=<>'.includes(ch)) {
      tokens.push({ kind: 'punct', text: ch });
      i++;
      continue;
    }
    const number = /^-?\d+(\.\d+)?/.exec(text.slice(i));
    if (number) {
      tokens.push({ kind: 'number', text: number[0] });
      i += number[0].length;
      continue;
    }
    const word = /^[A-Za-z_][A-Za-z0-9_.]*/.exec(text.slice(i));
    if (word) {
      tokens.push({ kind: 'word', text: word[0] });
      i += word[0].length;
      continue;
    }
    throw faults.queryParse(`Encountered unexpected character "${ch}" at position ${i + 1}`);
  }
  return tokens;
}

const entityByLowerName = new Map<string, EntityName>(entityNames.map((n) => [n.toLowerCase(), n]));

// Every entity a real company can be queried for: the XSD's object names that are IntuitEntity types (Transaction
// is only their abstract base). Those the emulator does not model (Bill, Estimate, ...) answer as a company
// without any: "QueryResponse":{} (VCR all/alt_select.yml shows that empty answer).
const realEntityByLowerName = new Map<string, string>(
  (xsd.enums.objectNameEnumType ?? [])
    .filter((name) => name !== 'Transaction' && derivesFromIntuitEntity(name))
    .map((name) => [name.toLowerCase(), name]),
);

function derivesFromIntuitEntity(name: string): boolean {
  for (let t: string | undefined = name; t; t = xsd.complexTypes[t]?.base) if (t === 'IntuitEntity') return true;
  return false;
}

/** The modeled entity of a query, or undefined for a real entity type the emulator keeps no records of. */
export function modeledEntity(name: string): EntityName | undefined {
  return entityByLowerName.get(name.toLowerCase());
}

/** The canonical name of any real QuickBooks entity type, in any case. */
export function realEntityName(name: string): string | undefined {
  return entityByLowerName.get(name.toLowerCase()) ?? realEntityByLowerName.get(name.toLowerCase());
}

export function parseQuery(text: string): ParsedQuery {
  if (!text?.trim()) throw faults.queryParse('the query is empty');
  const tokens = tokenize(text);
  let pos = 0;
  const peek = (): Token | undefined => tokens[pos];
  const isWord = (t: Token | undefined, w: string): boolean => t?.kind === 'word' && t.text.toUpperCase() === w;
  const expectWord = (w: string): void => {
    const t = tokens[pos++];
    if (!isWord(t, w))
      throw faults.queryParse(`Encountered "${t?.text ?? '<EOF>'}" at token ${pos}. Was expecting "${w}"`);
  };
  const expectPunct = (p: string): void => {
    const t = tokens[pos++];
    if (t?.kind !== 'punct' || t.text !== p)
      throw faults.queryParse(`Encountered "${t?.text ?? '<EOF>'}" at token ${pos}. Was expecting "${p}"`);
  };
  const integer = (what: string): number => {
    const t = tokens[pos++];
    if (t?.kind !== 'number' || !/^-?\d+$/.test(t.text))
      throw faults.queryParse(`${what} expects a whole number, got "${t?.text ?? '<EOF>'}"`);
    return Number(t.text);
  };

  expectWord('SELECT');
  let count = false;
  let fields: string[] | undefined;
  if (peek()?.kind === 'punct' && peek()!.text === '*') pos++;
  else if (isWord(peek(), 'COUNT')) {
    pos++;
    expectPunct('(');
    expectPunct('*');
    expectPunct(')');
    count = true;
  } else {
    fields = [];
    for (;;) {
      const t = tokens[pos++];
      if (t?.kind !== 'word' || isWord(t, 'FROM'))
        throw faults.queryParse(`Encountered "${t?.text ?? '<EOF>'}" in the select list`);
      fields.push(t.text);
      if (peek()?.kind === 'punct' && peek()!.text === ',') {
        pos++;
        continue;
      }
      break;
    }
  }
  expectWord('FROM');
  const entityToken = tokens[pos++];
  if (entityToken?.kind !== 'word')
    throw faults.queryParse(`Encountered "${entityToken?.text ?? '<EOF>'}". Was expecting an entity name`);
  const entity = realEntityName(entityToken.text);
  if (!entity) throw faults.unknownQueryEntity(entityToken.text);

  const where: Condition[] = [];
  const orderBy: ParsedQuery['orderBy'] = [];
  let startPosition = 1;
  let maxResults = DEFAULT_MAX_RESULTS;
  if (isWord(peek(), 'WHERE')) {
    pos++;
    for (;;) {
      where.push(parseCondition());
      if (isWord(peek(), 'AND')) {
        pos++;
        continue;
      }
      if (isWord(peek(), 'OR'))
        throw faults.queryParse('Encountered " "OR" "OR "". OR is not supported; use IN or separate queries');
      break;
    }
  }
  if (isWord(peek(), 'ORDERBY') || (isWord(peek(), 'ORDER') && isWord(tokens[pos + 1], 'BY'))) {
    pos += isWord(peek(), 'ORDER') ? 2 : 1;
    for (;;) {
      const t = tokens[pos++];
      if (t?.kind !== 'word') throw faults.queryParse(`Encountered "${t?.text ?? '<EOF>'}" after ORDERBY`);
      let descending = false;
      if (isWord(peek(), 'DESC')) {
        descending = true;
        pos++;
      } else if (isWord(peek(), 'ASC')) pos++;
      orderBy.push({ path: t.text.split('.'), descending });
      if (peek()?.kind === 'punct' && peek()!.text === ',') {
        pos++;
        continue;
      }
      break;
    }
  }
  for (let guard = 0; guard < 2; guard++) {
    if (isWord(peek(), 'STARTPOSITION')) {
      pos++;
      startPosition = integer('STARTPOSITION');
    }
    if (isWord(peek(), 'MAXRESULTS')) {
      pos++;
      maxResults = integer('MAXRESULTS');
    }
  }
  if (pos < tokens.length)
    throw faults.queryParse(
      `Encountered "${tokens[pos]!.text}" at token ${pos + 1}. Was expecting one of: WHERE, ORDERBY, STARTPOSITION, MAXRESULTS or <EOF>`,
    );
  if (startPosition < 1)
    throw faults.queryInvalid(`value ${startPosition} is too small for STARTPOSITION; the minimum is 1`);
  if (maxResults < 0) throw faults.queryInvalid(`value ${maxResults} is too small for MAXRESULTS`);
  maxResults = Math.min(maxResults, MAX_RESULTS);

  const query: ParsedQuery = {
    entity,
    count,
    where,
    orderBy,
    startPosition,
    maxResults,
    ...(fields ? { fields } : {}),
  };
  validateFields(query);
  return query;

  function literal(): Literal {
    const t = tokens[pos++];
    if (!t) throw faults.queryParse('Encountered "<EOF>". Was expecting a value');
    if (t.kind === 'string') return t.text;
    if (t.kind === 'number') return Number(t.text);
    if (t.kind === 'word' && (t.text.toLowerCase() === 'true' || t.text.toLowerCase() === 'false'))
      return t.text.toLowerCase() === 'true';
    throw faults.queryParse(`Encountered "${t.text}". Was expecting a quoted string, a number, true or false`);
  }

  function parseCondition(): Condition {
    const field = tokens[pos++];
    if (field?.kind !== 'word')
      throw faults.queryParse(`Encountered "${field?.text ?? '<EOF>'}". Was expecting a property name`);
    const path = field.text.split('.');
    const opToken = tokens[pos++];
    if (isWord(opToken, 'IN')) {
      expectPunct('(');
      const values: Literal[] = [literal()];
      while (peek()?.kind === 'punct' && peek()!.text === ',') {
        pos++;
        values.push(literal());
      }
      expectPunct(')');
      return { path, op: 'IN', values };
    }
    if (isWord(opToken, 'LIKE')) {
      const value = literal();
      if (typeof value !== 'string') throw faults.queryParse('LIKE expects a quoted string');
      return { path, op: 'LIKE', values: [value] };
    }
    if (opToken?.kind === 'punct' && ['=', '<', '>', '<=', '>=', '!='].includes(opToken.text)) {
      return { path, op: opToken.text as Condition['op'], values: [literal()] };
    }
    throw faults.queryParse(
      `Encountered "${opToken?.text ?? '<EOF>'}" after ${field.text}. Was expecting one of: =, <, >, <=, >=, IN, LIKE`,
    );
  }
}

/** Property names are checked against the entity's XSD (case-insensitively), and rewritten to their canonical case. */
function validateFields(query: ParsedQuery): void {
  const canonical = (path: string[]): string[] => {
    let type: string = query.entity;
    return path.map((segment, index) => {
      const fields = fieldsOf(type);
      const match = [...fields.entries()].find(([name]) => name.toLowerCase() === segment.toLowerCase());
      if (!match)
        throw faults.queryInvalid(
          `property '${path.slice(0, index + 1).join('.')}' is not queryable for ${query.entity}`,
        );
      type = isKnownType(match[1].type) ? match[1].type : '';
      return match[0];
    });
  };
  for (const c of query.where) c.path = canonical(c.path);
  for (const o of query.orderBy) o.path = canonical(o.path);
  if (query.fields) query.fields = query.fields.map((f) => canonical(f.split('.'))[0]!);
}

/** The comparable value at a path: references compare by their value, emails by Address, phones by number. */
function valueAt(record: Rec, path: string[]): unknown {
  let current: unknown = record;
  for (const segment of path) {
    if (!isRec(current)) return undefined;
    current = current[segment];
  }
  if (isRec(current)) return current.value ?? current.Address ?? current.FreeFormNumber ?? current.URI;
  return current;
}

function compare(actual: unknown, expected: Literal): number | undefined {
  if (actual === undefined || actual === null) return undefined;
  if (typeof actual === 'number') {
    const n = typeof expected === 'number' ? expected : Number(expected);
    return Number.isNaN(n) ? undefined : Math.sign(actual - n);
  }
  if (typeof actual === 'boolean') {
    const b = typeof expected === 'boolean' ? expected : String(expected).toLowerCase() === 'true';
    return actual === b ? 0 : actual ? 1 : -1;
  }
  const a = String(actual);
  const e = String(expected);
  // Timestamps (MetaData.*) compare as instants whatever offset either side is written in.
  if (/^\d{4}-\d{2}-\d{2}T/.test(a) && /^\d{4}-\d{2}-\d{2}/.test(e)) {
    const am = parseTimestamp(a, 0);
    const em = parseTimestamp(e, 0);
    if (am !== undefined && em !== undefined) return Math.sign(am - em);
  }
  if (/^-?\d+$/.test(a) && /^-?\d+$/.test(e)) return Math.sign(Number(a) - Number(e));
  const al = a.toLowerCase();
  const el = e.toLowerCase();
  return al < el ? -1 : al > el ? 1 : 0;
}

function likeToRegExp(pattern: string): RegExp {
  const escaped = pattern
    .split('%')
    .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*');
  return new RegExp(`^${escaped}$`, 'is');
}

type Matcher = (record: Rec) => boolean;

/** Compiles a condition once per query (a LIKE pattern becomes one RegExp, not one per record). */
function matcher(c: Condition): Matcher {
  const first = c.values[0]!;
  const at = (record: Rec): unknown => valueAt(record, c.path);
  switch (c.op) {
    case '=':
      return (r) => compare(at(r), first) === 0;
    case '!=':
      return (r) => compare(at(r), first) !== 0;
    case '<':
      return (r) => compare(at(r), first) === -1;
    case '>':
      return (r) => compare(at(r), first) === 1;
    case '<=':
      return (r) => {
        const x = compare(at(r), first);
        return x === -1 || x === 0;
      };
    case '>=':
      return (r) => {
        const x = compare(at(r), first);
        return x === 1 || x === 0;
      };
    case 'IN':
      return (r) => {
        const actual = at(r);
        return c.values.some((v) => compare(actual, v) === 0);
      };
    case 'LIKE': {
      const pattern = likeToRegExp(String(first));
      return (r) => {
        const actual = at(r);
        return actual !== undefined && actual !== null && pattern.test(String(actual));
      };
    }
  }
}

export interface QueryResult {
  entity: string;
  records: Rec[];
  totalCount?: number;
}

/**
 * Runs a parsed query. Name-list entities hide inactive records unless the query filters on Active.
 * Equality on Id, DisplayName (Customer/Vendor/Employee) or Name (lists) uses the company's indexes.
 */
export function runQuery(company: Company, query: ParsedQuery, nameLists: ReadonlySet<EntityName>): QueryResult {
  const entity = modeledEntity(query.entity);
  if (!entity) return { entity: query.entity, records: [], totalCount: 0 };
  const where = [...query.where];
  if (
    nameLists.has(entity) &&
    entity !== 'TaxCode' &&
    entity !== 'TaxRate' &&
    !where.some((c) => c.path.length === 1 && c.path[0] === 'Active')
  ) {
    where.push({ path: ['Active'], op: '=', values: [true] });
  }
  const table = company.table(entity);
  let candidates: Iterable<Rec> = table.values();
  for (const c of where) {
    if (c.op !== '=' || c.path.length !== 1 || typeof c.values[0] !== 'string') continue;
    const key = c.path[0]!;
    const value = c.values[0];
    if (key === 'Id') {
      const r = table.get(value);
      candidates = r ? [r] : [];
      break;
    }
    if (key === 'DisplayName' && (entity === 'Customer' || entity === 'Vendor' || entity === 'Employee')) {
      const owner = company.findDisplayName(value);
      const r = owner && owner.entity === entity ? table.get(owner.id) : undefined;
      candidates = r ? [r] : [];
      break;
    }
    if (key === 'PrimaryEmailAddr' && company.emails.has(entity)) {
      const ids = company.emails.get(entity)!.get(value.trim().toLowerCase());
      candidates = ids ? [...ids].map((id) => table.get(id)).filter((r): r is Rec => r !== undefined) : [];
      break;
    }
    if (key === 'DocNumber') {
      const ids = company.docNumbers.get(entity)?.get(value);
      candidates = ids ? [...ids].map((id) => table.get(id)).filter((r): r is Rec => r !== undefined) : [];
      break;
    }
    if (key === 'Name' && nameLists.has(entity)) {
      const id = company.findListName(entity, value);
      const r = id ? table.get(id) : undefined;
      candidates = r ? [r] : [];
      break;
    }
  }
  const matchers = where.map(matcher);
  const hits: Rec[] = [];
  for (const record of candidates) if (matchers.every((m) => m(record))) hits.push(record);
  if (query.count) return { entity: query.entity, records: [], totalCount: hits.length };
  if (query.orderBy.length > 0) {
    hits.sort((a, b) => {
      for (const o of query.orderBy) {
        const av = valueAt(a, o.path);
        const bv = valueAt(b, o.path);
        let r: number;
        if (av === undefined && bv === undefined) r = 0;
        else if (av === undefined) r = -1;
        else if (bv === undefined) r = 1;
        else r = compare(av, bv as Literal) ?? 0;
        if (r !== 0) return o.descending ? -r : r;
      }
      return 0;
    });
  }
  let page = hits.slice(query.startPosition - 1, query.startPosition - 1 + query.maxResults);
  if (query.fields) {
    const keep = new Set([...query.fields, 'Id', 'SyncToken', 'MetaData', 'domain', 'sparse']);
    page = page.map((r) => Object.fromEntries(Object.entries(r).filter(([k]) => keep.has(k))));
  }
  return { entity: query.entity, records: page };
}

/** The QueryResponse body: `{}` when nothing matched, maxResults = number returned (reference §2.3). */
export function queryResponse(query: ParsedQuery, result: QueryResult): Rec {
  if (query.count) return { totalCount: result.totalCount ?? 0 };
  if (result.records.length === 0) return {};
  return { [result.entity]: result.records, startPosition: query.startPosition, maxResults: result.records.length };
}
