// HighLevel validates every request against its DTOs with a whitelist (NestJS ValidationPipe with
// forbidNonWhitelisted): an undeclared body property or query parameter is refused with 422
// `property X should not exist` (highlevel-api-docs issues 313 and 314; highlevel-api-sdk issue 7 for a query
// parameter). The declarations come from the published OpenAPI documents (operations.generated.ts); where live
// probes showed the documents to be wrong, CORRECTIONS says so, with the evidence.
import { operations } from './operations.generated.ts';
import type { SpecNode, SpecOperation } from './generate.ts';

interface Correction {
  /** Body properties the server accepts beyond the document. */
  addBody?: Record<string, SpecNode>;
  /** Required body properties the server does not in fact require. */
  notRequired?: string[];
  why: string;
}

const text: SpecNode = { type: ['string', 'null'] };

export const CORRECTIONS: Record<string, Correction> = {
  'PUT /contacts/{contactId}': {
    addBody: { companyName: text, type: text, keyword: text, ssn: text },
    why: 'highlevel-api-docs issue 314: a live probe of every field found companyName, type, keyword and ssn accepted (200) though UpdateContactDto omits them; gender, locationId and id refused',
  },
  'POST /invoices/{invoiceId}/record-payment': {
    notRequired: ['card', 'cheque', 'notes'],
    why: 'RecordPaymentDto lists card, cheque and notes as required beside mode (cash, card, cheque, bank_transfer, other): a cash payment cannot carry both a card and a cheque; its own example sends neither',
  },
  'POST /conversations/messages': {
    notRequired: ['subType', 'status'],
    why: 'SendMessageBodyDto marks subType (typed object, exemplified as a string) and status (an outcome) required; public integrations send SMS and Email with type, contactId and message or subject/html alone',
  },
};

const SPEC_PATH = /:(\w+)/g;

/** The spec's operation for a Fastify route (`/contacts/:contactId` -> `/contacts/{contactId}`), if it documents one. */
export function specOperation(method: string, routeUrl: string): SpecOperation | undefined {
  return operations[`${method} ${routeUrl.replace(SPEC_PATH, '{$1}')}`];
}

export function correctionOf(method: string, routeUrl: string): Correction | undefined {
  return CORRECTIONS[`${method} ${routeUrl.replace(SPEC_PATH, '{$1}')}`];
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/**
 * A required property must be present. Whether HighLevel also refuses an empty string there (class-validator's
 * IsNotEmpty) or takes it (IsString) is not on record for most DTOs; the emulator takes it (docs/api-evidence.md).
 */
function empty(value: unknown): boolean {
  return value === undefined || value === null;
}

function enumProblem(node: SpecNode, value: unknown, path: string): string[] {
  if (!node.enum || node.enum.length === 0 || value === undefined || value === null) return [];
  if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') return [];
  return node.enum.some((e) => String(e) === String(value))
    ? []
    : [`${path} must be one of the following values: ${node.enum.join(', ')}`];
}

/**
 * class-validator's messages for one value against one declaration (whitelist, required, enums), depth first. A
 * nested message is prefixed with its parent's path, as NestJS's ValidationPipe does (`items.0.property x should not exist`).
 */
function bodyProblems(
  node: SpecNode,
  value: unknown,
  path: string,
  required: Set<string> | undefined,
  extra: Record<string, SpecNode> = {},
): string[] {
  const problems = enumProblem(node, value, path || 'body');
  if (node.anyOf || node.open) return problems;
  if (Array.isArray(value) && node.items) {
    value.forEach((item, i) => {
      problems.push(...bodyProblems(node.items!, item, `${path}.${i}`, undefined));
    });
    return problems;
  }
  const declared = node.properties ? { ...node.properties, ...extra } : undefined;
  if (!declared || !isObject(value)) return problems;
  const prefix = path ? `${path}.` : '';
  for (const name of required ?? node.required ?? [])
    if (empty(value[name])) problems.push(`${prefix}${name} should not be empty`);
  for (const [key, child] of Object.entries(value)) {
    const declaration = declared[key];
    if (!declaration) problems.push(`${prefix}property ${key} should not exist`);
    else if (child !== undefined && child !== null)
      problems.push(...bodyProblems(declaration, child, `${prefix}${key}`, undefined));
  }
  return problems;
}

/** Everything HighLevel's validation would refuse in this request; empty when it passes. */
export function requestProblems(
  method: string,
  routeUrl: string,
  query: Record<string, unknown>,
  body: unknown,
): string[] {
  const operation = specOperation(method, routeUrl);
  if (!operation) return [];
  const correction = correctionOf(method, routeUrl);
  const problems: string[] = [];
  for (const [name, value] of Object.entries(query)) {
    const declared = operation.query[name];
    if (!declared) problems.push(`property ${name} should not exist`);
    else problems.push(...enumProblem(declared.schema, value, name));
  }
  for (const [name, declared] of Object.entries(operation.query))
    if (declared.required && empty(query[name])) problems.push(`${name} should not be empty`);
  if (operation.body && operation.body.contentType === 'application/json') {
    const schema = operation.body.schema;
    const required = new Set((schema.required ?? []).filter((r) => !correction?.notRequired?.includes(r)));
    problems.push(...bodyProblems(schema, body ?? {}, '', required, correction?.addBody));
  }
  return problems;
}
