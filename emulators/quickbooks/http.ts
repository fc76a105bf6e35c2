// Reply helpers shared by the routes: every answer carries `intuit_tid` (reference §2.8), entity and fault bodies
// carry `time` in the company's offset, and the 401 answer has Intuit's lowercase shape plus WWW-Authenticate.
import { randomBytes } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Company } from './company.ts';
import { type QboFault, WWW_AUTHENTICATE_401, auth401Body } from './errors.ts';
import type { Rec } from './json.ts';
import { companyTimestamp } from './time.ts';

export function transactionId(): string {
  const hex = randomBytes(16).toString('hex');
  return `1-${hex.slice(0, 8)}-${hex.slice(8, 32)}`;
}

export function timeField(nowMs: number, company: Company | undefined): string {
  return companyTimestamp(nowMs, company?.settings.offsetMinutes ?? -7 * 60, true);
}

/** Serialises an API answer with its `time`; returns the exact text sent (kept for requestid replays). */
export function bodyText(payload: Rec, nowMs: number, company: Company | undefined): string {
  return JSON.stringify({ ...payload, time: timeField(nowMs, company) });
}

export function sendText(reply: FastifyReply, status: number, text: string): FastifyReply {
  return reply.code(status).type('application/json;charset=UTF-8').send(text);
}

export function faultText(fault: QboFault, nowMs: number, company: Company | undefined): string {
  return fault.withTime ? bodyText(fault.body(), nowMs, company) : JSON.stringify(fault.body());
}

export function send401(reply: FastifyReply, detail: string, nowMs: number): FastifyReply {
  return reply
    .code(401)
    .header('www-authenticate', WWW_AUTHENTICATE_401)
    .type('application/json;charset=UTF-8')
    .send(JSON.stringify(auth401Body(detail, nowMs)));
}

export function bearerToken(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  const match = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
  return match?.[1];
}

/** Query parameters as single strings (the last one wins when a name repeats). */
export function queryParams(request: FastifyRequest): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  const raw = request.query as Record<string, string | string[] | undefined>;
  for (const [k, v] of Object.entries(raw ?? {})) out[k.toLowerCase()] = Array.isArray(v) ? v[v.length - 1] : v;
  return out;
}

export function mediaType(request: FastifyRequest): string {
  return (request.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
}
