// Which flow handles which provider event. Webhook bodies are hints: each job re-reads the record it names.
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
  /** Catches up on invoices whose webhook HighLevel never delivered (it does not retry failed ones). */
  sweepInvoices: 'sweep-invoices',
  /** QuickBooks customer -> CRM contact. */
  qboCustomer: 'qbo-customer',
  /** QuickBooks invoice or payment changed -> review requests. */
  qboInvoice: 'qbo-invoice',
  /** At connection: every existing QuickBooks customer -> CRM contact (one slice per job, resumable). */
  importCustomers: 'import-customers',
  /** At connection, when chosen: every existing QuickBooks invoice -> CRM invoice, once. */
  importInvoices: 'import-invoices',
  /** QuickBooks change data capture behind the webhooks, one job per connection. */
  pollQboChanges: 'poll-qbo-changes',
} as const;

export type QueueName = (typeof QUEUES)[keyof typeof QUEUES];

export interface Route {
  queue: QueueName;
  key: string;
  data: Record<string, unknown>;
}

/**
 * HighLevel webhook -> job, by what the event concerns. Every invoice event, whatever its type or whether it has
 * one (HighLevel's Invoice* docs show none), asks the same thing: re-read the invoice and bring QuickBooks in line.
 * Events that are not listed are recorded and ignored.
 */
export function routeHighLevelEvent(kind: string, type: string, recordId: string | undefined): Route | undefined {
  if (!recordId) return undefined;
  switch (kind) {
    case 'order':
      return { queue: QUEUES.crmOrder, key: `order:${recordId}`, data: { orderId: recordId } };
    case 'invoice':
      return { queue: QUEUES.crmInvoice, key: `invoice:${recordId}`, data: { invoiceId: recordId, event: type } };
    case 'contact':
      // ContactDndUpdate changes nothing ledgerlink syncs (dnd is not a QuickBooks customer field).
      if (type === 'ContactDndUpdate') return undefined;
      return { queue: QUEUES.crmContact, key: `contact:${recordId}`, data: { contactId: recordId, event: type } };
    default:
      return undefined;
  }
}

/** QuickBooks entity change -> job. */
export function routeQuickBooksEvent(entity: string, entityId: string, operation: string): Route | undefined {
  switch (entity) {
    case 'Customer':
      return { queue: QUEUES.qboCustomer, key: `customer:${entityId}`, data: { customerId: entityId, operation } };
    case 'Invoice':
      return { queue: QUEUES.qboInvoice, key: `qbo-invoice:${entityId}`, data: { invoiceId: entityId, operation } };
    case 'Payment':
      return { queue: QUEUES.qboInvoice, key: `qbo-payment:${entityId}`, data: { paymentId: entityId, operation } };
    default:
      return undefined;
  }
}
