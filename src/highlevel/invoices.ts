// Invoices (reference §3; spec apps/invoices.json, Version 2021-07-28). Every call names the location
// as altId with altType "location".
import { z } from 'zod';
import { API_VERSION, type HighLevelHttp } from './http.ts';
import { amountSchema } from './money.ts';

const addressSchema = z.looseObject({
  addressLine1: z.string().nullable().optional(),
  addressLine2: z.string().nullable().optional(),
  city: z.string().nullable().optional(),
  state: z.string().nullable().optional(),
  countryCode: z.string().nullable().optional(),
  postalCode: z.string().nullable().optional(),
});

export const invoiceTaxSchema = z.looseObject({
  _id: z.string().optional(),
  name: z.string().optional(),
  rate: amountSchema.optional(),
  calculation: z.string().optional(),
  taxId: z.string().optional(),
});

export const invoiceItemSchema = z.looseObject({
  _id: z.string().optional(),
  productId: z.string().optional(),
  priceId: z.string().optional(),
  name: z.string(),
  description: z.string().nullable().optional(),
  currency: z.string().optional(),
  /** Unit price in major units. */
  amount: amountSchema,
  qty: amountSchema,
  taxes: z.array(invoiceTaxSchema).default([]),
  taxInclusive: z.boolean().optional(),
});

export const invoiceStatusSchema = z.string(); // draft | sent | payment_processing | paid | void | partially_paid (webhooks: "delete")

export const invoiceSchema = z.looseObject({
  _id: z.string(),
  status: invoiceStatusSchema,
  liveMode: z.boolean().optional(),
  altId: z.string().optional(),
  altType: z.string().optional(),
  name: z.string().optional(),
  title: z.string().optional(),
  // A number in REST answers, a string in webhooks and inputs (reference §3.3): kept as text.
  invoiceNumber: z.union([z.string(), z.number()]).transform(String).optional(),
  invoiceNumberPrefix: z.string().optional(),
  currency: z.string(),
  contactDetails: z
    .looseObject({
      id: z.string(),
      name: z.string().nullable().optional(),
      email: z.string().nullable().optional(),
      phoneNo: z.string().nullable().optional(),
      companyName: z.string().nullable().optional(),
      address: addressSchema.nullable().optional(),
    })
    .optional(),
  issueDate: z.string().optional(),
  dueDate: z.string().optional(),
  discount: z.looseObject({ type: z.string().optional(), value: amountSchema.optional() }).optional(),
  invoiceItems: z.array(invoiceItemSchema).default([]),
  total: amountSchema.optional(),
  amountPaid: amountSchema.optional(),
  amountDue: amountSchema.optional(),
  totalSummary: z
    .looseObject({ subTotal: amountSchema.optional(), discount: amountSchema.optional(), tax: amountSchema.optional() })
    .optional(),
  createdAt: z.string().optional(),
  updatedAt: z.string().optional(),
});
export type Invoice = z.infer<typeof invoiceSchema>;

export interface InvoiceItemInput {
  name: string;
  description?: string;
  productId?: string;
  priceId?: string;
  currency: string;
  amount: number;
  qty: number;
  taxes?: Array<{
    _id: string;
    name: string;
    rate: number;
    calculation?: 'exclusive';
    description?: string;
    taxId?: string;
  }>;
  taxInclusive?: boolean;
  type?: 'one_time' | 'recurring';
}

/** CreateInvoiceDto without altId/altType, which the client fills in. */
export interface CreateInvoiceInput {
  name: string;
  currency: string;
  issueDate: string;
  dueDate?: string;
  title?: string;
  invoiceNumber?: string;
  businessDetails: Record<string, unknown>;
  /** CreateInvoiceDto requires all four (an empty phoneNo where the contact has no phone). */
  contactDetails: { id: string; name: string; email: string; phoneNo: string; [field: string]: unknown };
  items: InvoiceItemInput[];
  discount: { type: 'percentage' | 'fixed'; value: number };
  sentTo: { email: string[]; emailCc?: string[]; emailBcc?: string[]; phoneNo?: string[] };
  liveMode: boolean;
  termsNotes?: string;
  [field: string]: unknown;
}

/** UpdateInvoiceDto: note it names the lines invoiceItems, not items. */
export interface UpdateInvoiceInput {
  name: string;
  currency: string;
  issueDate: string;
  dueDate: string;
  invoiceItems: InvoiceItemInput[];
  [field: string]: unknown;
}

export interface InvoiceListFilter {
  status?: string;
  /** YYYY-MM-DD */
  startAt?: string;
  endAt?: string;
  contactId?: string;
  search?: string;
  paymentMode?: 'default' | 'live' | 'test';
}

