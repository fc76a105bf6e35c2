// Admin API: acting as a CRM user. Each action produces the records and the webhooks the real HighLevel
// would for the same thing done in its UI (order forms, subscriptions, memberships, calendar bookings,
// invoices, refunds); see README.md for the bodies.
import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { AdminRoute } from './admin.ts';
import { badRequest, notFound } from './errors.ts';
import { paramsOf, type HttpContext } from './http.ts';
import { alphanumericId, objectId } from './ids.ts';
import type { Invoice, Location, PaymentSource } from './model.ts';
import {
  contactJson,
  invoiceJson,
  orderDetailJson,
  subscriptionDetailJson,
  transactionDetailJson,
} from './serialize.ts';
import { parse } from './validate.ts';

const buyer = z.object({
  email: z.email().optional(),
  phone: z.string().optional(),
  firstName: z.string().optional(),
  lastName: z.string().optional(),
  companyName: z.string().optional(),
});
const tax = z.object({ name: z.string(), rate: z.number().min(0), _id: z.string().optional() });
const item = z.object({
  name: z.string().min(1),
  /** A product of the location's catalogue; absent: a product id of its own. */
  productId: z.string().min(1).optional(),
  amount: z.number().min(0),
  qty: z.number().positive().optional(),
  taxes: z.array(tax).optional(),
  recurring: z
    .object({
      interval: z.enum(['day', 'week', 'month', 'year']),
      intervalCount: z.number().int().positive().optional(),
    })
    .optional(),
});
const card = z.object({ brand: z.string(), last4: z.string() });

const orderFormPaymentBody = z.object({
  contact: buyer,
  items: z.array(item).min(1),
  currency: z.string().length(3).optional(),
  discount: z.number().min(0).optional(),
  couponCode: z.string().optional(),
  sourceType: z.enum(['funnel', 'website']).optional(),
  subType: z.enum(['one_step_order_form', 'two_step_order_form', 'upsell', 'store']).optional(),
  sourceName: z.string().optional(),
  liveMode: z.boolean().optional(),
  card: card.optional(),
});
const subscriptionActionBody = z.object({
  contact: buyer,
  product: z.object({ name: z.string().min(1), amount: z.number().positive(), taxes: z.array(tax).optional() }),
  interval: z.enum(['day', 'week', 'month', 'year']).optional(),
  intervalCount: z.number().int().positive().optional(),
  currency: z.string().length(3).optional(),
  sourceName: z.string().optional(),
  liveMode: z.boolean().optional(),
  card: card.optional(),
});
const membershipActionBody = z.object({
  contact: buyer,
  offer: z.object({ name: z.string().min(1), amount: z.number().positive(), taxes: z.array(tax).optional() }),
  recurring: z
    .object({
      interval: z.enum(['day', 'week', 'month', 'year']),
      intervalCount: z.number().int().positive().optional(),
    })
    .optional(),
  currency: z.string().length(3).optional(),
  liveMode: z.boolean().optional(),
  card: card.optional(),
});
const calendarPaymentBody = z.object({
  contact: buyer,
  service: z.object({ name: z.string().min(1), amount: z.number().positive(), taxes: z.array(tax).optional() }),
  subType: z.enum(['service', 'meeting']).optional(),
  calendarName: z.string().optional(),
  currency: z.string().length(3).optional(),
  liveMode: z.boolean().optional(),
  card: card.optional(),
});
const subscriptionRenewBody = z.object({ advanceClock: z.boolean().optional() });
const transactionRefundBody = z.object({ amount: z.number().positive().optional() });
const contactActionBody = buyer.extend({ tags: z.array(z.string()).optional(), source: z.string().optional() });
const invoiceActionBody = z.object({
  contactId: z.string().optional(),
  contact: buyer.optional(),
  name: z.string().optional(),
  currency: z.string().length(3).optional(),
  issueDate: z.string().optional(),
  dueDate: z.string().optional(),
  items: z
    .array(
      z.object({
        name: z.string(),
        amount: z.number().min(0),
        qty: z.number().positive().optional(),
        productId: z.string().optional(),
        taxInclusive: z.boolean().optional(),
        taxes: z.array(tax).optional(),
      }),
    )
    .min(1),
  discount: z.object({ type: z.enum(['percentage', 'fixed']), value: z.number().min(0) }).optional(),
  send: z.boolean().optional(),
  liveMode: z.boolean().optional(),
});
const invoiceRecordPaymentBody = z.object({
  amount: z.number().positive().optional(),
  mode: z.enum(['cash', 'card', 'cheque', 'bank_transfer', 'other']).optional(),
});

