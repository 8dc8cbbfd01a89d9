// Drives eddy's Web UI in headless Chromium (Debian's, through playwright-core) against
// an `eddy sql` process running two jobs, and checks what a user sees: the overview,
// the job graph with its load, the subtasks of a vertex (by mouse and keyboard), the
// tabs (watermarks and backpressure among them), an API error, a savepoint taken
// from the form, the SQL editor (a query's changelog, an unbounded query
// cancelled, an error's position, an INSERT whose job opens and is cancelled),
// stop with a savepoint (one job), cancel (the other, last: the process ends
// with its last job), and a 50-vertex graph.
//
//   node check.mjs <base-url> <job-id> <stopped-job-id> <output-dir>
//   EDDY_WEBUI_MODULES=<dir with node_modules/playwright-core>
//
// Prints one line per check; exits 1 at the first failure.

import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { check, commandLine, runInChromium } from './harness.mjs';

const [base, job, stopped, out] = commandLine('check.mjs', ['base-url', 'job-id', 'stopped-job-id', 'output-dir']);

async function rest(path) {
  const response = await fetch(base + path);
  if (!response.ok) throw new Error(`GET ${path}: HTTP ${response.status}`);
  return response.json();
}

await runInChromium(async (browser) => {
  const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
  page.setDefaultTimeout(20000);
  const consoleErrors = [];
  page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
  page.on('pageerror', (e) => consoleErrors.push(e.message));

  const { plan } = await rest(`/jobs/${job}/plan`);

  await check('the overview lists the job as RUNNING', async () => {
    await page.goto(`${base}/`);
    const row = page.locator(`tr[data-job="${job}"]`);
    await row.locator('[data-state=RUNNING]').waitFor();
    const tms = await page.locator('[data-card=TaskManagers] .card-value').textContent();
    if (tms.trim() !== '1') throw new Error(`TaskManagers card shows ${tms}`);
    // The TaskManagers table: the embedded runtime is one, with its hardware.
    const tm = page.locator('table.taskmanagers tbody tr');
    if (await tm.count() !== 1) throw new Error(`${await tm.count()} TaskManager rows`);
    const cells = await tm.first().locator('td').allTextContents();
    if (cells[0].trim() !== 'local' || !(Number(cells[4]) >= 1) || cells[5].trim() === '–') {
      throw new Error(`TaskManager row: ${cells.join(' | ')}`);
    }
    await page.screenshot({ path: join(out, 'overview.png'), fullPage: true });
    return `${await row.locator('a.job-link').textContent()}, 1 TaskManager`;
  });

  await check('clicking the job opens its page', async () => {
    await page.locator(`tr[data-job="${job}"] a.job-link`).click();
    await page.waitForFunction((id) => location.hash === `#/jobs/${id}`, job);
    await page.locator('[data-part=job-facts] [data-state=RUNNING]').waitFor();
    const focused = await page.evaluate(() => document.activeElement.id);
    if (focused !== 'main') throw new Error(`the focus is on '${focused}', not on the page`);
    return `${await page.locator('h1.job-name').textContent()}, focus on the page`;
  });

  await check('the job graph draws one SVG node per vertex', async () => {
    await page.locator('svg.graph g.node').first().waitFor();
    const drawn = await page.locator('svg.graph g.node').count();
    if (drawn !== plan.nodes.length) throw new Error(`${drawn} nodes for ${plan.nodes.length} vertices`);
    for (const node of plan.nodes) {
      const title = await page.locator(`g.node[data-vertex="${node.id}"] title`).textContent();
      if (title !== node.description) throw new Error(`vertex ${node.id} is titled ${title}`);
    }
    const labels = await page.locator('svg.graph .edge-label').allTextContents();
    return `${drawn} nodes, edges ${labels.join(', ')}`;
  });

  await check('the graph shows live non-zero rates', async () => {
    await page.waitForFunction(() => Array.from(document.querySelectorAll('.node-rates'))
      .some((t) => /out [1-9]/.test(t.textContent)), null, { timeout: 15000 });
    const rates = await page.locator('.node-rates').allTextContents();
    await page.mouse.move(0, 0);
    await page.screenshot({ path: join(out, 'job.png'), fullPage: true });
    return rates.join(' | ');
  });

  await check('the graph shows how busy and backpressured each vertex is', async () => {
    await page.waitForFunction((n) => {
      const loads = Array.from(document.querySelectorAll('.node-load'));
      return loads.length === n && loads.every((t) => /^busy \d+% · backpressured \d+%$/.test(t.textContent));
    }, plan.nodes.length, { timeout: 15000 });
    const levels = await page.locator('g.node[data-backpressure]').count();
    if (levels !== plan.nodes.length) throw new Error(`${levels} nodes with a backpressure level`);
    return (await page.locator('.node-load').allTextContents()).join(' | ');
  });

  await check('the vertex table shows the bytes sent over the HASH edge', async () => {
    const sent = () => page.locator('table.vertices tbody tr').evaluateAll((trs) => trs
      .map((tr) => [tr.cells[0].textContent, tr.cells[5].textContent, tr.cells[6].textContent]));
    // One vertex sends over the edge, the next one reads what came.
    for (const cell of [6, 5]) {
      await page.waitForFunction((i) => Array.from(document.querySelectorAll('table.vertices tbody tr'))
        .some((tr) => /[KM]iB/.test(tr.cells[i].textContent)), cell);
    }
    const rows = await sent();
    const over = rows.filter(([, bytesIn, out]) => /[KM]iB/.test(bytesIn + out));
    return over.map(([name, bytesIn, out]) => `${name.slice(0, 24)}: in ${bytesIn}, out ${out}`).join(' | ');
  });

  await check('the page updates its numbers without reloading', async () => {
    const cell = page.locator(`table.vertices tr[data-vertex="${plan.nodes[0].id}"] td`).nth(4);
    const before = await cell.textContent();
    await page.evaluate(() => { window.notReloaded = true; });
    await page.waitForFunction(([id, old]) => {
      const td = document.querySelectorAll(`table.vertices tr[data-vertex="${id}"] td`)[4];
      return td && td.textContent !== old && window.notReloaded;
    }, [plan.nodes[0].id, before], { timeout: 6000 });
    return `records out ${before} -> ${await cell.textContent()}`;
  });

  await check('clicking a vertex lists its subtasks', async () => {
    const first = plan.nodes[0];
    await page.locator(`g.node[data-vertex="${first.id}"]`).click();
    const rows = page.locator('.vertex-panel table.subtasks tbody tr');
    await rows.first().waitFor();
    const n = await rows.count();
    if (n !== first.parallelism) throw new Error(`${n} subtasks, parallelism ${first.parallelism}`);
    return `${n} subtasks of ${first.description}`;
  });

  await check('a vertex opens from the keyboard', async () => {
    const last = plan.nodes[plan.nodes.length - 1];
    await page.locator(`g.node[data-vertex="${last.id}"]`).focus();
    await page.keyboard.press('Enter');
    await page.locator('#vertex-title', { hasText: last.description }).waitFor();
    await page.locator('.vertex-panel button', { hasText: 'Close' }).focus();
    await page.keyboard.press('Enter');
    await page.locator('.vertex-panel').waitFor({ state: 'hidden' });
    return `Enter on ${last.description}, then Close`;
  });

  await check('the skip link moves the focus and keeps the page', async () => {
    const hash = await page.evaluate(() => location.hash);
    await page.locator('a.skip').focus();
    await page.keyboard.press('Enter');
    const after = await page.evaluate(() => [location.hash, document.activeElement.id]);
    if (after[0] !== hash || after[1] !== 'main') throw new Error(`hash ${after[0]}, focus on #${after[1]}`);
  });

  await check('an API error is shown to the user', async () => {
    await page.locator('#savepoint-dir').fill('');
    await page.locator('[data-action=savepoint]').click();
    const error = page.locator('.action-status.error');
    await error.waitFor();
    const text = await error.textContent();
    if (!/savepoint directory/i.test(text)) throw new Error(`shown: ${text}`);
    // The browser logs the refused request (HTTP 400) itself.
    const other = consoleErrors.filter((m) => !/400/.test(m));
    consoleErrors.length = 0;
    consoleErrors.push(...other);
    return text;
  });

  await check('the checkpoints tab shows completed checkpoints', async () => {
    await page.locator('a.tab[data-tab=checkpoints]').click();
    await page.locator('table.checkpoint-history [data-state=COMPLETED]').first().waitFor();
    await page.locator('[data-part=checkpoint-config]').waitFor();
    const counts = await page.locator('[data-part=checkpoint-counts]').innerText();
    return counts.replace(/\s+/g, ' ');
  });

  await check('a checkpoint opens its details per vertex and subtask', async () => {
    const row = page.locator('table.checkpoint-history tr', { has: page.locator('[data-state=COMPLETED]') }).first();
    const id = await row.locator('button[data-checkpoint]').textContent();
    await row.locator('button[data-checkpoint]').click();
    const vertices = page.locator('table.checkpoint-vertices > tbody > tr[data-vertex]');
    await vertices.first().waitFor();
    if (await vertices.count() !== plan.nodes.length) throw new Error(`${await vertices.count()} vertices`);
    const acked = await vertices.evaluateAll((trs) => trs.map((tr) => tr.cells[1].textContent));
    if (acked.some((a) => a !== '2/2')) throw new Error(`acknowledged ${acked.join(', ')}`);
    // The keyboard opens a vertex's subtasks.
    await vertices.first().locator('button').focus();
    await page.keyboard.press('Enter');
    const subtasks = page.locator('table.checkpoint-subtasks tbody tr');
    await subtasks.first().waitFor();
    const cells = await subtasks.first().locator('td').allTextContents();
    if (await subtasks.count() !== 2 || cells[1] !== 'completed' || !/ms|s$/.test(cells[5])) {
      throw new Error(`subtask row ${cells.join(' | ')}`);
    }
    await page.screenshot({ path: join(out, 'checkpoints.png'), fullPage: true });
    return `checkpoint ${id}: ${acked.length} vertices ${acked[0]}, subtask 0 ${cells.slice(2).join(' | ')}`;
  });

  await check('the exceptions tab shows none', async () => {
    await page.locator('a.tab[data-tab=exceptions]').click();
    await page.locator('[data-part=no-exceptions]').waitFor();
  });

  await check('the configuration tab shows the job keys', async () => {
    await page.locator('a.tab[data-tab=configuration]').click();
    await page.locator('table.config').getByText('execution.checkpointing.interval').waitFor();
  });

  await check('the watermarks tab shows the event time each vertex reached', async () => {
    await page.locator('a.tab[data-tab=watermarks]').click();
    const rows = page.locator('table.watermarks > tbody > tr[data-vertex]');
    await page.waitForFunction((n) => document.querySelectorAll('table.watermarks > tbody > tr[data-vertex]').length === n,
      plan.nodes.length);
    // The assigner's output and everything downstream reach a time of today.
    const stamp = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}$/;
    await page.waitForFunction((pattern) => Array.from(document.querySelectorAll('table.watermarks > tbody > tr[data-vertex]'))
      .some((tr) => new RegExp(pattern).test(tr.cells[2].textContent)), stamp.source);
    const sink = plan.nodes[plan.nodes.length - 1];
    const sinkRow = page.locator(`table.watermarks > tbody > tr[data-vertex="${sink.id}"]`);
    await page.waitForFunction((id) => {
      const tr = document.querySelector(`table.watermarks > tbody > tr[data-vertex="${id}"]`);
      return tr && /^\d{4}-/.test(tr.cells[1].textContent);
    }, sink.id);
    await sinkRow.locator('button').click();
    const subtasks = page.locator(`tr[data-subtasks-of="${sink.id}"] table.subtasks tbody tr`);
    await subtasks.first().waitFor();
    if (await subtasks.count() !== sink.parallelism) throw new Error(`${await subtasks.count()} subtask rows`);
    // It stays open across the live refresh.
    await page.waitForTimeout(2500);
    if (await subtasks.count() !== sink.parallelism) throw new Error('the subtasks closed on refresh');
    await page.screenshot({ path: join(out, 'watermarks.png'), fullPage: true });
    return `${await rows.count()} vertices, sink input ${await sinkRow.locator('td').nth(1).textContent()}`;
  });

  await check('the backpressure tab shows each vertex\'s level and time shares', async () => {
    await page.locator('a.tab[data-tab=backpressure]').click();
    await page.waitForFunction((n) => document.querySelectorAll('table.backpressure > tbody > tr[data-vertex] [data-level]').length === n,
      plan.nodes.length, { timeout: 15000 });
    const first = page.locator('table.backpressure > tbody > tr[data-vertex]').first();
    const cells = await first.locator('td').allTextContents();
    if (!cells.slice(2).every((c) => /^\d+%$/.test(c.trim()))) throw new Error(`cells ${cells.join(' | ')}`);
    await first.locator('button').press('Enter');
    await page.locator('table.backpressure tr.subtask-row table.subtasks tbody tr').first().waitFor();
    await page.screenshot({ path: join(out, 'backpressure.png'), fullPage: true });
    return cells.join(' | ');
  });

  const target = join(out, 'savepoints');
  await check('a savepoint triggered from the form shows its location', async () => {
    await page.locator('a.tab[data-tab=checkpoints]').click();
    await page.locator('#savepoint-dir').fill(target);
    await page.locator('[data-action=savepoint]').click();
    const location = (await page.locator('[data-part=savepoint-location]').textContent({ timeout: 30000 })).trim();
    if (!location.startsWith(target)) throw new Error(`location ${location} is not under ${target}`);
    if (!existsSync(location)) throw new Error(`${location} does not exist`);
    await page.locator('table.checkpoint-history').getByText('Savepoint').first().waitFor();
    return location;
  });

  await check('a graph of 50 vertices with long names draws without overlaps', async () => {
    const result = await page.evaluate(async () => {
      const { drawGraph } = await import('/ui/graph.js');
      const nodes = [];
      for (let i = 0; i < 50; i += 1) {
        const inputs = [];
        if (i > 0 && i < 30) inputs.push({ id: `v${i - 1}`, ship_strategy: i % 3 ? 'FORWARD' : 'HASH' });
        if (i >= 30) inputs.push({ id: `v${(i * 7) % 30}`, ship_strategy: 'REBALANCE' });
        if (i >= 40) inputs.push({ id: `v${i - 10}`, ship_strategy: 'BROADCAST' });
        nodes.push({ id: `v${i}`, parallelism: 1 + (i % 4), inputs,
          description: `Operator ${i} WWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWW end` });
      }
      const box = document.createElement('div');
      box.className = 'graph-box';
      box.id = 'graph-50';
      document.body.append(box);
      drawGraph(box, { nodes }, () => {});
      const boxes = Array.from(box.querySelectorAll('g.node')).map((g) => g.querySelector('.node-box').getBoundingClientRect());
      let overlaps = 0;
      for (let a = 0; a < boxes.length; a += 1) {
        for (let b = a + 1; b < boxes.length; b += 1) {
          const p = boxes[a];
          const q = boxes[b];
          if (p.left < q.right && q.left < p.right && p.top < q.bottom && q.top < p.bottom) overlaps += 1;
        }
      }
      const widest = Math.max(...Array.from(box.querySelectorAll('.node-name')).map((t) => t.getComputedTextLength()));
      const titled = Array.from(box.querySelectorAll('g.node title')).every((t) => t.textContent.endsWith(' end'));
      const drawn = boxes.length;
      const nodeWidth = boxes[0].width;
      return { drawn, overlaps, widest, nodeWidth, titled };
    });
    await page.locator('#graph-50').screenshot({ path: join(out, 'graph-50.png') });
    await page.evaluate(() => document.getElementById('graph-50').remove());
    if (result.drawn !== 50 || result.overlaps || result.widest > result.nodeWidth - 14 || !result.titled) {
      throw new Error(JSON.stringify(result));
    }
    return `50 nodes, no overlap, widest name ${Math.round(result.widest)}px in a ${Math.round(result.nodeWidth)}px node`;
  });

  await check('the job page fits a laptop and a wide screen without page overflow', async () => {
    await page.locator('a.tab[data-tab=overview]').click();
    await page.locator('svg.graph g.node').first().waitFor();
    const sizes = [];
    for (const [width, height] of [[1024, 700], [1280, 800], [2560, 1400]]) {
      await page.setViewportSize({ width, height });
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      if (overflow > 1) throw new Error(`${overflow}px wider than a ${width}px window`);
      sizes.push(width);
    }
    await page.setViewportSize({ width: 1024, height: 700 });
    await page.screenshot({ path: join(out, 'job-1024.png'), fullPage: true });
    await page.setViewportSize({ width: 1440, height: 900 });
    return `${sizes.join(', ')} px wide`;
  });

  await check('an unknown job shows the API\'s error', async () => {
    await page.goto(`${base}/#/jobs/00000000000000000000000000000000`);
    await page.locator('#banner', { hasText: 'not found' }).waitFor();
    const text = await page.locator('#banner').textContent();
    const other = consoleErrors.filter((m) => !/404/.test(m));
    consoleErrors.length = 0;
    consoleErrors.push(...other);
    await page.goto(`${base}/#/jobs/${job}`);
    await page.locator('[data-part=job-facts] [data-state=RUNNING]').waitFor();
    return text;
  });

  await check('the JobManager page shows metrics, configuration and a log that follows its end', async () => {
    await page.locator('header nav a', { hasText: 'JobManager' }).click();
    await page.waitForFunction(() => location.hash === '#/jobmanager');
    const rows = page.locator('table.jm-metrics tbody tr');
    await rows.first().waitFor();
    const value = (label) => rows.filter({ hasText: label }).locator('td').nth(1);
    const threads = await value('Threads').textContent();
    if (!(Number(threads.replace(/,/g, '')) >= 2)) throw new Error(`threads ${threads}`);
    // The CPU load is measured over a second or more: it shows on a later refresh.
    await value('CPU load').filter({ hasText: /^\d+%$/ }).waitFor();
    await page.locator('table.jm-config').getByText('rest.port').waitFor();
    const file = page.locator('button[data-log]').first();
    await file.click();
    const log = page.locator('pre.log');
    await page.waitForFunction(() => (document.querySelector('pre.log') || {}).textContent.length > 0);
    const before = (await log.textContent()).length;
    // The job keeps logging (a checkpoint every 200 ms): the view grows and stays at the end.
    await page.waitForFunction((n) => document.querySelector('pre.log').textContent.length !== n, before, { timeout: 10000 });
    const atEnd = await log.evaluate((el) => el.scrollHeight <= el.clientHeight || el.scrollTop + el.clientHeight >= el.scrollHeight - 4);
    if (!atEnd) throw new Error('the log view is not at its end');
    await page.screenshot({ path: join(out, 'jobmanager.png'), fullPage: true });
    return `${await file.textContent()}, ${threads} threads, CPU load ${await value('CPU load').textContent()}`;
  });

  await check('a TaskManager opens from the overview with its slots, metrics and logs', async () => {
    await page.goto(`${base}/`);
    await page.locator('table.taskmanagers a.tm-id').first().click();
    await page.waitForFunction(() => location.hash.startsWith('#/taskmanagers/'));
    const facts = await page.locator('[data-part=tm-facts]').innerText();
    if (!/Slots\s+\d+/.test(facts)) throw new Error(`facts: ${facts}`);
    if (await page.locator('table.tm-metrics tbody tr').count() !== 3) throw new Error('no metrics table');
    await page.locator('button[data-log]').first().waitFor();
    return facts.replace(/\s+/g, ' ');
  });

  const editor = page.locator('#sql-text');
  const sqlStatus = page.locator('.sql-status');
  const runSql = async (text) => {
    await editor.fill(text);
    await editor.press('Control+Enter');
  };
  await check('a query from the SQL editor streams its changelog into a table', async () => {
    await page.goto(`${base}/#/sql`);
    await runSql("SET 'parallelism.default' = '1';\n"
      + "CREATE TABLE nums (n BIGINT) WITH ('connector' = 'datagen', 'number-of-rows' = '10',\n"
      + "  'fields.n.kind' = 'sequence', 'fields.n.start' = '1', 'fields.n.end' = '10');\n"
      + "CREATE TABLE ticks (a BIGINT) WITH ('connector' = 'datagen', 'rows-per-second' = '20',\n"
      + "  'fields.a.kind' = 'sequence', 'fields.a.start' = '1', 'fields.a.end' = '1000000');\n"
      + '-- counts per remainder\nSELECT MOD(n, 3) AS k, COUNT(*) AS c FROM nums GROUP BY MOD(n, 3);');
    await sqlStatus.filter({ hasText: 'Finished' }).waitFor({ timeout: 30000 });
    const keywords = await page.locator('.sql-editor .sql-keyword').allTextContents();
    if (!keywords.includes('SELECT') || !(await page.locator('.sql-editor .sql-comment').count())) {
      throw new Error(`highlighted keywords: ${keywords.join(' ')}`);
    }
    // The changelog, applied, is the exact result.
    const rows = await page.locator('table.sql-result tbody tr').evaluateAll((trs) => trs
      .map((tr) => Array.from(tr.cells).map((td) => td.textContent)));
    const result = new Map();
    for (const [kind, k, c] of rows) {
      if (kind === '+I' || kind === '+U') result.set(k, c);
      else if (result.get(k) === c) result.delete(k);
      else throw new Error(`${kind} ${k} ${c} retracts a row not there`);
    }
    const final = [...result].sort().map(([k, c]) => `${k}:${c}`).join(' ');
    if (final !== '0:3 1:4 2:3') throw new Error(`result ${final} from ${rows.length} rows`);
    await page.screenshot({ path: join(out, 'sql.png'), fullPage: true });
    return `${rows.length} changelog rows, result ${final}`;
  });

  await check('an unbounded query shows rows as they come until cancelled', async () => {
    const before = (await rest('/jobs/overview')).jobs.filter((j) => j.state === 'RUNNING').length;
    await runSql('SELECT a FROM ticks');
    const shown = () => page.locator('table.sql-result tbody tr').count();
    await page.waitForFunction(() => document.querySelectorAll('table.sql-result tbody tr').length >= 3);
    const early = await shown();
    await page.waitForFunction((n) => document.querySelectorAll('table.sql-result tbody tr').length > n, early);
    if (!/^Running/.test(await sqlStatus.textContent())) throw new Error('not running');
    await page.locator('[data-action=cancel-sql]').click();
    await sqlStatus.filter({ hasText: 'Cancelled after' }).waitFor();
    const values = await page.locator('table.sql-result tbody td:nth-child(2)').allTextContents();
    if (values.some((v, i) => Number(v) !== i + 1)) throw new Error(`rows ${values.join(',')}`);
    const started = Date.now();
    for (;;) {
      const running = (await rest('/jobs/overview')).jobs.filter((j) => j.state === 'RUNNING').length;
      if (running === before) break;
      if (Date.now() - started > 15000) throw new Error(`${running} jobs run, ${before} before`);
      await new Promise((r) => { setTimeout(r, 100); });
    }
    return `${early} rows, then ${values.length} when cancelled; its job ended`;
  });

  await check('an error marks its position in the editor', async () => {
    await runSql('SELECT nope\nFROM nums');
    const box = page.locator('.sql-error-box');
    await box.waitFor();
    const text = await box.textContent();
    if (!text.includes('Line 1, column 8') || !text.includes('nope')) throw new Error(text);
    const marked = await page.locator('.sql-editor mark.sql-error').textContent();
    if (marked !== 'nope') throw new Error(`marked '${marked}'`);
    await page.locator('[data-action=error-position]').click();
    const caret = await editor.evaluate((t) => [document.activeElement === t, t.selectionStart]);
    if (!caret[0] || caret[1] !== 7) throw new Error(`caret ${caret}`);
    await page.screenshot({ path: join(out, 'sql-error.png'), fullPage: true });
    const other = consoleErrors.filter((m) => !/400/.test(m));
    consoleErrors.length = 0;
    consoleErrors.push(...other);
    return text;
  });

  await check('an INSERT from the editor opens its RUNNING job, which cancel ends', async () => {
    await runSql("CREATE TABLE sink_e (a BIGINT) WITH ('connector' = 'blackhole');\n"
      + 'INSERT INTO sink_e SELECT a FROM ticks;');
    await page.waitForFunction(() => location.hash.startsWith('#/jobs/'));
    const submitted = decodeURIComponent(await page.evaluate(() => location.hash.slice('#/jobs/'.length)));
    await page.locator('[data-part=job-facts] [data-state=RUNNING]').waitFor();
    page.once('dialog', (dialog) => dialog.accept());
    await page.locator('[data-action=cancel]').click();
    await page.locator('[data-part=job-facts] [data-state=CANCELED]').waitFor({ timeout: 20000 });
    const state = (await rest(`/jobs/${submitted}`)).state;
    if (state !== 'CANCELED') throw new Error(`the job is ${state}`);
    return `job ${submitted} RUNNING, then CANCELED`;
  });

  await check('a job from the editor that fails shows why on its exceptions tab', async () => {
    const input = join(out, 'bad.csv');
    writeFileSync(input, 'a,1\nb,not-a-number\nc,3\n');
    await page.goto(`${base}/#/sql`);
    await runSql("SET 'restart-strategy.type' = 'none';\n"
      + `CREATE TABLE bad (k STRING, v INT) WITH ('connector' = 'filesystem', 'path' = '${input}', 'format' = 'csv');\n`
      + "CREATE TABLE sink_b (k STRING, v INT) WITH ('connector' = 'blackhole');\n"
      + 'INSERT INTO sink_b SELECT k, v FROM bad;');
    await page.waitForFunction(() => location.hash.startsWith('#/jobs/'));
    await page.locator('[data-part=job-facts] [data-state=FAILED]').waitFor({ timeout: 30000 });
    await page.locator('a.tab[data-tab=exceptions]').click();
    const cause = await page.locator('details.exception').first().innerText();
    if (!cause.includes('bad.csv:2')) throw new Error(`exception: ${cause}`);
    await page.screenshot({ path: join(out, 'exceptions.png'), fullPage: true });
    return cause.split('\n').find((l) => l.includes('bad.csv:2')).slice(0, 120);
  });

  await check('no console errors while the job runs', async () => {
    if (consoleErrors.length) throw new Error(consoleErrors.join(' | '));
  });

  const stopTarget = join(out, 'stop-savepoints');
  await check('stop with a savepoint from the other job\'s page shows FINISHED and the path', async () => {
    await page.goto(`${base}/#/jobs/${stopped}`);
    await page.locator('[data-part=job-facts] [data-state=RUNNING]').waitFor();
    await page.locator('#savepoint-dir').fill(stopTarget);
    await page.locator('[data-action=stop]').click();
    const location = (await page.locator('[data-part=savepoint-location]').textContent({ timeout: 30000 })).trim();
    if (!location.startsWith(stopTarget) || !existsSync(location)) throw new Error(`bad location ${location}`);
    await page.locator('[data-part=job-facts] [data-state=FINISHED]').waitFor();
    if (!(await page.locator('[data-action=cancel]').isDisabled())) throw new Error('cancel stays enabled');
    return location;
  });

  await check('the overview counts the finished job', async () => {
    await page.goto(`${base}/`);
    await page.locator(`tr[data-job="${stopped}"] [data-state=FINISHED]`).waitFor();
    // The stopped job and the bounded query of the SQL editor.
    await page.locator('[data-card=Finished] .card-value', { hasText: '2' }).waitFor();
  });

  await check('cancel through the button makes the page show CANCELED', async () => {
    await page.goto(`${base}/#/jobs/${job}`);
    await page.locator('[data-part=job-facts] [data-state=RUNNING]').waitFor();
    page.once('dialog', (dialog) => dialog.accept());
    await page.locator('[data-action=cancel]').click();
    const canceled = page.locator('[data-part=job-facts] [data-state=CANCELED]');
    const lost = page.locator('#banner', { hasText: 'cannot be reached' });
    await canceled.or(lost).first().waitFor({ timeout: 20000 });
    return (await canceled.count()) ? 'CANCELED shown' : 'the server ended with the job';
  });
});
