// The admin API under /_emulator/ (documented in README.md). Two calls have a fixed form that tools outside the
// project rely on: POST /_emulator/companies {"country":"US"} -> {"realmId"} and
// POST /_emulator/tokens {"realmId"} -> {"access_token","refresh_token","expires_in":3600,"token_type":"bearer"}.
import type { FastifyInstance, FastifyReply } from 'fastify';
import { z } from 'zod';
import { parseFaultConfig } from '../common/faults.ts';
import type { QuickBooksAdmin } from './admin.ts';
import { countries, entityNames } from './company.ts';

const createCompanySchema = z.object({
  country: z.enum(countries),
  name: z.string().min(1).max(255).optional(),
  currency: z
    .string()
    .regex(/^[A-Z]{3}$/)
    .optional(),
  multiCurrency: z.boolean().optional(),
  salesTaxPercent: z.number().min(0).max(100).optional(),
  enforceUniqueDocNumbers: z.boolean().optional(),
  customTxnNumbers: z.boolean().optional(),
  offsetMinutes: z.number().int().min(-720).max(840).optional(),
  exchangeRates: z.record(z.string(), z.string().regex(/^\d+(\.\d{1,7})?$/)).optional(),
  sampleData: z.boolean().optional(),
});

const settingsSchema = z.object({
  name: z.string().min(1).optional(),
  multiCurrency: z.boolean().optional(),
  enforceUniqueDocNumbers: z.boolean().optional(),
  customTxnNumbers: z.boolean().optional(),
  exchangeRates: z.record(z.string(), z.string().regex(/^\d+(\.\d{1,7})?$/)).optional(),
  classTrackingPerTxn: z.boolean().optional(),
  classTrackingPerTxnLine: z.boolean().optional(),
  trackDepartments: z.boolean().optional(),
  departmentTerminology: z.string().min(1).max(31).optional(),
});

const tokenSchema = z.object({ realmId: z.string().min(1), clientId: z.string().min(1).optional() });
const revokeSchema = z
  .object({ realmId: z.string().min(1).optional(), token: z.string().min(1).optional() })
  .refine((v) => v.realmId || v.token, 'realmId or token is required');
const appSchema = z.object({
  clientId: z.string().min(1),
  clientSecret: z.string().min(1),
  name: z.string().min(1).default('Emulator App'),
  redirectUris: z.array(z.string().url()).default([]),
});
const advanceSchema = z.object({
  ms: z.number().min(0).optional(),
  seconds: z.number().min(0).optional(),
  minutes: z.number().min(0).optional(),
  hours: z.number().min(0).optional(),
  days: z.number().min(0).optional(),
});

export const webhookSubscriptionSchema = z.object({
  url: z.string().url(),
  verifierToken: z.string().min(1),
  format: z.enum(['cloudevents', 'legacy']).default('cloudevents'),
  windowMs: z.number().int().min(0).max(3_600_000).default(3_000),
  realmIds: z.array(z.string()).optional(),
  entities: z.array(z.string()).optional(),
});
const webhooksSchema = z.union([
  z.object({ subscriptions: z.array(webhookSubscriptionSchema) }),
  webhookSubscriptionSchema,
]);
const webhookTestSchema = z.object({ realmId: z.string().min(1) });

function badRequest(reply: FastifyReply, error: unknown): FastifyReply {
  if (error instanceof z.ZodError)
    return reply.code(400).send({ error: 'invalid admin request', issues: error.issues });
  if (error instanceof Error && error.message.startsWith('no company'))
    return reply.code(404).send({ error: error.message });
  if (error instanceof Error) return reply.code(400).send({ error: error.message });
  throw error;
}

function jsonBody(body: unknown): unknown {
  if (typeof body !== 'string' || body.trim() === '') return {};
  return JSON.parse(body) as unknown;
}