const listEnvelope = z.looseObject({ invoices: z.array(invoiceSchema).default([]), total: z.number().optional() });
const invoiceOrEnvelope = z.union([
  z.looseObject({ invoice: invoiceSchema }).transform((a) => a.invoice),
  invoiceSchema,
]);

export class InvoicesApi {
  constructor(private readonly http: HighLevelHttp) {}

  private get alt() {
    return { altId: this.http.locationId, altType: 'location' } as const;
  }

  async create(input: CreateInvoiceInput): Promise<Invoice> {
    return this.http.request({
      method: 'POST',
      path: '/invoices/',
      body: { ...input, ...this.alt },
      version: API_VERSION,
      schema: invoiceOrEnvelope,
    });
  }

  async get(invoiceId: string): Promise<Invoice> {
    return this.http.request({
      method: 'GET',
      path: `/invoices/${encodeURIComponent(invoiceId)}`,
      query: this.alt,
      version: API_VERSION,
      schema: invoiceOrEnvelope,
    });
  }

  async update(invoiceId: string, input: UpdateInvoiceInput): Promise<Invoice> {
    return this.http.request({
      method: 'PUT',
      path: `/invoices/${encodeURIComponent(invoiceId)}`,
      body: { ...input, ...this.alt },
      version: API_VERSION,
      schema: invoiceOrEnvelope,
    });
  }

  async delete(invoiceId: string): Promise<void> {
    await this.http.request({
      method: 'DELETE',
      path: `/invoices/${encodeURIComponent(invoiceId)}`,
      query: this.alt,
      version: API_VERSION,
      schema: z.unknown(),
    });
  }

  async void(invoiceId: string): Promise<Invoice> {
    return this.http.request({
      method: 'POST',
      path: `/invoices/${encodeURIComponent(invoiceId)}/void`,
      body: this.alt,
      version: API_VERSION,
      schema: invoiceOrEnvelope,
    });
  }

  /** `userId` is the staff user who becomes the sender of record. */
  async send(
    invoiceId: string,
    options: { userId: string; action: 'sms_and_email' | 'send_manually' | 'email' | 'sms'; liveMode: boolean },
  ): Promise<Invoice> {
    const answer = await this.http.request({
      method: 'POST',
      path: `/invoices/${encodeURIComponent(invoiceId)}/send`,
      body: { ...options, ...this.alt },
      version: API_VERSION,
      schema: z.looseObject({ invoice: invoiceSchema }),
    });
    return answer.invoice;
  }

  async recordPayment(
    invoiceId: string,
    payment: {
      mode: 'cash' | 'card' | 'cheque' | 'bank_transfer' | 'other';
      amount?: number;
      notes?: string;
      [field: string]: unknown;
    },
  ): Promise<Invoice> {
    const answer = await this.http.request({
      method: 'POST',
      path: `/invoices/${encodeURIComponent(invoiceId)}/record-payment`,
      body: { ...payment, ...this.alt },
      version: API_VERSION,
      schema: z.looseObject({ invoice: invoiceSchema }),
    });
    return answer.invoice;
  }

  /** The location's next invoice number, as text. */
  async nextNumber(): Promise<string> {
    const answer = await this.http.request({
      method: 'GET',
      path: '/invoices/generate-invoice-number',
      query: this.alt,
      version: API_VERSION,
      schema: z.looseObject({ invoiceNumber: z.union([z.number(), z.string()]).transform(String) }),
    });
    return answer.invoiceNumber;
  }

  /** One page of invoices (offset-based). */
  async list(
    filter: InvoiceListFilter = {},
    page: { limit?: number; offset?: number } = {},
  ): Promise<{ invoices: Invoice[]; total: number | undefined }> {
    const answer = await this.http.request({
      method: 'GET',
      path: '/invoices/',
      query: { ...this.alt, ...filter, limit: String(page.limit ?? 100), offset: String(page.offset ?? 0) },
      version: API_VERSION,
      schema: listEnvelope,
    });
    return { invoices: answer.invoices, total: answer.total };
  }

  /** Every invoice matching the filter, fetched a page at a time as the caller consumes them. */
  async *listAll(filter: InvoiceListFilter = {}, pageSize = 100): AsyncGenerator<Invoice, void, undefined> {
    for (let offset = 0; ; offset += pageSize) {
      const { invoices, total } = await this.list(filter, { limit: pageSize, offset });
      yield* invoices;
      if (invoices.length < pageSize || (total !== undefined && offset + invoices.length >= total)) return;
    }
  }
}
