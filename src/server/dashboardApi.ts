// The dashboard's JSON API: connections and their integration cards, activity (filter, detail, Retry),
// reconciliation, tax code mapping, settings, pause and disconnect. Every route needs the session, and every
// read and write names its connection: a record of another connection answers 404.
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { crmTaxKey } from '../domain/taxCodes.ts';
import { parsePercent } from '../domain/money.ts';
import { activitySummary, getActivity, listActivity, markResolved, type ActivityRecord } from '../store/activity.ts';
import {
  AccountInUseError,
  reconnectReason,
  reviewRequestMechanismSchema,
  sidesToReconnect,
  type Connection,
} from '../store/connections.ts';
import { readCursor } from '../store/cursors.ts';
import { countLinks } from '../store/links.ts';
import { listRefusals } from '../store/webhookRefusals.ts';
import { currencyExponent } from '../domain/money.ts';
import { highLevelRecordUrl, quickbooksRecordUrl } from './providerLinks.ts';
import { REFUSAL_SAMPLE_SECONDS } from '../sync/engine/intake.ts';
import type { Engine } from '../sync/engine/engine.ts';
import { describeError } from '../sync/engine/errors.ts';
import { disconnect } from '../sync/connections/disconnect.ts';
import { connectWithTokens, connectWithTokensSchema } from '../sync/connections/connect.ts';
import {
  RECONCILIATION_KINDS,
  reconcile,
  resyncDifferences,
  type Reconciliation,
} from '../sync/services/reconciliation.ts';
import {
  checkedReviewRequest,
  describeReviewRequest,
  resumeWaitingReviewRequests,
  reviewRequestProblem,
} from '../sync/flows/reviewRequests.ts';
import { RECORD_NAMING } from '../sync/flows/index.ts';
import { SyncError } from '../sync/engine/errors.ts';
import { builtInQuickBooksState } from '../sync/services/builtInQuickBooks.ts';
import { failingSides } from '../store/sideHealth.ts';
import { apiRoute, HttpProblem, notFound, type SessionLookup } from './apiRoute.ts';
import {
  classTracking,
  departmentTracking,
  mappingChanges,
  PAYMENT_METHOD_KEYS,
  paymentMethodNames,
  trackingSwitches,
  type MappedList,
} from '../domain/bookkeepingRefs.ts';
import { bookkeepingMappingsSchema } from '../store/connections.ts';
import { recordActivity } from '../store/activity.ts';
import { select } from '../quickbooks/query.ts';
import { forgetCompanyMappings } from '../sync/services/mappings.ts';
import { historyState, historyStateSchema } from './historyApi.ts';

/** The refresh token of QuickBooks lasts 100 days (rolling); within two weeks of its end the card warns. */
const EXPIRY_WARNING_MS = 14 * 86_400_000;

const connectionParams = z.object({ id: z.string().min(1).max(100) });
const activityParams = connectionParams.extend({ activityId: z.coerce.number().int().positive() });

const progressSchema = z.object({ done: z.number().int().nonnegative(), total: z.number().int().nonnegative() });

function failingSideSchema() {
  return z.object({
    side: z.enum(['quickbooks', 'highlevel']),
    since: z.string().describe('The first failure of this outage'),
    lastFailureAt: z.string(),
    lastError: z.string().describe('What the provider said last: status, code, message'),
    waitingRecords: z.number().describe('Records whose jobs wait for their next try on this side'),
    nextTryAt: z
      .string()
      .nullable()
      .describe(
        'The soonest next try; null while a first try is under way, or when every waiting job ran out of tries',
      ),
    gaveUpRecords: z
      .number()
      .describe('Records whose jobs ran out of tries during this outage: open errors with a Retry button'),
    needsAttention: z
      .boolean()
      .describe('Failing for longer than the alert threshold (LEDGERLINK_ALERT_AFTER_SECONDS)'),
  });
}

const cardSchema = z.object({
  id: z.string(),
  name: z.string(),
  status: z.enum(['pending', 'connected', 'token-expiring', 'revoked', 'paused', 'disconnected']),
  statusReason: z.string().nullable(),
  needsReconnect: z
    .array(z.enum(['quickbooks', 'highlevel']))
    .describe(
      'The sides whose tokens are missing or were refused: each needs its own reconnect (Reconnect QuickBooks, Reconnect HighLevel on the card) before the connection syncs',
    ),
  connectedAt: z.string().nullable(),
  quickbooks: z
    .object({
      realmId: z.string(),
      companyName: z.string().nullable().describe('CompanyInfo.CompanyName, read when QuickBooks was connected'),
      country: z.string().nullable(),
      homeCurrency: z.string().nullable(),
      currencyExponent: z
        .number()
        .nullable()
        .describe('Minor-unit digits of the home currency (ISO 4217): amounts are integers of these'),
      refreshExpiresAt: z.string().nullable(),
    })
    .nullable(),
  highlevel: z
    .object({
      locationId: z.string(),
      locationName: z.string().nullable().describe("The location's name, read when HighLevel was connected"),
      country: z.string().nullable(),
    })
    .nullable(),
  importOldInvoices: z.boolean(),
  reviewRequests: z.boolean(),
  paymentsFromQuickBooks: z
    .boolean()
    .describe(
      'Payments recorded in QuickBooks against invoices made from CRM invoices are recorded on the CRM invoice',
    ),
  reviewRequest: z.object({
    method: z.enum(['workflow', 'tag', 'message']),
    description: z.string().describe('The mechanism in force, in words'),
    problem: z
      .string()
      .nullable()
      .describe('Why review requests cannot be sent now (the chosen workflow is gone), with the fix in the open error'),
  }),
  builtInQuickBooks: z.object({
    active: z.boolean().describe("A payment of the last 30 days was posted by HighLevel's own QuickBooks integration"),
    lastPaymentAt: z.string().nullable(),
    warning: z.string().nullable(),
  }),
  taxModel: z
    .enum(['US', 'global'])
    .nullable()
    .describe('US: tax folded into line prices; global: per-line tax codes (mapping applies)'),
  lastSync: z.record(z.string(), z.string()).describe('Flow -> time of its last successful sync'),
  counts: z.record(z.string(), z.number()).describe('Linked records per kind, and openErrors'),
  progress: z.object({
    customerImport: progressSchema.nullable(),
    invoiceImport: progressSchema.nullable(),
    history: progressSchema.nullable().describe('The backfill of history from a chosen date (records settled of all)'),
  }),
  history: historyStateSchema,
  failingSides: z
    .array(failingSideSchema())
    .describe(
      'Sides whose provider keeps failing (5xx, no answer, throttling) while records wait for their next try; empty when both answer',
    ),
});
type Card = z.infer<typeof cardSchema>;

