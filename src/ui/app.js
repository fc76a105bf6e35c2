// The ledgerlink dashboard: plain JavaScript over the JSON API (/api/openapi.json describes it). Pages are
// hash routes; every element is built with h() (text goes in as text nodes, never as HTML).
import { formatMoney, localeForCountry } from './format.js';

const main = document.getElementById('main');
const noticeBox = document.getElementById('notice');
const topNav = document.getElementById('top-nav');

// ---------- helpers ----------

function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on')) el.addEventListener(key.slice(2), value);
    else if (key === 'class') el.className = value;
    else if (value === true) el.setAttribute(key, '');
    else el.setAttribute(key, String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

// DOM append/replaceChildren would print null and arrays as text: these take children as h() does.
function fill(el, ...children) {
  el.replaceChildren(...h('div', {}, children).childNodes);
  return el;
}
function add(el, ...children) {
  el.append(...h('div', {}, children).childNodes);
  return el;
}

class ApiError extends Error {
  constructor(status, body) {
    super(body?.message ?? `HTTP ${status}`);
    this.status = status;
    /** A refused form: [{ field, message }], each shown next to its input (showFieldErrors). */
    this.fields = Array.isArray(body?.fields) ? body.fields : [];
  }
}

async function api(method, path, body) {
  const response = await fetch(path, {
    method,
    headers:
      body === undefined
        ? { accept: 'application/json' }
        : { accept: 'application/json', 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: 'same-origin',
  });
  const json = await response.json().catch(() => undefined);
  if (response.status === 401 && !path.startsWith('/api/auth/')) {
    go('/login');
    throw new ApiError(401, json);
  }
  if (!response.ok) throw new ApiError(response.status, json);
  return json;
}

function notify(text, kind = 'ok') {
  noticeBox.replaceChildren(
    h(
      'p',
      { class: `notice ${kind}` },
      text,
      ' ',
      h('button', { type: 'button', class: 'link', onclick: () => noticeBox.replaceChildren() }, 'Dismiss'),
    ),
  );
}

function go(route) {
  if (location.hash !== `#${route}`) location.hash = route;
  else render();
}

const dateTime = (iso) => (iso ? new Date(iso).toLocaleString() : '—');
const flowNames = {
  salesReceipts: 'Sales receipts',
  invoices: 'Invoices',
  customers: 'Customers',
  connection: 'Connection',
  mappings: 'Mappings',
  polling: 'Polling',
  contactImport: 'Contact import',
  invoiceImport: 'Invoice import',
  history: 'History',
  reviewRequests: 'Review requests',
  qboPayments: 'QuickBooks payments',
  webhooks: 'Webhooks',
  contacts: 'Contacts',
};
const flowName = (flow) => flowNames[flow] ?? flow;
const linkedNames = {
  customer: 'Linked customers',
  salesReceipt: 'Sales receipts',
  refundReceipt: 'Refund receipts',
  invoice: 'Invoices',
  payment: 'Invoice payments',
  qboPayment: 'QuickBooks payments recorded in the CRM',
  item: 'Items',
  importedInvoice: 'Imported invoices',
};
const statusText = {
  pending: 'Waiting for QuickBooks',
  connected: 'Connected',
  'token-expiring': 'Token expiring: reconnect soon',
  revoked: 'Revoked',
  paused: 'Paused',
  disconnected: 'Disconnected',
};

function page(title, ...children) {
  document.title = `${title} · ledgerlink`;
  fill(main, h('h1', {}, title), children);
  main.focus({ preventScroll: true });
}

function busy(button, work) {
  return async (event) => {
    event?.preventDefault?.();
    button.disabled = true;
    try {
      await work();
    } catch (error) {
      if (error.status !== 401) notify(error.message, 'error');
    } finally {
      button.disabled = false;
    }
  };
}

// ---------- routing ----------

let timer;
let cardTimer;
let auth = { setupNeeded: false, user: null };

async function render() {
  clearInterval(timer);
  clearInterval(cardTimer);
  const route = location.hash.replace(/^#/, '') || '/connections';
  try {
    auth = await api('GET', '/api/auth/state');
    topNav.hidden = !auth.user;
    if (!auth.user) return auth.setupNeeded ? renderSetup() : renderLogin();
    if (route === '/login') return go('/connections');
    const parts = route.split('/').filter(Boolean).map(decodeURIComponent);
    if (parts[0] === 'connections' && parts[1]) {
      // Awaited, so that a failure of the page's reads lands in the catch below.
      if (parts[2] === 'record') return await renderRecord(parts[1], parts[3], parts[4], parts[5]);
      return await renderConnection(parts[1], parts[2] ?? 'activity');
    }
    return await renderConnections();
  } catch (error) {
    // A 404 names what the address asked for: its words are not repeated back.
    if (error.status === 404)
      page(
        'Not found',
        h('p', {}, 'Nothing is at this address. ', h('a', { href: '#/connections' }, 'Back to the connections')),
      );
    else if (error.status !== 401) page('Something went wrong', h('p', { class: 'error' }, error.message));
  }
}

// ---------- login and setup ----------

function renderLogin() {
  const status = h('p', { role: 'alert', class: 'error' });
  const form = h(
    'form',
    { class: 'stack narrow', 'aria-describedby': 'login-help' },
    h(
      'p',
      { id: 'login-help' },
      'Log in with the admin account. ',
      h('span', { class: 'muted' }, 'The demo prints its user and password when it starts.'),
    ),
    h('label', { for: 'username' }, 'User name'),
    h('input', { id: 'username', name: 'username', autocomplete: 'username', required: true, value: 'admin' }),
    h('label', { for: 'password' }, 'Password'),
    h('input', {
      id: 'password',
      name: 'password',
      type: 'password',
      autocomplete: 'current-password',
      required: true,
    }),
    h('button', { type: 'submit' }, 'Log in'),
    status,
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    status.textContent = '';
    try {
      await api('POST', '/api/auth/login', { username: form.username.value, password: form.password.value });
      go('/connections');
    } catch (error) {
      status.textContent = error.message;
    }
  });
  page('Log in', form);
}

function renderSetup() {
  const status = h('p', { role: 'alert', class: 'error' });
  const form = h(
    'form',
    { class: 'stack narrow' },
    h('p', {}, 'No admin account exists yet. Create it now with the setup code printed in the server log.'),
    h('label', { for: 'setup-code' }, 'Setup code'),
    h('input', { id: 'setup-code', name: 'setupCode', required: true, autocomplete: 'one-time-code' }),
    h('label', { for: 'username' }, 'User name'),
    h('input', { id: 'username', name: 'username', required: true, value: 'admin', autocomplete: 'username' }),
    h('label', { for: 'password' }, 'Password (at least 10 characters)'),
    h('input', {
      id: 'password',
      name: 'password',
      type: 'password',
      minlength: 10,
      required: true,
      autocomplete: 'new-password',
    }),
    h('button', { type: 'submit' }, 'Create the admin account'),
    status,
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    try {
      await api('POST', '/api/auth/setup', {
        setupCode: form.setupCode.value,
        username: form.username.value,
        password: form.password.value,
      });
      go('/connections');
    } catch (error) {
      if (error.fields?.length) showFieldErrors(form, error);
      else status.textContent = error.message;
    }
  });
  page('Set up ledgerlink', form);
}

// ---------- connections ----------

function statusBadge(status) {
  return h('span', { class: `badge ${status}` }, statusText[status] ?? status);
}

const sideNames = { quickbooks: 'QuickBooks', highlevel: 'HighLevel' };

// A revoked connection's badge names the side(s) to reconnect, as the card's buttons do.
function connectionBadge(c) {
  const sides = c.needsReconnect ?? [];
  if (c.status !== 'revoked' || sides.length === 0) return statusBadge(c.status);
  return h('span', { class: 'badge revoked' }, `Needs ${sides.map((s) => sideNames[s]).join(' and ')} reconnect`);
}

async function renderConnections() {
  const [{ connections }, { refusals, sampleMinutes }] = await Promise.all([
    api('GET', '/api/connections'),
    api('GET', '/api/webhook-refusals'),
  ]);
  const add = h('button', { type: 'button' }, 'Add a connection (install on a HighLevel location)');
  add.addEventListener(
    'click',
    busy(add, async () => {
      const { authorizeUrl } = await api('POST', '/api/connections/connect-highlevel');
      location.assign(authorizeUrl);
    }),
  );
  page(
    'Connections',
    h('p', { class: 'muted' }, 'Each connection pairs one HighLevel location with one QuickBooks company.'),
    connections.length === 0
      ? h('p', {}, 'No connection yet.')
      : h(
          'ul',
          { class: 'cards' },
          connections.map((c) =>
            h(
              'li',
              { class: 'card' },
              h('h2', {}, h('a', { href: `#/connections/${encodeURIComponent(c.id)}` }, c.name)),
              h(
                'p',
                {},
                connectionBadge(c),
                c.counts.openErrors
                  ? h(
                      'span',
                      { class: 'badge error' },
                      `${c.counts.openErrors} open error${c.counts.openErrors === 1 ? '' : 's'}`,
                    )
                  : null,
                failingSideBadges(c),
              ),
              h(
                'dl',
                { class: 'facts' },
                h('dt', {}, 'QuickBooks'),
                h('dd', {}, quickbooksCompanyText(c)),
                h('dt', {}, 'HighLevel'),
                h('dd', {}, highLevelLocationText(c)),
                h('dt', {}, 'Connected since'),
                h('dd', {}, dateTime(c.connectedAt)),
              ),
            ),
          ),
        ),
    add,
    refusals.length
      ? h(
          'details',
          { class: 'refusals', id: 'webhook-refusals' },
          h('summary', {}, `Refused webhooks: ${refusals.reduce((n, r) => n + r.count, 0)}`),
          h(
            'p',
            { class: 'muted' },
            `Webhooks without a valid signature are refused, counted per reason and never stored; the activity list shows at most one per reason every ${sampleMinutes} minutes.`,
          ),
          h(
            'ul',
            {},
            refusals.map((r) =>
              h(
                'li',
                {},
                `${r.provider === 'quickbooks' ? 'QuickBooks' : 'HighLevel'}: ${r.reason} — ${r.count} since ${dateTime(r.firstSeenAt)}, last ${dateTime(r.lastSeenAt)}`,
              ),
            ),
          ),
        )
      : null,
  );
}

// While the import of old invoices runs, its progress bar on the card is updated in place every 2 s (the rest of
// the card, and whatever has the focus in it, stays as it is), until the import finishes or is turned off.
function followImport(card, id) {
  const label = 'Old-invoice import';
  const until = Date.now() + 30 * 60_000;
  const timer = setInterval(async () => {
    if (!card.isConnected || Date.now() > until) return clearInterval(timer);
    if (document.hidden) return;
    const c = await api('GET', `/api/connections/${encodeURIComponent(id)}`).catch(() => null);
    const value = c?.progress.invoiceImport;
    if (value) {
      const fresh = progressBar(label, value);
      const shown = card.querySelector(`#p-${label.replace(/\W+/g, '-')}`)?.closest('.progress');
      if (shown) shown.replaceWith(fresh);
      else ([...card.querySelectorAll('.progress')].pop() ?? card.querySelector('dl.facts'))?.after(fresh);
    }
    if (c && (!c.importOldInvoices || (value && value.done >= value.total))) clearInterval(timer);
  }, 2000);
}

// History from a chosen date (src/sync/flows/history.ts): a dry run lists what a backfill would write; Start runs it,
// its progress bar updated in place every 2 s like the import's; a backfill under way can be cancelled.
const HISTORY_LABEL = 'History backfill';
const RUN_WORDS = { waiting: 'waiting to start', running: 'under way', finished: 'finished', cancelled: 'cancelled' };

const plural = (n, one, many) => `${n} ${n === 1 ? one : many}`;

// "3 payments ($202.50)": the count, and the exact total of each currency.
function historyTotals(totals, one, many) {
  const sums = Object.entries(totals.byCurrency).map(([currency, minor]) => formatMoney(minor, currency));
  return `${plural(totals.count, one, many)}${sums.length ? ` (${sums.join(', ')})` : ''}`;
}

function historyRunText(run) {
  const ended = run.finishedAt ?? run.cancelledAt;
  return `From ${run.from}: ${RUN_WORDS[run.state]}${ended ? ` on ${dateTime(ended)}` : ''}. ${plural(run.payments, 'payment', 'payments')} and ${plural(run.invoices, 'invoice', 'invoices')} written, ${run.skipped} skipped, ${run.failed} failed${run.failed ? ' (each is an open error below)' : ''}.`;
}

function historySection(c, refresh) {
  const base = `/api/connections/${encodeURIComponent(c.id)}/history`;
  const history = c.history;
  const run = history.run;
  const underWay = run && (run.state === 'running' || run.state === 'waiting');
  const connectedDay = c.connectedAt ? c.connectedAt.slice(0, 10) : '';
  const section = h('fieldset', { id: 'history', class: 'history' }, h('legend', {}, 'History from a date'));
  add(
    section,
    h(
      'p',
      { class: 'muted' },
      history.syncStart
        ? `CRM payments and sent invoices are synced from ${history.syncStart}.`
        : `Only CRM payments and invoices made since the connection (${connectedDay}) are synced. Choose a day to bring earlier ones into QuickBooks: a dry run shows what would be written first.`,
    ),
  );
  if (run)
    add(
      section,
      progressBar(HISTORY_LABEL, { done: run.done, total: run.total }),
      h('p', { id: 'history-run' }, historyRunText(run)),
    );
  if (underWay) {
    const cancel = h('button', { type: 'button', class: 'danger', id: 'history-cancel' }, 'Cancel backfill');
    cancel.addEventListener(
      'click',
      busy(cancel, async () => {
        if (!window.confirm('Cancel the backfill? What it wrote stays in QuickBooks; the rest stays out.')) return;
        await api('DELETE', base);
        notify('History backfill cancelled');
        await refresh();
      }),
    );
    add(section, h('div', { class: 'actions' }, cancel));
    followHistory(section, c.id, refresh);
    return section;
  }
  const input = h('input', {
    type: 'date',
    id: 'history-from',
    name: 'from',
    required: true,
    max: connectedDay,
    value: history.dryRun?.from ?? '',
  });
  const dryRunButton = h('button', { type: 'submit', id: 'history-dry-run' }, 'Dry run');
  const form = h(
    'form',
    { class: 'inline' },
    h('label', { for: 'history-from' }, 'Bring history from'),
    input,
    dryRunButton,
  );
  form.addEventListener(
    'submit',
    busy(dryRunButton, async () => {
      await api('POST', `${base}/dry-run`, { from: input.value });
      await refresh();
    }),
  );
  add(section, form);
  const plan = history.dryRun;
  if (plan) {
    const start = h('button', { type: 'button', id: 'history-start' }, 'Start');
    start.addEventListener(
      'click',
      busy(start, async () => {
        await api('POST', base, { from: plan.from });
        notify(`Bringing history from ${plan.from} into QuickBooks: the progress shows on this card`);
        await refresh();
      }),
    );
    add(
      section,
      h(
        'div',
        { id: 'history-dry-run-result', class: 'dry-run' },
        h(
          'p',
          {},
          h('strong', {}, `Dry run from ${plan.from}: `),
          `would write ${historyTotals(plan.payments, 'payment', 'payments')} as sales receipts, and ${historyTotals(plan.invoices, 'sent invoice', 'sent invoices')} as QuickBooks invoices. Nothing has been written yet.`,
        ),
        plan.sample.length
          ? h(
              'table',
              { class: 'sample' },
              h('caption', {}, `The first ${plan.sample.length}`),
              h(
                'thead',
                {},
                h('tr', {}, h('th', {}, 'Date'), h('th', {}, 'Record'), h('th', {}, 'Name'), h('th', {}, 'Amount')),
              ),
              h(
                'tbody',
                {},
                plan.sample.map((r) =>
                  h(
                    'tr',
                    {},
                    h('td', {}, r.date),
                    h('td', {}, r.kind === 'payment' ? 'Payment' : 'Invoice'),
                    h('td', {}, r.name),
                    h('td', { class: 'amount' }, formatMoney(r.amountMinor, r.currency)),
                  ),
                ),
              ),
            )
          : null,
        plan.payments.count + plan.invoices.count > 0
          ? h('div', { class: 'actions' }, start)
          : h('p', { class: 'muted' }, 'Nothing to bring: every record of that period is in QuickBooks already.'),
      ),
    );
  }
  return section;
}

// While a backfill runs, its bar and its line are replaced every 2 s; once it ends, the card is drawn again.
function followHistory(section, id, refresh) {
  const timer = setInterval(async () => {
    if (!section.isConnected) return clearInterval(timer);
    if (document.hidden) return;
    const c = await api('GET', `/api/connections/${encodeURIComponent(id)}`).catch(() => null);
    const run = c?.history.run;
    if (!run) return;
    if (run.state !== 'running' && run.state !== 'waiting') {
      clearInterval(timer);
      await refresh();
      return;
    }
    section.querySelector('.progress')?.replaceWith(progressBar(HISTORY_LABEL, { done: run.done, total: run.total }));
    const line = section.querySelector('#history-run');
    if (line) line.textContent = historyRunText(run);
  }, 2000);
}

function progressBar(label, value) {
  if (!value) return null;
  const id = `p-${label.replace(/\W+/g, '-')}`;
  return h(
    'div',
    { class: 'progress' },
    h('label', { for: id }, `${label}: ${value.done} of ${value.total}`),
    h('progress', { id, max: Math.max(value.total, 1), value: value.done }, `${value.done} of ${value.total}`),
  );
}

// How review requests are sent: a direct text/email (works on any location), one of the location's own workflows
// (a new location has none), or a tag a workflow starts on. `data` is GET /review-requests.
function reviewRequestChooser(data) {
  const current = data.mechanism;
  const workflows = data.workflows ?? [];
  const radio = (value, label, disabled) =>
    h(
      'div',
      { class: 'check' },
      h('input', {
        type: 'radio',
        name: 'rr-method',
        id: `rr-${value}`,
        value,
        checked: current.method === value && !disabled,
        disabled,
      }),
      h('label', { for: `rr-${value}` }, label),
    );
  const channel = h(
    'select',
    { id: 'rr-channel' },
    [
      ['auto', 'SMS, or email when the contact has no phone'],
      ['SMS', 'SMS only'],
      ['Email', 'Email only'],
    ].map(([v, t]) => h('option', { value: v, selected: (current.channel ?? 'auto') === v }, t)),
  );
  const link = h('input', {
    id: 'rr-link',
    type: 'url',
    placeholder: 'https://g.page/r/…/review',
    value: current.reviewLink ?? '',
  });
  const workflow = h(
    'select',
    { id: 'rr-workflow', disabled: workflows.length === 0 },
    workflows.length
      ? workflows.map((w) =>
          h(
            'option',
            { value: w.id, selected: w.id === current.workflowId },
            `${w.name}${w.status === 'draft' ? ' (draft: HighLevel may not run it until published)' : ''}`,
          ),
        )
      : h('option', { value: '' }, 'No workflow on this location'),
  );
  const tag = h('input', { id: 'rr-tag', value: current.tag ?? 'review request', maxlength: 100 });
  const noWorkflows =
    data.workflowsError ??
    (workflows.length
      ? null
      : 'This location has no workflows yet: build one in HighLevel (Automation > Workflows) to use it here, or keep the text/email.');
  const element = h(
    'fieldset',
    { class: 'stack', id: 'review-request-method' },
    h('legend', {}, 'How to ask for a review'),
    radio('message', 'A text or email from ledgerlink (works on any location, no setup)'),
    h(
      'div',
      { class: 'indent stack' },
      h('label', { for: 'rr-channel' }, 'Channel'),
      channel,
      h('label', { for: 'rr-link' }, 'Your review page link (optional; without it the message asks for a reply)'),
      link,
    ),
    radio('workflow', "Enrol the contact in one of this location's HighLevel workflows", workflows.length === 0),
    h(
      'div',
      { class: 'indent stack' },
      h('label', { for: 'rr-workflow' }, 'Workflow'),
      workflow,
      noWorkflows ? h('p', { class: 'muted small' }, noWorkflows) : null,
    ),
    radio('tag', 'Add a tag to the contact (a workflow that starts on this tag sends the request)'),
    h('div', { class: 'indent stack' }, h('label', { for: 'rr-tag' }, 'Tag'), tag),
  );
  const value = () => {
    const method = element.querySelector('input[name="rr-method"]:checked')?.value ?? 'message';
    if (method === 'workflow') {
      if (!workflow.value) throw new Error('Choose a workflow, or another way to ask');
      return { method, workflowId: workflow.value };
    }
    if (method === 'tag') return { method, tag: tag.value.trim() || 'review request' };
    if (link.value.trim() && !link.checkValidity()) throw new Error('The review page link is not a web address');
    return {
      method: 'message',
      channel: channel.value,
      ...(link.value.trim() ? { reviewLink: link.value.trim() } : {}),
    };
  };
  return { element, value };
}

// What each connection toggle does, shown beside it where it is chosen (before connecting), so nobody has to
// connect to find out.
const TOGGLE_HELP = {
  importOldInvoices:
    'Right after connecting, every invoice already in QuickBooks is copied once into the CRM with its number, lines, totals and status, as history: later edits to these copies never go back to QuickBooks.',
  paymentsFromQuickBooks:
    'A payment the bookkeeper records in QuickBooks (a cheque, a transfer, a credit applied) against an invoice that came from the CRM is recorded on the CRM invoice, which then shows as paid and stops its reminders. Applies to payments recorded from the moment it is on.',
  reviewRequests:
    "When a customer's first QuickBooks invoice is paid in full, the CRM asks them for a review, once per customer, in the way chosen below. Later invoices never send one.",
};

function toggleWithHelp(id, name, checked, label, help) {
  return h(
    'div',
    { class: 'check toggle' },
    h('input', { type: 'checkbox', id, name, checked, 'aria-describedby': `${id}-help` }),
    h('div', {}, h('label', { for: id }, label), h('p', { class: 'muted small help', id: `${id}-help` }, help)),
  );
}

function integrationCard(c, refresh) {
  const card = h('section', { class: 'card integration', 'aria-labelledby': 'card-title' });
  const title = h('h2', { id: 'card-title' }, 'Integration');
  const connectForm = () => {
    const form = h(
      'form',
      { class: 'stack', 'aria-label': 'Connect QuickBooks' },
      h(
        'p',
        {},
        c.quickbooks
          ? 'Reconnect the QuickBooks company (history is kept).'
          : 'Choose what to do, then connect the QuickBooks company.',
      ),
      toggleWithHelp(
        'import-old',
        'importOldInvoices',
        c.importOldInvoices,
        'Import old invoices from QuickBooks into the CRM (once)',
        TOGGLE_HELP.importOldInvoices,
      ),
      toggleWithHelp(
        'review-requests',
        'reviewRequests',
        c.reviewRequests,
        'Send review requests when a first invoice is paid in full',
        TOGGLE_HELP.reviewRequests,
      ),
      h('div', { id: 'review-request-choice' }),
      toggleWithHelp(
        'payments-from-qbo',
        'paymentsFromQuickBooks',
        c.paymentsFromQuickBooks,
        'Record QuickBooks payments on CRM invoices',
        TOGGLE_HELP.paymentsFromQuickBooks,
      ),
      c.quickbooks
        ? null
        : h(
            'div',
            { class: 'stack' },
            h('label', { for: 'connect-history-from' }, 'Also bring history from (optional)'),
            h('input', {
              type: 'date',
              id: 'connect-history-from',
              name: 'historyFrom',
              max: new Date().toISOString().slice(0, 10),
              'aria-describedby': 'connect-history-help',
            }),
            h(
              'p',
              { class: 'muted small help', id: 'connect-history-help' },
              'Once both sides are connected, the card lists what CRM payments and sent invoices from this day up to the connection would be written to QuickBooks (a dry run: counts, totals, the first records), and nothing is written until you press Start there. Leave it empty to sync only what happens from now on (the card offers the same later).',
            ),
          ),
      h(
        'button',
        { type: 'submit' },
        c.needsReconnect?.includes('quickbooks') ? 'Reconnect QuickBooks' : 'Connect QuickBooks',
      ),
    );
    const button = form.querySelector('button[type="submit"]');
    let chooser;
    const holder = form.querySelector('#review-request-choice');
    const showChooser = async () => {
      holder.hidden = !form.reviewRequests.checked;
      if (!form.reviewRequests.checked || chooser) return;
      chooser = reviewRequestChooser(await api('GET', `/api/connections/${encodeURIComponent(c.id)}/review-requests`));
      fill(holder, chooser.element);
    };
    form.reviewRequests.addEventListener('change', () =>
      showChooser().catch((error) => notify(error.message, 'error')),
    );
    showChooser().catch((error) => notify(error.message, 'error'));
    form.addEventListener(
      'submit',
      busy(button, async () => {
        const choices = {
          importOldInvoices: form.importOldInvoices.checked,
          reviewRequests: form.reviewRequests.checked,
          paymentsFromQuickBooks: form.paymentsFromQuickBooks.checked,
        };
        if (choices.reviewRequests && chooser) choices.reviewRequest = chooser.value();
        if (form.historyFrom?.value) choices.historyFrom = form.historyFrom.value;
        const { authorizeUrl } = await api(
          'POST',
          `/api/connections/${encodeURIComponent(c.id)}/connect-quickbooks`,
          choices,
        );
        location.assign(authorizeUrl);
      }),
    );
    return form;
  };
  // The review-request mechanism in force, its problem if any, and the form to change it.
  const reviewRequestStatus = () => {
    const box = h('div', { class: 'stack', id: 'review-request-status' });
    const change = h('button', { type: 'button', class: 'link' }, 'Change how review requests are sent');
    const editor = h('div');
    change.addEventListener(
      'click',
      busy(change, async () => {
        const chooser = reviewRequestChooser(
          await api('GET', `/api/connections/${encodeURIComponent(c.id)}/review-requests`),
        );
        const save = h('button', { type: 'button' }, 'Save');
        save.addEventListener(
          'click',
          submitting(
            editor,
            save,
            async () => {
              const answer = await api('PUT', `/api/connections/${encodeURIComponent(c.id)}/review-requests`, {
                mechanism: chooser.value(),
              });
              notify(
                `Review requests: ${answer.description}${answer.resumed ? `. ${answer.resumed} waiting request${answer.resumed === 1 ? '' : 's'} sent again` : ''}`,
              );
              await refresh();
            },
            {
              'mechanism.reviewLink': 'rr-link',
              'mechanism.tag': 'rr-tag',
              'mechanism.workflowId': 'rr-workflow',
              'mechanism.channel': 'rr-channel',
            },
          ),
        );
        fill(editor, chooser.element, save);
        change.hidden = true;
      }),
    );
    add(
      box,
      h('p', {}, h('span', { class: 'muted' }, 'Review requests are sent by: '), c.reviewRequest.description),
      c.reviewRequest.problem ? h('p', { class: 'error', role: 'alert' }, c.reviewRequest.problem) : null,
      change,
      editor,
    );
    return box;
  };
  const toggles = () => {
    const make = (id, key, label) => {
      const box = h('input', { type: 'checkbox', id, checked: c[key] });
      box.addEventListener('change', async () => {
        box.disabled = true;
        try {
          const answer = await api('PATCH', `/api/connections/${encodeURIComponent(c.id)}/settings`, {
            [key]: box.checked,
          });
          notify(answer.note ?? `${label}: ${box.checked ? 'on' : 'off'}`);
          if (key === 'importOldInvoices' && box.checked) followImport(card, c.id);
        } catch (error) {
          box.checked = !box.checked;
          notify(error.message, 'error');
        } finally {
          box.disabled = false;
        }
      });
      return h('div', { class: 'check' }, box, h('label', { for: id }, label));
    };
    return h(
      'fieldset',
      {},
      h('legend', {}, 'Settings'),
      make('import-old', 'importOldInvoices', 'Import old invoices'),
      make('review-requests', 'reviewRequests', 'Send review requests'),
      reviewRequestStatus(),
      make('payments-from-qbo', 'paymentsFromQuickBooks', 'Record QuickBooks payments on CRM invoices'),
    );
  };
  const actions = h('div', { class: 'actions' });
  const action = (label, path, confirmText, cls) => {
    const b = h('button', { type: 'button', class: cls }, label);
    b.addEventListener(
      'click',
      busy(b, async () => {
        if (confirmText && !window.confirm(confirmText)) return;
        const answer = await api('POST', `/api/connections/${encodeURIComponent(c.id)}/${path}`);
        notify(answer.notes?.length ? `${label}: done. ${answer.notes.join(' ')}` : `${label}: done`);
        await refresh();
      }),
    );
    actions.append(b);
  };
  if (c.status === 'connected' || c.status === 'token-expiring') action('Pause', 'pause');
  if (c.status === 'paused') action('Resume', 'resume');
  if (c.status !== 'disconnected' && c.status !== 'pending')
    action(
      'Disconnect',
      'disconnect',
      'Disconnect? Tokens are revoked where the provider allows; the history is kept.',
      'danger',
    );

  const onlyHighLevel = c.needsReconnect?.length === 1 && c.needsReconnect[0] === 'highlevel';
  const lastSync = Object.entries(c.lastSync);
  const counts = Object.entries(c.counts);
  add(
    card,
    title,
    h('p', {}, connectionBadge(c), c.statusReason ? h('span', { class: 'muted' }, ` ${c.statusReason}`) : null),
    c.builtInQuickBooks?.warning
      ? h(
          'p',
          { class: 'error', id: 'built-in-quickbooks-warning' },
          h('strong', {}, 'Warning: '),
          c.builtInQuickBooks.warning,
        )
      : null,
    failingSidesNotice(c, card, refresh),
    h(
      'dl',
      { class: 'facts' },
      h('dt', {}, 'Connected since'),
      h('dd', {}, dateTime(c.connectedAt)),
      h('dt', {}, 'QuickBooks company'),
      h('dd', { id: 'card-company' }, quickbooksCompanyText(c)),
      h('dt', {}, 'HighLevel location'),
      h('dd', { id: 'card-location' }, highLevelLocationText(c)),
    ),
    progressBar('Customer import', c.progress.customerImport),
    progressBar('Old-invoice import', c.progress.invoiceImport),
    // Each side that needs it gets its own (re)connect; a connection waiting only for HighLevel offers only that.
    ['pending', 'disconnected', 'revoked'].includes(c.status) && c.highlevel
      ? [reconnectHighLevel(c), c.status === 'pending' || !onlyHighLevel ? connectForm() : null]
      : toggles(),
    c.history && c.connectedAt && ['connected', 'token-expiring', 'paused'].includes(c.status)
      ? historySection(c, refresh)
      : null,
    h(
      'div',
      { class: 'cols' },
      h(
        'section',
        { 'aria-labelledby': 'last-sync' },
        h('h3', { id: 'last-sync' }, 'Last successful sync'),
        lastSync.length
          ? h(
              'dl',
              { class: 'facts' },
              lastSync.map(([flow, at]) => [h('dt', {}, flowName(flow)), h('dd', {}, dateTime(at))]),
            )
          : h('p', { class: 'muted' }, 'Nothing synced yet.'),
      ),
      h(
        'section',
        { 'aria-labelledby': 'counts' },
        h('h3', { id: 'counts' }, 'Counts'),
        h(
          'dl',
          { class: 'facts' },
          counts.map(([kind, n]) => [
            h('dt', {}, kind === 'openErrors' ? 'Open errors' : (linkedNames[kind] ?? `Linked ${kind}`)),
            h('dd', kind === 'openErrors' ? { id: 'card-open-errors' } : {}, String(n)),
          ]),
        ),
      ),
    ),
    actions,
  );
  return card;
}

// The HighLevel side lost its tokens (Disconnect, an uninstall, a refused refresh token): its own OAuth round trip,
// on HighLevel's choose-location page, for this connection's location.
function reconnectHighLevel(c) {
  if (!c.needsReconnect?.includes('highlevel')) return null;
  const button = h('button', { type: 'button' }, 'Reconnect HighLevel');
  button.addEventListener(
    'click',
    busy(button, async () => {
      const { authorizeUrl } = await api('POST', `/api/connections/${encodeURIComponent(c.id)}/reconnect-highlevel`);
      location.assign(authorizeUrl);
    }),
  );
  return h(
    'div',
    { class: 'stack', id: 'reconnect-highlevel' },
    h(
      'p',
      {},
      `HighLevel needs reconnecting: on HighLevel's page, choose this connection's location ("${c.name}", id ${c.highlevel.locationId}). History is kept.`,
    ),
    button,
  );
}

// ---------- a side that keeps failing ----------

const SIDE_NAMES = { quickbooks: 'QuickBooks', highlevel: 'HighLevel' };
const FAILING_REFRESH_MS = 5000;

function inSeconds(iso) {
  const s = Math.round((Date.parse(iso) - Date.now()) / 1000);
  if (s <= 0) return 'now';
  return s < 90 ? `in ${s} s` : `in ${Math.round(s / 60)} min`;
}

function failingSideBadges(c) {
  return (c.failingSides ?? []).map((f) => h('span', { class: 'badge error' }, `${SIDE_NAMES[f.side]} failing`));
}

/**
 * Which provider keeps failing, since when, how many records wait and when the next try is: the records are tried
 * again by themselves, so the notice refreshes itself until the side answers again.
 */
function failingSidesNotice(c, card, refresh) {
  const failing = c.failingSides ?? [];
  if (failing.length === 0) return null;
  setTimeout(() => {
    if (card.isConnected) refresh().catch(() => {});
  }, FAILING_REFRESH_MS);
  return h(
    'section',
    { class: 'failing', id: 'failing-sides', role: 'status', 'aria-labelledby': 'failing-title' },
    h(
      'h3',
      { id: 'failing-title' },
      failing.some((f) => f.needsAttention)
        ? 'Needs attention: a provider keeps failing'
        : 'A provider is failing; ledgerlink keeps trying',
    ),
    failing.map((f) =>
      h(
        'div',
        { class: 'failing-side' },
        h('p', {}, h('strong', {}, `${SIDE_NAMES[f.side]} is failing`), ` since ${dateTime(f.since)}.`),
        h(
          'dl',
          { class: 'facts' },
          h('dt', {}, 'Records waiting'),
          h('dd', {}, String(f.waitingRecords)),
          h('dt', {}, 'Next try'),
          h(
            'dd',
            {},
            f.nextTryAt
              ? `${dateTime(f.nextTryAt)} (${inSeconds(f.nextTryAt)})`
              : f.waitingRecords === 0 && f.gaveUpRecords === 0
                ? 'a first try is under way'
                : 'none scheduled',
          ),
          f.gaveUpRecords
            ? [
                h('dt', {}, 'Out of tries'),
                h(
                  'dd',
                  {},
                  `${f.gaveUpRecords} record${f.gaveUpRecords === 1 ? '' : 's'}: open errors with a Retry button`,
                ),
              ]
            : null,
          h('dt', {}, `Last answer`),
          h('dd', {}, `${f.lastError} (${dateTime(f.lastFailureAt)})`),
        ),
      ),
    ),
    h(
      'p',
      { class: 'muted small' },
      'Nothing is lost: each waiting record is synced once the provider answers again, and this notice goes by itself.',
    ),
  );
}

const SECTIONS = [
  ['activity', 'Activity'],
  ['reconciliation', 'Reconciliation'],
  ['tax-codes', 'Tax codes'],
  ['mappings', 'Mappings'],
  ['sandbox', 'Sandbox'],
];

async function renderConnection(id, section) {
  const base = `/api/connections/${encodeURIComponent(id)}`;
  const [card, sandbox] = await Promise.all([api('GET', base), api('GET', '/api/sandbox')]);
  const sections = SECTIONS.filter(
    ([key]) => (key !== 'sandbox' || sandbox.enabled) && (key !== 'tax-codes' || card.taxModel === 'global'),
  );
  const body = h('div', { id: 'section' });
  const holder = h('div');
  const refreshCard = async () => holder.replaceChildren(integrationCard(await api('GET', base), refreshCard));
  holder.append(integrationCard(card, refreshCard));
  keepCardFresh(holder, base, card, refreshCard);
  page(
    card.name,
    holder,
    h(
      'nav',
      { class: 'tabs', 'aria-label': 'Connection' },
      sections.map(([key, label]) =>
        h(
          'a',
          { href: `#/connections/${encodeURIComponent(id)}/${key}`, 'aria-current': key === section ? 'page' : null },
          label,
        ),
      ),
    ),
    body,
  );
  const live = card.quickbooks && card.highlevel && !['disconnected', 'revoked'].includes(card.status);
  if (!live && section !== 'activity') {
    add(body, h('p', {}, 'Connect both sides first.'));
    return;
  }
  if (section === 'reconciliation') return renderReconciliation(id, body, card);
  if (section === 'tax-codes') return renderTaxCodes(id, body);
  if (section === 'mappings') return renderMappings(id, body);
  if (section === 'sandbox' && sandbox.enabled) return renderSandbox(id, card, body);
  return renderActivity(id, body, card);
}

// ---------- names, money and the card kept fresh ----------

function quickbooksCompanyText(c) {
  if (!c.quickbooks) return 'not connected';
  const where = [c.quickbooks.country, c.quickbooks.homeCurrency].filter(Boolean).join(', ');
  return `${c.quickbooks.companyName ?? `Company ${c.quickbooks.realmId}`}${where ? ` (${where})` : ''}`;
}

function highLevelLocationText(c) {
  if (!c.highlevel) return 'not connected';
  return c.highlevel.locationName ?? `Location ${c.highlevel.locationId}`;
}

/** Amounts of this connection: minor units in its currency, in the locale of its QuickBooks company's country. */
function moneyIn(card) {
  const locale = localeForCountry(card?.quickbooks?.country ?? card?.highlevel?.country);
  return (minor, currency, exponent) =>
    formatMoney(minor, currency ?? card?.quickbooks?.homeCurrency, locale, exponent);
}

// The card's status and open errors change while the page is open (a token expires, a payment fails): it is read
// again every few seconds and rebuilt only when it changed and nobody is working in it.
function keepCardFresh(holder, base, card, refresh) {
  let last = JSON.stringify(card);
  cardTimer = setInterval(async () => {
    if (
      document.hidden ||
      holder.contains(document.activeElement) ||
      holder.querySelector('#review-request-status .stack, form[aria-label="Connect QuickBooks"]')
    )
      return;
    const next = await api('GET', base).catch(() => null);
    if (!next || JSON.stringify(next) === last) return;
    last = JSON.stringify(next);
    holder.replaceChildren(integrationCard(next, refresh));
  }, 3000);
}

/** What an amount means for the record: a receipt is paid, an invoice has something due (or nothing left). */
function amountText(amount, money) {
  if (!amount) return null;
  const total = money(amount.minor, amount.currency, amount.exponent);
  if (amount.dueMinor === null || amount.dueMinor === undefined) return total;
  if (amount.dueMinor <= 0) return `${total}, paid`;
  if (amount.dueMinor === amount.minor) return `${money(amount.dueMinor, amount.currency, amount.exponent)} due`;
  return `${money(amount.dueMinor, amount.currency, amount.exponent)} due of ${total}`;
}

const outLink = (href, text, label) =>
  h(
    'a',
    { href, target: '_blank', rel: 'noopener noreferrer', 'aria-label': label ? `${label} (opens a new tab)` : null },
    text,
  );

/**
 * Activity entries grouped by the record they concern, newest group first: the record as people call it, its
 * customer, its amount, and where to open it in QuickBooks and in HighLevel; then what happened to it. Entries about
 * no record stand alone.
 */
function recordGroups(connectionId, entries, row, money) {
  const groups = new Map();
  for (const e of entries) {
    const key = e.record?.key ?? `entry:${e.id}`;
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push(e);
  }
  return [...groups.values()].map((group) => {
    const record = group[0].record;
    if (!record) return group.map(row);
    const headingId = `record-${group[0].id}`;
    const contact = record.contact;
    const isContact = contact && record.label === contact.name;
    const facts = [
      amountText(record.amount, money),
      contact && !isContact ? [contact.name ?? 'Customer', contact.email ? ` (${contact.email})` : ''] : null,
      isContact && contact.email ? contact.email : null,
    ].filter(Boolean);
    const e = group.find((x) => x.quickbooks) ?? group[0];
    const details = e.quickbooks
      ? h(
          'a',
          {
            href: `#/connections/${encodeURIComponent(connectionId)}/record/quickbooks/${encodeURIComponent(e.quickbooks.kind)}/${encodeURIComponent(e.quickbooks.id)}`,
          },
          'As QuickBooks holds it',
        )
      : null;
    // A payment has no page of its own in HighLevel: its link opens the contact who paid.
    const highLevelIsContact = !isContact && record.highlevelUrl && record.highlevelUrl === contact?.highlevelUrl;
    const who = contact?.name ?? 'the customer';
    const links = [
      record.quickbooksUrl
        ? outLink(record.quickbooksUrl, 'Open in QuickBooks', `Open ${record.label} in QuickBooks`)
        : null,
      record.highlevelUrl && !highLevelIsContact
        ? outLink(record.highlevelUrl, 'Open in HighLevel', `Open ${record.label} in HighLevel`)
        : null,
      contact && !isContact && contact.quickbooksUrl
        ? outLink(contact.quickbooksUrl, `${who} in QuickBooks`, `Open ${who} in QuickBooks`)
        : null,
      contact && !isContact && contact.highlevelUrl
        ? outLink(contact.highlevelUrl, `${who} in HighLevel`, `Open ${who} in HighLevel`)
        : null,
      details,
    ].filter(Boolean);
    return h(
      'li',
      { class: 'record-group', 'data-record': record.key, 'aria-labelledby': headingId },
      h(
        'div',
        { class: 'record-head' },
        h('h3', { id: headingId, class: 'record-name' }, record.label),
        facts.length
          ? h(
              'p',
              { class: 'record-facts' },
              facts.map((f, i) => [i ? ' · ' : '', f]),
            )
          : null,
        links.length
          ? h(
              'p',
              { class: 'record-links' },
              links.map((l, i) => [i ? ' · ' : '', l]),
            )
          : null,
      ),
      h('ol', { class: 'entries', 'aria-label': `What happened to ${record.label}, newest first` }, group.map(row)),
    );
  });
}

// ---------- refused forms ----------

/**
 * Puts each field error of a refused request under its input (the server names fields as the request does; `names`
 * maps a request field to the form's input name where they differ), and marks the input invalid for assistive
 * technology. An error for no input of the form goes to the banner.
 */
function showFieldErrors(form, error, names = {}) {
  clearFieldErrors(form);
  const unplaced = [];
  for (const { field, message } of error.fields ?? []) {
    // A field's whole path first ("lines.0.amount" names a line's input), then its last part ("amount").
    const name = names[field] ?? field.split('.').pop();
    const input =
      (field && form.querySelector(`[name="${CSS.escape(field)}"]`)) ??
      (name
        ? (form.querySelector(`[name="${CSS.escape(name)}"]`) ?? form.querySelector(`#${CSS.escape(name)}`))
        : null);
    if (!input) {
      unplaced.push(message);
      continue;
    }
    const id = `${input.id || name}-error`;
    input.setAttribute('aria-invalid', 'true');
    input.setAttribute('aria-describedby', id);
    input.insertAdjacentElement('afterend', h('p', { class: 'field-error', id }, message));
  }
  const first = form.querySelector('[aria-invalid="true"]');
  first?.focus();
  notify(first ? 'Some fields need a change: see the marked fields.' : (unplaced[0] ?? error.message), 'error');
}

function clearFieldErrors(form) {
  for (const p of form.querySelectorAll('.field-error')) p.remove();
  for (const input of form.querySelectorAll('[aria-invalid]')) {
    input.removeAttribute('aria-invalid');
    input.removeAttribute('aria-describedby');
  }
}

/** Like busy(), for a form whose refusal names fields. */
function submitting(form, button, work, names) {
  return busy(button, async () => {
    clearFieldErrors(form);
    try {
      await work();
    } catch (error) {
      if (error.fields?.length) return showFieldErrors(form, error, names);
      throw error;
    }
  });
}

// ---------- activity ----------

function recordLink(connectionId, side, kind, recordId) {
  const type = side === 'quickbooks' ? kind : kind.toLowerCase();
  return h(
    'a',
    {
      href: `#/connections/${encodeURIComponent(connectionId)}/record/${side}/${encodeURIComponent(type)}/${encodeURIComponent(recordId)}`,
    },
    `${side === 'quickbooks' ? 'QuickBooks' : 'CRM'} ${kind} ${recordId}`,
  );
}

function detailList(detail) {
  const entries = Object.entries(detail).filter(([key]) => key !== 'fix');
  if (entries.length === 0) return null;
  return h(
    'details',
    {},
    h('summary', {}, 'What changed and details'),
    h(
      'dl',
      { class: 'facts' },
      entries.map(([key, value]) => [
        h('dt', {}, key),
        h('dd', {}, typeof value === 'object' ? JSON.stringify(value) : String(value)),
      ]),
    ),
  );
}

async function renderActivity(id, body, card) {
  const base = `/api/connections/${encodeURIComponent(id)}`;
  const filters = h(
    'form',
    { class: 'filters', role: 'search', 'aria-label': 'Filter activity' },
    h(
      'div',
      {},
      h('label', { for: 'f-flow' }, 'Flow'),
      h('select', { id: 'f-flow', name: 'flow' }, h('option', { value: '' }, 'All flows')),
    ),
    h(
      'div',
      {},
      h('label', { for: 'f-status' }, 'Status'),
      h(
        'select',
        { id: 'f-status', name: 'status' },
        h('option', { value: '' }, 'All'),
        h('option', { value: 'ok' }, 'Synced'),
        h('option', { value: 'error' }, 'Errors'),
        h('option', { value: 'skipped' }, 'Skipped'),
        h('option', { value: 'info' }, 'Info'),
      ),
    ),
    h(
      'div',
      {},
      h('label', { for: 'f-text' }, 'Search'),
      h('input', { id: 'f-text', name: 'text', type: 'search', placeholder: 'name, id, message' }),
    ),
    h(
      'div',
      { class: 'check' },
      h('input', { type: 'checkbox', id: 'f-open', name: 'openErrors' }),
      h('label', { for: 'f-open' }, 'Open errors only'),
    ),
    // Events that only report ledgerlink's own writes (a SalesReceipt.Create for the receipt it made) are noise.
    h(
      'div',
      { class: 'check' },
      h('input', { type: 'checkbox', id: 'f-echoes', name: 'echoes' }),
      h('label', { for: 'f-echoes' }, "Show ledgerlink's own changes coming back"),
    ),
  );
  const retryAll = h('button', { type: 'button' }, 'Retry all open errors');
  const list = h('ol', { class: 'activity', 'aria-label': 'Activity, newest first' });
  const more = h('button', { type: 'button', class: 'link', hidden: true }, 'Show older');
  add(body, h('h2', {}, 'Activity'), filters, h('div', { class: 'actions' }, retryAll), list, more);
  let flowsShown = '';
  let nextBeforeId = null;
  let shown = [];

  const row = (e) =>
    h(
      'li',
      { class: `entry ${e.status}${e.resolvedAt ? ' resolved' : ''}${e.echo ? ' echo' : ''}`, 'data-id': e.id },
      h(
        'p',
        { class: 'meta' },
        h(
          'span',
          { class: `badge ${e.status}${e.warnings?.length ? ' warning' : ''}` },
          e.status === 'ok' ? (e.warnings?.length ? 'synced, with warnings' : 'synced') : e.status,
        ),
        ' ',
        e.echo ? h('span', { class: 'badge info' }, "ledgerlink's own change") : null,
        h('span', {}, flowName(e.flow)),
        ' · ',
        h('time', { datetime: e.createdAt }, dateTime(e.createdAt)),
        // One open error per record and cause: met again, it is counted here instead of listed again.
        e.occurrences > 1
          ? h(
              'span',
              { class: 'occurrences' },
              ` · seen ${e.occurrences} times, last `,
              h('time', { datetime: e.lastSeenAt }, dateTime(e.lastSeenAt)),
            )
          : null,
        e.resolvedAt ? ' · resolved' : '',
      ),
      h('p', { class: 'message' }, e.message),
      // The record's name and its links head its group; an entry about no known record names its ids here.
      !e.record && (e.crm || e.quickbooks)
        ? h(
            'p',
            { class: 'links' },
            e.crm ? recordLink(id, 'highlevel', e.crm.kind, e.crm.id) : null,
            e.crm && e.quickbooks ? ' ↔ ' : null,
            e.quickbooks ? recordLink(id, 'quickbooks', e.quickbooks.kind, e.quickbooks.id) : null,
          )
        : null,
      e.fix && !e.resolvedAt ? h('p', { class: 'fix' }, h('strong', {}, 'What to do: '), e.fix) : null,
      detailList(e.detail),
      e.retryable
        ? (() => {
            const b = h('button', { type: 'button' }, 'Retry');
            b.addEventListener(
              'click',
              busy(b, async () => {
                try {
                  await api('POST', `${base}/activity/${e.id}/retry`);
                  notify('Retrying: the job runs again');
                } catch (error) {
                  // A later sync of the same record may have resolved it meanwhile (the poller, a webhook).
                  if (error.status !== 409) throw error;
                  notify(`Not retried: ${error.message}`, 'error');
                }
                await load();
              }),
            );
            return b;
          })()
        : null,
    );

  async function load(append = false) {
    const params = new URLSearchParams({ limit: '50' });
    if (filters.flow.value) params.set('flow', filters.flow.value);
    if (filters.status.value) params.set('status', filters.status.value);
    if (filters.text.value.trim()) params.set('text', filters.text.value.trim());
    if (filters.openErrors.checked) params.set('openErrors', 'true');
    if (filters.echoes.checked) params.set('echoes', 'true');
    if (append && nextBeforeId) params.set('beforeId', String(nextBeforeId));
    const answer = await api('GET', `${base}/activity?${params}`);
    if (answer.flows.join() !== flowsShown) {
      flowsShown = answer.flows.join();
      const current = filters.flow.value;
      fill(
        filters.flow,
        h('option', { value: '' }, 'All flows'),
        answer.flows.map((f) => h('option', { value: f, selected: f === current }, flowName(f))),
      );
    }
    shown = append ? [...shown, ...answer.entries] : answer.entries;
    fill(
      list,
      shown.length ? recordGroups(id, shown, row, moneyIn(card)) : h('li', { class: 'muted' }, 'Nothing matches.'),
    );
    nextBeforeId = answer.nextBeforeId;
    more.hidden = !nextBeforeId;
  }
  filters.addEventListener('change', () => load());
  filters.addEventListener('submit', (event) => {
    event.preventDefault();
    load();
  });
  filters.text.addEventListener('input', () => {
    clearTimeout(filters.pending);
    filters.pending = setTimeout(load, 250);
  });
  more.addEventListener('click', () => load(true));
  retryAll.addEventListener(
    'click',
    busy(retryAll, async () => {
      const answer = await api('POST', `${base}/activity/retry-all`);
      notify(
        `Retrying ${answer.retried + answer.alreadyQueued} record${answer.retried + answer.alreadyQueued === 1 ? '' : 's'}`,
      );
      await load();
    }),
  );
  await load();
  // New activity appears by itself (this is how one watches a payment arrive); focus and open details stay put
  // because the list is only rebuilt when nothing in it is focused or open.
  timer = setInterval(() => {
    if (
      document.hidden ||
      list.contains(document.activeElement) ||
      list.querySelector('details[open]') ||
      (nextBeforeId && shown.length > 50)
    )
      return;
    load().catch(() => {});
  }, 2000);
}

// ---------- record ----------

async function renderRecord(id, side, type, recordId) {
  const answer = await api(
    'GET',
    `/api/connections/${encodeURIComponent(id)}/records/${side}/${encodeURIComponent(type)}/${encodeURIComponent(recordId)}`,
  );
  page(
    `${side === 'quickbooks' ? 'QuickBooks' : 'HighLevel'} ${type} ${recordId}`,
    h(
      'p',
      {},
      h('a', { href: `#/connections/${encodeURIComponent(id)}/activity` }, '← Back to activity'),
      answer.externalUrl
        ? [
            ' · ',
            h(
              'a',
              { href: answer.externalUrl, rel: 'noopener noreferrer', target: '_blank' },
              `Open in ${side === 'quickbooks' ? 'QuickBooks' : 'HighLevel'}`,
            ),
          ]
        : null,
    ),
    h('p', { class: 'muted' }, 'As the provider holds it now.'),
    h('pre', { class: 'record', tabindex: '0', 'aria-label': 'Record' }, JSON.stringify(answer.record, null, 2)),
  );
}

// ---------- reconciliation ----------

const kindNames = {
  customers: 'Customers',
  invoices: 'Invoices',
  salesReceipts: 'Sales receipts',
  payments: 'Payments',
};
const problemNames = {
  missingInQuickBooks: 'Missing in QuickBooks',
  missingInCrm: 'Missing in the CRM',
  amountDiffers: 'Amounts differ',
};

// Why a difference is not re-synced: its own note (an imported invoice is history), else no flow covers it.
function differenceNote(d) {
  if (d.resyncable) return '';
  return h('span', { class: 'muted' }, ` — ${d.note ?? 'no flow re-syncs this yet'}`);
}

async function renderReconciliation(id, body, card) {
  const money = moneyIn(card);
  const base = `/api/connections/${encodeURIComponent(id)}`;
  const compare = h('button', { type: 'button' }, 'Compare again');
  const resync = h('button', { type: 'button' }, 'Re-sync the differences');
  const out = h('div', { 'aria-live': 'polite' }, h('p', {}, 'Reading both sides…'));
  add(
    body,
    h('h2', {}, 'Reconciliation'),
    h('p', { class: 'muted' }, 'Both APIs are read and compared record by record, since the connection date.'),
    h('div', { class: 'actions' }, compare, resync),
    out,
  );
  const show = (r) => {
    const total = r.kinds.reduce((n, k) => n + k.differences.length, 0);
    fill(
      out,
      h(
        'p',
        {},
        `Computed ${dateTime(r.computedAt)}; ${total === 0 ? 'both sides agree.' : `${total} difference${total === 1 ? '' : 's'}.`}`,
      ),
      h(
        'table',
        { class: 'recon' },
        h('caption', {}, 'Per kind'),
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            ['Kind', 'Matched', 'Missing in QuickBooks', 'Missing in the CRM', 'Amounts differ'].map((t) =>
              h('th', { scope: 'col' }, t),
            ),
          ),
        ),
        h(
          'tbody',
          {},
          r.kinds.map((k) =>
            h(
              'tr',
              {},
              h('th', { scope: 'row' }, kindNames[k.kind]),
              h('td', {}, k.matched),
              h('td', {}, k.missingInQuickBooks),
              h('td', {}, k.missingInCrm),
              h('td', {}, k.amountDiffers),
            ),
          ),
        ),
      ),
      total
        ? h(
            'section',
            { 'aria-labelledby': 'diffs' },
            h('h3', { id: 'diffs' }, 'Differences'),
            h(
              'ul',
              { class: 'diffs' },
              r.kinds.flatMap((k) =>
                k.differences.map((d) =>
                  h(
                    'li',
                    {},
                    h('span', { class: 'badge error' }, problemNames[d.problem]),
                    ' ',
                    d.label,
                    d.problem === 'amountDiffers'
                      ? ` (CRM ${money(d.crmAmountMinor, d.currency)}, QuickBooks ${money(d.qboAmountMinor, d.currency)})`
                      : '',
                    differenceNote(d),
                  ),
                ),
              ),
            ),
          )
        : null,
    );
    resync.disabled = total === 0;
  };
  const load = async (refresh) => {
    fill(out, h('p', {}, 'Reading both sides…'));
    show(await api('GET', `${base}/reconciliation${refresh ? '?refresh=true' : ''}`));
  };
  compare.addEventListener(
    'click',
    busy(compare, () => load(true)),
  );
  resync.addEventListener(
    'click',
    busy(resync, async () => {
      const r = await api('POST', `${base}/reconciliation/resync`, {});
      notify(r.message);
    }),
  );
  await load(false).catch((error) => fill(out, h('p', { class: 'error' }, error.message)));
}

