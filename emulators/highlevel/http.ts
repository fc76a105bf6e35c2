// The HTTP front of the emulator: HighLevel's request pipeline in the order the reference gives (§10.2):
// faults -> Version header (401) -> bearer token (401) -> scope (401) -> rate limit (429 + headers on every
// response) -> validation against the operation's published declarations (422) -> handler. Routes declare their scope and token types next to their path.
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { dropConnection, sleep } from '../common/http.ts';
import { AuthService } from './auth.ts';
import { BURST_LIMIT, BURST_WINDOW_MS, DAILY_LIMIT, type HighLevelCore } from './core.ts';
import { ContactService } from './contacts.ts';
import {
  forbidden,
  HighLevelError,
  INVALID_TOKEN,
  LOCATION_FORBIDDEN,
  SCOPE_MISSING,
  unauthorized,
  unprocessable,
  VERSION_INVALID,
  VERSION_MISSING,
} from './errors.ts';
import { requestProblems } from './spec/requests.ts';
import { InvoiceService } from './invoices.ts';
import type { Location, TokenGrant } from './model.ts';
import { PaymentService } from './payments.ts';

/** Version header values HighLevel accepts (reference §1.1: 3p live probes). */
export const ACCEPTED_VERSIONS = new Set(['2021-04-15', '2021-07-28', '2023-02-21', 'v3']);

export interface RouteAuth {
  /** No Version header and no token (OAuth endpoints, the authorize page). */
  public?: boolean;
  /** The token needs at least one of these scopes. */
  scopes?: string[];
  /** Company (agency) tokens allowed too (`Agency-Access` in the spec's security block). */
  agency?: boolean;
  /** Only Company OAuth tokens (`Agency-Access-Only`). */
  agencyOnly?: boolean;
}

type Handler = (request: FastifyRequest, reply: FastifyReply) => unknown;
type Method = 'GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH';

interface RequestState {
  grant?: TokenGrant;
  loseAnswer?: boolean;
}

const AUTHCLASS_NOT_ALLOWED =
  'This authClass type is not allowed to access this scope. Please reach out to the Platform team to get it added.';

export class HttpContext {
  readonly app: FastifyInstance;
  readonly auth: AuthService;
  readonly contacts: ContactService;
  readonly invoices: InvoiceService;
  readonly payments: PaymentService;
  private readonly routeAuth = new Map<string, RouteAuth>();
  private readonly state = new WeakMap<FastifyRequest, RequestState>();

