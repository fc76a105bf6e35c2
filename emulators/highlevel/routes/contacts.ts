// Contacts (apps/contacts.json, Version 2021-07-28; scopes contacts.readonly / contacts.write).
import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import { createContactSchema, updateContactSchema, upsertContactSchema, dedupeTags } from '../contacts.ts';
import { emailsSearchedFor, searchBodySchema, searchContacts } from '../contactSearch.ts';
import { badRequest, forbidden, HighLevelError, LOCATION_FORBIDDEN } from '../errors.ts';
import { alphanumericId } from '../ids.ts';
import { paramsOf, queryOf, type HttpContext } from '../http.ts';
import type { Contact } from '../model.ts';
import { normalisePhone } from '../contacts.ts';
import { contactJson, contactSearchHitJson } from '../serialize.ts';
import { parse } from '../validate.ts';

const READ = { scopes: ['contacts.readonly'] };
const WRITE = { scopes: ['contacts.write'] };

export function registerContactRoutes(ctx: HttpContext): void {
  const { core } = ctx;

  const contactOf = (request: FastifyRequest): Contact => {
    const id = paramsOf(request).contactId ?? '';
    const contact = core.store.contacts.get(id);
    if (!contact) throw badRequest('Contact not found');
    const grant = ctx.grant(request);
    if (grant.locationId !== contact.locationId) throw forbidden(LOCATION_FORBIDDEN);
    return contact;
  };

  ctx.route('POST', '/contacts/', WRITE, (request, reply) => {
    const body = parse(createContactSchema, request.body);
    const location = ctx.location(request, body.locationId);
    const contact = ctx.contacts.create(location.id, body);
    return reply.code(200).send({ contact: contactJson(contact), traceId: core.traceId() });
  });

  ctx.route('POST', '/contacts/upsert', WRITE, (request) => {
    const body = parse(upsertContactSchema, request.body);
    const location = ctx.location(request, body.locationId);
    if (!body.email && !body.phone) throw badRequest('Pass at least one of email or phone');
    const { contact, isNew } = ctx.contacts.upsert(location.id, body);
    return { new: isNew, succeded: true, succeeded: true, contact: contactJson(contact), traceId: core.traceId() };
  });

  ctx.route('GET', '/contacts/search/duplicate', READ, (request) => {
    const q = queryOf(request);
    const location = ctx.location(request, q.locationId);
    if (!q.email && !q.number) throw badRequest('Pass at least one of number, email query parameter');
    const phone = q.number ? normalisePhone(q.number, location.country) : null;
    const hit = ctx.contacts.findDuplicate(location, q.email ?? null, phone);
    return { contact: hit ? contactJson(hit.contact) : null, traceId: core.traceId() };
  });

  ctx.route('POST', '/contacts/search', READ, (request) => {
    const body = parse(searchBodySchema, request.body);
    const location = ctx.location(request, body.locationId);
    const emails = emailsSearchedFor(body.filters);
    const all = emails
      ? new Set(emails.flatMap((email) => core.store.contactsWithEmail(location.id, email)))
      : core.store.contactsOf(location.id).values();
    // Search is served by an index that lags behind writes (reference §2.3); get-by-id and the duplicate look-up do not.
    const visibleBefore = core.nowMs() - core.searchLagMs;
    const result = searchContacts(
      core.searchLagMs > 0 ? [...all].filter((c) => c.dateAdded <= visibleBefore) : all,
      body,
    );
    return {
      contacts: result.hits.map((h) => contactSearchHitJson(h.contact, h.searchAfter)),
      total: result.total,
      traceId: core.traceId(),
    };
  });

  // Deprecated list, still answering (reference §2.1): oldest first, cursor by startAfter (ms) + startAfterId.
  ctx.route('GET', '/contacts/', READ, (request) => {
    const q = queryOf(request);
    const location = ctx.location(request, q.locationId);
    const limit = q.limit === undefined ? 20 : Number(q.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 100)
      throw new HighLevelError(422, {
        statusCode: 422,
        message: ['limit must not be greater than 100'],
        error: 'Unprocessable Entity',
      });
    const query = q.query?.toLowerCase();
    const all = [...core.store.contactsOf(location.id).values()].filter((c) => {
      if (!query) return true;
      return [c.firstName, c.lastName, c.email, c.phone, c.companyName].some((v) => v?.toLowerCase().includes(query));
    });
    let start = 0;
    if (q.startAfterId) {
      const idx = all.findIndex((c) => c.id === q.startAfterId);
      start = idx === -1 ? all.length : idx + 1;
    } else if (q.startAfter) {
      const after = Number(q.startAfter);
      start = all.findIndex((c) => c.dateAdded > after);
      if (start === -1) start = all.length;
    }
    const page = all.slice(start, start + limit);
    const last = page[page.length - 1];
    const hasMore = start + limit < all.length;
    const nextParams = last
      ? new URLSearchParams({
          locationId: location.id,
          limit: String(limit),
          startAfter: String(last.dateAdded),
          startAfterId: last.id,
        })
      : null;
    return {
      contacts: page.map(contactJson),
      count: all.length,
      meta: {
        total: all.length,
        nextPageUrl: hasMore && nextParams ? `/contacts/?${nextParams.toString()}` : null,
        startAfterId: hasMore && last ? last.id : null,
        startAfter: hasMore && last ? last.dateAdded : null,
        currentPage: Math.floor(start / limit) + 1,
        nextPage: hasMore ? Math.floor(start / limit) + 2 : null,
        prevPage: start > 0 ? Math.floor(start / limit) : null,
      },
    };
  });

  ctx.route('GET', '/contacts/:contactId', READ, (request) => ({
    contact: contactJson(contactOf(request)),
    traceId: core.traceId(),
  }));

  ctx.route('PUT', '/contacts/:contactId', WRITE, (request) => {
    const contact = contactOf(request);
    const body = parse(updateContactSchema, request.body);
    ctx.contacts.update(contact, body);
    return { succeded: true, succeeded: true, contact: contactJson(contact), traceId: core.traceId() };
  });

  ctx.route('DELETE', '/contacts/:contactId', WRITE, (request) => {
    ctx.contacts.delete(contactOf(request));
    return { succeded: true };
  });

  const tagsBody = z.object({ tags: z.array(z.string()).min(1) });
  ctx.route('POST', '/contacts/:contactId/tags', WRITE, (request, reply) => {
    const contact = contactOf(request);
    const body = parse(tagsBody, request.body);
    const before = new Set(contact.tags);
    ctx.contacts.addTags(contact, body.tags);
    const added = contact.tags.filter((t) => !before.has(t));
    return reply.code(200).send({ tags: [...contact.tags], tagsAdded: added, traceId: core.traceId() });
  });

  ctx.route('DELETE', '/contacts/:contactId/tags', WRITE, (request) => {
    const contact = contactOf(request);
    const body = parse(tagsBody, request.body);
    ctx.contacts.removeTags(contact, dedupeTags(body.tags));
    return { tags: [...contact.tags] };
  });

  // Notes: integrations leave audit notes ("Synced to QuickBooks as customer 58").
  const noteJson = (n: {
    id: string;
    body: string;
    userId: string;
    dateAdded: number;
    contactId: string;
  }): Record<string, unknown> => ({
    id: n.id,
    body: n.body,
    userId: n.userId,
    dateAdded: new Date(n.dateAdded).toISOString(),
    contactId: n.contactId,
  });
  const noteBody = z.object({ body: z.string().min(1), userId: z.string().optional() });
  ctx.route('GET', '/contacts/:contactId/notes', READ, (request) => {
    const contact = contactOf(request);
    return { notes: [...core.store.notes.values()].filter((n) => n.contactId === contact.id).map(noteJson) };
  });
  ctx.route('POST', '/contacts/:contactId/notes', WRITE, (request, reply) => {
    const contact = contactOf(request);
    const body = parse(noteBody, request.body);
    const note = {
      id: alphanumericId(),
      contactId: contact.id,
      body: body.body,
      userId: body.userId ?? ctx.grant(request).userId,
      dateAdded: core.nowMs(),
    };
    core.store.notes.set(note.id, note);
    return reply.code(200).send({ note: noteJson(note), traceId: core.traceId() });
  });
  const noteOf = (
    request: FastifyRequest,
  ): { id: string; body: string; userId: string; dateAdded: number; contactId: string } => {
    const contact = contactOf(request);
    const note = core.store.notes.get(paramsOf(request).id ?? '');
    if (!note || note.contactId !== contact.id) throw badRequest('Note not found');
    return note;
  };
  ctx.route('GET', '/contacts/:contactId/notes/:id', READ, (request) => ({ note: noteJson(noteOf(request)) }));
  ctx.route('PUT', '/contacts/:contactId/notes/:id', WRITE, (request) => {
    const note = noteOf(request);
    note.body = parse(noteBody, request.body).body;
    return { note: noteJson(note) };
  });
  ctx.route('DELETE', '/contacts/:contactId/notes/:id', WRITE, (request) => {
    core.store.notes.delete(noteOf(request).id);
    return { succeded: true };
  });

  const workflowBody = z.object({ eventStartTime: z.string().optional() }).optional();
  ctx.route('POST', '/contacts/:contactId/workflow/:workflowId', WRITE, (request) => {
    const contact = contactOf(request);
    const body = parse(workflowBody, request.body ?? {});
    const workflow = core.store.workflows.get(paramsOf(request).workflowId ?? '');
    if (!workflow || workflow.locationId !== contact.locationId) throw badRequest('Workflow not found');
    core.store.logEnrolment({
      id: core.traceId(),
      locationId: contact.locationId,
      contactId: contact.id,
      workflowId: workflow.id,
      workflowName: workflow.name,
      eventStartTime: body?.eventStartTime ?? null,
      at: core.clock.now().toISOString(),
      removedAt: null,
    });
    return { succeded: true, succeeded: true, traceId: core.traceId() };
  });

  ctx.route('DELETE', '/contacts/:contactId/workflow/:workflowId', WRITE, (request) => {
    const contact = contactOf(request);
    const workflowId = paramsOf(request).workflowId ?? '';
    const enrolment = [...core.store.enrolments]
      .reverse()
      .find((e) => e.contactId === contact.id && e.workflowId === workflowId && e.removedAt === null);
    if (enrolment) enrolment.removedAt = core.clock.now().toISOString();
    return { succeded: true };
  });
}
