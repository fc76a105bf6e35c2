// The emulator's own API under /_emulator/ (not part of HighLevel): set up locations and tokens, configure the
// app's webhooks, act as a CRM user, inspect side effects, move the clock, inject faults. No auth: local tool.
import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import { faultRuleSchema, parseFaultConfig } from '../common/faults.ts';
import { HighLevelError, badRequest, notFound } from './errors.ts';
import { paramsOf, queryOf, type HttpContext } from './http.ts';
import { locationJson } from './routes/locations.ts';
import { productJson } from './routes/products.ts';
import { registerCrmUserActions } from './adminActions.ts';
import { parse } from './validate.ts';
import type { Location } from './model.ts';
import { alphanumericId } from './ids.ts';
import { appInstallPayload, appUninstallPayload } from './webhookPayloads.ts';

export type AdminRoute = (
  method: 'GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH',
  url: string,
  handler: (request: FastifyRequest) => unknown,
) => void;

export interface AdminHooks {
  save: (file?: string) => Promise<string | null>;
}

// Request schemas, built once (zod compiles a schema on its first parse).
// ---- locations ------------------------------------------------------------------------------
const locationCreateBody = z.object({
  country: z.string().length(2),
  name: z.string().optional(),
  currency: z.string().length(3).optional(),
  timezone: z.string().optional(),
  email: z.string().optional(),
  allowDuplicateContact: z.boolean().optional(),
  duplicateMatchPriority: z.enum(['email', 'phone']).optional(),
  installed: z.boolean().optional(),
});
const locationUpdateBody = z.object({
  name: z.string().optional(),
  currency: z.string().length(3).optional(),
  timezone: z.string().optional(),
  allowDuplicateContact: z.boolean().optional(),
  duplicateMatchPriority: z.enum(['email', 'phone']).optional(),
  invoiceNumberPrefix: z.string().max(10).optional(),
  nextInvoiceNumber: z.number().int().positive().optional(),
});

const productCreateBody = z.object({
  name: z.string().trim().min(1),
  productType: z.enum(['DIGITAL', 'PHYSICAL', 'SERVICE', 'PHYSICAL/DIGITAL']).optional(),
  description: z.string().optional(),
});
const workflowCreateBody = z.object({ name: z.string().min(1), status: z.enum(['published', 'draft']).optional() });
const builtInQuickBooksBody = z.object({
  active: z.boolean(),
  qboIds: z.array(z.string().min(1)).optional(),
  nextQboId: z.number().int().positive().optional(),
});

// ---- tokens ---------------------------------------------------------------------------------
const tokenMintBody = z.object({
  locationId: z.string().optional(),
  companyId: z.string().optional(),
  userType: z.enum(['Location', 'Company']).optional(),
  scopes: z.array(z.string()).optional(),
});
const privateIntegrationTokenBody = z.object({
  locationId: z.string().optional(),
  scopes: z.array(z.string()).optional(),
});
const tokenRevokeBody = z.object({
  token: z.string().optional(),
  locationId: z.string().optional(),
  all: z.boolean().optional(),
});

// ---- app & webhooks -------------------------------------------------------------------------
const appConfigBody = z.object({
  webhookUrl: z.url().nullable().optional(),
  signatures: z.object({ ed25519: z.boolean().optional(), rsa: z.boolean().optional() }).optional(),
  legacySignature: z.boolean().optional(),
  envelope: z.boolean().optional(),
  events: z.array(z.string()).nullable().optional(),
});

// ---- data, clock ----------------------------------------------------------------------------
const saveBody = z.object({ file: z.string().optional() });
const clockAdvanceBody = z.object({
  ms: z.number().min(0).optional(),
  seconds: z.number().min(0).optional(),
  days: z.number().min(0).optional(),
});
const clockFactorBody = z.object({ factor: z.number().positive() });

// ---- limits ---------------------------------------------------------------------------------
const rateLimitsBody = z.object({ factor: z.number().positive().optional(), lifted: z.boolean().optional() });
const dailyRateLimitBody = z.object({ locationId: z.string().min(1), remaining: z.number().int().min(0) });
const searchLagBody = z.object({ ms: z.number().int().min(0) });

