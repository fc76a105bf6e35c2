// npm run vendor-specs (scripts/vendor-specs.mjs) against a local server standing in for the raw-file host: it asks
// for each file at its pinned commit, writes the folder only when every SHA-256 matches, and refuses a changed file
// without touching what was there. Where a copy of the specs exists here, the server serves it in the upstream
// layout and the script must reproduce it byte for byte.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findVendorSpecs } from '../../emulators/common/vendorSpecs.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
const HIGHLEVEL = '/GoHighLevel/highlevel-api-docs/0af86a4cbd48c66a4071c7e509d1079f9f10ed17/';
const QUICKBOOKS = '/intuit/QuickBooks-V3-PHP-SDK/5bb480b505726d9f7b89ff0747b9acc629236a77/';

/** Where an upstream path is in a local copy laid out as the script writes it; undefined: not one of the files. */
function localPath(specRoot: string, urlPath: string): string | undefined {
  const path = decodeURIComponent(urlPath);
  if (path.startsWith(HIGHLEVEL)) return join(specRoot, 'highlevel', path.slice(HIGHLEVEL.length));
  if (path === `${QUICKBOOKS}LICENSE`) return join(specRoot, 'quickbooks/LICENSE');
  if (path.startsWith(`${QUICKBOOKS}src/XSD/`))
    return join(specRoot, 'quickbooks/xsd', path.slice(`${QUICKBOOKS}src/XSD/`.length));
  return undefined;
}

function runScript(args: string[], env: Record<string, string>): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(root, 'scripts/vendor-specs.mjs'), ...args], {
      env: { PATH: process.env.PATH ?? '', ...env },
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d));
    child.stderr.on('data', (d: Buffer) => (output += d));
    child.on('exit', (code) => resolve({ code: code ?? -1, output }));
  });
}

describe('npm run vendor-specs', () => {
  let server: Server;
  let base = '';
  let mode: 'serve' | 'tamper' | 'missing' = 'serve';
  const requested: string[] = [];
  const found = findVendorSpecs('highlevel');
  const specRoot = found.missing ? undefined : dirname(found.dir);
  const work = mkdtempSync(join(tmpdir(), 'ledgerlink-vendor-specs-'));

  before(async () => {
    server = createServer((req, res) => {
      requested.push(req.url!);
      const file = specRoot ? localPath(specRoot, req.url!) : undefined;
      if (mode === 'missing') res.writeHead(404).end('Not Found');
      else if (mode === 'tamper' || !file) res.writeHead(200).end('not the pinned file\n');
      else res.writeHead(200).end(readFileSync(file));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => {
    rmSync(work, { recursive: true, force: true });
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('asks for each file at its pinned commit, and writes nothing when a checksum differs', async () => {
    mode = 'tamper';
    requested.length = 0;
    const out = join(work, 'tampered');
    const run = await runScript(['--out', out], { LEDGERLINK_VENDOR_SPECS_RAW_URL: base });
    assert.equal(run.code, 1, run.output);
    assert.match(run.output, /vendor specs NOT written \(46 of 46 files failed/);
    assert.match(run.output, /highlevel\/apps\/contacts\.json: SHA-256 [0-9a-f]{64}, expected d251defab9b0/);
    assert.equal(existsSync(out), false);
    assert.equal(requested.length, 46);
    assert.ok(requested.includes(`${HIGHLEVEL}apps/invoices.json`));
    assert.ok(requested.includes(`${HIGHLEVEL}docs/webhook%20events/InvoicePaid.md`));
    assert.ok(requested.includes(`${QUICKBOOKS}src/XSD/Finance.xsd`));
  });

  it('stops at a 404 without retrying, naming the URL', async () => {
    mode = 'missing';
    requested.length = 0;
    const run = await runScript(['--out', join(work, 'missing')], { LEDGERLINK_VENDOR_SPECS_RAW_URL: base });
    assert.equal(run.code, 1);
    assert.match(run.output, /404 Not Found/);
    assert.equal(requested.length, 46, 'one request a file');
  });

  it('reproduces the specs byte for byte from the upstream layout, and leaves a complete folder alone', {
    skip: found.missing,
  }, async () => {
    mode = 'serve';
    const out = join(work, 'served');
    const first = await runScript(['--out', out], { LEDGERLINK_VENDOR_SPECS_RAW_URL: base });
    assert.equal(first.code, 0, first.output);
    assert.match(first.output, /wrote .*; every checksum matches/);
    for (const file of [
      'highlevel/apps/invoices.json',
      'highlevel/docs/webhook events/InvoicePaid.md',
      'quickbooks/xsd/Finance.xsd',
      'quickbooks/LICENSE',
    ]) {
      assert.ok(readFileSync(join(out, file)).equals(readFileSync(join(specRoot!, file))), file);
    }
    requested.length = 0;
    const second = await runScript(['--out', out], { LEDGERLINK_VENDOR_SPECS_RAW_URL: base });
    assert.equal(second.code, 0);
    assert.match(second.output, /is complete and every checksum matches/);
    assert.equal(requested.length, 0);
  });

  it('copies and checks a local copy with --from', { skip: found.missing }, async () => {
    const out = join(work, 'copied');
    const run = await runScript(['--out', out, '--from', specRoot!], {});
    assert.equal(run.code, 0, run.output);
    assert.ok(
      readFileSync(join(out, 'highlevel/apps/contacts.json')).equals(
        readFileSync(join(specRoot!, 'highlevel/apps/contacts.json')),
      ),
    );
  });
});
