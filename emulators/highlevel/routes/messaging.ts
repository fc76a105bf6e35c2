// The mechanisms an integration has for review requests (HighLevel has no public reviews API, reference §7):
// workflows to enrol contacts into (GET /workflows/) and direct messages (POST /conversations/messages,
// Version 2021-04-15). Every message is recorded so tests can see exactly what reached whom.
import { z } from 'zod';
import { badRequest, forbidden, LOCATION_FORBIDDEN } from '../errors.ts';
import { alphanumericId } from '../ids.ts';
import { queryOf, type HttpContext } from '../http.ts';
import { parse } from '../validate.ts';

const messageBody = z
  .object({
    type: z.enum(['SMS', 'RCS', 'Email', 'WhatsApp', 'IG', 'FB', 'Custom', 'Live_Chat', 'TIKTOK']),
    subType: z.string().optional(),
    contactId: z.string().min(1),
    appointmentId: z.string().optional(),
    attachments: z.array(z.string()).optional(),
    emailFrom: z.string().optional(),
    emailCc: z.array(z.string()).optional(),
    emailBcc: z.array(z.string()).optional(),
    html: z.string().optional(),
    message: z.string().optional(),
    subject: z.string().optional(),
    replyMessageId: z.string().optional(),
    templateId: z.string().optional(),
    threadId: z.string().optional(),
    scheduledTimestamp: z.number().optional(),
    conversationProviderId: z.string().optional(),
    emailTo: z.string().optional(),
    fromNumber: z.string().optional(),
    toNumber: z.string().optional(),
    status: z.enum(['delivered', 'failed', 'pending', 'read']).optional(),
  })
  .loose();

export function registerMessagingRoutes(ctx: HttpContext): void {
  const { core } = ctx;

  ctx.route('GET', '/workflows/', { scopes: ['workflows.readonly'] }, (request) => {
    const location = ctx.location(request, queryOf(request).locationId);
    const workflows = [...core.store.workflows.values()]
      .filter((w) => w.locationId === location.id)
      .map((w) => ({
        id: w.id,
        name: w.name,
        status: w.status,
        version: w.version,
        createdAt: new Date(w.createdAt).toISOString(),
        updatedAt: new Date(w.updatedAt).toISOString(),
        locationId: w.locationId,
      }));
    return { workflows, traceId: core.traceId() };
  });

  ctx.route('POST', '/conversations/messages', { scopes: ['conversations/message.write'] }, (request) => {
    const body = parse(messageBody, request.body);
    const contact = core.store.contacts.get(body.contactId);
    if (!contact) throw badRequest('Contact not found');
    if (ctx.grant(request).locationId !== contact.locationId) throw forbidden(LOCATION_FORBIDDEN);
    if (body.type === 'SMS' && !contact.phone && !body.toNumber)
      throw badRequest('Contact does not have a phone number');
    if (body.type === 'Email' && !contact.email && !body.emailTo) throw badRequest('Contact does not have an email');
    if (body.type === 'Email' && !body.html && !body.message) throw badRequest('html or message is required for Email');
    if (body.type === 'SMS' && !body.message) throw badRequest('message is required for SMS');
    if (contact.dnd) throw badRequest('Cannot send message as DND is active for this contact');
    let conversationId = core.store.conversations.get(contact.id);
    if (!conversationId) {
      conversationId = alphanumericId();
      core.store.conversations.set(contact.id, conversationId);
    }
    const messageId = alphanumericId();
    const scheduled = body.scheduledTimestamp !== undefined && body.scheduledTimestamp * 1000 > core.nowMs();
    core.store.logMessage({
      messageId,
      conversationId,
      locationId: contact.locationId,
      contactId: contact.id,
      type: body.type,
      to: body.type === 'Email' ? (body.emailTo ?? contact.email) : (body.toNumber ?? contact.phone),
      subject: body.subject ?? null,
      message: body.message ?? null,
      html: body.html ?? null,
      emailFrom: body.emailFrom ?? null,
      status: scheduled ? 'pending' : 'delivered',
      at: core.clock.now().toISOString(),
    });
    return {
      conversationId,
      messageId,
      ...(body.type === 'Email' ? { emailMessageId: alphanumericId() } : {}),
      msg: scheduled ? 'Message scheduled' : 'Message queued successfully.',
      status: scheduled ? 'pending' : 'delivered',
      traceId: core.traceId(),
    };
  });
}
