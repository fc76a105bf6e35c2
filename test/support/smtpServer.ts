// A tiny SMTP server for tests (RFC 5321's happy path, AUTH PLAIN): it keeps every message it accepts, with the
// envelope, the headers and the text (base64 or plain bodies decoded).
import net from 'node:net';

export interface ReceivedMail {
  from: string;
  to: string[];
  /** The user name of AUTH PLAIN, when the client authenticated. */
  user: string | undefined;
  headers: Record<string, string>;
  text: string;
  raw: string;
}

export interface SmtpTestServer {
  port: number;
  url(credentials?: { user: string; password: string }): string;
  messages: ReceivedMail[];
  /** Every command line received (AUTH lines included, for tests that look for secrets). */
  commands: string[];
  close(): Promise<void>;
}

export async function startSmtpServer(options: { password?: string } = {}): Promise<SmtpTestServer> {
  const messages: ReceivedMail[] = [];
  const commands: string[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    let buffer = '';
    let inData = false;
    let data: string[] = [];
    let from = '';
    let to: string[] = [];
    let user: string | undefined;
    const say = (line: string) => socket.write(`${line}\r\n`);
    say('220 test-smtp ready');
    socket.on('data', (chunk: Buffer) => {
      buffer += chunk.toString('utf8');
      let end: number;
      while ((end = buffer.indexOf('\r\n')) >= 0) {
        const line = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        if (inData) {
          if (line === '.') {
            inData = false;
            messages.push(parseMessage(from, to, user, data.join('\r\n')));
            data = [];
            say('250 queued');
          } else data.push(line.startsWith('..') ? line.slice(1) : line);
          continue;
        }
        commands.push(line);
        const verb = line.split(' ')[0]!.toUpperCase();
        if (verb === 'EHLO') socket.write('250-test-smtp\r\n250-8BITMIME\r\n250 AUTH PLAIN\r\n');
        else if (verb === 'AUTH') {
          const [, user_, password] = Buffer.from(line.split(' ')[2] ?? '', 'base64')
            .toString('utf8')
            .split('\u0000');
          if (options.password !== undefined && password !== options.password) say('535 authentication failed');
          else {
            user = user_;
            say('235 ok');
          }
        } else if (verb === 'MAIL') {
          from = /<([^>]*)>/.exec(line)?.[1] ?? '';
          to = [];
          say('250 ok');
        } else if (verb === 'RCPT') {
          to.push(/<([^>]*)>/.exec(line)?.[1] ?? '');
          say('250 ok');
        } else if (verb === 'DATA') {
          inData = true;
          say('354 go ahead');
        } else if (verb === 'QUIT') {
          say('221 bye');
          socket.end();
        } else say('502 not implemented');
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    port,
    messages,
    commands,
    url: (credentials) =>
      `smtp://${credentials ? `${encodeURIComponent(credentials.user)}:${encodeURIComponent(credentials.password)}@` : ''}127.0.0.1:${port}`,
    close: () => {
      for (const socket of sockets) socket.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function parseMessage(from: string, to: string[], user: string | undefined, raw: string): ReceivedMail {
  const split = raw.indexOf('\r\n\r\n');
  const head = split >= 0 ? raw.slice(0, split) : raw;
  const body = split >= 0 ? raw.slice(split + 4) : '';
  const headers: Record<string, string> = {};
  for (const line of head.split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
  }
  const text = /base64/i.test(headers['content-transfer-encoding'] ?? '')
    ? Buffer.from(body.replace(/\r\n/g, ''), 'base64').toString('utf8')
    : body;
  return { from, to, user, headers, text: text.replace(/\r\n/g, '\n'), raw };
}
