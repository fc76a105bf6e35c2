// The dashboard on a phone: 390 CSS pixels wide (an iPhone 14's), in Debian's Chromium emulating a mobile device,
// against `npm start`'s own stack. No screen may scroll sideways, and the connect form explains each toggle
// beside it before anything is connected.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chromium, type Browser, type Page } from 'playwright-core';
import { CHROMIUM, CHROMIUM_ARGS, withChromium } from '../support/browserSession.ts';
import { startDemoProcess, type DemoProcess } from '../support/demoProcess.ts';

const WIDTH = 390;

describe('dashboard at 390 px wide', withChromium, () => {
  let demo: DemoProcess;
  let browser: Browser;
  let page: Page;

  before(async () => {
    demo = await startDemoProcess({ timeoutMs: 180_000 });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    page = await browser.newPage({
      viewport: { width: WIDTH, height: 844 },
      isMobile: true,
      hasTouch: true,
      deviceScaleFactor: 2,
    });
    page.setDefaultTimeout(30_000);
  });

  after(async () => {
    await browser?.close();
    await demo?.stop();
  });

  /** What scrolls sideways, if anything: the page's scroll width and the widest elements past the right edge. */
  const overflow = () =>
    page.evaluate((width) => {
      const scrollWidth = document.scrollingElement!.scrollWidth;
      const past = [...document.querySelectorAll('body *')]
        .filter((el) => el.getBoundingClientRect().right > width + 0.5 && el.getClientRects().length > 0)
        .slice(0, 5)
        .map(
          (el) =>
            `${el.tagName.toLowerCase()}${el.id ? `#${el.id}` : ''}${el.className && typeof el.className === 'string' ? `.${el.className.split(' ').join('.')}` : ''} right=${Math.round(el.getBoundingClientRect().right)}`,
        );
      return { scrollWidth, past };
    }, WIDTH);

  const assertNoSidewaysScroll = async (screen: string) => {
    const { scrollWidth, past } = await overflow();
    assert.ok(
      scrollWidth <= WIDTH,
      `${screen}: scrollWidth ${scrollWidth} > ${WIDTH}; past the edge: ${past.join('; ')}`,
    );
  };

  const openConnection = async (name: string, section?: string) => {
    await page.goto(`${demo.url}/#/connections`);
    await page.getByRole('link', { name }).click();
    await page.getByRole('heading', { level: 1, name }).waitFor();
    if (section) await page.getByRole('link', { name: section, exact: true }).click();
  };

  it('logs in without scrolling sideways', async () => {
    await page.goto(demo.url);
    await page.getByLabel('Password').waitFor();
    await assertNoSidewaysScroll('login');
    await page.getByLabel('Password').fill(demo.password);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('heading', { level: 1, name: 'Connections' }).waitFor();
    await page.getByRole('link', { name: 'Harbor Yoga' }).waitFor();
    await assertNoSidewaysScroll('connections');
  });

  it("shows the connect form's toggles with their help text beside them, before connecting", async () => {
    await openConnection('Harbor Yoga');
    await page.getByRole('button', { name: 'Connect QuickBooks' }).waitFor();
    for (const [label, help] of [
      [/Import old invoices/, /copied once into the CRM/],
      [/Send review requests/, /asks them for a review/],
    ] as const) {
      const box = page.getByRole('checkbox', { name: label });
      assert.equal(await box.isChecked(), false);
      // The help is the checkbox's description, visible without connecting or hovering.
      const description = await box.evaluate(
        (el) => document.getElementById(el.getAttribute('aria-describedby') ?? '')?.textContent ?? '',
      );
      assert.match(description, help);
      const helpText = page.getByText(help);
      assert.equal(await helpText.isVisible(), true);
      const boxAt = (await box.boundingBox())!;
      const helpAt = (await helpText.boundingBox())!;
      assert.ok(
        helpAt.x >= boxAt.x + boxAt.width && helpAt.y - (boxAt.y + boxAt.height) < 40,
        `the help sits beside its checkbox: box ${JSON.stringify(boxAt)}, help ${JSON.stringify(helpAt)}`,
      );
      assert.ok(helpAt.x + helpAt.width <= WIDTH, 'the help fits the screen');
    }
    await page.getByLabel(/Send review requests/).check();
    await page.locator('#review-request-method').waitFor();
    await assertNoSidewaysScroll('connect form with the review-request choice');
  });

  it('shows every screen of a connection without scrolling sideways', async () => {
    await openConnection('Sunrise Studio');
    await page.locator('.entry').first().waitFor();
    await page
      .locator('.entry details summary')
      .first()
      .click()
      .catch(() => {});
    await assertNoSidewaysScroll('activity');
    await page.getByRole('link', { name: 'Reconciliation' }).click();
    await page.getByRole('row', { name: /Sales receipts/ }).waitFor({ timeout: 60_000 });
    await assertNoSidewaysScroll('reconciliation');
    await page.getByRole('link', { name: 'Sandbox', exact: true }).click();
    await page.getByRole('form', { name: 'Take a payment' }).waitFor();
    await assertNoSidewaysScroll('sandbox');
    await page.getByLabel('Kind of payment').selectOption({ label: 'Calendar booking (appointment)' });
    await assertNoSidewaysScroll('sandbox, calendar booking');

    await openConnection('Maple Leaf Consulting', 'Tax codes');
    await page.getByRole('table').waitFor({ timeout: 60_000 });
    await assertNoSidewaysScroll('tax codes');
    await page.getByRole('link', { name: 'Sandbox', exact: true }).click();
    await page.getByRole('form', { name: 'Send an invoice' }).waitFor();
    await assertNoSidewaysScroll('sandbox with tax fields');
  });

  it('shows a record as the provider holds it without scrolling the page sideways', async () => {
    await openConnection('Sunrise Studio', 'Sandbox');
    await page.getByRole('form', { name: 'Take a payment' }).getByRole('button', { name: 'Take the payment' }).click();
    await page.getByRole('status').getByText(/paid/).first().waitFor();
    await page.getByRole('link', { name: 'Activity' }).click();
    const link = page
      .locator('.record-group', { has: page.locator('.entry.ok', { hasText: 'Created sales receipt' }) })
      .first()
      .getByRole('link', { name: 'As QuickBooks holds it' });
    await link.waitFor({ timeout: 60_000 });
    await link.click();
    await page.getByLabel('Record').waitFor();
    await assertNoSidewaysScroll('record');
  });
});
