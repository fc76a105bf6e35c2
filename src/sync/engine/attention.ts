// Which connections need a person's attention, and the notices about them: a side failing for longer than the alert
// threshold, or an authorization a provider refused. Each problem is announced once when it starts and once when it
// clears, on each configured channel (e-mail, webhook), never per record or per retry; what was sent is kept in the
// store (attention_notices), so a restart or a second process sends nothing twice.
import type pino from 'pino';
import type { Db } from '../../store/db.ts';
import type { Connection, ConnectionRepository } from '../../store/connections.ts';
import { everyFailingSide, type FailingSide, type Side } from '../../store/sideHealth.ts';
import {
  claimNotice,
  clearNotice,
  openNotice,
  recordDelivery,
  releaseNotice,
  unfinishedNotices,
  type AttentionNotice,
  type NoticeText,
} from '../../store/attentionNotices.ts';
import type { NoticeChannel } from '../../notify/channels.ts';
import { SIDE_NAMES } from './providerFailures.ts';

export interface AttentionOptions {
  /** A side failing for longer than this needs attention. */
  afterSeconds: number;
  channels: readonly NoticeChannel[];
  /** Where the dashboard is, for the link in each notice. */
  publicUrl: string;
}

/** How long a process holds a notice while it sends it; past this another process may send what is still owed. */
const CLAIM_SECONDS = 120;

interface Problem {
  connectionId: string;
  problem: string;
  notice: NoticeText;
}

const utc = (d: Date) => `${d.toISOString().slice(0, 19).replace('T', ' ')} UTC`;

export class AttentionWatch {
  private running: Promise<void> | undefined;

  constructor(
    private readonly db: Db,
    private readonly connections: ConnectionRepository,
    private readonly options: AttentionOptions,
    private readonly log: pino.Logger,
  ) {}

