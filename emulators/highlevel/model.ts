// The emulator's records. Money fields ending in `Minor` are integer minor units of the record's currency;
// the HTTP layer converts them to HighLevel's major-unit decimals (see money.ts).

export interface Company {
  id: string;
  name: string;
}

export interface Location {
  id: string;
  companyId: string;
  name: string;
  email: string;
  phone: string;
  address: string;
  city: string;
  state: string;
  postalCode: string;
  country: string;
  timezone: string;
  website: string;
  /** Not exposed by HighLevel's API (reference §8): kept for the emulator's own documents. */
  currency: string;
  allowDuplicateContact: boolean;
  /** Upsert / duplicate match priority (location setting in HighLevel's UI). */
  duplicateMatchPriority: 'email' | 'phone';
  invoiceNumberPrefix: string;
  nextInvoiceNumber: number;
  dateAdded: string;
  /**
   * HighLevel's own QuickBooks integration (Settings > Integrations), when the location turned it on: it posts each
   * order payment to QuickBooks as a sales receipt and marks the transaction `qboSynced` with QuickBooks' answer.
   * `qboIds`: the QuickBooks ids to report for the next payments, in order (a test creates those records in the
   * QuickBooks emulator first); when none is left, ids are counted from `nextQboId`.
   */
  builtInQuickBooks?: { active: boolean; qboIds: string[]; nextQboId: number } | undefined;
}

export interface CustomFieldDef {
  id: string;
  locationId: string;
  name: string;
  fieldKey: string;
  dataType: string;
  placeholder: string;
  position: number;
  model: 'contact' | 'opportunity';
  picklistOptions: string[];
}

/** A contact frozen at a moment, in the camelCase form of the contact webhooks. */
export interface ContactSnapshot {
  id: string;
  locationId: string;
  firstName?: string | undefined;
  lastName?: string | undefined;
  name?: string | undefined;
  email?: string | undefined;
  phone?: string | undefined;
  companyName?: string | undefined;
  address1?: string | undefined;
  city?: string | undefined;
  state?: string | undefined;
  postalCode?: string | undefined;
  country?: string | undefined;
  source?: string | undefined;
  type: string;
  tags: string[];
  dnd: boolean;
  dateAdded: string;
}

export type CustomFieldValue = string | number | boolean | string[] | Record<string, unknown>;

export interface Contact {
  id: string;
  locationId: string;
  firstName: string | null;
  lastName: string | null;
  /** An explicit full name, when given instead of first/last. */
  name: string | null;
  email: string | null;
  phone: string | null;
  companyName: string | null;
  address1: string | null;
  city: string | null;
  state: string | null;
  postalCode: string | null;
  country: string | null;
  website: string | null;
  timezone: string | null;
  source: string | null;
  type: string;
  dnd: boolean;
  dateOfBirth: string | null;
  assignedTo: string | null;
  tags: string[];
  customFields: Record<string, CustomFieldValue>;
  dateAdded: number;
  dateUpdated: number;
  /** Creation sequence: the tie-breaker of search cursors. */
  seq: number;
}

export interface InvoiceTax {
  _id: string;
  name: string;
  rate: number;
  calculation: 'exclusive' | 'inclusive';
  description?: string | undefined;
  taxId?: string | undefined;
}

export interface InvoiceItem {
  _id: string;
  name: string;
  description: string;
  productId?: string | undefined;
  priceId?: string | undefined;
  currency: string;
  unitMinor: number;
  qty: number;
  taxes: InvoiceTax[];
  taxInclusive: boolean;
  type: 'one_time' | 'recurring';
}

export type InvoiceStatus = 'draft' | 'sent' | 'payment_processing' | 'partially_paid' | 'paid' | 'void';

export interface Invoice {
  id: string;
  locationId: string;
  status: InvoiceStatus;
  liveMode: boolean;
  name: string;
  title: string;
  currency: string;
  invoiceNumber: string;
  invoiceNumberPrefix: string;
  issueDate: string;
  dueDate: string;
  businessDetails: Record<string, unknown>;
  contactDetails: {
    id: string;
    name: string;
    email: string;
    phoneNo: string;
    companyName?: string | undefined;
    address?: Record<string, unknown> | undefined;
    additionalEmails?: Array<{ email: string }> | undefined;
    customFields?: unknown[] | undefined;
  };
  discount: { type: 'percentage' | 'fixed'; value: number; validOnProductIds?: string[] | undefined };
  items: InvoiceItem[];
  termsNotes: string;
  sentTo: {
    email: string[];
    emailCc?: string[] | undefined;
    emailBcc?: string[] | undefined;
    phoneNo?: string[] | undefined;
  };
  automaticTaxesEnabled: boolean;
  amountPaidMinor: number;
  createdAt: number;
  updatedAt: number;
  sentAt: number | null;
}

export interface OrderItem {
  _id: string;
  name: string;
  qty: number;
  unitMinor: number;
  productId: string;
  priceId: string;
  priceType: 'one_time' | 'recurring';
  taxes: InvoiceTax[];
  recurring?: { interval: 'day' | 'week' | 'month' | 'year'; intervalCount: number } | undefined;
}

