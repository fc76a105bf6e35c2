// The HTTP face of ledgerlink: webhook intake for both providers, health and metrics (operations.ts), and the
// dashboard with its API and OAuth round trips (dashboard.ts). Built on an Engine; knows nothing of flows beyond
// routing events into the intake.
import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type pino from 'pino';
import { highLevelAppId, parseHighLevelWebhook, verifyHighLevelSignature } from '../highlevel/webhooks.ts';
import { acceptAppLifecycleEvent } from '../sync/connections/appLifecycle.ts';
import type { TrustProxy } from '../config.ts';
import type { Engine } from '../sync/engine/engine.ts';
import type { IntakeDeps } from '../sync/engine/intake.ts';
import { webhookRoutes, type HighLevelWebhookEvent } from './webhooks.ts';
import { registerDashboard, type DashboardOptions } from './dashboard.ts';
import { registerOperations, RequestLineController } from './operations.ts';

export interface ServerOptions {
  /** Where request lines and errors go: the engine's logger by default. */
  logger?: pino.Logger;
  /** Bearer token that /metrics requires (LEDGERLINK_METRICS_TOKEN); without one /metrics is not served. */
  metricsToken?: string | undefined;
  bodyLimitBytes?: number;
  /** Fastify's trustProxy: which proxy's X-Forwarded-For names the client (LEDGERLINK_TRUST_PROXY). */
  trustProxy?: TrustProxy | undefined;
  /** How long one request may take to arrive whole, headers and body (default 30 s). */
  requestTimeoutMs?: number;
  /** The dashboard: public URL (cookie security), sandbox (emulator URLs), the first admin. */
  dashboard?: DashboardOptions;
}

export async function buildServer(engine: Engine, options: ServerOptions = {}): Promise<FastifyInstance> {
  const requestTimeoutMs = options.requestTimeoutMs ?? 30_000;
  const app = Fastify({
    loggerInstance: (options.logger ?? engine.log) as FastifyBaseLogger,
    // One line per request, written when it ends (operations.ts), instead of Fastify's two.
    logController: new RequestLineController(),
    genReqId: () => randomUUID(),
    bodyLimit: options.bodyLimitBytes ?? 1024 * 1024,
    trustProxy: options.trustProxy ?? false,
    // Fastify's defaults turn Node's request timeout off, which lets a client trickle a body a byte at a time and
    // hold a connection as long as it likes. A whole request (the largest webhook is 1 MiB) must arrive within the
    // timeout; a socket silent for 90 s is closed; Node checks the timeouts every few seconds (its default is 30 s).
    requestTimeout: requestTimeoutMs,
    connectionTimeout: 90_000,
    http: {
      headersTimeout: Math.min(20_000, requestTimeoutMs),
      connectionsCheckingInterval: Math.min(5_000, requestTimeoutMs),
    },
  });
  registerOperations(app, { db: engine.db, metrics: engine.metrics, metricsToken: options.metricsToken });
  const intake: IntakeDeps = {
    db: engine.db,
    queue: engine.queue,
    connectionsFor: (provider, account) =>
      engine.connections.recentByAccount(provider === 'quickbooks' ? 'qbo' : 'hl', account),
    handles: (queue) => engine.handles(queue),
    observe: (provider, outcome) => engine.metrics.webhookEvent(provider, outcome),
  };
  const hl = engine.providers.highlevel;
  await app.register(webhookRoutes, {
    intake,
    quickbooksVerifierToken: engine.providers.quickbooks.webhookVerifierToken,
    verifyHighLevel: (raw, headers) =>
      verifyHighLevelSignature(
        raw,
        { 'x-ghl-signature': first(headers['x-ghl-signature']), 'x-wh-signature': first(headers['x-wh-signature']) },
        {
          ...(hl.webhookPublicKey ? { ed25519PublicKey: hl.webhookPublicKey } : {}),
          ...(hl.webhookRsaPublicKey ? { rsaPublicKeyPem: hl.webhookRsaPublicKey } : {}),
        },
      ),
    parseHighLevel: (raw) => highLevelEventOf(parseHighLevelWebhook(raw)),
    highLevelAppId: highLevelAppId(hl.clientId),
    onHighLevelAppEvent: (event) => acceptAppLifecycleEvent({ db: engine.db, connections: engine.connections }, event),
    ...(options.bodyLimitBytes ? { bodyLimitBytes: options.bodyLimitBytes } : {}),
  });
  await registerDashboard(app, engine, options.dashboard);
  return app;
}

function highLevelEventOf(event: ReturnType<typeof parseHighLevelWebhook>): HighLevelWebhookEvent {
  const base = {
    eventId: event.eventId,
    kind: event.kind,
    type: event.label,
    locationId: event.locationId,
    timestamp: event.timestamp,
    appId: event.appId,
  };
  switch (event.kind) {
    case 'unplaced':
      return { ...base, recordId: undefined, contactId: undefined, payload: event.raw, reason: event.reason };
    case 'app':
      return { ...base, recordId: event.locationId, contactId: undefined, payload: event };
    case 'contact':
      return { ...base, recordId: event.contactId, contactId: event.contactId, payload: event.contact };
    case 'invoice':
      return { ...base, recordId: event.invoiceId, contactId: undefined, payload: event.invoice };
    case 'order':
      return { ...base, recordId: event.orderId, contactId: undefined, payload: event.order };
  }
}

function first(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