  constructor(
    readonly core: HighLevelCore,
    options: { logger?: boolean } = {},
  ) {
    this.auth = new AuthService(core);
    this.contacts = new ContactService(core);
    this.invoices = new InvoiceService(core);
    this.payments = new PaymentService(core, this.contacts);
    this.app = Fastify({ logger: options.logger ?? false, bodyLimit: 5 * 1024 * 1024 });
    this.app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) => {
      done(null, Object.fromEntries(new URLSearchParams(typeof body === 'string' ? body : body.toString('utf8'))));
    });
    this.app.addHook('onRequest', (request, reply) => this.pipeline(request, reply));
    this.app.addHook('preValidation', async (request) => this.validate(request));
    this.app.addHook('onSend', async (request, reply, payload) => {
      if (!request.url.startsWith('/_emulator') && !reply.hasHeader('x-ratelimit-max')) this.defaultRateHeaders(reply);
      if (this.state.get(request)?.loseAnswer) {
        // Commit-but-lose-answer: the handler's write has happened; the client never hears about it.
        request.raw.socket?.destroy();
      }
      return payload;
    });
    this.app.setErrorHandler((error, request, reply) => {
      if (error instanceof HighLevelError) {
        // The services answer every request with a trace id (HighLevel's OAuth overview; every recorded success
        // carries one); the gateway's own refusals (401 token/version/scope, 429) are documented without it.
        const traced = error.statusCode !== 401 && error.statusCode !== 429 && error.body.traceId === undefined;
        void reply
          .code(error.statusCode)
          .headers(error.headers)
          .send(traced ? { ...error.body, traceId: this.core.traceId() } : error.body);
        return;
      }
      const status =
        typeof (error as { statusCode?: unknown }).statusCode === 'number'
          ? (error as { statusCode: number }).statusCode
          : 500;
      if (status >= 400 && status < 500) {
        void reply.code(status).send({
          statusCode: status,
          message: error instanceof Error ? error.message : 'Bad Request',
          error: status === 400 ? 'Bad Request' : 'Error',
        });
        return;
      }
      request.log.error(error);
      void reply.code(500).send({ statusCode: 500, message: 'Internal server error' });
    });
    this.app.setNotFoundHandler((request, reply) => {
      // NestJS's answer for an unknown route, which is what HighLevel's services return.
      const path = request.url.split('?')[0] ?? request.url;
      void reply.code(404).send({ statusCode: 404, message: `Cannot ${request.method} ${path}`, error: 'Not Found' });
    });
  }

  route(method: Method, url: string, auth: RouteAuth, handler: Handler): void {
    this.routeAuth.set(`${method} ${url}`, auth);
    this.app.route({ method, url, handler: async (request, reply) => handler(request, reply) });
  }

  grant(request: FastifyRequest): TokenGrant {
    const grant = this.state.get(request)?.grant;
    if (!grant) throw unauthorized(INVALID_TOKEN);
    return grant;
  }

  /** The location a request acts on, after checking the token may act there. */
  location(request: FastifyRequest, locationId: string | undefined): Location {
    const grant = this.grant(request);
    if (!locationId)
      throw new HighLevelError(422, {
        statusCode: 422,
        message: ['locationId should not be empty'],
        error: 'Unprocessable Entity',
      });
    if (grant.userType === 'Location' && grant.locationId !== locationId) throw forbidden(LOCATION_FORBIDDEN);
    const location = this.core.store.locations.get(locationId);
    if (!location) throw forbidden(LOCATION_FORBIDDEN);
    if (grant.userType === 'Company' && location.companyId !== grant.companyId) throw forbidden(LOCATION_FORBIDDEN);
    return location;
  }

  private async pipeline(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    this.core.requestCount++;
    const path = request.url.split('?')[0] ?? request.url;
    if (path.startsWith('/_emulator')) return;
    this.core.apiRequestCount++;
    const fault = this.core.faults.pick(request.method, path);
    if (fault) {
      switch (fault.kind) {
        case 'latency':
          await sleep(fault.latencyMs ?? 1_000);
          break;
        case 'error429':
          this.defaultRateHeaders(reply);
          throw new HighLevelError(429, { statusCode: 429, message: 'Too Many Requests' }, { 'retry-after': '10' });
        case 'error500':
          throw new HighLevelError(500, { statusCode: 500, message: 'Internal server error' });
        case 'error503':
          throw new HighLevelError(503, { statusCode: 503, message: 'Service Unavailable' });
        case 'drop':
          dropConnection(reply);
          return;
        case 'loseAnswer':
          this.state.set(request, { loseAnswer: true });
          break;
        case 'revokeToken': {
          const token = /^Bearer\s+(\S+)/i.exec(request.headers.authorization ?? '')?.[1];
          if (token) this.auth.revoke(token);
          break;
        }
      }
    }
    const auth = this.routeAuth.get(`${request.method} ${request.routeOptions.url ?? ''}`);
    if (!auth || auth.public) return;
    const version = request.headers.version;
    if (version === undefined || version === '') throw unauthorized(VERSION_MISSING);
    if (typeof version !== 'string' || !ACCEPTED_VERSIONS.has(version)) throw unauthorized(VERSION_INVALID);
    const grant = this.auth.authenticate(request.headers.authorization);
    if (grant.userType === 'Company' && !auth.agency && !auth.agencyOnly) throw unauthorized(AUTHCLASS_NOT_ALLOWED);
    if (auth.agencyOnly && (grant.userType !== 'Company' || grant.kind === 'pit'))
      throw unauthorized(AUTHCLASS_NOT_ALLOWED);
    if (auth.scopes && !auth.scopes.some((s) => grant.scopes.includes(s))) throw unauthorized(SCOPE_MISSING);
    const existing = this.state.get(request);
    this.state.set(request, { ...existing, grant });
    this.rateLimit(grant, reply);
  }

  /** The operation's declarations from HighLevel's OpenAPI documents (spec/requests.ts); routes' own schemas check types after. */
  private validate(request: FastifyRequest): void {
    const url = request.routeOptions.url;
    if (!url || url.startsWith('/_emulator')) return;
    const problems = requestProblems(request.method, url, queryOf(request), request.body);
    if (problems.length > 0) throw unprocessable(problems);
  }

  private rateLimit(grant: TokenGrant, reply: FastifyReply): void {
    // Budgets are per marketplace app and resource (location or company) - reference §6.
    const key = `${grant.appId}:${grant.locationId ?? grant.companyId}`;
    if (this.core.limitsLifted) {
      this.defaultRateHeaders(reply);
      return;
    }
    const daily = this.core.daily.peek(key);
    const burst = this.core.burst.take(key);
    const dailyTaken = burst.allowed && daily.allowed ? this.core.daily.take(key) : daily;
    reply.headers({
      'x-ratelimit-limit-daily': String(dailyTaken.limit),
      'x-ratelimit-daily-remaining': String(dailyTaken.remaining),
      'x-ratelimit-interval-milliseconds': String(BURST_WINDOW_MS),
      'x-ratelimit-max': String(burst.limit),
      'x-ratelimit-remaining': String(burst.remaining),
    });
    if (!burst.allowed || !daily.allowed) {
      // HighLevel documents neither body nor Retry-After for 429; both are the emulator's assumption.
      const resetAt = !daily.allowed ? daily.resetAt : burst.resetAt;
      const retryAfter = Math.max(1, Math.ceil((resetAt - this.core.nowMs()) / 1000));
      throw new HighLevelError(
        429,
        { statusCode: 429, message: 'Too Many Requests' },
        { 'retry-after': String(retryAfter) },
      );
    }
  }

  private defaultRateHeaders(reply: FastifyReply): void {
    const max = this.core.limitsLifted ? BURST_LIMIT : this.core.burst.limit;
    const daily = this.core.limitsLifted ? DAILY_LIMIT : this.core.daily.limit;
    reply.headers({
      'x-ratelimit-limit-daily': String(daily),
      'x-ratelimit-daily-remaining': String(daily),
      'x-ratelimit-interval-milliseconds': String(BURST_WINDOW_MS),
      'x-ratelimit-max': String(max),
      'x-ratelimit-remaining': String(max),
    });
  }
}

/** Query string values as plain strings (repeated keys: the last one). */
export function queryOf(request: FastifyRequest): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  const q = request.query;
  if (q && typeof q === 'object') {
    for (const [k, v] of Object.entries(q as Record<string, unknown>)) {
      if (typeof v === 'string') out[k] = v;
      else if (Array.isArray(v) && typeof v[v.length - 1] === 'string') out[k] = v[v.length - 1] as string;
    }
  }
  return out;
}

export function paramsOf(request: FastifyRequest): Record<string, string> {
  const p = request.params;
  const out: Record<string, string> = {};
  if (p && typeof p === 'object')
    for (const [k, v] of Object.entries(p as Record<string, unknown>)) if (typeof v === 'string') out[k] = v;
  return out;
}
