// The names of the flows' queues, for the code that enqueues into a queue by name. Each queue is declared by one
// flow (its `jobs`, src/sync/flows/); a name never changes, since jobs waiting under it survive restarts. A new
// flow needs no entry here: its declaration names its queues, and code enqueues through the declaration (enqueue
// in flow.ts).
export const QUEUES = {
  /** CRM order (order form / funnel / calendar / membership) -> QuickBooks sales receipt. */
  crmOrder: 'crm-order',
  /** CRM transaction (subscription payments and renewals, and any payment found by polling) -> sales receipt. */
  crmTransaction: 'crm-transaction',
  /** CRM contact changed -> its QuickBooks customer, when it has one. */
  crmContact: 'crm-contact',
  /** CRM invoice -> QuickBooks invoice, for its whole life. */
  crmInvoice: 'crm-invoice',
  /** Pollers, one job per connection and kind. */
  pollPayments: 'poll-payments',
  /** The sweeps of every flow that has one (invoices, contacts), one job per connection. */
  sweepInvoices: 'sweep-invoices',
  /** QuickBooks customer -> CRM contact. */
  qboCustomer: 'qbo-customer',
  /** QuickBooks invoice or payment changed -> review requests. */
  qboInvoice: 'qbo-invoice',
  /** QuickBooks payment on an invoice made from a CRM invoice -> payment recorded on the CRM invoice. */
  qboPayment: 'qbo-payment',
  /** At connection: every existing QuickBooks customer -> CRM contact (one slice per job, resumable). */
  importCustomers: 'import-customers',
  /** At connection, when chosen: every existing QuickBooks invoice -> CRM invoice, once. */
  importInvoices: 'import-invoices',
  /** QuickBooks change data capture behind the webhooks, one job per connection. */
  pollQboChanges: 'poll-qbo-changes',
} as const;

export type QueueName = (typeof QUEUES)[keyof typeof QUEUES];