export function registerAdminRoutes(app: FastifyInstance, admin: QuickBooksAdmin, saveNow: () => void): void {
  const route = (
    method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE',
    url: string,
    fn: (body: unknown, params: Record<string, string>) => unknown,
  ): void => {
    app.route({
      method,
      url: `/_emulator${url}`,
      handler: async (request, reply) => {
        try {
          const result = await fn(jsonBody(request.body), request.params as Record<string, string>);
          return reply.code(200).send(result ?? { ok: true });
        } catch (error) {
          return badRequest(reply, error);
        }
      },
    });
  };

  route('GET', '/health', () => ({ ok: true, companies: admin.companies.size, now: admin.clock.now().toISOString() }));
  route('POST', '/companies', (body) => admin.createCompany(stripUndefined(createCompanySchema.parse(body))));
  route('GET', '/companies', () => ({ companies: admin.listCompanies() }));
  route('PATCH', '/companies/:realmId', (body, p) =>
    admin.updateSettings(p.realmId!, stripUndefined(settingsSchema.parse(body))),
  );
  route('DELETE', '/companies/:realmId', (_b, p) => admin.deleteCompany(p.realmId!));
  route('POST', '/companies/:realmId/reset', (_b, p) => admin.resetCompany(p.realmId!));
  route('GET', '/companies/:realmId/entities/:entity', (_b, p) => {
    const entity = entityNames.find((n) => n.toLowerCase() === p.entity!.toLowerCase());
    if (!entity) throw new Error(`unknown entity ${p.entity}; one of ${entityNames.join(', ')}`);
    return { entity, records: admin.listEntities(p.realmId!, entity) };
  });
  route('POST', '/reset', () => admin.resetAll());

  route('POST', '/tokens', (body) => {
    const input = tokenSchema.parse(body);
    const t = admin.mintToken(input.realmId, input.clientId);
    return {
      access_token: t.access_token,
      refresh_token: t.refresh_token,
      expires_in: t.expires_in,
      token_type: t.token_type,
      x_refresh_token_expires_in: t.x_refresh_token_expires_in,
    };
  });
  route('POST', '/tokens/revoke', (body) => ({
    revoked: admin.revokeTokens(stripUndefined(revokeSchema.parse(body))),
  }));
  route('POST', '/apps', (body) => {
    const app = appSchema.parse(body);
    return admin.registerApp(app);
  });
  route('GET', '/apps', () => ({ apps: [...admin.oauth.apps.values()].map(({ clientSecret: _s, ...rest }) => rest) }));

  route('GET', '/clock', () => ({ now: admin.clock.now().toISOString(), factor: admin.clock.factor }));
  route('POST', '/clock/advance', (body) => {
    const a = advanceSchema.parse(body);
    const ms =
      (a.ms ?? 0) + (a.seconds ?? 0) * 1e3 + (a.minutes ?? 0) * 6e4 + (a.hours ?? 0) * 3.6e6 + (a.days ?? 0) * 8.64e7;
    return admin.advanceClock(ms);
  });

  route('PUT', '/webhooks', (body) => {
    const parsed = webhooksSchema.parse(body);
    const subscriptions = 'subscriptions' in parsed ? parsed.subscriptions : [parsed];
    admin.configureWebhooks(subscriptions.map(stripUndefined));
    return { subscriptions };
  });
  route('DELETE', '/webhooks', () => admin.configureWebhooks([]));
  route('GET', '/webhooks', () => ({
    subscriptions: admin.webhooks.list().map(({ verifierToken: _t, ...rest }) => rest),
    deliveries: admin.webhooks.deliveries(),
  }));
  route('POST', '/webhooks/flush', async () => {
    await admin.webhooks.flush();
    return { deliveries: admin.webhooks.deliveries().length };
  });
  route('POST', '/webhooks/test', (body) => {
    const { realmId } = webhookTestSchema.parse(body);
    return { sent: admin.sendTestEvent(realmId) };
  });

  route('PUT', '/faults', (body) => {
    admin.configureFaults(parseFaultConfig(body));
    return admin.faults.config();
  });
  route('GET', '/faults', () => ({ ...admin.faults.config(), stats: admin.faults.stats() }));
  route('DELETE', '/faults', () => admin.faults.clear());
  route('POST', '/save', () => {
    saveNow();
    return { saved: true };
  });
}

/** zod leaves absent optionals as undefined; exactOptionalPropertyTypes-style inputs want them gone. */
function stripUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
