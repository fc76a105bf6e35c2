// Every flow, one line each. The engine defines their queues, the webhook routing and change data capture send
// events to their jobs, reconciliation and the dashboard read what they reconcile: all from this list. Adding a
// flow is its file and one line here (docs/adding-a-flow.md). Sweeps run in this order.
import { salesReceiptsFlow } from './salesReceipts.ts';
import { refundsFlow } from './refunds.ts';
import { invoicesFlow } from './invoices.ts';
import { customersFlow } from './customers.ts';
import { qboCustomersFlow } from './qboCustomers.ts';
import { contactImportFlow } from './contactImport.ts';
import { invoiceImportFlow } from './invoiceImport.ts';
import { reviewRequestsFlow } from './reviewRequests.ts';

export const FLOWS = [
  salesReceiptsFlow,
  refundsFlow,
  invoicesFlow,
  customersFlow,
  qboCustomersFlow,
  contactImportFlow,
  invoiceImportFlow,
  reviewRequestsFlow,
] as const;

/** A flow's name: the `flow` of its activity entries and metrics. */
export type FlowName = (typeof FLOWS)[number]['name'];
