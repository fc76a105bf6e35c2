// Where notices about a connection that needs attention go: an e-mail (SMTP) and a webhook that takes Slack's
// incoming-webhook JSON, {"text": ...} (Slack, Mattermost, Rocket.Chat and Teams' Slack-compatible connectors take it).
// Both are optional and configured per installation (docs/configuration.md).
import { sendMail, type SmtpSettings } from './smtp.ts';

export interface Notice {
  /** One line: the e-mail's subject. */
  subject: string;
  /** The whole text, the subject's line first. */
  text: string;
}

export interface NoticeChannel {
  /** A stable name, recorded with each delivery so a notice is never sent twice on the same channel. */
  readonly name: string;
  send(notice: Notice): Promise<void>;
}

export interface AlertChannelsConfig {
  webhookUrl?: string | undefined;
  email?: { smtpUrl: string; to: readonly string[]; from: string } | undefined;
}

/** A webhook URL holds its own secret (Slack's does): errors name the host and the status only. */
export class WebhookChannel implements NoticeChannel {
  readonly name = 'webhook';
  constructor(
    private readonly url: string,
    private readonly timeoutMs = 10_000,
  ) {}

  async send(notice: Notice): Promise<void> {
    const host = new URL(this.url).host;
    let response: Response;
    try {
      response = await fetch(this.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ text: notice.text }),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (error) {
      throw new Error(
        `the notification webhook at ${host} could not be reached: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
    await response.arrayBuffer().catch(() => undefined);
    if (!response.ok) throw new Error(`the notification webhook at ${host} answered HTTP ${response.status}`);
  }
}

export class EmailChannel implements NoticeChannel {
  readonly name = 'email';
  constructor(
    private readonly smtp: SmtpSettings,
    private readonly to: readonly string[],
  ) {}

  send(notice: Notice): Promise<void> {
    return sendMail(this.smtp, { to: this.to, subject: notice.subject, text: notice.text });
  }
}

export function channelsFrom(config: AlertChannelsConfig): NoticeChannel[] {
  const channels: NoticeChannel[] = [];
  if (config.webhookUrl) channels.push(new WebhookChannel(config.webhookUrl));
  if (config.email)
    channels.push(new EmailChannel({ url: config.email.smtpUrl, from: config.email.from }, config.email.to));
  return channels;
}
