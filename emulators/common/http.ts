// Small pieces both emulators' HTTP layers need: a listen helper that reports the bound URL, and socket-level
// faults (a dropped connection answers nothing at all).
import type { FastifyInstance, FastifyReply } from 'fastify';

export async function listen(app: FastifyInstance, port = 0, host = '127.0.0.1'): Promise<{ url: string; port: number }> {
  await app.listen({ port, host });
  const address = app.server.address();
  if (!address || typeof address === 'string') throw new Error('the emulator did not bind a TCP port');
  const shownHost = host.includes(':') ? `[${host}]` : host;
  return { url: `http://${shownHost}:${address.port}`, port: address.port };
}

/** Ends the connection without an answer: the client sees a reset or an empty reply, as with a network fault. */
export function dropConnection(reply: FastifyReply): void {
  reply.hijack();
  reply.raw.socket?.destroy();
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
