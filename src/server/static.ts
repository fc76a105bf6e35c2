// The dashboard's page and its two assets, served from src/ui/ (plain HTML, CSS and JS: no build step, no
// framework, nothing fetched from another origin; the Content-Security-Policy makes that a rule).
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';

const uiDir = join(dirname(fileURLToPath(import.meta.url)), '..', 'ui');

const ASSETS: Record<string, { file: string; type: string }> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/app.css': { file: 'app.css', type: 'text/css; charset=utf-8' },
};

export const SECURITY_HEADERS = {
  'content-security-policy': "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'same-origin',
};

export async function registerStatic(app: FastifyInstance): Promise<void> {
  for (const [url, asset] of Object.entries(ASSETS)) {
    // Read once per request in development would pick up edits; reading at start keeps requests cheap and the
    // files are small. Restart to see UI changes.
    const body = readFileSync(join(uiDir, asset.file));
    app.get(url, async (_request, reply) => reply.headers({ ...SECURITY_HEADERS, 'content-type': asset.type, 'cache-control': 'no-cache' }).send(body));
  }
}
