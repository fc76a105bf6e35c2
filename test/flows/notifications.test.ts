// Notices about a connection that needs attention go out once per problem, on each configured channel (an e-mail
// through SMTP, a Slack-compatible webhook), once when it starts and once when it clears: never per record or per
// retry, never twice after a restart, and without a secret in them.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { startStack, eventually, type Stack } from '../support/stack.ts';
import { emulatorAdmin, type Rec } from '../support/emulatorAdmin.ts';
import { startSmtpServer, type SmtpTestServer } from '../support/smtpServer.ts';
import { EmailChannel, WebhookChannel } from '../../src/notify/channels.ts';
import { sendMail, SmtpError } from '../../src/notify/smtp.ts';
import { AttentionWatch } from '../../src/sync/engine/attention.ts';
import { failingSides } from '../../src/store/sideHealth.ts';
import { createLogger } from '../../src/log.ts';
import { QUEUES } from '../../src/sync/engine/routes.ts';

const SMTP_PASSWORD = 'smtp-secret-password-123';

interface Hook {
  url: string;
  posts: Array<{ text: string; contentType: string | undefined }>;
  /** Answers this many posts with 500 before taking them. */
  failNext: number;
  close(): Promise<void>;
}

async function startWebhookReceiver(): Promise<Hook> {
  const hook: Omit<Hook, 'url' | 'close'> = { posts: [], failNext: 0 };
  const server: Server = createServer((request, response) => {
    let body = '';
    request.on('data', (c: Buffer) => (body += c.toString()));
    request.on('end', () => {
      if (hook.failNext > 0) {
        hook.failNext -= 1;
        response.writeHead(500).end('busy');
        return;
      }
      const parsed = JSON.parse(body) as { text: string };
      assert.deepEqual(Object.keys(parsed), ['text'], 'Slack-compatible: {"text": ...}');
      hook.posts.push({ text: parsed.text, contentType: request.headers['content-type'] });
      response.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  return Object.assign(hook, {
    // A Slack webhook URL carries its secret in its path, as this one does.
    url: `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/services/T000/B000/hook-secret-path`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  });
}

const pay = (s: Stack, email: string, amount: number) =>
  emulatorAdmin(s.hl.url, 'POST', `/locations/${s.locationId}/actions/order-form-payment`, {
    card: { brand: 'visa', last4: '4242' },
    contact: { firstName: 'Note', lastName: 'Fied', email },
    items: [{ name: 'Session', amount }],
  }) as Promise<Rec & { transactionId: string }>;

describe('notifications about a connection that needs attention', () => {
  let s: Stack;
  let smtp: SmtpTestServer;
  let hook: Hook;
  let channels: [WebhookChannel, EmailChannel];
  before(async () => {
    smtp = await startSmtpServer({ password: SMTP_PASSWORD });
    hook = await startWebhookReceiver();
    channels = [
      new WebhookChannel(hook.url),
      new EmailChannel({ url: smtp.url({ user: 'alerts', password: SMTP_PASSWORD }), from: 'ledgerlink@example.com' }, [
        'ops@example.com',
        'owner@example.com',
      ]),
    ];
    s = await startStack({ engine: { alerts: { afterSeconds: 5, channels } } });
    await s.engine.queue.idle(
      [QUEUES.importCustomers, QUEUES.pollQboChanges, QUEUES.pollPayments, QUEUES.sweepInvoices],
      60_000,
    );
  });
  after(async () => {
    s.qbo.faults.clear();
    await s.close();
    await smtp.close();
    await hook.close();
  });

  it('sends one notice per channel when QuickBooks keeps failing, whatever the records and retries, and one when it answers again', async () => {
    const watch = s.engine.attention!;
    assert.ok(watch, 'channels configured: the engine watches');
    s.qbo.faults.configure({ rules: [{ kind: 'error500', rate: 1, method: 'POST', path: '/salesreceipt' }] });
    hook.failNext = 1; // the webhook's first delivery fails: sent again at the next round, the e-mail not twice
    const paid = [
      await pay(s, 'n1@example.com', 10),
      await pay(s, 'n2@example.com', 20),
      await pay(s, 'n3@example.com', 30),
    ];
    await s.hl.flushWebhooks();
    const failing = await eventually(
      async () => (await failingSides(s.t.db, s.connection.id))[0],
      30_000,
      'QuickBooks failing',
    );
    // Before the threshold (5 s) nothing is sent (on a machine slow enough to see it late, there is nothing to check).
    const checkedBefore = Date.now() - failing.since.getTime() < 4000;
    await watch.check();
    if (checkedBefore) assert.equal(hook.posts.length + smtp.messages.length, 0);
    await eventually(
      async () => ((await failingSides(s.t.db, s.connection.id))[0]?.waitingRecords === 3 ? true : undefined),
      30_000,
      'three records waiting',
    );
    await eventually(
      async () => {
        await watch.check();
        return hook.posts.length === 1 && smtp.messages.length === 1 ? true : undefined;
      },
      20_000,
      'one notice on each channel',
    );
    // More rounds while the records keep failing and retrying: nothing more.
    const until = Date.now() + 6000;
    while (Date.now() < until) {
      await watch.check();
      await new Promise((r) => setTimeout(r, 300));
    }
    assert.equal(hook.posts.length, 1, JSON.stringify(hook.posts));
    assert.equal(smtp.messages.length, 1);
    const [post] = hook.posts;
    assert.equal(post!.contentType, 'application/json');
    assert.match(post!.text, /"Test US" needs attention: QuickBooks keeps failing/);
    assert.match(
      post!.text,
      /QuickBooks has failed since \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC; its last answer: HTTP 500/,
    );
    assert.match(post!.text, /\d records? waits? and/);
    const mail = smtp.messages[0]!;
    assert.deepEqual(mail.to, ['ops@example.com', 'owner@example.com']);
    assert.equal(mail.from, 'ledgerlink@example.com');
    assert.equal(mail.user, 'alerts');
    assert.equal(mail.headers.subject, 'ledgerlink: "Test US" needs attention: QuickBooks keeps failing');
    assert.match(mail.text, /QuickBooks has failed since/);

    // A restart (a new watch over the same store) sends nothing again.
    const restarted = new AttentionWatch(
      s.t.db,
      s.engine.connections,
      { afterSeconds: 5, channels, publicUrl: 'http://127.0.0.1:0' },
      createLogger({ level: 'silent' }),
    );
    await restarted.check();
    assert.equal(hook.posts.length + smtp.messages.length, 2);

    // QuickBooks answers again: one notice that it cleared, on each channel, then nothing more.
    s.qbo.faults.clear();
    await eventually(
      async () => ((await failingSides(s.t.db, s.connection.id)).length === 0 ? true : undefined),
      90_000,
      'the side to answer again',
    );
    await restarted.check();
    await watch.check();
    await watch.check();
    assert.equal(hook.posts.length, 2);
    assert.equal(smtp.messages.length, 2);
    assert.match(hook.posts[1]!.text, /"Test US" is fine again: QuickBooks answers again/);
    assert.match(smtp.messages[1]!.headers.subject!, /is fine again: QuickBooks answers again/);
    await s.engine.queue.idle([QUEUES.crmOrder, QUEUES.crmTransaction], 60_000);
    for (const p of paid)
      assert.equal(
        s.qbo.admin
          .listEntities(s.realmId, 'SalesReceipt')
          .filter((r) => String(r.PrivateNote ?? '').includes(p.transactionId)).length,
        1,
      );

    // No secret in any notice: no token, no client secret, no SMTP password, not the webhook's own URL.
    const qbo = (await s.engine.connections.readTokens(s.connection.id, 'qbo'))!;
    const hl = (await s.engine.connections.readTokens(s.connection.id, 'hl'))!;
    const sent = [...hook.posts.map((p) => p.text), ...smtp.messages.map((m) => m.raw + m.text)].join('\n');
    for (const secret of [
      qbo.accessToken,
      qbo.refreshToken!,
      hl.accessToken,
      hl.refreshToken!,
      s.hl.core.app.clientSecret,
      'emulator-client-secret',
      SMTP_PASSWORD,
      'hook-secret-path',
    ]) {
      assert.ok(!sent.includes(secret), `a secret (${secret.slice(0, 4)}…) is in a notice`);
    }
  });

  it('sends one notice when an authorization is refused and one when the connection is live again', async () => {
    const watch = s.engine.attention!;
    const before = hook.posts.length;
    await s.engine.connections.setStatus(
      s.connection.id,
      'revoked',
      'QuickBooks refused the authorization: reconnect QuickBooks from the dashboard',
    );
    await watch.check();
    await watch.check();
    assert.equal(hook.posts.length, before + 1);
    assert.match(
      hook.posts.at(-1)!.text,
      /"Test US" needs attention: an authorization was refused\.\nQuickBooks refused the authorization: reconnect QuickBooks/,
    );
    await s.engine.connections.activate(s.connection.id);
    await watch.check();
    await watch.check();
    assert.equal(hook.posts.length, before + 2);
    assert.match(hook.posts.at(-1)!.text, /"Test US" is fine again: it is connected again/);
    assert.equal(smtp.messages.length, hook.posts.length);
  });
});

describe('the SMTP client', () => {
  it('refuses a wrong password without showing it, and sends a non-ASCII subject encoded', async () => {
    const smtp = await startSmtpServer({ password: 'right-password' });
    try {
      await assert.rejects(
        sendMail(
          { url: smtp.url({ user: 'u', password: 'wrong-password' }), from: 'a@example.com' },
          { to: ['b@example.com'], subject: 'x', text: 'y' },
        ),
        (error: unknown) =>
          error instanceof SmtpError && /535/.test(error.message) && !error.message.includes('wrong-password'),
      );
      await sendMail(
        { url: smtp.url(), from: 'a@example.com' },
        { to: ['b@example.com'], subject: 'Zürich – ça va', text: 'Line one\n.starts with a dot\nDone ✓' },
      );
      const mail = smtp.messages.at(-1)!;
      assert.match(mail.headers.subject!, /^=\?UTF-8\?B\?/);
      assert.equal(mail.text, 'Line one\n.starts with a dot\nDone ✓');
      await assert.rejects(
        sendMail(
          { url: smtp.url(), from: 'a@example.com' },
          { to: ['b@example.com>\r\nRCPT TO:<c@example.com'], subject: 'x', text: 'y' },
        ),
        SmtpError,
        'a line break in an address is refused, not sent as a command',
      );
    } finally {
      await smtp.close();
    }
  });
});
