// Reconciliation: both sides as they are after convergence, against the generator's ledger of what happened.
// QuickBooks forms are found by the HighLevel id that every synced form carries in its PrivateNote (voided
// invoices lose their note, so invoices are found through the store's link and checked for strays by note).
// A record that is absent counts as missing; it is "explained" when an open activity error names it (a failure
// visible to the user with a reason), else "unexplained".
import type { QuickBooksEmulator } from '../../emulators/quickbooks/index.ts';
import type { HighLevelEmulator } from '../../emulators/highlevel/index.ts';
import type { Ledger } from './generator.ts';

type Rec = Record<string, unknown>;

export interface Reconciliation {
  duplicates: number;
  missing: number;
  amount_mismatches: number;
  review_requests_duplicated: number;
  unexplained_failures: number;
  /** Missing records named by an open activity error (visible, with a reason). */
  explained_failures: number;
  open_errors: number;
  open_error_reasons: Record<string, number>;
  /** CRM contact edits (phone) that the linked QuickBooks customer does not show: informational, see docs/reliability.md. */
  contact_edits_not_propagated: number;
  review_requests_sent: number;
  checked: Record<string, number>;
  /** The first problems found, for a person to read. */
  problems: string[];
}

const minor = (v: unknown): number => Math.round(Number(v ?? 0) * 100);
const tokens = (text: unknown): string[] =>
  String(text ?? '')
    .split(/[^A-Za-z0-9]+/)
    .filter((t) => t.length >= 8);
const digits = (s: unknown): string => String(s ?? '').replace(/\D/g, '');

function indexByNoteTokens(records: Rec[]): Map<string, Rec[]> {
  const index = new Map<string, Rec[]>();
  for (const r of records) {
    for (const t of new Set(tokens(r.PrivateNote))) {
      const list = index.get(t) ?? [];
      list.push(r);
      index.set(t, list);
    }
  }
  return index;
}

