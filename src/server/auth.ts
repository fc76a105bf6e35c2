// Dashboard login: one or more admin accounts (passwords hashed with scrypt), sessions in a cookie (HttpOnly,
// SameSite=Lax, Secure when the public URL is https). The first admin is created either by whoever starts the
// process (the demo, or LEDGERLINK_ADMIN_PASSWORD) or on the first visit, with a one-time setup code printed in
// the server log, so that a freshly deployed instance cannot be claimed by the first stranger to find it.
import { randomBytes, scrypt as scryptCallback, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { Db } from '../store/db.ts';
import {
  changeAdminPassword,
  closeSession,
  countAdmins,
  createAdmin,
  findAdmin,
  findSession,
  openSession,
  type Session,
} from '../store/sessions.ts';
import { apiRoute, HttpProblem, type SessionLookup } from './apiRoute.ts';
import { LoginThrottle } from './loginThrottle.ts';

export const SESSION_COOKIE = 'll_session';
const SESSION_LIFETIME_MS = 7 * 24 * 3600_000;
// scrypt cost: N=2^15, r=8, p=1 (about 32 MiB and a few tens of ms per hash; OWASP's minimum is N=2^17 with
// r=8 at p=1 for new systems, 2^15 keeps logins on a small box quick while staying far above a plain hash).
const SCRYPT = { N: 32768, r: 8, p: 1, keyLength: 32 };

// Password hashes computed at once in this process, and how many may wait for a turn: each scrypt holds 32 MiB and
// a thread of libuv's pool, so a burst of logins from many addresses must not run them all together. Past the
// queue a login is answered 429 (busy) without hashing.
const MAX_HASHES_IN_FLIGHT = 4;
const MAX_HASHES_WAITING = 64;
let inFlight = 0;
let highWater = 0;
const waiting: Array<() => void> = [];
/** The most password hashes that were computed at once in this process (tests hold it against the cap). */
export const passwordHashesHighWater = (): number => highWater;

async function hashSlot(): Promise<void> {
  if (inFlight < MAX_HASHES_IN_FLIGHT) {
    inFlight += 1;
    return;
  }
  if (waiting.length >= MAX_HASHES_WAITING)
    throw new HttpProblem(429, 'busy', 'Too many logins at once: try again in a moment');
  // The slot is handed over by the finishing hash (inFlight stays counted).
  await new Promise<void>((resolve) => waiting.push(resolve));
}

function releaseHashSlot(): void {
  const next = waiting.shift();
  if (next) next();
  else inFlight -= 1;
}

async function scrypt(password: string, salt: Buffer, keyLength: number, options: ScryptOptions): Promise<Buffer> {
  await hashSlot();
  highWater = Math.max(highWater, inFlight);
  try {
    return await new Promise((resolve, reject) =>
      scryptCallback(password, salt, keyLength, options, (error, key) => (error ? reject(error) : resolve(key))),
    );
  } finally {
    releaseHashSlot();
  }
}

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await scrypt(password, salt, SCRYPT.keyLength, {
    N: SCRYPT.N,
    r: SCRYPT.r,
    p: SCRYPT.p,
    maxmem: 128 * SCRYPT.N * SCRYPT.r * 2,
  });
  return ['scrypt', SCRYPT.N, SCRYPT.r, SCRYPT.p, salt.toString('base64url'), key.toString('base64url')].join('$');
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, n, r, p, salt, hash] = stored.split('$');
  if (scheme !== 'scrypt' || !salt || !hash) return false;
  const expected = Buffer.from(hash, 'base64url');
  const N = Number(n);
  const R = Number(r);
  const key = await scrypt(password, Buffer.from(salt, 'base64url'), expected.length, {
    N,
    r: R,
    p: Number(p),
    maxmem: 128 * N * R * 2,
  });
  return timingSafeEqual(key, expected);
}

// A well-formed hash of a random password: checked against when the username is unknown, so that the answer
// takes as long as for a known user (no user enumeration by timing).
const DECOY = hashPassword(randomBytes(16).toString('hex'));

