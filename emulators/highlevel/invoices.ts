// Invoices (apps/invoices.json, Version 2021-07-28): create, update, send, record payment (full or partial,
// which creates a transaction), void, delete, numbering per location. Statuses are HighLevel's:
// draft -> sent -> partially_paid -> paid, and void. Every change emits the matching Invoice* webhook.
import { z } from 'zod';
import type { HighLevelCore } from './core.ts';
import { badRequest } from './errors.ts';
import { objectId, alphanumericId } from './ids.ts';
import type { Invoice, InvoiceItem, Location, Transaction } from './model.ts';
import { toMinor } from './money.ts';
import { invoiceTotals, snapshotOfContact } from './serialize.ts';
import { invoiceEventPayload } from './webhookPayloads.ts';
import type { ContactSnapshot } from './model.ts';

const addressSchema = z
  .object({
    addressLine1: z.string().optional(),
    addressLine2: z.string().optional(),
    city: z.string().optional(),
    state: z.string().optional(),
    countryCode: z.string().optional(),
    postalCode: z.string().optional(),
  })
  .partial();

const taxSchema = z.object({
  _id: z.string().min(1),
  name: z.string().min(1),
  rate: z.number().min(0).max(100),
  calculation: z.enum(['exclusive', 'inclusive']).optional(),
  description: z.string().optional(),
  taxId: z.string().optional(),
});

const itemSchema = z.object({
  name: z.string().min(1),
  description: z.string().optional(),
  productId: z.string().optional(),
  priceId: z.string().optional(),
  currency: z.string().length(3),
  amount: z.number().min(0),
  qty: z.number().positive(),
  taxes: z.array(taxSchema).optional(),
  automaticTaxCategoryId: z.string().optional(),
  isSetupFeeItem: z.boolean().optional(),
  type: z.enum(['one_time', 'recurring']).optional(),
  taxInclusive: z.boolean().optional(),
});

const discountSchema = z.object({
  value: z.number().min(0).optional(),
  type: z.enum(['percentage', 'fixed']),
  validOnProductIds: z.array(z.string()).optional(),
});

const contactDetailsSchema = z.object({
  id: z.string().min(1),
  name: z.string().optional(),
  phoneNo: z.string().optional(),
  email: z.string().optional(),
  additionalEmails: z.array(z.object({ email: z.string() })).optional(),
  companyName: z.string().optional(),
  address: addressSchema.optional(),
  customFields: z.array(z.unknown()).optional(),
});

const sentToSchema = z.object({
  email: z.array(z.string()),
  emailCc: z.array(z.string()).optional(),
  emailBcc: z.array(z.string()).optional(),
  phoneNo: z.array(z.string()).optional(),
});

const dateSchema = z.string().regex(/^\d{4}-\d{2}-\d{2}/, 'must be a date (YYYY-MM-DD)');

const invoiceCommon = {
  altId: z.string().min(1),
  altType: z.literal('location'),
  name: z.string().min(1),
  title: z.string().optional(),
  businessDetails: z.record(z.string(), z.unknown()).optional(),
  currency: z.string().length(3),
  discount: discountSchema.optional(),
  termsNotes: z.string().optional(),
  contactDetails: contactDetailsSchema,
  invoiceNumber: z.union([z.string(), z.number()]).optional(),
  invoiceNumberPrefix: z.string().max(10).optional(),
  issueDate: dateSchema,
  dueDate: dateSchema.optional(),
  sentTo: sentToSchema.optional(),
  liveMode: z.boolean().optional(),
  automaticTaxesEnabled: z.boolean().optional(),
};

// Create uses `items`; update uses `invoiceItems` (CreateInvoiceDto vs UpdateInvoiceDto).
export const createInvoiceSchema = z.object({ ...invoiceCommon, items: z.array(itemSchema).min(1) });
// UpdateInvoiceDto requires dueDate and leaves contactDetails optional (the invoice keeps its contact); it has no sentTo.
const { sentTo: _createOnly, ...updateCommon } = invoiceCommon;
export const updateInvoiceSchema = z.object({
  ...updateCommon,
  contactDetails: contactDetailsSchema.optional(),
  dueDate: dateSchema,
  invoiceItems: z.array(itemSchema).min(1),
  contactId: z.string().optional(),
  description: z.string().optional(),
});
export type CreateInvoiceInput = z.infer<typeof createInvoiceSchema>;
export type UpdateInvoiceInput = z.infer<typeof updateInvoiceSchema>;

