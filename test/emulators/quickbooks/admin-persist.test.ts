import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { startQuickBooksEmulator } from '../../../emulators/quickbooks/index.ts';
import type { Json } from './helpers.ts';
import { createCustomer, entity, fault, request, startSandbox } from './helpers.ts';

describe('QuickBooks emulator admin API', () => {
  it('creates companies in the fixed form, lists, resets and deletes them, and lists raw data', async () => {
    const sb = await startSandbox();
    try {
      const created = await sb.admin('POST', '/companies', { country: 'AU', name: 'Koala Co' });
      assert.equal(created.status, 200);
      assert.deepEqual(Object.keys(created.body), ['realmId']);
      assert.match(String(created.body.realmId), /^\d+$/);
      const bad = await sb.admin('POST', '/companies', { country: 'FR' });
      assert.equal(bad.status, 400);
      const listed = (await sb.admin('GET', '/companies')).body.companies as Json[];
      assert.ok(
        listed.some((c) => c.realmId === created.body.realmId && c.currency === 'AUD' && c.name === 'Koala Co'),
      );

      await createCustomer(sb, 'Before Reset');
      const raw = await sb.admin('GET', `/companies/${sb.realmId}/entities/customer`);
      assert.equal((raw.body.records as Json[]).length, 1);
      const accounts = (await sb.admin('GET', `/companies/${sb.realmId}/entities/Account`)).body.records as Json[];
      assert.ok(accounts.some((a) => a.AccountSubType === 'UndepositedFunds'));
      assert.ok(accounts.some((a) => a.AccountType === 'Income'));
      await sb.admin('POST', `/companies/${sb.realmId}/reset`);
      assert.equal(
        ((await sb.admin('GET', `/companies/${sb.realmId}/entities/customer`)).body.records as Json[]).length,
        0,
      );
      assert.equal((await sb.api('GET', 'preferences')).status, 200, 'tokens survive a data reset');

      const patched = await sb.admin('PATCH', `/companies/${sb.realmId}`, { enforceUniqueDocNumbers: false });
      assert.equal(patched.body.enforceUniqueDocNumbers, false);
      await sb.admin('DELETE', `/companies/${String(created.body.realmId)}`);
      assert.equal((await sb.admin('POST', '/tokens', { realmId: created.body.realmId })).status, 404);
      assert.equal((await sb.admin('GET', '/health')).body.ok, true);
    } finally {
      await sb.close();
    }
  });

  it('moves the clock forward and registers OAuth apps', async () => {
    const sb = await startSandbox();
    try {
      const before = Date.parse(String((await sb.admin('GET', '/clock')).body.now));
      const moved = await sb.admin('POST', '/clock/advance', { days: 2 });
      assert.ok(Date.parse(String(moved.body.now)) - before >= 2 * 86_400_000);
      const app = await sb.admin('POST', '/apps', {
        clientId: 'abc',
        clientSecret: 'def',
        redirectUris: ['http://localhost/cb'],
      });
      assert.equal(app.status, 200);
      const apps = (await sb.admin('GET', '/apps')).body.apps as Json[];
      assert.ok(apps.some((a) => a.clientId === 'abc' && a.clientSecret === undefined));
      const minted = await sb.admin('POST', '/tokens', { realmId: sb.realmId, clientId: 'abc' });
      assert.equal(minted.status, 200);
    } finally {
      await sb.close();
    }
  });
});

describe('QuickBooks emulator persistence', () => {
  it('saves to a JSON file on close and loads it back: data, counters, tokens and deletions survive', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'qbo-emulator-'));
    const dataFile = join(dir, 'qbo.json');
    try {
      const first = await startQuickBooksEmulator({ dataFile, limits: false });
      const realmId = (await request(`${first.url}/_emulator/companies`, 'POST', { country: 'CA' })).body
        .realmId as string;
      const token = (await request(`${first.url}/_emulator/tokens`, 'POST', { realmId })).body.access_token as string;
      const auth = { authorization: `Bearer ${token}` };
      const base = `${first.url}/v3/company/${realmId}`;
      const c = entity(await request(`${base}/customer`, 'POST', { DisplayName: 'Persistent Pat' }, auth), 'Customer');
      // Saved shortly after the change, before any close (debounced).
      await new Promise((resolve) => setTimeout(resolve, 600));
      assert.match(readFileSync(dataFile, 'utf8'), /Persistent Pat/);
      const v = entity(await request(`${base}/vendor`, 'POST', { DisplayName: 'Vanishing Vendor' }, auth), 'Vendor');
      await request(`${base}/vendor?operation=delete`, 'POST', { Id: v.Id, SyncToken: v.SyncToken }, auth);
      await first.close();
      const saved = JSON.parse(readFileSync(dataFile, 'utf8')) as Json;
      assert.equal(saved.version, 1);

      const second = await startQuickBooksEmulator({ dataFile, limits: false });
      try {
        const base2 = `${second.url}/v3/company/${realmId}`;
        const read = entity(await request(`${base2}/customer/${String(c.Id)}`, 'GET', undefined, auth), 'Customer');
        assert.deepEqual(read, c);
        assert.equal(
          fault(await request(`${base2}/customer`, 'POST', { DisplayName: 'persistent pat' }, auth)).code,
          '6240',
          'indexes are rebuilt',
        );
        const next = entity(
          await request(`${base2}/customer`, 'POST', { DisplayName: 'Second Life' }, auth),
          'Customer',
        );
        assert.equal(Number(next.Id), Number(c.Id) + 1, 'id counters continue');
        const vendor = entity(await request(`${base2}/vendor/${String(v.Id)}`, 'GET', undefined, auth), 'Vendor');
        assert.equal(vendor.DisplayName, 'Vanishing Vendor (deleted)');
      } finally {
        await second.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
