// Invoices (apps/invoices.json; Location-Access or Agency-Access; every call carries altId/altType).
import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import { badRequest } from '../errors.ts';
import { paramsOf, queryOf, type HttpContext } from '../http.ts';
import {
  createInvoiceSchema,
  INVOICE_NOT_FOUND,
  recordPaymentSchema,
  sendInvoiceSchema,
  updateInvoiceSchema,
} from '../invoices.ts';
import type { Invoice, Location } from '../model.ts';
import { contactFullName, invoiceJson } from '../serialize.ts';
import { parse } from '../validate.ts';

const READ = { scopes: ['invoices.readonly'], agency: true };
const WRITE = { scopes: ['invoices.write'], agency: true };

const altQuery = z.object({ altId: z.string().min(1), altType: z.literal('location') });

const text2payBody = createInvoiceSchema.extend({
  action: z.enum(['draft', 'send']),
  userId: z.string().min(1),
  id: z.string().optional(),
});

const invoiceListQuery = altQuery
  .extend({
    limit: z.string().regex(/^\d+$/, 'must be a number string'),
    offset: z.string().regex(/^\d+$/, 'must be a number string'),
    status: z.enum(['draft', 'sent', 'payment_processing', 'paid', 'void', 'partially_paid']).optional(),
    startAt: z.string().optional(),
    endAt: z.string().optional(),
    search: z.string().optional(),
    paymentMode: z.enum(['default', 'live', 'test']).optional(),
    contactId: z.string().optional(),
    sortField: z.literal('issueDate').optional(),
    sortOrder: z.enum(['ascend', 'descend']).optional(),
  })
  .loose();

