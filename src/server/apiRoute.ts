// One way to declare a dashboard API route: zod schemas for params, query and body (parsed here, at the edge; a
// failure is a 400 listing each field with what to fix, in plain words), the session check (401 without one), and
// the same schemas recorded for the OpenAPI document.
import type { FastifyInstance, FastifyReply, FastifyRequest, HTTPMethods } from 'fastify';
import type { z } from 'zod';
import type { RouteDoc } from './openapi.ts';
import type { Session } from '../store/sessions.ts';
import { fieldErrors } from './fieldErrors.ts';

export interface ApiRequest<P, Q, B> {
  params: P;
  query: Q;
  body: B;
  /** Present on every route that is not public. */
  session: Session;
  raw: FastifyRequest;
}

export interface ApiRouteDefinition<P, Q, B> extends Omit<RouteDoc, 'params' | 'query' | 'body'> {
  method: HTTPMethods;
  url: string;
  params?: z.ZodType<P>;
  query?: z.ZodType<Q>;
  body?: z.ZodType<B>;
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

export function apiRoute<P = undefined, Q = undefined, B = undefined>(
  app: FastifyInstance,
  lookup: SessionLookup,
  def: ApiRouteDefinition<P, Q, B>,
): void {
  const { method, url, handler, params, query, body, ...doc } = def;
  app.route({
    method,
    url,
    config: { doc: { ...doc, ...(params ? { params } : {}), ...(query ? { query } : {}), ...(body ? { body } : {}) } },
    handler: async (request, reply) => {
      const session = def.public ? undefined : await lookup(request);
      if (!def.public && !session) throw new HttpProblem(401, 'unauthorized', 'Log in first');
      const parsed = {
        params: parse(params, request.params, 'path'),
        query: parse(query, request.query, 'query'),
        body: parse(body, request.body ?? {}, 'body'),
      };
      return handler({ ...parsed, session: session as Session, raw: request }, reply);
    },
  });
}

function parse<T>(schema: z.ZodType<T> | undefined, value: unknown, where: string): T {
  if (!schema) return undefined as T;
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const fields = fieldErrors(result.error.issues);
  // The message alone must make sense too (a client that shows only it): the first field and what to do.
  const first = fields[0]!;
  const message = first.field
    ? `${where === 'body' ? '' : `${where} `}${first.field}: ${first.message}${fields.length > 1 ? ` (and ${fields.length - 1} more)` : ''}`
    : first.message;
  throw Object.assign(new HttpProblem(400, 'invalid_request', message), { fields });
}
