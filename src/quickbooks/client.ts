// The typed QuickBooks Online client for one realm: entities, queries, batch, change data capture,
// invoice sending, company info and preferences. Built on QuickBooksHttp; knows nothing of the store.
import { z } from 'zod';
import { normalizeEmail } from '../domain/email.ts';
import { QBO_LIMITS } from '../domain/quickbooksLimits.ts';
import { quickbooksRequestId } from '../domain/requestId.ts';
import {
  batchItemRequest,
  batchItemResult,
  batchResponseSchema,
  assignBatchIds,
  chunk,
  type BatchItem,
  type BatchResult,
} from './batch.ts';
import { cdcResponseSchema, parseChangeSet, type ChangeSet } from './cdc.ts';
import {
  companyInfoSchema,
  deletedStubSchema,
  entityPath,
  entitySchemas,
  envelopeSchema,
  preferencesSchema,
  type CompanyInfo,
  type CreateBody,
  type Customer,
  type DeletableEntity,
  type DeletedStub,
  type EntityName,
  type EntityOf,
  type Invoice,
  type Preferences,
  type QboClass,
  type Department,
  type Item,
  type Account,
  type PaymentMethod,
  type UpdateBody,
  type VoidableEntity,
  type WritableEntity,
} from './entities.ts';
import { QuickBooksError } from './errors.ts';
import { QuickBooksHttp, type QuickBooksHttpOptions } from './http.ts';
import { MAX_RESULTS_LIMIT, likeContains, pages, qboDateTime, select, type QueryBuilder } from './query.ts';

export interface WriteOptions {
  /** Deterministic idempotency key for this write, made by quickbooksRequestId (src/domain/requestId.ts). */
  requestId: string;
  signal?: AbortSignal;
}

/** What a list for the mapping screen is narrowed to, and how it is read. */
export interface ListOptions {
  /** Only records whose Name contains this text (QuickBooks' LIKE '%text%'; it has no escape, so a '%' in it matches anything). */
  search?: string;
  /** Rows per request (1..1000; default 1000, QuickBooks' most). */
  pageSize?: number;
  signal?: AbortSignal;
}

/** Account types QuickBooks deposits sales receipts and payments to (bank accounts and other current assets, Undeposited Funds among them). */
export const DEPOSIT_ACCOUNT_TYPES = ['Bank', 'Other Current Asset'] as const;
/** Account types an item's IncomeAccountRef may name. */
export const INCOME_ACCOUNT_TYPES = ['Income', 'Other Income'] as const;
/** Item types a sales line may sell with their own income account (Category and Group items carry none). */
export const SALE_ITEM_TYPES = ['Service', 'NonInventory', 'Inventory'] as const;

export interface FindByEmailOptions {
  /**
   * What to do when the filtered query cannot be trusted. QuickBooks filters Customer on
   * PrimaryEmailAddr only by exact text (other entities refuse it with 4001 "not queryable"), and the
   * field may hold several addresses separated by commas, so a miss is not proof of absence.
   * - 'scan-on-error' (default): scan all customers only if the filtered query is refused.
   * - 'scan-on-miss': also scan when the filtered query finds nothing (costs one request per 1000 customers).
   * - 'none': never scan.
   */
  fallback?: 'scan-on-error' | 'scan-on-miss' | 'none';
}

/** Every address a customer's PrimaryEmailAddr holds, normalised (QuickBooks allows a comma-separated list). */
export function customerEmails(customer: Customer): string[] {
  const raw = customer.PrimaryEmailAddr?.Address ?? '';
  return raw
    .split(/[,;]/)
    .map(normalizeEmail)
    .filter((e) => e !== '');
}

const queryResponseSchema = z.looseObject({
  QueryResponse: z.record(z.string(), z.unknown()).default({}),
  time: z.string().optional(),
});

const MAX_GET_QUERY_LENGTH = 2000;

/**
 * Each /batch request is a write of its own, so every chunk of a batch needs its own requestid, fitting the batch
 * limit, the same for the same chunk when the whole batch is tried again.
 */
function batchChunkRequestId(realmId: string, batchRequestId: string, chunk: number): string {
  return quickbooksRequestId(
    { connectionId: realmId, flow: 'batch', sourceId: batchRequestId, sourceVersion: String(chunk) },
    { batch: true },
  );
}

