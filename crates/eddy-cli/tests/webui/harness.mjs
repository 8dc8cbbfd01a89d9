// What the browser checks share: their command line, playwright-core from
// EDDY_WEBUI_MODULES, Debian's Chromium headless, and one printed line per check.

import { createRequire } from 'node:module';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

/**
 * The script's arguments, one per name in names (the last one an output
 * directory, created); prints the usage and exits 2 when one is missing.
 */
export function commandLine(script, names) {
  const values = process.argv.slice(2, 2 + names.length);
  if (values.length < names.length || values.some((v) => !v) || !process.env.EDDY_WEBUI_MODULES) {
    console.error(`usage: EDDY_WEBUI_MODULES=DIR node ${script} ${names.map((n) => `<${n}>`).join(' ')}`);
    process.exit(2);
  }
  mkdirSync(values[values.length - 1], { recursive: true });
  return values;
}

const started = Date.now();

/** Prints a line with the seconds since the start. */
export function log(line) {
  console.log(`[${((Date.now() - started) / 1000).toFixed(1)}s] ${line}`);
}

/** Runs one check: prints `ok` with what work returns, or `FAIL` and rethrows. */
export async function check(name, work) {
  try {
    const detail = await work();
    log(`ok   ${name}${detail ? `: ${detail}` : ''}`);
  } catch (e) {
    log(`FAIL ${name}: ${e.message.split('\n')[0]}`);
    e.logged = true;
    throw e;
  }
}

/** Runs checks(browser) in Chromium, then prints the outcome and exits 0 or 1. */
export async function runInChromium(checks) {
  const require = createRequire(pathToFileURL(join(process.env.EDDY_WEBUI_MODULES, 'index.js')));
  const { chromium } = require('playwright-core');
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
  });
  let failed = false;
  try {
    await checks(browser);
  } catch (e) {
    failed = true;
    if (!e.logged) log(`FAIL ${e.message}`);
  } finally {
    await browser.close();
  }
  log(failed ? 'FAILED' : 'all checks passed');
  process.exit(failed ? 1 : 0);
}
