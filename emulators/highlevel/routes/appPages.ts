// Stand-ins for HighLevel's web app at the paths its record links use (app.gohighlevel.com/v2/location/<id>/...):
// the dashboard links a contact or an invoice there, and with the emulator as the app's origin the link opens this
// page, which shows the record as the emulator holds it. Not an API: plain HTML, no token (the real app asks the
// person to sign in instead).
import type { FastifyReply } from 'fastify';
import type { HttpContext } from '../http.ts';

const escapeHtml = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function page(reply: FastifyReply, status: number, title: string, rows: Array<[string, string]>): FastifyReply {
  const body = rows.length
    ? `<dl>${rows.map(([k, v]) => `<dt>${escapeHtml(k)}</dt><dd>${escapeHtml(v)}</dd>`).join('')}</dl>`
    : '<p>Not found in this location.</p>';
  return reply
    .code(status)
    .type('text/html; charset=utf-8')
    .send(
      `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>` +
        '<style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem}dt{font-weight:600}dd{margin:0 0 .5rem}</style>' +
        `</head><body><p>HighLevel emulator</p><h1>${escapeHtml(title)}</h1>${body}</body></html>`,
    );
}

export function registerAppPages(ctx: HttpContext): void {
  const { store } = ctx.core;
  ctx.route('GET', '/v2/location/:locationId/contacts/detail/:contactId', { public: true }, (request, reply) => {
    const { locationId, contactId } = request.params as { locationId: string; contactId: string };
    const contact = store.contacts.get(contactId);
    if (!contact || contact.locationId !== locationId) return page(reply, 404, 'Contact not found', []);
    const name = contact.name ?? [contact.firstName, contact.lastName].filter(Boolean).join(' ');
    return page(reply, 200, `Contact ${name || contact.id}`, [
      ['Name', name],
      ['Email', contact.email ?? ''],
      ['Phone', contact.phone ?? ''],
      ['Company', contact.companyName ?? ''],
      ['Contact id', contact.id],
      ['Location', store.locations.get(locationId)?.name ?? locationId],
    ]);
  });
  ctx.route('GET', '/v2/location/:locationId/payments/invoices/edit/:invoiceId', { public: true }, (request, reply) => {
    const { locationId, invoiceId } = request.params as { locationId: string; invoiceId: string };
    const invoice = store.invoices.get(invoiceId);
    if (!invoice || invoice.locationId !== locationId) return page(reply, 404, 'Invoice not found', []);
    return page(reply, 200, `Invoice ${invoice.invoiceNumberPrefix ?? ''}${invoice.invoiceNumber}`, [
      ['Name', invoice.name],
      ['Status', invoice.status],
      ['Contact', `${invoice.contactDetails.name} <${invoice.contactDetails.email}>`],
      ['Currency', invoice.currency],
      ['Amount paid (minor units)', String(invoice.amountPaidMinor)],
      ['Invoice id', invoice.id],
      ['Location', store.locations.get(locationId)?.name ?? locationId],
    ]);
  });
}
