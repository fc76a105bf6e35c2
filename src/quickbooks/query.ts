// A builder for QuickBooks' SQL-like query language (reference §2.3): one entity, AND only, IN and
// LIKE ('%' only), ORDERBY, STARTPOSITION (1-based) and MAXRESULTS (at most 1000).
// Values are always written as literals escaped here, never spliced in by callers.

export type QueryLiteral = string | number | boolean | Date;
export type QueryOperator = '=' | '<' | '>' | '<=' | '>=';

export const MAX_RESULTS_LIMIT = 1000;

// Property names are dotted identifiers (MetaData.LastUpdatedTime); anything else is refused so a name
// can never smuggle a clause in.
const FIELD = /^[A-Za-z][A-Za-z0-9]*(\.[A-Za-z][A-Za-z0-9]*)*$/;

function field(name: string): string {
  if (!FIELD.test(name)) throw new TypeError(`not a QuickBooks property name: ${JSON.stringify(name)}`);
  return name;
}

/**
 * Quotes a string literal. QuickBooks escapes a quote with a backslash ('Amy\'s Bird Sanctuary'), so a
 * backslash in the value must itself be escaped first, or `a\` would swallow the closing quote.
 */
export function quote(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

export function literal(value: QueryLiteral): string {
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TypeError('query numbers must be finite');
    return String(value);
  }
  if (value instanceof Date) return quote(qboDateTime(value));
  return quote(value);
}

/**
 * A date-time in the form Intuit's SDKs send in queries and as CDC changedSince: whole seconds and a zone, no
 * milliseconds ("2026-01-02T03:04:05Z"; DotNet SDK QueryService and DataService.CDC, python-quickbooks
 * qb_datetime_format; Intuit's CDC example uses an offset, "2011-10-10T09:00:00-07:00", VCR minimul/qbo_api
 * cdc/basic.yml). A Date, or text with fractional seconds (QuickBooks' own `time`, toISOString()), is written
 * in UTC with the fraction cut, so the instant only moves earlier. Other text (a date, whole seconds with or
 * without a zone; QuickBooks reads a zone-less time in the company's zone) is sent as given.
 */
export function qboDateTime(value: Date | string): string {
  if (typeof value === 'string' && !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d+/.test(value)) return value;
  const ms = value instanceof Date ? value.getTime() : Date.parse(value);
  if (Number.isNaN(ms)) throw new RangeError(`not a date-time: ${String(value)}`);
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(/\.000Z$/, 'Z');
}

/** A contains-pattern for whereLike. '%' is the only wildcard and cannot be escaped, so a '%' in the value also matches anything. */
export function likeContains(value: string): string {
  return `%${value}%`;
}

export class QueryBuilder<E extends string = string> {
  private readonly conditions: string[] = [];
  private order: string | undefined;
  private start: number | undefined;
  private max: number | undefined;

  constructor(
    readonly entity: E,
    private readonly countOnly = false,
  ) {
    field(entity);
  }

  where(name: string, op: QueryOperator, value: QueryLiteral): this {
    this.conditions.push(`${field(name)} ${op} ${literal(value)}`);
    return this;
  }

  whereIn(name: string, values: readonly QueryLiteral[]): this {
    // QuickBooks rejects "IN ()"; an empty list can match nothing, which the caller should decide.
    if (values.length === 0) throw new RangeError(`IN list for ${name} is empty`);
    this.conditions.push(`${field(name)} IN (${values.map(literal).join(', ')})`);
    return this;
  }

  /** `pattern` may contain '%' wildcards; quotes and backslashes in it are escaped. */
  whereLike(name: string, pattern: string): this {
    this.conditions.push(`${field(name)} LIKE ${quote(pattern)}`);
    return this;
  }

  /** Name-list entities (Customer, Item...) hide inactive rows unless asked (reference §2.3). */
  includeInactive(): this {
    return this.whereIn('Active', [true, false]);
  }

  orderBy(name: string, direction: 'ASC' | 'DESC' = 'ASC'): this {
    this.order = `${field(name)} ${direction}`;
    return this;
  }

  startPosition(position: number): this {
    if (!Number.isInteger(position) || position < 1) throw new RangeError('STARTPOSITION is 1-based');
    this.start = position;
    return this;
  }

  maxResults(count: number): this {
    if (!Number.isInteger(count) || count < 1 || count > MAX_RESULTS_LIMIT) {
      throw new RangeError(`MAXRESULTS must be between 1 and ${MAX_RESULTS_LIMIT}`);
    }
    this.max = count;
    return this;
  }

  /** A copy positioned on one page, for paging without mutating the original. */
  page(startPosition: number, pageSize: number): QueryBuilder<E> {
    const copy = new QueryBuilder<E>(this.entity, this.countOnly);
    copy.conditions.push(...this.conditions);
    copy.order = this.order;
    return copy.startPosition(startPosition).maxResults(pageSize);
  }

  get isCount(): boolean {
    return this.countOnly;
  }

  toString(): string {
    let sql = `SELECT ${this.countOnly ? 'COUNT(*)' : '*'} FROM ${this.entity}`;
    if (this.conditions.length > 0) sql += ` WHERE ${this.conditions.join(' AND ')}`;
    if (this.order) sql += ` ORDERBY ${this.order}`;
    if (this.start !== undefined) sql += ` STARTPOSITION ${this.start}`;
    if (this.max !== undefined) sql += ` MAXRESULTS ${this.max}`;
    return sql;
  }
}

/** `select('Customer').where('DisplayName', '=', "O'Brien")` */
export function select<E extends string>(entity: E): QueryBuilder<E> {
  return new QueryBuilder(entity);
}

/** `count('Invoice').where(...)` gives `SELECT COUNT(*) FROM Invoice WHERE ...`. */
export function count<E extends string>(entity: E): QueryBuilder<E> {
  return new QueryBuilder(entity, true);
}

/**
 * Walks a query page by page (STARTPOSITION/MAXRESULTS), yielding each page as it arrives so a caller
 * can stream through thousands of rows without holding them. A short page ends the walk; QuickBooks'
 * maxResults in the answer is the count returned, not the limit asked (reference §2.3).
 */
export async function* pages<T, E extends string>(
  base: QueryBuilder<E>,
  fetchPage: (query: QueryBuilder<E>) => Promise<T[]>,
  pageSize: number = MAX_RESULTS_LIMIT,
): AsyncGenerator<T[], void, undefined> {
  // Paging without a stable order can skip or repeat rows when data changes between pages.
  for (let start = 1; ; start += pageSize) {
    const rows = await fetchPage(base.page(start, pageSize));
    if (rows.length > 0) yield rows;
    if (rows.length < pageSize) return;
  }
}