export interface AuthOptions {
  db: Db;
  /** https public URL: the cookie gets Secure. */
  secureCookies: boolean;
  /** Created (or its password set) at start: the demo's admin, or LEDGERLINK_ADMIN_PASSWORD. */
  initialAdmin?: { username: string; password: string } | undefined;
  /** Where the setup code is told to whoever runs the server. */
  announce?: (line: string) => void;
}

/** A cookie's value; one that is not valid percent-encoding comes back as sent (callers check its form). */
export function readCookie(request: FastifyRequest, name: string): string | undefined {
  const header = request.headers.cookie;
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) {
      const value = part.slice(eq + 1).trim();
      try {
        return decodeURIComponent(value);
      } catch {
        return value;
      }
    }
  }
  return undefined;
}

/** What openSession hands out: 32 random bytes, base64url. Anything else is no session and is cleared. */
const SESSION_ID = /^[A-Za-z0-9_-]{43}$/;

const credentialsSchema = z.object({
  username: z.string().trim().min(1).max(100),
  password: z.string().min(1).max(1000),
});
const setupSchema = z.object({
  username: z.string().trim().min(1).max(100),
  password: z.string().min(10, 'use at least 10 characters').max(1000),
  setupCode: z.string().trim().min(1).max(200),
});
const passwordChangeSchema = z.object({
  currentPassword: z.string().min(1).max(1000),
  newPassword: z.string().min(10, 'use at least 10 characters').max(1000),
});
const stateSchema = z.object({
  setupNeeded: z
    .boolean()
    .describe('No admin exists yet: the first visit creates one (with the setup code from the server log)'),
  user: z.object({ username: z.string() }).nullable(),
});

