// Orders, transactions and subscriptions (reference §4; spec apps/payments.json, Version 2021-07-28).
// HighLevel sends no webhooks for transactions or subscriptions, so the engine polls these lists in
// startAt/endAt windows; the generators below page through them with limit/offset.
import { z } from 'zod';
import { API_VERSION, type HighLevelHttp } from './http.ts';
import { amountSchema } from './money.ts';

function camelCase(key: string): string {
  return key.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/**
 * contactSnapshot comes snake_case in REST details (first_name, location_id, company_name) and camelCase
 * in webhooks (firstName, locationId): both are read into camelCase.
 */
export const contactSnapshotSchema = z.preprocess(
  (raw) => {
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return raw;
    const out: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(raw)) {
      const name = key === '_id' ? 'id' : camelCase(key);
      if (!(name in out) || key === name) out[name] = value;
    }
    return out;
  },
  z.looseObject({
    id: z.string().optional(),
    locationId: z.string().optional(),
    email: z.string().nullable().optional(),
    name: z.string().nullable().optional(),
    firstName: z.string().nullable().optional(),
    lastName: z.string().nullable().optional(),
    phone: z.string().nullable().optional(),
    companyName: z.string().nullable().optional(),
  }),
);
export type ContactSnapshot = z.infer<typeof contactSnapshotSchema>;

const sourceSchema = z.looseObject({
  type: z.string().optional(),
  subType: z.string().optional(),
  id: z.string().optional(),
  name: z.string().optional(),
});

export const orderSchema = z.looseObject({
  _id: z.string(),
  altId: z.string().optional(),
  contactId: z.string().optional(),
  contactName: z.string().nullable().optional(),
  contactEmail: z.string().nullable().optional(),
  contactSnapshot: contactSnapshotSchema.optional(),
  currency: z.string().optional(),
  amount: amountSchema.optional(),
  subtotal: amountSchema.optional(),
  discount: amountSchema.optional(),
  amountSummary: z
    .looseObject({
      subtotal: amountSchema.optional(),
      discount: amountSchema.optional(),
      tax: amountSchema.optional(),
      shipping: amountSchema.optional(),
    })
    .optional(),
  status: z.string().optional(),
  liveMode: z.boolean().optional(),
  sourceType: z.string().optional(),
  source: sourceSchema.optional(),
  items: z.array(z.looseObject({ name: z.string().optional(), qty: amountSchema.optional() })).optional(),
  createdAt: z.string().optional(),
  updatedAt: z.string().optional(),
});
export type Order = z.infer<typeof orderSchema>;

export const transactionSchema = z.looseObject({
  _id: z.string(),
  altId: z.string().optional(),
  contactId: z.string().optional(),
  contactName: z.string().nullable().optional(),
  contactEmail: z.string().nullable().optional(),
  contactSnapshot: contactSnapshotSchema.optional(),
  currency: z.string().optional(),
  amount: amountSchema,
  amountRefunded: amountSchema.optional(),
  status: z.string().optional(),
  liveMode: z.boolean().optional(),
  entityType: z.string().optional(),
  entityId: z.string().optional(),
  entitySourceType: z.string().optional(),
  entitySourceSubType: z.string().optional(),
  entitySourceId: z.string().optional(),
  entitySourceName: z.string().optional(),
  /** Details carry the source as an object (lists carry the flat entitySource* fields). */
  entitySource: z
    .looseObject({
      type: z.string().optional(),
      subType: z.string().optional(),
      id: z.string().optional(),
      name: z.string().optional(),
    })
    .optional(),
  invoiceId: z.string().optional(),
  subscriptionId: z.string().optional(),
  chargeId: z.string().optional(),
  paymentProviderType: z.string().optional(),
  paymentMethod: z.record(z.string(), z.unknown()).optional(),
  /** When the charge happened (required in the spec). */
  fulfilledAt: z.string().optional(),
  createdAt: z.string().optional(),
  updatedAt: z.string().optional(),
  /** Detail only: HighLevel's own QuickBooks integration posted the payment, and QuickBooks' answer (its entity, with Id). */
  qboSynced: z.boolean().nullable().optional(),
  qboResponse: z.record(z.string(), z.unknown()).nullable().optional(),
});
export type Transaction = z.infer<typeof transactionSchema>;

/** The order a charge pays, when it pays one (lists and details name it alike). */
export function orderIdOf(txn: { entityType?: string | undefined; entityId?: string | undefined }): string | undefined {
  return txn.entityId && (txn.entityType === 'order' || !txn.entityType) ? txn.entityId : undefined;
}

export const subscriptionSchema = z.looseObject({
  _id: z.string(),
  altId: z.string().optional(),
  contactId: z.string().optional(),
  contactName: z.string().nullable().optional(),
  contactEmail: z.string().nullable().optional(),
  contactSnapshot: contactSnapshotSchema.optional(),
  currency: z.string().optional(),
  amount: amountSchema.optional(),
  status: z.string().optional(),
  liveMode: z.boolean().optional(),
  entityType: z.string().optional(),
  entityId: z.string().optional(),
  entitySourceType: z.string().optional(),
  subscriptionId: z.string().optional(),
  createdAt: z.string().optional(),
  updatedAt: z.string().optional(),
});
export type Subscription = z.infer<typeof subscriptionSchema>;

