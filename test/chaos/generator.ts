// Realistic work on both sides, from a seeded PRNG, with the generator's own record (the ledger) of what it did:
// CRM payments of every kind (order form, funnel store, subscription and renewals, membership, calendar booking,
// with discounts), refunds (partial and full), contacts created and edited in the CRM, invoices through their life
// (draft, sent, partly and fully paid, voided), and a bookkeeper creating and editing customers in QuickBooks and
// recording cheques and transfers against the invoices ledgerlink made there (which must reach the CRM invoices).
// CRM actions go through the HighLevel emulator's admin API (never faulted: the CRM user's clicks always land);
// the bookkeeper uses QuickBooks' public API with a token of another app, so faults hit them too (they retry).
import type { QuickBooksEmulator } from '../../emulators/quickbooks/index.ts';
import type { HighLevelEmulator } from '../../emulators/highlevel/index.ts';
import { seededRandom } from '../../emulators/common/random.ts';

export interface PaymentRecord {
  txnId: string;
  kind: string;
  amountMinor: number;
  refundedMinor: number;
  email: string;
}

export interface InvoiceRecord {
  id: string;
  email: string;
  totalMinor: number;
  /** Paid on either side: in the CRM, or by the bookkeeper in QuickBooks (qboPaidMinor of it). */
  paidMinor: number;
  qboPaidMinor: number;
  status: 'draft' | 'sent' | 'partially_paid' | 'paid' | 'void';
}

export interface ContactRecord {
  email: string;
  contactId: string;
  firstName: string;
  lastName: string;
  phone: string | null;
  /** The contact has paid or been invoiced (sent): it must have exactly one QuickBooks customer. */
  needsCustomer: boolean;
  /** Changed in the CRM after it got a customer: the customer should follow. */
  editedAfterLink: boolean;
}

export interface Ledger {
  payments: Map<string, PaymentRecord>;
  invoices: Map<string, InvoiceRecord>;
  contacts: Map<string, ContactRecord>;
  /** Customers the bookkeeper created in QuickBooks, by email: each must have exactly one CRM contact. */
  bookkeeperCustomers: Map<string, { qboId: string; displayName: string }>;
  subscriptions: Array<{ id: string; amountMinor: number; email: string }>;
}

const FIRST = [
  'Ana',
  'Ben',
  'Chloé',
  'Dmitri',
  'Eve',
  'Farah',
  'Gus',
  'Hana',
  'Iñigo',
  'Jo',
  'Kai',
  'Lena',
  'Mo',
  'Noor',
  'Olu',
  'Priya',
  'Quinn',
  'Rosa',
  'Sam',
  'Tomás',
];
const LAST = [
  'Adams',
  'Brown',
  "O'Neil",
  'Chen',
  'Díaz',
  'Evans',
  'Fischer',
  'García',
  'Hughes',
  'Ivanova',
  'Jones',
  'Kowalski',
  'Li',
  'Müller',
  'Nguyen',
  'Okafor',
];
const PRODUCTS = [
  'Consultation',
  'Yoga class',
  'Coaching session',
  'Workshop seat',
  'Massage 60 min',
  'Design review',
  'Starter kit',
  'Gift card',
];

type Step = { kind: string; weight: number; run: () => Promise<boolean> };

export class Generator {
  readonly ledger: Ledger = {
    payments: new Map(),
    invoices: new Map(),
    contacts: new Map(),
    bookkeeperCustomers: new Map(),
    subscriptions: [],
  };
  readonly counts: Record<string, number> = {};
  private readonly random: () => number;
  private serial = 0;
  private bookkeeperToken = '';
  private readonly steps: Step[];