/** Registers the auth routes and returns the session lookup every other API route uses. */
export async function registerAuth(app: FastifyInstance, options: AuthOptions): Promise<SessionLookup> {
  const { db } = options;
  if (options.initialAdmin) {
    const { username, password } = options.initialAdmin;
    const existing = await findAdmin(db, username);
    // A new password ends the sessions opened with the old one; the same password at each start changes nothing.
    if (!existing) await createAdmin(db, { username, passwordHash: await hashPassword(password) });
    else if (!(await verifyPassword(password, existing.passwordHash)))
      await changeAdminPassword(db, existing.id, await hashPassword(password));
  }
  let setupCode: string | undefined;
  if ((await countAdmins(db)) === 0) {
    setupCode = randomBytes(6).toString('hex');
    (options.announce ?? console.log)(
      `No admin account yet: open the dashboard and create one with the setup code ${setupCode}`,
    );
  }

  const cache = new WeakMap<FastifyRequest, Promise<Session | undefined>>();
  const lookup: SessionLookup = (request) => {
    let found = cache.get(request);
    if (!found) {
      const id = readCookie(request, SESSION_COOKIE);
      found = id && SESSION_ID.test(id) ? findSession(db, id) : Promise.resolve(undefined);
      cache.set(request, found);
    }
    return found;
  };

  const setCookie = (reply: FastifyReply, value: string, maxAgeSeconds: number) => {
    const parts = [
      `${SESSION_COOKIE}=${encodeURIComponent(value)}`,
      'Path=/',
      'HttpOnly',
      'SameSite=Lax',
      `Max-Age=${maxAgeSeconds}`,
    ];
    if (options.secureCookies) parts.push('Secure');
    reply.header('set-cookie', parts.join('; '));
  };

  const throttle = new LoginThrottle();

  // A session cookie that cannot be one of ours (garbled, truncated, forged) is answered as no session and cleared,
  // so that a browser holding it is not stuck with it.
  app.addHook('onRequest', async (request, reply) => {
    const id = readCookie(request, SESSION_COOKIE);
    if (id !== undefined && id !== '' && !SESSION_ID.test(id)) setCookie(reply, '', 0);
  });

  apiRoute(app, lookup, {
    method: 'GET',
    url: '/api/auth/state',
    summary: 'Whether an admin exists and who is logged in',
    tags: ['auth'],
    public: true,
    response: stateSchema,
    handler: async ({ raw }) => {
      const session = await lookup(raw);
      return { setupNeeded: setupCode !== undefined, user: session ? { username: session.user.username } : null };
    },
  });

  apiRoute(app, lookup, {
    method: 'POST',
    url: '/api/auth/setup',
    summary: 'Create the first admin account (only while none exists)',
    tags: ['auth'],
    public: true,
    body: setupSchema,
    response: z.object({ username: z.string() }),
    handler: async ({ body }, reply) => {
      if (setupCode === undefined)
        throw new HttpProblem(409, 'already_set_up', 'An admin account exists already: log in');
      if (!safeEqual(body.setupCode, setupCode))
        throw new HttpProblem(403, 'wrong_setup_code', 'The setup code does not match the one in the server log');
      const admin = await createAdmin(db, {
        username: body.username,
        passwordHash: await hashPassword(body.password),
        onlyIfNone: true,
      });
      setupCode = undefined;
      if (!admin) throw new HttpProblem(409, 'already_set_up', 'An admin account exists already: log in');
      setCookie(reply, await openSession(db, admin.id, SESSION_LIFETIME_MS), SESSION_LIFETIME_MS / 1000);
      return { username: admin.username };
    },
  });

  apiRoute(app, lookup, {
    method: 'POST',
    url: '/api/auth/login',
    summary: 'Log in; sets the session cookie',
    tags: ['auth'],
    public: true,
    body: credentialsSchema,
    response: z.object({ username: z.string() }),
    handler: async ({ body, raw }, reply) => {
      // raw.ip is the socket's address, or the client's as the trusted proxy reports it (LEDGERLINK_TRUST_PROXY).
      if (!throttle.take(body.username, raw.ip))
        throw new HttpProblem(429, 'too_many_attempts', 'Too many failed logins: wait a quarter of an hour');
      const admin = await findAdmin(db, body.username);
      const ok = await verifyPassword(body.password, admin?.passwordHash ?? (await DECOY));
      if (!admin || !ok) throw new HttpProblem(401, 'wrong_credentials', 'Wrong user name or password');
      throttle.succeeded(body.username, raw.ip);
      setCookie(reply, await openSession(db, admin.id, SESSION_LIFETIME_MS), SESSION_LIFETIME_MS / 1000);
      return { username: admin.username };
    },
  });

  apiRoute(app, lookup, {
    method: 'POST',
    url: '/api/auth/password',
    summary: 'Change the password of the logged-in admin; ends every other session of that admin',
    tags: ['auth'],
    body: passwordChangeSchema,
    response: z.object({ ok: z.literal(true) }),
    handler: async ({ body, session, raw }) => {
      // The current password is a guess like any login's: the same limit applies (a stolen session cannot try it freely).
      if (!throttle.take(session.user.username, raw.ip))
        throw new HttpProblem(429, 'too_many_attempts', 'Too many failed attempts: wait a quarter of an hour');
      const admin = await findAdmin(db, session.user.username);
      if (!admin || !(await verifyPassword(body.currentPassword, admin.passwordHash))) {
        throw new HttpProblem(403, 'wrong_password', 'The current password does not match');
      }
      throttle.succeeded(session.user.username, raw.ip);
      await changeAdminPassword(db, admin.id, await hashPassword(body.newPassword), session.idHash);
      return { ok: true as const };
    },
  });

  apiRoute(app, lookup, {
    method: 'POST',
    url: '/api/auth/logout',
    summary: 'Log out (ends the session)',
    tags: ['auth'],
    response: z.object({ ok: z.literal(true) }),
    handler: async ({ session }, reply) => {
      await closeSession(db, session.idHash);
      setCookie(reply, '', 0);
      return { ok: true as const };
    },
  });

  return lookup;
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
