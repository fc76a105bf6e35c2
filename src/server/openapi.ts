// The dashboard's JSON API, documented from the routes' own zod schemas: every route registered through
// `apiRoute` carries its schemas in `config.doc`; an onRoute hook collects them and /api/openapi.json serves
// the document (scripts/openapi.ts writes it to docs/openapi.json). One source for validation and docs.
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';

export interface RouteDoc {
  summary: string;
  tags: string[];
  params?: z.ZodType;
  query?: z.ZodType;
  body?: z.ZodType;
  response?: z.ZodType;
  /** Answers without a session (login, setup, this document). */
  public?: boolean;
  /** Not JSON: a redirect (OAuth) or a page. */
  redirect?: boolean;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    doc?: RouteDoc;
  }
}

interface Collected {
  method: string;
  url: string;
  doc: RouteDoc;
}

type JsonSchema = Record<string, unknown>;

const toSchema = (schema: z.ZodType, io: 'input' | 'output'): JsonSchema => {
  const { $schema: _ignored, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as JsonSchema;
  return rest;
};

/** Fastify's `:id` path parameters in OpenAPI's `{id}` form. */
const openApiPath = (url: string) => url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');

function parametersOf(schema: z.ZodType | undefined, where: 'path' | 'query'): JsonSchema[] {
  if (!schema) return [];
  const json = toSchema(schema, 'input');
  const properties = (json.properties ?? {}) as Record<string, JsonSchema>;
  const required = new Set((json.required ?? []) as string[]);
  return Object.entries(properties).map(([name, property]) => ({
    name,
    in: where,
    required: where === 'path' || required.has(name),
    ...(typeof property.description === 'string' ? { description: property.description } : {}),
    schema: property,
  }));
}

/** Adds the collecting hook; call before the documented routes are registered. */
export function collectOpenApi(app: FastifyInstance): () => JsonSchema {
  const routes: Collected[] = [];
  app.addHook('onRoute', (options) => {
    const doc = options.config?.doc;
    if (!doc) return;
    for (const method of [options.method].flat()) {
      if (method === 'HEAD') continue;
      routes.push({ method: method.toLowerCase(), url: options.url, doc });
    }
  });
  let built: JsonSchema | undefined;
  return () => {
    built ??= buildDocument(routes);
    return built;
  };
}

function buildDocument(routes: Collected[]): JsonSchema {
  const paths: Record<string, Record<string, JsonSchema>> = {};
  for (const { method, url, doc } of [...routes].sort((a, b) => a.url.localeCompare(b.url))) {
    const operation: JsonSchema = {
      summary: doc.summary,
      tags: doc.tags,
      operationId: `${method}${openApiPath(url).replace(/[^A-Za-z0-9]+(.)?/g, (_m, c: string | undefined) => (c ? c.toUpperCase() : ''))}`,
      parameters: [...parametersOf(doc.params, 'path'), ...parametersOf(doc.query, 'query')],
      ...(doc.public ? { security: [] } : {}),
      ...(doc.body
        ? {
            requestBody: {
              required: true,
              content: {
                [doc.redirect ? 'application/x-www-form-urlencoded' : 'application/json']: {
                  schema: toSchema(doc.body, 'input'),
                },
              },
            },
          }
        : {}),
      responses: doc.redirect
        ? {
            '302': { description: 'Redirect' },
            '303': { description: 'Redirect' },
            ...(doc.public ? {} : { '401': { description: 'No session' } }),
          }
        : {
            '200': {
              description: 'OK',
              content: { 'application/json': { schema: doc.response ? toSchema(doc.response, 'output') : {} } },
            },
            '400': {
              description: 'Invalid request',
              content: { 'application/json': { schema: { $ref: '#/components/schemas/Problem' } } },
            },
            ...(doc.public
              ? {}
              : {
                  '401': {
                    description: 'No session',
                    content: { 'application/json': { schema: { $ref: '#/components/schemas/Problem' } } },
                  },
                }),
            ...(doc.params
              ? {
                  '404': {
                    description: 'Not found (or another connection)',
                    content: { 'application/json': { schema: { $ref: '#/components/schemas/Problem' } } },
                  },
                }
              : {}),
          },
    };
    (paths[openApiPath(url)] ??= {})[method] = operation;
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'ledgerlink dashboard API',
      version: '0.1.0',
      description:
        'The JSON API behind the dashboard. Every route except those marked otherwise needs the session cookie set by POST /api/auth/login.',
    },
    components: {
      securitySchemes: { session: { type: 'apiKey', in: 'cookie', name: 'll_session' } },
      schemas: {
        Problem: {
          type: 'object',
          properties: {
            error: { type: 'string' },
            message: { type: 'string' },
            fields: {
              type: 'array',
              description:
                'For a refused request: each field (its name in the request) with what to fix, in plain words',
              items: {
                type: 'object',
                properties: { field: { type: 'string' }, message: { type: 'string' } },
                required: ['field', 'message'],
              },
            },
          },
          required: ['error', 'message'],
        },
      },
    },
    security: [{ session: [] }],
    paths,
  };
}
