// Payments (apps/payments.json; Location-Access): orders, transactions, subscriptions, order record-payment.
// Lists: `{data, totalCount}`, newest first, `limit`/`offset`, `startAt`/`endAt` on createdAt.
import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import { badRequest } from '../errors.ts';
import { paramsOf, queryOf, type HttpContext } from '../http.ts';
import type { Location } from '../model.ts';
import {
  orderDetailJson,
  orderListItemJson,
  subscriptionDetailJson,
  subscriptionListItemJson,
  transactionDetailJson,
  transactionListItemJson,
} from '../serialize.ts';
import { parse } from '../validate.ts';

const listQuery = z
  .object({
    altId: z.string().min(1),
    altType: z.literal('location').optional(),
    locationId: z.string().optional(),
    limit: z.coerce.number().int().min(1).max(100).optional(),
    offset: z.coerce.number().int().min(0).optional(),
    startAt: z.string().optional(),
    endAt: z.string().optional(),
    contactId: z.string().optional(),
    paymentMode: z.enum(['live', 'test']).optional(),
    search: z.string().optional(),
  })
  .loose();

const orderListQuery = listQuery.extend({
  status: z.string().optional(),
  paymentStatus: z.string().optional(),
  sourceId: z.string().optional(),
  funnelProductIds: z.string().optional(),
});

const orderRecordPaymentBody = z.object({
  altId: z.string().min(1),
  altType: z.literal('location'),
  mode: z.enum(['cash', 'card', 'cheque', 'bank_transfer', 'other']),
  card: z.object({ type: z.enum(['visa', 'mastercard', 'other']), last4: z.string() }).optional(),
  cheque: z.object({ number: z.string() }).optional(),
  notes: z.string().optional(),
  amount: z.number().positive().optional(),
  meta: z.record(z.string(), z.unknown()).optional(),
  isPartialPayment: z.boolean().optional(),
});

const transactionListQuery = listQuery.extend({
  entitySourceType: z.string().optional(),
  entitySourceSubType: z.string().optional(),
  entityId: z.string().optional(),
  subscriptionId: z.string().optional(),
});

const subscriptionListQuery = listQuery.extend({
  entitySourceType: z.string().optional(),
  entityId: z.string().optional(),
  id: z.string().optional(),
});

/** `YYYY-MM-DD` bounds are whole UTC days (inclusive); full ISO timestamps are taken as they are. */
export function dayRange(startAt: string | undefined, endAt: string | undefined): { from: number; to: number } {
  const from = startAt ? Date.parse(startAt.length === 10 ? `${startAt}T00:00:00.000Z` : startAt) : -Infinity;
  const to = endAt ? Date.parse(endAt.length === 10 ? `${endAt}T23:59:59.999Z` : endAt) : Infinity;
  if (Number.isNaN(from) || Number.isNaN(to)) throw badRequest('startAt and endAt must be dates (YYYY-MM-DD)');
  return { from, to };
}

function page<T extends { createdAt: number; id: string }>(
  items: T[],
  limit: number | undefined,
  offset: number | undefined,
  defaultLimit: number,
): { slice: T[]; total: number } {
  items.sort((a, b) => b.createdAt - a.createdAt || (a.id < b.id ? 1 : -1));
  const o = offset ?? 0;
  return { slice: items.slice(o, o + (limit ?? defaultLimit)), total: items.length };
}

