// A QuickBooks outage in the browser: while QuickBooks answers 500 to every sales receipt, the connection's page
// says QuickBooks is failing, since when, how many records wait and when the next try is; once QuickBooks answers
// again the notice goes by itself (the page refreshes it) and the payment arrives once.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import { openDashboard, withChromium, type DashboardSession } from '../support/browserSession.ts';
import type { DemoProcess } from '../support/demoProcess.ts';
import { emulatorAdmin } from '../support/emulatorAdmin.ts';

describe('a QuickBooks outage in the browser', withChromium, () => {
  let session: DashboardSession | undefined;
  let demo: DemoProcess;
  let page: Page;
  let scriptErrors: string[] = [];

  before(async () => {
    session = await openDashboard();
    ({ demo, page, scriptErrors } = session);
  });

  after(async () => {
    await emulatorAdmin(demo.quickbooksUrl, 'DELETE', '/faults').catch(() => {});
    await session?.close();
  });

  it('shows QuickBooks failing with the records waiting and the next try, then clears by itself', async () => {
    await page.getByRole('link', { name: 'Sunrise Studio' }).click();
    await page.getByRole('heading', { level: 1, name: 'Sunrise Studio' }).waitFor();
    await emulatorAdmin(demo.quickbooksUrl, 'PUT', '/faults', {
      rules: [{ kind: 'error500', rate: 1, method: 'POST', path: '/salesreceipt' }],
    });
    await page.getByRole('link', { name: 'Sandbox' }).click();
    const form = page.getByRole('form', { name: 'Take a payment' });
    await form.getByLabel('Email').fill('outage.browser@example.com');
    // The amount's field is "Amount" or, where the sandbox takes several lines, "Price 1".
    await form.getByLabel(/^(Amount|Price 1)/).fill('77.00');
    await form.getByRole('button', { name: 'Take the payment' }).click();
    await page
      .getByRole('status')
      .getByText(/paid 77/)
      .first()
      .waitFor();

    // The page is opened again until the first failure is recorded (a page that shows no failure does not poll).
    await page.getByRole('link', { name: 'Activity' }).click();
    const notice = page.locator('#failing-sides');
    const deadline = Date.now() + 30_000;
    while (!(await notice.isVisible())) {
      assert.ok(Date.now() < deadline, 'the failing notice within 30 s');
      await page.waitForTimeout(1000);
      await page.reload();
      await page.getByRole('heading', { level: 1, name: 'Sunrise Studio' }).waitFor();
    }
    await notice.getByText('QuickBooks is failing').waitFor();
    // The first tries run inside the job; then the record waits for its next try (the notice refreshes itself).
    let text = await notice.innerText();
    for (
      const until = Date.now() + 30_000;
      !/Records waiting\s+1/.test(text) && Date.now() < until;
      text = await notice.innerText()
    )
      await page.waitForTimeout(500);
    assert.match(text, /since /);
    assert.match(text, /Records waiting\s+1/);
    assert.match(text, /Next try\s+\S.*\((in \d+ s|now)\)/);
    assert.match(text, /HTTP 500/);
    assert.equal(await page.locator('#failing-sides', { hasText: 'HighLevel' }).count(), 0);

    // QuickBooks answers again: without a reload the notice goes, and the payment's receipt is there once.
    await emulatorAdmin(demo.quickbooksUrl, 'DELETE', '/faults');
    await notice.waitFor({ state: 'detached', timeout: 90_000 });
    await page.reload();
    const created = page.locator('.entry.ok', { hasText: /Created sales receipt .* 77\.00 USD/ });
    await created.waitFor({ timeout: 30_000 });
    assert.equal(await created.count(), 1);
    await page.locator('.entry.info', { hasText: 'QuickBooks answers again' }).waitFor();
  });

  it('threw no script error', () => {
    assert.deepEqual(scriptErrors, []);
  });
});
