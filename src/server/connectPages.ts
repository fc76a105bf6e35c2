// The pages the OAuth round trips end on when there is something to say before going back to the dashboard: a
// company or a location another connection has (refused), and a reconnect to another company than before (asks).
// Plain server-rendered HTML with the dashboard's stylesheet and security headers; every value is escaped.
import type { FastifyReply } from 'fastify';
import type { AccountInUseError, Connection } from '../store/connections.ts';
import type { AuthorisedCompany } from '../sync/connections/oauthConnect.ts';
import { SECURITY_HEADERS } from './static.ts';

const escapeHtml = (value: string): string => value.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const connectionHref = (id: string) => `/#/connections/${encodeURIComponent(id)}`;

function sendPage(reply: FastifyReply, status: number, title: string, body: string) {
  return reply
    .code(status)
    .headers({ ...SECURITY_HEADERS, 'cache-control': 'no-store' })
    .type('text/html; charset=utf-8')
    .send(
      `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">` +
        `<title>${escapeHtml(title)}</title><link rel="icon" href="data:,"><link rel="stylesheet" href="/app.css"></head><body>` +
        `<header class="top"><a class="brand" href="/#/connections">ledgerlink</a></header>` +
        `<main id="main"><div class="card connect-page"><h1>${escapeHtml(title)}</h1>${body}</div></main></body></html>`,
    );
}

/** A company as a bookkeeper recognises it: its name, with the realm id when the name is not known. */
function companyLabel(name: string | null | undefined, realmId: string | null | undefined): string {
  return name
    ? `<strong>${escapeHtml(name)}</strong>`
    : `the company with realm id <strong>${escapeHtml(realmId ?? '?')}</strong>`;
}

/**
 * 409: the company (or location) chosen is another live connection's. Nothing of either connection was changed
 * (the check runs before the authorization code is exchanged).
 */
export function accountInUsePage(
  reply: FastifyReply,
  error: AccountInUseError,
  asking: Connection,
  holder: Connection | undefined,
) {
  const quickbooks = error.side === 'qbo';
  const what = quickbooks ? 'QuickBooks company' : 'HighLevel location';
  const chosen = quickbooks
    ? companyLabel(holder?.qboCompanyName, error.account)
    : `the location <strong>${escapeHtml(error.account)}</strong>`;
  const holderName = `<strong>${escapeHtml(error.holder.name)}</strong>`;
  const askingName = `<strong>${escapeHtml(asking.name)}</strong>`;
  return sendPage(
    reply,
    409,
    `This ${what} is already connected`,
    `<p>You chose ${chosen} for ${askingName}, but it is already connected to ${holderName}.</p>` +
      `<p>A ${what} belongs to one connection only.` +
      (quickbooks
        ? ' Intuit gives ledgerlink one authorisation per company: two connections on one company would share it, and disconnecting either would cut the other off.'
        : ' Two connections on one location would sync its records twice.') +
      '</p>' +
      `<p><strong>Nothing was changed</strong>: ${askingName} and ${holderName} are as they were.</p>` +
      '<h2>What to do</h2><ul>' +
      (quickbooks
        ? `<li>Connect QuickBooks again from ${askingName} and choose the company that belongs to it on Intuit's page.</li>` +
          `<li>If this company should move to ${askingName}, disconnect ${holderName} first, then connect again.</li>`
        : `<li>Install the app again from ${askingName} and choose its own location.</li>` +
          `<li>If this location should move to ${askingName}, disconnect ${holderName} first, then connect again.</li>`) +
      '</ul>' +
      `<p class="actions"><a href="${connectionHref(asking.id)}">Back to ${escapeHtml(asking.name)}</a> <a href="${connectionHref(error.holder.id)}">Open ${escapeHtml(error.holder.name)}</a></p>`,
  );
}

/** 200: the person chose another company than the connection had; the switch waits for their confirmation. */
export function confirmSwitchPage(
  reply: FastifyReply,
  input: {
    connection: Connection;
    company: AuthorisedCompany;
    token: string;
    links: number;
    holdsPreviousTokens: boolean;
    minutes: number;
  },
) {
  const { connection, company, token, links } = input;
  const before = companyLabel(connection.qboCompanyName, connection.qboRealmId);
  const after = companyLabel(company.name, company.realmId);
  const name = `<strong>${escapeHtml(connection.name)}</strong>`;
  const facts = (country: string | null, currency: string | null, realm: string | null) =>
    ` (${escapeHtml(country ?? '?')}, ${escapeHtml(currency ?? '?')}, realm id ${escapeHtml(realm ?? '?')})`;
  const taxModel = (country: string | null) => (country === 'US' ? 'US' : 'global');
  const action = `/api/connections/${encodeURIComponent(connection.id)}/quickbooks-switch`;
  const hidden = `<input type="hidden" name="switch" value="${escapeHtml(token)}">`;
  return sendPage(
    reply,
    200,
    `Switch ${connection.name} to another QuickBooks company?`,
    `<p>${name} was connected to ${before}${facts(connection.qboCountry, connection.qboHomeCurrency, connection.qboRealmId)}. ` +
      `On Intuit's page you chose ${after}${facts(company.country, company.homeCurrency, company.realmId)}.</p>` +
      '<h2>If you switch</h2><ul>' +
      `<li>Records created in HighLevel from now on sync to ${after}. Nothing that was sent to ${before} is copied, changed or deleted.</li>` +
      `<li>The ${links} ${links === 1 ? 'link' : 'links'} between HighLevel records and ${before}'s records are set aside: kept, but no longer followed ` +
      `(their QuickBooks ids mean other records, or nothing, in ${after}). If you connect ${before} again later, they are followed again.</li>` +
      `<li>${after}'s customers are brought into HighLevel as for a new connection (matched by email); tax code mappings and open errors of ${before} are set aside with the links.</li>` +
      (taxModel(connection.qboCountry) !== taxModel(company.country)
        ? `<li>Taxes are handled the ${taxModel(company.country) === 'US' ? 'US way (folded into line prices)' : 'global way (QuickBooks tax codes, mapped on the Tax codes tab)'} from now on.</li>`
        : '') +
      (input.holdsPreviousTokens
        ? `<li>ledgerlink's access to ${before} ends (QuickBooks shows it as disconnected there).</li>`
        : '') +
      '</ul>' +
      `<p>If you keep ${before}, nothing changes and ledgerlink gives back its access to ${after}. This choice expires in ${input.minutes} minutes.</p>` +
      `<form method="post" action="${escapeHtml(action)}" class="actions">${hidden}` +
      `<button type="submit" name="decision" value="confirm" class="danger">Switch to ${escapeHtml(company.name ?? company.realmId)}</button>` +
      `<button type="submit" name="decision" value="cancel" class="secondary">Keep ${escapeHtml(connection.qboCompanyName ?? connection.qboRealmId ?? 'the previous company')}</button>` +
      '</form>',
  );
}

/** 400: a confirmation this session was not shown, or one used or expired already. */
export function switchRefusedPage(reply: FastifyReply, connectionId: string) {
  return sendPage(
    reply,
    400,
    'This confirmation cannot be used',
    '<p>It was not shown to your dashboard session, or it was used already, or more than 15 minutes have passed. <strong>Nothing was changed.</strong></p>' +
      `<p><a href="${connectionHref(connectionId)}">Back to the connection</a>, and connect QuickBooks again if you still want another company.</p>`,
  );
}
