// The engine's own periodic jobs, declared like a flow's: QuickBooks change data capture behind the webhooks, and
// the sweep job that runs every flow's sweep (its `sweep`) for a connection. With the flows' declarations they
// are every queue the engine defines (DECLARED_FLOWS).
import { z } from 'zod';
import { FLOWS } from '../flows/index.ts';
import { changeCaptureDue, changeCaptureKey, pollQuickBooksChanges } from '../services/changeCapture.ts';
import { defineFlow, defineJob, payload, POLLING_ACTIVITY, type FlowDeclaration } from './flow.ts';
import { QUEUES } from './queues.ts';

export const periodicFlow = defineFlow({
  name: POLLING_ACTIVITY,
  summary: 'QuickBooks change data capture and the sweeps of the flows, for every live connection',
  jobs: {
    pollQboChanges: defineJob({
      queue: QUEUES.pollQboChanges,
      payload: payload({}),
      run: (ctx) => pollQuickBooksChanges(ctx),
      concurrency: () => 2,
      periodic: true,
    }),
    /** Its queue keeps the name it had when invoices were the only flow with a sweep: jobs wait under it. */
    sweeps: defineJob({
      queue: QUEUES.sweepInvoices,
      payload: payload({ catchUp: z.boolean().optional() }),
      run: async (ctx, data) => {
        // A catch-up sweep (after a resume) runs whenever the last one did.
        const every = data.catchUp === true ? { minIntervalMs: 0 } : {};
        for (const flow of FLOWS as readonly FlowDeclaration[]) if (flow.sweep) await flow.sweep(ctx, every);
      },
      concurrency: () => 2,
      periodic: true,
    }),
  },
  linkKinds: [],
  schedules: [
    {
      job: 'pollQboChanges',
      key: changeCaptureKey,
      due: (ctx, settings) => changeCaptureDue(ctx, settings.cdcPollSeconds),
    },
    {
      job: 'sweeps',
      key: (connectionId) => `${connectionId}:sweep:invoices`,
      data: ({ catchUp }) => (catchUp ? { catchUp: true } : {}),
    },
  ],
});

/** Every declaration whose queues the engine defines: the flows, then its own periodic jobs. */
export const DECLARED_FLOWS: readonly FlowDeclaration[] = [...FLOWS, periodicFlow];