// ---------- tax codes ----------

async function renderTaxCodes(id, body) {
  const base = `/api/connections/${encodeURIComponent(id)}`;
  const data = await api('GET', `${base}/tax-codes`);
  add(body, h('h2', {}, 'Tax codes'));
  if (!data.applies) {
    add(body, h('p', {}, 'This is a US company: tax is folded into line prices, nothing to map.'));
    return;
  }
  const codeLabel = (c) => `${c.name} (${c.ratePercents.join(' + ') || 0}%)`;
  const select = (id2, chosen, label) =>
    h(
      'select',
      { id: id2, 'aria-label': label },
      h('option', { value: '' }, 'Choose a QuickBooks tax code'),
      data.codes.map((c) => h('option', { value: c.id, selected: c.id === chosen }, codeLabel(c))),
    );
  const rows = [];
  const tbody = h('tbody');
  const describeTaxes = (taxes) => taxes.map((t) => `${t.name} ${t.rate}%`).join(' + ');
  const addRow = (taxes, chosen, note) => {
    const n = rows.length;
    const sel = select(`code-${n}`, chosen, `QuickBooks tax code for ${describeTaxes(taxes)}`);
    const remove = h('button', { type: 'button', class: 'link' }, 'Remove');
    const tr = h(
      'tr',
      {},
      h('th', { scope: 'row' }, describeTaxes(taxes), note ? h('div', { class: 'muted small' }, note) : null),
      h('td', {}, sel),
      h('td', {}, remove),
    );
    const entry = { taxes, sel, tr };
    remove.addEventListener('click', () => {
      rows.splice(rows.indexOf(entry), 1);
      tr.remove();
    });
    rows.push(entry);
    tbody.append(tr);
  };
  for (const m of data.mappings) addRow(m.taxes, m.taxCodeId);
  for (const u of data.unmapped) addRow(u.taxes, '', 'Waiting for a code (an error names it)');
  const addForm = h(
    'form',
    { class: 'filters', 'aria-label': 'Map another CRM tax' },
    h(
      'div',
      {},
      h('label', { for: 'new-tax-name' }, 'CRM tax name'),
      h('input', { id: 'new-tax-name', required: true }),
    ),
    h(
      'div',
      {},
      h('label', { for: 'new-tax-rate' }, 'Rate %'),
      h('input', { id: 'new-tax-rate', inputmode: 'decimal', required: true, pattern: '[0-9]+([.][0-9]+)?' }),
    ),
    h('div', {}, h('button', { type: 'submit' }, 'Add')),
  );
  addForm.addEventListener('submit', (event) => {
    event.preventDefault();
    addRow(
      [
        {
          name: addForm.querySelector('#new-tax-name').value.trim(),
          rate: addForm.querySelector('#new-tax-rate').value.trim(),
        },
      ],
      '',
    );
    addForm.reset();
  });
  const save = h('button', { type: 'button' }, 'Save the mapping');
  save.addEventListener(
    'click',
    busy(save, async () => {
      const mappings = rows.filter((r) => r.sel.value).map((r) => ({ taxes: r.taxes, taxCodeId: r.sel.value }));
      const answer = await api('PUT', `${base}/tax-codes`, { mappings });
      notify(
        `Saved ${answer.mappings} mapping${answer.mappings === 1 ? '' : 's'}. Retry the errors that named these taxes.`,
      );
    }),
  );
  add(
    body,
    h(
      'p',
      { class: 'muted' },
      'A CRM tax is matched to a QuickBooks tax code by rate and name; when that is ambiguous or impossible, choose the code here.',
    ),
    h(
      'table',
      { class: 'mapping' },
      h('caption', {}, 'CRM tax → QuickBooks tax code'),
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          h('th', { scope: 'col' }, 'CRM tax'),
          h('th', { scope: 'col' }, 'QuickBooks tax code'),
          h('th', { scope: 'col' }, h('span', { class: 'visually-hidden' }, 'Remove')),
        ),
      ),
      tbody,
    ),
    addForm,
    h('div', { class: 'actions' }, save),
  );
}

