// `node --import tsx bench/dashboard-bytes.ts [--seconds 60] [--payments 30]`: the bytes an idle dashboard
// downloads. Starts `npm start`'s own stack (demo data, free ports), takes --payments order-form payments on
// Sunrise Studio's HighLevel location (so the activity list holds a working day's entries, not the demo's few),
// logs in through Debian's Chromium, opens that connection's activity view, waits for the syncs to finish, then
// counts what the browser receives over the wire (headers and encoded bodies, as Chromium's
// network layer reports them) while nobody touches anything. Prints one JSON object; docs/performance.md
// records the figures.
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';
import { CHROMIUM, CHROMIUM_ARGS } from '../test/support/browserSession.ts';
import { startDemoProcess } from '../test/support/demoProcess.ts';

const usage = 'usage: node --import tsx bench/dashboard-bytes.ts [--seconds 60] [--payments 30]';
let values: { seconds?: string | undefined; payments?: string | undefined };
try {
  ({ values } = parseArgs({ options: { seconds: { type: 'string' }, payments: { type: 'string' } } }));
} catch (error) {
  console.error(`${(error as Error).message}\n${usage}`);
  process.exit(2);
}
const seconds = Number(values.seconds ?? 60);
const payments = Number(values.payments ?? 30);
const demo = await startDemoProcess({ timeoutMs: 180_000 });
const browser = await chromium.launch({
  executablePath: CHROMIUM,
  args: CHROMIUM_ARGS,
});
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
  page.setDefaultTimeout(60_000);
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Network.enable');
  // Per request: the URL and status, then the bytes Chromium read from the socket for it (0 for a memory-cache hit).
  const requests = new Map<string, { url: string; status?: number; encoding?: string }>();
  let phase: 'load' | 'idle' | 'revisit' | 'done' = 'load';
  let bytes = 0;
  const byPath = new Map<string, { requests: number; bytes: number; statuses: Set<number> }>();
  cdp.on('Network.requestWillBeSent', (e) => requests.set(e.requestId, { url: e.request.url }));
  cdp.on('Network.responseReceived', (e) => {
    const r = requests.get(e.requestId);
    if (r)
      Object.assign(r, {
        status: e.response.status,
        encoding: e.response.headers['content-encoding'] ?? e.response.headers['Content-Encoding'],
      });
  });
  const loadBytes: { path: string; bytes: number; status?: number; encoding?: string }[] = [];
  const revisitBytes: typeof loadBytes = [];
  cdp.on('Network.loadingFinished', (e) => {
    const r = requests.get(e.requestId);
    if (!r) return;
    const path = new URL(r.url).pathname.replace(/\/connections\/[^/]+/, '/connections/:id');
    if (phase === 'load' || phase === 'revisit') {
      (phase === 'load' ? loadBytes : revisitBytes).push({
        path,
        bytes: e.encodedDataLength,
        status: r.status,
        encoding: r.encoding,
      });
      return;
    }
    if (phase !== 'idle') return;
    bytes += e.encodedDataLength;
    const entry = byPath.get(path) ?? { requests: 0, bytes: 0, statuses: new Set<number>() };
    entry.requests += 1;
    entry.bytes += e.encodedDataLength;
    if (r.status) entry.statuses.add(r.status);
    byPath.set(path, entry);
  });

  await page.goto(demo.url);
  await page.getByLabel('Password').fill(demo.password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByRole('link', { name: 'Sunrise Studio' }).click();
  await page.getByRole('heading', { level: 1, name: 'Sunrise Studio' }).waitFor();
  await page.locator('.entry').first().waitFor();
  const connectionId = decodeURIComponent(new URL(page.url()).hash.split('/')[2]!);
  const card = (await (await page.request.get(`${demo.url}/api/connections/${connectionId}`)).json()) as {
    highlevel: { locationId: string };
  };
  for (let i = 0; i < payments; i += 1) {
    const answer = await fetch(
      `${demo.highlevelUrl}/_emulator/locations/${card.highlevel.locationId}/actions/order-form-payment`,
      {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          contact: { firstName: 'Bench', lastName: `Payer ${i}`, email: `bench.${i}@example.com` },
          items: [{ name: 'Consulting hour', amount: 100 + i }],
        }),
      },
    );
    if (!answer.ok) throw new Error(`payment ${i}: ${answer.status} ${await answer.text()}`);
  }
  // Settle: wait until the list has stopped growing for 10 s (the syncs, the demo's first imports and polls).
  const activityCount = async () =>
    (
      (await (await page.request.get(`${demo.url}/api/connections/${connectionId}/activity?limit=200`)).json()) as {
        entries: unknown[];
      }
    ).entries.length;
  for (let last = -1, count = await activityCount(); count !== last; last = count, count = await activityCount())
    await page.waitForTimeout(10_000);
  const entries = await page.locator('.entry').count();
  phase = 'idle';
  await page.waitForTimeout(seconds * 1000);
  // A later visit: the page again, as after closing the tab (hashed assets come from the browser's cache).
  phase = 'revisit';
  await page.reload();
  await page.locator('.entry').first().waitFor();
  await page.waitForTimeout(1_000);
  phase = 'done';
  const perMinute = Math.round((bytes * 60) / seconds);
  console.log(
    JSON.stringify(
      {
        measuredAt: new Date().toISOString(),
        seconds,
        payments,
        entriesShown: entries,
        bytes,
        bytesPerMinute: perMinute,
        byPath: Object.fromEntries(
          [...byPath].map(([path, v]) => [path, { requests: v.requests, bytes: v.bytes, statuses: [...v.statuses] }]),
        ),
        firstVisit: { assets: loadBytes.filter((l) => /\.(js|css)$|^\/$/.test(l.path)) },
        // The reload's own requests, the first activity poll among them.
        laterVisit: { bytes: revisitBytes.reduce((n, l) => n + l.bytes, 0), requests: revisitBytes },
      },
      null,
      2,
    ),
  );
} finally {
  await browser.close();
  await demo.stop();
}