export function registerPaymentRoutes(ctx: HttpContext): void {
  const { core } = ctx;
  const altLocation = (request: FastifyRequest): Location => {
    const q = queryOf(request);
    if (!q.altId) throw badRequest('altId is required');
    return ctx.location(request, q.altId);
  };

  ctx.route('GET', '/payments/orders', { scopes: ['payments/orders.readonly'] }, (request) => {
    const q = parse(orderListQuery, queryOf(request));
    const location = ctx.location(request, q.altId);
    const { from, to } = dayRange(q.startAt, q.endAt);
    const search = q.search?.toLowerCase();
    const items = [...core.store.orders.ofLocation(location.id)].filter(
      (o) =>
        o.locationId === location.id &&
        o.createdAt >= from &&
        o.createdAt <= to &&
        (!q.contactId || o.contactId === q.contactId) &&
        (!q.status || o.status === q.status) &&
        (!q.paymentStatus || o.paymentStatus === q.paymentStatus) &&
        (!q.sourceId || o.source.id === q.sourceId) &&
        (!q.paymentMode || (q.paymentMode === 'live') === o.liveMode) &&
        (!search ||
          [o.id, o.contactSnapshot.name, o.contactSnapshot.email, o.source.name]
            .join(' ')
            .toLowerCase()
            .includes(search)),
    );
    const { slice, total } = page(items, q.limit, q.offset, 10);
    return { data: slice.map(orderListItemJson), totalCount: total };
  });

  ctx.route('GET', '/payments/orders/:orderId', { scopes: ['payments/orders.readonly'] }, (request) => {
    const location = altLocation(request);
    const order = core.store.orders.get(paramsOf(request).orderId ?? '');
    if (!order || order.locationId !== location.id) throw badRequest('Order not found');
    return orderDetailJson(order, core.traceId());
  });

  ctx.route(
    'POST',
    '/payments/orders/:orderId/record-payment',
    { scopes: ['payments/orders.collectPayment'] },
    (request) => {
      const body = parse(orderRecordPaymentBody, request.body);
      const location = ctx.location(request, body.altId);
      const order = core.store.orders.get(paramsOf(request).orderId ?? '');
      if (!order || order.locationId !== location.id) throw badRequest('Order not found');
      ctx.payments.recordOrderPayment(order, body);
      return { success: true };
    },
  );

  ctx.route('GET', '/payments/transactions', { scopes: ['payments/transactions.readonly'] }, (request) => {
    const q = parse(transactionListQuery, queryOf(request));
    const location = ctx.location(request, q.altId);
    const { from, to } = dayRange(q.startAt, q.endAt);
    const search = q.search?.toLowerCase();
    const items = [...core.store.transactions.ofLocation(location.id)].filter(
      (t) =>
        t.locationId === location.id &&
        t.createdAt >= from &&
        t.createdAt <= to &&
        (!q.contactId || t.contactId === q.contactId) &&
        (!q.entitySourceType || t.entitySource.type === q.entitySourceType) &&
        (!q.entitySourceSubType || t.entitySource.subType === q.entitySourceSubType) &&
        (!q.entityId || t.entityId === q.entityId) &&
        (!q.subscriptionId || t.subscriptionId === q.subscriptionId) &&
        (!q.paymentMode || (q.paymentMode === 'live') === t.liveMode) &&
        (!search ||
          [t.id, t.contactSnapshot.name, t.contactSnapshot.email, t.entitySource.name]
            .join(' ')
            .toLowerCase()
            .includes(search)),
    );
    const { slice, total } = page(items, q.limit, q.offset, 10);
    return { data: slice.map(transactionListItemJson), totalCount: total };
  });

  ctx.route(
    'GET',
    '/payments/transactions/:transactionId',
    { scopes: ['payments/transactions.readonly'] },
    (request) => {
      const location = altLocation(request);
      const tx = core.store.transactions.get(paramsOf(request).transactionId ?? '');
      if (!tx || tx.locationId !== location.id) throw badRequest('Transaction not found');
      return transactionDetailJson(tx, core.traceId());
    },
  );

  ctx.route('GET', '/payments/subscriptions', { scopes: ['payments/subscriptions.readonly'] }, (request) => {
    const q = parse(subscriptionListQuery, queryOf(request));
    const location = ctx.location(request, q.altId);
    const { from, to } = dayRange(q.startAt, q.endAt);
    const search = q.search?.toLowerCase();
    const items = [...core.store.subscriptions.ofLocation(location.id)].filter(
      (s) =>
        s.locationId === location.id &&
        s.createdAt >= from &&
        s.createdAt <= to &&
        (!q.contactId || s.contactId === q.contactId) &&
        (!q.entitySourceType || s.entitySource.type === q.entitySourceType) &&
        (!q.entityId || s.entityId === q.entityId) &&
        (!q.id || s.id === q.id || s.providerSubscriptionId === q.id) &&
        (!q.paymentMode || (q.paymentMode === 'live') === s.liveMode) &&
        (!search ||
          [s.id, s.contactSnapshot.name, s.contactSnapshot.email, s.productName]
            .join(' ')
            .toLowerCase()
            .includes(search)),
    );
    const { slice, total } = page(items, q.limit, q.offset, 10);
    return { data: slice.map(subscriptionListItemJson), totalCount: total };
  });

  ctx.route(
    'GET',
    '/payments/subscriptions/:subscriptionId',
    { scopes: ['payments/subscriptions.readonly'] },
    (request) => {
      const location = altLocation(request);
      const sub = core.store.subscriptions.get(paramsOf(request).subscriptionId ?? '');
      if (!sub || sub.locationId !== location.id) throw badRequest('Subscription not found');
      return subscriptionDetailJson(sub, ctx.payments.nextChargeAt(sub), core.traceId());
    },
  );
}