  constructor(
    private readonly o: {
      seed: number;
      qbo: QuickBooksEmulator;
      hl: HighLevelEmulator;
      realmId: string;
      locationId: string;
      say: (line: string) => void;
    },
  ) {
    this.random = seededRandom(o.seed * 7919 + 13);
    this.steps = [
      { kind: 'order_form_payment', weight: 20, run: () => this.checkout('order-form-payment') },
      { kind: 'store_payment', weight: 5, run: () => this.checkout('store') },
      { kind: 'subscription', weight: 5, run: () => this.checkout('subscription') },
      { kind: 'subscription_renewal', weight: 6, run: () => this.renew() },
      { kind: 'membership', weight: 4, run: () => this.checkout('membership') },
      { kind: 'calendar_booking', weight: 5, run: () => this.checkout('calendar-payment') },
      { kind: 'refund', weight: 6, run: () => this.refund() },
      { kind: 'contact_created', weight: 5, run: () => this.newContact() },
      { kind: 'contact_edited', weight: 5, run: () => this.editContact() },
      { kind: 'invoice_sent', weight: 10, run: () => this.invoice(true) },
      { kind: 'invoice_draft', weight: 2, run: () => this.invoice(false) },
      { kind: 'invoice_payment', weight: 11, run: () => this.payInvoice() },
      { kind: 'invoice_voided', weight: 3, run: () => this.voidInvoice() },
      { kind: 'qbo_invoice_payment', weight: 6, run: () => this.bookkeeperPaysInvoice() },
      { kind: 'qbo_customer_created', weight: 7, run: () => this.bookkeeperCreates() },
      { kind: 'qbo_customer_edited', weight: 4, run: () => this.bookkeeperEdits() },
    ];
  }

  async prepare(): Promise<void> {
    this.o.qbo.admin.registerApp({
      clientId: 'bookkeeper-app',
      clientSecret: 'bookkeeper-secret',
      name: 'Bookkeeper',
      redirectUris: [],
    });
    this.bookkeeperToken = this.o.qbo.admin.mintToken(this.o.realmId, 'bookkeeper-app').access_token;
  }

  /**
   * Work done in the CRM before the connection exists (run before connecting, when no webhook reaches ledgerlink):
   * order-form payments, sent invoices, some paid in part. A history backfill started during the run must bring all
   * of it into QuickBooks; the ledger expects it like everything else.
   */
  async seedHistory(records: number): Promise<void> {
    for (let i = 0; i < records; i++) {
      const roll = this.random();
      if (roll < 0.55) await this.checkout('order-form-payment');
      else if (roll < 0.85) await this.invoice(true);
      else if (!(await this.payInvoice())) await this.invoice(true);
    }
    this.counts.history_seeded = records;
  }

  /** One operation; a step that has nothing to act on yet (no refundable payment...) falls back to a payment. */
  async step(): Promise<void> {
    const total = this.steps.reduce((n, s) => n + s.weight, 0);
    let roll = this.random() * total;
    let chosen = this.steps[0]!;
    for (const s of this.steps) {
      roll -= s.weight;
      if (roll < 0) {
        chosen = s;
        break;
      }
    }
    if (!(await chosen.run())) {
      chosen = this.steps[0]!;
      await chosen.run();
    }
    this.counts[chosen.kind] = (this.counts[chosen.kind] ?? 0) + 1;
  }

  // ---------------------------------------------------------------- CRM side

  private pick<T>(list: readonly T[]): T {
    return list[Math.floor(this.random() * list.length)]!;
  }

  private cents(min: number, max: number): number {
    return min + Math.floor(this.random() * (max - min + 1));
  }

  private person(): { firstName: string; lastName: string; email: string } {
    this.serial += 1;
    const firstName = this.pick(FIRST);
    const lastName = this.pick(LAST);
    const local = `${firstName}.${lastName}`
      .normalize('NFD')
      .replace(/[^A-Za-z.]/g, '')
      .toLowerCase();
    return { firstName, lastName, email: `${local}.${this.serial}.${this.o.seed}@example.com` };
  }

  /** A returning customer about half of the time (so customers are matched, not re-created), else a new one. */
  private buyer(): { firstName: string; lastName: string; email: string } {
    const known = [...this.ledger.contacts.values()];
    if (known.length > 0 && this.random() < 0.5) {
      const c = this.pick(known);
      return { firstName: c.firstName, lastName: c.lastName, email: c.email };
    }
    return this.person();
  }

