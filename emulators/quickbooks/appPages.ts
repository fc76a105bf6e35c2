// Stand-ins for QuickBooks Online's web app at the paths its record links use (app.qbo.intuit.com/app/invoice?
// txnId=<Id>, /app/salesreceipt?txnId=, /app/customerdetail?nameId=...): with the emulator as the app's origin, a
// link from the dashboard opens this page, which shows the record as the emulator holds it. The real app shows the
// company the person is signed in to (its URLs carry no realm); the emulator has no sign-in, so it shows the record
// from each of its companies that has one with that Id, under the company's name. Plain HTML, not an API.
import type { FastifyInstance } from 'fastify';
import type { QuickBooksAdmin } from './admin.ts';
import type { EntityName } from './company.ts';

const PAGES: Record<string, { entity: EntityName; param: 'txnId' | 'nameId'; noun: string }> = {
  invoice: { entity: 'Invoice', param: 'txnId', noun: 'Invoice' },
  salesreceipt: { entity: 'SalesReceipt', param: 'txnId', noun: 'Sales receipt' },
  refundreceipt: { entity: 'RefundReceipt', param: 'txnId', noun: 'Refund receipt' },
  recvpayment: { entity: 'Payment', param: 'txnId', noun: 'Payment' },
  customerdetail: { entity: 'Customer', param: 'nameId', noun: 'Customer' },
};

const escapeHtml = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export function registerAppPages(app: FastifyInstance, admin: QuickBooksAdmin): void {
  app.get('/app/:page', async (request, reply) => {
    const { page } = request.params as { page: string };
    const spec = PAGES[page];
    const query = request.query as Record<string, string | undefined>;
    const id = spec ? query[spec.param] : undefined;
    if (!spec || !id)
      return reply
        .code(404)
        .type('text/html; charset=utf-8')
        .send('<!doctype html><title>Not found</title><p>No such page.</p>');
    const sections: string[] = [];
    for (const { realmId, name } of admin.listCompanies()) {
      const record = admin.company(realmId)?.get(spec.entity, id);
      if (!record) continue;
      const r = record as Record<string, unknown>;
      const ref = (v: unknown) =>
        v && typeof v === 'object'
          ? String((v as { name?: unknown; value?: unknown }).name ?? (v as { value?: unknown }).value ?? '')
          : '';
      const rows: Array<[string, string]> =
        spec.entity === 'Customer'
          ? [
              ['Display name', String(r.DisplayName ?? '')],
              ['Email', String((r.PrimaryEmailAddr as { Address?: unknown } | undefined)?.Address ?? '')],
              ['Balance', String(r.Balance ?? '')],
            ]
          : [
              ['No.', String(r.DocNumber ?? '')],
              ['Customer', ref(r.CustomerRef)],
              ['Date', String(r.TxnDate ?? '')],
              ['Total', String(r.TotalAmt ?? '')],
              ['Balance', String(r.Balance ?? '')],
              ['Currency', ref(r.CurrencyRef)],
            ];
      const title =
        spec.entity === 'Customer' ? String(r.DisplayName ?? id) : `${spec.noun} ${String(r.DocNumber ?? id)}`;
      sections.push(
        `<section><h2>${escapeHtml(name)}</h2><h3>${escapeHtml(title)}</h3><dl>` +
          rows
            .filter(([, v]) => v !== '')
            .map(([k, v]) => `<dt>${escapeHtml(k)}</dt><dd>${escapeHtml(v)}</dd>`)
            .join('') +
          `<dt>Id</dt><dd>${escapeHtml(id)}</dd></dl></section>`,
      );
    }
    return reply
      .code(sections.length ? 200 : 404)
      .type('text/html; charset=utf-8')
      .send(
        `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(spec.noun)} ${escapeHtml(id)}</title>` +
          '<style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem}dt{font-weight:600}dd{margin:0 0 .5rem}</style>' +
          `</head><body><p>QuickBooks Online emulator</p><h1>${escapeHtml(spec.noun)}</h1>${sections.join('') || '<p>No company has this record.</p>'}</body></html>`,
      );
  });
}