export class QuickBooksClient {
  readonly http: QuickBooksHttp;

  constructor(options: QuickBooksHttpOptions | QuickBooksHttp) {
    this.http = options instanceof QuickBooksHttp ? options : new QuickBooksHttp(options);
  }

  get realmId(): string {
    return this.http.realmId;
  }

  async create<N extends WritableEntity>(entity: N, body: CreateBody<N>, options: WriteOptions): Promise<EntityOf<N>> {
    const answer = await this.http.request({
      method: 'POST',
      path: entityPath(entity),
      body,
      requestId: options.requestId,
      schema: envelopeSchema(entity, entitySchemas[entity]),
      signal: options.signal,
    });
    return answer[entity] as EntityOf<N>;
  }

  async read<N extends EntityName>(entity: N, id: string, signal?: AbortSignal): Promise<EntityOf<N>> {
    const answer = await this.http.request({
      method: 'GET',
      path: `${entityPath(entity)}/${encodeURIComponent(id)}`,
      schema: envelopeSchema(entity, entitySchemas[entity]),
      signal,
    });
    return answer[entity] as EntityOf<N>;
  }

  /**
   * Sparse by default: only the fields given change. A full update (sparse false) clears every writable
   * field left out, and a Line array always replaces all lines. A stale SyncToken fails with 5010
   * (isStaleObject): re-read and re-apply rather than retrying blindly.
   */
  async update<N extends WritableEntity>(
    entity: N,
    body: UpdateBody<N>,
    options: WriteOptions & { sparse?: boolean },
  ): Promise<EntityOf<N>> {
    const answer = await this.http.request({
      method: 'POST',
      path: entityPath(entity),
      query: { operation: 'update' },
      body: { ...body, sparse: options.sparse ?? true },
      requestId: options.requestId,
      schema: envelopeSchema(entity, entitySchemas[entity]),
      signal: options.signal,
    });
    return answer[entity] as EntityOf<N>;
  }

  /** Hard delete of a transaction; answers a stub. Name-list entities cannot be deleted: use deactivate. */
  async delete(
    entity: DeletableEntity,
    ref: { Id: string; SyncToken: string },
    options: WriteOptions,
  ): Promise<DeletedStub> {
    const answer = await this.http.request({
      method: 'POST',
      path: entityPath(entity),
      query: { operation: 'delete' },
      body: { Id: ref.Id, SyncToken: ref.SyncToken },
      requestId: options.requestId,
      schema: envelopeSchema(entity, deletedStubSchema),
      signal: options.signal,
    });
    return answer[entity];
  }

  /** Void keeps the transaction (same Id) with every amount zeroed and PrivateNote "Voided". */
  async void<N extends VoidableEntity>(
    entity: N,
    ref: { Id: string; SyncToken: string },
    options: WriteOptions,
  ): Promise<EntityOf<N>> {
    const answer = await this.http.request({
      method: 'POST',
      path: entityPath(entity),
      query: { operation: 'void' },
      body: { Id: ref.Id, SyncToken: ref.SyncToken },
      requestId: options.requestId,
      schema: envelopeSchema(entity, entitySchemas[entity]),
      signal: options.signal,
    });
    return answer[entity] as EntityOf<N>;
  }

  /** The "delete" of name-list entities: a sparse update to Active false (QuickBooks renames customers "... (deleted)"). */
  async deactivate<N extends 'Customer' | 'Item' | 'Account' | 'PaymentMethod' | 'Class' | 'Department'>(
    entity: N,
    ref: { Id: string; SyncToken: string },
    options: WriteOptions,
  ): Promise<EntityOf<N>> {
    return this.update(entity, { Id: ref.Id, SyncToken: ref.SyncToken, Active: false } as UpdateBody<N>, options);
  }

  /** One page of a query (whatever STARTPOSITION/MAXRESULTS the builder says; QuickBooks defaults to 100). */
  async query<N extends EntityName>(query: QueryBuilder<N>, signal?: AbortSignal): Promise<Array<EntityOf<N>>> {
    const answer = await this.runQuery(query.toString(), signal);
    // With zero hits QueryResponse is {} and the entity key is absent.
    const rows = answer.QueryResponse[query.entity] ?? [];
    return z.array(entitySchemas[query.entity]).parse(rows) as Array<EntityOf<N>>;
  }

