// Signs in to eddy's Web UI in headless Chromium when the REST API needs a token:
// the page loads without it and asks for it, a wrong token is refused, the right
// one opens the overview with the running job, and a reload keeps the session.
//
//   node login.mjs <base-url> <token> <output-dir>
//   EDDY_WEBUI_MODULES=<dir with node_modules/playwright-core>
//
// Prints one line per check; exits 1 at the first failure.

import { createRequire } from 'node:module';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const [base, token, out] = process.argv.slice(2);
if (!base || !token || !out || !process.env.EDDY_WEBUI_MODULES) {
  console.error('usage: EDDY_WEBUI_MODULES=DIR node login.mjs <base-url> <token> <output-dir>');
  process.exit(2);
}
const require = createRequire(pathToFileURL(join(process.env.EDDY_WEBUI_MODULES, 'index.js')));
const { chromium } = require('playwright-core');
mkdirSync(out, { recursive: true });

const log = (line) => console.log(line);
async function check(name, work) {
  try {
    const detail = await work();
    log(`ok   ${name}${detail ? `: ${detail}` : ''}`);
  } catch (e) {
    log(`FAIL ${name}: ${e.message.split('\n')[0]}`);
    e.logged = true;
    throw e;
  }
}

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
});
let failed = false;
try {
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
} catch (e) {
  failed = true;
  if (!e.logged) log(`FAIL ${e.message}`);
} finally {
  await browser.close();
}
log(failed ? 'FAILED' : 'all checks passed');
process.exit(failed ? 1 : 0);
