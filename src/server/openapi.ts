// The dashboard's JSON API documented from the routes' own schemas: @fastify/swagger collects every route declared
// through `apiRoute` (other routes, the page and this document, are hidden), the zod type provider's transform turns
// their zod schemas into JSON Schema, and /api/openapi.json serves the document (scripts/openapi.ts writes it to
// docs/openapi.json). One declaration for validation and docs.
import fastifySwagger from '@fastify/swagger';
import type { FastifyInstance } from 'fastify';
import { createJsonSchemaTransform } from 'fastify-type-provider-zod';
import { z } from 'zod';

/** The body of every refused request: the error handler's shape (dashboard.ts). */
const problemShape = z.object({
  error: z.string(),
  message: z.string(),
  fields: z
    .array(z.object({ field: z.string(), message: z.string() }))
    .optional()
    .describe('For a refused request: each field (its name in the request) with what to fix, in plain words'),
});
/** Registered under its id, the routes' answers refer to it as #/components/schemas/Problem. */
export const problemSchema = problemShape.meta({ id: 'Problem' });

type JsonSchema = Record<string, unknown>;

/** The Problem component as the document lists it: the shape a client reads, without zod's registry id. */
function problemComponent(): JsonSchema {
  const { $schema: _schema, ...rest } = z.toJSONSchema(problemShape, { io: 'input' }) as JsonSchema;
  return rest;
}

const zodTransform = createJsonSchemaTransform({ skipList: [] });

/** Registers @fastify/swagger in the dashboard's scope; call before the documented routes are registered. */
export async function registerOpenApi(app: FastifyInstance): Promise<void> {
  await app.register(fastifySwagger, {
    // OpenAPI 3.1 takes JSON Schema's const as it is.
    convertConstToEnum: false,
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'ledgerlink dashboard API',
        version: '0.1.0',
        description:
          'The JSON API behind the dashboard. Every route except those marked otherwise needs the session cookie set by POST /api/auth/login.',
      },
      components: {
        securitySchemes: { session: { type: 'apiKey', in: 'cookie', name: 'll_session' } },
        schemas: { Problem: problemComponent() },
      },
      security: [{ session: [] }],
    },
    transform: (document) => {
      if (!document.route.config?.apiRoute) return { schema: { hide: true }, url: document.url };
      // Answers without a body (redirects) are plain OpenAPI already; the zod transform takes the others.
      const { response = {}, ...rest } = document.schema as { response?: Record<string, object> };
      const isBare = (answer: object) => 'type' in answer && answer.type === 'null';
      const bare = Object.entries(response).filter(([, answer]) => isBare(answer));
      const zodAnswers = Object.fromEntries(Object.entries(response).filter(([, answer]) => !isBare(answer)));
      const transformed = zodTransform({ ...document, schema: { ...rest, response: zodAnswers } });
      const schema = transformed.schema as { response?: Record<string, object> };
      return { ...transformed, schema: { ...schema, response: { ...schema.response, ...Object.fromEntries(bare) } } };
    },
    // Paths in alphabetical order, as a reader looks them up.
    transformObject: (document) => {
      if (!('openapiObject' in document)) return document.swaggerObject;
      const { openapiObject } = document;
      const paths = Object.entries(openapiObject.paths ?? {}).sort(([a], [b]) => a.localeCompare(b));
      openapiObject.paths = Object.fromEntries(paths);
      return openapiObject;
    },
  });
}
