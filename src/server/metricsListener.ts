// A listener of its own for /metrics, /healthz and /readyz on LEDGERLINK_METRICS_PORT: the way to scrape a
// `ledgerlink worker` (which has no HTTP server, and whose counters no other process can report), and for
// `start` a port that only the monitoring network reaches. Plain node:http, so a worker still does without
// Fastify. It asks for no token: it binds to LEDGERLINK_METRICS_HOST (127.0.0.1 by default), which the operator
// points at a private interface only.
import { createServer, type Server } from 'node:http';
import type { Logger } from 'pino';
import type { Metrics } from '../metrics.ts';
import type { Db } from '../store/db.ts';
import { readinessProblems } from '../store/readiness.ts';

export interface MetricsListener {
  url: string;
  close(): Promise<void>;
}

export async function startMetricsListener(options: {
  db: Db;
  metrics: Metrics;
  host: string;
  port: number;
  log: Logger;
}): Promise<MetricsListener> {
  const server: Server = createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0];
    const answer = async (): Promise<void> => {
      if (request.method !== 'GET') return send(405, 'application/json', '{"error":"method_not_allowed"}');
      if (path === '/metrics') {
        const { contentType, body } = await options.metrics.scrape();
        return send(200, contentType, body);
      }
      if (path === '/healthz') return send(200, 'application/json', '{"ok":true}');
      if (path === '/readyz') {
        const problems = await readinessProblems(options.db, 2000);
        return send(
          problems.length ? 503 : 200,
          'application/json',
          JSON.stringify(problems.length ? { ready: false, problems } : { ready: true }),
        );
      }
      return send(404, 'application/json', '{"error":"not_found"}');
    };
    const send = (status: number, contentType: string, body: string) => {
      response.writeHead(status, { 'content-type': contentType });
      response.end(body);
    };
    answer().catch((error: unknown) => {
      options.log.error({ err: error, path }, 'metrics listener failed');
      if (!response.headersSent) send(500, 'application/json', '{"error":"internal"}');
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  return {
    url: `http://${options.host}:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
