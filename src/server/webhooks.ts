// Webhook intake for both providers. Order of work, as the design requires: read the raw bytes (size-limited),
// verify the signature before storing anything, parse, then store in the inbox and enqueue in one transaction,
// and only then answer. A refused webhook is logged and shown in the activity list; its body is not kept.
import type { FastifyInstance, FastifyReply } from 'fastify';
import {
  isQuickBooksWebhookContentType,
  parseQuickBooksWebhook,
  verifyIntuitSignature,
} from '../quickbooks/webhooks.ts';
import { acceptEvent, recordRefusal, type IntakeDeps } from '../sync/engine/intake.ts';
import { routeHighLevelEvent, routeQuickBooksEvent } from '../sync/engine/routes.ts';
import { isFreshWebhook } from '../highlevel/webhooks.ts';
import type { AppLifecycleEvent } from '../sync/connections/appLifecycle.ts';

export interface HighLevelWebhookEvent {
  eventId: string;
  /** What the event concerns: `unplaced` when it cannot be acted on (`reason` says why). */
  kind: 'contact' | 'invoice' | 'order' | 'app' | 'unplaced';
  /** The event's name for the inbox and the activity list. */
  type: string;
  locationId: string | undefined;
  recordId: string | undefined;
  contactId: string | undefined;
  payload: unknown;
  reason?: string;
  /** The payload's `timestamp`, when it has one (judged by the freshness window). */
  timestamp: string | undefined;
  /** The payload's `appId`, when it has one (lifecycle events always do): must be ours. */
  appId: string | undefined;
}

export interface WebhookDeps {
  intake: IntakeDeps;
  quickbooksVerifierToken: string | undefined;
  /** Verifies x-ghl-signature (Ed25519), or the legacy x-wh-signature when the new header is absent. */
  verifyHighLevel: (
    rawBody: Buffer,
    headers: Record<string, string | string[] | undefined>,
  ) => { ok: true } | { ok: false; reason: string };
  parseHighLevel: (rawBody: Buffer) => HighLevelWebhookEvent;
  /** HighLevel's id of our app (the part of HL_CLIENT_ID before the dash): events naming another app are refused. */
  highLevelAppId: string;
  /** AppInstall / AppUninstall, once deduplicated: 'duplicate' when the same event came before (nothing done). */
  onHighLevelAppEvent: (event: AppLifecycleEvent) => Promise<'stored' | 'duplicate'>;
  bodyLimitBytes?: number;
}

