// A small checker of JSON values against HighLevel's OpenAPI 3.0 schemas (vendor-specs/highlevel, CC0) and
// the JSON schemas in its webhook event docs. It checks shapes (required properties, property types, string
// enums), not example values: the specs' examples are often strings where the real values are numbers.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { findVendorSpecs } from '../../../emulators/common/vendorSpecs.ts';

const found = findVendorSpecs('highlevel');
export const SPEC_ROOT = found.dir;
/** false when the specs are there; else the skip message of the suites that need them. */
export const SPECS_MISSING = found.missing;

type Schema = Record<string, unknown>;
const cache = new Map<string, Schema>();

function load(file: string): Schema {
  let doc = cache.get(file);
  if (!doc) {
    doc = JSON.parse(readFileSync(join(SPEC_ROOT, file), 'utf8')) as Schema;
    cache.set(file, doc);
  }
  return doc;
}

interface Located {
  schema: Schema;
  file: string;
}

function resolveRef(ref: string, file: string): Located {
  const [target, pointer] = ref.split('#') as [string, string];
  const nextFile = target ? join(file, '..', target).replace(/^\/+/, '') : file;
  let node: unknown = load(nextFile);
  for (const part of (pointer ?? '').split('/').slice(1))
    node = (node as Schema)[part.replace(/~1/g, '/').replace(/~0/g, '~')];
  if (!node) throw new Error(`unresolvable $ref ${ref} from ${file}`);
  return { schema: node as Schema, file: nextFile };
}

function deref(located: Located): Located {
  let current = located;
  for (let i = 0; i < 20 && typeof current.schema.$ref === 'string'; i++)
    current = resolveRef(current.schema.$ref, current.file);
  return current;
}

/** The response schema of one operation, e.g. responseSchema('contacts', 'get', '/contacts/{contactId}', '200'). */
export function responseSchema(app: string, method: string, path: string, status: string): Located {
  const file = `apps/${app}.json`;
  const doc = load(file) as {
    paths: Record<
      string,
      Record<string, { responses: Record<string, { content?: Record<string, { schema: Schema }> }> }>
    >;
  };
  const op = doc.paths[path]?.[method];
  if (!op) throw new Error(`no operation ${method} ${path} in ${file}`);
  const schema = op.responses[status]?.content?.['application/json']?.schema;
  if (!schema) throw new Error(`no JSON schema for ${status} of ${method} ${path}`);
  return { schema, file };
}

export interface RequestOperation {
  app: string;
  /** The path as the spec writes it (`/contacts/{contactId}`). */
  path: string;
  versions: string[];
  query: Map<string, { required: boolean; enum?: unknown[] }>;
  body?: { contentType: string; located: Located };
}