  /** Pages of a query, fetched one at a time as the caller consumes them. */
  queryPages<N extends EntityName>(
    query: QueryBuilder<N>,
    pageSize: number = MAX_RESULTS_LIMIT,
  ): AsyncGenerator<Array<EntityOf<N>>, void, undefined> {
    return pages(query, (page) => this.query(page), pageSize);
  }

  /** Every row of a query, streamed page by page. */
  async *queryAll<N extends EntityName>(
    query: QueryBuilder<N>,
    pageSize: number = MAX_RESULTS_LIMIT,
  ): AsyncGenerator<EntityOf<N>, void, undefined> {
    for await (const page of this.queryPages(query, pageSize)) yield* page;
  }

  /** `count('Invoice').where(...)` */
  async count(query: QueryBuilder, signal?: AbortSignal): Promise<number> {
    if (!query.isCount) throw new TypeError('count() needs a builder made with count(entity)');
    const answer = await this.runQuery(query.toString(), signal);
    return z.number().parse(answer.QueryResponse.totalCount ?? 0);
  }

  // A long statement (an IN list of hundreds of ids) would overflow URL limits; QuickBooks also takes
  // the statement as a POST body with Content-Type application/text.
  private runQuery(statement: string, signal: AbortSignal | undefined) {
    if (statement.length <= MAX_GET_QUERY_LENGTH) {
      return this.http.request({
        method: 'GET',
        path: '/query',
        query: { query: statement },
        schema: queryResponseSchema,
        signal,
      });
    }
    return this.http.request({
      method: 'POST',
      path: '/query',
      textBody: { contentType: 'application/text', text: statement },
      readOnly: true,
      schema: queryResponseSchema,
      signal,
    });
  }

  /**
   * Customers whose PrimaryEmailAddr holds this address, compared in normalised form, inactive ones
   * included (their DisplayName still blocks a new customer with 6240).
   */
  async findCustomersByEmail(email: string, options: FindByEmailOptions = {}): Promise<Customer[]> {
    const fallback = options.fallback ?? 'scan-on-error';
    const wanted = normalizeEmail(email);
    const matches = (c: Customer): boolean => customerEmails(c).includes(wanted);
    const found = new Map<string, Customer>();
    try {
      // The filter compares text exactly, so try the address as given and in its normalised form.
      for (const variant of new Set([email.trim(), wanted])) {
        const rows = await this.query(
          select('Customer').where('PrimaryEmailAddr', '=', variant).includeInactive().maxResults(MAX_RESULTS_LIMIT),
        );
        for (const c of rows) if (matches(c)) found.set(c.Id, c);
      }
      if (found.size > 0 || fallback !== 'scan-on-miss') return [...found.values()];
    } catch (error) {
      const refused = error instanceof QuickBooksError && (error.code === '4000' || error.code === '4001');
      if (!refused || fallback === 'none') throw error;
    }
    for await (const c of this.queryAll(select('Customer').includeInactive().orderBy('Id'))) {
      if (matches(c)) found.set(c.Id, c);
    }
    return [...found.values()];
  }

  /**
   * Runs any number of operations through /batch, 30 per request, and returns every item's result keyed
   * by bId (the caller's, or "b<index>"). When a whole request fails (after the core's retries), each of
   * its items gets that error, so the map always holds every item and earlier chunks' results survive.
   */
  async batch(items: readonly BatchItem[], options: WriteOptions): Promise<Map<string, BatchResult>> {
    const numbered = assignBatchIds(items);
    const results = new Map<string, BatchResult>();
    const chunks = chunk(numbered);
    for (const [index, part] of chunks.entries()) {
      const requestId =
        chunks.length === 1 && options.requestId.length <= QBO_LIMITS.requestId.batch
          ? options.requestId
          : batchChunkRequestId(this.realmId, options.requestId, index);
      try {
        const { data: answer, intuitTid } = await this.http.send({
          method: 'POST',
          path: '/batch',
          body: { BatchItemRequest: part.map(batchItemRequest) },
          requestId,
          schema: batchResponseSchema,
          signal: options.signal,
        });
        for (const raw of answer.BatchItemResponse) results.set(raw.bId, batchItemResult(raw, intuitTid));
      } catch (error) {
        if (!(error instanceof QuickBooksError)) throw error;
        for (const item of part) results.set(item.bId, { bId: item.bId, ok: false, error });
      }
    }
    return results;
  }

