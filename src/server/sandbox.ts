// The sandbox panel, only when ledgerlink runs against the local emulators (the demo passes their URLs): act
// as a CRM user (take a payment through an order form, a subscription, a membership or a calendar booking; send
// an invoice of several lines with a discount and tax; record a part payment of a CRM invoice) or as a bookkeeper
// (record a whole or part payment of a QuickBooks invoice, add a QuickBooks customer) and watch the result arrive.
// Everything goes over HTTP to the emulators' admin and public APIs, exactly as a person or another tool would;
// src/ imports nothing from emulators/.
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { Engine } from '../sync/engine/engine.ts';
import { apiRoute, HttpProblem, notFound, type SessionLookup } from './apiRoute.ts';
import { currencyExponent, majorFromMinor, toMinorUnits } from '../domain/money.ts';

export interface SandboxOptions {
  quickbooksUrl: string;
  highlevelUrl: string;
}

const params = z.object({ id: z.string().min(1).max(100) });
/** A price in major units with at most two decimals (the sandbox's companies all use cents). */
const price = (max: number) =>
  z
    .number()
    .positive()
    .max(max)
    .refine((n) => Math.abs(Math.round(n * 100) - n * 100) < 1e-6, 'at most two decimals');
const contactSchema = z.object({
  firstName: z.string().trim().min(1).max(100),
  lastName: z.string().trim().max(100).default(''),
  email: z.email().max(200),
});
const lineSchema = z.object({
  item: z.string().trim().min(1).max(100),
  amount: price(1_000_000),
  qty: z.number().int().positive().max(1000).default(1),
});
const taxSchema = {
  taxName: z.string().trim().max(100).optional(),
  taxRate: z.number().min(0).max(100).optional(),
};
/** The ways HighLevel takes a payment, each its own admin action on the emulator (see its README). */
const PAYMENT_KINDS = ['order-form', 'subscription', 'membership', 'calendar'] as const;
const paymentBody = contactSchema.extend({
  kind: z.enum(PAYMENT_KINDS).default('order-form'),
  lines: z.array(lineSchema).min(1).max(10),
  /** An order form's coupon: a fixed amount off the whole order. */
  discount: price(1_000_000).optional(),
  ...taxSchema,
});
const invoiceBody = contactSchema.extend({
  lines: z.array(lineSchema).min(1).max(10),
  discount: z.object({ type: z.enum(['percentage', 'fixed']), value: z.number().positive().max(1_000_000) }).optional(),
  ...taxSchema,
});
const resultSchema = z.object({ message: z.string() });
const openInvoicesSchema = z.object({
  invoices: z.array(z.object({ id: z.string(), label: z.string(), balance: z.number() })),
});