// ---------- mappings ----------

// The bookkeeper's mappings: where receipts deposit, the income account of new items, CRM products -> items, the
// class and location (offered only where the company tracks them), payment modes -> payment methods. The pickers
// are native selects (keyboard and screen readers work as everywhere); the long lists (items, CRM products) are
// narrowed on the server with the search form, and a choice made before a search is kept.
async function renderMappings(id, body) {
  const base = `/api/connections/${encodeURIComponent(id)}`;
  let data = await api('GET', `${base}/mappings`);
  const itemNames = new Map();
  const products = new Map();
  const productNames = new Map();
  const remember = (view) => {
    for (const item of view.lists.items) itemNames.set(item.id, item.name);
    for (const p of view.crmProducts.products) productNames.set(p.id, p.name);
    for (const p of view.mappings.products) if (p.itemName) itemNames.set(p.itemId, p.itemName);
  };
  remember(data);
  for (const p of data.mappings.products)
    products.set(p.productId, { itemId: p.itemId, productName: p.productName ?? productNames.get(p.productId) });

  const picker = (fieldId, label, entries, chosen, none, help) => {
    const options = [h('option', { value: '' }, none)];
    for (const e of entries) options.push(h('option', { value: e.id, selected: e.id === chosen }, e.name));
    return h(
      'div',
      { class: 'stack' },
      h('label', { for: fieldId }, label),
      h('select', { id: fieldId, name: fieldId, 'aria-describedby': help ? `${fieldId}-help` : null }, options),
      help ? h('p', { class: 'muted small', id: `${fieldId}-help` }, help) : null,
    );
  };
  const tracked = (fieldId, label, tracking, entries, chosen) =>
    tracking.on
      ? picker(fieldId, label, entries, chosen, 'None', null)
      : h(
          'div',
          { class: 'stack' },
          h('span', { class: 'label' }, label),
          h('p', { class: 'muted small', id: `${fieldId}-off` }, tracking.why),
        );

  const m = data.mappings;
  const automaticIncome = data.automatic.incomeAccount
    ? `Automatic: ${data.automatic.incomeAccount.name}`
    : 'Automatic choice';
  const form = h(
    'form',
    { 'aria-label': 'Mappings', novalidate: true },
    h(
      'fieldset',
      {},
      h('legend', {}, 'Accounts'),
      picker(
        'deposit-account',
        'Sales receipts deposit to',
        data.lists.depositAccounts,
        m.depositAccountId,
        "Undeposited Funds (QuickBooks' default)",
        'A clearing or bank account receives the money at once; Undeposited Funds waits for a bank deposit in QuickBooks.',
      ),
      picker(
        'income-account',
        'Income account for items ledgerlink creates',
        data.lists.incomeAccounts,
        m.incomeAccountId,
        automaticIncome,
        'Items that exist already keep their own income account.',
      ),
    ),
    h(
      'fieldset',
      {},
      h('legend', {}, 'Class and location on every transaction'),
      tracked('class', 'Class', data.tracking.class, data.lists.classes, m.classId),
      tracked(
        'department',
        data.tracking.department.label,
        data.tracking.department,
        data.lists.departments,
        m.departmentId,
      ),
    ),
  );

  // Payment methods: one row per CRM payment mode or card brand.
  const methodRows = data.paymentMethodKeys.map((k) => {
    const chosen = m.paymentMethods.find((p) => p.key === k.key)?.paymentMethodId ?? '';
    const sel = h(
      'select',
      { id: `method-${k.key}`, name: `method-${k.key}`, 'aria-label': `QuickBooks payment method for ${k.label}` },
      h('option', { value: '' }, `Find "${k.foundByName}" by name, or create it once`),
      data.lists.paymentMethods.map((p) => h('option', { value: p.id, selected: p.id === chosen }, p.name)),
    );
    return { key: k.key, sel, tr: h('tr', {}, h('th', { scope: 'row' }, k.label), h('td', {}, sel)) };
  });

  // Products: the location's products (narrowed by the search), plus the ones mapped already.
  const productBody = h('tbody');
  const productStatus = h('p', { class: 'muted small', role: 'status' });
  const drawProducts = () => {
    const shown = new Map(data.crmProducts.products.map((p) => [p.id, p.name]));
    for (const [productId, chosen] of products)
      if (!shown.has(productId)) shown.set(productId, chosen.productName ?? productId);
    const rows = [...shown].map(([productId, name], n) => {
      const chosen = products.get(productId)?.itemId ?? '';
      const options = [h('option', { value: '' }, "Item by the line's name (automatic)")];
      const listed = new Set();
      for (const item of data.lists.items) {
        listed.add(item.id);
        options.push(h('option', { value: item.id, selected: item.id === chosen }, item.name));
      }
      if (chosen && !listed.has(chosen))
        options.push(h('option', { value: chosen, selected: true }, itemNames.get(chosen) ?? `Item ${chosen}`));
      const sel = h('select', { id: `product-${n}`, 'aria-label': `QuickBooks item for ${name}` }, options);
      sel.addEventListener('change', () => {
        if (sel.value) products.set(productId, { itemId: sel.value, productName: name });
        else products.delete(productId);
      });
      return h('tr', {}, h('th', { scope: 'row' }, name), h('td', {}, sel));
    });
    productBody.replaceChildren(
      ...(rows.length > 0
        ? rows
        : [h('tr', {}, h('td', { colspan: 2 }, data.crmProducts.error ?? 'No CRM product matches.'))]),
    );
    const total = data.crmProducts.total;
    productStatus.textContent = data.crmProducts.error
      ? data.crmProducts.error
      : `${data.crmProducts.products.length} of ${total ?? data.crmProducts.products.length} CRM products shown; ${data.lists.items.length} QuickBooks items to choose from.`;
  };
  drawProducts();
  const searchInput = h('input', { id: 'mapping-search', type: 'search', name: 'search' });
  const searchButton = h('button', { type: 'submit' }, 'Search');
  const searchForm = h(
    'form',
    { class: 'filters', role: 'search', 'aria-label': 'Find products and items' },
    h('div', {}, h('label', { for: 'mapping-search' }, 'Find products and items by name'), searchInput),
    h('div', {}, searchButton),
  );
  searchForm.addEventListener(
    'submit',
    busy(searchButton, async () => {
      const query = searchInput.value.trim();
      data = await api('GET', `${base}/mappings${query ? `?${new URLSearchParams({ search: query })}` : ''}`);
      remember(data);
      drawProducts();
    }),
  );

  const changed = h('p', { class: 'muted small' }, data.changedAt ? `Last changed ${dateTime(data.changedAt)}.` : '');
  const save = h('button', { type: 'button' }, 'Save the mappings');
  save.addEventListener(
    'click',
    busy(save, async () => {
      const value = (fieldId) => form.querySelector(`#${fieldId}`)?.value || null;
      const answer = await api('PUT', `${base}/mappings`, {
        depositAccountId: value('deposit-account'),
        incomeAccountId: value('income-account'),
        classId: value('class'),
        departmentId: value('department'),
        products: [...products].map(([productId, p]) => ({
          productId,
          itemId: p.itemId,
          ...(p.productName ? { productName: p.productName } : {}),
        })),
        paymentMethods: methodRows
          .filter((r) => r.sel.value)
          .map((r) => ({ key: r.key, paymentMethodId: r.sel.value })),
      });
      changed.textContent = answer.changedAt ? `Last changed ${dateTime(answer.changedAt)}.` : '';
      notify(
        answer.changes.length === 0
          ? 'Nothing changed.'
          : `Saved ${answer.changes.length} change${answer.changes.length === 1 ? '' : 's'}: they apply to records written from now on.`,
      );
    }),
  );

  add(
    body,
    h('h2', {}, 'Mappings'),
    h('p', { class: 'applies', id: 'mappings-applies' }, `${data.appliesFrom}.`),
    changed,
    form,
    h('h3', {}, 'Payment methods'),
    h(
      'table',
      { class: 'mapping' },
      h('caption', {}, 'CRM payment mode or card brand → QuickBooks payment method'),
      h(
        'thead',
        {},
        h('tr', {}, h('th', { scope: 'col' }, 'CRM payment'), h('th', { scope: 'col' }, 'QuickBooks payment method')),
      ),
      h(
        'tbody',
        {},
        methodRows.map((r) => r.tr),
      ),
    ),
    h('h3', {}, 'Products'),
    h(
      'p',
      { class: 'muted' },
      "A CRM product mapped to an item is written with that item; an unmapped one finds or creates an item by the line's name.",
    ),
    searchForm,
    productStatus,
    h(
      'table',
      { class: 'mapping' },
      h('caption', {}, 'CRM product → QuickBooks item'),
      h(
        'thead',
        {},
        h('tr', {}, h('th', { scope: 'col' }, 'CRM product'), h('th', { scope: 'col' }, 'QuickBooks item')),
      ),
      productBody,
    ),
    h('div', { class: 'actions' }, save),
  );
}

