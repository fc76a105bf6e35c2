// The sandbox panel, only when ledgerlink runs against the local emulators (the demo passes their URLs): act
// as a CRM user (take a payment, send an invoice) or as a bookkeeper (mark a QuickBooks invoice paid, add a
// QuickBooks customer) and watch the result arrive. Everything goes over HTTP to the emulators' admin and
// public APIs, exactly as a person or another tool would; src/ imports nothing from emulators/.
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { Engine } from '../sync/engine.ts';
import { apiRoute, HttpProblem, notFound, type SessionLookup } from './apiRoute.ts';
import { currencyExponent, toMinorUnits } from '../domain/money.ts';

export interface SandboxOptions {
  quickbooksUrl: string;
  highlevelUrl: string;
}

const params = z.object({ id: z.string().min(1).max(100) });
const contactSchema = z.object({
  firstName: z.string().trim().min(1).max(100),
  lastName: z.string().trim().max(100).default(''),
  email: z.email().max(200),
});
const lineSchema = z.object({
  item: z.string().trim().min(1).max(100),
  amount: z.number().positive().max(1_000_000),
  taxName: z.string().trim().max(100).optional(),
  taxRate: z.number().min(0).max(100).optional(),
});
const crmActionBody = contactSchema.extend(lineSchema.shape);
const resultSchema = z.object({ message: z.string() });

