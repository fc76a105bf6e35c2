// The dashboard's page and its assets, served from src/ui/ (plain HTML, CSS and JS: no build step, no
// framework, nothing fetched from another origin; the Content-Security-Policy makes that a rule).
//
// The page names its assets by content hash (/app.3f9c….js): a hashed name never changes meaning, so the
// browser keeps it a year without asking again, and a changed file is a new name the page (always revalidated)
// points to. The plain names still answer, revalidated each time, for anyone who links to them.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { compress, COMPRESS_MIN_BYTES, etagOf, negotiateEncoding, type Encoding } from './transport.ts';

const uiDir = join(dirname(fileURLToPath(import.meta.url)), '..', 'ui');

export const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'same-origin',
};

const IMMUTABLE = 'public, max-age=31536000, immutable';
const REVALIDATE = 'no-cache';

interface Asset {
  body: Buffer;
  type: string;
  etag: string;
  /** Compressed once at start, at the best quality. */
  encoded: Partial<Record<Encoding, Buffer>>;
}

function asset(body: Buffer, type: string): Asset {
  const encoded: Asset['encoded'] = {};
  if (body.length >= COMPRESS_MIN_BYTES)
    for (const e of ['br', 'gzip'] as const) encoded[e] = compress(body, e, 'best');
  return { body, type, etag: etagOf(body), encoded };
}

/** `app.js` → `app.<first 16 hex of its sha256>.js`. */
export function hashedName(file: string, body: Buffer): string {
  const hash = createHash('sha256').update(body).digest('hex').slice(0, 16);
  return file.replace(/(\.[a-z]+)$/, `.${hash}$1`);
}

export async function registerStatic(app: FastifyInstance): Promise<void> {
  // Read once at start: requests stay cheap and the files are small. Restart to see UI changes.
  const read = (file: string) => readFileSync(join(uiDir, file));
  const routes: Record<string, { asset: Asset; cache: string }> = {};
  let page = read('index.html').toString('utf8');
  // format.js first: app.js imports it, and names it by its hash so that a change to it changes app.js's hash too.
  const hashedNames: Array<[string, string]> = [];
  for (const [file, type] of [
    ['format.js', 'text/javascript; charset=utf-8'],
    ['app.js', 'text/javascript; charset=utf-8'],
    ['app.css', 'text/css; charset=utf-8'],
  ] as const) {
    let text = read(file).toString('utf8');
    for (const [plain, hashed] of hashedNames) text = text.replaceAll(`'./${plain}'`, `'./${hashed}'`);
    const body = Buffer.from(text);
    const served = asset(body, type);
    const hashed = hashedName(file, body);
    hashedNames.push([file, hashed]);
    routes[`/${hashed}`] = { asset: served, cache: IMMUTABLE };
    routes[`/${file}`] = { asset: served, cache: REVALIDATE };
    page = page.replaceAll(`"/${file}"`, `"/${hashed}"`);
  }
  routes['/'] = { asset: asset(Buffer.from(page), 'text/html; charset=utf-8'), cache: REVALIDATE };

  for (const [url, route] of Object.entries(routes)) {
    app.get(url, async (request, reply) => send(request, reply, route.asset, route.cache));
  }
}

function send(request: FastifyRequest, reply: FastifyReply, asset: Asset, cache: string) {
  reply.headers({ ...SECURITY_HEADERS, 'content-type': asset.type, 'cache-control': cache, etag: asset.etag });
  if (Object.keys(asset.encoded).length === 0) return reply.send(asset.body);
  reply.header('vary', 'accept-encoding');
  const encoding = negotiateEncoding(request.headers['accept-encoding']);
  const encoded = encoding ? asset.encoded[encoding] : undefined;
  if (!encoding || !encoded) return reply.send(asset.body);
  return reply.header('content-encoding', encoding).send(encoded);
}
