// Everything the dashboard adds to the server, in order: the zod validator and the OpenAPI collector (before the
// documented routes), ETags and compression (transport.ts), the error shape of the JSON API, login, the API, the
// OAuth round trips, the sandbox, and the page itself.
import type { FastifyError, FastifyInstance } from 'fastify';
import type { Engine } from '../sync/engine/engine.ts';
import { HttpProblem, serializerCompiler, validatorCompiler } from './apiRoute.ts';
import { registerAuth } from './auth.ts';
import { registerDashboardApi } from './dashboardApi.ts';
import { registerHistoryApi } from './historyApi.ts';
import { registerOpenApi } from './openapi.ts';
import { registerOAuthRoutes } from './oauthRoutes.ts';
import { registerSandbox, type SandboxOptions } from './sandbox.ts';
import { registerStatic } from './static.ts';
import { registerTransport } from './transport.ts';

export interface DashboardOptions {
  /** Where browsers reach ledgerlink; https makes the session cookie Secure. */
  publicUrl?: string | undefined;
  /** The emulators' URLs when running against them (the demo): enables the sandbox panel. */
  sandbox?: SandboxOptions | undefined;
  /** Created or updated at start (the demo's admin, or LEDGERLINK_ADMIN_PASSWORD). */
  initialAdmin?: { username: string; password: string } | undefined;
  announce?: (line: string) => void;
}

/** Registers the dashboard in its own plugin scope: its error handler and hooks leave the webhook routes alone. */
export async function registerDashboard(
  app: FastifyInstance,
  engine: Engine,
  options: DashboardOptions = {},
): Promise<void> {
  await app.register(async (scope) => dashboardPlugin(scope, engine, options));
}

async function dashboardPlugin(app: FastifyInstance, engine: Engine, options: DashboardOptions): Promise<void> {
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  await registerOpenApi(app);
  registerTransport(app);
  app.setErrorHandler((error: FastifyError | HttpProblem, request, reply) => {
    if (error instanceof HttpProblem) {
      const fields = (error as HttpProblem & { fields?: unknown }).fields;
      return reply
        .code(error.status)
        .send({ error: error.error, message: error.message, ...(fields ? { fields } : {}) });
    }
    const status = typeof error.statusCode === 'number' && error.statusCode >= 400 ? error.statusCode : 500;
    if (status >= 500) request.log.error({ err: error }, 'request failed');
    // A 5xx says only that something failed: internals stay in the log, under the request id named here.
    return reply.code(status).send({
      error: status >= 500 ? 'internal' : 'bad_request',
      message: status >= 500 ? `Something failed on the server; see its log (request ${request.id})` : error.message,
      ...(status >= 500 ? { requestId: request.id } : {}),
    });
  });
  // State-changing API calls must come from the dashboard's own pages: a request from another origin that
  // carries the cookie anyway (SameSite=Lax already keeps it off cross-site POSTs) is refused.
  app.addHook('onRequest', async (request, reply) => {
    if (!request.url.startsWith('/api/') || request.method === 'GET' || request.method === 'HEAD') return;
    const origin = request.headers.origin;
    // `Origin: null` (sandboxed frames, some redirects) and anything unparsable are another origin too.
    if (origin && !sameHost(origin, request.headers.host)) {
      return reply.code(403).send({ error: 'cross_origin', message: 'Requests from other sites are refused' });
    }
  });
  const lookup = await registerAuth(app, {
    db: engine.db,
    secureCookies: (options.publicUrl ?? '').startsWith('https:'),
    initialAdmin: options.initialAdmin,
    announce: options.announce ?? ((line) => engine.log.warn(line)),
  });
  await registerDashboardApi(app, { engine, lookup });
  registerHistoryApi(app, { engine, lookup });
  await registerOAuthRoutes(app, { engine, lookup });
  await registerSandbox(app, { engine, lookup, sandbox: options.sandbox });
  app.get('/api/openapi.json', async () => app.swagger());
  await registerStatic(app);
}

function sameHost(origin: string, host: string | undefined): boolean {
  try {
    return new URL(origin).host === host;
  } catch {
    return false;
  }
}
