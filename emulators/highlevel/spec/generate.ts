// Regenerates operations.generated.ts from HighLevel's published OpenAPI documents (GoHighLevel/highlevel-api-docs,
// CC0): for each operation the emulator serves, the query parameters, Version header values and request body it
// declares. Only structure is kept (names, types, required, enums); descriptions and examples are dropped.
// Run: node --import tsx emulators/highlevel/spec/generate.ts [vendor-specs/highlevel dir]
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findVendorSpecs } from '../../common/vendorSpecs.ts';

/** A request schema reduced to what validation needs. */
export interface SpecNode {
  /** JSON types allowed (OpenAPI `type`); absent: any. */
  type?: string[];
  /** Declared properties of an object; an object without them (or with additionalProperties) is open. */
  properties?: Record<string, SpecNode>;
  required?: string[];
  /** additionalProperties was declared: keys beyond `properties` are allowed. */
  open?: boolean;
  items?: SpecNode;
  enum?: Array<string | number | boolean>;
  /** anyOf / oneOf alternatives. */
  anyOf?: SpecNode[];
}

export interface SpecParameter {
  required: boolean;
  schema: SpecNode;
}

export interface SpecOperation {
  /** `Version` header values the operation declares (none for the token endpoint). */
  versions: string[];
  query: Record<string, SpecParameter>;
  body?: { contentType: string; required: boolean; schema: SpecNode };
}

/** Keyed `METHOD /path/{param}` exactly as the spec writes the path. */
export type SpecOperations = Record<string, SpecOperation>;

/** The spec files whose operations the emulator serves. */
export const SPEC_APPS = [
  'contacts',
  'conversations',
  'invoices',
  'locations',
  'oauth',
  'payments',
  'products',
  'workflows',
];

type Json = Record<string, unknown>;

export function buildOperations(specRoot: string): SpecOperations {
  const docs = new Map<string, Json>();
  const load = (file: string): Json => {
    let doc = docs.get(file);
    if (!doc) {
      doc = JSON.parse(readFileSync(join(specRoot, file), 'utf8')) as Json;
      docs.set(file, doc);
    }
    return doc;
  };
  const resolve = (ref: string, file: string): { schema: Json; file: string } => {
    const [target, pointer] = ref.split('#') as [string, string | undefined];
    const nextFile = target ? join(dirname(file), target) : file;
    let node: unknown = load(nextFile);
    for (const part of (pointer ?? '').split('/').slice(1))
      node = (node as Json)[part.replace(/~1/g, '/').replace(/~0/g, '~')];
    if (!node || typeof node !== 'object') throw new Error(`unresolvable $ref ${ref} from ${file}`);
    return { schema: node as Json, file: nextFile };
  };
  const reduce = (input: Json, file: string, depth: number): SpecNode => {
    let schema = input;
    let at = file;
    for (let i = 0; i < 20 && typeof schema.$ref === 'string'; i++) ({ schema, file: at } = resolve(schema.$ref, at));
    if (depth > 12) return {};
    const node: SpecNode = {};
    if (typeof schema.type === 'string') node.type = [schema.type];
    else if (Array.isArray(schema.type)) node.type = schema.type as string[];
    if (schema.nullable === true && node.type) node.type = [...node.type, 'null'];
    if (Array.isArray(schema.enum))
      node.enum = (schema.enum as unknown[]).filter((v): v is string | number | boolean => v !== null);
    if (schema.items && typeof schema.items === 'object') node.items = reduce(schema.items as Json, at, depth + 1);
    const properties: Record<string, SpecNode> = {};
    const required = new Set<string>(Array.isArray(schema.required) ? (schema.required as string[]) : []);
    let hasProperties = false;
    const absorb = (part: SpecNode): void => {
      if (part.properties) {
        hasProperties = true;
        Object.assign(properties, part.properties);
      }
      for (const r of part.required ?? []) required.add(r);
      if (part.open) node.open = true;
      if (!node.type && part.type) node.type = part.type;
    };
    if (schema.properties && typeof schema.properties === 'object') {
      hasProperties = true;
      for (const [name, sub] of Object.entries(schema.properties as Record<string, Json>))
        properties[name] = reduce(sub, at, depth + 1);
    }
    if (Array.isArray(schema.allOf)) for (const part of schema.allOf as Json[]) absorb(reduce(part, at, depth + 1));
    for (const key of ['anyOf', 'oneOf'] as const) {
      if (Array.isArray(schema[key])) node.anyOf = (schema[key] as Json[]).map((part) => reduce(part, at, depth + 1));
    }
    if (schema.additionalProperties !== undefined && schema.additionalProperties !== false) node.open = true;
    // An object declared with no properties at all is undocumented (POST /contacts/search's body), not empty.
    if (hasProperties && Object.keys(properties).length === 0) node.open = true;
    else if (hasProperties) node.properties = properties;
    if (required.size > 0) node.required = [...required];
    return node;
  };

  const operations: SpecOperations = {};
  for (const app of SPEC_APPS) {
    const file = `apps/${app}.json`;
    const doc = load(file) as { paths: Record<string, Record<string, Json>> };
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(item)) {
        if (!op || typeof op !== 'object' || !('responses' in op)) continue;
        const parameters = (Array.isArray(op.parameters) ? op.parameters : []) as Json[];
        const operation: SpecOperation = { versions: [], query: {} };
        for (const raw of parameters) {
          const p = typeof raw.$ref === 'string' ? resolve(raw.$ref, file).schema : raw;
          const schema = (p.schema ?? {}) as Json;
          if (p.in === 'header' && p.name === 'Version') {
            operation.versions = Array.isArray(schema.enum) ? (schema.enum as string[]) : [];
          } else if (p.in === 'query') {
            operation.query[String(p.name)] = { required: p.required === true, schema: reduce(schema, file, 0) };
          }
        }
        const body = op.requestBody as Json | undefined;
        const content = body?.content as Record<string, { schema?: Json }> | undefined;
        if (content) {
          const [contentType, media] = Object.entries(content)[0]!;
          operation.body = {
            contentType,
            required: body?.required === true,
            schema: reduce(media.schema ?? {}, file, 0),
          };
        }
        operations[`${method.toUpperCase()} ${path}`] = operation;
      }
    }
  }
  return operations;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const here = dirname(fileURLToPath(import.meta.url));
  const specRoot = process.argv[2] ?? findVendorSpecs('highlevel').dir;
  const operations = buildOperations(specRoot);
  const text =
    `// Generated by spec/generate.ts from HighLevel's OpenAPI documents (GoHighLevel/highlevel-api-docs, CC0). Do not edit by hand.\n` +
    `import type { SpecOperations } from './generate.ts';\n\nexport const operations: SpecOperations = ${JSON.stringify(operations)};\n`;
  writeFileSync(join(here, 'operations.generated.ts'), text);
  console.log(`${Object.keys(operations).length} operations written`);
}