const activityRowSchema = z.object({
  id: z.number(),
  flow: z.string(),
  status: z.enum(['ok', 'skipped', 'error', 'info']),
  message: z.string(),
  crm: z.object({ kind: z.string(), id: z.string() }).nullable(),
  quickbooks: z.object({ kind: z.string(), id: z.string() }).nullable(),
  detail: z.record(z.string(), z.unknown()),
  fix: z.string().nullable().describe('For errors: what to do about it'),
  retryable: z.boolean(),
  resolvedAt: z.string().nullable(),
  createdAt: z.string(),
  occurrences: z.number().describe('For errors: how many times it was met while open (one entry per record and cause)'),
  lastSeenAt: z.string().describe('When it was last met (createdAt when only once)'),
  warnings: z
    .array(z.string())
    .describe(
      'For successes: what had to change on the way (text cut to QuickBooks\' limits); "synced with warnings" when not empty',
    ),
  echo: z
    .boolean()
    .describe("An event ignored because it only reports ledgerlink's own write (listed only with echoes=true)"),
  record: z
    .object({
      key: z.string().describe('Entries about the same record share this key'),
      label: z
        .string()
        .describe('The record as people call it: "Sales receipt 1001", "Invoice 1003", a customer\'s name'),
      quickbooksUrl: z.string().nullable().describe("The record in QuickBooks Online's web app"),
      highlevelUrl: z
        .string()
        .nullable()
        .describe("The record (or, for a payment, its contact) in HighLevel's web app"),
      contact: z
        .object({
          name: z.string().nullable(),
          email: z.string().nullable(),
          quickbooksUrl: z.string().nullable(),
          highlevelUrl: z.string().nullable(),
        })
        .nullable(),
      amount: z
        .object({ minor: z.number(), currency: z.string(), exponent: z.number(), dueMinor: z.number().nullable() })
        .nullable()
        .describe('Integer minor units (exponent digits); dueMinor: what is still due on an invoice'),
    })
    .nullable(),
});

const activityQuery = z.object({
  flow: z.string().trim().min(1).max(100).optional(),
  status: z.enum(['ok', 'skipped', 'error', 'info']).optional(),
  text: z.string().trim().min(1).max(200).optional(),
  openErrors: z
    .enum(['true', 'false'])
    .optional()
    .transform((v) => v === 'true'),
  echoes: z
    .enum(['true', 'false'])
    .optional()
    .transform((v) => v === 'true')
    .describe("Also list ledgerlink's own writes coming back as events (left out by default)"),
  limit: z.coerce.number().int().min(1).max(500).default(50),
  beforeId: z.coerce.number().int().positive().optional(),
});

const settingsBody = z
  .object({
    importOldInvoices: z.boolean().optional(),
    reviewRequests: z.boolean().optional(),
    paymentsFromQuickBooks: z.boolean().optional(),
  })
  .strict();

const reviewRequestsSchema = z.object({
  enabled: z.boolean(),
  mechanism: reviewRequestMechanismSchema,
  description: z.string(),
  problem: z.string().nullable(),
  workflows: z
    .array(z.object({ id: z.string(), name: z.string(), status: z.string().nullable() }))
    .nullable()
    .describe("The location's workflows (null when HighLevel could not be asked)"),
  workflowsError: z.string().nullable(),
});
const reviewRequestsBody = z
  .object({ enabled: z.boolean().optional(), mechanism: reviewRequestMechanismSchema })
  .strict();

const taxSchema = z.object({
  name: z.string().trim().min(1).max(100),
  rate: z.union([z.number(), z.string().trim().min(1).max(20)]),
});
const taxMappingBody = z.object({
  mappings: z
    .array(z.object({ taxes: z.array(taxSchema).min(1).max(5), taxCodeId: z.string().min(1).max(50) }))
    .max(200),
});

const reconciliationSchema = z.object({
  connectionId: z.string(),
  computedAt: z.string(),
  since: z.string().nullable(),
  kinds: z.array(
    z.object({
      kind: z.enum(RECONCILIATION_KINDS),
      matched: z.number(),
      missingInQuickBooks: z.number(),
      missingInCrm: z.number(),
      amountDiffers: z.number(),
      differences: z.array(
        z.object({
          kind: z.string(),
          problem: z.enum(['missingInQuickBooks', 'missingInCrm', 'amountDiffers']),
          label: z.string(),
          crmId: z.string().nullable(),
          qboId: z.string().nullable(),
          currency: z.string().nullable(),
          crmAmountMinor: z.number().nullable(),
          qboAmountMinor: z.number().nullable(),
          resyncable: z.boolean(),
          note: z.string().nullable().describe('Why a re-sync cannot change this difference, and what can'),
        }),
      ),
    }),
  ),
});

const recordParams = connectionParams.extend({
  side: z.enum(['quickbooks', 'highlevel']),
  type: z.enum([
    'Customer',
    'SalesReceipt',
    'RefundReceipt',
    'Invoice',
    'Payment',
    'Item',
    'contact',
    'transaction',
    'order',
    'invoice',
  ]),
  recordId: z.string().min(1).max(100),
});

export interface DashboardApiOptions {
  engine: Engine;
  lookup: SessionLookup;
}