// ---------- sandbox ----------

// Line rows (item, quantity, unit price) for the sandbox's CRM forms: `count` rows, the first `defaults.length`
// filled in; a row left without an item is not sent.
function sandboxLines(prefix, count, defaults) {
  const rows = [];
  for (let n = 1; n <= count; n += 1) {
    const d = defaults[n - 1] ?? {};
    // Named as the request's path, so that a refused line's field error lands on its input.
    const cell = (name, label, attrs) =>
      h(
        'div',
        { class: `line-${name}` },
        h('label', { for: `${prefix}-${name}-${n}`, class: 'small' }, label),
        h('input', { id: `${prefix}-${name}-${n}`, name: `lines.${n - 1}.${name}`, ...attrs }),
      );
    rows.push(
      h(
        'div',
        { class: 'line', 'data-line': n },
        cell('item', `Item ${n}`, { required: n === 1, value: d.item ?? '' }),
        cell('qty', `Qty ${n}`, { inputmode: 'numeric', pattern: '[0-9]+', value: d.qty ?? (d.item ? '1' : '') }),
        cell('amount', `Price ${n}`, {
          inputmode: 'decimal',
          pattern: '[0-9]+([.][0-9]{1,2})?',
          required: n === 1,
          value: d.amount ?? '',
        }),
      ),
    );
  }
  const element = h('fieldset', { class: 'lines' }, h('legend', {}, 'Lines'), rows);
  const value = () =>
    rows
      .map((row) => {
        const [item, qty, amount] = ['item', 'qty', 'amount'].map((k) =>
          row.querySelector(`.line-${k} input`).value.trim(),
        );
        return item ? { item, qty: qty ? Number(qty) : 1, amount: Number(amount) } : null;
      })
      .filter(Boolean);
  return { element, rows, value };
}

