// The Accounting API under /v3/company/{realmId}/: token check, throttling, fault injection, requestid replay,
// then the operation (entity CRUD, void, send, query, batch, cdc). Unknown paths answer 400 with code 500
// "Unsupported Operation", as Intuit does (VCR error/500.yml).
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { dropConnection, sleep } from '../common/http.ts';
import type { QuickBooksAdmin } from './admin.ts';
import { batchItems, runBatch } from './batch.ts';
import { changeDataCapture } from './cdc.ts';
import type { Company, EntityName } from './company.ts';
import { entityNames } from './company.ts';
import { QboFault, faults } from './errors.ts';
import { bearerToken, bodyText, faultText, mediaType, queryParams, send401, sendText } from './http.ts';
import { MAX_REQUEST_ID_LENGTH } from './idempotency.ts';
import type { Rec } from './json.ts';
import { parseQuery, queryResponse, runQuery } from './query.ts';

const entityByPath = new Map<string, EntityName>(entityNames.map((n) => [n.toLowerCase(), n]));

interface Answer {
  status: number;
  text: string;
  contentType?: string;
}

export function registerAccountingRoutes(app: FastifyInstance, admin: QuickBooksAdmin): void {
  const handler = (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> | FastifyReply =>
    handle(admin, request, reply);
  app.route({ method: ['GET', 'POST', 'PUT', 'DELETE', 'PATCH'], url: '/v3/company/:realmId/*', handler });
  app.route({ method: ['GET', 'POST'], url: '/v3/company/:realmId', handler });
}

async function handle(admin: QuickBooksAdmin, request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
  const { realmId } = request.params as { realmId: string };
  const segments = ((request.params as Record<string, string | undefined>)['*'] ?? '')
    .split('/')
    .filter(Boolean)
    .map((s) => decodeURIComponent(s));
  const now = admin.clock.nowMs();
  const token = bearerToken(request);
  const access = admin.oauth.checkAccess(token, realmId);
  if (!access.ok) {
    if (access.status === 401) return send401(reply, access.detail, now);
    return sendText(reply, 403, faultText(faults.forbidden(access.detail), now, undefined));
  }
  const company = admin.company(realmId);
  if (!company)
    return sendText(
      reply,
      403,
      faultText(faults.forbidden(`Company ${realmId} does not exist in this emulator`), now, undefined),
    );

  const params = queryParams(request);
  const method = request.method.toUpperCase();
  const isBatch = method === 'POST' && segments.length === 1 && segments[0]!.toLowerCase() === 'batch';
  let body: unknown;
  try {
    body = readBody(request, segments, method);
    const items = isBatch ? batchItems(body) : undefined;
    if (!admin.limits.take(realmId, items?.length)) throw faults.throttled();
  } catch (error) {
    if (error instanceof QboFault) return sendText(reply, error.status, faultText(error, now, company));
    throw error;
  }
  if (!admin.limits.inFlight.acquire(realmId)) {
    admin.limits.throttledInFlight(realmId);
    return sendText(reply, 429, faultText(faults.throttled(), now, company));
  }
  reply.raw.once('close', () => admin.limits.inFlight.release(realmId));

  const rule = admin.faults.pick(method, request.url);
  switch (rule?.kind) {
    case 'error429':
      return sendText(reply, 429, faultText(faults.throttled(), now, company));
    case 'error500':
      return sendText(reply, 500, faultText(faults.systemError(500), now, company));
    case 'error503':
      return sendText(reply, 503, faultText(faults.systemError(503), now, company));
    case 'drop':
      dropConnection(reply);
      return reply;
    case 'revokeToken':
      if (token) admin.oauth.revokeAccessToken(token);
      return send401(reply, 'Token revoked: the app was disconnected from this company', now);
    default:
      break;
  }
  const loseAnswer = rule?.kind === 'loseAnswer';

  const isWrite = method === 'POST' && !(segments.length === 1 && segments[0]!.toLowerCase() === 'query');
  const requestId = isWrite ? params.requestid : undefined;
  let answer: Answer | undefined;
  let release: (() => void) | undefined;
  if (requestId !== undefined) {
    if (requestId.length === 0 || requestId.length > MAX_REQUEST_ID_LENGTH) {
      const fault = faults.invalidValue(
        'requestid',
        `requestid must be 1 to ${MAX_REQUEST_ID_LENGTH} characters long (got ${requestId.length})`,
      );
      answer = { status: 400, text: faultText(fault, now, company) };
    } else {
      // A retry that arrives while the first attempt is still running (slow answer, client timeout) waits for
      // it and then gets its answer: the write never happens twice.
      release = await admin.requestIds.acquire(realmId, requestId);
      const stored = admin.requestIds.get(realmId, requestId);
      if (stored) answer = { status: stored.status, text: stored.body };
    }
  }
  try {
    if (rule?.kind === 'latency') await sleep(rule.latencyMs ?? 1000);
    if (!answer) {
      answer = run(admin, company, method, segments, params, body, admin.clock.nowMs());
      if (requestId !== undefined && answer.status < 500 && !answer.contentType)
        admin.requestIds.set(realmId, requestId, { status: answer.status, body: answer.text });
    }
  } finally {
    release?.();
  }
  if (loseAnswer) {
    // The write has happened; the client never learns it (a timeout on its side).
    dropConnection(reply);
    return reply;
  }
  if (answer.contentType) return reply.code(answer.status).type(answer.contentType).send(answer.text);
  return sendText(reply, answer.status, answer.text);
}

function readBody(request: FastifyRequest, segments: string[], method: string): unknown {
  if (method !== 'POST') return undefined;
  const raw = typeof request.body === 'string' ? request.body : '';
  const type = mediaType(request);
  const isQuery = segments.length === 1 && segments[0]!.toLowerCase() === 'query';
  if (isQuery) {
    if (raw.trim() === '') return undefined;
    if (type === 'application/text' || type === 'text/plain' || type === '') return raw;
    throw new QboFault(415, 'ValidationFault', [
      {
        Message: 'Invalid Content Type',
        Detail: `Content-Type ${type} is not supported for a query; use application/text`,
        code: '1050',
      },
    ]);
  }
  if (raw.trim() === '') return undefined;
  if (type !== 'application/json' && !type.endsWith('+json')) {
    throw new QboFault(415, 'ValidationFault', [
      {
        Message: 'Invalid Content Type',
        Detail: `Content-Type ${type || '(none)'} is not supported; send application/json`,
        code: '1050',
      },
    ]);
  }
  try {
    return JSON.parse(raw) as unknown;
  } catch (error) {
    throw faults.malformedRequest((error as Error).message);
  }
}

function ok(payload: Rec, now: number, company: Company): Answer {
  return { status: 200, text: bodyText(payload, now, company) };
}

function run(
  admin: QuickBooksAdmin,
  company: Company,
  method: string,
  segments: string[],
  params: Record<string, string | undefined>,
  body: unknown,
  now: number,
): Answer {
  try {
    return dispatch(admin, company, method, segments, params, body, now);
  } catch (error) {
    if (error instanceof QboFault) return { status: error.status, text: faultText(error, now, company) };
    throw error;
  }
}

function dispatch(
  admin: QuickBooksAdmin,
  company: Company,
  method: string,
  segments: string[],
  params: Record<string, string | undefined>,
  body: unknown,
  now: number,
): Answer {
  const accounting = admin.accounting;
  const [first = '', second, third] = segments;
  const head = first.toLowerCase();
  const include = new Set(
    (params.include ?? '')
      .toLowerCase()
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
  );

  if (head === 'query' && segments.length === 1) {
    const text = method === 'POST' ? (body as string | undefined) : params.query;
    if (text === undefined) throw faults.queryParse('the query parameter is missing');
    const query = parseQuery(text);
    return ok({ QueryResponse: queryResponse(query, runQuery(company, query, admin.nameLists())) }, now, company);
  }
  if (head === 'batch' && segments.length === 1 && method === 'POST') {
    return ok({ BatchItemResponse: runBatch(accounting, company, batchItems(body), admin.nameLists()) }, now, company);
  }
  if (head === 'cdc' && segments.length === 1 && method === 'GET') {
    return ok(changeDataCapture(company, params.entities, params.changedsince, now), now, company);
  }
  const entity = entityByPath.get(head);
  if (!entity) throw faults.unsupported(`${method} /${segments.join('/')}`);

  if (method === 'GET') {
    if (entity === 'Preferences' && segments.length === 1)
      return ok({ Preferences: accounting.read(company, 'Preferences', '1') }, now, company);
    if (second !== undefined && segments.length === 2)
      return ok({ [entity]: accounting.read(company, entity, second) }, now, company);
    if (
      second !== undefined &&
      third?.toLowerCase() === 'pdf' &&
      segments.length === 3 &&
      (entity === 'Invoice' || entity === 'SalesReceipt')
    ) {
      const record = accounting.read(company, entity, second);
      return {
        status: 200,
        text: minimalPdf(`${entity} ${String(record.DocNumber ?? record.Id)} total ${String(record.TotalAmt)}`),
        contentType: 'application/pdf',
      };
    }
    throw faults.unsupported(`GET /${segments.join('/')}`);
  }
  if (method !== 'POST') throw faults.unsupported(`${method} /${segments.join('/')}`);
  if (entity === 'Invoice' && second !== undefined && third?.toLowerCase() === 'send' && segments.length === 3) {
    return ok({ Invoice: accounting.send(company, second, params.sendto) }, now, company);
  }
  if (segments.length !== 1) throw faults.unsupported(`POST /${segments.join('/')}`);
  if (body === undefined) throw faults.malformedRequest(`an empty body was sent; a ${entity} object was expected`);
  const operation = (params.operation ?? '').toLowerCase();
  let record: Rec;
  if (operation === 'delete') record = accounting.delete(company, entity, body);
  else if (operation === 'void') record = accounting.void(company, entity, body);
  else if (operation === 'update') record = accounting.update(company, entity, body, include);
  else if (operation === '' || operation === 'create') record = accounting.create(company, entity, body, include);
  else throw faults.unsupported(`${operation} for ${entity}`);
  return ok({ [entity]: record }, now, company);
}

/** A one-page PDF naming the form: enough for clients that download and store invoice PDFs. */
function minimalPdf(title: string): string {
  const text = title.replace(/[()\\]/g, '');
  const stream = `BT /F1 14 Tf 72 720 Td (${text}) Tj ET`;
  const objects = [
    '<< /Type /Catalog /Pages 2 0 R >>',
    '<< /Type /Pages /Kids [3 0 R] /Count 1 >>',
    '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>',
    `<< /Length ${stream.length} >>\nstream\n${stream}\nendstream`,
    '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>',
  ];
  let pdf = '%PDF-1.4\n';
  const offsets: number[] = [];
  objects.forEach((o, i) => {
    offsets.push(pdf.length);
    pdf += `${i + 1} 0 obj\n${o}\nendobj\n`;
  });
  const xref = pdf.length;
  pdf += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n${offsets.map((o) => `${String(o).padStart(10, '0')} 00000 n \n`).join('')}`;
  pdf += `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  return pdf;
}