export const sendInvoiceSchema = z.object({
  altId: z.string().min(1),
  altType: z.literal('location'),
  userId: z.string().min(1),
  action: z.enum(['sms_and_email', 'send_manually', 'email', 'sms']),
  liveMode: z.boolean(),
  sentFrom: z.object({ fromName: z.string().optional(), fromEmail: z.string().optional() }).optional(),
  autoPayment: z.record(z.string(), z.unknown()).optional(),
});

export const recordPaymentSchema = z.object({
  altId: z.string().min(1),
  altType: z.literal('location'),
  mode: z.enum(['cash', 'card', 'cheque', 'bank_transfer', 'other']),
  card: z.object({ brand: z.string(), last4: z.string() }).optional(),
  cheque: z.object({ number: z.string() }).optional(),
  notes: z.string().optional(),
  amount: z.number().positive().optional(),
  meta: z.record(z.string(), z.unknown()).optional(),
  paymentScheduleIds: z.array(z.string()).optional(),
  fulfilledAt: z.string().optional(),
});
export type RecordPaymentInput = z.infer<typeof recordPaymentSchema>;

export const INVOICE_NOT_FOUND = 'Unable to find an invoice with the given invoice id';

export class InvoiceService {
  constructor(private readonly core: HighLevelCore) {}

  nextNumber(location: Location): number {
    return location.nextInvoiceNumber;
  }

  private toItems(items: z.infer<typeof itemSchema>[], currency: string): InvoiceItem[] {
    return items.map((i) => ({
      _id: alphanumericId(),
      name: i.name,
      description: i.description ?? '',
      productId: i.productId,
      priceId: i.priceId,
      currency: i.currency.toUpperCase(),
      unitMinor: toMinor(i.amount, currency),
      qty: i.qty,
      taxes: (i.taxes ?? []).map((t) => ({
        _id: t._id,
        name: t.name,
        rate: t.rate,
        calculation: i.taxInclusive ? 'inclusive' : (t.calculation ?? 'exclusive'),
        description: t.description,
        taxId: t.taxId,
      })),
      taxInclusive: i.taxInclusive ?? false,
      type: i.type ?? 'one_time',
    }));
  }

  private discountOf(input: z.infer<typeof discountSchema> | undefined, currency: string): Invoice['discount'] {
    if (!input) return { type: 'percentage', value: 0 };
    const value = input.value ?? 0;
    return {
      type: input.type,
      value: input.type === 'fixed' ? toMinor(value, currency) : value,
      ...(input.validOnProductIds ? { validOnProductIds: input.validOnProductIds } : {}),
    };
  }

