import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startHighLevelEmulator } from '../../../emulators/highlevel/index.ts';
import { Api, obj } from './helpers.ts';

describe('HighLevel emulator: data file and command line', () => {
  it('saves its data to a JSON file on close and loads it back (--data FILE)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hl-emu-'));
    const file = join(dir, 'highlevel.json');
    const first = await startHighLevelEmulator({ dataFile: file });
    const api = new Api(first);
    const { locationId } = (await api.admin('POST', '/locations', { country: 'AU', name: 'Sydney Dental' })).body as {
      locationId: string;
    };
    const tokens = (await api.admin('POST', '/tokens', { locationId })).body;
    api.token = String(tokens.access_token);
    const c = await api.post('/contacts/', { locationId, email: 'persist@example.com', tags: ['kept'] });
    await api.admin('POST', '/app', { webhookUrl: 'http://127.0.0.1:9/hooks' });
    const appBefore = (await api.admin('GET', '/app')).body;
    const pemBefore = first.webhookPublicKeyPem();
    await first.close();
    const saved = JSON.parse(await readFile(file, 'utf8')) as { store: { contacts: unknown[] } };
    assert.equal(saved.store.contacts.length, 1);

    const second = await startHighLevelEmulator({ dataFile: file });
    const api2 = new Api(second, api.token);
    const got = await api2.get(`/contacts/${String(obj(c.body.contact).id)}`);
    assert.equal(got.status, 200, 'the token survived too');
    assert.deepEqual(obj(got.body.contact).tags, ['kept']);
    const dup = await api2.post('/contacts/', { locationId, email: 'PERSIST@example.com' });
    assert.equal(dup.status, 400, 'indexes are rebuilt on load');
    assert.deepEqual((await api2.admin('GET', '/app')).body, appBefore, 'app identity and webhook settings survive');
    assert.equal(second.webhookPublicKeyPem(), pemBefore, 'the signing key survives');
    const refreshed = await fetch(`${second.url}/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        client_id: String(appBefore.clientId),
        client_secret: String(appBefore.clientSecret),
        grant_type: 'refresh_token',
        refresh_token: String(tokens.refresh_token),
      }).toString(),
    });
    assert.equal(refreshed.status, 200, 'saved refresh tokens still refresh');
    const loc = await api2.get(`/locations/${locationId}`);
    assert.equal(obj(loc.body.location).timezone, 'Australia/Sydney');
    await second.close();
  });

  it('lists locations with their internal currency, dumps and resets data', async () => {
    const emu = await startHighLevelEmulator();
    const api = new Api(emu);
    for (const country of ['US', 'GB', 'CA', 'FR']) await api.admin('POST', '/locations', { country });
    await api.admin('POST', '/locations', { country: 'US', name: 'Euro shop', currency: 'eur' });
    const list = (await api.admin('GET', '/locations')).body.locations as Array<Record<string, unknown>>;
    assert.deepEqual(
      list.map((l) => [l.country, l.currency]),
      [
        ['US', 'USD'],
        ['GB', 'GBP'],
        ['CA', 'CAD'],
        ['FR', 'EUR'],
        ['US', 'EUR'],
      ],
    );
    const data = (await api.admin('GET', '/data')).body as { locations: unknown[] };
    assert.equal(data.locations.length, 5);
    await api.admin('POST', '/reset');
    assert.equal(((await api.admin('GET', '/locations')).body.locations as unknown[]).length, 0);
    await emu.close();
  });

  it('runs as `ledgerlink emulator highlevel --port 0`, prints its URL and stops on SIGTERM', async () => {
    const child = spawn(
      process.execPath,
      ['bin/ledgerlink.js', 'emulator', 'highlevel', '--port', '0', '--limit-factor', 'off'],
      { cwd: '/work/main', stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no URL printed: ${out}`)), 20_000);
      child.stdout.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        const m = /listening on (http:\/\/\S+)/.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]!);
        }
      });
      child.on('exit', () => reject(new Error(`exited early: ${out}`)));
    });
    const created = await fetch(`${url}/_emulator/locations`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ country: 'US' }),
    });
    assert.equal(created.status, 200);
    const { locationId } = (await created.json()) as { locationId: string };
    assert.match(locationId, /^[A-Za-z0-9]{20}$/);
    const tokens = await fetch(`${url}/_emulator/tokens`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ locationId }),
    });
    const t = (await tokens.json()) as Record<string, unknown>;
    assert.equal(t.token_type, 'Bearer');
    assert.equal(t.expires_in, 86399);
    assert.equal(t.locationId, locationId);
    assert.equal(typeof t.refresh_token, 'string');
    const pem = await fetch(`${url}/_emulator/webhook-public-key`).then((r) => r.text());
    assert.match(pem, /BEGIN PUBLIC KEY/);
    const code = await new Promise<number | null>((resolve) => {
      child.on('exit', (c) => resolve(c));
      child.kill('SIGTERM');
    });
    assert.equal(code, 0);
  });
});