export async function registerSandbox(app: FastifyInstance, { engine, lookup, sandbox }: { engine: Engine; lookup: SessionLookup; sandbox: SandboxOptions | undefined }): Promise<void> {
  apiRoute(app, lookup, {
    method: 'GET', url: '/api/sandbox', summary: 'Whether the sandbox panel applies (running against the emulators)', tags: ['sandbox'],
    response: z.object({ enabled: z.boolean(), quickbooksUrl: z.string().nullable(), highlevelUrl: z.string().nullable() }),
    handler: async () => ({ enabled: sandbox !== undefined, quickbooksUrl: sandbox?.quickbooksUrl ?? null, highlevelUrl: sandbox?.highlevelUrl ?? null }),
  });

  const pair = async (id: string) => {
    if (!sandbox) throw new HttpProblem(404, 'no_sandbox', 'The sandbox exists only when running against the emulators');
    const connection = await engine.connections.get(id);
    if (!connection) throw notFound(`Connection ${id}`);
    if (!connection.qboRealmId || !connection.hlLocationId) throw new HttpProblem(409, 'not_connected', 'Connect both sides first');
    return { sandbox, realmId: connection.qboRealmId, locationId: connection.hlLocationId };
  };

  const call = async <T>(url: string, init: { method: string; body?: unknown; token?: string }, schema: z.ZodType<T>): Promise<T> => {
    const response = await fetch(url, {
      method: init.method,
      headers: {
        accept: 'application/json',
        ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...(init.token ? { authorization: `Bearer ${init.token}` } : {}),
      },
      ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
      signal: AbortSignal.timeout(15_000),
    });
    const json: unknown = await response.json().catch(() => undefined);
    if (!response.ok) throw new HttpProblem(502, 'emulator_error', `The emulator answered ${response.status}: ${JSON.stringify(json).slice(0, 300)}`);
    return schema.parse(json);
  };

  // The bookkeeper's side: the normal Accounting API with a token minted by the emulator's admin API.
  const quickbooks = async (s: SandboxOptions, realmId: string) => {
    const { access_token: token } = await call(`${s.quickbooksUrl}/_emulator/tokens`, { method: 'POST', body: { realmId } }, z.looseObject({ access_token: z.string() }));
    const base = `${s.quickbooksUrl}/v3/company/${encodeURIComponent(realmId)}`;
    return {
      query: <T>(sql: string, entity: string, schema: z.ZodType<T>) =>
        call(`${base}/query?${new URLSearchParams({ query: sql, minorversion: '75' })}`, { method: 'GET', token }, z.looseObject({ QueryResponse: z.record(z.string(), z.unknown()) })).then(
          (a) => z.array(schema).parse(a.QueryResponse[entity] ?? []),
        ),
      create: <T>(entity: string, body: unknown, schema: z.ZodType<T>) =>
        call(`${base}/${entity.toLowerCase()}?minorversion=75`, { method: 'POST', body, token }, z.looseObject({ [entity]: schema })).then((a) => a[entity] as T),
    };
  };

  const openInvoiceSchema = z.looseObject({
    Id: z.string(), DocNumber: z.string().optional(), TotalAmt: z.number(), Balance: z.number(),
    CustomerRef: z.looseObject({ value: z.string(), name: z.string().optional() }), TxnDate: z.string().optional(),
    CurrencyRef: z.looseObject({ value: z.string() }).optional(),
  });

  apiRoute(app, lookup, {
    method: 'POST', url: '/api/connections/:id/sandbox/take-payment', summary: 'Sandbox: a CRM customer pays through an order form', tags: ['sandbox'],
    params, body: crmActionBody, response: resultSchema,
    handler: async ({ params: p, body }) => {
      const { sandbox: s, locationId } = await pair(p.id);
      const answer = await call(`${s.highlevelUrl}/_emulator/locations/${encodeURIComponent(locationId)}/actions/order-form-payment`, {
        method: 'POST',
        body: { contact: { firstName: body.firstName, lastName: body.lastName, email: body.email }, items: [crmItem(body)] },
      }, z.looseObject({}));
      const order = z.looseObject({ order: z.looseObject({ _id: z.string() }).optional() }).safeParse(answer);
      return { message: `${body.firstName} paid ${body.amount} for "${body.item}" in the CRM${order.success && order.data.order ? ` (order ${order.data.order._id})` : ''}: watch the sales receipt arrive in Activity` };
    },
  });

  apiRoute(app, lookup, {
    method: 'POST', url: '/api/connections/:id/sandbox/send-invoice', summary: 'Sandbox: a CRM user sends an invoice', tags: ['sandbox'],
    params, body: crmActionBody, response: resultSchema,
    handler: async ({ params: p, body }) => {
      const { sandbox: s, locationId } = await pair(p.id);
      await call(`${s.highlevelUrl}/_emulator/locations/${encodeURIComponent(locationId)}/actions/invoice`, {
        method: 'POST',
        body: { contact: { firstName: body.firstName, lastName: body.lastName, email: body.email }, items: [crmItem(body)], send: true },
      }, z.looseObject({}));
      return { message: `An invoice for "${body.item}" was sent to ${body.firstName} in the CRM` };
    },
  });

  apiRoute(app, lookup, {
    method: 'GET', url: '/api/connections/:id/sandbox/open-invoices', summary: 'Sandbox: QuickBooks invoices with a balance', tags: ['sandbox'],
    params,
    response: z.object({
      invoices: z.array(z.object({
        id: z.string(), label: z.string(), balance: z.number(),
        docNumber: z.string().nullable(), customer: z.string(), txnDate: z.string().nullable(),
        balanceMinor: z.number().nullable(), currency: z.string(), exponent: z.number(),
      })),
    }),
    handler: async ({ params: p }) => {
      const { sandbox: s, realmId } = await pair(p.id);
      const home = (await engine.connections.get(p.id))?.qboHomeCurrency ?? 'USD';
      const qbo = await quickbooks(s, realmId);
      const invoices = await qbo.query('SELECT * FROM Invoice ORDERBY TxnDate DESC MAXRESULTS 200', 'Invoice', openInvoiceSchema);
      return {
        invoices: invoices.filter((i) => i.Balance > 0).map((i) => {
          const currency = i.CurrencyRef?.value ?? home;
          const balance = toMinorUnits(i.Balance, currency, { rounding: 'halfUp' });
          return {
            id: i.Id, balance: i.Balance,
            label: `No. ${i.DocNumber ?? i.Id} — ${i.CustomerRef.name ?? i.CustomerRef.value}, ${i.Balance} due${i.TxnDate ? ` (${i.TxnDate})` : ''}`,
            docNumber: i.DocNumber ?? null, customer: i.CustomerRef.name ?? i.CustomerRef.value, txnDate: i.TxnDate ?? null,
            balanceMinor: balance.ok ? balance.value : null, currency, exponent: currencyExponent(currency),
          };
        }),
      };
    },
  });

  apiRoute(app, lookup, {
    method: 'POST', url: '/api/connections/:id/sandbox/mark-invoice-paid', summary: 'Sandbox: the bookkeeper records a payment of a QuickBooks invoice\'s whole balance', tags: ['sandbox'],
    params, body: z.object({ invoiceId: z.string().min(1).max(50) }), response: resultSchema,
    handler: async ({ params: p, body }) => {
      const { sandbox: s, realmId } = await pair(p.id);
      const qbo = await quickbooks(s, realmId);
      const [invoice] = await qbo.query(`SELECT * FROM Invoice WHERE Id = '${body.invoiceId.replace(/[^0-9A-Za-z-]/g, '')}'`, 'Invoice', openInvoiceSchema);
      if (!invoice) throw notFound(`QuickBooks invoice ${body.invoiceId}`);
      if (invoice.Balance <= 0) throw new HttpProblem(409, 'paid_already', `Invoice ${invoice.DocNumber ?? invoice.Id} is paid already`);
      const payment = await qbo.create('Payment', {
        CustomerRef: { value: invoice.CustomerRef.value },
        TotalAmt: invoice.Balance,
        Line: [{ Amount: invoice.Balance, LinkedTxn: [{ TxnId: invoice.Id, TxnType: 'Invoice' }] }],
      }, z.looseObject({ Id: z.string() }));
      return { message: `QuickBooks payment ${payment.Id} paid invoice ${invoice.DocNumber ?? invoice.Id} (${invoice.Balance})` };
    },
  });

  apiRoute(app, lookup, {
    method: 'POST', url: '/api/connections/:id/sandbox/add-customer', summary: 'Sandbox: the bookkeeper adds a QuickBooks customer', tags: ['sandbox'],
    params, body: z.object({ displayName: z.string().trim().min(1).max(100), email: z.email().max(100) }), response: resultSchema,
    handler: async ({ params: p, body }) => {
      const { sandbox: s, realmId } = await pair(p.id);
      const qbo = await quickbooks(s, realmId);
      const customer = await qbo.create('Customer', { DisplayName: body.displayName, PrimaryEmailAddr: { Address: body.email } }, z.looseObject({ Id: z.string() }));
      return { message: `QuickBooks customer ${customer.Id} "${body.displayName}" was added` };
    },
  });
}

function crmItem(body: z.infer<typeof lineSchema>) {
  return {
    name: body.item,
    amount: body.amount,
    ...(body.taxName && body.taxRate !== undefined ? { taxes: [{ name: body.taxName, rate: body.taxRate }] } : {}),
  };
}