  create(location: Location, input: CreateInvoiceInput): Invoice {
    const currency = input.currency.toUpperCase();
    let invoiceNumber: string;
    if (input.invoiceNumber !== undefined && String(input.invoiceNumber) !== '') {
      invoiceNumber = String(input.invoiceNumber);
      // An explicit number at or past the counter moves the counter on, so generated numbers never repeat it.
      if (/^\d+$/.test(invoiceNumber) && Number(invoiceNumber) >= location.nextInvoiceNumber)
        location.nextInvoiceNumber = Number(invoiceNumber) + 1;
    } else {
      invoiceNumber = String(location.nextInvoiceNumber++);
    }
    const now = this.core.nowMs();
    const contact = this.core.store.contacts.get(input.contactDetails.id);
    const invoice: Invoice = {
      id: objectId(now),
      locationId: location.id,
      status: 'draft',
      liveMode: input.liveMode ?? false,
      name: input.name,
      title: input.title ?? 'INVOICE',
      currency,
      invoiceNumber,
      invoiceNumberPrefix: input.invoiceNumberPrefix ?? location.invoiceNumberPrefix,
      issueDate: input.issueDate.slice(0, 10),
      dueDate: (input.dueDate ?? input.issueDate).slice(0, 10),
      businessDetails: input.businessDetails ?? {
        name: location.name,
        phoneNo: location.phone,
        website: location.website,
        address: {
          addressLine1: location.address,
          city: location.city,
          state: location.state,
          countryCode: location.country,
          postalCode: location.postalCode,
        },
      },
      contactDetails: {
        ...input.contactDetails,
        name: input.contactDetails.name ?? [contact?.firstName, contact?.lastName].filter(Boolean).join(' '),
        email: input.contactDetails.email ?? contact?.email ?? '',
        phoneNo: input.contactDetails.phoneNo ?? contact?.phone ?? '',
      },
      discount: this.discountOf(input.discount, currency),
      items: this.toItems(input.items, currency),
      termsNotes: input.termsNotes ?? '',
      sentTo: input.sentTo ?? { email: input.contactDetails.email ? [input.contactDetails.email] : [] },
      automaticTaxesEnabled: input.automaticTaxesEnabled ?? false,
      amountPaidMinor: 0,
      createdAt: now,
      updatedAt: now,
      sentAt: null,
    };
    this.core.store.invoices.set(invoice.id, invoice);
    this.emit('InvoiceCreate', invoice);
    return invoice;
  }

  update(invoice: Invoice, input: UpdateInvoiceInput): Invoice {
    if (invoice.status === 'void') throw badRequest('Void invoice cannot be updated');
    if (invoice.status === 'paid') throw badRequest('Paid invoice cannot be updated');
    const currency = input.currency.toUpperCase();
    const candidate: Invoice = {
      ...invoice,
      name: input.name,
      title: input.title ?? invoice.title,
      currency,
      issueDate: input.issueDate.slice(0, 10),
      dueDate: (input.dueDate ?? input.issueDate).slice(0, 10),
      businessDetails: input.businessDetails ?? invoice.businessDetails,
      contactDetails: this.updatedContactDetails(invoice, input),
      discount: input.discount ? this.discountOf(input.discount, currency) : invoice.discount,
      items: this.toItems(input.invoiceItems, currency),
      termsNotes: input.termsNotes ?? invoice.termsNotes,
      liveMode: input.liveMode ?? invoice.liveMode,
      invoiceNumber: input.invoiceNumber !== undefined ? String(input.invoiceNumber) : invoice.invoiceNumber,
    };
    if (invoiceTotals(candidate).total < invoice.amountPaidMinor)
      throw badRequest('Invoice total cannot be less than the amount already paid');
    Object.assign(invoice, candidate, { updatedAt: this.core.nowMs() });
    this.emit('InvoiceUpdate', invoice);
    return invoice;
  }

  /** contactDetails replaces the invoice's contact details field by field; a contactId alone moves the invoice to that contact. */
  private updatedContactDetails(invoice: Invoice, input: UpdateInvoiceInput): Invoice['contactDetails'] {
    const details = input.contactDetails;
    if (details) {
      return {
        ...invoice.contactDetails,
        ...details,
        name: details.name ?? invoice.contactDetails.name,
        email: details.email ?? invoice.contactDetails.email,
        phoneNo: details.phoneNo ?? invoice.contactDetails.phoneNo,
      };
    }
    if (!input.contactId || input.contactId === invoice.contactDetails.id) return invoice.contactDetails;
    const contact = this.core.store.contacts.get(input.contactId);
    if (!contact || contact.locationId !== invoice.locationId) throw badRequest('Contact not found');
    return {
      id: contact.id,
      name: [contact.firstName, contact.lastName].filter(Boolean).join(' '),
      email: contact.email ?? '',
      phoneNo: contact.phone ?? '',
    };
  }

