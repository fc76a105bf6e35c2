// A minimal SMTP client (RFC 5321) for ledgerlink's own notices: one plain-text message to a few recipients, over
// node:net and node:tls. smtp:// upgrades with STARTTLS whenever the server offers it, and never sends credentials
// over an unencrypted connection except to this machine; smtps:// is TLS from the first byte (port 465).
import { randomUUID } from 'node:crypto';
import net from 'node:net';
import { hostname } from 'node:os';
import tls from 'node:tls';

export interface SmtpSettings {
  /** smtp://[user:password@]host[:port] (default port 587) or smtps://... (default port 465). */
  url: string;
  from: string;
  timeoutMs?: number;
  /** Trusted certificates other than the system's (tests with their own server). */
  ca?: string | Buffer;
}

export interface MailMessage {
  to: readonly string[];
  subject: string;
  text: string;
}

/** An SMTP exchange that failed: the reply or the problem, never the credentials. */
export class SmtpError extends Error {
  override readonly name = 'SmtpError';
}

/** Parses LEDGERLINK_ALERT_SMTP_URL; throws an SmtpError naming what is wrong (never echoing a password). */
export function parseSmtpUrl(url: string): {
  secure: boolean;
  host: string;
  port: number;
  user: string | undefined;
  password: string | undefined;
} {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new SmtpError('the SMTP URL is not a URL (smtp://user:password@host:587 or smtps://...)');
  }
  if (parsed.protocol !== 'smtp:' && parsed.protocol !== 'smtps:')
    throw new SmtpError(`the SMTP URL must start with smtp:// or smtps://, not ${parsed.protocol}//`);
  if (!parsed.hostname) throw new SmtpError('the SMTP URL names no host');
  const secure = parsed.protocol === 'smtps:';
  return {
    secure,
    host: parsed.hostname.replace(/^\[|\]$/g, ''),
    port: parsed.port ? Number(parsed.port) : secure ? 465 : 587,
    user: parsed.username ? decodeURIComponent(parsed.username) : undefined,
    password: parsed.password ? decodeURIComponent(parsed.password) : undefined,
  };
}

/** Sends one message; resolves once the server has accepted it for delivery (250 after DATA). */
export async function sendMail(settings: SmtpSettings, message: MailMessage): Promise<void> {
  const server = parseSmtpUrl(settings.url);
  const timeoutMs = settings.timeoutMs ?? 20_000;
  const socket = server.secure
    ? tls.connect({
        host: server.host,
        port: server.port,
        servername: net.isIP(server.host) ? undefined : server.host,
        ...(settings.ca ? { ca: settings.ca } : {}),
      })
    : net.connect({ host: server.host, port: server.port });
  let session = new Session(socket, timeoutMs);
  try {
    await session.expect(220);
    const greeting = hostname() || 'localhost';
    let extensions = await session.command(`EHLO ${greeting}`, 250);
    if (!server.secure && /^STARTTLS\b/im.test(extensions)) {
      await session.command('STARTTLS', 220);
      const secured = tls.connect({
        socket: session.detach(),
        servername: net.isIP(server.host) ? undefined : server.host,
        ...(settings.ca ? { ca: settings.ca } : {}),
      });
      session = new Session(secured, timeoutMs);
      await new Promise<void>((resolve, reject) => {
        secured.once('secureConnect', resolve);
        secured.once('error', reject);
      });
      extensions = await session.command(`EHLO ${greeting}`, 250);
    }
    if (server.user !== undefined) {
      const encrypted = server.secure || session.encrypted;
      if (!encrypted && !isLoopback(server.host))
        throw new SmtpError(
          `the SMTP server ${server.host} offers no STARTTLS: the password is not sent unencrypted (use smtps://)`,
        );
      if (!/^AUTH\b.*\bPLAIN\b/im.test(extensions))
        throw new SmtpError(`the SMTP server ${server.host} does not take AUTH PLAIN`);
      const credentials = Buffer.from(`\u0000${server.user}\u0000${server.password ?? ''}`).toString('base64');
      await session.command(`AUTH PLAIN ${credentials}`, 235, 'AUTH PLAIN (credentials not shown)');
    }
    await session.command(`MAIL FROM:<${address(settings.from)}>`, 250);
    for (const to of message.to) await session.command(`RCPT TO:<${address(to)}>`, [250, 251]);
    await session.command('DATA', 354);
    await session.command(`${render(settings.from, message)}\r\n.`, 250, 'the message');
    await session.command('QUIT', 221).catch(() => {});
  } finally {
    session.close();
  }
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host.startsWith('127.');
}