  /** Objects of these types changed since `since` (at most 30 days back), deleted ones as ids. */
  async changedSince(
    entities: readonly EntityName[],
    since: Date | string,
    signal?: AbortSignal,
  ): Promise<ReturnType<typeof parseChangeSet>> {
    if (entities.length === 0) throw new RangeError('changedSince needs at least one entity type');
    const answer = await this.http.request({
      method: 'GET',
      path: '/cdc',
      query: { entities: entities.join(','), changedSince: qboDateTime(since) },
      schema: cdcResponseSchema,
      signal,
    });
    return parseChangeSet(answer);
  }

  /** Emails the invoice (to BillEmail, or to `sendTo`); the answer has EmailStatus "EmailSent". */
  async sendInvoice(id: string, options: WriteOptions & { sendTo?: string }): Promise<Invoice> {
    const answer = await this.http.request({
      method: 'POST',
      path: `/invoice/${encodeURIComponent(id)}/send`,
      query: { sendTo: options.sendTo },
      requestId: options.requestId,
      schema: envelopeSchema('Invoice', entitySchemas.Invoice),
      signal: options.signal,
    });
    return answer.Invoice;
  }

  async companyInfo(signal?: AbortSignal): Promise<CompanyInfo> {
    const answer = await this.http.request({
      method: 'GET',
      path: `/companyinfo/${encodeURIComponent(this.realmId)}`,
      schema: envelopeSchema('CompanyInfo', companyInfoSchema),
      signal,
    });
    return answer.CompanyInfo;
  }

  // Lists a bookkeeper picks from when mapping (deposit account, income account, items, class, location, payment
  // method): active records only, every page, ordered by Name; `search` narrows them by Name for a search box.

  /** Accounts a sales receipt or payment may deposit to. */
  listDepositAccounts(options: ListOptions = {}): Promise<Account[]> {
    return this.listActive(select('Account').whereIn('AccountType', DEPOSIT_ACCOUNT_TYPES), options);
  }

  /** Accounts an item ledgerlink creates may post its income to. */
  listIncomeAccounts(options: ListOptions = {}): Promise<Account[]> {
    return this.listActive(select('Account').whereIn('AccountType', INCOME_ACCOUNT_TYPES), options);
  }

  /** Items a CRM product may map to (Service, NonInventory, Inventory), each with its IncomeAccountRef. */
  listSaleItems(options: ListOptions = {}): Promise<Item[]> {
    return this.listActive(select('Item').whereIn('Type', SALE_ITEM_TYPES), options);
  }

  listClasses(options: ListOptions = {}): Promise<QboClass[]> {
    return this.listActive(select('Class'), options);
  }

  /** Departments, which QuickBooks' screens call locations (Preferences DepartmentTerminology names them). */
  listDepartments(options: ListOptions = {}): Promise<Department[]> {
    return this.listActive(select('Department'), options);
  }

  listPaymentMethods(options: ListOptions = {}): Promise<PaymentMethod[]> {
    return this.listActive(select('PaymentMethod'), options);
  }

  private async listActive<N extends EntityName>(
    query: QueryBuilder<N>,
    options: ListOptions,
  ): Promise<Array<EntityOf<N>>> {
    query.where('Active', '=', true);
    if (options.search !== undefined && options.search.trim() !== '')
      query.whereLike('Name', likeContains(options.search.trim()));
    query.orderBy('Name');
    const rows: Array<EntityOf<N>> = [];
    const pageSize = options.pageSize ?? MAX_RESULTS_LIMIT;
    for await (const page of pages(query, (page) => this.query(page, options.signal), pageSize)) rows.push(...page);
    return rows;
  }

  async preferences(signal?: AbortSignal): Promise<Preferences> {
    const answer = await this.http.request({
      method: 'GET',
      path: '/preferences',
      schema: envelopeSchema('Preferences', preferencesSchema),
      signal,
    });
    return answer.Preferences;
  }
}

export type { ChangeSet };