  send(invoice: Invoice, input: { action: string; userId: string; liveMode?: boolean | undefined }): Invoice {
    if (invoice.status === 'void') throw badRequest('Void invoice cannot be sent');
    if (invoice.status === 'paid') throw badRequest('Invoice is already paid');
    if (invoice.status === 'draft') invoice.status = 'sent';
    if (input.liveMode !== undefined) invoice.liveMode = input.liveMode;
    invoice.sentAt = this.core.nowMs();
    invoice.updatedAt = invoice.sentAt;
    if (input.action !== 'send_manually') {
      // The invoice e-mail / SMS goes to the contact; keep it in the message log so tests can see it.
      const at = this.core.clock.now().toISOString();
      const channels =
        input.action === 'sms_and_email' ? ['Email', 'SMS'] : input.action === 'sms' ? ['SMS'] : ['Email'];
      for (const type of channels) {
        const conversationId = this.conversationFor(invoice.contactDetails.id);
        this.core.store.logMessage({
          messageId: alphanumericId(),
          conversationId,
          locationId: invoice.locationId,
          contactId: invoice.contactDetails.id,
          type,
          to:
            type === 'Email'
              ? (invoice.sentTo.email[0] ?? invoice.contactDetails.email)
              : invoice.contactDetails.phoneNo,
          subject:
            type === 'Email'
              ? `Invoice #${invoice.invoiceNumberPrefix}${invoice.invoiceNumber} from ${String(invoice.businessDetails.name ?? '')}`
              : null,
          message: `Invoice ${invoice.name}`,
          html: null,
          emailFrom: null,
          status: 'delivered',
          at,
        });
      }
    }
    this.emit('InvoiceSent', invoice);
    return invoice;
  }

  /** One conversation per contact, shared with POST /conversations/messages. */
  private conversationFor(contactId: string): string {
    let id = this.core.store.conversations.get(contactId);
    if (!id) {
      id = alphanumericId();
      this.core.store.conversations.set(contactId, id);
    }
    return id;
  }

  /** Records a payment (the whole amount due when `amount` is absent); creates the transaction that goes with it. */
  recordPayment(
    invoice: Invoice,
    input: Pick<RecordPaymentInput, 'mode' | 'amount' | 'card' | 'cheque' | 'notes' | 'fulfilledAt'>,
    createdBy = 'api',
  ): { invoice: Invoice; transaction: Transaction } {
    if (invoice.status === 'void') throw badRequest('Payment cannot be recorded for a void invoice');
    if (invoice.status === 'paid') throw badRequest('Invoice is already paid');
    const total = invoiceTotals(invoice).total;
    const due = total - invoice.amountPaidMinor;
    const amount = input.amount !== undefined ? toMinor(input.amount, invoice.currency) : due;
    if (amount <= 0) throw badRequest('Amount must be greater than 0');
    if (amount > due) throw badRequest('Amount cannot be more than the amount due');
    const now = this.core.nowMs();
    invoice.amountPaidMinor += amount;
    invoice.status = invoice.amountPaidMinor >= total ? 'paid' : 'partially_paid';
    invoice.updatedAt = now;
    const contact = this.core.store.contacts.get(invoice.contactDetails.id);
    const snapshot: ContactSnapshot = contact
      ? snapshotOfContact(contact)
      : {
          id: invoice.contactDetails.id,
          locationId: invoice.locationId,
          name: invoice.contactDetails.name,
          email: invoice.contactDetails.email || undefined,
          phone: invoice.contactDetails.phoneNo || undefined,
          type: 'customer',
          tags: [],
          dnd: false,
          dateAdded: new Date(invoice.createdAt).toISOString(),
        };
    const fulfilledAt =
      input.fulfilledAt && !Number.isNaN(Date.parse(input.fulfilledAt)) ? Date.parse(input.fulfilledAt) : now;
    const transaction: Transaction = {
      id: objectId(now),
      locationId: invoice.locationId,
      contactId: invoice.contactDetails.id,
      currency: invoice.currency,
      amountMinor: amount,
      amountRefundedMinor: 0,
      status: 'succeeded',
      liveMode: invoice.liveMode,
      entityType: 'invoice',
      entityId: invoice.id,
      entitySource: { type: 'invoice', id: invoice.id, name: invoice.name },
      contactSnapshot: snapshot,
      invoiceId: invoice.id,
      chargeId: `manual_${alphanumericId(14)}`,
      paymentProviderType: 'manual',
      paymentMethod: {
        mode: input.mode,
        ...(input.card ? { card: input.card } : {}),
        ...(input.cheque ? { cheque: input.cheque } : {}),
        ...(input.notes ? { notes: input.notes } : {}),
      },
      createdAt: now,
      updatedAt: now,
      fulfilledAt,
      createdBy,
    };
    this.core.store.transactions.set(transaction.id, transaction);
    this.emit(invoice.status === 'paid' ? 'InvoicePaid' : 'InvoicePartiallyPaid', invoice);
    return { invoice, transaction };
  }