export async function registerDashboardApi(
  app: FastifyInstance,
  { engine, lookup }: DashboardApiOptions,
): Promise<void> {
  const db = engine.db;
  const connectionOf = async (id: string): Promise<Connection> => {
    const connection = await engine.connections.get(id);
    if (!connection) throw notFound(`Connection ${id}`);
    return connection;
  };
  const liveContext = async (id: string) => {
    const connection = await connectionOf(id);
    if (!connection.qboRealmId || !connection.hlLocationId)
      throw new HttpProblem(409, 'not_connected', 'Connect both sides first');
    if (connection.status === 'disconnected' || connection.status === 'revoked')
      throw new HttpProblem(409, 'not_connected', `The connection is ${connection.status}: reconnect it first`);
    return engine.contextFor(connection);
  };

  async function cardOf(connection: Connection): Promise<Card> {
    const [summary, links, customerImport, invoiceImport, reviewProblem, builtInQuickBooks, failing, history] =
      await Promise.all([
        activitySummary(db, connection.id),
        countLinks(db, connection.id),
        readCursor<unknown>(db, connection.id, 'customer-import'),
        readCursor<unknown>(db, connection.id, 'invoice-import'),
        reviewRequestProblem(db, connection.id),
        builtInQuickBooksState(db, connection.id),
        failingSides(db, connection.id),
        historyState(db, connection),
      ]);
    const expiring =
      connection.qboRefreshExpiresAt !== null &&
      connection.qboRefreshExpiresAt.getTime() - Date.now() < EXPIRY_WARNING_MS;
    const progress = (value: unknown) => {
      const parsed = progressSchema.safeParse(value);
      return parsed.success ? parsed.data : null;
    };
    const missing = sidesToReconnect(connection);
    // Connected means both sides can be called: a side without working tokens is never hidden behind it.
    const status = connection.status === 'connected' && missing.length > 0 ? 'revoked' : connection.status;
    return {
      id: connection.id,
      name: connection.name,
      status: status === 'connected' && expiring ? 'token-expiring' : status,
      statusReason:
        status === 'revoked' && missing.length > 0 && !connection.statusReason
          ? reconnectReason(connection, missing)
          : connection.statusReason,
      needsReconnect: missing.map((side) => (side === 'qbo' ? 'quickbooks' : 'highlevel')),
      connectedAt: connection.connectedAt?.toISOString() ?? null,
      quickbooks: connection.qboRealmId
        ? {
            realmId: connection.qboRealmId,
            companyName: connection.qboCompanyName,
            country: connection.qboCountry,
            homeCurrency: connection.qboHomeCurrency,
            currencyExponent: connection.qboHomeCurrency ? currencyExponent(connection.qboHomeCurrency) : null,
            refreshExpiresAt: connection.qboRefreshExpiresAt?.toISOString() ?? null,
          }
        : null,
      highlevel: connection.hlLocationId
        ? {
            locationId: connection.hlLocationId,
            locationName: connection.hlLocationName,
            country: connection.hlCountry,
          }
        : null,
      importOldInvoices: connection.importOldInvoices,
      reviewRequests: connection.reviewRequests,
      paymentsFromQuickBooks: connection.paymentsFromQuickBooks,
      builtInQuickBooks,
      reviewRequest: {
        method: connection.settings.reviewRequest.method,
        description: describeReviewRequest(connection.settings.reviewRequest),
        problem: reviewProblem,
      },
      taxModel: connection.qboCountry ? (connection.qboCountry === 'US' ? 'US' : 'global') : null,
      lastSync: Object.fromEntries(Object.entries(summary.lastSuccess).map(([flow, at]) => [flow, at.toISOString()])),
      counts: { ...links, openErrors: summary.openErrors },
      progress: {
        customerImport: progress(customerImport),
        invoiceImport: progress(invoiceImport),
        history: history.run ? { done: history.run.done, total: history.run.total } : null,
      },
      history,
      failingSides: failing.map((f) => ({
        side: f.side,
        since: f.since.toISOString(),
        lastFailureAt: f.lastFailureAt.toISOString(),
        lastError: f.lastError,
        waitingRecords: f.waitingRecords,
        nextTryAt: f.nextTryAt?.toISOString() ?? null,
        gaveUpRecords: f.gaveUpRecords,
        needsAttention: Date.now() - f.since.getTime() >= engine.attentionAfterSeconds * 1000,
      })),
    };
  }

  /** The rows of a page of entries, each with its record named and linked in both providers' apps. */
  const rowsOf = async (
    connection: Connection,
    entries: ActivityRecord[],
  ): Promise<Array<z.infer<typeof activityRowSchema>>> => {
    const facts = await RECORD_NAMING.recordFacts(db, connection.id, entries);
    const providers = engine.providers;
    const qboUrl = (ref: { kind: string; id: string } | null) =>
      ref ? quickbooksRecordUrl(providers.quickbooks.appUrl, ref.kind, ref.id) : null;
    const hlUrl = (kind: string, id: string | null | undefined) =>
      id ? highLevelRecordUrl(providers.highlevel.appUrl, connection.hlLocationId, kind, id) : null;
    return entries.map((entry, i) => {
      const f = facts[i];
      const contact = f?.contact
        ? {
            name: f.contact.name,
            email: f.contact.email,
            quickbooksUrl: qboUrl({ kind: 'Customer', id: f.contact.qboId }),
            highlevelUrl: hlUrl('contact', f.contact.crmId),
          }
        : null;
      return {
        ...rowOf(entry),
        record: f
          ? {
              key: f.key,
              label: f.label,
              quickbooksUrl: qboUrl(f.quickbooks),
              highlevelUrl: f.crm
                ? (hlUrl(f.crm.kind, f.crm.id) ??
                  (f.crm.kind === 'transaction' || f.crm.kind === 'order' ? (contact?.highlevelUrl ?? null) : null))
                : null,
              contact,
              amount: f.amount ? { ...f.amount, exponent: currencyExponent(f.amount.currency) } : null,
            }
          : null,
      };
    });
  };

  const rowOf = (entry: ActivityRecord): Omit<z.infer<typeof activityRowSchema>, 'record'> => ({
    id: entry.id,
    flow: entry.flow,
    status: entry.status,
    message: entry.message,
    crm: entry.crmKind && entry.crmId ? { kind: entry.crmKind, id: entry.crmId } : null,
    quickbooks: entry.qboKind && entry.qboId ? { kind: entry.qboKind, id: entry.qboId } : null,
    detail: entry.detail ?? {},
    fix: entry.status === 'error' ? fixFor(entry) : null,
    retryable: entry.status === 'error' && entry.resolvedAt === null && entry.retry !== undefined,
    resolvedAt: entry.resolvedAt?.toISOString() ?? null,
    createdAt: entry.createdAt.toISOString(),
    occurrences: entry.occurrences,
    lastSeenAt: entry.lastSeenAt.toISOString(),
    warnings: Array.isArray(entry.detail?.warnings)
      ? entry.detail.warnings.filter((w): w is string => typeof w === 'string')
      : [],
    echo: entry.echo,
  });

  apiRoute(app, lookup, {
    method: 'GET',
    url: '/api/connections',
    summary: 'Every connection with its integration card',
    tags: ['connections'],
    response: z.object({ connections: z.array(cardSchema) }),
    handler: async () => ({ connections: await Promise.all((await engine.connections.list()).map(cardOf)) }),
  });

  apiRoute(app, lookup, {
    method: 'POST',
    url: '/api/connections/from-tokens',
    summary:
      'Create a live connection from existing OAuth tokens of both sides (scripting, migrations); both are checked before it goes live',
    tags: ['connections'],
    body: connectWithTokensSchema,
    response: cardSchema,
    handler: async ({ body }, reply) => {
      let connection: Connection;
      try {
        connection = await connectWithTokens(engine, body);
      } catch (error) {
        if (error instanceof AccountInUseError)
          throw new HttpProblem(409, 'account_in_use', `${error.message}. ${error.fix}`);
        // The tokens were tried against both APIs: say which refused them, nothing was stored.
        throw new HttpProblem(422, 'tokens_refused', `The tokens could not be used: ${describeError(error)}`);
      }
      reply.code(201);
      return cardOf(connection);
    },
  });

  apiRoute(app, lookup, {
    method: 'GET',
    url: '/api/webhook-refusals',
    summary: 'Refused webhooks (bad or missing signatures, malformed bodies), counted per provider and reason',
    tags: ['activity'],
    response: z.object({
      sampleMinutes: z.number().describe('The activity list shows at most one refusal per reason in this many minutes'),
      refusals: z.array(
        z.object({
          provider: z.string(),
          reason: z.string(),
          count: z.number(),
          firstSeenAt: z.string(),
          lastSeenAt: z.string(),
        }),
      ),
    }),
    handler: async () => ({
      sampleMinutes: REFUSAL_SAMPLE_SECONDS / 60,
      refusals: (await listRefusals(db)).map((r) => ({
        ...r,
        firstSeenAt: r.firstSeenAt.toISOString(),
        lastSeenAt: r.lastSeenAt.toISOString(),
      })),
    }),
  });

  apiRoute(app, lookup, {
    method: 'GET',
    url: '/api/connections/:id',
    summary: "One connection's integration card",
    tags: ['connections'],
    params: connectionParams,
    response: cardSchema,
    handler: async ({ params }) => cardOf(await connectionOf(params.id)),
  });

  apiRoute(app, lookup, {
    method: 'PATCH',
    url: '/api/connections/:id/settings',
    summary: 'Change the toggles (import old invoices, send review requests, payments from QuickBooks)',
    tags: ['connections'],
    params: connectionParams,
    body: settingsBody,
    response: cardSchema.extend({
      note: z
        .string()
        .nullable()
        .describe('What the change started or stopped (the import of old invoices), when anything'),
    }),
    handler: async ({ params, body }) => {
      const before = await connectionOf(params.id);
      await engine.connections.updateToggles(params.id, body);
      engine.forget(params.id);
      const after = await connectionOf(params.id);
      // Turned on after connecting, the import starts now instead of waiting for a reconnection.
      const note =
        body.importOldInvoices !== undefined && body.importOldInvoices !== before.importOldInvoices
          ? await engine.oldInvoiceImportToggled(after)
          : null;
      return { ...(await cardOf(after)), note };
    },
  });

  // Review requests: how they are sent, chosen among what the location really has (a new location has no workflows).
  const reviewRequestsView = async (connection: Connection): Promise<z.infer<typeof reviewRequestsSchema>> => {
    let workflows: z.infer<typeof reviewRequestsSchema>['workflows'] = null;
    let workflowsError: string | null = null;
    if (!connection.hlLocationId || connection.status === 'disconnected' || connection.status === 'revoked') {
      workflowsError = 'The HighLevel location is not connected';
    } else {
      try {
        workflows = (await engine.highLevelFor(connection).workflows.list()).map((w) => ({
          id: w.id,
          name: w.name ?? w.id,
          status: w.status ?? null,
        }));
      } catch (error) {
        workflowsError = `HighLevel did not list the location's workflows: ${describeError(error)}`;
      }
    }
    const settings = connection.settings.reviewRequest;
    return {
      enabled: connection.reviewRequests,
      mechanism: settings,
      description: describeReviewRequest(settings),
      problem: await reviewRequestProblem(db, connection.id),
      workflows,
      workflowsError,
    };
  };

  apiRoute(app, lookup, {
    method: 'GET',
    url: '/api/connections/:id/review-requests',
    summary: "How review requests are sent, and the location's workflows to choose from",
    tags: ['connections'],
    params: connectionParams,
    response: reviewRequestsSchema,
    handler: async ({ params }) => reviewRequestsView(await connectionOf(params.id)),
  });

  apiRoute(app, lookup, {
    method: 'PUT',
    url: '/api/connections/:id/review-requests',
    summary:
      'Choose how review requests are sent (a workflow of the location, a tag, or a direct SMS/email); requests that waited for a working choice are sent',
    tags: ['connections'],
    params: connectionParams,
    body: reviewRequestsBody,
    response: reviewRequestsSchema.extend({ resumed: z.number() }),
    handler: async ({ params, body }) => {
      const connection = await connectionOf(params.id);
      if (!connection.hlLocationId)
        throw new HttpProblem(409, 'no_location', 'Install the HighLevel app on a location first');
      let mechanism: Awaited<ReturnType<typeof checkedReviewRequest>>;
      try {
        mechanism = await checkedReviewRequest(engine.highLevelFor(connection), body.mechanism);
      } catch (error) {
        if (error instanceof SyncError) throw new HttpProblem(400, 'invalid_request', `${error.message}. ${error.fix}`);
        throw new HttpProblem(
          502,
          'provider_error',
          `HighLevel did not list the location's workflows: ${describeError(error)}`,
        );
      }
      await engine.connections.updateSettings(params.id, { reviewRequest: mechanism });
      if (body.enabled !== undefined)
        await engine.connections.updateToggles(params.id, { reviewRequests: body.enabled });
      engine.forget(params.id);
      const resumed = await resumeWaitingReviewRequests(db, engine.queue, params.id);
      return { ...(await reviewRequestsView(await connectionOf(params.id))), resumed };
    },
  });

  apiRoute(app, lookup, {
    method: 'POST',
    url: '/api/connections/:id/pause',
    summary: 'Pause syncing (jobs wait; nothing is lost)',
    tags: ['connections'],
    params: connectionParams,
    response: cardSchema,
    handler: async ({ params }) => {
      const connection = await connectionOf(params.id);
      if (connection.status !== 'connected')
        throw new HttpProblem(409, 'not_connected', 'Only a connected connection can be paused');
      await engine.connections.setStatus(params.id, 'paused', 'Paused from the dashboard');
      return cardOf(await connectionOf(params.id));
    },
  });

  apiRoute(app, lookup, {
    method: 'POST',
    url: '/api/connections/:id/resume',
    summary: 'Resume a paused connection',
    tags: ['connections'],
    params: connectionParams,
    response: cardSchema,
    handler: async ({ params }) => {
      const connection = await connectionOf(params.id);
      if (connection.status !== 'paused') throw new HttpProblem(409, 'not_paused', 'The connection is not paused');
      // A side that lost its tokens while paused keeps the connection waiting for that side's reconnect (activate).
      const live = await engine.connections.activate(params.id);
      // The jobs that waited while paused run now (resumeStoppedJobs also enqueues the polls).
      if (live.status === 'connected') await engine.resumeStoppedJobs(params.id);
      return cardOf(await connectionOf(params.id));
    },
  });

  apiRoute(app, lookup, {
    method: 'POST',
    url: '/api/connections/:id/disconnect',
    summary: 'Disconnect: revoke tokens where the provider allows, keep the history',
    tags: ['connections'],
    params: connectionParams,
    response: z.object({ card: cardSchema, notes: z.array(z.string()) }),
    handler: async ({ params }) => {
      await connectionOf(params.id);
      const outcome = await disconnect(engine, params.id);
      return { card: await cardOf(await connectionOf(params.id)), notes: outcome.notes };
    },
  });

  apiRoute(app, lookup, {
    method: 'GET',
    url: '/api/connections/:id/activity',
    summary: 'Activity, newest first, filtered by flow, status and text',
    tags: ['activity'],
    params: connectionParams,
    query: activityQuery,
    response: z.object({
      entries: z.array(activityRowSchema),
      flows: z.array(z.string()),
      nextBeforeId: z.number().nullable(),
    }),
    handler: async ({ params, query }) => {
      const connection = await connectionOf(params.id);
      const entries = await listActivity(
        db,
        {
          connectionId: params.id,
          ...(query.flow ? { flow: query.flow } : {}),
          ...(query.status ? { status: query.status } : {}),
          ...(query.text ? { text: query.text } : {}),
          ...(query.openErrors ? { openErrorsOnly: true } : {}),
          ...(query.echoes ? {} : { withoutEchoes: true }),
          ...(query.beforeId ? { beforeId: query.beforeId } : {}),
          limit: query.limit,
        },
        RECORD_NAMING,
      );
      const flows = await db.query<{ flow: string }>(
        'SELECT DISTINCT flow FROM activity WHERE connection_id = $1 ORDER BY flow',
        [params.id],
      );
      return {
        entries: await rowsOf(connection, entries),
        flows: flows.rows.map((r) => r.flow),
        nextBeforeId: entries.length === query.limit ? entries[entries.length - 1]!.id : null,
      };
    },
  });

  apiRoute(app, lookup, {
    method: 'GET',
    url: '/api/connections/:id/activity/:activityId',
    summary: 'One activity entry with its detail',
    tags: ['activity'],
    params: activityParams,
    response: activityRowSchema,
    handler: async ({ params }) => {
      const connection = await connectionOf(params.id);
      const entry = await getActivity(db, params.id, params.activityId, RECORD_NAMING);
      if (!entry) throw notFound(`Activity ${params.activityId}`);
      return (await rowsOf(connection, [entry]))[0]!;
    },
  });

  apiRoute(app, lookup, {
    method: 'POST',
    url: '/api/connections/:id/activity/:activityId/retry',
    summary: 'Retry one error: its job runs again and the error is marked resolved',
    tags: ['activity'],
    params: activityParams,
    response: z.object({ retried: z.number(), alreadyQueued: z.number() }),
    handler: async ({ params }) => {
      const entry = await getActivity(db, params.id, params.activityId, RECORD_NAMING);
      if (!entry) throw notFound(`Activity ${params.activityId}`);
      if (entry.status !== 'error' || entry.resolvedAt || !entry.retry)
        throw new HttpProblem(409, 'not_retryable', 'Only an open error with a job to run again can be retried');
      return retry(params.id, [entry]);
    },
  });

  apiRoute(app, lookup, {
    method: 'POST',
    url: '/api/connections/:id/activity/retry-all',
    summary: 'Retry every open error of the connection',
    tags: ['activity'],
    params: connectionParams,
    response: z.object({ retried: z.number(), alreadyQueued: z.number() }),
    handler: async ({ params }) => {
      await connectionOf(params.id);
      const open = await listActivity(
        db,
        { connectionId: params.id, openErrorsOnly: true, limit: 1000 },
        RECORD_NAMING,
      );
      return retry(
        params.id,
        open.filter((e) => e.retry),
      );
    },
  });

  async function retry(
    connectionId: string,
    entries: ActivityRecord[],
  ): Promise<{ retried: number; alreadyQueued: number }> {
    const connection = await connectionOf(connectionId);
    if (connection.status !== 'connected')
      throw new HttpProblem(
        409,
        'not_connected',
        `The connection is ${connection.status}: ${connection.status === 'paused' ? 'resume' : 'reconnect'} it first, then Retry`,
      );
    let retried = 0;
    let alreadyQueued = 0;
    const seen = new Set<string>();
    for (const entry of entries) {
      const job = entry.retry!;
      if (!engine.handles(job.queue))
        throw new HttpProblem(409, 'flow_not_running', `No worker runs the ${job.queue} flow in this deployment`);
      const key = typeof job.data.key === 'string' ? job.data.key : `${connectionId}:retry:${entry.id}`;
      // Several errors of one record collapse into one job: it re-reads the record and covers them all.
      if (!seen.has(`${job.queue}:${key}`)) {
        seen.add(`${job.queue}:${key}`);
        const id = await engine.queue.enqueue(job.queue, { ...job.data, connectionId, key });
        if (id) retried += 1;
        else alreadyQueued += 1;
      }
    }
    await markResolved(
      db,
      connectionId,
      entries.map((e) => e.id),
    );
    return { retried, alreadyQueued };
  }

  // Reconciliation asks both APIs for everything since the connection date: kept for a minute per connection,
  // so that the re-sync button acts on what the person saw and a reload does not hammer the providers.
  const reconciliations = new Map<string, Reconciliation>();
  const present = (r: Reconciliation) => ({
    ...r,
    kinds: r.kinds.map((k) => ({
      ...k,
      differences: k.differences.map(({ resync, ...d }) => ({
        ...d,
        resyncable: resync !== null && engine.handles(resync.queue),
      })),
    })),
  });

  apiRoute(app, lookup, {
    method: 'GET',
    url: '/api/connections/:id/reconciliation',
    summary: 'Compare both sides per kind: matched, missing on either side, amounts that differ',
    tags: ['reconciliation'],
    params: connectionParams,
    query: z.object({
      refresh: z
        .enum(['true', 'false'])
        .optional()
        .transform((v) => v === 'true'),
    }),
    response: reconciliationSchema,
    handler: async ({ params, query }) => {
      const cached = reconciliations.get(params.id);
      if (cached && !query.refresh && Date.now() - Date.parse(cached.computedAt) < 60_000) return present(cached);
      const ctx = await liveContext(params.id);
      try {
        const result = await reconcile(ctx);
        reconciliations.set(params.id, result);
        return present(result);
      } catch (error) {
        throw new HttpProblem(502, 'provider_error', `Could not read both sides: ${describeError(error)}`);
      }
    },
  });

  apiRoute(app, lookup, {
    method: 'POST',
    url: '/api/connections/:id/reconciliation/resync',
    summary: "Re-sync the differences found (enqueue the flows' jobs)",
    tags: ['reconciliation'],
    params: connectionParams,
    body: z.object({ kinds: z.array(z.enum(RECONCILIATION_KINDS)).optional() }),
    response: z.object({
      enqueued: z.number(),
      alreadyQueued: z.number(),
      notCovered: z.number(),
      message: z.string().describe('What the re-sync did; says so when it could change nothing'),
    }),
    handler: async ({ params, body }) => {
      const ctx = await liveContext(params.id);
      const result = reconciliations.get(params.id) ?? (await reconcile(ctx));
      reconciliations.delete(params.id);
      return resyncDifferences(ctx, result, (queue) => engine.handles(queue), body.kinds);
    },
  });

  apiRoute(app, lookup, {
    method: 'GET',
    url: '/api/connections/:id/tax-codes',
    summary: "The QuickBooks company's tax codes, the mapping, and CRM taxes waiting for one",
    tags: ['tax codes'],
    params: connectionParams,
    response: z.object({
      applies: z.boolean(),
      codes: z.array(
        z.object({ id: z.string(), name: z.string(), ratePercents: z.array(z.union([z.number(), z.string()])) }),
      ),
      mappings: z.array(
        z.object({
          key: z.string(),
          taxes: z.array(z.object({ name: z.string(), rate: z.string() })),
          taxCodeId: z.string(),
        }),
      ),
      unmapped: z.array(
        z.object({
          key: z.string(),
          taxes: z.array(z.object({ name: z.string(), rate: z.string() })),
          reason: z.string(),
        }),
      ),
    }),
    handler: async ({ params }) => {
      const ctx = await liveContext(params.id);
      const facts = await ctx.company();
      const mapping = ctx.connection.settings.taxCodeMapping;
      const open = await listActivity(
        db,
        { connectionId: params.id, openErrorsOnly: true, limit: 1000 },
        RECORD_NAMING,
      );
      const unmapped = new Map<string, { key: string; taxes: Array<{ name: string; rate: string }>; reason: string }>();
      for (const entry of open) {
        const taxes = taxesOfError(entry);
        if (!taxes) continue;
        const key = crmTaxKey(taxes.map((t) => ({ name: t.name, rate: parsePercentOrThrow(t.rate) })));
        if (!Object.hasOwn(mapping, key) && !unmapped.has(key))
          unmapped.set(key, { key, taxes, reason: entry.message });
      }
      return {
        applies: facts.region === 'global',
        codes: facts.taxCodes.map((c) => ({ id: c.id, name: c.name, ratePercents: [...c.ratePercents] })),
        mappings: Object.entries(mapping).map(([key, taxCodeId]) => ({ key, taxes: taxesOfKey(key), taxCodeId })),
        unmapped: [...unmapped.values()],
      };
    },
  });

  apiRoute(app, lookup, {
    method: 'PUT',
    url: '/api/connections/:id/tax-codes',
    summary: 'Replace the tax code mapping (CRM taxes -> QuickBooks tax code)',
    tags: ['tax codes'],
    params: connectionParams,
    body: taxMappingBody,
    response: z.object({ mappings: z.number() }),
    handler: async ({ params, body }) => {
      const ctx = await liveContext(params.id);
      const facts = await ctx.company();
      if (facts.region !== 'global')
        throw new HttpProblem(409, 'us_company', 'US companies fold tax into line prices: there is nothing to map');
      const codes = new Set(facts.taxCodes.map((c) => c.id));
      const mapping: Record<string, string> = {};
      for (const entry of body.mappings) {
        if (!codes.has(entry.taxCodeId))
          throw new HttpProblem(
            400,
            'invalid_request',
            `QuickBooks tax code ${entry.taxCodeId} is not an active tax code of this company`,
          );
        const taxes = entry.taxes.map((t) => {
          const rate = parsePercent(t.rate, `rate of ${t.name}`);
          if (!rate.ok) throw new HttpProblem(400, 'invalid_request', rate.error.message);
          return { name: t.name, rate: rate.value };
        });
        mapping[crmTaxKey(taxes)] = entry.taxCodeId;
      }
      await engine.connections.updateSettings(params.id, { taxCodeMapping: mapping });
      engine.forget(params.id);
      return { mappings: Object.keys(mapping).length };
    },
  });

  registerMappingsApi(app, lookup, engine, liveContext);

  apiRoute(app, lookup, {
    method: 'GET',
    url: '/api/connections/:id/records/:side/:type/:recordId',
    summary: 'A record as the provider holds it now (the activity list links here)',
    tags: ['records'],
    params: recordParams,
    response: z.object({
      side: z.string(),
      type: z.string(),
      id: z.string(),
      record: z.unknown(),
      externalUrl: z.string().nullable(),
    }),
    handler: async ({ params }) => {
      const ctx = await liveContext(params.id);
      const record = await readRecord(ctx, params.side, params.type, params.recordId).catch((error: unknown) => {
        throw new HttpProblem(
          502,
          'provider_error',
          `${params.side === 'quickbooks' ? 'QuickBooks' : 'HighLevel'} did not give ${params.type} ${params.recordId}: ${describeError(error)}`,
        );
      });
      return {
        side: params.side,
        type: params.type,
        id: params.recordId,
        record,
        externalUrl:
          params.side === 'quickbooks'
            ? quickbooksRecordUrl(engine.providers.quickbooks.appUrl, params.type, params.recordId)
            : highLevelRecordUrl(
                engine.providers.highlevel.appUrl,
                ctx.connection.hlLocationId,
                params.type,
                params.recordId,
              ),
      };
    },
  });
}

