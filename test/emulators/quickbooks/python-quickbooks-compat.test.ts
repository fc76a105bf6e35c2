// Drives the emulator the way python-quickbooks does on the wire (reference §2.1, §8): queries POSTed as
// `application/text` with capitalised keywords and Python booleans (`Active = True`), `STARTPOSITION` before
// `MAXRESULTS`, JSON writes with `minorversion`, and any 401 treated as an auth failure.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Json, Sandbox } from './helpers.ts';
import { startSandbox } from './helpers.ts';

describe('python-quickbooks wire compatibility', () => {
  let sb: Sandbox;
  let base: string;
  const headers = (token: string, contentType: string): Record<string, string> => ({
    Authorization: `Bearer ${token}`,
    Accept: 'application/json',
    'Content-Type': contentType,
    'User-Agent': 'python-quickbooks V3 library',
  });

  before(async () => {
    sb = await startSandbox();
    base = `${sb.emulator.url}/v3/company/${sb.realmId}`;
  });
  after(() => sb.close());

  async function query(select: string, token = sb.accessToken): Promise<{ status: number; body: Json }> {
    const response = await fetch(`${base}/query?minorversion=75`, {
      method: 'POST',
      headers: headers(token, 'application/text'),
      body: select,
    });
    return { status: response.status, body: (await response.json()) as Json };
  }

  it('creates with JSON and finds through POSTed application/text queries', async () => {
    const created = await fetch(`${base}/customer?minorversion=75`, {
      method: 'POST',
      headers: headers(sb.accessToken, 'application/json'),
      body: JSON.stringify({ DisplayName: "D'Angelo Deli", CompanyName: 'Deli' }),
    });
    assert.equal(created.status, 200);
    const found = await query(
      "SELECT * FROM Customer WHERE Active = True AND DisplayName = 'D\\'Angelo Deli' STARTPOSITION 1 MAXRESULTS 100",
    );
    assert.equal(found.status, 200);
    const rows = (found.body.QueryResponse as Json).Customer as Json[];
    assert.equal(rows[0]!.DisplayName, "D'Angelo Deli");
    const counted = await query('SELECT COUNT(*) FROM Customer WHERE Active = True');
    assert.equal((counted.body.QueryResponse as Json).totalCount, 1);
  });

  it('gets a 401 for a bad token, which python-quickbooks maps to an authorization error', async () => {
    const answer = await query('SELECT * FROM Customer', 'expired-token');
    assert.equal(answer.status, 401);
  });

  it('runs CDC with an ISO changedSince and reads the time field', async () => {
    const since = new Date(sb.emulator.clock.nowMs() - 3600_000).toISOString();
    const response = await fetch(
      `${base}/cdc?entities=Customer&changedSince=${encodeURIComponent(since)}&minorversion=75`,
      { headers: headers(sb.accessToken, 'application/json') },
    );
    const body = (await response.json()) as Json;
    assert.equal(response.status, 200);
    assert.ok(typeof body.time === 'string');
    const customers = ((body.CDCResponse as Json[])[0]!.QueryResponse as Json[])[0]!.Customer as Json[];
    assert.equal(customers.length, 1);
  });
});
