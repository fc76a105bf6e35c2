// Writes docs/openapi.json: the dashboard API's OpenAPI document, exactly as the server builds it from the
// routes' own zod schemas (GET /api/openapi.json). Run: npm run openapi
import { writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import pino from 'pino';
import { openDb } from '../src/store/db.ts';
import { migrate } from '../src/store/migrate.ts';
import { SecretBox } from '../src/store/secrets.ts';
import { Engine } from '../src/sync/engine/engine.ts';
import { buildServer } from '../src/server/app.ts';

const db = await openDb();
await migrate(db);
const engine = await Engine.create({
  db,
  secrets: SecretBox.fromKey(randomBytes(32)),
  publicUrl: 'https://ledgerlink.example.com',
  logger: pino({ level: 'silent' }),
  providers: {
    quickbooks: {
      clientId: 'x',
      clientSecret: 'x',
      webhookVerifierToken: undefined,
      apiUrl: 'https://quickbooks.api.intuit.com',
      authorizeUrl: undefined,
      tokenUrl: undefined,
      revokeUrl: undefined,
    },
    highlevel: {
      clientId: 'x',
      clientSecret: 'x',
      apiUrl: 'https://services.leadconnectorhq.com',
      authorizeUrl: undefined,
      webhookPublicKey: undefined,
      webhookRsaPublicKey: undefined,
    },
  },
});
const app = await buildServer(engine, { dashboard: { announce: () => {} } });
const answer = await app.inject({ method: 'GET', url: '/api/openapi.json' });
const target = new URL('../docs/openapi.json', import.meta.url);
writeFileSync(target, `${JSON.stringify(answer.json(), null, 2)}\n`);
console.log(`wrote ${target.pathname} (${Object.keys((answer.json() as { paths: object }).paths).length} paths)`);
await app.close();
await engine.stop();
await db.close();