export type OrderStatus = 'pending' | 'completed' | 'cancelled' | 'refunded' | 'partially_refunded';
export type OrderPaymentStatus = 'unpaid' | 'paid' | 'partially_paid' | 'refunded' | 'partially_refunded';

export interface PaymentSource {
  type: string;
  subType?: string | undefined;
  id: string;
  name: string;
  meta?: Record<string, unknown> | undefined;
}

export interface Order {
  id: string;
  locationId: string;
  contactId: string;
  currency: string;
  status: OrderStatus;
  paymentStatus: OrderPaymentStatus;
  fulfillmentStatus: 'unfulfilled' | 'fulfilled';
  liveMode: boolean;
  source: PaymentSource;
  items: OrderItem[];
  discountMinor: number;
  couponCode?: string | undefined;
  /** The contact as it was when the order was placed (camelCase contact fields). */
  contactSnapshot: ContactSnapshot;
  createdAt: number;
  updatedAt: number;
  createdBy: string;
}

export type TransactionStatus = 'succeeded' | 'failed' | 'pending' | 'refunded' | 'partially_refunded';

export interface Transaction {
  id: string;
  locationId: string;
  contactId: string;
  currency: string;
  amountMinor: number;
  amountRefundedMinor: number;
  status: TransactionStatus;
  liveMode: boolean;
  entityType: 'order' | 'invoice';
  entityId: string;
  entitySource: PaymentSource;
  contactSnapshot: ContactSnapshot;
  invoiceId?: string | undefined;
  subscriptionId?: string | undefined;
  chargeId: string;
  paymentProviderType: string;
  paymentMethod: Record<string, unknown>;
  createdAt: number;
  updatedAt: number;
  fulfilledAt: number;
  createdBy: string;
  /** Set when the location's built-in QuickBooks integration posted the payment (the detail's qboSynced/qboResponse). */
  qboResponse?: { domain: 'QBO'; sparse: false; Id: string; SyncToken: string; TotalAmt: number } | undefined;
}

export type SubscriptionStatus = 'trialing' | 'active' | 'expired' | 'canceled' | 'unpaid' | 'pending';

export interface Subscription {
  id: string;
  locationId: string;
  contactId: string;
  currency: string;
  amountMinor: number;
  status: SubscriptionStatus;
  liveMode: boolean;
  entityType: 'order';
  entityId: string;
  entitySource: PaymentSource;
  /** The payment provider's subscription id (e.g. Stripe "sub_..."). */
  providerSubscriptionId: string;
  contactSnapshot: ContactSnapshot;
  interval: 'day' | 'week' | 'month' | 'year';
  intervalCount: number;
  productName: string;
  createdAt: number;
  updatedAt: number;
  canceledAt: number | null;
  renewals: number;
}

export interface Workflow {
  id: string;
  locationId: string;
  name: string;
  status: 'published' | 'draft';
  version: number;
  createdAt: number;
  updatedAt: number;
}

/** A product of the location's catalogue (apps/products.json DefaultProductResponseDto). */
export interface Product {
  id: string;
  locationId: string;
  name: string;
  productType: 'DIGITAL' | 'PHYSICAL' | 'SERVICE' | 'PHYSICAL/DIGITAL';
  description: string;
  createdAt: number;
  updatedAt: number;
}

export interface ContactNote {
  id: string;
  contactId: string;
  body: string;
  userId: string;
  dateAdded: number;
}

export interface WorkflowEnrolment {
  id: string;
  locationId: string;
  contactId: string;
  workflowId: string;
  workflowName: string;
  eventStartTime: string | null;
  at: string;
  removedAt: string | null;
}

export interface SentMessage {
  messageId: string;
  conversationId: string;
  locationId: string;
  contactId: string;
  type: string;
  to: string | null;
  subject: string | null;
  message: string | null;
  html: string | null;
  emailFrom: string | null;
  status: 'delivered' | 'pending' | 'failed';
  at: string;
}

export interface TagChange {
  locationId: string;
  contactId: string;
  added: string[];
  removed: string[];
  via: string;
  at: string;
}

export type UserType = 'Company' | 'Location';

export interface TokenGrant {
  token: string;
  kind: 'access' | 'refresh' | 'pit';
  userType: UserType;
  companyId: string;
  locationId: string | null;
  approvedLocations: string[];
  scopes: string[];
  clientId: string;
  appId: string;
  userId: string;
  /** Emulated epoch ms; null = never. */
  expiresAt: number | null;
  revoked: boolean;
  /** Refresh tokens are single use: set once exchanged. */
  usedAt: number | null;
  createdAt: number;
}

export interface AuthorizationCode {
  code: string;
  clientId: string;
  redirectUri: string | null;
  scopes: string[];
  companyId: string;
  locationId: string | null;
  userId: string;
  expiresAt: number;
  used: boolean;
}