type RecordParams = z.infer<typeof recordParams>;

async function readRecord(
  ctx: ReturnType<Engine['contextFor']>,
  side: RecordParams['side'],
  type: RecordParams['type'],
  id: string,
): Promise<unknown> {
  if (side === 'quickbooks') {
    switch (type) {
      case 'Customer':
      case 'SalesReceipt':
      case 'RefundReceipt':
      case 'Invoice':
      case 'Payment':
      case 'Item':
        return ctx.qbo.read(type, id);
      default:
        throw new HttpProblem(400, 'invalid_request', `${type} is not a QuickBooks record type`);
    }
  }
  switch (type) {
    case 'contact':
      return ctx.hl.contacts.get(id);
    case 'transaction':
      return ctx.hl.payments.getTransaction(id);
    case 'order':
      return ctx.hl.payments.getOrder(id);
    case 'invoice':
      return ctx.hl.invoices.get(id);
    default:
      throw new HttpProblem(400, 'invalid_request', `${type} is not a HighLevel record type`);
  }
}

/** What to do about an error: the flow's own `fix`, else advice from what the provider answered. */
export function fixFor(entry: ActivityRecord): string {
  const detail = entry.detail ?? {};
  if (typeof detail.fix === 'string' && detail.fix) return detail.fix;
  if (detail.code === 'connection-revoked') {
    const side = detail.side === 'qbo' ? 'QuickBooks' : detail.side === 'hl' ? 'HighLevel' : undefined;
    return side
      ? `Reconnect ${side} from the connection's card; this runs again by itself once it is reconnected`
      : "Reconnect the side the connection's card names; this runs again by itself once it is reconnected";
  }
  const status = typeof detail.status === 'number' ? detail.status : undefined;
  if (status === 429 || (status !== undefined && status >= 500))
    return 'The provider was busy or down for a while: press Retry';
  if (status === 401 || status === 403) return 'The provider refused the tokens: reconnect, then Retry';
  return 'Check the record on both sides; when it looks right, press Retry';
}

