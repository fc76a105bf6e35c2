// The ledgerlink dashboard: plain JavaScript over the JSON API (/api/openapi.json describes it). Pages are
// hash routes; every element is built with h() (text goes in as text nodes, never as HTML).

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
  }
}

async function api(method, path, body) {
  const response = await fetch(path, {
    method,
    headers: body === undefined ? { accept: 'application/json' } : { accept: 'application/json', 'content-type': 'application/json' },
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
  noticeBox.replaceChildren(h('p', { class: `notice ${kind}` }, text, ' ', h('button', { type: 'button', class: 'link', onclick: () => noticeBox.replaceChildren() }, 'Dismiss')));
}

function go(route) {
  if (location.hash !== `#${route}`) location.hash = route;
  else render();
}

const dateTime = (iso) => (iso ? new Date(iso).toLocaleString() : '—');
const flowNames = {
  salesReceipts: 'Sales receipts', invoices: 'Invoices', customers: 'Customers', connection: 'Connection', polling: 'Polling',
  contactImport: 'Contact import', invoiceImport: 'Invoice import', reviewRequests: 'Review requests',
};
const flowName = (flow) => flowNames[flow] ?? flow;
const statusText = {
  pending: 'Waiting for QuickBooks', connected: 'Connected', 'token-expiring': 'Token expiring: reconnect soon', revoked: 'Revoked', paused: 'Paused', disconnected: 'Disconnected',
};
const money = (minor, currency) => (minor === null || minor === undefined ? '—' : `${(minor / 100).toFixed(2)}${currency ? ` ${currency}` : ''}`);

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
let auth = { setupNeeded: false, user: null };

async function render() {
  clearInterval(timer);
  const route = location.hash.replace(/^#/, '') || '/connections';
  try {
    auth = await api('GET', '/api/auth/state');
    topNav.hidden = !auth.user;
    if (!auth.user) return auth.setupNeeded ? renderSetup() : renderLogin();
    if (route === '/login') return go('/connections');
    const parts = route.split('/').filter(Boolean).map(decodeURIComponent);
    if (parts[0] === 'connections' && parts[1]) {
      if (parts[2] === 'record') return renderRecord(parts[1], parts[3], parts[4], parts[5]);
      return renderConnection(parts[1], parts[2] ?? 'activity');
    }
    return renderConnections();
  } catch (error) {
    if (error.status !== 401) page('Something went wrong', h('p', { class: 'error' }, error.message));
  }
}

// ---------- login and setup ----------

function renderLogin() {
  const status = h('p', { role: 'alert', class: 'error' });
  const form = h('form', { class: 'stack narrow', 'aria-describedby': 'login-help' },
    h('p', { id: 'login-help' }, 'Log in with the admin account. ', h('span', { class: 'muted' }, 'The demo prints its user and password when it starts.')),
    h('label', { for: 'username' }, 'User name'),
    h('input', { id: 'username', name: 'username', autocomplete: 'username', required: true, value: 'admin' }),
    h('label', { for: 'password' }, 'Password'),
    h('input', { id: 'password', name: 'password', type: 'password', autocomplete: 'current-password', required: true }),
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
  const form = h('form', { class: 'stack narrow' },
    h('p', {}, 'No admin account exists yet. Create it now with the setup code printed in the server log.'),
    h('label', { for: 'setup-code' }, 'Setup code'),
    h('input', { id: 'setup-code', name: 'setupCode', required: true, autocomplete: 'one-time-code' }),
    h('label', { for: 'username' }, 'User name'),
    h('input', { id: 'username', name: 'username', required: true, value: 'admin', autocomplete: 'username' }),
    h('label', { for: 'password' }, 'Password (at least 10 characters)'),
    h('input', { id: 'password', name: 'password', type: 'password', minlength: 10, required: true, autocomplete: 'new-password' }),
    h('button', { type: 'submit' }, 'Create the admin account'),
    status,
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    try {
      await api('POST', '/api/auth/setup', { setupCode: form.setupCode.value, username: form.username.value, password: form.password.value });
      go('/connections');
    } catch (error) {
      status.textContent = error.message;
    }
  });
  page('Set up ledgerlink', form);
}

// ---------- connections ----------

function statusBadge(status) {
  return h('span', { class: `badge ${status}` }, statusText[status] ?? status);
}

async function renderConnections() {
  const [{ connections }, { refusals, sampleMinutes }] = await Promise.all([api('GET', '/api/connections'), api('GET', '/api/webhook-refusals')]);
  const add = h('button', { type: 'button' }, 'Add a connection (install on a HighLevel location)');
  add.addEventListener('click', busy(add, async () => {
    const { authorizeUrl } = await api('POST', '/api/connections/connect-highlevel');
    location.assign(authorizeUrl);
  }));
  page('Connections',
    h('p', { class: 'muted' }, 'Each connection pairs one HighLevel location with one QuickBooks company.'),
    connections.length === 0 ? h('p', {}, 'No connection yet.') : h('ul', { class: 'cards' }, connections.map((c) =>
      h('li', { class: 'card' },
        h('h2', {}, h('a', { href: `#/connections/${encodeURIComponent(c.id)}` }, c.name)),
        h('p', {}, statusBadge(c.status), c.counts.openErrors ? h('span', { class: 'badge error' }, `${c.counts.openErrors} open error${c.counts.openErrors === 1 ? '' : 's'}`) : null, failingSideBadges(c)),
        h('dl', { class: 'facts' },
          h('dt', {}, 'QuickBooks'), h('dd', {}, c.quickbooks ? `${c.quickbooks.country ?? ''} ${c.quickbooks.homeCurrency ?? ''} · realm ${c.quickbooks.realmId}` : 'not connected'),
          h('dt', {}, 'HighLevel'), h('dd', {}, c.highlevel ? `location ${c.highlevel.locationId}` : 'not connected'),
          h('dt', {}, 'Connected since'), h('dd', {}, dateTime(c.connectedAt)),
        ),
      ))),
    add,
    refusals.length ? h('details', { class: 'refusals', id: 'webhook-refusals' },
      h('summary', {}, `Refused webhooks: ${refusals.reduce((n, r) => n + r.count, 0)}`),
      h('p', { class: 'muted' }, `Webhooks without a valid signature are refused, counted per reason and never stored; the activity list shows at most one per reason every ${sampleMinutes} minutes.`),
      h('ul', {}, refusals.map((r) => h('li', {}, `${r.provider === 'quickbooks' ? 'QuickBooks' : 'HighLevel'}: ${r.reason} — ${r.count} since ${dateTime(r.firstSeenAt)}, last ${dateTime(r.lastSeenAt)}`)))) : null,
  );
}

function progressBar(label, value) {
  if (!value) return null;
  const id = `p-${label.replace(/\W+/g, '-')}`;
  return h('div', { class: 'progress' },
    h('label', { for: id }, `${label}: ${value.done} of ${value.total}`),
    h('progress', { id, max: Math.max(value.total, 1), value: value.done }, `${value.done} of ${value.total}`));
}

// How review requests are sent: a direct text/email (works on any location), one of the location's own workflows
// (a new location has none), or a tag a workflow starts on. `data` is GET /review-requests.
function reviewRequestChooser(data) {
  const current = data.mechanism;
  const workflows = data.workflows ?? [];
  const radio = (value, label, disabled) => h('div', { class: 'check' },
    h('input', { type: 'radio', name: 'rr-method', id: `rr-${value}`, value, checked: current.method === value && !disabled, disabled }),
    h('label', { for: `rr-${value}` }, label));
  const channel = h('select', { id: 'rr-channel' },
    [['auto', 'SMS, or email when the contact has no phone'], ['SMS', 'SMS only'], ['Email', 'Email only']].map(([v, t]) => h('option', { value: v, selected: (current.channel ?? 'auto') === v }, t)));
  const link = h('input', { id: 'rr-link', type: 'url', placeholder: 'https://g.page/r/…/review', value: current.reviewLink ?? '' });
  const workflow = h('select', { id: 'rr-workflow', disabled: workflows.length === 0 },
    workflows.length ? workflows.map((w) => h('option', { value: w.id, selected: w.id === current.workflowId }, `${w.name}${w.status === 'draft' ? ' (draft: HighLevel may not run it until published)' : ''}`)) : h('option', { value: '' }, 'No workflow on this location'));
  const tag = h('input', { id: 'rr-tag', value: current.tag ?? 'review request', maxlength: 100 });
  const noWorkflows = data.workflowsError ?? (workflows.length ? null : 'This location has no workflows yet: build one in HighLevel (Automation > Workflows) to use it here, or keep the text/email.');
  const element = h('fieldset', { class: 'stack', id: 'review-request-method' }, h('legend', {}, 'How to ask for a review'),
    radio('message', 'A text or email from ledgerlink (works on any location, no setup)'),
    h('div', { class: 'indent stack' },
      h('label', { for: 'rr-channel' }, 'Channel'), channel,
      h('label', { for: 'rr-link' }, 'Your review page link (optional; without it the message asks for a reply)'), link),
    radio('workflow', "Enrol the contact in one of this location's HighLevel workflows", workflows.length === 0),
    h('div', { class: 'indent stack' }, h('label', { for: 'rr-workflow' }, 'Workflow'), workflow, noWorkflows ? h('p', { class: 'muted small' }, noWorkflows) : null),
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
    return { method: 'message', channel: channel.value, ...(link.value.trim() ? { reviewLink: link.value.trim() } : {}) };
  };
  return { element, value };
}

function integrationCard(c, refresh) {
  const card = h('section', { class: 'card integration', 'aria-labelledby': 'card-title' });
  const title = h('h2', { id: 'card-title' }, 'Integration');
  const connectForm = () => {
    const form = h('form', { class: 'stack', 'aria-label': 'Connect QuickBooks' },
      h('p', {}, c.quickbooks ? 'Reconnect the QuickBooks company (history is kept).' : 'Choose what to do, then connect the QuickBooks company.'),
      h('div', { class: 'check' }, h('input', { type: 'checkbox', id: 'import-old', name: 'importOldInvoices', checked: c.importOldInvoices }), h('label', { for: 'import-old' }, 'Import old invoices from QuickBooks into the CRM (once)')),
      h('div', { class: 'check' }, h('input', { type: 'checkbox', id: 'review-requests', name: 'reviewRequests', checked: c.reviewRequests }), h('label', { for: 'review-requests' }, 'Send review requests when a first invoice is paid in full')),
      h('div', { id: 'review-request-choice' }),
      h('button', { type: 'submit' }, 'Connect QuickBooks'),
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
    form.reviewRequests.addEventListener('change', () => showChooser().catch((error) => notify(error.message, 'error')));
    showChooser().catch((error) => notify(error.message, 'error'));
    form.addEventListener('submit', busy(button, async () => {
      const choices = { importOldInvoices: form.importOldInvoices.checked, reviewRequests: form.reviewRequests.checked };
      if (choices.reviewRequests && chooser) choices.reviewRequest = chooser.value();
      const { authorizeUrl } = await api('POST', `/api/connections/${encodeURIComponent(c.id)}/connect-quickbooks`, choices);
      location.assign(authorizeUrl);
    }));
    return form;
  };
  // The review-request mechanism in force, its problem if any, and the form to change it.
  const reviewRequestStatus = () => {
    const box = h('div', { class: 'stack', id: 'review-request-status' });
    const change = h('button', { type: 'button', class: 'link' }, 'Change how review requests are sent');
    const editor = h('div');
    change.addEventListener('click', busy(change, async () => {
      const chooser = reviewRequestChooser(await api('GET', `/api/connections/${encodeURIComponent(c.id)}/review-requests`));
      const save = h('button', { type: 'button' }, 'Save');
      save.addEventListener('click', busy(save, async () => {
        const answer = await api('PUT', `/api/connections/${encodeURIComponent(c.id)}/review-requests`, { mechanism: chooser.value() });
        notify(`Review requests: ${answer.description}${answer.resumed ? `. ${answer.resumed} waiting request${answer.resumed === 1 ? '' : 's'} sent again` : ''}`);
        await refresh();
      }));
      fill(editor, chooser.element, save);
      change.hidden = true;
    }));
    add(box,
      h('p', {}, h('span', { class: 'muted' }, 'Review requests are sent by: '), c.reviewRequest.description),
      c.reviewRequest.problem ? h('p', { class: 'error', role: 'alert' }, c.reviewRequest.problem) : null,
      change, editor);
    return box;
  };
  const toggles = () => {
    const make = (id, key, label) => {
      const box = h('input', { type: 'checkbox', id, checked: c[key] });
      box.addEventListener('change', async () => {
        box.disabled = true;
        try {
          await api('PATCH', `/api/connections/${encodeURIComponent(c.id)}/settings`, { [key]: box.checked });
          notify(`${label}: ${box.checked ? 'on' : 'off'}`);
        } catch (error) {
          box.checked = !box.checked;
          notify(error.message, 'error');
        } finally {
          box.disabled = false;
        }
      });
      return h('div', { class: 'check' }, box, h('label', { for: id }, label));
    };
    return h('fieldset', {}, h('legend', {}, 'Settings'),
      make('import-old', 'importOldInvoices', 'Import old invoices'),
      make('review-requests', 'reviewRequests', 'Send review requests'),
      reviewRequestStatus());
  };
  const actions = h('div', { class: 'actions' });
  const action = (label, path, confirmText, cls) => {
    const b = h('button', { type: 'button', class: cls }, label);
    b.addEventListener('click', busy(b, async () => {
      if (confirmText && !window.confirm(confirmText)) return;
      const answer = await api('POST', `/api/connections/${encodeURIComponent(c.id)}/${path}`);
      notify(answer.notes?.length ? `${label}: done. ${answer.notes.join(' ')}` : `${label}: done`);
      await refresh();
    }));
    actions.append(b);
  };
  if (c.status === 'connected' || c.status === 'token-expiring') action('Pause', 'pause');
  if (c.status === 'paused') action('Resume', 'resume');
  if (c.status !== 'disconnected' && c.status !== 'pending') action('Disconnect', 'disconnect', 'Disconnect? Tokens are revoked where the provider allows; the history is kept.', 'danger');

  const lastSync = Object.entries(c.lastSync);
  const counts = Object.entries(c.counts);
  add(card,
    title,
    h('p', {}, statusBadge(c.status), c.statusReason ? h('span', { class: 'muted' }, ` ${c.statusReason}`) : null),
    c.builtInQuickBooks?.warning ? h('p', { class: 'error', id: 'built-in-quickbooks-warning' }, h('strong', {}, 'Warning: '), c.builtInQuickBooks.warning) : null,
    failingSidesNotice(c, card, refresh),
    h('dl', { class: 'facts' },
      h('dt', {}, 'Connected since'), h('dd', {}, dateTime(c.connectedAt)),
      h('dt', {}, 'QuickBooks company'), h('dd', {}, c.quickbooks ? `realm ${c.quickbooks.realmId} (${c.quickbooks.country}, ${c.quickbooks.homeCurrency})` : 'not connected'),
      h('dt', {}, 'HighLevel location'), h('dd', {}, c.highlevel ? c.highlevel.locationId : 'not connected'),
    ),
    progressBar('Customer import', c.progress.customerImport),
    progressBar('Old-invoice import', c.progress.invoiceImport),
    ['pending', 'disconnected', 'revoked'].includes(c.status) && c.highlevel ? connectForm() : toggles(),
    h('div', { class: 'cols' },
      h('section', { 'aria-labelledby': 'last-sync' }, h('h3', { id: 'last-sync' }, 'Last successful sync'),
        lastSync.length ? h('dl', { class: 'facts' }, lastSync.map(([flow, at]) => [h('dt', {}, flowName(flow)), h('dd', {}, dateTime(at))])) : h('p', { class: 'muted' }, 'Nothing synced yet.')),
      h('section', { 'aria-labelledby': 'counts' }, h('h3', { id: 'counts' }, 'Counts'),
        h('dl', { class: 'facts' }, counts.map(([kind, n]) => [h('dt', {}, kind === 'openErrors' ? 'Open errors' : `Linked ${kind}`), h('dd', {}, String(n))]))),
    ),
    actions,
  );
  return card;
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
  return h('section', { class: 'failing', id: 'failing-sides', role: 'status', 'aria-labelledby': 'failing-title' },
    h('h3', { id: 'failing-title' }, failing.some((f) => f.needsAttention) ? 'Needs attention: a provider keeps failing' : 'A provider is failing; ledgerlink keeps trying'),
    failing.map((f) => h('div', { class: 'failing-side' },
      h('p', {}, h('strong', {}, `${SIDE_NAMES[f.side]} is failing`), ` since ${dateTime(f.since)}.`),
      h('dl', { class: 'facts' },
        h('dt', {}, 'Records waiting'), h('dd', {}, String(f.waitingRecords)),
        h('dt', {}, 'Next try'), h('dd', {}, f.nextTryAt ? `${dateTime(f.nextTryAt)} (${inSeconds(f.nextTryAt)})` : f.waitingRecords === 0 && f.gaveUpRecords === 0 ? 'a first try is under way' : 'none scheduled'),
        f.gaveUpRecords ? [h('dt', {}, 'Out of tries'), h('dd', {}, `${f.gaveUpRecords} record${f.gaveUpRecords === 1 ? '' : 's'}: open errors with a Retry button`)] : null,
        h('dt', {}, `Last answer`), h('dd', {}, `${f.lastError} (${dateTime(f.lastFailureAt)})`),
      ),
    )),
    h('p', { class: 'muted small' }, 'Nothing is lost: each waiting record is synced once the provider answers again, and this notice goes by itself.'),
  );
}

const SECTIONS = [
  ['activity', 'Activity'],
  ['reconciliation', 'Reconciliation'],
  ['tax-codes', 'Tax codes'],
  ['sandbox', 'Sandbox'],
];

async function renderConnection(id, section) {
  const base = `/api/connections/${encodeURIComponent(id)}`;
  const [card, sandbox] = await Promise.all([api('GET', base), api('GET', '/api/sandbox')]);
  const sections = SECTIONS.filter(([key]) => (key !== 'sandbox' || sandbox.enabled) && (key !== 'tax-codes' || card.taxModel === 'global'));
  const body = h('div', { id: 'section' });
  const holder = h('div');
  const refreshCard = async () => holder.replaceChildren(integrationCard(await api('GET', base), refreshCard));
  holder.append(integrationCard(card, refreshCard));
  page(card.name,
    holder,
    h('nav', { class: 'tabs', 'aria-label': 'Connection' }, sections.map(([key, label]) =>
      h('a', { href: `#/connections/${encodeURIComponent(id)}/${key}`, 'aria-current': key === section ? 'page' : null }, label))),
    body,
  );
  const live = card.quickbooks && card.highlevel && !['disconnected', 'revoked'].includes(card.status);
  if (!live && section !== 'activity') {
    add(body, h('p', {}, 'Connect both sides first.'));
    return;
  }
  if (section === 'reconciliation') return renderReconciliation(id, body);
  if (section === 'tax-codes') return renderTaxCodes(id, body);
  if (section === 'sandbox' && sandbox.enabled) return renderSandbox(id, card, body);
  return renderActivity(id, body);
}

// ---------- activity ----------

function recordLink(connectionId, side, kind, recordId) {
  const type = side === 'quickbooks' ? kind : kind.toLowerCase();
  return h('a', { href: `#/connections/${encodeURIComponent(connectionId)}/record/${side}/${encodeURIComponent(type)}/${encodeURIComponent(recordId)}` },
    `${side === 'quickbooks' ? 'QuickBooks' : 'CRM'} ${kind} ${recordId}`);
}

function detailList(detail) {
  const entries = Object.entries(detail).filter(([key]) => key !== 'fix');
  if (entries.length === 0) return null;
  return h('details', {}, h('summary', {}, 'What changed and details'),
    h('dl', { class: 'facts' }, entries.map(([key, value]) => [h('dt', {}, key), h('dd', {}, typeof value === 'object' ? JSON.stringify(value) : String(value))])));
}

async function renderActivity(id, body) {
  const base = `/api/connections/${encodeURIComponent(id)}`;
  const filters = h('form', { class: 'filters', role: 'search', 'aria-label': 'Filter activity' },
    h('div', {}, h('label', { for: 'f-flow' }, 'Flow'), h('select', { id: 'f-flow', name: 'flow' }, h('option', { value: '' }, 'All flows'))),
    h('div', {}, h('label', { for: 'f-status' }, 'Status'), h('select', { id: 'f-status', name: 'status' },
      h('option', { value: '' }, 'All'), h('option', { value: 'ok' }, 'Synced'), h('option', { value: 'error' }, 'Errors'), h('option', { value: 'skipped' }, 'Skipped'), h('option', { value: 'info' }, 'Info'))),
    h('div', {}, h('label', { for: 'f-text' }, 'Search'), h('input', { id: 'f-text', name: 'text', type: 'search', placeholder: 'name, id, message' })),
    h('div', { class: 'check' }, h('input', { type: 'checkbox', id: 'f-open', name: 'openErrors' }), h('label', { for: 'f-open' }, 'Open errors only')),
  );
  const retryAll = h('button', { type: 'button' }, 'Retry all open errors');
  const list = h('ol', { class: 'activity', 'aria-label': 'Activity, newest first' });
  const more = h('button', { type: 'button', class: 'link', hidden: true }, 'Show older');
  add(body, h('h2', {}, 'Activity'), filters, h('div', { class: 'actions' }, retryAll), list, more);
  let flowsShown = '';
  let nextBeforeId = null;

  const row = (e) => h('li', { class: `entry ${e.status}${e.resolvedAt ? ' resolved' : ''}`, 'data-id': e.id },
    h('p', { class: 'meta' }, h('span', { class: `badge ${e.status}${e.warnings?.length ? ' warning' : ''}` }, e.status === 'ok' ? (e.warnings?.length ? 'synced, with warnings' : 'synced') : e.status), ' ', h('span', {}, flowName(e.flow)), ' · ', h('time', { datetime: e.createdAt }, dateTime(e.createdAt)),
      // One open error per record and cause: met again, it is counted here instead of listed again.
      e.occurrences > 1 ? h('span', { class: 'occurrences' }, ` · seen ${e.occurrences} times, last `, h('time', { datetime: e.lastSeenAt }, dateTime(e.lastSeenAt))) : null,
      e.resolvedAt ? ' · resolved' : ''),
    h('p', { class: 'message' }, e.message),
    e.crm || e.quickbooks ? h('p', { class: 'links' }, e.crm ? recordLink(id, 'highlevel', e.crm.kind, e.crm.id) : null, e.crm && e.quickbooks ? ' ↔ ' : null, e.quickbooks ? recordLink(id, 'quickbooks', e.quickbooks.kind, e.quickbooks.id) : null) : null,
    e.fix && !e.resolvedAt ? h('p', { class: 'fix' }, h('strong', {}, 'What to do: '), e.fix) : null,
    detailList(e.detail),
    e.retryable ? (() => {
      const b = h('button', { type: 'button' }, 'Retry');
      b.addEventListener('click', busy(b, async () => {
        try {
          await api('POST', `${base}/activity/${e.id}/retry`);
          notify('Retrying: the job runs again');
        } catch (error) {
          // A later sync of the same record may have resolved it meanwhile (the poller, a webhook).
          if (error.status !== 409) throw error;
          notify(`Not retried: ${error.message}`, 'error');
        }
        await load();
      }));
      return b;
    })() : null,
  );

  async function load(append = false) {
    const params = new URLSearchParams({ limit: '50' });
    if (filters.flow.value) params.set('flow', filters.flow.value);
    if (filters.status.value) params.set('status', filters.status.value);
    if (filters.text.value.trim()) params.set('text', filters.text.value.trim());
    if (filters.openErrors.checked) params.set('openErrors', 'true');
    if (append && nextBeforeId) params.set('beforeId', String(nextBeforeId));
    const answer = await api('GET', `${base}/activity?${params}`);
    if (answer.flows.join() !== flowsShown) {
      flowsShown = answer.flows.join();
      const current = filters.flow.value;
      fill(filters.flow, h('option', { value: '' }, 'All flows'), answer.flows.map((f) => h('option', { value: f, selected: f === current }, flowName(f))));
    }
    const rows = answer.entries.map(row);
    if (append) list.append(...rows);
    else fill(list, rows.length ? rows : h('li', { class: 'muted' }, 'Nothing matches.'));
    nextBeforeId = answer.nextBeforeId;
    more.hidden = !nextBeforeId;
  }
  filters.addEventListener('change', () => load());
  filters.addEventListener('submit', (event) => { event.preventDefault(); load(); });
  filters.text.addEventListener('input', () => { clearTimeout(filters.pending); filters.pending = setTimeout(load, 250); });
  more.addEventListener('click', () => load(true));
  retryAll.addEventListener('click', busy(retryAll, async () => {
    const answer = await api('POST', `${base}/activity/retry-all`);
    notify(`Retrying ${answer.retried + answer.alreadyQueued} record${answer.retried + answer.alreadyQueued === 1 ? '' : 's'}`);
    await load();
  }));
  await load();
  // New activity appears by itself (this is how one watches a payment arrive); focus and open details stay put
  // because the list is only rebuilt when nothing in it is focused or open.
  timer = setInterval(() => {
    if (document.hidden || list.contains(document.activeElement) || list.querySelector('details[open]') || nextBeforeId && list.children.length > 50) return;
    load().catch(() => {});
  }, 2000);
}

// ---------- record ----------

async function renderRecord(id, side, type, recordId) {
  const answer = await api('GET', `/api/connections/${encodeURIComponent(id)}/records/${side}/${encodeURIComponent(type)}/${encodeURIComponent(recordId)}`);
  page(`${side === 'quickbooks' ? 'QuickBooks' : 'HighLevel'} ${type} ${recordId}`,
    h('p', {}, h('a', { href: `#/connections/${encodeURIComponent(id)}/activity` }, '← Back to activity'),
      answer.externalUrl ? [' · ', h('a', { href: answer.externalUrl, rel: 'noopener noreferrer', target: '_blank' }, `Open in ${side === 'quickbooks' ? 'QuickBooks' : 'HighLevel'}`)] : null),
    h('p', { class: 'muted' }, 'As the provider holds it now.'),
    h('pre', { class: 'record', tabindex: '0', 'aria-label': 'Record' }, JSON.stringify(answer.record, null, 2)));
}

// ---------- reconciliation ----------

const kindNames = { customers: 'Customers', invoices: 'Invoices', salesReceipts: 'Sales receipts', payments: 'Payments' };
const problemNames = { missingInQuickBooks: 'Missing in QuickBooks', missingInCrm: 'Missing in the CRM', amountDiffers: 'Amounts differ' };

async function renderReconciliation(id, body) {
  const base = `/api/connections/${encodeURIComponent(id)}`;
  const compare = h('button', { type: 'button' }, 'Compare again');
  const resync = h('button', { type: 'button' }, 'Re-sync the differences');
  const out = h('div', { 'aria-live': 'polite' }, h('p', {}, 'Reading both sides…'));
  add(body, h('h2', {}, 'Reconciliation'), h('p', { class: 'muted' }, 'Both APIs are read and compared record by record, since the connection date.'), h('div', { class: 'actions' }, compare, resync), out);
  const show = (r) => {
    const total = r.kinds.reduce((n, k) => n + k.differences.length, 0);
    fill(out, 
      h('p', {}, `Computed ${dateTime(r.computedAt)}; ${total === 0 ? 'both sides agree.' : `${total} difference${total === 1 ? '' : 's'}.`}`),
      h('table', { class: 'recon' },
        h('caption', {}, 'Per kind'),
        h('thead', {}, h('tr', {}, ['Kind', 'Matched', 'Missing in QuickBooks', 'Missing in the CRM', 'Amounts differ'].map((t) => h('th', { scope: 'col' }, t)))),
        h('tbody', {}, r.kinds.map((k) => h('tr', {}, h('th', { scope: 'row' }, kindNames[k.kind]), h('td', {}, k.matched), h('td', {}, k.missingInQuickBooks), h('td', {}, k.missingInCrm), h('td', {}, k.amountDiffers))))),
      total ? h('section', { 'aria-labelledby': 'diffs' }, h('h3', { id: 'diffs' }, 'Differences'),
        h('ul', { class: 'diffs' }, r.kinds.flatMap((k) => k.differences.map((d) => h('li', {},
          h('span', { class: 'badge error' }, problemNames[d.problem]), ' ', d.label,
          d.problem === 'amountDiffers' ? ` (CRM ${money(d.crmAmountMinor, d.currency)}, QuickBooks ${money(d.qboAmountMinor, d.currency)})` : '',
          d.resyncable ? '' : h('span', { class: 'muted' }, ' — no flow re-syncs this yet')))))) : null,
    );
    resync.disabled = total === 0;
  };
  const load = async (refresh) => {
    fill(out, h('p', {}, 'Reading both sides…'));
    show(await api('GET', `${base}/reconciliation${refresh ? '?refresh=true' : ''}`));
  };
  compare.addEventListener('click', busy(compare, () => load(true)));
  resync.addEventListener('click', busy(resync, async () => {
    const r = await api('POST', `${base}/reconciliation/resync`, {});
    notify(`Re-sync: ${r.enqueued} job${r.enqueued === 1 ? '' : 's'} queued${r.alreadyQueued ? `, ${r.alreadyQueued} already waiting` : ''}${r.notCovered ? `, ${r.notCovered} not covered by a flow` : ''}. Watch Activity.`);
  }));
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
  const select = (id2, chosen, label) => h('select', { id: id2, 'aria-label': label }, h('option', { value: '' }, 'Choose a QuickBooks tax code'), data.codes.map((c) => h('option', { value: c.id, selected: c.id === chosen }, codeLabel(c))));
  const rows = [];
  const tbody = h('tbody');
  const describeTaxes = (taxes) => taxes.map((t) => `${t.name} ${t.rate}%`).join(' + ');
  const addRow = (taxes, chosen, note) => {
    const n = rows.length;
    const sel = select(`code-${n}`, chosen, `QuickBooks tax code for ${describeTaxes(taxes)}`);
    const remove = h('button', { type: 'button', class: 'link' }, 'Remove');
    const tr = h('tr', {}, h('th', { scope: 'row' }, describeTaxes(taxes), note ? h('div', { class: 'muted small' }, note) : null), h('td', {}, sel), h('td', {}, remove));
    const entry = { taxes, sel, tr };
    remove.addEventListener('click', () => { rows.splice(rows.indexOf(entry), 1); tr.remove(); });
    rows.push(entry);
    tbody.append(tr);
  };
  for (const m of data.mappings) addRow(m.taxes, m.taxCodeId);
  for (const u of data.unmapped) addRow(u.taxes, '', 'Waiting for a code (an error names it)');
  const addForm = h('form', { class: 'filters', 'aria-label': 'Map another CRM tax' },
    h('div', {}, h('label', { for: 'new-tax-name' }, 'CRM tax name'), h('input', { id: 'new-tax-name', required: true })),
    h('div', {}, h('label', { for: 'new-tax-rate' }, 'Rate %'), h('input', { id: 'new-tax-rate', inputmode: 'decimal', required: true, pattern: '[0-9]+([.][0-9]+)?' })),
    h('div', {}, h('button', { type: 'submit' }, 'Add')),
  );
  addForm.addEventListener('submit', (event) => {
    event.preventDefault();
    addRow([{ name: addForm.querySelector('#new-tax-name').value.trim(), rate: addForm.querySelector('#new-tax-rate').value.trim() }], '');
    addForm.reset();
  });
  const save = h('button', { type: 'button' }, 'Save the mapping');
  save.addEventListener('click', busy(save, async () => {
    const mappings = rows.filter((r) => r.sel.value).map((r) => ({ taxes: r.taxes, taxCodeId: r.sel.value }));
    const answer = await api('PUT', `${base}/tax-codes`, { mappings });
    notify(`Saved ${answer.mappings} mapping${answer.mappings === 1 ? '' : 's'}. Retry the errors that named these taxes.`);
  }));
  add(body, 
    h('p', { class: 'muted' }, 'A CRM tax is matched to a QuickBooks tax code by rate and name; when that is ambiguous or impossible, choose the code here.'),
    h('table', { class: 'mapping' }, h('caption', {}, 'CRM tax → QuickBooks tax code'),
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'CRM tax'), h('th', { scope: 'col' }, 'QuickBooks tax code'), h('th', { scope: 'col' }, h('span', { class: 'visually-hidden' }, 'Remove')))),
      tbody),
    addForm,
    h('div', { class: 'actions' }, save),
  );
}

// ---------- sandbox ----------

function renderSandbox(id, card, body) {
  const base = `/api/connections/${encodeURIComponent(id)}/sandbox`;
  const status = h('p', { role: 'status', 'aria-live': 'polite', class: 'sandbox-status' });
  const done = (answer) => { status.textContent = answer.message; notify(answer.message); };
  const isUS = card.taxModel === 'US';
  const crmForm = (prefix, title, button, path, defaults) => {
    const field = (name, label, attrs = {}) => [h('label', { for: `${prefix}-${name}` }, label), h('input', { id: `${prefix}-${name}`, name, ...attrs })];
    const form = h('form', { class: 'stack', 'aria-labelledby': `${prefix}-title` },
      h('h4', { id: `${prefix}-title` }, title),
      field('firstName', 'First name', { required: true, value: defaults.firstName }),
      field('lastName', 'Last name', { value: defaults.lastName }),
      field('email', 'Email', { type: 'email', required: true, value: defaults.email }),
      field('itemName', 'Item', { required: true, value: defaults.item }),
      field('amount', `Amount (${card.quickbooks?.homeCurrency ?? ''})`, { inputmode: 'decimal', required: true, value: defaults.amount, pattern: '[0-9]+([.][0-9]{1,2})?' }),
      isUS ? null : field('taxName', 'Tax name (optional)', { value: defaults.taxName ?? '' }),
      isUS ? null : field('taxRate', 'Tax rate % (optional)', { inputmode: 'decimal', value: defaults.taxRate ?? '' }),
      h('button', { type: 'submit' }, button),
    );
    const submit = form.querySelector('button');
    form.addEventListener('submit', busy(submit, async () => {
      // namedItem: elements['item'] would be the collection's own item() method.
      const value = (n) => form.elements.namedItem(n)?.value?.trim() ?? '';
      const payload = { firstName: value('firstName'), lastName: value('lastName'), email: value('email'), item: value('itemName'), amount: Number(value('amount')) };
      if (value('taxName') && value('taxRate')) Object.assign(payload, { taxName: value('taxName'), taxRate: Number(value('taxRate')) });
      done(await api('POST', `${base}/${path}`, payload));
    }));
    return form;
  };
  const stamp = Date.now().toString(36).slice(-4);
  const paidForm = h('form', { class: 'stack', 'aria-labelledby': 'paid-title' },
    h('h4', { id: 'paid-title' }, 'Mark a QuickBooks invoice paid'),
    h('label', { for: 'paid-invoice' }, 'Open invoice'),
    h('select', { id: 'paid-invoice', name: 'invoiceId', required: true }, h('option', { value: '' }, 'Loading…')),
    h('button', { type: 'submit' }, 'Record the payment in QuickBooks'),
  );
  const loadInvoices = async () => {
    const { invoices } = await api('GET', `${base}/open-invoices`);
    fill(paidForm.invoiceId, invoices.length ? invoices.map((i) => h('option', { value: i.id }, i.label)) : h('option', { value: '' }, 'No open invoice'));
  };
  paidForm.addEventListener('submit', busy(paidForm.querySelector('button'), async () => {
    done(await api('POST', `${base}/mark-invoice-paid`, { invoiceId: paidForm.invoiceId.value }));
    await loadInvoices();
  }));
  const customerForm = h('form', { class: 'stack', 'aria-labelledby': 'customer-title' },
    h('h4', { id: 'customer-title' }, 'Add a QuickBooks customer'),
    h('label', { for: 'cust-name' }, 'Display name'), h('input', { id: 'cust-name', name: 'displayName', required: true, value: `Grace Hopper ${stamp}` }),
    h('label', { for: 'cust-email' }, 'Email'), h('input', { id: 'cust-email', name: 'email', type: 'email', required: true, value: `grace.${stamp}@example.com` }),
    h('button', { type: 'submit' }, 'Add the customer in QuickBooks'),
  );
  customerForm.addEventListener('submit', busy(customerForm.querySelector('button'), async () => {
    done(await api('POST', `${base}/add-customer`, { displayName: customerForm.displayName.value, email: customerForm.email.value }));
  }));
  add(body, 
    h('h2', {}, 'Sandbox'),
    h('p', { class: 'muted' }, 'Running against the local emulators: act on either side, then watch Activity.'),
    status,
    h('div', { class: 'cols' },
      h('section', { 'aria-labelledby': 'as-crm' }, h('h3', { id: 'as-crm' }, 'As a CRM user'),
        crmForm('pay', 'Take a payment', 'Take the payment', 'take-payment', { firstName: 'Ada', lastName: 'Lovelace', email: 'ada@example.com', item: 'Consulting hour', amount: '120.00', ...(isUS ? {} : { taxName: 'HST', taxRate: '13' }) }),
        crmForm('inv', 'Send an invoice', 'Send the invoice', 'send-invoice', { firstName: 'Alan', lastName: 'Turing', email: 'alan@example.com', item: 'Workshop', amount: '450.00', ...(isUS ? {} : { taxName: 'GST', taxRate: '5' }) })),
      h('section', { 'aria-labelledby': 'as-books' }, h('h3', { id: 'as-books' }, 'As a bookkeeper'), paidForm, customerForm),
    ),
  );
  loadInvoices().catch((error) => notify(error.message, 'error'));
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
const query = new URLSearchParams(location.search);
if (query.get('notice')) {
  notify(query.get('notice'), query.get('kind') === 'error' ? 'error' : 'ok');
  history.replaceState(null, '', `/${location.hash}`);
}
render();