export function registerCrmUserActions(
  ctx: HttpContext,
  admin: AdminRoute,
  locationOf: (request: FastifyRequest) => Location,
): void {
  const { core } = ctx;
  const source = (
    type: string,
    subType: string | undefined,
    name: string,
    meta?: Record<string, unknown>,
  ): PaymentSource => ({ type, subType, id: alphanumericId(), name, ...(meta ? { meta } : {}) });
  const checkoutResult = (r: ReturnType<typeof ctx.payments.checkout>): Record<string, unknown> => ({
    contactId: r.contact.id,
    orderId: r.order.id,
    transactionId: r.transaction.id,
    subscriptionId: r.subscription?.id ?? null,
    order: orderDetailJson(r.order, core.traceId()),
    transaction: transactionDetailJson(r.transaction, core.traceId()),
    subscription: r.subscription
      ? subscriptionDetailJson(r.subscription, ctx.payments.nextChargeAt(r.subscription), core.traceId())
      : null,
  });

  admin('POST', '/locations/:locationId/actions/order-form-payment', (request) => {
    const location = locationOf(request);
    const body = parse(orderFormPaymentBody, request.body);
    const type = body.sourceType ?? 'funnel';
    return checkoutResult(
      ctx.payments.checkout(location.id, {
        contact: body.contact,
        items: body.items,
        currency: body.currency,
        discount: body.discount,
        couponCode: body.couponCode,
        liveMode: body.liveMode,
        card: body.card,
        source: source(
          type,
          body.subType ?? (type === 'website' ? 'store' : 'two_step_order_form'),
          body.sourceName ?? (type === 'website' ? 'Online Store' : 'Sales Funnel'),
          { pageUrl: '/checkout', stepId: objectId() },
        ),
      }),
    );
  });

  admin('POST', '/locations/:locationId/actions/subscription', (request) => {
    const location = locationOf(request);
    const body = parse(subscriptionActionBody, request.body);
    return checkoutResult(
      ctx.payments.checkout(location.id, {
        contact: body.contact,
        currency: body.currency,
        liveMode: body.liveMode,
        card: body.card,
        items: [
          {
            name: body.product.name,
            amount: body.product.amount,
            taxes: body.product.taxes,
            recurring: { interval: body.interval ?? 'month', intervalCount: body.intervalCount ?? 1 },
          },
        ],
        source: source('funnel', 'one_step_order_form', body.sourceName ?? 'Subscription Funnel'),
      }),
    );
  });

  admin('POST', '/locations/:locationId/actions/membership', (request) => {
    const location = locationOf(request);
    const body = parse(membershipActionBody, request.body);
    return checkoutResult(
      ctx.payments.checkout(location.id, {
        contact: body.contact,
        currency: body.currency,
        liveMode: body.liveMode,
        card: body.card,
        items: [
          { name: body.offer.name, amount: body.offer.amount, taxes: body.offer.taxes, recurring: body.recurring },
        ],
        source: source('membership', body.recurring ? 'subscription_view' : undefined, body.offer.name),
      }),
    );
  });

  admin('POST', '/locations/:locationId/actions/calendar-payment', (request) => {
    const location = locationOf(request);
    const body = parse(calendarPaymentBody, request.body);
    return checkoutResult(
      ctx.payments.checkout(location.id, {
        contact: body.contact,
        currency: body.currency,
        liveMode: body.liveMode,
        card: body.card,
        items: [{ name: body.service.name, amount: body.service.amount, taxes: body.service.taxes }],
        source: source('calendar', body.subType ?? 'service', body.calendarName ?? 'Booking Calendar', {
          appointmentId: alphanumericId(),
        }),
      }),
    );
  });

  admin('POST', '/subscriptions/:subscriptionId/renew', (request) => {
    const sub = core.store.subscriptions.get(paramsOf(request).subscriptionId ?? '');
    if (!sub) throw notFound('Subscription not found');
    const body = parse(subscriptionRenewBody, request.body ?? {});
    const tx = ctx.payments.renew(sub, { advanceClock: body.advanceClock ?? false });
    return { transactionId: tx.id, transaction: transactionDetailJson(tx, core.traceId()) };
  });

  admin('POST', '/subscriptions/:subscriptionId/cancel', (request) => {
    const sub = core.store.subscriptions.get(paramsOf(request).subscriptionId ?? '');
    if (!sub) throw notFound('Subscription not found');
    ctx.payments.cancel(sub);
    return subscriptionDetailJson(sub, ctx.payments.nextChargeAt(sub), core.traceId());
  });

  admin('POST', '/transactions/:transactionId/refund', (request) => {
    const tx = core.store.transactions.get(paramsOf(request).transactionId ?? '');
    if (!tx) throw notFound('Transaction not found');
    const body = parse(transactionRefundBody, request.body ?? {});
    ctx.payments.refund(tx, body.amount);
    return transactionDetailJson(tx, core.traceId());
  });

  admin('POST', '/locations/:locationId/actions/contact', (request) => {
    const location = locationOf(request);
    const body = parse(contactActionBody, request.body);
    const contact = ctx.contacts.create(location.id, body, 'crm-user');
    return { contactId: contact.id, contact: contactJson(contact) };
  });

  admin('POST', '/locations/:locationId/actions/invoice', (request) => {
    const location = locationOf(request);
    const body = parse(invoiceActionBody, request.body);
    let contact = body.contactId ? core.store.contacts.get(body.contactId) : undefined;
    if (body.contactId && !contact) throw notFound('Contact not found');
    if (!contact) {
      if (!body.contact) throw badRequest('contactId or contact is required');
      contact = ctx.contacts.upsert(location.id, body.contact, 'crm-user').contact;
    }
    const currency = body.currency ?? location.currency;
    const today = core.clock.now().toISOString().slice(0, 10);
    const invoice = ctx.invoices.create(location, {
      altId: location.id,
      altType: 'location',
      name: body.name ?? 'Invoice',
      currency,
      contactDetails: {
        id: contact.id,
        name: [contact.firstName, contact.lastName].filter(Boolean).join(' '),
        email: contact.email ?? '',
        phoneNo: contact.phone ?? '',
      },
      issueDate: body.issueDate ?? today,
      dueDate: body.dueDate ?? body.issueDate ?? today,
      liveMode: body.liveMode ?? true,
      items: body.items.map((i) => ({
        name: i.name,
        amount: i.amount,
        qty: i.qty ?? 1,
        currency,
        productId: i.productId,
        taxInclusive: i.taxInclusive,
        taxes: (i.taxes ?? []).map((t) => ({ _id: t._id ?? objectId(), name: t.name, rate: t.rate })),
      })),
      discount: body.discount,
      sentTo: { email: contact.email ? [contact.email] : [] },
    });
    if (body.send) ctx.invoices.send(invoice, { action: 'email', userId: 'crm-user', liveMode: invoice.liveMode });
    return { invoiceId: invoice.id, invoice: invoiceJson(invoice) };
  });

  const invoiceOf = (request: FastifyRequest): Invoice => {
    const invoice = core.store.invoices.get(paramsOf(request).invoiceId ?? '');
    if (!invoice) throw notFound('Invoice not found');
    return invoice;
  };
  admin('POST', '/invoices/:invoiceId/send', (request) =>
    invoiceJson(ctx.invoices.send(invoiceOf(request), { action: 'email', userId: 'crm-user' })),
  );
  admin('POST', '/invoices/:invoiceId/void', (request) => invoiceJson(ctx.invoices.void(invoiceOf(request))));
  admin('POST', '/invoices/:invoiceId/start-online-payment', (request) =>
    invoiceJson(ctx.invoices.startOnlinePayment(invoiceOf(request))),
  );
  admin('POST', '/invoices/:invoiceId/fail-online-payment', (request) => {
    const { invoice, transaction } = ctx.invoices.failOnlinePayment(invoiceOf(request));
    return { transactionId: transaction.id, invoice: invoiceJson(invoice) };
  });
  admin('POST', '/invoices/:invoiceId/record-payment', (request) => {
    const body = parse(invoiceRecordPaymentBody, request.body ?? {});
    const { invoice, transaction } = ctx.invoices.recordPayment(
      invoiceOf(request),
      { mode: body.mode ?? 'card', amount: body.amount },
      'crm-user',
    );
    return { transactionId: transaction.id, invoice: invoiceJson(invoice) };
  });
}