export interface PaymentListFilter {
  /** YYYY-MM-DD (or ISO, as HighLevel accepts) */
  startAt?: string;
  endAt?: string;
  contactId?: string;
  paymentMode?: 'live' | 'test';
  search?: string;
  /** transactions, subscriptions */
  entitySourceType?: string;
  /** transactions: the order/invoice id; subscriptions: the entity id */
  entityId?: string;
  subscriptionId?: string;
  /** orders */
  status?: string;
  paymentStatus?: 'paid' | 'unpaid' | 'refunded' | 'partially_paid';
}

export interface Page<T> {
  data: T[];
  totalCount: number | undefined;
}

const listEnvelopes = new WeakMap<z.ZodType, z.ZodType>();

/** The `{ data: [...], totalCount }` answer of a list, built once per item schema (zod compiles each schema on first use). */
function listEnvelope<S extends z.ZodType>(item: S) {
  const build = () => z.looseObject({ data: z.array(item).default([]), totalCount: z.number().optional() });
  const known = listEnvelopes.get(item) as ReturnType<typeof build> | undefined;
  if (known) return known;
  const made = build();
  listEnvelopes.set(item, made);
  return made;
}

type Kind = 'orders' | 'transactions' | 'subscriptions';

export class PaymentsApi {
  constructor(private readonly http: HighLevelHttp) {}

  /**
   * The location parameters each operation declares in payments.json, and no others: HighLevel refuses an
   * undeclared query parameter with 422 (orders take altId and locationId but no altType; subscriptions take
   * altId and altType but no locationId; transactions take all three).
   */
  private alt(kind: Kind): Record<string, string> {
    const locationId = this.http.locationId;
    switch (kind) {
      case 'orders':
        return { altId: locationId, locationId };
      case 'subscriptions':
        return { altId: locationId, altType: 'location' };
      case 'transactions':
        return { altId: locationId, altType: 'location', locationId };
    }
  }

  private async page<S extends z.ZodType>(
    kind: Kind,
    item: S,
    filter: PaymentListFilter,
    limit: number,
    offset: number,
  ): Promise<Page<z.infer<S>>> {
    const answer = await this.http.request({
      method: 'GET',
      path: `/payments/${kind}`,
      query: { ...this.alt(kind), ...filter, limit, offset },
      version: API_VERSION,
      schema: listEnvelope(item),
    });
    return { data: answer.data as Array<z.infer<S>>, totalCount: answer.totalCount };
  }

  private async *all<S extends z.ZodType>(
    kind: Kind,
    item: S,
    filter: PaymentListFilter,
    pageSize: number,
  ): AsyncGenerator<z.infer<S>, void, undefined> {
    for (let offset = 0; ; offset += pageSize) {
      const page = await this.page(kind, item, filter, pageSize, offset);
      yield* page.data;
      if (
        page.data.length < pageSize ||
        (page.totalCount !== undefined && offset + page.data.length >= page.totalCount)
      )
        return;
    }
  }

  listOrders(filter: PaymentListFilter = {}, page: { limit?: number; offset?: number } = {}): Promise<Page<Order>> {
    return this.page('orders', orderSchema, filter, page.limit ?? 100, page.offset ?? 0);
  }
  orders(filter: PaymentListFilter = {}, pageSize = 100): AsyncGenerator<Order, void, undefined> {
    return this.all('orders', orderSchema, filter, pageSize);
  }
  getOrder(orderId: string): Promise<Order> {
    return this.http.request({
      method: 'GET',
      path: `/payments/orders/${encodeURIComponent(orderId)}`,
      query: this.alt('orders'),
      version: API_VERSION,
      schema: orderSchema,
    });
  }

  listTransactions(
    filter: PaymentListFilter = {},
    page: { limit?: number; offset?: number } = {},
  ): Promise<Page<Transaction>> {
    return this.page('transactions', transactionSchema, filter, page.limit ?? 100, page.offset ?? 0);
  }
  transactions(filter: PaymentListFilter = {}, pageSize = 100): AsyncGenerator<Transaction, void, undefined> {
    return this.all('transactions', transactionSchema, filter, pageSize);
  }
  getTransaction(transactionId: string): Promise<Transaction> {
    return this.http.request({
      method: 'GET',
      path: `/payments/transactions/${encodeURIComponent(transactionId)}`,
      query: this.alt('transactions'),
      version: API_VERSION,
      schema: transactionSchema,
    });
  }

  listSubscriptions(
    filter: PaymentListFilter = {},
    page: { limit?: number; offset?: number } = {},
  ): Promise<Page<Subscription>> {
    return this.page('subscriptions', subscriptionSchema, filter, page.limit ?? 100, page.offset ?? 0);
  }
  subscriptions(filter: PaymentListFilter = {}, pageSize = 100): AsyncGenerator<Subscription, void, undefined> {
    return this.all('subscriptions', subscriptionSchema, filter, pageSize);
  }
  getSubscription(subscriptionId: string): Promise<Subscription> {
    return this.http.request({
      method: 'GET',
      path: `/payments/subscriptions/${encodeURIComponent(subscriptionId)}`,
      query: this.alt('subscriptions'),
      version: API_VERSION,
      schema: subscriptionSchema,
    });
  }
}
