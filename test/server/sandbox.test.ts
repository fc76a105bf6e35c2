// The sandbox's API over real HTTP against both emulators: what it refuses before calling them, and what a part
// payment of a CRM invoice leaves on the CRM side. The browser test follows each action through to QuickBooks.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import { startStack, type Stack } from '../support/stack.ts';
import { buildServer } from '../../src/server/app.ts';
import { hashPassword } from '../../src/server/auth.ts';
import { createAdmin } from '../../src/store/sessions.ts';

const PASSWORD = 'correct horse battery staple';

describe('sandbox API', () => {
  let stack: Stack;
  let app: FastifyInstance;
  let url: string;
  let cookie: string;

  const call = async (method: string, path: string, body?: unknown) => {
    const response = await fetch(`${url}${path}`, {
      method,
      headers: { cookie, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    return { status: response.status, json: (await response.json()) as Record<string, unknown> & { message: string } };
  };
  const contact = { firstName: 'Ada', lastName: 'Lovelace', email: 'ada.sandbox@example.com' };

  before(async () => {
    stack = await startStack({ workers: false });
    // The server as the demo builds it: with the emulators' URLs, which turns the sandbox on.
    app = await buildServer(stack.engine, {
      dashboard: { sandbox: { quickbooksUrl: stack.qbo.url, highlevelUrl: stack.hl.url } },
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const address = app.server.address();
    url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    await createAdmin(stack.t.db, { username: 'admin', passwordHash: await hashPassword(PASSWORD) });
    const login = await fetch(`${url}/api/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'admin', password: PASSWORD }),
    });
    cookie = login.headers.get('set-cookie')!.split(';')[0]!;
  });

  after(async () => {
    await app?.close();
    await stack?.close();
  });

  const base = () => `/api/connections/${stack.connection.id}/sandbox`;

  it('refuses a subscription, membership or booking of several lines or a quantity, and a coupon on anything but an order form', async () => {
    for (const kind of ['subscription', 'membership', 'calendar']) {
      const several = await call('POST', `${base()}/take-payment`, {
        ...contact,
        kind,
        lines: [
          { item: 'A', amount: 10 },
          { item: 'B', amount: 5 },
        ],
      });
      assert.equal(several.status, 400, kind);
      assert.match(several.json.message, /one product, once: use an order form/);
      const quantity = await call('POST', `${base()}/take-payment`, {
        ...contact,
        kind,
        lines: [{ item: 'A', amount: 10, qty: 2 }],
      });
      assert.equal(quantity.status, 400, kind);
    }
    const coupon = await call('POST', `${base()}/take-payment`, {
      ...contact,
      kind: 'membership',
      lines: [{ item: 'Gold', amount: 10 }],
      discount: 1,
    });
    assert.equal(coupon.status, 400);
    assert.match(coupon.json.message, /Only an order form takes a coupon/);
  });

  it('refuses a coupon as large as the order, and a price with fractions of a cent', async () => {
    const whole = await call('POST', `${base()}/take-payment`, {
      ...contact,
      lines: [{ item: 'Mat', amount: 10, qty: 2 }],
      discount: 20,
    });
    assert.equal(whole.status, 400);
    assert.match(whole.json.message, /less than the order's lines add up to/);
    const fraction = await call('POST', `${base()}/take-payment`, {
      ...contact,
      lines: [{ item: 'Mat', amount: 10.005 }],
    });
    assert.equal(fraction.status, 400);
    assert.match(fraction.json.message, /at most two decimals/);
  });

  it('takes an order-form payment of several lines with a coupon as one order on the CRM side', async () => {
    const paid = await call('POST', `${base()}/take-payment`, {
      ...contact,
      lines: [
        { item: 'Yoga mat', amount: 35.25, qty: 2 },
        { item: 'Water bottle', amount: 12 },
      ],
      discount: 5,
    });
    assert.equal(paid.status, 200, paid.json.message);
    assert.match(paid.json.message, /Ada paid 77\.5 for 2 lines \(order form, order \S+\)/);
  });

  it('sends an invoice, then records part of it and refuses more than is left', async () => {
    const sent = await call('POST', `${base()}/send-invoice`, {
      ...contact,
      lines: [
        { item: 'Workshop', amount: 450, qty: 2 },
        { item: 'Book', amount: 25, qty: 3 },
      ],
      discount: { type: 'percentage', value: 10 },
    });
    assert.equal(sent.status, 200, sent.json.message);
    const [, number, total] = /Invoice (\S+) for ([0-9.]+) \(2 lines\)/.exec(sent.json.message)!;
    assert.equal(Number(total), 877.5); // (900 + 75) less 10 %: a US location, no tax

    const listed = await call('GET', `${base()}/crm-open-invoices`);
    const invoice = (listed.json.invoices as Array<{ id: string; label: string; balance: number }>).find((i) =>
      i.label.startsWith(`No. ${number} —`),
    )!;
    assert.equal(invoice.balance, 877.5);

    const tooMuch = await call('POST', `${base()}/crm-invoice-payment`, { invoiceId: invoice.id, amount: 900 });
    assert.equal(tooMuch.status, 400);
    assert.match(tooMuch.json.message, /has 877\.5 left to pay/);

    const part = await call('POST', `${base()}/crm-invoice-payment`, { invoiceId: invoice.id, amount: 300 });
    assert.equal(part.status, 200, part.json.message);
    assert.match(part.json.message, /300 paid, 577\.5 still due/);
    const rest = await call('POST', `${base()}/crm-invoice-payment`, { invoiceId: invoice.id });
    assert.match(rest.json.message, /577\.5 paid, paid in full/);
    const after = await call('GET', `${base()}/crm-open-invoices`);
    assert.equal(
      (after.json.invoices as Array<{ id: string }>).some((i) => i.id === invoice.id),
      false,
    );
  });
});