export async function reconcile(input: {
  ledger: Ledger;
  qbo: QuickBooksEmulator;
  hl: HighLevelEmulator;
  realmId: string;
  locationId: string;
  connectionId: string;
  query: <T extends Record<string, unknown>>(sql: string, params?: unknown[]) => Promise<T[]>;
}): Promise<Reconciliation> {
  const { ledger, qbo, hl, realmId, query } = input;
  const out: Reconciliation = {
    duplicates: 0,
    missing: 0,
    amount_mismatches: 0,
    review_requests_duplicated: 0,
    unexplained_failures: 0,
    explained_failures: 0,
    open_errors: 0,
    open_error_reasons: {},
    contact_edits_not_propagated: 0,
    review_requests_sent: 0,
    checked: {},
    problems: [],
  };
  const problem = (text: string) => {
    if (out.problems.length < 25) out.problems.push(text);
  };

  const openErrors = await query<{ crm_id: string | null; qbo_id: string | null; message: string; flow: string }>(
    `SELECT crm_id, qbo_id, message, flow FROM activity WHERE connection_id = $1 AND status = 'error' AND resolved_at IS NULL`,
    [input.connectionId],
  );
  out.open_errors = openErrors.length;
  const explainedIds = new Map<string, string>();
  for (const e of openErrors) {
    const reason = `${e.flow}: ${e.message.replace(/[0-9a-f]{12,}|\b\d+(\.\d+)?\b/gi, '#').slice(0, 120)}`;
    out.open_error_reasons[reason] = (out.open_error_reasons[reason] ?? 0) + 1;
    if (e.crm_id) explainedIds.set(e.crm_id, e.message);
    if (e.qbo_id) explainedIds.set(`qbo:${e.qbo_id}`, e.message);
  }
  const missing = (what: string, ...ids: string[]) => {
    out.missing += 1;
    const reason = ids.map((id) => explainedIds.get(id)).find((m) => m !== undefined);
    if (reason) out.explained_failures += 1;
    else {
      out.unexplained_failures += 1;
      problem(`missing without an error: ${what}`);
    }
  };

  // ---- payments -> sales receipts, refunds -> refund receipts
  const receipts = indexByNoteTokens(qbo.admin.listEntities(realmId, 'SalesReceipt'));
  const refunds = indexByNoteTokens(qbo.admin.listEntities(realmId, 'RefundReceipt'));
  for (const p of ledger.payments.values()) {
    const found = receipts.get(p.txnId) ?? [];
    if (found.length === 0) {
      missing(`sales receipt for ${p.kind} ${p.txnId}`, p.txnId);
      continue;
    }
    if (found.length > 1) {
      out.duplicates += found.length - 1;
      problem(`${found.length} sales receipts for ${p.txnId}`);
    }
    if (minor(found[0]!.TotalAmt) !== p.amountMinor) {
      out.amount_mismatches += 1;
      problem(
        `sales receipt ${String(found[0]!.Id)} totals ${String(found[0]!.TotalAmt)}, the ${p.kind} ${p.txnId} was ${p.amountMinor / 100}`,
      );
    }
    if (p.refundedMinor > 0) {
      const refunded = (refunds.get(p.txnId) ?? []).reduce((n, r) => n + minor(r.TotalAmt), 0);
      if (refunded < p.refundedMinor) missing(`refund of ${(p.refundedMinor - refunded) / 100} on ${p.txnId}`, p.txnId);
      else if (refunded > p.refundedMinor) {
        out.duplicates += 1;
        problem(`refund receipts for ${p.txnId} total ${refunded / 100}, refunded ${p.refundedMinor / 100}`);
      }
    }
  }
  out.checked.payments = ledger.payments.size;
  out.checked.refunded_payments = [...ledger.payments.values()].filter((p) => p.refundedMinor > 0).length;

  // ---- invoices (sent ones) and their payments
  const links = await query<{ crm_id: string; qbo_id: string | null; state: string }>(
    `SELECT crm_id, qbo_id, state FROM links WHERE connection_id = $1 AND kind = 'invoice'`,
    [input.connectionId],
  );
  const linkOf = new Map(links.map((l) => [l.crm_id, l]));
  const qboInvoices = qbo.admin.listEntities(realmId, 'Invoice');
  const invoiceById = new Map(qboInvoices.map((i) => [String(i.Id), i]));
  const invoicesByNote = indexByNoteTokens(
    qboInvoices.filter((i) => String(i.PrivateNote ?? '').includes('HighLevel')),
  );
  const paidByInvoice = new Map<string, number>();
  for (const payment of qbo.admin.listEntities(realmId, 'Payment')) {
    for (const line of (payment.Line as Rec[] | undefined) ?? []) {
      for (const linked of (line.LinkedTxn as Rec[] | undefined) ?? []) {
        if (linked.TxnType !== 'Invoice') continue;
        const id = String(linked.TxnId);
        paidByInvoice.set(id, (paidByInvoice.get(id) ?? 0) + minor(line.Amount));
      }
    }
  }
  let invoicesChecked = 0;
  for (const inv of ledger.invoices.values()) {
    if (inv.status === 'draft') {
      if ((invoicesByNote.get(inv.id) ?? []).length > 0) {
        out.duplicates += 1;
        problem(`draft invoice ${inv.id} reached QuickBooks`);
      }
      continue;
    }
    invoicesChecked += 1;
    const strays = (invoicesByNote.get(inv.id) ?? []).length;
    if (strays > 1) {
      out.duplicates += strays - 1;
      problem(`${strays} QuickBooks invoices carry HighLevel invoice ${inv.id}`);
    }
    const link = linkOf.get(inv.id);
    const qboInvoice = link?.qbo_id ? invoiceById.get(link.qbo_id) : undefined;
    if (inv.status === 'void') {
      if (qboInvoice && minor(qboInvoice.TotalAmt) !== 0) {
        out.amount_mismatches += 1;
        problem(
          `HighLevel invoice ${inv.id} is void, QuickBooks invoice ${String(qboInvoice.Id)} still totals ${String(qboInvoice.TotalAmt)}`,
        );
      }
      continue;
    }
    if (!qboInvoice) {
      missing(`QuickBooks invoice for ${inv.status} HighLevel invoice ${inv.id}`, inv.id);
      continue;
    }
    if (minor(qboInvoice.TotalAmt) !== inv.totalMinor || minor(qboInvoice.Balance) !== inv.totalMinor - inv.paidMinor) {
      out.amount_mismatches += 1;
      problem(
        `QuickBooks invoice ${String(qboInvoice.Id)}: total ${String(qboInvoice.TotalAmt)} balance ${String(qboInvoice.Balance)}; HighLevel ${inv.id}: total ${inv.totalMinor / 100} paid ${inv.paidMinor / 100}`,
      );
    }
    // The CRM invoice holds every payment too, those the bookkeeper recorded in QuickBooks included, each once.
    const crmPaid = hl.core.store.invoices.get(inv.id)?.amountPaidMinor ?? 0;
    if (crmPaid < inv.paidMinor)
      missing(`CRM record of ${(inv.paidMinor - crmPaid) / 100} paid in QuickBooks on invoice ${inv.id}`, inv.id);
    else if (crmPaid > inv.paidMinor) {
      out.duplicates += 1;
      problem(`CRM invoice ${inv.id} shows ${crmPaid / 100} paid, ${inv.paidMinor / 100} was paid`);
    }
    const paid = paidByInvoice.get(String(qboInvoice.Id)) ?? 0;
    if (paid < inv.paidMinor) missing(`payments of ${(inv.paidMinor - paid) / 100} on invoice ${inv.id}`, inv.id);
    else if (paid > inv.paidMinor) {
      out.duplicates += 1;
      problem(
        `QuickBooks payments on invoice ${String(qboInvoice.Id)} total ${paid / 100}, HighLevel ${inv.id} was paid ${inv.paidMinor / 100}`,
      );
    }
  }
  out.checked.invoices = invoicesChecked;
  out.checked.invoices_paid_in_quickbooks = [...ledger.invoices.values()].filter((i) => i.qboPaidMinor > 0).length;

  // ---- customers: one per paying / invoiced contact; contacts: one per bookkeeper customer
  const customersByEmail = new Map<string, Rec[]>();
  for (const c of qbo.admin.listEntities(realmId, 'Customer')) {
    if (c.Active === false) continue;
    const email = String((c.PrimaryEmailAddr as Rec | undefined)?.Address ?? '').toLowerCase();
    if (!email) continue;
    const list = customersByEmail.get(email) ?? [];
    list.push(c);
    customersByEmail.set(email, list);
  }
  const txnsByEmail = new Map<string, string[]>();
  for (const p of ledger.payments.values()) txnsByEmail.set(p.email, [...(txnsByEmail.get(p.email) ?? []), p.txnId]);
  for (const inv of ledger.invoices.values())
    txnsByEmail.set(inv.email, [...(txnsByEmail.get(inv.email) ?? []), inv.id]);
  let customersChecked = 0;
  // A contact needs a customer once it has paid, or has an invoice that was sent and not voided (an invoice voided
  // before it was synced never reaches QuickBooks, and neither need its contact).
  const needsCustomer = new Set<string>([...ledger.payments.values()].map((p) => p.email));
  for (const inv of ledger.invoices.values())
    if (inv.status !== 'draft' && inv.status !== 'void') needsCustomer.add(inv.email);
  for (const contact of ledger.contacts.values()) {
    const found = customersByEmail.get(contact.email) ?? [];
    if (found.length > 1) {
      out.duplicates += found.length - 1;
      problem(`${found.length} QuickBooks customers for ${contact.email}`);
    }
    if (!needsCustomer.has(contact.email)) continue;
    customersChecked += 1;
    if (found.length === 0) {
      missing(`QuickBooks customer for ${contact.email}`, contact.contactId, ...(txnsByEmail.get(contact.email) ?? []));
      continue;
    }
    if (
      contact.editedAfterLink &&
      contact.phone &&
      !digits((found[0]!.PrimaryPhone as Rec | undefined)?.FreeFormNumber).endsWith(digits(contact.phone).slice(-10))
    ) {
      out.contact_edits_not_propagated += 1;
    }
  }
  out.checked.customers = customersChecked;
  const contactsByEmail = new Map<string, number>();
  for (const c of hl.core.store.contacts.values()) {
    if (c.locationId !== input.locationId || !c.email) continue;
    const email = c.email.toLowerCase();
    contactsByEmail.set(email, (contactsByEmail.get(email) ?? 0) + 1);
  }
  for (const [email, customer] of ledger.bookkeeperCustomers) {
    const n = contactsByEmail.get(email) ?? 0;
    if (n === 0) missing(`CRM contact for QuickBooks customer ${customer.qboId} (${email})`, `qbo:${customer.qboId}`);
    if (n > 1) {
      out.duplicates += n - 1;
      problem(`${n} CRM contacts for ${email}`);
    }
    const qboSide = customersByEmail.get(email) ?? [];
    if (qboSide.length > 1) {
      out.duplicates += qboSide.length - 1;
      problem(`${qboSide.length} QuickBooks customers for bookkeeper customer ${email}`);
    }
  }
  out.checked.contacts = ledger.bookkeeperCustomers.size;

  // ---- review requests: at most one per contact, ever
  const perContact = new Map<string, number>();
  for (const e of hl.core.store.enrolments) {
    if (e.locationId !== input.locationId || e.removedAt) continue;
    perContact.set(e.contactId, (perContact.get(e.contactId) ?? 0) + 1);
  }
  for (const m of hl.core.store.messages) {
    // The emulator logs the invoice e-mails HighLevel sends as messages too: those are not review requests.
    if (m.locationId !== input.locationId || String(m.message ?? '').startsWith('Invoice ')) continue;
    perContact.set(m.contactId, (perContact.get(m.contactId) ?? 0) + 1);
  }
  for (const [contactId, n] of perContact) {
    out.review_requests_sent += 1;
    if (n > 1) {
      out.review_requests_duplicated += n - 1;
      problem(`${n} review requests for contact ${contactId}`);
    }
  }
  out.checked.review_requests = out.review_requests_sent;
  return out;
}
