import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { arr, obj, setup, WebhookReceiver, type Setup } from './helpers.ts';

describe('HighLevel emulator: review-request mechanisms (workflow, tag, message)', () => {
  let s: Setup;
  let receiver: WebhookReceiver;
  let contactId = '';
  before(async () => {
    s = await setup();
    receiver = await new WebhookReceiver().start();
    await s.api.admin('POST', '/app', { webhookUrl: receiver.url });
    const c = await s.api.post('/contacts/', {
      locationId: s.locationId,
      firstName: 'Rita',
      email: 'rita@example.com',
      phone: '+15125550188',
    });
    contactId = String(obj(c.body.contact).id);
  });
  after(async () => {
    await s.emulator.close();
    await receiver.close();
  });

  it('starts a location with no workflows, and lists the ones built for it (admin API), gone once deleted', async () => {
    const other = String((await s.api.admin('POST', '/locations', { country: 'US' })).body.locationId);
    const otherToken = String((await s.api.admin('POST', '/tokens', { locationId: other })).body.access_token);
    const empty = await s.api.get(`/workflows/?locationId=${other}`, { token: otherToken });
    assert.equal(empty.status, 200);
    assert.deepEqual(empty.body.workflows, [], 'list-workflows.test.json: a real new location has none');

    const made = await s.api.admin('POST', `/locations/${s.locationId}/workflows`, { name: 'Send Review Request' });
    assert.equal(made.status, 200);
    const draft = await s.api.admin('POST', `/locations/${s.locationId}/workflows`, {
      name: 'Half built',
      status: 'draft',
    });
    const r = await s.api.get(`/workflows/?locationId=${s.locationId}`);
    assert.equal(r.status, 200);
    const wf = arr(r.body.workflows).find((w) => w.name === 'Send Review Request');
    assert.ok(wf);
    assert.equal(wf.id, obj(made.body.workflow).id);
    assert.equal(wf.status, 'published');
    assert.equal(wf.locationId, s.locationId);
    const draftId = String(obj(draft.body.workflow).id);
    assert.equal(arr(r.body.workflows).find((w) => w.id === draftId)?.status, 'draft');
    assert.equal((await s.api.admin('DELETE', `/workflows/${draftId}`)).status, 200);
    assert.ok(
      !arr((await s.api.get(`/workflows/?locationId=${s.locationId}`)).body.workflows).some((w) => w.id === draftId),
    );
  });

  it('enrols a contact in a workflow and records the enrolment', async () => {
    const wf = arr((await s.api.get(`/workflows/?locationId=${s.locationId}`)).body.workflows).find(
      (w) => w.name === 'Send Review Request',
    )!;
    const r = await s.api.post(`/contacts/${contactId}/workflow/${String(wf.id)}`, {
      eventStartTime: '2026-11-25T10:00:00Z',
    });
    assert.equal(r.status, 200);
    assert.equal(r.body.succeded, true);
    assert.equal(r.body.succeeded, true);
    assert.equal(typeof r.body.traceId, 'string');
    const unknown = await s.api.post(`/contacts/${contactId}/workflow/00000000-0000-0000-0000-000000000000`, {});
    assert.equal(unknown.status, 400);
    const activity = await s.api.admin('GET', `/activity?contactId=${contactId}`);
    const enrolments = arr(activity.body.enrolments);
    assert.equal(enrolments.length, 1);
    assert.equal(enrolments[0]!.workflowName, 'Send Review Request');
    assert.equal(enrolments[0]!.eventStartTime, '2026-11-25T10:00:00Z');
  });

  it('sends SMS and Email through /conversations/messages (Version 2021-04-15) and records what reached whom', async () => {
    const sms = await s.api.post(
      '/conversations/messages',
      { type: 'SMS', contactId, message: 'How did we do? https://g.page/r/review' },
      { version: '2021-04-15' },
    );
    assert.equal(sms.status, 200);
    assert.equal(typeof sms.body.conversationId, 'string');
    assert.equal(typeof sms.body.messageId, 'string');
    const email = await s.api.post(
      '/conversations/messages',
      { type: 'Email', contactId, subject: 'Leave us a review', html: '<p>Thanks!</p>' },
      { version: '2021-04-15' },
    );
    assert.equal(email.status, 200);
    assert.equal(email.body.conversationId, sms.body.conversationId, 'one conversation per contact');
    const bad = await s.api.post('/conversations/messages', { type: 'Pigeon', contactId }, { version: '2021-04-15' });
    assert.equal(bad.status, 422);
    const activity = await s.api.admin('GET', `/activity?contactId=${contactId}`);
    const messages = arr(activity.body.messages);
    assert.deepEqual(
      messages.map((m) => [m.type, m.to]),
      [
        ['SMS', '+15125550188'],
        ['Email', 'rita@example.com'],
      ],
    );
    assert.equal(messages[1]!.subject, 'Leave us a review');
  });

  it('needs the conversations/message.write scope', async () => {
    const token = String(
      (await s.api.admin('POST', '/tokens', { locationId: s.locationId, scopes: ['contacts.readonly'] })).body
        .access_token,
    );
    const r = await s.api.post(
      '/conversations/messages',
      { type: 'SMS', contactId, message: 'x' },
      { token, version: '2021-04-15' },
    );
    assert.equal(r.status, 401);
    assert.equal(r.body.message, 'The token is not authorized for this scope.');
  });

  it('adds a review tag (ContactTagUpdate webhook, recorded tag change)', async () => {
    await s.api.post(`/contacts/${contactId}/tags`, { tags: ['review-request'] });
    await s.emulator.flushWebhooks();
    const hook = receiver.ofType('ContactTagUpdate').find((h) => h.payload.id === contactId);
    assert.ok(hook);
    assert.deepEqual(hook.payload.tags, ['review-request']);
    const activity = await s.api.admin('GET', `/activity?locationId=${s.locationId}`);
    assert.ok(
      arr(activity.body.tagChanges).some(
        (t) => t.contactId === contactId && (t.added as string[]).includes('review-request'),
      ),
    );
  });
});