export async function webhookRoutes(app: FastifyInstance, deps: WebhookDeps): Promise<void> {
  const bodyLimit = deps.bodyLimitBytes ?? 1024 * 1024;
  // The signature covers the exact bytes: keep them as a Buffer instead of letting Fastify parse JSON.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit }, (_request, body, done) => done(null, body));
  app.setErrorHandler(async (error: Error & { code?: string; statusCode?: number }, request, reply) => {
    const provider = request.url.includes('quickbooks') ? 'quickbooks' : 'highlevel';
    if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      await recordRefusal(deps.intake.db, provider, `body over the ${bodyLimit}-byte limit`, {
        contentLength: request.headers['content-length'] ?? null,
      });
      return reply.code(413).send({ error: 'payload too large', limitBytes: bodyLimit });
    }
    request.log.error({ err: error }, 'webhook intake failed');
    // HighLevel retries only a 429; Intuit retries any non-200. Either way the sender will come back.
    return reply
      .code(provider === 'highlevel' ? 429 : 500)
      .send({ error: 'could not store the event; it will be retried' });
  });

  app.post('/webhooks/quickbooks', async (request, reply) => {
    const raw = asBuffer(request.body);
    const signature = header(request.headers['intuit-signature']);
    if (!deps.quickbooksVerifierToken) {
      await recordRefusal(
        deps.intake.db,
        'quickbooks',
        'no verifier token is configured (QBO_WEBHOOK_VERIFIER_TOKEN)',
        { bytes: raw.length },
      );
      return refuse(reply, 'webhooks are not configured');
    }
    if (!verifyIntuitSignature(raw, signature, deps.quickbooksVerifierToken)) {
      await recordRefusal(
        deps.intake.db,
        'quickbooks',
        signature ? 'intuit-signature does not match the body' : 'intuit-signature header is missing',
        { bytes: raw.length },
      );
      return refuse(reply, 'invalid signature');
    }
    if (!isQuickBooksWebhookContentType(header(request.headers['content-type']))) {
      await recordRefusal(
        deps.intake.db,
        'quickbooks',
        `unexpected content type ${header(request.headers['content-type']) ?? '(none)'}`,
        { bytes: raw.length },
      );
      // Answer 200 anyway: Intuit holds back later events behind one that keeps failing (reference §5.4).
      return reply.code(200).send({ accepted: 0 });
    }
    let events: ReturnType<typeof parseQuickBooksWebhook>;
    try {
      events = parseQuickBooksWebhook(raw);
    } catch (error) {
      await recordRefusal(deps.intake.db, 'quickbooks', error instanceof Error ? error.message : 'malformed body', {
        bytes: raw.length,
      });
      return reply.code(200).send({ accepted: 0 });
    }
    let accepted = 0;
    for (const event of events) {
      const outcomes = await acceptEvent(deps.intake, {
        provider: 'quickbooks',
        eventId: event.eventId,
        eventType: `${event.entity}.${event.operation}`,
        account: event.realmId,
        payload: event,
        record: { kind: event.entity, id: event.entityId },
        route: routeQuickBooksEvent(event.entity, event.entityId, event.operation),
      });
      accepted += outcomes.filter((o) => o.outcome === 'stored').length;
    }
    return reply.code(200).send({ accepted });
  });

  app.post('/webhooks/highlevel', async (request, reply) => {
    const raw = asBuffer(request.body);
    const verdict = deps.verifyHighLevel(raw, request.headers);
    if (!verdict.ok) {
      await recordRefusal(deps.intake.db, 'highlevel', verdict.reason, { bytes: raw.length });
      return refuse(reply, 'invalid signature');
    }
    let event: HighLevelWebhookEvent;
    try {
      event = deps.parseHighLevel(raw);
    } catch (error) {
      const reason = error instanceof Error ? error.message : 'malformed body';
      await recordRefusal(deps.intake.db, 'highlevel', reason, { bytes: raw.length });
      return reply.code(400).send({ error: reason });
    }
    // A signed delivery can be captured and posted again: one dated outside the window is refused here, one inside
    // it is a duplicate in the inbox. Deliveries without a timestamp rely on the inbox alone.
    if (!isFreshWebhook(event)) {
      // Refusals are counted per reason text: the particulars go in the detail.
      await recordRefusal(
        deps.intake.db,
        'highlevel',
        'delivery dated outside the freshness window (a replay, or a clock far off)',
        {
          bytes: raw.length,
          eventId: event.eventId,
          type: event.type,
          timestamp: event.timestamp ?? null,
        },
      );
      return reply.code(400).send({ error: 'stale delivery' });
    }
    if (event.appId !== undefined && event.appId !== deps.highLevelAppId) {
      await recordRefusal(deps.intake.db, 'highlevel', 'event for another app (its appId is not ours)', {
        bytes: raw.length,
        eventId: event.eventId,
        type: event.type,
        appId: event.appId,
      });
      return reply.code(403).send({ error: 'event for another app' });
    }
    if (event.kind === 'app') {
      const outcome = await deps.onHighLevelAppEvent({
        eventId: event.eventId,
        type: event.type === 'INSTALL' ? 'INSTALL' : 'UNINSTALL',
        locationId: event.locationId,
        timestamp: event.timestamp,
        payload: event.payload,
      });
      return reply.code(200).send({ accepted: outcome === 'stored' ? 1 : 0 });
    }
    const outcomes = await acceptEvent(deps.intake, {
      provider: 'highlevel',
      eventId: event.eventId,
      eventType: event.type,
      account: event.locationId,
      payload: event.payload,
      route: routeHighLevelEvent(event.kind, event.type, event.recordId),
      ...(event.reason ? { reason: event.reason } : {}),
    });
    return reply.code(200).send({ accepted: outcomes.filter((o) => o.outcome === 'stored').length });
  });
}

function refuse(reply: FastifyReply, message: string) {
  return reply.code(401).send({ error: message });
}

function asBuffer(body: unknown): Buffer {
  return Buffer.isBuffer(body) ? body : Buffer.alloc(0);
}

function header(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
