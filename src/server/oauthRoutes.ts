// The OAuth round trips started from the dashboard. The state sent to the provider is bound to the browser
// session that started it (stored hashed, single use, 15 minutes): a callback carrying a state this session
// did not start (forged, replayed, or from another browser) is refused and changes nothing.
import type { FastifyInstance, FastifyReply } from 'fastify';
import { z } from 'zod';
import { beginOAuth, takeOAuth } from '../store/sessions.ts';
import type { Engine } from '../sync/engine/engine.ts';
import {
  abandonCompanySwitch,
  connectHighLevelFromCode,
  connectQuickBooksFromCode,
  switchQuickBooksCompany,
} from '../sync/connections/oauthConnect.ts';
import { describeError, SyncError } from '../sync/engine/errors.ts';
import { checkedReviewRequest } from '../sync/flows/reviewRequests.ts';
import {
  AccountInUseError,
  PROVIDER_NAME,
  reviewRequestMechanismSchema,
  sidesToReconnect,
  type Connection,
} from '../store/connections.ts';
import { countLinks } from '../store/links.ts';
import { historyDateSchema } from '../sync/flows/history.ts';
import { apiRoute, HttpProblem, notFound, type SessionLookup } from './apiRoute.ts';
import { accountInUsePage, confirmSwitchPage, switchRefusedPage } from './connectPages.ts';

/** How long a company switch waits for its confirmation. */
const SWITCH_MINUTES = 15;

const switchForm = z.object({
  /** The single-use token of the confirmation page this session was shown. */
  switch: z.string().min(1).max(200),
  decision: z.enum(['confirm', 'cancel']),
});

/** What the person chose on the card before going to Intuit's consent page (kept with the OAuth state). */
const connectChoices = z.object({
  importOldInvoices: z.boolean().default(false),
  reviewRequests: z.boolean().default(false),
  paymentsFromQuickBooks: z.boolean().default(true),
  /** How review requests are sent; absent: the default (a direct SMS/email, which needs no workflow). */
  reviewRequest: reviewRequestMechanismSchema.optional(),
  /** Bring CRM payments and sent invoices from this day on into QuickBooks once connected (history.ts). */
  historyFrom: historyDateSchema
    .refine((day) => day <= new Date().toISOString().slice(0, 10), { message: 'the day is in the future' })
    .optional(),
});

const callbackQuery = z.object({
  code: z.string().min(1).max(2000).optional(),
  state: z.string().min(1).max(200).optional(),
  realmId: z.string().min(1).max(50).optional(),
  error: z.string().max(200).optional(),
});

/**
 * What a round trip ended with. The redirect back to the dashboard names only one of these codes, and the page has a
 * fixed sentence for each: nothing in the address is ever shown as text, so a link crafted with ?notice=... can put
 * no words in the dashboard's banner. The particulars (the connection's name, why it failed) are kept here for the
 * session and read by the page from GET /api/connect-notice.
 */
export const NOTICE_CODES = [
  'login-first',
  'highlevel-denied',
  'highlevel-installed',
  'highlevel-reconnected',
  'highlevel-failed',
  'quickbooks-denied',
  'quickbooks-connected',
  'quickbooks-failed',
  'highlevel-waiting',
  'quickbooks-waiting',
  'quickbooks-switched',
  'quickbooks-kept',
  'quickbooks-kept-unrevoked',
  'quickbooks-switch-failed',
] as const;
type NoticeCode = (typeof NOTICE_CODES)[number];

/** Particulars of the last round trip per session (this process; a few minutes; the page reads them once). */
class SessionNotices {
  private readonly held = new Map<string, { code: NoticeCode; text: string; at: number }>();
  keep(sessionHash: string, code: NoticeCode, text: string): void {
    if (this.held.size > 1000) this.held.clear();
    this.held.set(sessionHash, { code, text, at: Date.now() });
  }
  take(sessionHash: string, code: string): string | null {
    const held = this.held.get(sessionHash);
    if (!held || held.code !== code || Date.now() - held.at > 5 * 60_000) return null;
    this.held.delete(sessionHash);
    return held.text;
  }
}

