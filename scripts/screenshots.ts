// Screenshots of every dashboard screen, taken against `npm start`'s own stack (fresh data, free ports) with
// Debian's Chromium: docs/screenshots/*.png. Run: npm run screenshots (LEDGERLINK_SCREENSHOTS=15,04 writes only the
// pictures whose names start with those prefixes, as does `npm run screenshots -- 16-outage`; the whole walk runs
// either way).
import { mkdirSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { chromium, type Page } from 'playwright-core';
import { CHROMIUM, CHROMIUM_ARGS } from '../test/support/browserSession.ts';
import { startDemoProcess } from '../test/support/demoProcess.ts';

let prefixes: string[];
try {
  prefixes = parseArgs({ allowPositionals: true, options: {} }).positionals;
} catch (error) {
  console.error(`${(error as Error).message}\nusage: npm run screenshots -- [PREFIX...]`);
  process.exit(2);
}
const out = new URL('../docs/screenshots/', import.meta.url).pathname;
mkdirSync(out, { recursive: true });
const demo = await startDemoProcess();
const browser = await chromium.launch({
  executablePath: CHROMIUM,
  args: CHROMIUM_ARGS,
});
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
  page.setDefaultTimeout(30_000);
  // Names or prefixes to write again, from the command line or LEDGERLINK_SCREENSHOTS=15,04.
  const only = [...prefixes, ...(process.env.LEDGERLINK_SCREENSHOTS ?? '').split(',')].filter(Boolean);
  const shot = async (name: string, target: Page = page) => {
    // The pause also lets the page settle before the walk goes on, so it is kept for the pictures not written.
    await target.waitForTimeout(300);
    if (only.length > 0 && !only.some((prefix) => name.startsWith(prefix))) return;
    await target.screenshot({ path: `${out}${name}.png`, fullPage: true });
    console.log(`docs/screenshots/${name}.png`);
  };
  const open = async (name: string, section?: string) => {
    await page.goto(`${demo.url}/#/connections`);
    await page.getByRole('link', { name }).click();
    await page.getByRole('heading', { level: 1, name }).waitFor();
    if (section) await page.getByRole('link', { name: section }).click();
  };

  await page.goto(demo.url);
  await page.getByLabel('Password').waitFor();
  await shot('01-login');
  await page.getByLabel('Password').fill(demo.password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByRole('link', { name: 'Harbor Yoga' }).waitFor();
  await shot('02-connections');

  // The connect form on a phone, before connecting: each toggle with what it does beside it.
  const narrow = await browser.newPage({ viewport: { width: 390, height: 844 }, isMobile: true });
  await narrow.context().addCookies(await page.context().cookies());
  await narrow.goto(page.url().replace(/#.*/, '#/connections'));
  await narrow.getByRole('link', { name: 'Harbor Yoga' }).click();
  await narrow.getByRole('button', { name: 'Connect QuickBooks' }).waitFor();
  await shot('18-mobile-connect', narrow);

  // Another connection's company chosen on Intuit's page: refused, naming that connection; nothing changes.
  await open('Harbor Yoga');
  await page.getByRole('button', { name: 'Connect QuickBooks' }).click();
  await page.waitForURL((url) => url.href.startsWith(demo.quickbooksUrl));
  await page.getByLabel(/Sunrise Studio LLC/).check();
  await page.getByRole('button', { name: 'Connect', exact: true }).click();
  await page.getByRole('heading', { level: 1, name: 'This QuickBooks company is already connected' }).waitFor();
  await shot('15-company-already-used');

  await open('Harbor Yoga');
  await page.getByLabel(/Import old invoices/).check();
  await shot('03-connect-quickbooks');
  await page.getByRole('button', { name: 'Connect QuickBooks' }).click();
  await page.waitForURL((url) => url.href.startsWith(demo.quickbooksUrl));
  await page.getByLabel(/Harbor Yoga LLC/).check();
  await shot('04-quickbooks-consent-emulator');
  await page.getByRole('button', { name: 'Connect', exact: true }).click();
  await page.getByText('Harbor Yoga is connected').waitFor();
  await shot('05-connected-card');

  await open('Sunrise Studio', 'Sandbox');
  await shot('06-sandbox');
  const pay = page.getByRole('form', { name: 'Take a payment' });
  await pay.getByRole('button', { name: 'Take the payment' }).click();
  await page.getByRole('link', { name: 'Activity' }).click();
  const receipt = page
    .locator('.record-group', { has: page.locator('.entry.ok', { hasText: 'Created sales receipt' }) })
    .first();
  await receipt.waitFor();
  await receipt.locator('summary').first().click();
  await shot('07-activity');
  await receipt.getByRole('link', { name: 'As QuickBooks holds it' }).click();
  await page.getByLabel('Record').waitFor();
  await shot('08-record-quickbooks-side');

  // An invoice too, and ledgerlink's own changes coming back shown in the groups of the records they concern.
  await open('Sunrise Studio', 'Sandbox');
  await page.getByRole('form', { name: 'Send an invoice' }).getByRole('button', { name: 'Send the invoice' }).click();
  await page
    .getByText(/Invoice .* was sent to/)
    .first()
    .waitFor();
  await page.getByRole('link', { name: 'Activity' }).click();
  await page
    .locator('.record-group', { has: page.locator('.entry.ok', { hasText: 'Created QuickBooks invoice' }) })
    .first()
    .waitFor();
  await page.waitForTimeout(3000);
  await page.getByLabel("Show ledgerlink's own changes coming back").check();
  await page.locator('.entry.echo').first().waitFor();
  await shot('17-activity-grouped');

  await open('Maple Leaf Consulting', 'Sandbox');
  const caPay = page.getByRole('form', { name: 'Take a payment' });
  await caPay.getByLabel('Tax rate % (optional)').fill('15');
  await caPay.getByRole('button', { name: 'Take the payment' }).click();
  await page.getByRole('link', { name: 'Activity' }).click();
  await page.getByLabel('Status').selectOption('error');
  await page.locator('.entry.error').first().waitFor();
  await shot('09-error-with-fix');
  await page.getByRole('link', { name: 'Tax codes' }).click();
  await page.getByLabel('QuickBooks tax code for HST 15%').selectOption({ label: 'HST NS (15%)' });
  await shot('10-tax-code-mapping');
  await page.getByRole('button', { name: 'Save the mapping' }).click();
  await page.getByText(/Saved 1 mapping/).waitFor();
  await page.getByRole('link', { name: 'Activity' }).click();
  await page.locator('.entry.error').first().getByRole('button', { name: 'Retry' }).click();
  await page.locator('.entry.ok', { hasText: /Created sales receipt .* CAD/ }).waitFor();
  await shot('11-after-retry');

  await open('Sunrise Studio', 'Reconciliation');
  await page.getByRole('row', { name: /Sales receipts/ }).waitFor();
  await shot('12-reconciliation');

  // The bookkeeper's mappings: chosen from the company's own lists, products found by search (not saved here, so
  // the pictures after this one show ledgerlink's automatic choices).
  await open('Sunrise Studio', 'Mappings');
  await page.getByRole('heading', { level: 2, name: 'Mappings' }).waitFor({ timeout: 60_000 });
  await page.getByLabel('Sales receipts deposit to').selectOption({ index: 1 });
  await page.getByLabel('QuickBooks item for Photo session').selectOption({ label: 'Photo session' });
  await page.getByLabel('QuickBooks payment method for Visa').selectOption({ label: 'Visa' });
  await shot('19-mappings');

  await narrow.goto(page.url().replace(/#.*/, '#/connections'));
  await narrow.getByRole('link', { name: 'Sunrise Studio' }).click();
  await narrow.locator('.entry').first().waitFor();
  await shot('13-narrow-screen', narrow);

  // QuickBooks answers 500 to every sales receipt: the card says so while the payment waits for its next try.
  const faults = (method: string, body?: unknown) =>
    fetch(`${demo.quickbooksUrl}/_emulator/faults`, {
      method,
      headers: { 'content-type': 'application/json' },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
  await faults('PUT', { rules: [{ kind: 'error500', rate: 1, method: 'POST', path: '/salesreceipt' }] });
  await open('Sunrise Studio', 'Sandbox');
  const outagePay = page.getByRole('form', { name: 'Take a payment' });
  await outagePay.getByLabel('Email').fill('during.outage@example.com');
  await outagePay.getByRole('button', { name: 'Take the payment' }).click();
  await page.getByRole('link', { name: 'Activity' }).click();
  for (let i = 0; i < 30 && !(await page.locator('#failing-sides').isVisible()); i += 1) {
    await page.waitForTimeout(1000);
    await page.reload();
  }
  await page.locator('#failing-sides').waitFor();
  await page.locator('.entry.info', { hasText: 'QuickBooks is failing' }).first().waitFor();
  // Pictured once the payment has failed and waits for its next try (the notice refreshes itself).
  await page
    .locator('#failing-sides', { hasText: 'Records waiting1' })
    .or(page.locator('#failing-sides', { hasText: /Records waiting\s*1\b/ }))
    .first()
    .waitFor({ timeout: 60_000 });
  await shot('16-outage-in-progress');
  await faults('DELETE');
  // The outage ends: the waiting payment goes through and the notice goes by itself.
  await page.locator('#failing-sides').waitFor({ state: 'detached', timeout: 90_000 });

  // A connection waiting for one side: Disconnect, then QuickBooks alone reconnected.
  page.once('dialog', (dialog) => void dialog.accept());
  await open('Sunrise Studio');
  await page.getByRole('button', { name: 'Disconnect' }).click();
  await page.getByRole('button', { name: 'Reconnect QuickBooks' }).click();
  await page.waitForURL((url) => url.href.startsWith(demo.quickbooksUrl));
  await page.getByLabel(/Sunrise Studio LLC/).check();
  await page.getByRole('button', { name: 'Connect', exact: true }).click();
  await page.getByRole('button', { name: 'Reconnect HighLevel' }).waitFor();
  await shot('14-needs-highlevel-reconnect');
} finally {
  await browser.close();
  await demo.stop();
}
