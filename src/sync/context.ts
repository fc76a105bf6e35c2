// What a flow works with for one connection: the store, the connection, and both providers' clients.
import type pino from 'pino';
import type { Db } from '../store/db.ts';
import type { Connection } from '../store/connections.ts';
import type { QuickBooksClient } from '../quickbooks/client.ts';
import type { ContactsApi } from '../highlevel/contacts.ts';
import type { InvoicesApi } from '../highlevel/invoices.ts';
import type { PaymentsApi } from '../highlevel/payments.ts';
import type { LocationsApi } from '../highlevel/locations.ts';
import type { WorkflowsApi } from '../highlevel/workflows.ts';
import type { ConversationsApi } from '../highlevel/conversations.ts';
import type { JobQueue } from './queue.ts';
import type { CompanyFacts } from './company.ts';

export interface HighLevelApis {
  locationId: string;
  contacts: ContactsApi;
  invoices: InvoicesApi;
  payments: PaymentsApi;
  locations: LocationsApi;
  workflows: WorkflowsApi;
  conversations: ConversationsApi;
}

export interface FlowContext {
  db: Db;
  connection: Connection;
  qbo: QuickBooksClient;
  hl: HighLevelApis;
  queue: JobQueue;
  log: pino.Logger;
  /** QuickBooks company facts cached per connection (country, currency, accounts, tax codes). */
  company: () => Promise<CompanyFacts>;
}