/** An address as it goes in a command or a header: no angle brackets, no line breaks (no header injection). */
function address(value: string): string {
  const clean = value.trim();
  if (!/^[^\s<>@]+@[^\s<>@]+$/.test(clean))
    throw new SmtpError(`not an e-mail address: ${JSON.stringify(clean.slice(0, 100))}`);
  return clean;
}

/** The message: headers, then the text in base64 (any characters, no line starting with a dot). */
function render(from: string, message: MailMessage): string {
  const domain = address(from).split('@')[1]!;
  const subject = message.subject.replace(/[\r\n]+/g, ' ');
  // eslint-disable-next-line no-control-regex
  const encodedSubject = /^[\x20-\x7e]*$/.test(subject)
    ? subject
    : `=?UTF-8?B?${Buffer.from(subject).toString('base64')}?=`;
  const body = Buffer.from(message.text.replace(/\r?\n/g, '\r\n'))
    .toString('base64')
    .replace(/.{1,76}/g, '$&\r\n');
  return [
    `From: ${address(from)}`,
    `To: ${message.to.map(address).join(', ')}`,
    `Subject: ${encodedSubject}`,
    `Date: ${new Date().toUTCString()}`,
    `Message-ID: <${randomUUID()}@${domain}>`,
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: base64',
    '',
    body.trimEnd(),
  ].join('\r\n');
}

/** One connection's replies, read line by line; a reply ends at its line with a space after the code. */
class Session {
  private buffer = '';
  private lines: string[] = [];
  private waiter: (() => void) | undefined;
  private failure: Error | undefined;
  readonly encrypted: boolean;

  constructor(
    private readonly socket: net.Socket | tls.TLSSocket,
    timeoutMs: number,
  ) {
    this.encrypted = socket instanceof tls.TLSSocket;
    socket.setTimeout(timeoutMs);
    socket.on('data', this.onData);
    socket.on('timeout', () => this.fail(new SmtpError(`the SMTP server did not answer within ${timeoutMs} ms`)));
    socket.on('error', (error) => this.fail(new SmtpError(`SMTP connection failed: ${error.message}`)));
    socket.on('close', () => this.fail(new SmtpError('the SMTP server closed the connection')));
  }

  private readonly onData = (chunk: Buffer) => {
    this.buffer += chunk.toString('utf8');
    let end: number;
    while ((end = this.buffer.indexOf('\r\n')) >= 0) {
      this.lines.push(this.buffer.slice(0, end));
      this.buffer = this.buffer.slice(end + 2);
    }
    this.wake();
  };

  private fail(error: Error): void {
    this.failure ??= error;
    this.wake();
  }

  private wake(): void {
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.();
  }

  /** The next complete reply: its code and its text (every line's). */
  private async reply(): Promise<{ code: number; text: string }> {
    for (;;) {
      const last = this.lines.findIndex((line) => /^\d{3}(?: |$)/.test(line));
      if (last >= 0) {
        const lines = this.lines.splice(0, last + 1);
        return { code: Number(lines[last]!.slice(0, 3)), text: lines.map((l) => l.slice(4)).join('\n') };
      }
      if (this.failure) throw this.failure;
      await new Promise<void>((resolve) => (this.waiter = resolve));
    }
  }

  async expect(codes: number | number[], what = 'the greeting'): Promise<string> {
    const reply = await this.reply();
    const wanted = Array.isArray(codes) ? codes : [codes];
    if (!wanted.includes(reply.code))
      throw new SmtpError(`the SMTP server answered ${reply.code} to ${what}: ${reply.text.slice(0, 200)}`);
    return reply.text;
  }

  async command(line: string, codes: number | number[], shown = line.split(' ')[0]): Promise<string> {
    if (this.failure) throw this.failure;
    this.socket.write(`${line}\r\n`);
    return this.expect(codes, shown);
  }

  /** Hands the socket over (to be wrapped in TLS after STARTTLS). */
  detach(): net.Socket {
    this.socket.off('data', this.onData);
    this.socket.removeAllListeners('timeout');
    this.socket.removeAllListeners('error');
    this.socket.removeAllListeners('close');
    this.socket.setTimeout(0);
    return this.socket as net.Socket;
  }

  close(): void {
    this.socket.destroy();
  }
}
