// QuickBooks customers -> CRM contacts, live: a customer created, changed, made inactive or deleted in QuickBooks
// (webhook or change data capture) brings its contact in line (syncQboCustomer). The import of the customers that
// existed at connection is its own flow (contactImport.ts); both record their activity as 'contacts'.
import { z } from 'zod';
import { QUEUES } from '../engine/queues.ts';
import { defineFlow, defineJob, payload } from '../engine/flow.ts';
import { CONTACTS_FLOW, syncQboCustomer } from './contactImport.ts';

export const qboCustomersFlow = defineFlow({
  name: CONTACTS_FLOW,
  summary: 'QuickBooks customers -> CRM contacts, as they change',
  jobs: {
    qboCustomer: defineJob({
      queue: QUEUES.qboCustomer,
      payload: payload({ customerId: z.string(), operation: z.string().optional() }),
      run: (ctx, data) => syncQboCustomer(ctx, data.customerId),
      logIds: (data) => ({ customerId: data.customerId }),
    }),
  },
  linkKinds: ['customer'],
  events: {
    quickbooks: {
      Customer: ({ entityId, operation }) => ({
        job: 'qboCustomer',
        key: `customer:${entityId}`,
        data: { customerId: entityId, operation },
      }),
    },
  },
  reconciles: [{ kind: 'customers', writes: 'crm', job: 'qboCustomer' }],
});
