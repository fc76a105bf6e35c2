// Every flow, one line each. The engine defines their queues, the webhook routing and change data capture send
// events to their jobs, reconciliation and the dashboard read what they reconcile, and the activity names records
// by their link kinds: all from this list. Adding a flow is its file and one line here (docs/adding-a-flow.md).
// Sweeps run in this order.
import { salesReceiptsFlow } from './salesReceipts.ts';
import { refundsFlow } from './refunds.ts';
import { invoicesFlow } from './invoices.ts';
import { customersFlow } from './customers.ts';
import { qboCustomersFlow } from './qboCustomers.ts';
import { contactImportFlow } from './contactImport.ts';
import { invoiceImportFlow } from './invoiceImport.ts';
import { reviewRequestsFlow } from './reviewRequests.ts';
import { qboPaymentsFlow } from './qboPayments.ts';
import { historyFlow } from './history.ts';
import { recordNaming } from '../../store/recordNames.ts';
import { type FlowDeclaration, linkKindsOf } from '../engine/flow.ts';

export const FLOWS = [
  salesReceiptsFlow,
  refundsFlow,
  invoicesFlow,
  customersFlow,
  qboCustomersFlow,
  contactImportFlow,
  invoiceImportFlow,
  reviewRequestsFlow,
  qboPaymentsFlow,
  historyFlow,
] as const;

/** A flow's name: the `flow` of its activity entries and metrics. */
export type FlowName = (typeof FLOWS)[number]['name'];

/** Every link kind the flows write, with the records it pairs and what people call them. */
export const LINK_KINDS = linkKindsOf(FLOWS as readonly FlowDeclaration[]);

/** How the activity names records and tells echoes, from LINK_KINDS: what the dashboard hands the store. */
export const RECORD_NAMING = recordNaming(LINK_KINDS);