export function registerInvoiceRoutes(ctx: HttpContext): void {
  const { core } = ctx;

  const invoiceOf = (request: FastifyRequest, altId: string): { invoice: Invoice; location: Location } => {
    const location = ctx.location(request, altId);
    const invoice = core.store.invoices.get(paramsOf(request).invoiceId ?? '');
    if (!invoice || invoice.locationId !== location.id) throw badRequest(INVOICE_NOT_FOUND);
    return { invoice, location };
  };

  ctx.route('GET', '/invoices/generate-invoice-number', READ, (request) => {
    const q = parse(altQuery, queryOf(request));
    const location = ctx.location(request, q.altId);
    return { invoiceNumber: ctx.invoices.nextNumber(location) };
  });

  ctx.route('GET', '/invoices/settings', READ, (request) => {
    const q = parse(altQuery, queryOf(request));
    const location = ctx.location(request, q.altId);
    return {
      altId: location.id,
      altType: 'location',
      termsNote: '',
      estimatesTermsNote: '',
      title: 'INVOICE',
      estimatesTitle: 'ESTIMATE',
      invoiceNumberPrefix: location.invoiceNumberPrefix,
      estimateNumberPrefix: 'EST-',
      dueAfterXDays: 30,
      estimatesExpireAfterXDays: 30,
      minimumPercentagePartialPayment: 0,
      customFields: [],
      businessDetails: {
        name: location.name,
        phoneNo: location.phone,
        website: location.website,
        address: {
          addressLine1: location.address,
          city: location.city,
          state: location.state,
          countryCode: location.country,
          postalCode: location.postalCode,
        },
      },
    };
  });

  // text2pay: create (or, with `id`, update) an invoice and optionally send it, in one call.
  ctx.route('POST', '/invoices/text2pay', { scopes: ['invoices.write'] }, (request) => {
    const body = parse(text2payBody, request.body);
    const location = ctx.location(request, body.altId);
    let invoice: Invoice;
    if (body.id) {
      const existing = core.store.invoices.get(body.id);
      if (!existing || existing.locationId !== location.id) throw badRequest(INVOICE_NOT_FOUND);
      invoice = ctx.invoices.update(existing, {
        ...body,
        dueDate: body.dueDate ?? existing.dueDate,
        invoiceItems: body.items,
      });
    } else {
      invoice = ctx.invoices.create(location, body);
    }
    if (body.action === 'send')
      ctx.invoices.send(invoice, { action: 'sms_and_email', userId: body.userId, liveMode: body.liveMode });
    return { invoice: invoiceJson(invoice), invoiceUrl: `${request.protocol}://${request.host}/invoice/${invoice.id}` };
  });

  ctx.route('POST', '/invoices/', WRITE, (request) => {
    const body = parse(createInvoiceSchema, request.body);
    const location = ctx.location(request, body.altId);
    return invoiceJson(ctx.invoices.create(location, body));
  });

  ctx.route('GET', '/invoices/', READ, (request) => {
    const q = parse(invoiceListQuery, queryOf(request));
    const location = ctx.location(request, q.altId);
    const search = q.search?.toLowerCase();
    const startAt = q.startAt?.slice(0, 10);
    const endAt = q.endAt?.slice(0, 10);
    const matched = [...core.store.invoices.ofLocation(location.id)].filter((inv) => {
      if (inv.locationId !== location.id) return false;
      if (q.status && inv.status !== q.status) return false;
      if (q.contactId && inv.contactDetails.id !== q.contactId) return false;
      if (q.paymentMode === 'live' && !inv.liveMode) return false;
      if (q.paymentMode === 'test' && inv.liveMode) return false;
      if (startAt && inv.issueDate < startAt) return false;
      if (endAt && inv.issueDate > endAt) return false;
      if (search) {
        const hay = [
          inv.id,
          inv.name,
          inv.invoiceNumber,
          inv.contactDetails.name,
          inv.contactDetails.email,
          inv.contactDetails.phoneNo,
        ]
          .join(' ')
          .toLowerCase();
        if (!hay.includes(search)) return false;
      }
      return true;
    });
    const dir = q.sortOrder === 'ascend' ? 1 : -1;
    matched.sort((a, b) =>
      a.issueDate === b.issueDate ? (a.createdAt - b.createdAt) * dir : a.issueDate < b.issueDate ? -dir : dir,
    );
    const offset = Number(q.offset);
    const limit = Number(q.limit);
    return { invoices: matched.slice(offset, offset + limit).map((inv) => invoiceJson(inv)), total: matched.length };
  });

  ctx.route('GET', '/invoices/:invoiceId', READ, (request) => {
    const q = parse(altQuery, queryOf(request));
    return invoiceJson(invoiceOf(request, q.altId).invoice);
  });

  ctx.route('PUT', '/invoices/:invoiceId', WRITE, (request) => {
    const body = parse(updateInvoiceSchema, request.body);
    const { invoice } = invoiceOf(request, body.altId);
    return invoiceJson(ctx.invoices.update(invoice, body));
  });

  ctx.route('DELETE', '/invoices/:invoiceId', WRITE, (request) => {
    const q = parse(altQuery, queryOf(request));
    return invoiceJson(ctx.invoices.delete(invoiceOf(request, q.altId).invoice));
  });

  ctx.route('POST', '/invoices/:invoiceId/send', WRITE, (request) => {
    const body = parse(sendInvoiceSchema, request.body);
    const { invoice } = invoiceOf(request, body.altId);
    ctx.invoices.send(invoice, body);
    const contact = core.store.contacts.get(invoice.contactDetails.id);
    return {
      invoice: invoiceJson(invoice),
      smsData: body.action === 'sms' || body.action === 'sms_and_email' ? { to: invoice.contactDetails.phoneNo } : {},
      emailData:
        body.action === 'email' || body.action === 'sms_and_email'
          ? { to: invoice.sentTo.email, name: contact ? contactFullName(contact) : invoice.contactDetails.name }
          : {},
    };
  });

  ctx.route('POST', '/invoices/:invoiceId/void', WRITE, (request) => {
    const body = parse(altQuery, request.body);
    const { invoice } = invoiceOf(request, body.altId);
    return invoiceJson(ctx.invoices.void(invoice));
  });

  ctx.route('POST', '/invoices/:invoiceId/record-payment', WRITE, (request) => {
    const body = parse(recordPaymentSchema, request.body);
    const { invoice } = invoiceOf(request, body.altId);
    ctx.invoices.recordPayment(invoice, body, ctx.grant(request).userId);
    return { success: true, invoice: invoiceJson(invoice) };
  });
}