export function registerAdminRoutes(ctx: HttpContext, hooks: AdminHooks): void {
  const { core, app } = ctx;
  const admin: AdminRoute = (method, url, handler) => {
    app.route({ method, url: `/_emulator${url}`, handler: async (request) => handler(request) });
  };
  const locationOf = (request: FastifyRequest): Location => {
    const location = core.store.locations.get(paramsOf(request).locationId ?? '');
    if (!location) throw notFound('Location not found');
    return location;
  };

  admin('GET', '/health', () => ({
    ok: true,
    locations: core.store.locations.size,
    now: core.clock.now().toISOString(),
  }));

  // ---- locations, install ---------------------------------------------------------------------
  admin('POST', '/locations', (request) => {
    const body = parse(locationCreateBody, request.body);
    const location = core.createLocation(body);
    return { locationId: location.id };
  });

  admin('GET', '/locations', () => ({
    locations: [...core.store.locations.values()].map((l) => ({
      ...locationJson(l),
      currency: l.currency,
      installed: core.store.installs.has(l.id),
      duplicateMatchPriority: l.duplicateMatchPriority,
      invoiceNumberPrefix: l.invoiceNumberPrefix,
      nextInvoiceNumber: l.nextInvoiceNumber,
    })),
  }));

  admin('PATCH', '/locations/:locationId', (request) => {
    const location = locationOf(request);
    const body = parse(locationUpdateBody, request.body);
    if (body.name !== undefined) location.name = body.name;
    if (body.currency !== undefined) location.currency = body.currency.toUpperCase();
    if (body.timezone !== undefined) location.timezone = body.timezone;
    if (body.allowDuplicateContact !== undefined) location.allowDuplicateContact = body.allowDuplicateContact;
    if (body.duplicateMatchPriority !== undefined) location.duplicateMatchPriority = body.duplicateMatchPriority;
    if (body.invoiceNumberPrefix !== undefined) location.invoiceNumberPrefix = body.invoiceNumberPrefix;
    if (body.nextInvoiceNumber !== undefined) location.nextInvoiceNumber = body.nextInvoiceNumber;
    return { ...locationJson(location), currency: location.currency };
  });

  // Workflows are built in HighLevel's UI (the API only lists them and enrols contacts): these stand in for the builder.
  admin('POST', '/locations/:locationId/workflows', (request) => {
    const location = locationOf(request);
    const workflow = core.createWorkflow(location.id, parse(workflowCreateBody, request.body));
    return {
      workflow: {
        ...workflow,
        createdAt: new Date(workflow.createdAt).toISOString(),
        updatedAt: new Date(workflow.updatedAt).toISOString(),
      },
    };
  });
  // Products are made in HighLevel's UI (or POST /products/, not served here): this stands in for it.
  admin('POST', '/locations/:locationId/products', (request) => {
    const location = locationOf(request);
    return { product: productJson(core.createProduct(location.id, parse(productCreateBody, request.body))) };
  });
  admin('DELETE', '/workflows/:workflowId', (request) => {
    const workflowId = paramsOf(request).workflowId ?? '';
    if (!core.store.workflows.delete(workflowId)) throw notFound('Workflow not found');
    return { deleted: true };
  });

  // HighLevel's own QuickBooks integration turned on or off for a location (see Location.builtInQuickBooks).
  admin('POST', '/locations/:locationId/quickbooks-integration', (request) => {
    const location = locationOf(request);
    const body = parse(builtInQuickBooksBody, request.body);
    const before = location.builtInQuickBooks;
    location.builtInQuickBooks = {
      active: body.active,
      qboIds: body.qboIds ?? before?.qboIds ?? [],
      nextQboId: body.nextQboId ?? before?.nextQboId ?? 9001,
    };
    return { locationId: location.id, ...location.builtInQuickBooks };
  });

  admin('POST', '/locations/:locationId/install', (request) => {
    const location = locationOf(request);
    core.store.installs.set(location.id, core.clock.now().toISOString());
    const company = core.store.companies.get(location.companyId);
    core.webhooks.emit(
      'AppInstall',
      location.id,
      appInstallPayload({
        appId: core.app.appId,
        companyId: location.companyId,
        userId: alphanumericId(),
        companyName: company?.name ?? '',
        locationId: location.id,
      }),
    );
    return { installed: true };
  });

  admin('POST', '/locations/:locationId/uninstall', (request) => {
    const location = locationOf(request);
    core.store.installs.delete(location.id);
    const revoked = ctx.auth.revokeWhere((g) => g.locationId === location.id && g.kind !== 'pit');
    core.webhooks.emit('AppUninstall', location.id, appUninstallPayload(core.app.appId, location.id));
    return { installed: false, revokedTokens: revoked };
  });

  // ---- tokens ---------------------------------------------------------------------------------
  admin('POST', '/tokens', (request) => {
    const body = parse(tokenMintBody, request.body);
    const userType = body.userType ?? (body.locationId ? 'Location' : 'Company');
    if (userType === 'Location') {
      const location = core.store.locations.get(body.locationId ?? '');
      if (!location) throw notFound('Location not found');
      core.store.installs.set(location.id, core.store.installs.get(location.id) ?? core.clock.now().toISOString());
      const pair = ctx.auth.mint({
        userType,
        companyId: location.companyId,
        locationId: location.id,
        scopes: body.scopes,
      });
      return {
        access_token: pair.access.token,
        refresh_token: pair.refresh?.token,
        expires_in: 86_399,
        token_type: 'Bearer',
        locationId: location.id,
        companyId: location.companyId,
        userType,
        scope: pair.access.scopes.join(' '),
        userId: pair.access.userId,
      };
    }
    const company = body.companyId ? core.store.companies.get(body.companyId) : core.defaultCompany();
    if (!company) throw notFound('Company not found');
    const approved = [...core.store.locations.values()].filter((l) => l.companyId === company.id).map((l) => l.id);
    const pair = ctx.auth.mint({
      userType: 'Company',
      companyId: company.id,
      locationId: null,
      scopes: body.scopes,
      approvedLocations: approved,
    });
    return {
      access_token: pair.access.token,
      refresh_token: pair.refresh?.token,
      expires_in: 86_399,
      token_type: 'Bearer',
      companyId: company.id,
      userType: 'Company',
      scope: pair.access.scopes.join(' '),
      userId: pair.access.userId,
    };
  });

  admin('POST', '/private-integration-tokens', (request) => {
    const body = parse(privateIntegrationTokenBody, request.body);
    const location = body.locationId ? core.store.locations.get(body.locationId) : undefined;
    if (body.locationId && !location) throw notFound('Location not found');
    const grant = ctx.auth.mintPrivateIntegrationToken({
      locationId: location?.id ?? null,
      companyId: location?.companyId ?? core.defaultCompany().id,
      scopes: body.scopes,
    });
    return { token: grant.token, locationId: grant.locationId, scopes: grant.scopes };
  });

  admin('POST', '/tokens/revoke', (request) => {
    const body = parse(tokenRevokeBody, request.body);
    let revoked = 0;
    if (body.token) revoked += ctx.auth.revoke(body.token) ? 1 : 0;
    if (body.locationId) revoked += ctx.auth.revokeWhere((g) => g.locationId === body.locationId);
    if (body.all) revoked += ctx.auth.revokeWhere(() => true);
    return { revoked };
  });

  // ---- app & webhooks -------------------------------------------------------------------------
  const appView = (): Record<string, unknown> => ({
    appId: core.app.appId,
    clientId: core.app.clientId,
    clientSecret: core.app.clientSecret,
    versionId: core.app.versionId,
    webhookUrl: core.webhooks.config.url,
    signatures: { ed25519: core.webhooks.config.ed25519, rsa: core.webhooks.config.rsa },
    events: core.webhooks.config.events ? [...core.webhooks.config.events] : null,
    envelope: core.webhooks.config.envelope,
  });
  admin('GET', '/app', appView);
  const configureApp = (request: FastifyRequest): Record<string, unknown> => {
    const body = parse(appConfigBody, request.body);
    if (body.webhookUrl !== undefined) core.webhooks.config.url = body.webhookUrl;
    if (body.signatures?.ed25519 !== undefined) core.webhooks.config.ed25519 = body.signatures.ed25519;
    if (body.signatures?.rsa !== undefined) core.webhooks.config.rsa = body.signatures.rsa;
    if (body.legacySignature !== undefined) core.webhooks.config.rsa = body.legacySignature;
    if (body.envelope !== undefined) core.webhooks.config.envelope = body.envelope;
    if (body.events !== undefined) core.webhooks.config.events = body.events === null ? null : new Set(body.events);
    return appView();
  };
  admin('POST', '/app', configureApp);
  admin('PUT', '/app', configureApp);

  app.get('/_emulator/webhook-public-key', async (_request, reply) =>
    reply.type('application/x-pem-file').send(core.webhooks.ed25519PublicKeyPem()),
  );
  app.get('/_emulator/webhook-public-key/rsa', async (_request, reply) =>
    reply.type('application/x-pem-file').send(core.webhooks.rsaPublicKeyPem()),
  );

  admin('GET', '/webhooks', (request) => {
    const q = queryOf(request);
    const events = core.webhooks.emitted.filter(
      (e) => (!q.type || e.event === q.type || e.type === q.type) && (!q.locationId || e.locationId === q.locationId),
    );
    return {
      events: events.map((e) => ({
        event: e.event,
        type: e.type,
        locationId: e.locationId,
        webhookId: e.webhookId,
        timestamp: e.timestamp,
        payload: JSON.parse(e.body) as unknown,
        delivery: e.delivery
          ? { id: e.delivery.id, state: e.delivery.state, attempts: e.delivery.attempts, fault: e.delivery.fault }
          : null,
      })),
      deliveries: core.webhooks.dispatcher.deliveries().map((d) => ({
        id: d.id,
        url: d.url,
        label: d.label,
        state: d.state,
        attempts: d.attempts,
        fault: d.fault,
        createdAt: d.createdAt,
      })),
    };
  });
  admin('POST', '/webhooks/flush', async () => {
    await core.webhooks.dispatcher.flush();
    return { flushed: true };
  });
  admin('DELETE', '/webhooks', () => {
    core.webhooks.emitted.length = 0;
    core.webhooks.dispatcher.clearLog();
    return { cleared: true };
  });

  registerCrmUserActions(ctx, admin, locationOf);

  // ---- inspection, data, clock ----------------------------------------------------------------
  admin('GET', '/activity', (request) => {
    const q = queryOf(request);
    const keep = <T extends { locationId: string; contactId: string }>(list: T[]): T[] =>
      list.filter(
        (x) => (!q.locationId || x.locationId === q.locationId) && (!q.contactId || x.contactId === q.contactId),
      );
    return {
      enrolments: keep(core.store.enrolments),
      messages: keep(core.store.messages),
      tagChanges: keep(core.store.tagChanges),
    };
  });

  admin('GET', '/data', () => core.store.snapshot());
  admin('POST', '/reset', () => {
    core.store.clear();
    core.webhooks.emitted.length = 0;
    core.webhooks.dispatcher.clearLog();
    core.faults.clear();
    core.burst.reset();
    core.daily.reset();
    return { reset: true };
  });
  admin('POST', '/save', async (request) => {
    const body = parse(saveBody, request.body ?? {});
    const file = await hooks.save(body.file);
    if (!file) throw badRequest('No data file: start with --data FILE or pass {"file": "..."}');
    return { saved: file };
  });

  admin('GET', '/clock', () => ({ now: core.clock.now().toISOString(), factor: core.clock.factor }));
  admin('POST', '/clock/advance', (request) => {
    const body = parse(clockAdvanceBody, request.body);
    core.clock.advance((body.ms ?? 0) + (body.seconds ?? 0) * 1000 + (body.days ?? 0) * 86_400_000);
    return { now: core.clock.now().toISOString() };
  });
  admin('POST', '/clock/factor', (request) => {
    const body = parse(clockFactorBody, request.body);
    core.clock.factor = body.factor;
    return { factor: core.clock.factor };
  });

  // ---- faults and limits ----------------------------------------------------------------------
  const faultsView = (): Record<string, unknown> => ({ ...core.faults.config(), stats: core.faults.stats() });
  admin('GET', '/faults', faultsView);
  const replaceFaults = (request: FastifyRequest): Record<string, unknown> => {
    try {
      core.faults.configure(parseFaultConfig(request.body ?? {}));
    } catch (error) {
      throw new HighLevelError(422, {
        statusCode: 422,
        message: [error instanceof Error ? error.message : String(error)],
        error: 'Unprocessable Entity',
      });
    }
    return faultsView();
  };
  admin('POST', '/faults', replaceFaults);
  admin('PUT', '/faults', replaceFaults);
  admin('POST', '/faults/rules', (request) => {
    core.faults.addRule(parse(faultRuleSchema, request.body));
    return faultsView();
  });
  admin('DELETE', '/faults', () => {
    core.faults.clear();
    return faultsView();
  });

  admin('GET', '/rate-limits', () => ({
    factor: core.limitFactor,
    lifted: core.limitsLifted,
    burst: core.burst.limit,
    daily: core.daily.limit,
  }));
  admin('POST', '/rate-limits', (request) => {
    const body = parse(rateLimitsBody, request.body);
    core.setLimitFactor(body.lifted ? Infinity : (body.factor ?? 1));
    return { factor: core.limitFactor, lifted: core.limitsLifted, burst: core.burst.limit, daily: core.daily.limit };
  });

  // Sets the day's count of the app's requests for one location, so that a test can start near the daily limit.
  admin('POST', '/rate-limits/daily', (request) => {
    const body = parse(dailyRateLimitBody, request.body);
    const key = `${core.app.appId}:${body.locationId}`;
    core.daily.setUsed(key, core.daily.limit - body.remaining);
    return { locationId: body.locationId, ...core.daily.peek(key) };
  });

  admin('POST', '/search-lag', (request) => {
    core.searchLagMs = parse(searchLagBody, request.body).ms;
    return { searchLagMs: core.searchLagMs };
  });

  admin('GET', '/stats', () => ({
    requests: core.requestCount,
    apiRequests: core.apiRequestCount,
    locations: core.store.locations.size,
    contacts: core.store.contacts.size,
    invoices: core.store.invoices.size,
    orders: core.store.orders.size,
    transactions: core.store.transactions.size,
    subscriptions: core.store.subscriptions.size,
    webhooks: core.webhooks.emitted.length,
    faults: core.faults.stats(),
  }));
}
