// Signs in to eddy's Web UI in headless Chromium when the REST API needs a token:
// the page loads without it and asks for it, a wrong token is refused, the right
// one opens the overview with the running job, and a reload keeps the session.
//
//   node login.mjs <base-url> <token> <output-dir>
//   EDDY_WEBUI_MODULES=<dir with node_modules/playwright-core>
//
// Prints one line per check; exits 1 at the first failure.

import { join } from 'node:path';

import { check, commandLine, runInChromium } from './harness.mjs';

const [base, token, out] = commandLine('login.mjs', ['base-url', 'token', 'output-dir']);

await runInChromium(async (browser) => {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  page.setDefaultTimeout(20000);

  await check('the API refuses a request without the token', async () => {
    const response = await fetch(`${base}/overview`);
    if (response.status !== 401) throw new Error(`HTTP ${response.status}`);
  });

  await check('the page loads without the token and asks for it', async () => {
    await page.goto(`${base}/`);
    await page.locator('form.login').waitFor();
    const focused = await page.evaluate(() => document.activeElement.id);
    if (focused !== 'token') throw new Error(`the focus is on '${focused}'`);
  });

  await check('a wrong token is refused and asked for again', async () => {
    await page.locator('#token').fill(`${token}-wrong`);
    await page.keyboard.press('Enter');
    await page.locator('#banner', { hasText: 'refused' }).waitFor();
    await page.locator('form.login').waitFor();
  });

  await check('the right token opens the overview with the running job', async () => {
    await page.locator('#token').fill(token);
    await page.locator('[data-action=login]').click();
    await page.locator('tr[data-job] [data-state=RUNNING]').first().waitFor();
    await page.screenshot({ path: join(out, 'signed-in.png'), fullPage: true });
    return await page.locator('tr[data-job] a.job-link').first().textContent();
  });

  await check('a reload keeps the session, and other pages use the token too', async () => {
    await page.reload();
    await page.locator('tr[data-job] [data-state=RUNNING]').first().waitFor();
    if (await page.locator('form.login').count()) throw new Error('asked again after a reload');
    await page.goto(`${base}/#/jobmanager`);
    await page.locator('table.jm-metrics tbody tr').first().waitFor();
  });
});