  private async admin<T>(path: string, body: unknown): Promise<T> {
    const response = await fetch(`${this.o.hl.url}/_emulator${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body ?? {}),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`HighLevel admin ${path} answered ${response.status}: ${text}`);
    return JSON.parse(text) as T;
  }

  private remember(
    contactId: string,
    who: { firstName: string; lastName: string; email: string },
    needsCustomer: boolean,
  ): void {
    const existing = this.ledger.contacts.get(who.email);
    if (existing) {
      existing.needsCustomer ||= needsCustomer;
      return;
    }
    this.ledger.contacts.set(who.email, {
      email: who.email,
      contactId,
      firstName: who.firstName,
      lastName: who.lastName,
      phone: null,
      needsCustomer,
      editedAfterLink: false,
    });
  }

  private async checkout(
    kind: 'order-form-payment' | 'store' | 'subscription' | 'membership' | 'calendar-payment',
  ): Promise<boolean> {
    const contact = this.buyer();
    let body: Record<string, unknown>;
    let amountMinor: number;
    if (kind === 'order-form-payment' || kind === 'store') {
      const items = Array.from({ length: 1 + Math.floor(this.random() * 3) }, () => ({
        name: this.pick(PRODUCTS),
        amount: this.cents(500, 30000) / 100,
        qty: 1 + Math.floor(this.random() * 2),
      }));
      const gross = items.reduce((n, i) => n + Math.round(i.amount * 100) * i.qty, 0);
      const discountMinor = this.random() < 0.2 ? Math.floor(gross * 0.1) : 0;
      amountMinor = gross - discountMinor;
      body = {
        contact,
        items,
        ...(discountMinor ? { discount: discountMinor / 100 } : {}),
        ...(kind === 'store' ? { sourceType: 'website' } : {}),
      };
    } else {
      amountMinor = this.cents(900, 20000);
      const amount = amountMinor / 100;
      body =
        kind === 'subscription'
          ? { contact, product: { name: 'Monthly plan', amount }, interval: 'month' }
          : kind === 'membership'
            ? {
                contact,
                offer: { name: 'Gold membership', amount },
                ...(this.random() < 0.5 ? { recurring: { interval: 'month' } } : {}),
              }
            : { contact, service: { name: this.pick(PRODUCTS), amount } };
    }
    const r = await this.admin<{
      contactId: string;
      transactionId: string;
      subscriptionId: string | null;
      transaction: { amount: number };
    }>(`/locations/${this.o.locationId}/actions/${kind === 'store' ? 'order-form-payment' : kind}`, body);
    this.remember(r.contactId, contact, true);
    this.ledger.payments.set(r.transactionId, {
      txnId: r.transactionId,
      kind,
      amountMinor,
      refundedMinor: 0,
      email: contact.email,
    });
    if (r.subscriptionId) this.ledger.subscriptions.push({ id: r.subscriptionId, amountMinor, email: contact.email });
    return true;
  }

  private async renew(): Promise<boolean> {
    if (this.ledger.subscriptions.length === 0) return false;
    const sub = this.pick(this.ledger.subscriptions);
    const r = await this.admin<{ transactionId: string }>(`/subscriptions/${sub.id}/renew`, {});
    this.ledger.payments.set(r.transactionId, {
      txnId: r.transactionId,
      kind: 'renewal',
      amountMinor: sub.amountMinor,
      refundedMinor: 0,
      email: sub.email,
    });
    return true;
  }

  private async refund(): Promise<boolean> {
    const refundable = [...this.ledger.payments.values()].filter((p) => p.refundedMinor < p.amountMinor);
    if (refundable.length === 0) return false;
    const p = this.pick(refundable.slice(-200));
    const left = p.amountMinor - p.refundedMinor;
    const amountMinor = this.random() < 0.5 ? left : Math.max(1, Math.floor(left * (0.2 + this.random() * 0.5)));
    await this.admin(`/transactions/${p.txnId}/refund`, { amount: amountMinor / 100 });
    p.refundedMinor += amountMinor;
    return true;
  }

  private async newContact(): Promise<boolean> {
    const who = this.person();
    const r = await this.admin<{ contactId: string }>(`/locations/${this.o.locationId}/actions/contact`, who);
    this.remember(r.contactId, who, false);
    return true;
  }

  /** A CRM user changes a contact's phone (in-process: the emulator's admin API has no edit action). */
  private async editContact(): Promise<boolean> {
    const known = [...this.ledger.contacts.values()];
    if (known.length === 0) return false;
    const c = this.pick(known);
    const contact = this.o.hl.core.store.contacts.get(c.contactId);
    if (!contact) return false;
    const phone = `+1555${String(this.cents(1000000, 9999999))}`;
    this.o.hl.context.contacts.update(contact, { phone }, 'crm-user');
    c.phone = phone;
    if (c.needsCustomer) c.editedAfterLink = true;
    return true;
  }

  private async invoice(send: boolean): Promise<boolean> {
    const contact = this.buyer();
    const items = Array.from({ length: 1 + Math.floor(this.random() * 3) }, () => ({
      name: this.pick(PRODUCTS),
      amount: this.cents(1000, 40000) / 100,
      qty: 1 + Math.floor(this.random() * 3),
    }));
    const totalMinor = items.reduce((n, i) => n + Math.round(i.amount * 100) * i.qty, 0);
    const r = await this.admin<{ invoiceId: string; invoice: { contactDetails?: { id?: string } } }>(
      `/locations/${this.o.locationId}/actions/invoice`,
      { contact, items, send },
    );
    this.remember(r.invoice.contactDetails?.id ?? '', contact, send);
    this.ledger.invoices.set(r.invoiceId, {
      id: r.invoiceId,
      email: contact.email,
      totalMinor,
      paidMinor: 0,
      qboPaidMinor: 0,
      status: send ? 'sent' : 'draft',
    });
    return true;
  }

  private async payInvoice(): Promise<boolean> {
    const open = [...this.ledger.invoices.values()].filter((i) => i.status === 'sent' || i.status === 'partially_paid');
    if (open.length === 0) return false;
    const inv = this.pick(open.slice(-200));
    const left = inv.totalMinor - inv.paidMinor;
    const full = this.random() < 0.6 || left < 200;
    const amountMinor = full ? left : Math.floor(left * (0.2 + this.random() * 0.5));
    // Always the amount: HighLevel's "whole amount due" would include payments the bookkeeper recorded in QuickBooks
    // that have not reached the CRM yet.
    await this.admin(`/invoices/${inv.id}/record-payment`, { amount: amountMinor / 100, mode: 'card' });
    inv.paidMinor += amountMinor;
    inv.status = inv.paidMinor >= inv.totalMinor ? 'paid' : 'partially_paid';
    return true;
  }

  private async voidInvoice(): Promise<boolean> {
    const voidable = [...this.ledger.invoices.values()].filter((i) => i.status === 'sent');
    if (voidable.length === 0) return false;
    const inv = this.pick(voidable.slice(-200));
    await this.admin(`/invoices/${inv.id}/void`, {});
    inv.status = 'void';
    return true;
  }

  // ---------------------------------------------------------------- QuickBooks side (the bookkeeper)

  /** The bookkeeper's own API calls: faults hit them too, so they retry (a create with the same requestid). */
  private async qboCall<T>(method: 'GET' | 'POST', path: string, body?: unknown, requestId?: string): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const sep = path.includes('?') ? '&' : '?';
      const url = `${this.o.qbo.url}/v3/company/${this.o.realmId}/${path}${sep}minorversion=75${requestId ? `&requestid=${requestId}` : ''}`;
      try {
        const response = await fetch(url, {
          method,
          headers: {
            authorization: `Bearer ${this.bookkeeperToken}`,
            accept: 'application/json',
            ...(body ? { 'content-type': 'application/json' } : {}),
          },
          ...(body ? { body: JSON.stringify(body) } : {}),
        });
        const text = await response.text();
        if (response.ok) return JSON.parse(text) as T;
        if (response.status === 401)
          this.bookkeeperToken = this.o.qbo.admin.mintToken(this.o.realmId, 'bookkeeper-app').access_token;
        else if (response.status < 500 && response.status !== 429)
          throw new Error(`QuickBooks ${method} ${path} answered ${response.status}: ${text}`);
      } catch (error) {
        if (error instanceof Error && error.message.startsWith('QuickBooks ')) throw error;
        // A dropped connection: try again.
      }
      if (attempt > 50) throw new Error(`the bookkeeper gave up on ${method} ${path}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  private async bookkeeperCreates(): Promise<boolean> {
    const who = this.person();
    const displayName = `${who.firstName} ${who.lastName} ${this.serial}`;
    const r = await this.qboCall<{ Customer: { Id: string } }>(
      'POST',
      'customer',
      {
        DisplayName: displayName,
        GivenName: who.firstName,
        FamilyName: who.lastName,
        PrimaryEmailAddr: { Address: who.email },
      },
      `bk-${this.o.seed}-${this.serial}`,
    );
    this.ledger.bookkeeperCustomers.set(who.email, { qboId: r.Customer.Id, displayName });
    return true;
  }

  /**
   * A client pays an invoice by cheque or transfer and the bookkeeper records it in QuickBooks, against the invoice
   * ledgerlink made there (found by the CRM invoice's id in its note, as a bookkeeper would by its number).
   */
  private async bookkeeperPaysInvoice(): Promise<boolean> {
    const open = [...this.ledger.invoices.values()].filter((i) => i.status === 'sent' || i.status === 'partially_paid');
    if (open.length === 0) return false;
    const inv = this.pick(open.slice(-200));
    const twin = this.o.qbo.admin
      .listEntities(this.o.realmId, 'Invoice')
      .find((i) => String(i.PrivateNote ?? '').includes(`HighLevel invoice ${inv.id}`));
    if (!twin) return false;
    const left = inv.totalMinor - inv.paidMinor;
    const amountMinor = this.random() < 0.5 || left < 200 ? left : Math.floor(left * (0.2 + this.random() * 0.5));
    const cheque = this.random() < 0.5;
    const method = this.o.qbo.admin
      .listEntities(this.o.realmId, 'PaymentMethod')
      .find((m) => m.Name === (cheque ? 'Check' : 'Cash'));
    await this.qboCall(
      'POST',
      'payment',
      {
        CustomerRef: twin.CustomerRef,
        TotalAmt: amountMinor / 100,
        ...(method ? { PaymentMethodRef: { value: method.Id } } : {}),
        ...(cheque ? { PaymentRefNum: String(1000 + this.serial) } : {}),
        Line: [{ Amount: amountMinor / 100, LinkedTxn: [{ TxnId: twin.Id, TxnType: 'Invoice' }] }],
      },
      `bkp-${this.o.seed}-${++this.serial}`,
    );
    inv.paidMinor += amountMinor;
    inv.qboPaidMinor += amountMinor;
    inv.status = inv.paidMinor >= inv.totalMinor ? 'paid' : 'partially_paid';
    return true;
  }

  private async bookkeeperEdits(): Promise<boolean> {
    const known = [...this.ledger.bookkeeperCustomers.values()];
    if (known.length === 0) return false;
    const c = this.pick(known);
    for (let attempt = 0; attempt < 5; attempt++) {
      const current = await this.qboCall<{ Customer: { Id: string; SyncToken: string } }>('GET', `customer/${c.qboId}`);
      try {
        await this.qboCall(
          'POST',
          'customer',
          {
            Id: c.qboId,
            SyncToken: current.Customer.SyncToken,
            sparse: true,
            PrimaryPhone: { FreeFormNumber: `(555) ${this.cents(100, 999)}-${this.cents(1000, 9999)}` },
          },
          `bke-${this.o.seed}-${++this.serial}`,
        );
        return true;
      } catch (error) {
        // Stale SyncToken: ledgerlink wrote the customer meanwhile (as a bookkeeper would see); read again.
        if (!(error instanceof Error && error.message.includes('5010'))) throw error;
      }
    }
    return true;
  }
}
