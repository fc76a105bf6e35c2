// Small pieces both emulators' HTTP layers need: a listen helper that reports the bound URL, and socket-level
// faults (a dropped connection answers nothing at all).
import { performance } from 'node:perf_hooks';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/** One request as the emulator served it: performance.now() when it arrived and when the answer was sent. */
export interface ServedRequest {
  method: string;
  url: string;
  status: number;
  start: number;
  end: number;
}

export type RequestObserver = (request: ServedRequest) => void;

export async function listen(
  app: FastifyInstance,
  port = 0,
  host = '127.0.0.1',
  observe?: RequestObserver,
): Promise<{ url: string; port: number }> {
  if (observe) observeRequests(app, observe);
  await app.listen({ port, host });
  const address = app.server.address();
  if (!address || typeof address === 'string') throw new Error('the emulator did not bind a TCP port');
  const shownHost = host.includes(':') ? `[${host}]` : host;
  return { url: `http://${shownHost}:${address.port}`, port: address.port };
}

/** Benchmarks time the provider's side of each call (server-side, so a client in another process can be measured). */
function observeRequests(app: FastifyInstance, observe: RequestObserver): void {
  const started = new WeakMap<FastifyRequest, number>();
  app.addHook('onRequest', async (request) => {
    started.set(request, performance.now());
  });
  app.addHook('onResponse', async (request, reply) => {
    observe({
      method: request.method,
      url: request.url,
      status: reply.statusCode,
      start: started.get(request) ?? performance.now(),
      end: performance.now(),
    });
  });
}

/** Ends the connection without an answer: the client sees a reset or an empty reply, as with a network fault. */
export function dropConnection(reply: FastifyReply): void {
  reply.hijack();
  reply.raw.socket?.destroy();
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