  /** One round: opens and clears problems as they are now, then sends what is owed. Rounds never overlap. */
  check(): Promise<void> {
    this.running ??= this.round().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async round(): Promise<void> {
    const [connections, failing, unfinished] = await Promise.all([
      this.connections.list(),
      everyFailingSide(this.db),
      unfinishedNotices(this.db),
    ]);
    const byId = new Map(connections.map((c) => [c.id, c]));
    const now = Date.now();
    const problems: Problem[] = [];
    for (const side of failing) {
      const connection = byId.get(side.connectionId);
      if (!connection || connection.status === 'disconnected') continue;
      if (now - side.since.getTime() < this.options.afterSeconds * 1000) continue;
      problems.push({
        connectionId: connection.id,
        problem: `outage:${side.side}`,
        notice: this.outageNotice(connection, side),
      });
    }
    for (const connection of connections) {
      if (connection.status === 'revoked')
        problems.push({ connectionId: connection.id, problem: 'revoked', notice: this.revokedNotice(connection) });
    }
    const current = new Set(problems.map((p) => `${p.connectionId}\u0000${p.problem}`));
    const open = new Set(
      unfinished.filter((n) => n.clearedAt === null).map((n) => `${n.connectionId}\u0000${n.problem}`),
    );
    for (const p of problems) {
      if (!open.has(`${p.connectionId}\u0000${p.problem}`))
        await openNotice(this.db, p.connectionId, p.problem, p.notice);
    }
    for (const n of unfinished) {
      if (n.clearedAt !== null || current.has(`${n.connectionId}\u0000${n.problem}`)) continue;
      await clearNotice(this.db, n.id, this.clearedNotice(byId.get(n.connectionId), n));
    }
    for (const n of await unfinishedNotices(this.db)) await this.deliver(n.id);
  }

  /** Sends what a notice still owes on each channel, holding it meanwhile so that no other process sends the same. */
  private async deliver(id: number): Promise<void> {
    const notice = await claimNotice(this.db, id, CLAIM_SECONDS);
    if (!notice) return;
    let owing = false;
    try {
      // Each channel on its own: a webhook that is down does not hold back the e-mail, nor the other way round.
      for (const channel of this.options.channels) {
        try {
          const opened = notice.deliveries[`open:${channel.name}`] !== undefined;
          // A problem that cleared before its notice went out is not announced at all on that channel.
          if (!opened && notice.clearedAt === null) await this.send(notice, channel, 'open', notice.opened);
          if (
            opened &&
            notice.clearedAt !== null &&
            notice.cleared &&
            notice.deliveries[`clear:${channel.name}`] === undefined
          )
            await this.send(notice, channel, 'clear', notice.cleared);
        } catch (error) {
          // Sent again at the next round; what a channel did get is recorded and not sent to it again.
          owing = true;
          this.log.warn(
            { connectionId: notice.connectionId, problem: notice.problem, channel: channel.name, err: error },
            'could not send a notification; will try again',
          );
        }
      }
    } finally {
      await releaseNotice(this.db, id, notice.clearedAt !== null && !owing);
    }
  }

  private async send(
    notice: AttentionNotice,
    channel: NoticeChannel,
    phase: 'open' | 'clear',
    text: NoticeText,
  ): Promise<void> {
    await channel.send(text);
    await recordDelivery(this.db, notice.id, `${phase}:${channel.name}`);
    this.log.info(
      { connectionId: notice.connectionId, problem: notice.problem, channel: channel.name, phase },
      'notification sent',
    );
  }

  private link(connection: Connection): string {
    return `${this.options.publicUrl.replace(/\/+$/, '')}/#/connections/${encodeURIComponent(connection.id)}`;
  }

  private outageNotice(connection: Connection, side: FailingSide & { side: Side }): NoticeText {
    const name = SIDE_NAMES[side.side];
    const subject = `ledgerlink: "${connection.name}" needs attention: ${name} keeps failing`;
    const waiting = side.waitingRecords === 1 ? '1 record waits' : `${side.waitingRecords} records wait`;
    return {
      subject,
      text: [
        `${subject}.`,
        `${name} has failed since ${utc(side.since)}; its last answer: ${side.lastError}.`,
        `${waiting} and ${side.waitingRecords === 1 ? 'is' : 'are'} tried again by themselves${side.nextTryAt ? ` (next try ${utc(side.nextTryAt)})` : ''}; records whose tries ran out are open errors with a Retry button.`,
        `Another message follows when ${name} answers again.`,
        `Dashboard: ${this.link(connection)}`,
      ].join('\n'),
    };
  }

  private revokedNotice(connection: Connection): NoticeText {
    const subject = `ledgerlink: "${connection.name}" needs attention: an authorization was refused`;
    return {
      subject,
      text: [
        `${subject}.`,
        connection.statusReason ?? 'Reconnect it from the dashboard.',
        'Its jobs are kept and run again once it is reconnected.',
        `Dashboard: ${this.link(connection)}`,
      ].join('\n'),
    };
  }

  private clearedNotice(connection: Connection | undefined, notice: AttentionNotice): NoticeText {
    const name = connection ? `"${connection.name}"` : 'a connection';
    const side = notice.problem.startsWith('outage:')
      ? SIDE_NAMES[notice.problem.slice('outage:'.length) as Side]
      : undefined;
    let what: string;
    if (!connection || connection.status === 'disconnected') what = `it was ${connection ? 'disconnected' : 'removed'}`;
    else if (side) what = `${side} answers again`;
    else
      what =
        connection.status === 'connected'
          ? 'it is connected again'
          : `it is no longer waiting for a reconnection (now ${connection.status})`;
    const subject = `ledgerlink: ${name} ${connection && connection.status !== 'disconnected' ? 'is fine again' : 'needs nothing more'}: ${what}`;
    return {
      subject,
      text: `${subject}.\nThe problem started ${utc(notice.openedAt)} ("${notice.opened.subject}").${connection ? `\nDashboard: ${this.link(connection)}` : ''}`,
    };
  }
}