  /**
   * A customer started paying online (e.g. ACH, which settles in days): HighLevel shows `payment_processing` until
   * the charge settles (then record the payment) or fails (then the invoice goes back and a failed charge is kept).
   */
  startOnlinePayment(invoice: Invoice): Invoice {
    if (invoice.status === 'void' || invoice.status === 'paid') throw badRequest(`Invoice is ${invoice.status}`);
    invoice.status = 'payment_processing';
    invoice.updatedAt = this.core.nowMs();
    this.emit('InvoiceUpdate', invoice);
    return invoice;
  }

  failOnlinePayment(invoice: Invoice): { invoice: Invoice; transaction: Transaction } {
    if (invoice.status !== 'payment_processing') throw badRequest('No online payment is in progress');
    const now = this.core.nowMs();
    const due = invoiceTotals(invoice).total - invoice.amountPaidMinor;
    invoice.status = invoice.amountPaidMinor > 0 ? 'partially_paid' : invoice.sentAt !== null ? 'sent' : 'draft';
    invoice.updatedAt = now;
    const contact = this.core.store.contacts.get(invoice.contactDetails.id);
    const transaction: Transaction = {
      id: objectId(now),
      locationId: invoice.locationId,
      contactId: invoice.contactDetails.id,
      currency: invoice.currency,
      amountMinor: due,
      amountRefundedMinor: 0,
      status: 'failed',
      liveMode: invoice.liveMode,
      entityType: 'invoice',
      entityId: invoice.id,
      entitySource: { type: 'invoice', id: invoice.id, name: invoice.name },
      contactSnapshot: contact
        ? snapshotOfContact(contact)
        : {
            id: invoice.contactDetails.id,
            locationId: invoice.locationId,
            email: invoice.contactDetails.email || undefined,
            type: 'customer',
            tags: [],
            dnd: false,
            dateAdded: new Date(invoice.createdAt).toISOString(),
          },
      invoiceId: invoice.id,
      chargeId: `py_${alphanumericId(24)}`,
      paymentProviderType: 'stripe',
      paymentMethod: { us_bank_account: { last4: '6789' } },
      createdAt: now,
      updatedAt: now,
      fulfilledAt: now,
      createdBy: invoice.contactDetails.id,
    };
    this.core.store.transactions.set(transaction.id, transaction);
    this.emit('InvoiceUpdate', invoice);
    return { invoice, transaction };
  }

  void(invoice: Invoice): Invoice {
    if (invoice.status === 'void') throw badRequest('Invoice is already void');
    if (invoice.status === 'paid') throw badRequest('Paid invoice cannot be voided');
    invoice.status = 'void';
    invoice.updatedAt = this.core.nowMs();
    this.emit('InvoiceVoid', invoice);
    return invoice;
  }

  delete(invoice: Invoice): Invoice {
    if (invoice.status !== 'draft' && invoice.status !== 'void')
      throw badRequest('Only draft or void invoices can be deleted');
    this.core.store.invoices.delete(invoice.id);
    this.emit('InvoiceDelete', invoice);
    return invoice;
  }

  private emit(
    type:
      | 'InvoiceCreate'
      | 'InvoiceUpdate'
      | 'InvoiceSent'
      | 'InvoicePaid'
      | 'InvoicePartiallyPaid'
      | 'InvoiceVoid'
      | 'InvoiceDelete',
    invoice: Invoice,
  ): void {
    this.core.webhooks.emit(type, invoice.locationId, invoiceEventPayload(type, invoice));
  }
}
