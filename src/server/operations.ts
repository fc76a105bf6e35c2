// What operators and their tools see of the server: one log line per request, the webhook delivery counts,
// `/healthz` (the process answers), `/readyz` (the store answers and is migrated) and `/metrics` (Prometheus).
// /metrics tells how busy the deployment is and which providers fail, so it is not public: it needs the bearer
// token LEDGERLINK_METRICS_TOKEN, and without one it is not served at all.
import { timingSafeEqual, createHash } from 'node:crypto';
import { LogController, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Db } from '../store/db.ts';
import { readinessProblems } from '../store/readiness.ts';
import type { Metrics } from '../metrics.ts';

export interface OperationsOptions {
  db: Db;
  metrics: Metrics;
  /** Bearer token a scraper must send to /metrics; undefined: /metrics answers 404. */
  metricsToken?: string | undefined;
  /** How long /readyz waits for the store before calling it unreachable. */
  readyTimeoutMs?: number;
}

/**
 * Fastify's own lines minus the two it writes for every request (received, completed) and the one for a 404: the
 * request's single line is written by the onResponse hook below. Its error lines (a 5xx from its default handler,
 * a failed stream) stay.
 */
export class RequestLineController extends LogController {
  override incomingRequest(): void {}
  override routeNotFound(): void {}
  override requestCompleted(
    error: Error | null | undefined,
    request: FastifyRequest,
    reply: FastifyReply,
    metadata?: Record<string, unknown>,
  ): void {
    if (error) super.requestCompleted(error, request, reply, metadata);
  }
}

/** Paths probed every few seconds by load balancers and scrapers: their lines are debug, not info. */
const PROBES = new Set(['/healthz', '/readyz', '/metrics']);

export function registerOperations(app: FastifyInstance, options: OperationsOptions): void {
  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });
  app.addHook('onResponse', async (request, reply) => {
    const path = request.url.split('?')[0]!;
    const status = reply.statusCode;
    const provider =
      path === '/webhooks/quickbooks' ? 'quickbooks' : path === '/webhooks/highlevel' ? 'highlevel' : undefined;
    if (provider && request.method === 'POST') {
      options.metrics.webhook(
        provider,
        status < 300 ? 'accepted' : status === 429 || status >= 500 ? 'failed' : 'refused',
      );
    }
    const fields = {
      method: request.method,
      // The path only: OAuth callbacks carry the authorization code and state in the query.
      path,
      route: request.routeOptions.url,
      status,
      durationMs: Math.round(reply.elapsedTime),
      ...connectionOf(request),
    };
    if (status >= 500) request.log.error(fields, 'request');
    // A refused webhook is a wrong verifier token or key, or someone probing the endpoint: worth a warning.
    else if (provider && status >= 400) request.log.warn(fields, 'request');
    else if (PROBES.has(path)) request.log.debug(fields, 'request');
    else request.log.info(fields, 'request');
  });

  app.get('/healthz', async () => ({ ok: true }));

  app.get('/readyz', async (_request, reply) => {
    const problems = await readinessProblems(options.db, options.readyTimeoutMs ?? 2000);
    if (problems.length > 0) return reply.code(503).send({ ready: false, problems });
    return { ready: true };
  });

  app.get('/metrics', async (request, reply) => {
    if (!options.metricsToken)
      return reply.code(404).send({ error: 'not_found', message: 'Set LEDGERLINK_METRICS_TOKEN to serve /metrics' });
    if (!bearerMatches(request.headers.authorization, options.metricsToken)) {
      return reply
        .code(401)
        .header('www-authenticate', 'Bearer')
        .send({ error: 'unauthorized', message: 'Send Authorization: Bearer <LEDGERLINK_METRICS_TOKEN>' });
    }
    const { contentType, body } = await options.metrics.scrape();
    return reply.header('content-type', contentType).send(body);
  });
}

export function bearerMatches(header: string | undefined, token: string): boolean {
  const match = /^Bearer\s+(.+)$/i.exec(header ?? '');
  if (!match) return false;
  // Hashes of equal length, so the comparison takes the same time whatever was sent.
  const digest = (text: string) => createHash('sha256').update(text).digest();
  return timingSafeEqual(digest(match[1]!.trim()), digest(token));
}

/** The connection a dashboard request concerns (/api/connections/:id/...), for its log line. */
function connectionOf(request: FastifyRequest): { connectionId?: string } {
  const params = request.params as Record<string, unknown> | undefined;
  return request.routeOptions.url?.startsWith('/api/connections/:id') && typeof params?.id === 'string'
    ? { connectionId: params.id }
    : {};
}
