// The emulator's own API under /_emulator/ (not part of HighLevel): set up locations and tokens, configure the
// app's webhooks, act as a CRM user, inspect side effects, move the clock, inject faults. No auth: local tool.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { faultRuleSchema, parseFaultConfig } from '../common/faults.ts';
import { HighLevelError, badRequest, notFound } from './errors.ts';
import { paramsOf, queryOf, type HttpContext } from './http.ts';
import { locationJson } from './routes/locations.ts';
import { invoiceJson, orderDetailJson, subscriptionDetailJson, transactionDetailJson, contactJson } from './serialize.ts';
import { parse } from './validate.ts';
import type { Invoice, Location, PaymentSource } from './model.ts';
import { alphanumericId, objectId } from './ids.ts';

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
  amount: z.number().min(0),
  qty: z.number().positive().optional(),
  taxes: z.array(tax).optional(),
  recurring: z.object({ interval: z.enum(['day', 'week', 'month', 'year']), intervalCount: z.number().int().positive().optional() }).optional(),
});
const card = z.object({ brand: z.string(), last4: z.string() });

export interface AdminHooks {
  save: (file?: string) => Promise<string | null>;
}

export function registerAdminRoutes(ctx: HttpContext, hooks: AdminHooks): void {
  const { core, app } = ctx;
  const admin = (method: 'GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH', url: string, handler: (request: FastifyRequest) => unknown): void => {
    (app as FastifyInstance).route({ method, url: `/_emulator${url}`, handler: async (request) => handler(request) });
  };
  const locationOf = (request: FastifyRequest): Location => {
    const location = core.store.locations.get(paramsOf(request).locationId ?? '');
    if (!location) throw notFound('Location not found');
    return location;
  };

  admin('GET', '/health', () => ({ ok: true, locations: core.store.locations.size, now: core.clock.now().toISOString() }));

  // ---- locations, install ---------------------------------------------------------------------
  admin('POST', '/locations', (request) => {
    const body = parse(z.object({
      country: z.string().length(2),
      name: z.string().optional(),
      currency: z.string().length(3).optional(),
      timezone: z.string().optional(),
      email: z.string().optional(),
      allowDuplicateContact: z.boolean().optional(),
      duplicateMatchPriority: z.enum(['email', 'phone']).optional(),
      installed: z.boolean().optional(),
    }), request.body);
    const location = core.createLocation(body);
    return { locationId: location.id };
  });

  admin('GET', '/locations', () => ({
    locations: [...core.store.locations.values()].map((l) => ({ ...locationJson(l), currency: l.currency, installed: core.store.installs.has(l.id), duplicateMatchPriority: l.duplicateMatchPriority, invoiceNumberPrefix: l.invoiceNumberPrefix, nextInvoiceNumber: l.nextInvoiceNumber })),
  }));

  admin('PATCH', '/locations/:locationId', (request) => {
    const location = locationOf(request);
    const body = parse(z.object({
      name: z.string().optional(), currency: z.string().length(3).optional(), timezone: z.string().optional(),
      allowDuplicateContact: z.boolean().optional(), duplicateMatchPriority: z.enum(['email', 'phone']).optional(),
      invoiceNumberPrefix: z.string().max(10).optional(), nextInvoiceNumber: z.number().int().positive().optional(),
    }), request.body);
    if (body.name !== undefined) location.name = body.name;
    if (body.currency !== undefined) location.currency = body.currency.toUpperCase();
    if (body.timezone !== undefined) location.timezone = body.timezone;
    if (body.allowDuplicateContact !== undefined) location.allowDuplicateContact = body.allowDuplicateContact;
    if (body.duplicateMatchPriority !== undefined) location.duplicateMatchPriority = body.duplicateMatchPriority;
    if (body.invoiceNumberPrefix !== undefined) location.invoiceNumberPrefix = body.invoiceNumberPrefix;
    if (body.nextInvoiceNumber !== undefined) location.nextInvoiceNumber = body.nextInvoiceNumber;
    return { ...locationJson(location), currency: location.currency };
  });

  admin('POST', '/locations/:locationId/install', (request) => {
    const location = locationOf(request);
    core.store.installs.set(location.id, core.clock.now().toISOString());
    const company = core.store.companies.get(location.companyId);
    core.webhooks.emit('AppInstall', location.id, {
      appId: core.app.appId, companyId: location.companyId, userId: alphanumericId(), versionId: core.app.versionId, installType: 'Location',
      trial: {}, isWhitelabelCompany: false, whitelabelDetails: {}, companyName: company?.name ?? '',
    }, 'INSTALL');
    return { installed: true };
  });

  admin('POST', '/locations/:locationId/uninstall', (request) => {
    const location = locationOf(request);
    core.store.installs.delete(location.id);
    const revoked = ctx.auth.revokeWhere((g) => g.locationId === location.id && g.kind !== 'pit');
    core.webhooks.emit('AppUninstall', location.id, { appId: core.app.appId, companyId: location.companyId }, 'UNINSTALL');
    return { installed: false, revokedTokens: revoked };
  });

  // ---- tokens ---------------------------------------------------------------------------------
  admin('POST', '/tokens', (request) => {
    const body = parse(z.object({
      locationId: z.string().optional(),
      companyId: z.string().optional(),
      userType: z.enum(['Location', 'Company']).optional(),
      scopes: z.array(z.string()).optional(),
    }), request.body);
    const userType = body.userType ?? (body.locationId ? 'Location' : 'Company');
    if (userType === 'Location') {
      const location = core.store.locations.get(body.locationId ?? '');
      if (!location) throw notFound('Location not found');
      core.store.installs.set(location.id, core.store.installs.get(location.id) ?? core.clock.now().toISOString());
      const pair = ctx.auth.mint({ userType, companyId: location.companyId, locationId: location.id, scopes: body.scopes });
      return { access_token: pair.access.token, refresh_token: pair.refresh?.token, expires_in: 86_399, token_type: 'Bearer', locationId: location.id, companyId: location.companyId, userType, scope: pair.access.scopes.join(' '), userId: pair.access.userId };
    }
    const company = body.companyId ? core.store.companies.get(body.companyId) : core.defaultCompany();
    if (!company) throw notFound('Company not found');
    const approved = [...core.store.locations.values()].filter((l) => l.companyId === company.id).map((l) => l.id);
    const pair = ctx.auth.mint({ userType: 'Company', companyId: company.id, locationId: null, scopes: body.scopes, approvedLocations: approved });
    return { access_token: pair.access.token, refresh_token: pair.refresh?.token, expires_in: 86_399, token_type: 'Bearer', companyId: company.id, userType: 'Company', scope: pair.access.scopes.join(' '), userId: pair.access.userId };
  });

  admin('POST', '/private-integration-tokens', (request) => {
    const body = parse(z.object({ locationId: z.string().optional(), scopes: z.array(z.string()).optional() }), request.body);
    const location = body.locationId ? core.store.locations.get(body.locationId) : undefined;
    if (body.locationId && !location) throw notFound('Location not found');
    const grant = ctx.auth.mintPrivateIntegrationToken({ locationId: location?.id ?? null, companyId: location?.companyId ?? core.defaultCompany().id, scopes: body.scopes });
    return { token: grant.token, locationId: grant.locationId, scopes: grant.scopes };
  });

  admin('POST', '/tokens/revoke', (request) => {
    const body = parse(z.object({ token: z.string().optional(), locationId: z.string().optional(), all: z.boolean().optional() }), request.body);
    let revoked = 0;
    if (body.token) revoked += ctx.auth.revoke(body.token) ? 1 : 0;
    if (body.locationId) revoked += ctx.auth.revokeWhere((g) => g.locationId === body.locationId);
    if (body.all) revoked += ctx.auth.revokeWhere(() => true);
    return { revoked };
  });

  // ---- app & webhooks -------------------------------------------------------------------------
  const appView = (): Record<string, unknown> => ({
    appId: core.app.appId, clientId: core.app.clientId, clientSecret: core.app.clientSecret, versionId: core.app.versionId,
    webhookUrl: core.webhooks.config.url, signatures: { ed25519: core.webhooks.config.ed25519, rsa: core.webhooks.config.rsa },
    events: core.webhooks.config.events ? [...core.webhooks.config.events] : null,
  });
  admin('GET', '/app', appView);
  const configureApp = (request: FastifyRequest): Record<string, unknown> => {
    const body = parse(z.object({
      webhookUrl: z.url().nullable().optional(),
      signatures: z.object({ ed25519: z.boolean().optional(), rsa: z.boolean().optional() }).optional(),
      legacySignature: z.boolean().optional(),
      events: z.array(z.string()).nullable().optional(),
    }), request.body);
    if (body.webhookUrl !== undefined) core.webhooks.config.url = body.webhookUrl;
    if (body.signatures?.ed25519 !== undefined) core.webhooks.config.ed25519 = body.signatures.ed25519;
    if (body.signatures?.rsa !== undefined) core.webhooks.config.rsa = body.signatures.rsa;
    if (body.legacySignature !== undefined) core.webhooks.config.rsa = body.legacySignature;
    if (body.events !== undefined) core.webhooks.config.events = body.events === null ? null : new Set(body.events);
    return appView();
  };
  admin('POST', '/app', configureApp);
  admin('PUT', '/app', configureApp);

  app.get('/_emulator/webhook-public-key', async (_request, reply) => reply.type('application/x-pem-file').send(core.webhooks.ed25519PublicKeyPem()));
  app.get('/_emulator/webhook-public-key/rsa', async (_request, reply) => reply.type('application/x-pem-file').send(core.webhooks.rsaPublicKeyPem()));

  admin('GET', '/webhooks', (request) => {
    const q = queryOf(request);
    const events = core.webhooks.emitted.filter((e) => (!q.type || e.type === q.type) && (!q.locationId || e.locationId === q.locationId));
    return {
      events: events.map((e) => ({ type: e.type, locationId: e.locationId, webhookId: e.webhookId, timestamp: e.timestamp, payload: JSON.parse(e.body) as unknown, delivery: e.delivery ? { id: e.delivery.id, state: e.delivery.state, attempts: e.delivery.attempts, fault: e.delivery.fault } : null })),
      deliveries: core.webhooks.dispatcher.deliveries().map((d) => ({ id: d.id, url: d.url, label: d.label, state: d.state, attempts: d.attempts, fault: d.fault, createdAt: d.createdAt })),
    };
  });
  admin('POST', '/webhooks/flush', async () => {
    await core.webhooks.dispatcher.flush();
    return { flushed: true };
  });
  admin('DELETE', '/webhooks', () => {
    core.webhooks.emitted.length = 0;
    core.webhooks.dispatcher.clearLog();
    return { cleared: true };
  });

  // ---- acting as a CRM user -------------------------------------------------------------------
  const source = (type: string, subType: string | undefined, name: string, meta?: Record<string, unknown>): PaymentSource => ({ type, subType, id: alphanumericId(), name, ...(meta ? { meta } : {}) });
  const checkoutResult = (r: ReturnType<typeof ctx.payments.checkout>): Record<string, unknown> => ({
    contactId: r.contact.id,
    orderId: r.order.id,
    transactionId: r.transaction.id,
    subscriptionId: r.subscription?.id ?? null,
    order: orderDetailJson(r.order, core.traceId()),
    transaction: transactionDetailJson(r.transaction, core.traceId()),
    subscription: r.subscription ? subscriptionDetailJson(r.subscription, ctx.payments.nextChargeAt(r.subscription), core.traceId()) : null,
  });

  admin('POST', '/locations/:locationId/actions/order-form-payment', (request) => {
    const location = locationOf(request);
    const body = parse(z.object({
      contact: buyer, items: z.array(item).min(1), currency: z.string().length(3).optional(), discount: z.number().min(0).optional(), couponCode: z.string().optional(),
      sourceType: z.enum(['funnel', 'website']).optional(), subType: z.enum(['one_step_order_form', 'two_step_order_form', 'upsell', 'store']).optional(),
      sourceName: z.string().optional(), liveMode: z.boolean().optional(), card: card.optional(),
    }), request.body);
    const type = body.sourceType ?? 'funnel';
    return checkoutResult(ctx.payments.checkout(location.id, {
      contact: body.contact, items: body.items, currency: body.currency, discount: body.discount, couponCode: body.couponCode, liveMode: body.liveMode, card: body.card,
      source: source(type, body.subType ?? (type === 'website' ? 'store' : 'two_step_order_form'), body.sourceName ?? (type === 'website' ? 'Online Store' : 'Sales Funnel'), { pageUrl: '/checkout', stepId: objectId() }),
    }));
  });

  admin('POST', '/locations/:locationId/actions/subscription', (request) => {
    const location = locationOf(request);
    const body = parse(z.object({
      contact: buyer, product: z.object({ name: z.string().min(1), amount: z.number().positive(), taxes: z.array(tax).optional() }),
      interval: z.enum(['day', 'week', 'month', 'year']).optional(), intervalCount: z.number().int().positive().optional(),
      currency: z.string().length(3).optional(), sourceName: z.string().optional(), liveMode: z.boolean().optional(), card: card.optional(),
    }), request.body);
    return checkoutResult(ctx.payments.checkout(location.id, {
      contact: body.contact, currency: body.currency, liveMode: body.liveMode, card: body.card,
      items: [{ name: body.product.name, amount: body.product.amount, taxes: body.product.taxes, recurring: { interval: body.interval ?? 'month', intervalCount: body.intervalCount ?? 1 } }],
      source: source('funnel', 'one_step_order_form', body.sourceName ?? 'Subscription Funnel'),
    }));
  });

  admin('POST', '/locations/:locationId/actions/membership', (request) => {
    const location = locationOf(request);
    const body = parse(z.object({
      contact: buyer, offer: z.object({ name: z.string().min(1), amount: z.number().positive(), taxes: z.array(tax).optional() }),
      recurring: z.object({ interval: z.enum(['day', 'week', 'month', 'year']), intervalCount: z.number().int().positive().optional() }).optional(),
      currency: z.string().length(3).optional(), liveMode: z.boolean().optional(), card: card.optional(),
    }), request.body);
    return checkoutResult(ctx.payments.checkout(location.id, {
      contact: body.contact, currency: body.currency, liveMode: body.liveMode, card: body.card,
      items: [{ name: body.offer.name, amount: body.offer.amount, taxes: body.offer.taxes, recurring: body.recurring }],
      source: source('membership', body.recurring ? 'subscription_view' : undefined, body.offer.name),
    }));
  });

  admin('POST', '/locations/:locationId/actions/calendar-payment', (request) => {
    const location = locationOf(request);
    const body = parse(z.object({
      contact: buyer, service: z.object({ name: z.string().min(1), amount: z.number().positive(), taxes: z.array(tax).optional() }),
      subType: z.enum(['service', 'meeting']).optional(), calendarName: z.string().optional(),
      currency: z.string().length(3).optional(), liveMode: z.boolean().optional(), card: card.optional(),
    }), request.body);
    return checkoutResult(ctx.payments.checkout(location.id, {
      contact: body.contact, currency: body.currency, liveMode: body.liveMode, card: body.card,
      items: [{ name: body.service.name, amount: body.service.amount, taxes: body.service.taxes }],
      source: source('calendar', body.subType ?? 'service', body.calendarName ?? 'Booking Calendar', { appointmentId: alphanumericId() }),
    }));
  });

  admin('POST', '/subscriptions/:subscriptionId/renew', (request) => {
    const sub = core.store.subscriptions.get(paramsOf(request).subscriptionId ?? '');
    if (!sub) throw notFound('Subscription not found');
    const body = parse(z.object({ advanceClock: z.boolean().optional() }), request.body ?? {});
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
    const body = parse(z.object({ amount: z.number().positive().optional() }), request.body ?? {});
    ctx.payments.refund(tx, body.amount);
    return transactionDetailJson(tx, core.traceId());
  });

  admin('POST', '/locations/:locationId/actions/contact', (request) => {
    const location = locationOf(request);
    const body = parse(buyer.extend({ tags: z.array(z.string()).optional(), source: z.string().optional() }), request.body);
    const contact = ctx.contacts.create(location.id, body, 'crm-user');
    return { contactId: contact.id, contact: contactJson(contact) };
  });

  admin('POST', '/locations/:locationId/actions/invoice', (request) => {
    const location = locationOf(request);
    const body = parse(z.object({
      contactId: z.string().optional(), contact: buyer.optional(),
      name: z.string().optional(), currency: z.string().length(3).optional(), issueDate: z.string().optional(), dueDate: z.string().optional(),
      items: z.array(z.object({ name: z.string(), amount: z.number().min(0), qty: z.number().positive().optional(), productId: z.string().optional(), taxInclusive: z.boolean().optional(), taxes: z.array(tax).optional() })).min(1),
      discount: z.object({ type: z.enum(['percentage', 'fixed']), value: z.number().min(0) }).optional(),
      send: z.boolean().optional(), liveMode: z.boolean().optional(),
    }), request.body);
    let contact = body.contactId ? core.store.contacts.get(body.contactId) : undefined;
    if (body.contactId && !contact) throw notFound('Contact not found');
    if (!contact) {
      if (!body.contact) throw badRequest('contactId or contact is required');
      contact = ctx.contacts.upsert(location.id, body.contact, 'crm-user').contact;
    }
    const currency = body.currency ?? location.currency;
    const today = core.clock.now().toISOString().slice(0, 10);
    const invoice = ctx.invoices.create(location, {
      altId: location.id, altType: 'location', name: body.name ?? 'Invoice', currency,
      contactDetails: { id: contact.id, name: [contact.firstName, contact.lastName].filter(Boolean).join(' '), email: contact.email ?? '', phoneNo: contact.phone ?? '' },
      issueDate: body.issueDate ?? today, dueDate: body.dueDate ?? body.issueDate ?? today, liveMode: body.liveMode ?? true,
      items: body.items.map((i) => ({ name: i.name, amount: i.amount, qty: i.qty ?? 1, currency, productId: i.productId, taxInclusive: i.taxInclusive, taxes: (i.taxes ?? []).map((t) => ({ _id: t._id ?? objectId(), name: t.name, rate: t.rate })) })),
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
  admin('POST', '/invoices/:invoiceId/send', (request) => invoiceJson(ctx.invoices.send(invoiceOf(request), { action: 'email', userId: 'crm-user' })));
  admin('POST', '/invoices/:invoiceId/void', (request) => invoiceJson(ctx.invoices.void(invoiceOf(request))));
  admin('POST', '/invoices/:invoiceId/start-online-payment', (request) => invoiceJson(ctx.invoices.startOnlinePayment(invoiceOf(request))));
  admin('POST', '/invoices/:invoiceId/fail-online-payment', (request) => {
    const { invoice, transaction } = ctx.invoices.failOnlinePayment(invoiceOf(request));
    return { transactionId: transaction.id, invoice: invoiceJson(invoice) };
  });
  admin('POST', '/invoices/:invoiceId/record-payment', (request) => {
    const body = parse(z.object({ amount: z.number().positive().optional(), mode: z.enum(['cash', 'card', 'cheque', 'bank_transfer', 'other']).optional() }), request.body ?? {});
    const { invoice, transaction } = ctx.invoices.recordPayment(invoiceOf(request), { mode: body.mode ?? 'card', amount: body.amount }, 'crm-user');
    return { transactionId: transaction.id, invoice: invoiceJson(invoice) };
  });

  // ---- inspection, data, clock ----------------------------------------------------------------
  admin('GET', '/activity', (request) => {
    const q = queryOf(request);
    const keep = <T extends { locationId: string; contactId: string }>(list: T[]): T[] => list.filter((x) => (!q.locationId || x.locationId === q.locationId) && (!q.contactId || x.contactId === q.contactId));
    return { enrolments: keep(core.store.enrolments), messages: keep(core.store.messages), tagChanges: keep(core.store.tagChanges) };
  });

  admin('GET', '/data', () => core.store.snapshot());
  admin('POST', '/reset', () => {
    core.store.clear();
    core.webhooks.emitted.length = 0;
    core.webhooks.dispatcher.clearLog();
    core.faults.clear();
    core.burst.reset();
    core.daily.reset();
    return { reset: true };
  });
  admin('POST', '/save', async (request) => {
    const body = parse(z.object({ file: z.string().optional() }), request.body ?? {});
    const file = await hooks.save(body.file);
    if (!file) throw badRequest('No data file: start with --data FILE or pass {"file": "..."}');
    return { saved: file };
  });

  admin('GET', '/clock', () => ({ now: core.clock.now().toISOString(), factor: core.clock.factor }));
  admin('POST', '/clock/advance', (request) => {
    const body = parse(z.object({ ms: z.number().min(0).optional(), seconds: z.number().min(0).optional(), days: z.number().min(0).optional() }), request.body);
    core.clock.advance((body.ms ?? 0) + (body.seconds ?? 0) * 1000 + (body.days ?? 0) * 86_400_000);
    return { now: core.clock.now().toISOString() };
  });
  admin('POST', '/clock/factor', (request) => {
    const body = parse(z.object({ factor: z.number().positive() }), request.body);
    core.clock.factor = body.factor;
    return { factor: core.clock.factor };
  });

  // ---- faults and limits ----------------------------------------------------------------------
  const faultsView = (): Record<string, unknown> => ({ ...core.faults.config(), stats: core.faults.stats() });
  admin('GET', '/faults', faultsView);
  const replaceFaults = (request: FastifyRequest): Record<string, unknown> => {
    try {
      core.faults.configure(parseFaultConfig(request.body ?? {}));
    } catch (error) {
      throw new HighLevelError(422, { statusCode: 422, message: [error instanceof Error ? error.message : String(error)], error: 'Unprocessable Entity' });
    }
    return faultsView();
  };
  admin('POST', '/faults', replaceFaults);
  admin('PUT', '/faults', replaceFaults);
  admin('POST', '/faults/rules', (request) => {
    core.faults.addRule(parse(faultRuleSchema, request.body));
    return faultsView();
  });
  admin('DELETE', '/faults', () => {
    core.faults.clear();
    return faultsView();
  });

  admin('GET', '/rate-limits', () => ({ factor: core.limitFactor, lifted: core.limitsLifted, burst: core.burst.limit, daily: core.daily.limit }));
  admin('POST', '/rate-limits', (request) => {
    const body = parse(z.object({ factor: z.number().positive().optional(), lifted: z.boolean().optional() }), request.body);
    core.setLimitFactor(body.lifted ? Infinity : body.factor ?? 1);
    return { factor: core.limitFactor, lifted: core.limitsLifted, burst: core.burst.limit, daily: core.daily.limit };
  });

  admin('POST', '/search-lag', (request) => {
    core.searchLagMs = parse(z.object({ ms: z.number().int().min(0) }), request.body).ms;
    return { searchLagMs: core.searchLagMs };
  });

  admin('GET', '/stats', () => ({
    requests: core.requestCount,
    locations: core.store.locations.size, contacts: core.store.contacts.size, invoices: core.store.invoices.size,
    orders: core.store.orders.size, transactions: core.store.transactions.size, subscriptions: core.store.subscriptions.size,
    webhooks: core.webhooks.emitted.length, faults: core.faults.stats(),
  }));
}