function renderSandbox(id, card, body) {
  const base = `/api/connections/${encodeURIComponent(id)}/sandbox`;
  const status = h('p', { role: 'status', 'aria-live': 'polite', class: 'sandbox-status' });
  const done = (answer) => {
    status.textContent = answer.message;
    notify(answer.message);
  };
  const isUS = card.taxModel === 'US';
  const currency = card.quickbooks?.homeCurrency ?? '';
  const field = (prefix, name, label, attrs = {}) => [
    h('label', { for: `${prefix}-${name}` }, label),
    h('input', { id: `${prefix}-${name}`, name, ...attrs }),
  ];
  const contactFields = (prefix, d) => [
    field(prefix, 'firstName', 'First name', { required: true, value: d.firstName }),
    field(prefix, 'lastName', 'Last name', { value: d.lastName }),
    field(prefix, 'email', 'Email', { type: 'email', required: true, value: d.email }),
  ];
  // US companies fold tax into prices (no tax fields); elsewhere one tax applies to every line.
  const taxFields = (prefix, d) =>
    isUS
      ? null
      : [
          field(prefix, 'taxName', 'Tax name (optional)', { value: d.taxName ?? '' }),
          field(prefix, 'taxRate', 'Tax rate % (optional)', { inputmode: 'decimal', value: d.taxRate ?? '' }),
        ];
  // namedItem: elements['item'] would be the collection's own item() method.
  const fieldValue = (form, n) => form.elements.namedItem(n)?.value?.trim() ?? '';
  const contactOf = (form) => ({
    firstName: fieldValue(form, 'firstName'),
    lastName: fieldValue(form, 'lastName'),
    email: fieldValue(form, 'email'),
  });
  const taxOf = (form) =>
    fieldValue(form, 'taxName') && fieldValue(form, 'taxRate')
      ? { taxName: fieldValue(form, 'taxName'), taxRate: Number(fieldValue(form, 'taxRate')) }
      : {};

  const kinds = [
    ['order-form', 'Order form (several lines, a coupon)'],
    ['subscription', 'Subscription (first monthly charge)'],
    ['membership', 'Membership'],
    ['calendar', 'Calendar booking (appointment)'],
  ];
  const payLines = sandboxLines('pay', 3, [{ item: 'Consulting hour', amount: '120.00' }]);
  const payDiscount = h(
    'div',
    { class: 'stack tight' },
    field('pay', 'discount', `Coupon discount, ${currency} off the order (optional)`, {
      inputmode: 'decimal',
      pattern: '[0-9]+([.][0-9]{1,2})?',
    }),
  );
  const payKindHelp = h('p', { class: 'muted small', id: 'pay-kind-help' });
  const payForm = h(
    'form',
    { class: 'stack', 'aria-labelledby': 'pay-title' },
    h('h4', { id: 'pay-title' }, 'Take a payment'),
    h('label', { for: 'pay-kind' }, 'Kind of payment'),
    h(
      'select',
      { id: 'pay-kind', name: 'kind', 'aria-describedby': 'pay-kind-help' },
      kinds.map(([v, t]) => h('option', { value: v }, t)),
    ),
    payKindHelp,
    contactFields('pay', { firstName: 'Ada', lastName: 'Lovelace', email: 'ada@example.com' }),
    payLines.element,
    payDiscount,
    taxFields('pay', isUS ? {} : { taxName: 'HST', taxRate: '13' }),
    h('button', { type: 'submit' }, 'Take the payment'),
  );
  // Subscriptions, memberships and bookings are one product bought once: one line, no quantity, no coupon.
  const showKind = () => {
    const orderForm = payForm.kind.value === 'order-form';
    payLines.rows.forEach((row, n) => {
      row.hidden = !orderForm && n > 0;
      row.querySelector('.line-qty').hidden = !orderForm;
    });
    payDiscount.hidden = !orderForm;
    payKindHelp.textContent = {
      'order-form': 'A funnel or store checkout: each line with its quantity, less the coupon.',
      subscription: "The first charge of a monthly subscription to the first line's product.",
      membership: "A one-off membership offer for the first line's price.",
      calendar: "A paid appointment booked on a calendar, for the first line's service.",
    }[payForm.kind.value];
  };
  payForm.kind.addEventListener('change', showKind);
  showKind();
  payForm.addEventListener(
    'submit',
    submitting(payForm, payForm.querySelector('button[type="submit"]'), async () => {
      const kind = payForm.kind.value;
      const lines =
        kind === 'order-form'
          ? payLines.value()
          : payLines
              .value()
              .slice(0, 1)
              .map((l) => ({ ...l, qty: 1 }));
      const payload = { kind, ...contactOf(payForm), lines, ...taxOf(payForm) };
      if (kind === 'order-form' && fieldValue(payForm, 'discount'))
        payload.discount = Number(fieldValue(payForm, 'discount'));
      done(await api('POST', `${base}/take-payment`, payload));
      await loadCrmInvoices();
    }),
  );

  const invLines = sandboxLines('inv', 3, [
    { item: 'Workshop', qty: '2', amount: '450.00' },
    { item: 'Course book', qty: '3', amount: '25.00' },
    { item: 'Travel', amount: '80.00' },
  ]);
  const invForm = h(
    'form',
    { class: 'stack', 'aria-labelledby': 'inv-title' },
    h('h4', { id: 'inv-title' }, 'Send an invoice'),
    contactFields('inv', { firstName: 'Alan', lastName: 'Turing', email: 'alan@example.com' }),
    invLines.element,
    h('label', { for: 'inv-discount-type' }, 'Discount'),
    h(
      'select',
      { id: 'inv-discount-type', name: 'discountType' },
      h('option', { value: '' }, 'None'),
      h('option', { value: 'percentage', selected: true }, 'Percent off'),
      h('option', { value: 'fixed' }, `${currency} off`),
    ),
    field('inv', 'discountValue', 'Discount value', { inputmode: 'decimal', value: '10' }),
    taxFields('inv', isUS ? {} : { taxName: 'GST', taxRate: '5' }),
    h('button', { type: 'submit' }, 'Send the invoice'),
  );
  invForm.addEventListener(
    'submit',
    submitting(invForm, invForm.querySelector('button[type="submit"]'), async () => {
      const payload = { ...contactOf(invForm), lines: invLines.value(), ...taxOf(invForm) };
      if (invForm.discountType.value && fieldValue(invForm, 'discountValue'))
        payload.discount = { type: invForm.discountType.value, value: Number(fieldValue(invForm, 'discountValue')) };
      done(await api('POST', `${base}/send-invoice`, payload));
      await loadCrmInvoices();
    }),
  );

  // A payment of an invoice, whole or in part, on either side: the amount left empty pays what is due.
  const invoicePaymentForm = (prefix, title, invoiceLabel, button, path, listPath) => {
    const form = h(
      'form',
      { class: 'stack', 'aria-labelledby': `${prefix}-title` },
      h('h4', { id: `${prefix}-title` }, title),
      h('label', { for: `${prefix}-invoice` }, invoiceLabel),
      h(
        'select',
        { id: `${prefix}-invoice`, name: 'invoiceId', required: true },
        h('option', { value: '' }, 'Loading…'),
      ),
      h('label', { for: `${prefix}-amount` }, `Amount (${currency}; empty pays all that is due)`),
      h('input', { id: `${prefix}-amount`, name: 'amount', inputmode: 'decimal', pattern: '[0-9]+([.][0-9]{1,2})?' }),
      h('button', { type: 'submit' }, button),
    );
    const load = async () => {
      const { invoices } = await api('GET', `${base}/${listPath}`);
      const chosen = form.invoiceId.value;
      const money = moneyIn(card);
      // QuickBooks' open invoices come with their balance in minor units, shown in the company's currency.
      const labelOf = (i) =>
        i.balanceMinor === undefined
          ? i.label
          : `No. ${i.docNumber ?? i.id} — ${i.customer}, ${i.balanceMinor === null ? i.balance : money(i.balanceMinor, i.currency, i.exponent)} due${i.txnDate ? ` (${i.txnDate})` : ''}`;
      fill(
        form.invoiceId,
        invoices.length
          ? invoices.map((i) => h('option', { value: i.id, selected: i.id === chosen }, labelOf(i)))
          : h('option', { value: '' }, 'No open invoice'),
      );
    };
    form.addEventListener(
      'submit',
      submitting(form, form.querySelector('button'), async () => {
        const amount = form.amount.value.trim();
        done(
          await api('POST', `${base}/${path}`, {
            invoiceId: form.invoiceId.value,
            ...(amount ? { amount: Number(amount) } : {}),
          }),
        );
        form.amount.value = '';
        await load();
      }),
    );
    return { form, load };
  };
  const crmPaid = invoicePaymentForm(
    'crmpaid',
    'Record a payment of a CRM invoice',
    'Sent invoice',
    'Record the payment in the CRM',
    'crm-invoice-payment',
    'crm-open-invoices',
  );
  const qboPaid = invoicePaymentForm(
    'paid',
    'Record a payment of a QuickBooks invoice',
    'Open invoice',
    'Record the payment in QuickBooks',
    'mark-invoice-paid',
    'open-invoices',
  );
  const loadCrmInvoices = () => crmPaid.load().catch((error) => notify(error.message, 'error'));

  const stamp = Date.now().toString(36).slice(-4);
  const customerForm = h(
    'form',
    { class: 'stack', 'aria-labelledby': 'customer-title' },
    h('h4', { id: 'customer-title' }, 'Add a QuickBooks customer'),
    h('label', { for: 'cust-name' }, 'Display name'),
    h('input', { id: 'cust-name', name: 'displayName', required: true, value: `Grace Hopper ${stamp}` }),
    h('label', { for: 'cust-email' }, 'Email'),
    h('input', { id: 'cust-email', name: 'email', type: 'email', required: true, value: `grace.${stamp}@example.com` }),
    h('button', { type: 'submit' }, 'Add the customer in QuickBooks'),
  );
  customerForm.addEventListener(
    'submit',
    submitting(customerForm, customerForm.querySelector('button'), async () => {
      done(
        await api('POST', `${base}/add-customer`, {
          displayName: customerForm.displayName.value,
          email: customerForm.email.value,
        }),
      );
    }),
  );
  add(
    body,
    h('h2', {}, 'Sandbox'),
    h('p', { class: 'muted' }, 'Running against the local emulators: act on either side, then watch Activity.'),
    status,
    h(
      'div',
      { class: 'cols sandbox' },
      h(
        'section',
        { 'aria-labelledby': 'as-crm' },
        h('h3', { id: 'as-crm' }, 'As a CRM user'),
        payForm,
        invForm,
        crmPaid.form,
      ),
      h(
        'section',
        { 'aria-labelledby': 'as-books' },
        h('h3', { id: 'as-books' }, 'As a bookkeeper'),
        qboPaid.form,
        customerForm,
      ),
    ),
  );
  loadCrmInvoices();
  qboPaid.load().catch((error) => notify(error.message, 'error'));
}