const taxesDetailSchema = z.array(z.object({ name: z.string(), rate: z.string() })).min(1);

/**
 * The CRM taxes a tax-code error is about: from its detail, where the flows record them as values; from the text
 * only for entries recorded before they did (a name holding `"` cannot be read back from there).
 */
function taxesOfError(entry: ActivityRecord): Array<{ name: string; rate: string }> | undefined {
  const recorded = taxesDetailSchema.safeParse(entry.detail?.taxes);
  return recorded.success ? recorded.data : taxesNamedIn(entry.message);
}

/** CRM taxes named in a tax-code error message: `HighLevel tax "HST" 15% + "Eco" 2% ...`. */
function taxesNamedIn(message: string): Array<{ name: string; rate: string }> | undefined {
  const match = /HighLevel tax ((?:"[^"]+" [0-9.]+%(?: \+ )?)+)/.exec(message);
  if (!match) return undefined;
  return [...match[1]!.matchAll(/"([^"]+)" ([0-9.]+)%/g)].map((m) => ({ name: m[1]!, rate: m[2]! }));
}

function taxesOfKey(key: string): Array<{ name: string; rate: string }> {
  return key.split(' + ').map((part) => {
    const bar = part.lastIndexOf('|');
    return bar < 0 ? { name: part, rate: '' } : { name: part.slice(0, bar), rate: part.slice(bar + 1) };
  });
}

function parsePercentOrThrow(rate: string) {
  const parsed = parsePercent(rate);
  if (!parsed.ok) throw new HttpProblem(500, 'internal', parsed.error.message);
  return parsed.value;
}

// The bookkeeper's mappings (issue 21): the account sales receipts deposit to, the income account of the items
// ledgerlink creates, CRM products -> QuickBooks items, the class and location of every transaction, and payment
// modes / card brands -> payment methods. The lists come from the company itself (active records only); a change
// applies to records written from then on, and its activity entry says when, who and what.

const APPLIES_FROM =
  'A change applies to records written from then on: records already in QuickBooks stay as they were written, ' +
  'until an edit in the CRM updates one (an edited invoice then takes the current mappings)';

const listEntrySchema = z.object({ id: z.string(), name: z.string(), type: z.string().nullable() });
const trackingSchema = z.object({
  on: z.boolean(),
  why: z.string().nullable().describe('Why the company takes none (tracking is off in its Preferences)'),
});

const mappingsViewSchema = z.object({
  mappings: z.object({
    depositAccountId: z.string().nullable().describe('null: Undeposited Funds'),
    incomeAccountId: z.string().nullable().describe('null: the automatic choice'),
    classId: z.string().nullable(),
    departmentId: z.string().nullable(),
    products: z.array(
      z.object({
        productId: z.string(),
        productName: z.string().nullable(),
        itemId: z.string(),
        itemName: z.string().nullable(),
      }),
    ),
    paymentMethods: z.array(z.object({ key: z.string(), paymentMethodId: z.string() })),
  }),
  appliesFrom: z.string(),
  changedAt: z.string().nullable().describe('When the mappings last changed'),
  automatic: z.object({
    depositAccount: z.string().describe('Where receipts go when no deposit account is chosen'),
    incomeAccount: listEntrySchema.nullable().describe('The income account chosen when none is'),
  }),
  tracking: z.object({
    class: trackingSchema,
    department: trackingSchema.extend({ label: z.string().describe("The company's word for departments") }),
  }),
  lists: z.object({
    depositAccounts: z.array(listEntrySchema),
    incomeAccounts: z.array(listEntrySchema),
    items: z.array(listEntrySchema).describe('Narrowed by ?search='),
    classes: z.array(listEntrySchema),
    departments: z.array(listEntrySchema),
    paymentMethods: z.array(listEntrySchema),
  }),
  paymentMethodKeys: z.array(z.object({ key: z.string(), label: z.string(), foundByName: z.string() })),
  crmProducts: z.object({
    products: z.array(z.object({ id: z.string(), name: z.string(), type: z.string().nullable() })),
    total: z.number().nullable(),
    error: z.string().nullable().describe('Why HighLevel did not list them'),
  }),
});

const nullableId = z.string().trim().min(1).max(50).nullable().default(null);
const mappingsBody = z
  .object({
    depositAccountId: nullableId,
    incomeAccountId: nullableId,
    classId: nullableId,
    departmentId: nullableId,
    products: z
      .array(
        z
          .object({
            productId: z.string().trim().min(1).max(100),
            productName: z.string().trim().max(200).optional(),
            itemId: z.string().trim().min(1).max(50),
          })
          .strict(),
      )
      .max(1000)
      .default([]),
    paymentMethods: z
      .array(z.object({ key: z.enum(PAYMENT_METHOD_KEYS), paymentMethodId: z.string().trim().min(1).max(50) }).strict())
      .max(PAYMENT_METHOD_KEYS.length)
      .default([]),
  })
  .strict();

const PAYMENT_METHOD_LABELS: Record<(typeof PAYMENT_METHOD_KEYS)[number], string> = {
  cash: 'Cash',
  cheque: 'Cheque',
  bank_transfer: 'Bank transfer',
  card: 'Card (any brand not listed below)',
  visa: 'Visa',
  mastercard: 'Mastercard',
  amex: 'American Express',
  discover: 'Discover',
  diners: 'Diners Club',
  jcb: 'JCB',
  unionpay: 'UnionPay',
  other: 'Other modes',
};

type ListEntry = z.infer<typeof listEntrySchema>;
const entry = (r: { Id: string; Name: string; FullyQualifiedName?: string | undefined }, type?: string): ListEntry => ({
  id: r.Id,
  name: r.FullyQualifiedName ?? r.Name,
  type: type ?? null,
});

function registerMappingsApi(
  app: FastifyInstance,
  lookup: SessionLookup,
  engine: Engine,
  liveContext: (id: string) => Promise<ReturnType<Engine['contextFor']>>,
): void {
  const db = engine.db;

  /** The company's lists, read now (active records only); items narrowed by `search`. */
  const readLists = async (ctx: ReturnType<Engine['contextFor']>, search?: string) => {
    const qbo = ctx.qbo;
    const [depositAccounts, incomeAccounts, items, classes, departments, paymentMethods, preferences] =
      await Promise.all([
        qbo.listDepositAccounts(),
        qbo.listIncomeAccounts(),
        qbo.listSaleItems(search ? { search } : {}),
        qbo.listClasses(),
        qbo.listDepartments(),
        qbo.listPaymentMethods(),
        qbo.preferences(),
      ]);
    return { depositAccounts, incomeAccounts, items, classes, departments, paymentMethods, preferences };
  };

  const providerProblem = (error: unknown) =>
    new HttpProblem(502, 'provider_error', `QuickBooks did not list the company's records: ${describeError(error)}`);

  const view = async (
    ctx: ReturnType<Engine['contextFor']>,
    search: string | undefined,
  ): Promise<z.infer<typeof mappingsViewSchema>> => {
    const lists = await readLists(ctx, search).catch((error: unknown) => {
      throw providerProblem(error);
    });
    const facts = await ctx.company();
    const switches = trackingSwitches(lists.preferences);
    const choices = ctx.connection.settings.mappings;
    const itemNames = new Map(lists.items.map((i) => [i.Id, i.FullyQualifiedName ?? i.Name]));
    const missing = Object.values(choices.products)
      .map((p) => p.itemId)
      .filter((id) => !itemNames.has(id));
    if (missing.length > 0) {
      const named = await ctx.qbo
        .query(
          select('Item')
            .whereIn('Id', [...new Set(missing)])
            .includeInactive(),
        )
        .catch(() => []);
      for (const item of named) itemNames.set(item.Id, item.FullyQualifiedName ?? item.Name);
    }
    let crmProducts: z.infer<typeof mappingsViewSchema>['crmProducts'];
    try {
      const page = await ctx.hl.products.list({ ...(search ? { search } : {}), limit: 100 });
      crmProducts = {
        products: page.products.map((p) => ({ id: p._id, name: p.name, type: p.productType ?? null })),
        total: page.total ?? null,
        error: null,
      };
    } catch (error) {
      crmProducts = {
        products: [],
        total: null,
        error: `HighLevel did not list the location's products: ${describeError(error)}`,
      };
    }
    const [last] = await listActivity(db, { connectionId: ctx.connection.id, flow: 'mappings', limit: 1 });
    const income = lists.incomeAccounts.find((a) => a.Id === facts.incomeAccountId);
    const department = departmentTracking(switches);
    return {
      mappings: {
        depositAccountId: choices.depositAccountId ?? null,
        incomeAccountId: choices.incomeAccountId ?? null,
        classId: choices.classId ?? null,
        departmentId: choices.departmentId ?? null,
        products: Object.entries(choices.products).map(([productId, p]) => ({
          productId,
          productName: p.productName ?? null,
          itemId: p.itemId,
          itemName: itemNames.get(p.itemId) ?? null,
        })),
        paymentMethods: Object.entries(choices.paymentMethods).map(([key, paymentMethodId]) => ({
          key,
          paymentMethodId,
        })),
      },
      appliesFrom: APPLIES_FROM,
      changedAt: last?.createdAt.toISOString() ?? null,
      automatic: {
        depositAccount: 'Undeposited Funds',
        incomeAccount: income ? entry(income, income.AccountType) : null,
      },
      tracking: {
        class: classTracking(switches),
        department: { ...department, label: switches.departmentTerminology ?? 'Location' },
      },
      lists: {
        depositAccounts: lists.depositAccounts.map((a) => entry(a, a.AccountType)),
        incomeAccounts: lists.incomeAccounts.map((a) => entry(a, a.AccountType)),
        items: lists.items.map((i) => entry(i, i.Type)),
        classes: classTracking(switches).on ? lists.classes.map((c) => entry(c)) : [],
        departments: department.on ? lists.departments.map((d) => entry(d)) : [],
        paymentMethods: lists.paymentMethods.map((m) => entry(m, m.Type)),
      },
      paymentMethodKeys: PAYMENT_METHOD_KEYS.map((key) => ({
        key,
        label: PAYMENT_METHOD_LABELS[key],
        foundByName: paymentMethodNames(key, ctx.connection.qboCountry ?? 'US')[0]!,
      })),
      crmProducts,
    };
  };

  apiRoute(app, lookup, {
    method: 'GET',
    url: '/api/connections/:id/mappings',
    summary:
      "The bookkeeper's mappings, with the company's lists to choose from, its tracking switches and the location's CRM products",
    tags: ['mappings'],
    params: connectionParams,
    query: z.object({ search: z.string().trim().max(100).optional() }),
    response: mappingsViewSchema,
    handler: async ({ params, query }) => view(await liveContext(params.id), query.search || undefined),
  });

  apiRoute(app, lookup, {
    method: 'PUT',
    url: '/api/connections/:id/mappings',
    summary:
      "Replace the bookkeeper's mappings; each id must be an active record of the right kind in the company. Applies to records written from then on",
    tags: ['mappings'],
    params: connectionParams,
    body: mappingsBody,
    response: mappingsViewSchema.extend({ changes: z.array(z.string()) }),
    handler: async ({ params, body, session }) => {
      const ctx = await liveContext(params.id);
      const lists = await readLists(ctx).catch((error: unknown) => {
        throw providerProblem(error);
      });
      const switches = trackingSwitches(lists.preferences);
      const problems: string[] = [];
      const names = new Map<string, string>();
      const check = (
        id: string | null,
        rows: ReadonlyArray<{ Id: string; Name: string; FullyQualifiedName?: string | undefined }>,
        list: MappedList,
        what: string,
      ) => {
        if (id === null) return;
        const row = rows.find((r) => r.Id === id);
        if (row) names.set(`${list}:${id}`, row.FullyQualifiedName ?? row.Name);
        else problems.push(`${id} is not ${what} of this company`);
      };
      check(
        body.depositAccountId,
        lists.depositAccounts,
        'Account',
        'an active deposit account (Bank or Other Current Asset)',
      );
      check(body.incomeAccountId, lists.incomeAccounts, 'Account', 'an active income account (Income or Other Income)');
      const classes = classTracking(switches);
      if (body.classId !== null && !classes.on) problems.push(`class ${body.classId} cannot be set: ${classes.why}`);
      else check(body.classId, lists.classes, 'Class', 'an active class');
      const departments = departmentTracking(switches);
      if (body.departmentId !== null && !departments.on)
        problems.push(`location ${body.departmentId} cannot be set: ${departments.why}`);
      else check(body.departmentId, lists.departments, 'Department', 'an active location (department)');
      const seenProducts = new Set<string>();
      for (const product of body.products) {
        if (seenProducts.has(product.productId))
          problems.push(`product ${product.productId} is mapped twice: keep one item for it`);
        seenProducts.add(product.productId);
        check(product.itemId, lists.items, 'Item', 'an active Service, NonInventory or Inventory item');
      }
      const seenKeys = new Set<string>();
      for (const method of body.paymentMethods) {
        if (seenKeys.has(method.key))
          problems.push(`payment mode ${method.key} is mapped twice: keep one method for it`);
        seenKeys.add(method.key);
        check(method.paymentMethodId, lists.paymentMethods, 'PaymentMethod', 'an active payment method');
      }
      if (problems.length > 0)
        throw new HttpProblem(400, 'invalid_request', `QuickBooks mapping refused: ${problems.join('; ')}`);

      const mappings = bookkeepingMappingsSchema.parse({
        ...(body.depositAccountId !== null ? { depositAccountId: body.depositAccountId } : {}),
        ...(body.incomeAccountId !== null ? { incomeAccountId: body.incomeAccountId } : {}),
        ...(body.classId !== null ? { classId: body.classId } : {}),
        ...(body.departmentId !== null ? { departmentId: body.departmentId } : {}),
        products: Object.fromEntries(
          body.products.map((p) => [
            p.productId,
            { itemId: p.itemId, ...(p.productName ? { productName: p.productName } : {}) },
          ]),
        ),
        paymentMethods: Object.fromEntries(body.paymentMethods.map((m) => [m.key, m.paymentMethodId])),
      });
      const changes = mappingChanges(
        ctx.connection.settings.mappings,
        mappings,
        (list, id) => `${names.get(`${list}:${id}`) ?? 'a record no longer listed'} (${id})`,
      );
      if (changes.length > 0) {
        await engine.connections.updateSettings(params.id, { mappings });
        engine.forget(params.id);
        forgetCompanyMappings(ctx.connection.qboRealmId ?? '');
        await recordActivity(db, {
          connectionId: params.id,
          flow: 'mappings',
          status: 'info',
          message: `Mappings changed by ${session.user.username}, for records written from now on: ${changes.join('; ')}`,
          detail: { changes, changedBy: session.user.username, mappings },
        });
      }
      return { ...(await view(await liveContext(params.id), undefined)), changes };
    },
  });
}
