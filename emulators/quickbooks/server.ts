// The Fastify server: one origin serving Intuit's OAuth paths, the Accounting API and the admin API. Bodies are
// read as raw text and parsed per route, so malformed JSON and wrong content types answer in Intuit's Fault shape.
import Fastify from 'fastify';
import type { FastifyInstance } from 'fastify';
import type { QuickBooksAdmin } from './admin.ts';
import { registerAdminRoutes } from './adminRoutes.ts';
import { registerAccountingRoutes } from './api.ts';
import { QboFault, faults } from './errors.ts';
import { faultText, sendText, transactionId } from './http.ts';
import { registerOAuthRoutes } from './oauthRoutes.ts';
import { registerAppPages } from './appPages.ts';

export function buildServer(admin: QuickBooksAdmin, saveNow: () => void, logger = false): FastifyInstance {
  const app = Fastify({ logger, bodyLimit: 10 * 1024 * 1024, keepAliveTimeout: 5_000, forceCloseConnections: true });
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, (_request, body, done) => done(null, body));
  app.addHook('onRequest', (_request, reply, done) => {
    reply.header('intuit_tid', transactionId());
    done();
  });
  registerOAuthRoutes(app, admin);
  registerAccountingRoutes(app, admin);
  registerAdminRoutes(app, admin, saveNow);
  registerAppPages(app, admin);
  app.setNotFoundHandler((request, reply) => {
    if (request.url.startsWith('/v3/'))
      return sendText(
        reply,
        400,
        faultText(faults.unsupported(`${request.method} ${request.url.split('?')[0]}`), admin.clock.nowMs(), undefined),
      );
    return reply.code(404).send({ error: `no route ${request.method} ${request.url.split('?')[0]}` });
  });
  app.setErrorHandler((error, request, reply) => {
    const now = admin.clock.nowMs();
    if (error instanceof QboFault) return sendText(reply, error.status, faultText(error, now, undefined));
    const status =
      typeof (error as { statusCode?: unknown }).statusCode === 'number'
        ? (error as { statusCode: number }).statusCode
        : 500;
    if (status === 413)
      return sendText(
        reply,
        413,
        faultText(
          new QboFault(413, 'ValidationFault', [
            { Message: 'Request Entity Too Large', Detail: 'The request body is larger than 10 MB', code: '6030' },
          ]),
          now,
          undefined,
        ),
      );
    if (status < 500)
      return sendText(reply, status, faultText(faults.malformedRequest((error as Error).message), now, undefined));
    request.log.error(error);
    return sendText(reply, 500, faultText(faults.systemError(500), now, undefined));
  });
  return app;
}