function backToDashboard(reply: FastifyReply, route: string, code: NoticeCode) {
  return reply.redirect(`/?${new URLSearchParams({ notice: code }).toString()}#${route}`, 303);
}

export async function registerOAuthRoutes(
  app: FastifyInstance,
  { engine, lookup }: { engine: Engine; lookup: SessionLookup },
): Promise<void> {
  const notices = new SessionNotices();
  const back = (reply: FastifyReply, sessionHash: string, route: string, code: NoticeCode, text: string) => {
    notices.keep(sessionHash, code, text);
    return backToDashboard(reply, route, code);
  };

  apiRoute(app, lookup, {
    method: 'GET',
    url: '/api/connect-notice',
    summary: "The particulars of this session's last connect round trip (once), for the notice code it came back with",
    tags: ['connect'],
    query: z.object({ code: z.enum(NOTICE_CODES) }),
    response: z.object({ text: z.string().nullable() }),
    handler: async ({ query, session }) => ({ text: notices.take(session.idHash, query.code) }),
  });

  apiRoute(app, lookup, {
    method: 'POST',
    url: '/api/connections/connect-highlevel',
    summary: 'Start a new connection: the HighLevel choose-location page',
    tags: ['connect'],
    response: z.object({ authorizeUrl: z.string() }),
    handler: async ({ session }) => {
      const state = await beginOAuth(engine.db, session.idHash, {
        provider: 'highlevel',
        connectionId: null,
        data: {},
      });
      return { authorizeUrl: engine.hlOAuth.authorizeUrl(state) };
    },
  });

  apiRoute(app, lookup, {
    method: 'POST',
    url: '/api/connections/:id/reconnect-highlevel',
    summary: "Reconnect HighLevel: the choose-location page, for this connection's location",
    tags: ['connect'],
    params: z.object({ id: z.string().min(1).max(100) }),
    response: z.object({ authorizeUrl: z.string() }),
    handler: async ({ params, session }) => {
      const connection = await engine.connections.get(params.id);
      if (!connection) throw notFound(`Connection ${params.id}`);
      if (!connection.hlLocationId)
        throw new HttpProblem(
          409,
          'no_location',
          'This connection has no HighLevel location: add a connection instead',
        );
      const state = await beginOAuth(engine.db, session.idHash, {
        provider: 'highlevel',
        connectionId: connection.id,
        data: {},
      });
      return { authorizeUrl: engine.hlOAuth.authorizeUrl(state) };
    },
  });

  apiRoute(app, lookup, {
    method: 'POST',
    url: '/api/connections/:id/connect-quickbooks',
    summary: "Connect QuickBooks: the toggles first, then Intuit's consent page",
    tags: ['connect'],
    params: z.object({ id: z.string().min(1).max(100) }),
    body: connectChoices,
    response: z.object({ authorizeUrl: z.string() }),
    handler: async ({ params, body, session }) => {
      const connection = await engine.connections.get(params.id);
      if (!connection) throw notFound(`Connection ${params.id}`);
      if (!connection.hlLocationId)
        throw new HttpProblem(409, 'no_location', 'Install the HighLevel app on a location first');
      // A workflow chosen for review requests is checked now, while the person is still on the form.
      let choices = body;
      if (body.reviewRequest) {
        try {
          choices = {
            ...body,
            reviewRequest: await checkedReviewRequest(engine.highLevelFor(connection), body.reviewRequest),
          };
        } catch (error) {
          if (error instanceof SyncError)
            throw new HttpProblem(400, 'invalid_request', `${error.message}. ${error.fix}`);
          throw new HttpProblem(
            502,
            'provider_error',
            `HighLevel did not list the location's workflows: ${describeError(error)}`,
          );
        }
      }
      const state = await beginOAuth(engine.db, session.idHash, {
        provider: 'quickbooks',
        connectionId: connection.id,
        data: choices,
      });
      return { authorizeUrl: engine.qboOAuth.authorizeUrl(state) };
    },
  });

  apiRoute(app, lookup, {
    method: 'GET',
    url: '/oauth/highlevel/callback',
    summary: 'HighLevel redirect URI (register it in the marketplace app)',
    tags: ['connect'],
    public: true,
    redirect: true,
    query: callbackQuery,
    handler: async ({ query, raw }, reply) => {
      const session = await lookup(raw);
      if (!session) return backToDashboard(reply, '/login', 'login-first');
      const pending = query.state ? await takeOAuth(engine.db, session.idHash, 'highlevel', query.state) : undefined;
      if (!pending) return refused(reply);
      if (query.error || !query.code) return backToDashboard(reply, '/connections', 'highlevel-denied');
      try {
        const connection = await connectHighLevelFromCode(engine, query.code, pending.connectionId ?? undefined);
        const route = `/connections/${connection.id}`;
        if (connection.status === 'connected')
          return back(reply, session.idHash, route, 'highlevel-reconnected', `${connection.name} is connected again`);
        if (connection.status === 'pending')
          return back(
            reply,
            session.idHash,
            route,
            'highlevel-installed',
            `${connection.name} is installed: connect its QuickBooks company next`,
          );
        return back(reply, session.idHash, route, 'highlevel-waiting', stillWaiting('HighLevel', connection));
      } catch (error) {
        const asking =
          error instanceof AccountInUseError && error.askingId
            ? await engine.connections.get(error.askingId)
            : undefined;
        if (error instanceof AccountInUseError && asking) return inUse(reply, error, asking);
        return back(
          reply,
          session.idHash,
          pending.connectionId ? `/connections/${pending.connectionId}` : '/connections',
          'highlevel-failed',
          `Connecting HighLevel failed: ${describe(error)}`,
        );
      }
    },
  });

  apiRoute(app, lookup, {
    method: 'GET',
    url: '/oauth/quickbooks/callback',
    summary: 'QuickBooks redirect URI (register it in the Intuit app)',
    tags: ['connect'],
    public: true,
    redirect: true,
    query: callbackQuery,
    handler: async ({ query, raw }, reply) => {
      const session = await lookup(raw);
      if (!session) return backToDashboard(reply, '/login', 'login-first');
      const pending = query.state ? await takeOAuth(engine.db, session.idHash, 'quickbooks', query.state) : undefined;
      if (!pending?.connectionId) return refused(reply);
      const route = `/connections/${pending.connectionId}`;
      if (query.error || !query.code || !query.realmId) return backToDashboard(reply, route, 'quickbooks-denied');
      const toggles = connectChoices.parse(pending.data);
      try {
        const outcome = await connectQuickBooksFromCode(
          engine,
          pending.connectionId,
          { code: query.code, realmId: query.realmId },
          toggles,
        );
        if (outcome.kind === 'connected') {
          if (outcome.connection.status !== 'connected')
            return back(
              reply,
              session.idHash,
              route,
              'quickbooks-waiting',
              stillWaiting('QuickBooks', outcome.connection),
            );
          return back(
            reply,
            session.idHash,
            route,
            'quickbooks-connected',
            `${outcome.connection.name} is connected: new records sync from now on`,
          );
        }
        const { connection, company } = outcome;
        const token = await engine.connections.holdCompanySwitch(
          session.idHash,
          {
            connectionId: connection.id,
            realmId: company.realmId,
            company: { name: company.name, country: company.country, homeCurrency: company.homeCurrency },
            choices: toggles,
            tokens: company.tokens,
          },
          SWITCH_MINUTES * 60_000,
        );
        const links = Object.values(await countLinks(engine.db, connection.id)).reduce((sum, n) => sum + n, 0);
        const holdsPreviousTokens = Boolean(
          await engine.connections.readTokens(connection.id, 'qbo').catch(() => undefined),
        );
        return confirmSwitchPage(reply, {
          connection,
          company,
          token,
          links,
          holdsPreviousTokens,
          minutes: SWITCH_MINUTES,
        });
      } catch (error) {
        if (error instanceof AccountInUseError)
          return inUse(reply, error, await engine.connections.require(pending.connectionId));
        return back(
          reply,
          session.idHash,
          route,
          'quickbooks-failed',
          `Connecting QuickBooks failed: ${describe(error)}`,
        );
      }
    },
  });

  // The confirmation page's form (a plain HTML form: URL-encoded, parsed in this scope only). It is an /api/ POST,
  // so the dashboard's same-origin check applies, and the session cookie is SameSite=Lax; the page's token is bound
  // to the session it was shown to and used once.
  await app.register(async (scope) => {
    scope.addContentTypeParser(
      'application/x-www-form-urlencoded',
      { parseAs: 'string', bodyLimit: 4096 },
      (_request, body, done) => {
        done(null, Object.fromEntries(new URLSearchParams(String(body))));
      },
    );
    apiRoute(scope, lookup, {
      method: 'POST',
      url: '/api/connections/:id/quickbooks-switch',
      summary:
        "Confirm or cancel moving a connection to the QuickBooks company chosen on Intuit's page (the confirmation page's form)",
      tags: ['connect'],
      redirect: true,
      params: z.object({ id: z.string().min(1).max(100) }),
      body: switchForm,
      handler: async ({ params, body, session }, reply) => {
        const route = `/connections/${params.id}`;
        const held = await engine.connections.takeCompanySwitch(session.idHash, params.id, body.switch);
        if (!held) return switchRefusedPage(reply, params.id);
        const connection = await engine.connections.require(params.id);
        const company = {
          realmId: held.realmId,
          name: held.company.name,
          country: held.company.country,
          homeCurrency: held.company.homeCurrency,
          tokens: held.tokens,
        };
        const previous = connection.qboCompanyName ?? connection.qboRealmId ?? 'its previous company';
        if (body.decision === 'cancel') {
          const note = await abandonCompanySwitch(engine, company);
          return back(
            reply,
            session.idHash,
            route,
            note ? 'quickbooks-kept-unrevoked' : 'quickbooks-kept',
            `${connection.name} was not changed: it stays with ${previous}.${note ? ` ${note}` : ''}`,
          );
        }
        try {
          const live = await switchQuickBooksCompany(
            engine,
            connection.id,
            company,
            connectChoices.parse(held.choices),
          );
          return back(
            reply,
            session.idHash,
            route,
            'quickbooks-switched',
            `${live.name} is now connected to ${company.name ?? company.realmId}: new records sync there from now on; the links to ${previous} are set aside`,
          );
        } catch (error) {
          if (error instanceof AccountInUseError) {
            await abandonCompanySwitch(engine, company);
            return inUse(reply, error, connection);
          }
          return back(
            reply,
            session.idHash,
            route,
            'quickbooks-switch-failed',
            `Switching the QuickBooks company failed: ${describe(error)}`,
          );
        }
      },
    });
  });

  async function inUse(reply: FastifyReply, error: AccountInUseError, asking: Connection) {
    return accountInUsePage(reply, error, asking, await engine.connections.get(error.holder.id));
  }
}

/** The notice after one side was reconnected while the other still needs it: what works now and what is left. */
function stillWaiting(done: string, connection: Connection): string {
  const left = sidesToReconnect(connection).map((side) => PROVIDER_NAME[side]);
  const names = left.length ? left.join(' and ') : 'the other side';
  return `${done} is reconnected, but ${connection.name} is not syncing yet: press Reconnect ${names} to finish`;
}

function describe(error: unknown): string {
  if (error instanceof SyncError) return `${error.message}. ${error.fix}`;
  // The OAuth error code (invalid_grant: the code expired or was used) says more than the sentence around it.
  const code =
    typeof error === 'object' && error !== null && typeof (error as { code?: unknown }).code === 'string'
      ? (error as { code: string }).code
      : undefined;
  return `${describeError(error)}${code ? ` (${code})` : ''}`;
}

function refused(reply: FastifyReply) {
  return reply
    .code(400)
    .type('text/html; charset=utf-8')
    .send(
      '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Authorization refused</title></head><body>' +
        '<main><h1>Authorization refused</h1><p>This authorization was not started from your dashboard session, or it was used already. ' +
        'Nothing was changed.</p><p><a href="/#/connections">Back to the dashboard</a> and start connecting again.</p></main></body></html>',
    );
}
