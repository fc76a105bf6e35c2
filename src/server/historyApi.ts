// The dashboard's routes for history from a chosen date (src/sync/flows/history.ts): a dry run that lists what a
// backfill would write, the start, the cancel, and the state the card shows (also in the connection's GET). Every
// route names its connection: another connection's id answers 404.
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { Connection } from '../store/connections.ts';
import type { Db } from '../store/db.ts';
import type { Engine } from '../sync/engine/engine.ts';
import { describeError } from '../sync/engine/errors.ts';
import { RetryLater } from '../sync/engine/errors.ts';
import {
  cancelHistoryBackfill,
  historyDateSchema,
  HistoryDateError,
  historyDryRun,
  historyPlanSchema,
  HistoryStateError,
  readHistoryDryRun,
  readHistoryProgress,
  startHistoryBackfill,
  type HistoryProgress,
} from '../sync/flows/history.ts';
import { syncStartDates } from '../sync/services/syncStart.ts';
import { apiRoute, HttpProblem, notFound, type SessionLookup } from './apiRoute.ts';

const params = z.object({ id: z.string().min(1).max(100) });
const fromBody = z
  .object({
    from: historyDateSchema.describe(
      'The first day (YYYY-MM-DD, UTC) whose CRM payments and sent invoices are brought into QuickBooks; not after the connection',
    ),
  })
  .strict();

const totals = z.object({
  count: z.number().int(),
  byCurrency: z.record(z.string(), z.number().int()).describe('Currency -> total in integer minor units'),
});

export const historyRunSchema = z.object({
  runId: z.string(),
  from: z.string(),
  until: z.string().describe('The connection time: records from then on are synced live'),
  state: z.enum(['waiting', 'running', 'finished', 'cancelled']),
  done: z.number().int(),
  total: z.number().int(),
  payments: z.number().int().describe('Sales receipts written so far'),
  invoices: z.number().int().describe('Invoices written so far'),
  skipped: z.number().int(),
  failed: z.number().int().describe('Records whose job ended in an error (each is an open error in the activity)'),
  planned: z.object({ payments: totals, invoices: totals }).describe('What the dry run at the start found'),
  startedAt: z.string(),
  finishedAt: z.string().nullable(),
  cancelledAt: z.string().nullable(),
});

export const historyStateSchema = z.object({
  syncStart: z
    .string()
    .nullable()
    .describe('The day records are synced from (a backfill under way or finished); null: from the connection time'),
  dryRun: historyPlanSchema.nullable().describe('The last dry run, until a backfill starts from it'),
  run: historyRunSchema.nullable().describe('The backfill under way, or the last one (its summary)'),
});
export type HistoryState = z.infer<typeof historyStateSchema>;

function runView(p: HistoryProgress): z.infer<typeof historyRunSchema> {
  return {
    runId: p.runId,
    from: p.from,
    until: p.until,
    state: p.state,
    done: p.done,
    total: p.total,
    payments: p.payments,
    invoices: p.invoices,
    skipped: p.skipped,
    failed: p.failed,
    planned: p.planned,
    startedAt: p.startedAt,
    finishedAt: p.finishedAt ?? null,
    cancelledAt: p.cancelledAt ?? null,
  };
}

/** The history part of a connection's card. */
export async function historyState(db: Db, connection: Connection): Promise<HistoryState> {
  const scope = { db, connection };
  const [progress, dryRun, dates] = await Promise.all([
    readHistoryProgress(scope),
    readHistoryDryRun(scope),
    syncStartDates(scope),
  ]);
  const days = [dates.running, dates.finished].filter((d): d is string => d !== null).sort();
  return {
    syncStart: days[0] ?? null,
    // A dry run older than the run's start was what the run started from: the run's own figures say the rest.
    dryRun: dryRun && (!progress || dryRun.computedAt > progress.startedAt) ? dryRun : null,
    run: progress ? runView(progress) : null,
  };
}

/** A problem of the history routes as the answer the dashboard shows. */
function problemOf(error: unknown): never {
  if (error instanceof HistoryDateError) throw new HttpProblem(400, 'invalid_date', error.message);
  if (error instanceof HistoryStateError) throw new HttpProblem(409, 'history_state', error.message);
  if (error instanceof RetryLater) throw new HttpProblem(503, 'daily_budget', error.message);
  throw new HttpProblem(502, 'provider_error', `The records could not be listed: ${describeError(error)}`);
}

export function registerHistoryApi(
  app: FastifyInstance,
  { engine, lookup }: { engine: Engine; lookup: SessionLookup },
): void {
  const connectionOf = async (id: string) => {
    const connection = await engine.connections.get(id);
    if (!connection) throw notFound(`Connection ${id}`);
    return connection;
  };
  const liveContext = async (id: string) => {
    const connection = await connectionOf(id);
    if (!connection.qboRealmId || !connection.hlLocationId || !connection.connectedAt)
      throw new HttpProblem(409, 'not_connected', 'Connect both sides first');
    if (connection.status === 'disconnected' || connection.status === 'revoked')
      throw new HttpProblem(409, 'not_connected', `The connection is ${connection.status}: reconnect it first`);
    return engine.contextFor(connection);
  };

  apiRoute(app, lookup, {
    method: 'GET',
    url: '/api/connections/:id/history',
    summary: 'History from a chosen date: the last dry run, and the backfill under way or its summary',
    tags: ['history'],
    params,
    response: historyStateSchema,
    handler: async ({ params }) => historyState(engine.db, await connectionOf(params.id)),
  });

  apiRoute(app, lookup, {
    method: 'POST',
    url: '/api/connections/:id/history/dry-run',
    summary:
      'What a backfill from a date would write to QuickBooks (counts, totals per currency, the first records); writes nothing',
    tags: ['history'],
    params,
    body: fromBody,
    response: historyPlanSchema,
    handler: async ({ params, body }) => {
      const ctx = await liveContext(params.id);
      try {
        return await historyDryRun(ctx, body.from);
      } catch (error) {
        problemOf(error);
      }
    },
  });

  apiRoute(app, lookup, {
    method: 'POST',
    url: '/api/connections/:id/history',
    summary:
      'Start bringing CRM payments and sent invoices from a date up to the connection into QuickBooks (progress on the card)',
    tags: ['history'],
    params,
    body: fromBody,
    response: historyStateSchema,
    handler: async ({ params, body }) => {
      const ctx = await liveContext(params.id);
      try {
        const plan = await readHistoryDryRun(ctx);
        await startHistoryBackfill(ctx, body.from, plan ? { plan } : {});
      } catch (error) {
        problemOf(error);
      }
      return historyState(engine.db, ctx.connection);
    },
  });

  apiRoute(app, lookup, {
    method: 'DELETE',
    url: '/api/connections/:id/history',
    summary: 'Cancel the backfill under way (what it wrote stays; the records it had not reached stay out)',
    tags: ['history'],
    params,
    response: historyStateSchema,
    handler: async ({ params }) => {
      const connection = await connectionOf(params.id);
      try {
        await cancelHistoryBackfill({ db: engine.db, connection, queue: engine.queue });
      } catch (error) {
        problemOf(error);
      }
      return historyState(engine.db, connection);
    },
  });
}
