import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, loadConfig } from './config.ts';

describe('notification settings (LEDGERLINK_ALERT_*)', () => {
  it('are off unless set, with a 10-minute threshold', () => {
    assert.deepEqual(loadConfig({}).alerts, { afterSeconds: 600, webhookUrl: undefined, email: undefined });
  });

  it('read the webhook, the SMTP server and several recipients; the sender defaults to the first', () => {
    const alerts = loadConfig({
      LEDGERLINK_ALERT_AFTER_SECONDS: '300',
      LEDGERLINK_ALERT_WEBHOOK_URL: 'https://hooks.example.com/services/T/B/x',
      LEDGERLINK_ALERT_SMTP_URL: 'smtp://user:p%40ss@mail.example.com:587',
      LEDGERLINK_ALERT_EMAIL_TO: 'ops@example.com, owner@example.com',
    }).alerts;
    assert.equal(alerts.afterSeconds, 300);
    assert.equal(alerts.webhookUrl, 'https://hooks.example.com/services/T/B/x');
    assert.deepEqual(alerts.email, {
      smtpUrl: 'smtp://user:p%40ss@mail.example.com:587',
      to: ['ops@example.com', 'owner@example.com'],
      from: 'ops@example.com',
    });
  });

  it('refuse an SMTP server without recipients, a recipient that is not an address, and other schemes, without echoing a password', () => {
    assert.throws(
      () => loadConfig({ LEDGERLINK_ALERT_SMTP_URL: 'smtp://u:hunter22@mail.example.com' }),
      (e: unknown) =>
        e instanceof ConfigError && /LEDGERLINK_ALERT_EMAIL_TO/.test(e.message) && !e.message.includes('hunter22'),
    );
    assert.throws(
      () =>
        loadConfig({
          LEDGERLINK_ALERT_SMTP_URL: 'smtp://mail.example.com',
          LEDGERLINK_ALERT_EMAIL_TO: 'ops@example.com, not an address',
        }),
      /not an e-mail address/,
    );
    assert.throws(
      () =>
        loadConfig({
          LEDGERLINK_ALERT_SMTP_URL: 'http://u:hunter22@mail.example.com',
          LEDGERLINK_ALERT_EMAIL_TO: 'ops@example.com',
        }),
      (e: unknown) => e instanceof ConfigError && /smtp:\/\//.test(e.message) && !e.message.includes('hunter22'),
    );
    assert.throws(() => loadConfig({ LEDGERLINK_ALERT_WEBHOOK_URL: 'ftp://example.com/x' }), /http\(s\)/);
  });
});
