import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { describe, it } from 'node:test';
import { request } from './helpers.ts';

describe('ledgerlink emulator quickbooks (CLI)', () => {
  it('prints its URL, serves the fixed-form admin calls and stops cleanly on SIGTERM', async () => {
    const child = spawn(
      process.execPath,
      ['bin/ledgerlink.js', 'emulator', 'quickbooks', '--port', '0', '--limit-factor', '0.1'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    try {
      let output = '';
      child.stdout.setEncoding('utf8');
      const url = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no URL printed: ${output}`)), 20_000);
        child.stdout.on('data', (chunk: string) => {
          output += chunk;
          const match = /listening on (http:\/\/[^\s]+)/.exec(output);
          if (match) {
            clearTimeout(timer);
            resolve(match[1]!);
          }
        });
      });
      const company = await request(`${url}/_emulator/companies`, 'POST', { country: 'GB' });
      const realmId = company.body.realmId as string;
      const tokens = await request(`${url}/_emulator/tokens`, 'POST', { realmId });
      assert.equal(tokens.body.token_type, 'bearer');
      const info = await request(`${url}/v3/company/${realmId}/companyinfo/${realmId}`, 'GET', undefined, {
        authorization: `Bearer ${String(tokens.body.access_token)}`,
      });
      assert.equal((info.body.CompanyInfo as Record<string, unknown>).Country, 'GB');
      child.kill('SIGTERM');
      const [code] = (await once(child, 'exit')) as [number | null];
      assert.equal(code, 0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});
