// How the dashboard's answers travel: every GET answered 200 carries an ETag (a hash of its body), and a browser
// that sends it back in If-None-Match gets a bodiless 304 when nothing changed. The activity view polls every few
// seconds; an idle poll then costs its headers. Bodies worth it are compressed (brotli or gzip, as the request's
// Accept-Encoding allows). The browser's own HTTP cache does the conditional requests: with `no-cache` it stores
// the answer and revalidates it each time, so the page's fetch() calls need no code for any of this.
import { createHash } from 'node:crypto';
import { brotliCompressSync, constants as zlib, gzipSync } from 'node:zlib';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/** Below this a body gains less from compression than the encoding's own overhead is worth. */
export const COMPRESS_MIN_BYTES = 1024;
const COMPRESSIBLE = /^(application\/(json|javascript)|text\/)/;

export type Encoding = 'br' | 'gzip';

/** The encoding to answer in: brotli where accepted, else gzip, else none (q=0 refuses one). */
export function negotiateEncoding(acceptEncoding: string | string[] | undefined): Encoding | undefined {
  const header = Array.isArray(acceptEncoding) ? acceptEncoding.join(',') : (acceptEncoding ?? '');
  const accepted = new Map<string, number>();
  for (const part of header.split(',')) {
    const [name, ...params] = part.trim().toLowerCase().split(';');
    if (!name) continue;
    const q = params.map((p) => /^\s*q=([0-9.]+)\s*$/.exec(p)?.[1]).find((v) => v !== undefined);
    accepted.set(name, q === undefined ? 1 : Number(q));
  }
  const weight = (name: Encoding) => accepted.get(name) ?? (accepted.has('*') ? accepted.get('*')! : 0);
  const br = weight('br');
  const gzip = weight('gzip');
  if (br > 0 && br >= gzip) return 'br';
  if (gzip > 0) return 'gzip';
  return undefined;
}

/**
 * Compresses once at this quality. Dynamic answers use a middling brotli quality (a 100 KB activity list in a
 * few milliseconds); static files are compressed once at start at the highest.
 */
export function compress(body: Buffer, encoding: Encoding, quality: 'fast' | 'best' = 'fast'): Buffer {
  if (encoding === 'br') {
    return brotliCompressSync(body, {
      params: { [zlib.BROTLI_PARAM_QUALITY]: quality === 'best' ? 11 : 5, [zlib.BROTLI_PARAM_SIZE_HINT]: body.length },
    });
  }
  return gzipSync(body, { level: quality === 'best' ? 9 : 6 });
}

/**
 * The validator of one body: the same bytes give the same tag on any process. Weak (W/), because the one tag
 * stands for the plain, the brotli and the gzip bytes alike, which a strong tag may not.
 */
export function etagOf(body: Buffer | string): string {
  return `W/"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`;
}

function matches(ifNoneMatch: string | undefined, etag: string): boolean {
  if (!ifNoneMatch) return false;
  if (ifNoneMatch.trim() === '*') return true;
  // Weak comparison, as RFC 9110 asks for If-None-Match: W/ prefixes are ignored on both sides.
  const opaque = etag.replace(/^W\//, '');
  return ifNoneMatch.split(',').some((tag) => tag.trim().replace(/^W\//, '') === opaque);
}

/** Adds the hook to this plugin scope (the dashboard's: webhook answers are left alone). */
export function registerTransport(app: FastifyInstance): void {
  app.addHook('onSend', async (request: FastifyRequest, reply: FastifyReply, payload: unknown) => {
    if (typeof payload !== 'string' && !Buffer.isBuffer(payload)) return payload;
    const get = request.method === 'GET' || request.method === 'HEAD';
    if (get && reply.statusCode === 200) {
      // API answers are a user's own data: the browser may keep them, revalidating each time; shared caches may not.
      if (!reply.hasHeader('cache-control')) reply.header('cache-control', 'private, no-cache');
      // A body already encoded (a static file's precompressed copy) carries the ETag of its plain bytes.
      if (!reply.hasHeader('etag')) reply.header('etag', etagOf(payload));
      if (matches(request.headers['if-none-match'], String(reply.getHeader('etag')))) {
        reply.code(304);
        reply.removeHeader('content-type');
        reply.removeHeader('content-length');
        reply.removeHeader('content-encoding');
        return '';
      }
    }
    if (reply.hasHeader('content-encoding')) return payload;
    const type = String(reply.getHeader('content-type') ?? '');
    const body = typeof payload === 'string' ? Buffer.from(payload) : payload;
    if (body.length < COMPRESS_MIN_BYTES || !COMPRESSIBLE.test(type)) return payload;
    const vary = reply.getHeader('vary');
    if (!vary) reply.header('vary', 'accept-encoding');
    else if (!/accept-encoding/i.test(String(vary))) reply.header('vary', `${String(vary)}, accept-encoding`);
    const encoding = negotiateEncoding(request.headers['accept-encoding']);
    if (!encoding) return payload;
    reply.header('content-encoding', encoding);
    reply.removeHeader('content-length');
    return compress(body, encoding);
  });
}