/** The operation a concrete request addresses (`POST /contacts/abc/tags`), searched over the given spec files. */
export function requestOperation(apps: string[], method: string, concretePath: string): RequestOperation | undefined {
  for (const app of apps) {
    const file = `apps/${app}.json`;
    const doc = load(file) as { paths: Record<string, Record<string, Schema>> };
    const candidates = Object.keys(doc.paths).filter((template) => {
      const pattern = new RegExp(`^${template.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{[^}]+\}/g, '[^/]+')}$`);
      return pattern.test(concretePath) && doc.paths[template]![method.toLowerCase()];
    });
    // A literal segment beats a parameter (`/contacts/search` over `/contacts/{contactId}`).
    candidates.sort((a, b) => (a.match(/\{/g)?.length ?? 0) - (b.match(/\{/g)?.length ?? 0));
    const template = candidates[0];
    if (!template) continue;
    const op = doc.paths[template]![method.toLowerCase()] as {
      parameters?: Schema[];
      requestBody?: { content?: Record<string, { schema: Schema }> };
    };
    const query = new Map<string, { required: boolean; enum?: unknown[] }>();
    let versions: string[] = [];
    for (const p of op.parameters ?? []) {
      const schema = (p.schema ?? {}) as Schema;
      if (p.in === 'header' && p.name === 'Version') versions = (schema.enum as string[] | undefined) ?? [];
      if (p.in === 'query')
        query.set(String(p.name), {
          required: p.required === true,
          ...(Array.isArray(schema.enum) ? { enum: schema.enum as unknown[] } : {}),
        });
    }
    const content = op.requestBody?.content;
    const first = content ? Object.entries(content)[0] : undefined;
    return {
      app,
      path: template,
      versions,
      query,
      ...(first ? { body: { contentType: first[0], located: { schema: first[1].schema, file } } } : {}),
    };
  }
  return undefined;
}

/** The `json json_schema` block of a webhook event doc. */
export function webhookSchema(event: string): Located {
  const text = readFileSync(join(SPEC_ROOT, 'docs/webhook events', `${event}.md`), 'utf8');
  const match = /```json json_schema\s*\n([\s\S]*?)```/.exec(text);
  if (!match) throw new Error(`no json_schema block in ${event}.md`);
  return { schema: JSON.parse(match[1]!) as Schema, file: `docs/webhook events/${event}.md` };
}

export interface CheckOptions {
  /** Paths (like `invoiceItems[]`) where the spec is known to be wrong; the value there is not checked. */
  skip?: string[];
  /** Also require every documented property (not only the schema's `required`) to be present. */
  requireAllProperties?: boolean;
  /** Properties allowed to be absent under requireAllProperties (paths like `planId`). */
  mayOmit?: string[];
  /**
   * Also report properties the schema does not declare (where it declares some and no additionalProperties), as
   * HighLevel's whitelist validation refuses them; `allowUndeclared` lists paths known to be accepted anyway.
   */
  forbidUndeclared?: boolean;
  allowUndeclared?: string[];
}

function typeOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

function typeMatches(expected: string, value: unknown): boolean {
  const actual = typeOf(value);
  switch (expected) {
    case 'string':
    case 'Date':
      return actual === 'string';
    case 'number':
      return actual === 'number';
    case 'integer':
      return actual === 'number' && Number.isInteger(value);
    case 'boolean':
      return actual === 'boolean';
    case 'array':
      return actual === 'array';
    case 'object':
      return actual === 'object';
    default:
      return true;
  }
}

/** Problems found in `value` against `located` (empty when it fits). */
export function check(value: unknown, located: Located, options: CheckOptions = {}, path = ''): string[] {
  if (options.skip?.includes(path)) return [];
  const { schema, file } = deref(located);
  const problems: string[] = [];
  const here = path || '(root)';
  for (const key of ['allOf'] as const) {
    const parts = schema[key];
    if (Array.isArray(parts))
      for (const part of parts) problems.push(...check(value, { schema: part as Schema, file }, options, path));
  }
  for (const key of ['anyOf', 'oneOf'] as const) {
    const parts = schema[key];
    if (
      Array.isArray(parts) &&
      !parts.some((part) => check(value, { schema: part as Schema, file }, options, path).length === 0)
    ) {
      problems.push(`${here}: matches none of ${key}`);
    }
  }
  const declared = schema.type;
  const types = Array.isArray(declared) ? (declared as string[]) : typeof declared === 'string' ? [declared] : [];
  if (types.length > 0 && !types.some((t) => typeMatches(t, value))) {
    problems.push(
      `${here}: expected ${types.join('|')}, got ${typeOf(value)} (${JSON.stringify(value)?.slice(0, 60)})`,
    );
    return problems;
  }
  if (Array.isArray(schema.enum) && typeof value === 'string' && !(schema.enum as unknown[]).includes(value)) {
    problems.push(`${here}: ${JSON.stringify(value)} is not one of ${JSON.stringify(schema.enum)}`);
  }
  if (Array.isArray(value) && schema.items) {
    value.forEach((item, i) => {
      if (i < 5) problems.push(...check(item, { schema: schema.items as Schema, file }, options, `${path}[]`));
    });
  }
  const properties = schema.properties as Record<string, Schema> | undefined;
  if (properties && typeOf(value) === 'object') {
    const obj = value as Record<string, unknown>;
    const required = new Set(Array.isArray(schema.required) ? (schema.required as string[]) : []);
    for (const [name, sub] of Object.entries(properties)) {
      const subPath = path ? `${path}.${name}` : name;
      if (obj[name] === undefined) {
        const mustHave = required.has(name) || (options.requireAllProperties === true && path === '');
        if (mustHave && !options.mayOmit?.includes(subPath) && !options.skip?.includes(subPath))
          problems.push(`${subPath}: missing`);
        continue;
      }
      problems.push(...check(obj[name], { schema: sub, file }, options, subPath));
    }
    if (
      options.forbidUndeclared &&
      Object.keys(properties).length > 0 &&
      (schema.additionalProperties === undefined || schema.additionalProperties === false)
    ) {
      for (const name of Object.keys(obj)) {
        const subPath = path ? `${path}.${name}` : name;
        if (!(name in properties) && !options.allowUndeclared?.includes(subPath))
          problems.push(`${subPath}: not declared`);
      }
    }
  }
  return problems;
}

/** The `json` example blocks of a webhook event doc (AppInstall and AppUninstall have several). */
export function webhookExamples(event: string): unknown[] {
  const text = readFileSync(join(SPEC_ROOT, 'docs/webhook events', `${event}.md`), 'utf8');
  return [...text.matchAll(/```json\s*\n([\s\S]*?)```/g)].map((m) => JSON.parse(m[1]!) as unknown);
}

/**
 * Key paths a payload may hold, as the event doc shows them: its schema's properties and every key of its
 * examples (`items[].product._id`). A node the doc declares without saying what it holds (an object without
 * properties, an array without items, a value of several types) and whose examples show nothing inside either
 * is opaque: anything below it is accepted.
 */
function documentedPaths(event: string): { paths: Set<string>; opaque: Set<string> } {
  const paths = new Set<string>();
  const vague = new Set<string>();
  const walkSchema = (node: Schema, path: string): void => {
    const properties = node.properties as Record<string, Schema> | undefined;
    const types = Array.isArray(node.type) ? node.type : [node.type];
    if (properties) {
      for (const [name, sub] of Object.entries(properties)) {
        const sub_ = path ? `${path}.${name}` : name;
        paths.add(sub_);
        walkSchema(sub, sub_);
      }
    } else if (node.items) {
      walkSchema(node.items as Schema, `${path}[]`);
    } else if (types.length > 1 || types[0] === 'object' || types[0] === 'array') {
      vague.add(path);
    }
  };
  const walkExample = (value: unknown, path: string): void => {
    if (Array.isArray(value)) for (const item of value) walkExample(item, `${path}[]`);
    else if (value !== null && typeof value === 'object') {
      for (const [name, sub] of Object.entries(value)) {
        const sub_ = path ? `${path}.${name}` : name;
        paths.add(sub_);
        walkExample(sub, sub_);
      }
    }
  };
  walkSchema(webhookSchema(event).schema, '');
  for (const example of webhookExamples(event)) walkExample(example, '');
  const opaque = new Set(
    [...vague].filter((v) => ![...paths].some((p) => p.startsWith(`${v}.`) || p.startsWith(`${v}[]`))),
  );
  return { paths, opaque };
}

/** Key paths of `value` that the event doc does not show (`allowedAtRoot` adds envelope fields documented elsewhere). */
export function undocumentedPaths(value: unknown, event: string, allowedAtRoot: string[] = []): string[] {
  const { paths, opaque } = documentedPaths(event);
  const found: string[] = [];
  const inOpaque = (path: string): boolean =>
    [...opaque].some((o) => path === o || path.startsWith(`${o}.`) || path.startsWith(`${o}[]`));
  const walk = (node: unknown, path: string): void => {
    if (Array.isArray(node)) for (const item of node) walk(item, `${path}[]`);
    else if (node !== null && typeof node === 'object') {
      for (const [name, sub] of Object.entries(node)) {
        const sub_ = path ? `${path}.${name}` : name;
        if (path === '' && allowedAtRoot.includes(name)) continue;
        if (inOpaque(path)) continue;
        if (!paths.has(sub_)) {
          found.push(sub_);
          continue;
        }
        walk(sub, sub_);
      }
    }
  };
  walk(value, '');
  return found;
}
