// A token key that cannot open the stored tokens stops the start with the problem and the fix, and changes
// nothing: the same tokens open again with the right key. Where the operator chose it, the start goes on with
// those connections paused and an open error on each.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { loadConfig } from '../../src/config.ts';
import { openRuntime, StartRefused } from '../../src/runtime.ts';
import { main } from '../../src/cli.ts';
import { createLogger } from '../../src/log.ts';
import { listActivity } from '../../src/store/activity.ts';
import { createTestDatabase } from '../support/db.ts';

const KEY_A = randomBytes(32).toString('base64');
const KEY_B = randomBytes(32).toString('base64');
const quiet = createLogger({ level: 'silent' });

describe('the token key at start', () => {
  let dataDir: string;
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let connectionId: string;
  const tokens = {
    accessToken: 'qbo-access-token-value',
    refreshToken: 'qbo-refresh-token-value',
    accessExpiresAt: new Date(Date.now() + 3_600_000).toISOString(),
  };
  const env = (extra: Record<string, string>): NodeJS.ProcessEnv => ({
    LEDGERLINK_DATA_DIR: dataDir,
    ...(database ? { DATABASE_URL: database.databaseUrl } : {}),
    QBO_CLIENT_ID: 'id',
    QBO_CLIENT_SECRET: 'secret',
    QBO_API_URL: 'http://127.0.0.1:9',
    HL_CLIENT_ID: 'id',
    HL_CLIENT_SECRET: 'secret',
    HL_API_URL: 'http://127.0.0.1:9',
    ...extra,
  });
  const open = (extra: Record<string, string>) => {
    const config = loadConfig(env(extra));
    return openRuntime(config, config.providers!, { server: false, workers: false, logger: quiet });
  };
  const sealed = async (runtime: { db: { query: <R>(sql: string, params?: unknown[]) => Promise<{ rows: R[] }> } }) =>
    (
      await runtime.db.query<{ qbo: Uint8Array; hl: Uint8Array; status: string }>(
        'SELECT qbo_tokens AS qbo, hl_tokens AS hl, status FROM connections WHERE id = $1',
        [connectionId],
      )
    ).rows[0]!;

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'll-token-key-'));
    database = await createTestDatabase();
    const runtime = await open({ LEDGERLINK_SECRET_KEY: KEY_A });
    try {
      const connection = await runtime.engine.connections.create({ name: 'Acme Books' });
      connectionId = connection.id;
      await runtime.engine.connections.attachQuickBooks(connection.id, {
        realmId: '9130',
        country: 'US',
        homeCurrency: 'USD',
        tokens,
      });
      await runtime.engine.connections.attachHighLevel(connection.id, {
        locationId: 'loc-1',
        country: 'US',
        tokens: { ...tokens, accessToken: 'hl-access-token-value' },
      });
      await runtime.engine.connections.activate(connection.id);
    } finally {
      await runtime.stop();
    }
  });
  after(async () => {
    await database?.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('refuses to start with another key, naming the problem and the fix, and changes nothing', async () => {
    const first = await open({ LEDGERLINK_SECRET_KEY: KEY_A });
    const before = await sealed(first);
    await first.stop();

    await assert.rejects(open({ LEDGERLINK_SECRET_KEY: KEY_B }), (error: unknown) => {
      assert.ok(error instanceof StartRefused);
      assert.match(error.message, /cannot open the OAuth tokens stored for 1 of 1 connections \("Acme Books"\)/);
      assert.match(error.message, /LEDGERLINK_SECRET_KEY is not the key they were sealed with/);
      assert.match(error.message, /Nothing was changed/);
      assert.match(error.message, /Fix: set LEDGERLINK_SECRET_KEY back to the key used before/);
      assert.match(error.message, /LEDGERLINK_UNREADABLE_TOKENS=pause/);
      return true;
    });

    const again = await open({ LEDGERLINK_SECRET_KEY: KEY_A });
    try {
      const after = await sealed(again);
      assert.deepEqual(Buffer.from(after.qbo), Buffer.from(before.qbo), 'the sealed QuickBooks tokens are untouched');
      assert.deepEqual(Buffer.from(after.hl), Buffer.from(before.hl), 'the sealed HighLevel tokens are untouched');
      assert.equal(after.status, 'connected');
      const opened = await again.engine.connections.readTokens(connectionId, 'qbo');
      assert.equal(opened?.accessToken, tokens.accessToken, 'key A opens them again');
      assert.equal(opened?.refreshToken, tokens.refreshToken);
    } finally {
      await again.stop();
    }
  });

  it('prints the refusal without a stack and exits with EX_CONFIG from the command line', async () => {
    const saved = { ...process.env };
    const written: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    Object.assign(process.env, env({ LEDGERLINK_SECRET_KEY: KEY_B, LEDGERLINK_LOG_LEVEL: 'silent' }));
    process.stderr.write = ((chunk: string | Uint8Array) => {
      written.push(String(chunk));
      return true;
    }) as typeof process.stderr.write;
    let code: number;
    try {
      code = await main(['worker']);
    } finally {
      process.stderr.write = write;
      for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
      Object.assign(process.env, saved);
    }
    assert.equal(code, 78);
    const text = written.join('');
    assert.match(text, /^ledgerlink will not start: the token key cannot open/m);
    assert.doesNotMatch(text, /\n\s+at /, 'no stack trace');
  });

  it('with LEDGERLINK_UNREADABLE_TOKENS=pause, starts with the connection paused and an open error, tokens kept', async () => {
    const runtime = await open({ LEDGERLINK_SECRET_KEY: KEY_B, LEDGERLINK_UNREADABLE_TOKENS: 'pause' });
    try {
      const connection = await runtime.engine.connections.get(connectionId);
      assert.equal(connection?.status, 'paused');
      assert.match(connection?.statusReason ?? '', /cannot be opened with the token key in use/);
      const errors = await listActivity(runtime.db, { connectionId, status: 'error' });
      assert.ok(
        errors.some((e) => /cannot be opened/.test(e.message)),
        'an open error in the dashboard',
      );
      await assert.rejects(
        runtime.engine.connections.readTokens(connectionId, 'qbo'),
        /cannot be opened with the token key in use/,
      );
    } finally {
      await runtime.stop();
    }
    const back = await open({ LEDGERLINK_SECRET_KEY: KEY_A });
    try {
      assert.equal(
        (await back.engine.connections.readTokens(connectionId, 'qbo'))?.accessToken,
        tokens.accessToken,
        'the right key still opens them',
      );
    } finally {
      await back.stop();
    }
  });

  it('refuses to start when the key file that sealed the tokens is missing, without making a new one', async () => {
    // The embedded store of its own folder (whatever DATABASE_URL says): the key file lives beside it.
    const dir = mkdtempSync(join(tmpdir(), 'll-key-file-'));
    const open = (): ReturnType<typeof openRuntime> => {
      const { DATABASE_URL: _ignored, ...rest } = env({ LEDGERLINK_DATA_DIR: dir });
      const config = loadConfig(rest);
      return openRuntime(config, config.providers!, { server: false, workers: false, logger: quiet });
    };
    try {
      const first = await open();
      try {
        const c = await first.engine.connections.create({ name: 'Key File Co' });
        await first.engine.connections.attachQuickBooks(c.id, {
          realmId: '1',
          country: 'US',
          homeCurrency: 'USD',
          tokens,
        });
      } finally {
        await first.stop();
      }
      rmSync(join(dir, 'secret.key'));
      await assert.rejects(open(), (error: unknown) => {
        assert.ok(error instanceof StartRefused);
        assert.match(error.message, /the key file .*secret\.key that sealed the OAuth tokens in the store is missing/);
        assert.match(error.message, /Fix: restore that file/);
        return true;
      });
      assert.equal(
        existsSync(join(dir, 'secret.key')),
        false,
        'no new key file stands where the old one is to be restored',
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