// ---------- start ----------

document.getElementById('logout').addEventListener('click', async () => {
  await api('POST', '/api/auth/logout').catch(() => {});
  go('/login');
});
// A notice belongs to the page it was shown on.
window.addEventListener('hashchange', () => {
  noticeBox.replaceChildren();
  render();
});
// The OAuth round trips come back with ?notice=<code>. Only these fixed sentences are ever shown for it, so a link
// crafted with words in its address cannot put them in the banner; the particulars (which connection, why it failed)
// come from the server, for this session, once.
const NOTICES = {
  'login-first': ['error', 'Log in, then start connecting again.'],
  'highlevel-denied': ['error', 'HighLevel did not authorise ledgerlink: nothing was changed.'],
  'highlevel-installed': ['ok', 'The HighLevel location is installed: connect its QuickBooks company next.'],
  'highlevel-reconnected': ['ok', 'The HighLevel location is connected again.'],
  'highlevel-failed': ['error', 'Connecting HighLevel failed.'],
  'quickbooks-denied': ['error', 'QuickBooks was not connected: the authorisation was cancelled or refused.'],
  'quickbooks-connected': ['ok', 'QuickBooks is connected: new records sync from now on.'],
  'quickbooks-failed': ['error', 'Connecting QuickBooks failed.'],
  'highlevel-waiting': [
    'warning',
    'HighLevel is reconnected, but the connection is not syncing yet: the other side needs reconnecting too.',
  ],
  'quickbooks-switched': [
    'ok',
    'The connection now syncs to the QuickBooks company just chosen; the links to the previous company are set aside.',
  ],
  'quickbooks-kept': ['ok', 'The connection was not changed: it stays with its QuickBooks company.'],
  'quickbooks-kept-unrevoked': [
    'error',
    'The connection was not changed, but ledgerlink could not give up its access to the company just chosen.',
  ],
  'quickbooks-switch-failed': ['error', 'Switching the QuickBooks company failed: the connection was not changed.'],
  'quickbooks-waiting': [
    'warning',
    'QuickBooks is reconnected, but the connection is not syncing yet: the other side needs reconnecting too.',
  ],
};

async function showReturnNotice() {
  const code = new URLSearchParams(location.search).get('notice');
  if (code === null) return;
  history.replaceState(null, '', `/${location.hash}`);
  if (!Object.hasOwn(NOTICES, code)) return;
  const [kind, text] = NOTICES[code];
  notify(text, kind);
  if (code === 'login-first') return;
  const particulars = await api('GET', `/api/connect-notice?code=${encodeURIComponent(code)}`).catch(() => null);
  if (particulars?.text) notify(particulars.text, kind);
}
showReturnNotice();
render();
