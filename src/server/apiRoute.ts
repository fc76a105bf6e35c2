// One way to declare a dashboard API route: zod schemas for params, query, body and answer given to Fastify as the
// route's `schema` (typed through the zod type provider, validated by `validatorCompiler` below, documented by
// @fastify/swagger in openapi.ts), the session check (401 without one, before any validation) and the handler.
// A refused request is a 400 listing each field with what to fix, in plain words.
import type {
  FastifyInstance,
  FastifyReply,
  FastifyRequest,
  FastifySchema,
  FastifySchemaCompiler,
  HTTPMethods,
} from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Session } from '../store/sessions.ts';
import { fieldErrors } from './fieldErrors.ts';
import { problemSchema } from './openapi.ts';

export interface ApiRequest<P, Q, B> {
  params: P;
  query: Q;
  body: B;
  /** Present on every route that is not public. */
  session: Session;
  raw: FastifyRequest;
}

export interface ApiRouteDefinition<P, Q, B> {
  method: HTTPMethods;
  url: string;
  summary: string;
  tags: string[];
  params?: z.ZodType<P>;
  query?: z.ZodType<Q>;
  body?: z.ZodType<B>;
  /** The answer's shape, for the OpenAPI document only: answers are sent as the handler returns them. */
  response?: z.ZodType;
  /** Answers without a session (login, setup, the OAuth callbacks). */
  public?: boolean;
  /** Not JSON: a redirect (OAuth) or a page; a body comes from an HTML form. */
  redirect?: boolean;
  handler: (request: ApiRequest<P, Q, B>, reply: FastifyReply) => Promise<unknown>;
}

/** Answers with a JSON problem and a status; thrown by handlers, caught by the error handler. */
export class HttpProblem extends Error {
  constructor(
    readonly status: number,
    readonly error: string,
    message: string,
  ) {
    super(message);
  }
}

export const notFound = (what: string) => new HttpProblem(404, 'not_found', `${what} does not exist`);

/** The session of a request, set by the auth plugin's hook (undefined when the cookie is missing or stale). */
export type SessionLookup = (request: FastifyRequest) => Promise<Session | undefined>;

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Set on routes declared through `apiRoute`: only those are in the OpenAPI document. */
    apiRoute?: true;
  }
}

/** The part of the request a schema checks, as the error message names it ("query from: ..."). */
const partNames: Record<string, string> = { params: 'path', querystring: 'query', body: 'body' };

/**
 * Fastify's validator for the dashboard's zod schemas: the parsed value replaces the request's part, a failure is
 * the HttpProblem the error handler answers with (Fastify passes an Error through as it is).
 */
export const validatorCompiler: FastifySchemaCompiler<z.ZodType> =
  ({ schema, httpPart }) =>
  (data) => {
    const where = partNames[httpPart ?? ''] ?? String(httpPart);
    // A request without a body is checked as an empty one: its required fields are reported missing.
    const result = schema.safeParse(where === 'body' ? (data ?? {}) : data);
    if (result.success) return { value: result.data };
    return { error: refusal(result.error.issues, where) };
  };

/** Answers are sent as the handlers return them: the response schemas document them and check nothing. */
export const serializerCompiler = () => (data: unknown) => JSON.stringify(data);

function refusal(issues: z.core.$ZodIssue[], where: string): HttpProblem {
  const fields = fieldErrors(issues);
  // The message alone must make sense too (a client that shows only it): the first field and what to do.
  const first = fields[0]!;
  const message = first.field
    ? `${where === 'body' ? '' : `${where} `}${first.field}: ${first.message}${fields.length > 1 ? ` (and ${fields.length - 1} more)` : ''}`
    : first.message;
  return Object.assign(new HttpProblem(400, 'invalid_request', message), { fields });
}

const problem = (description: string) => ({ description, content: { 'application/json': { schema: problemSchema } } });
/** A response without a body (OpenAPI: no content). */
const bare = (description: string) => ({ description, type: 'null' });

/** The route's schema: what Fastify validates and what @fastify/swagger documents. */
function schemaOf(def: ApiRouteDefinition<unknown, unknown, unknown>): FastifySchema {
  const responses = def.redirect
    ? { 302: bare('Redirect'), 303: bare('Redirect'), ...(def.public ? {} : { 401: bare('No session') }) }
    : {
        200: { description: 'OK', content: { 'application/json': { schema: def.response ?? z.unknown() } } },
        400: problem('Invalid request'),
        ...(def.public ? {} : { 401: problem('No session') }),
        ...(def.params ? { 404: problem('Not found (or another connection)') } : {}),
      };
  return {
    summary: def.summary,
    tags: def.tags,
    operationId: operationId(def.method, def.url),
    ...(def.params ? { params: def.params } : {}),
    ...(def.query ? { querystring: def.query } : {}),
    ...(def.body ? { body: def.body } : {}),
    ...(def.body && def.redirect ? { consumes: ['application/x-www-form-urlencoded'] } : {}),
    ...(def.public ? { security: [] } : {}),
    response: responses,
  } as FastifySchema;
}

/** `get /api/connections/:id` → `getApiConnectionsId`. */
function operationId(method: string, url: string): string {
  const path = url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
  return `${method.toLowerCase()}${path.replace(/[^A-Za-z0-9]+(.)?/g, (_m, c: string | undefined) => (c ? c.toUpperCase() : ''))}`;
}

export function apiRoute<P = undefined, Q = undefined, B = undefined>(
  app: FastifyInstance,
  lookup: SessionLookup,
  def: ApiRouteDefinition<P, Q, B>,
): void {
  const sessions = new WeakMap<FastifyRequest, Session>();
  app.withTypeProvider<ZodTypeProvider>().route({
    method: def.method,
    url: def.url,
    schema: schemaOf(def as ApiRouteDefinition<unknown, unknown, unknown>),
    config: { apiRoute: true },
    // Before validation: a request without a session learns that first, whatever else is wrong with it.
    preValidation: async (request) => {
      if (def.public) return;
      const session = await lookup(request);
      if (!session) throw new HttpProblem(401, 'unauthorized', 'Log in first');
      sessions.set(request, session);
    },
    handler: async (request, reply) =>
      def.handler(
        {
          params: (def.params ? request.params : undefined) as P,
          query: (def.query ? request.query : undefined) as Q,
          body: (def.body ? request.body : undefined) as B,
          session: sessions.get(request) as Session,
          raw: request,
        },
        reply,
      ),
  });
}