export async function registerSandbox(
  app: FastifyInstance,
  { engine, lookup, sandbox }: { engine: Engine; lookup: SessionLookup; sandbox: SandboxOptions | undefined },
): Promise<void> {
  apiRoute(app, lookup, {
    method: 'GET',
    url: '/api/sandbox',
    summary: 'Whether the sandbox panel applies (running against the emulators)',
    tags: ['sandbox'],
    response: z.object({
      enabled: z.boolean(),
      quickbooksUrl: z.string().nullable(),
      highlevelUrl: z.string().nullable(),
    }),
    handler: async () => ({
      enabled: sandbox !== undefined,
      quickbooksUrl: sandbox?.quickbooksUrl ?? null,
      highlevelUrl: sandbox?.highlevelUrl ?? null,
    }),
  });

  const pair = async (id: string) => {
    if (!sandbox)
      throw new HttpProblem(404, 'no_sandbox', 'The sandbox exists only when running against the emulators');
    const connection = await engine.connections.get(id);
    if (!connection) throw notFound(`Connection ${id}`);
    if (!connection.qboRealmId || !connection.hlLocationId)
      throw new HttpProblem(409, 'not_connected', 'Connect both sides first');
    return {
      sandbox,
      realmId: connection.qboRealmId,
      locationId: connection.hlLocationId,
      currency: connection.qboHomeCurrency ?? 'USD',
    };
  };
  /** A major-unit amount, as the forms and both providers carry it, in exact minor units of `currency`. */
  const minorOf = (amount: number, currency: string): number => {
    const minor = toMinorUnits(amount, currency, { rounding: 'halfUp' });
    if (!minor.ok) throw new HttpProblem(400, 'invalid_request', minor.error.message);
    return minor.value;
  };

  const call = async <T>(
    url: string,
    init: { method: string; body?: unknown; token?: string; version?: string },
    schema: z.ZodType<T>,
  ): Promise<T> => {
    const response = await fetch(url, {
      method: init.method,
      headers: {
        accept: 'application/json',
        ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...(init.token ? { authorization: `Bearer ${init.token}` } : {}),
        ...(init.version ? { version: init.version } : {}),
      },
      ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
      signal: AbortSignal.timeout(15_000),
    });
    const json: unknown = await response.json().catch(() => undefined);
    if (!response.ok)
      throw new HttpProblem(
        502,
        'emulator_error',
        `The emulator answered ${response.status}: ${JSON.stringify(json).slice(0, 300)}`,
      );
    return schema.parse(json);
  };

  // The bookkeeper's side: the normal Accounting API with a token minted by the emulator's admin API.
  const quickbooks = async (s: SandboxOptions, realmId: string) => {
    const { access_token: token } = await call(
      `${s.quickbooksUrl}/_emulator/tokens`,
      { method: 'POST', body: { realmId } },
      z.looseObject({ access_token: z.string() }),
    );
    const base = `${s.quickbooksUrl}/v3/company/${encodeURIComponent(realmId)}`;
    return {
      query: <T>(sql: string, entity: string, schema: z.ZodType<T>) =>
        call(
          `${base}/query?${new URLSearchParams({ query: sql, minorversion: '75' })}`,
          { method: 'GET', token },
          z.looseObject({ QueryResponse: z.record(z.string(), z.unknown()) }),
        ).then((a) => z.array(schema).parse(a.QueryResponse[entity] ?? [])),
      create: <T>(entity: string, body: unknown, schema: z.ZodType<T>) =>
        call(
          `${base}/${entity.toLowerCase()}?minorversion=75`,
          { method: 'POST', body, token },
          z.looseObject({ [entity]: schema }),
        ).then((a) => a[entity] as T),
    };
  };

  const openInvoiceSchema = z.looseObject({
    Id: z.string(),
    DocNumber: z.string().optional(),
    TotalAmt: z.number(),
    Balance: z.number(),
    CustomerRef: z.looseObject({ value: z.string(), name: z.string().optional() }),
    TxnDate: z.string().optional(),
    CurrencyRef: z.looseObject({ value: z.string() }).optional(),
  });

  apiRoute(app, lookup, {
    method: 'POST',
    url: '/api/connections/:id/sandbox/take-payment',
    summary: 'Sandbox: a CRM customer pays through an order form, a subscription, a membership or a calendar booking',
    tags: ['sandbox'],
    params,
    body: paymentBody,
    response: resultSchema,
    handler: async ({ params: p, body }) => {
      const { sandbox: s, locationId, currency } = await pair(p.id);
      const [first, ...more] = body.lines;
      if (body.kind !== 'order-form' && (more.length > 0 || first!.qty !== 1)) {
        throw new HttpProblem(
          400,
          'invalid_request',
          `A ${KIND_NAMES[body.kind]} is for one product, once: use an order form for several lines or a quantity`,
        );
      }
      if (body.discount !== undefined && body.kind !== 'order-form')
        throw new HttpProblem(400, 'invalid_request', 'Only an order form takes a coupon discount');
      const subtotalMinor = body.lines.reduce((n, l) => n + minorOf(l.amount, currency) * l.qty, 0);
      if (body.discount !== undefined && minorOf(body.discount, currency) >= subtotalMinor)
        throw new HttpProblem(400, 'invalid_request', "The discount must be less than the order's lines add up to");
      const contact = { firstName: body.firstName, lastName: body.lastName, email: body.email };
      const taxes = taxesOf(body);
      const product = { name: first!.item, amount: first!.amount, ...(taxes ? { taxes } : {}) };
      const action = {
        'order-form': {
          path: 'order-form-payment',
          body: {
            contact,
            items: body.lines.map((l) => ({ name: l.item, amount: l.amount, qty: l.qty, ...(taxes ? { taxes } : {}) })),
            ...(body.discount !== undefined ? { discount: body.discount, couponCode: 'SANDBOX' } : {}),
          },
        },
        subscription: { path: 'subscription', body: { contact, product, interval: 'month' } },
        membership: { path: 'membership', body: { contact, offer: product } },
        calendar: {
          path: 'calendar-payment',
          body: { contact, service: product, subType: 'service', calendarName: 'Appointments' },
        },
      }[body.kind];
      const answer = await call(
        `${s.highlevelUrl}/_emulator/locations/${encodeURIComponent(locationId)}/actions/${action.path}`,
        { method: 'POST', body: action.body },
        z.looseObject({
          orderId: z.string().optional(),
          transaction: z.looseObject({ amount: z.number().optional() }).optional(),
        }),
      );
      const paid = answer.transaction?.amount;
      const what = body.lines.length === 1 ? `"${first!.item}"` : `${body.lines.length} lines`;
      return {
        message: `${body.firstName} paid${paid !== undefined ? ` ${paid}` : ''} for ${what} (${KIND_NAMES[body.kind]}${answer.orderId ? `, order ${answer.orderId}` : ''}) in the CRM: watch the sales receipt arrive in Activity`,
      };
    },
  });

  apiRoute(app, lookup, {
    method: 'POST',
    url: '/api/connections/:id/sandbox/send-invoice',
    summary: 'Sandbox: a CRM user sends an invoice of one or more lines, with a discount and tax if given',
    tags: ['sandbox'],
    params,
    body: invoiceBody,
    response: resultSchema,
    handler: async ({ params: p, body }) => {
      const { sandbox: s, locationId } = await pair(p.id);
      if (body.discount?.type === 'percentage' && body.discount.value >= 100)
        throw new HttpProblem(400, 'invalid_request', 'A percentage discount must be below 100');
      const taxes = taxesOf(body);
      const answer = await call(
        `${s.highlevelUrl}/_emulator/locations/${encodeURIComponent(locationId)}/actions/invoice`,
        {
          method: 'POST',
          body: {
            contact: { firstName: body.firstName, lastName: body.lastName, email: body.email },
            items: body.lines.map((l) => ({ name: l.item, amount: l.amount, qty: l.qty, ...(taxes ? { taxes } : {}) })),
            ...(body.discount ? { discount: body.discount } : {}),
            send: true,
          },
        },
        z.looseObject({
          invoice: z.looseObject({
            invoiceNumber: z.union([z.number(), z.string()]).optional(),
            total: z.number().optional(),
          }),
        }),
      );
      return {
        message: `Invoice ${answer.invoice.invoiceNumber ?? ''} for ${answer.invoice.total ?? ''} (${body.lines.length} line${body.lines.length === 1 ? '' : 's'}) was sent to ${body.firstName} in the CRM`,
      };
    },
  });

  // The CRM's own list of its invoices, read as ledgerlink reads it: the public API with a location token.
  const crmInvoiceSchema = z.looseObject({
    _id: z.string(),
    status: z.string(),
    invoiceNumber: z.union([z.number(), z.string()]).optional(),
    total: z.number(),
    amountDue: z.number(),
    contactDetails: z.looseObject({ name: z.string().optional() }).optional(),
  });
  const crmInvoices = async (s: SandboxOptions, locationId: string) => {
    const { access_token: token } = await call(
      `${s.highlevelUrl}/_emulator/tokens`,
      { method: 'POST', body: { locationId } },
      z.looseObject({ access_token: z.string() }),
    );
    const query = new URLSearchParams({ altId: locationId, altType: 'location', limit: '100', offset: '0' });
    const answer = await call(
      `${s.highlevelUrl}/invoices/?${query}`,
      { method: 'GET', token, version: '2021-07-28' },
      z.looseObject({ invoices: z.array(crmInvoiceSchema) }),
    );
    return answer.invoices;
  };

  apiRoute(app, lookup, {
    method: 'GET',
    url: '/api/connections/:id/sandbox/crm-open-invoices',
    summary: 'Sandbox: CRM invoices sent and not yet paid in full',
    tags: ['sandbox'],
    params,
    response: openInvoicesSchema,
    handler: async ({ params: p }) => {
      const { sandbox: s, locationId } = await pair(p.id);
      const invoices = (await crmInvoices(s, locationId)).filter(
        (i) => (i.status === 'sent' || i.status === 'partially_paid') && i.amountDue > 0,
      );
      return {
        invoices: invoices.map((i) => ({
          id: i._id,
          balance: i.amountDue,
          label: `No. ${i.invoiceNumber ?? i._id} — ${i.contactDetails?.name ?? ''}, ${i.amountDue} due of ${i.total}`,
        })),
      };
    },
  });

  apiRoute(app, lookup, {
    method: 'POST',
    url: '/api/connections/:id/sandbox/crm-invoice-payment',
    summary: 'Sandbox: a CRM user records a payment of a CRM invoice, all of its balance or a part',
    tags: ['sandbox'],
    params,
    body: z.object({ invoiceId: z.string().min(1).max(50), amount: price(1_000_000).optional() }),
    response: resultSchema,
    handler: async ({ params: p, body }) => {
      const { sandbox: s, locationId, currency } = await pair(p.id);
      const invoice = (await crmInvoices(s, locationId)).find((i) => i._id === body.invoiceId);
      if (!invoice) throw notFound(`CRM invoice ${body.invoiceId}`);
      if (invoice.amountDue <= 0)
        throw new HttpProblem(409, 'paid_already', `Invoice ${invoice.invoiceNumber ?? invoice._id} is paid already`);
      if (body.amount !== undefined && minorOf(body.amount, currency) > minorOf(invoice.amountDue, currency)) {
        throw new HttpProblem(
          400,
          'invalid_request',
          `Invoice ${invoice.invoiceNumber ?? invoice._id} has ${invoice.amountDue} left to pay: enter that much or less`,
        );
      }
      const amount = body.amount ?? invoice.amountDue;
      const answer = await call(
        `${s.highlevelUrl}/_emulator/invoices/${encodeURIComponent(invoice._id)}/record-payment`,
        { method: 'POST', body: { amount, mode: 'card' } },
        z.looseObject({ invoice: z.looseObject({ status: z.string(), amountDue: z.number() }) }),
      );
      return {
        message: `CRM invoice ${invoice.invoiceNumber ?? invoice._id}: ${amount} paid, ${answer.invoice.status === 'paid' ? 'paid in full' : `${answer.invoice.amountDue} still due`}: watch the payment arrive in Activity`,
      };
    },
  });

  apiRoute(app, lookup, {
    method: 'GET',
    url: '/api/connections/:id/sandbox/open-invoices',
    summary: 'Sandbox: QuickBooks invoices with a balance',
    tags: ['sandbox'],
    params,
    response: z.object({
      invoices: z.array(
        z.object({
          id: z.string(),
          label: z.string(),
          balance: z.number(),
          docNumber: z.string().nullable(),
          customer: z.string(),
          txnDate: z.string().nullable(),
          balanceMinor: z.number().nullable(),
          currency: z.string(),
          exponent: z.number(),
        }),
      ),
    }),
    handler: async ({ params: p }) => {
      const { sandbox: s, realmId, currency: home } = await pair(p.id);
      const qbo = await quickbooks(s, realmId);
      const invoices = await qbo.query(
        'SELECT * FROM Invoice ORDERBY TxnDate DESC MAXRESULTS 200',
        'Invoice',
        openInvoiceSchema,
      );
      return {
        invoices: invoices
          .filter((i) => i.Balance > 0)
          .map((i) => {
            const currency = i.CurrencyRef?.value ?? home;
            const balance = toMinorUnits(i.Balance, currency, { rounding: 'halfUp' });
            return {
              id: i.Id,
              balance: i.Balance,
              label: `No. ${i.DocNumber ?? i.Id} — ${i.CustomerRef.name ?? i.CustomerRef.value}, ${i.Balance} due${i.TxnDate ? ` (${i.TxnDate})` : ''}`,
              docNumber: i.DocNumber ?? null,
              customer: i.CustomerRef.name ?? i.CustomerRef.value,
              txnDate: i.TxnDate ?? null,
              balanceMinor: balance.ok ? balance.value : null,
              currency,
              exponent: currencyExponent(currency),
            };
          }),
      };
    },
  });

  apiRoute(app, lookup, {
    method: 'POST',
    url: '/api/connections/:id/sandbox/mark-invoice-paid',
    summary: 'Sandbox: the bookkeeper records a payment of a QuickBooks invoice, all of its balance or a part',
    tags: ['sandbox'],
    params,
    body: z.object({ invoiceId: z.string().min(1).max(50), amount: price(1_000_000).optional() }),
    response: resultSchema,
    handler: async ({ params: p, body }) => {
      const { sandbox: s, realmId, currency: home } = await pair(p.id);
      const qbo = await quickbooks(s, realmId);
      const [invoice] = await qbo.query(
        `SELECT * FROM Invoice WHERE Id = '${body.invoiceId.replace(/[^0-9A-Za-z-]/g, '')}'`,
        'Invoice',
        openInvoiceSchema,
      );
      if (!invoice) throw notFound(`QuickBooks invoice ${body.invoiceId}`);
      if (invoice.Balance <= 0)
        throw new HttpProblem(409, 'paid_already', `Invoice ${invoice.DocNumber ?? invoice.Id} is paid already`);
      const currency = invoice.CurrencyRef?.value ?? home;
      if (body.amount !== undefined && minorOf(body.amount, currency) > minorOf(invoice.Balance, currency)) {
        throw new HttpProblem(
          400,
          'invalid_request',
          `Invoice ${invoice.DocNumber ?? invoice.Id} has ${invoice.Balance} left to pay: enter that much or less`,
        );
      }
      const amount = body.amount ?? invoice.Balance;
      const payment = await qbo.create(
        'Payment',
        {
          CustomerRef: { value: invoice.CustomerRef.value },
          TotalAmt: amount,
          Line: [{ Amount: amount, LinkedTxn: [{ TxnId: invoice.Id, TxnType: 'Invoice' }] }],
        },
        z.looseObject({ Id: z.string() }),
      );
      const left = majorFromMinor(minorOf(invoice.Balance, currency) - minorOf(amount, currency), currency);
      return {
        message: `QuickBooks payment ${payment.Id} of ${amount} on invoice ${invoice.DocNumber ?? invoice.Id}: ${left === 0 ? 'paid in full' : `${left} still due`}`,
      };
    },
  });

  apiRoute(app, lookup, {
    method: 'POST',
    url: '/api/connections/:id/sandbox/add-customer',
    summary: 'Sandbox: the bookkeeper adds a QuickBooks customer',
    tags: ['sandbox'],
    params,
    body: z.object({ displayName: z.string().trim().min(1).max(100), email: z.email().max(100) }),
    response: resultSchema,
    handler: async ({ params: p, body }) => {
      const { sandbox: s, realmId } = await pair(p.id);
      const qbo = await quickbooks(s, realmId);
      const customer = await qbo.create(
        'Customer',
        { DisplayName: body.displayName, PrimaryEmailAddr: { Address: body.email } },
        z.looseObject({ Id: z.string() }),
      );
      return { message: `QuickBooks customer ${customer.Id} "${body.displayName}" was added` };
    },
  });
}

const KIND_NAMES: Record<(typeof PAYMENT_KINDS)[number], string> = {
  'order-form': 'order form',
  subscription: 'subscription, first month',
  membership: 'membership',
  calendar: 'calendar booking',
};

/** One tax on every line, as a CRM user picks it from the location's tax list; none without both name and rate. */
function taxesOf(body: { taxName?: string | undefined; taxRate?: number | undefined }) {
  return body.taxName && body.taxRate !== undefined ? [{ name: body.taxName, rate: body.taxRate }] : undefined;
}
