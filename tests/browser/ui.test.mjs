// ui.test.mjs: drives the weft web UI in headless Chromium (Debian's
// /usr/bin/chromium, through playwright-core) against a real `weft dev`.
// Run by tests/t/t0030-ui.sh, which starts the server on a copy of
// examples/ plus fixtures/uitest and passes, in the environment:
//   WEFT_UI_URL       the server, e.g. http://127.0.0.1:40123
//   WEFT_UI_LOCATION  the folder of the uitest location (the test fixes the
//                     failing job by writing a file there)
//   WEFT_UI_SHOTS     where to save a screenshot of each page
//   CHROMIUM          the browser binary (default /usr/bin/chromium)
// Prints one line per check, "PASS name" or "FAIL name<TAB>detail"; after a
// failure the rest is skipped, since every step builds on the one before.
import { chromium } from 'playwright-core';
import fs from 'node:fs';
import path from 'node:path';

const base = process.env.WEFT_UI_URL;
const locDir = process.env.WEFT_UI_LOCATION;
const shots = process.env.WEFT_UI_SHOTS || 'screenshots';
if (!base || !locDir) {
  console.error('usage: WEFT_UI_URL=... WEFT_UI_LOCATION=... node ui.test.mjs');
  process.exit(2);
}
fs.mkdirSync(shots, { recursive: true });
fs.rmSync(path.join(shots, 'failure.png'), { force: true });

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'],
});
const context = await browser.newContext({ viewport: { width: 1400, height: 900 }, deviceScaleFactor: 1 });
const page = await context.newPage();
const pageErrors = [];
page.on('pageerror', (e) => pageErrors.push(e.message));
// The server's Content-Security-Policy forbids inline script and style:
// Chromium reports what it blocks on the console.
const cspViolations = [];
page.on('console', (m) => {
  if (/Content Security Policy/i.test(m.text())) cspViolations.push(m.text());
});
page.setDefaultTimeout(15000);

let failed = false;
async function check(name, fn) {
  if (failed) { console.log(`SKIP ${name}`); return; }
  try {
    await fn();
    console.log(`PASS ${name}`);
  } catch (e) {
    failed = true;
    const detail = String(e && e.message ? e.message : e).split('\n').slice(0, 6).join(' | ');
    console.log(`FAIL ${name}\t${detail}`);
    await page.screenshot({ path: path.join(shots, 'failure.png'), fullPage: true }).catch(() => {});
  }
}

/** Polls fn until it returns something truthy; throws "what" on timeout. */
async function until(what, fn, timeout = 15000) {
  const end = Date.now() + timeout;
  let last;
  for (;;) {
    try { last = await fn(); if (last) return last; } catch (e) { last = e.message; }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what} (last: ${JSON.stringify(last)})`);
    await page.waitForTimeout(100);
  }
}

const text = (sel) => page.locator(sel).first().innerText();
async function shot(name) {
  await page.evaluate(() => { document.activeElement?.blur(); window.scrollTo(0, 0); });
  await page.waitForTimeout(150);
  await page.screenshot({ path: path.join(shots, `${name}.png`), fullPage: true });
}
const runIdOfUrl = () => (/#\/runs\/([0-9a-f]+)/.exec(page.url()) || [])[1];
const runStatus = () => page.locator('.run-status').first().getAttribute('data-status');
async function waitRunStatus(status, timeout = 60000) {
  await until(`run status ${status}`, async () => (await runStatus()) === status, timeout);
}
async function setEditor(value) {
  await page.locator('textarea[name=run_config]').fill(value);
}

let firstRun, failedRun, fixedRun;

await check('jobs page lists the jobs of every location', async () => {
  await page.goto(`${base}/#/jobs`);
  await page.locator('tr[data-job="arithmetic"]').waitFor();
  await page.locator('tr[data-job="ingest"]').waitFor();
  const locs = await page.locator('section[data-location]').count();
  if (locs < 4) throw new Error(`${locs} locations shown`);
  await shot('jobs');
});

await check('the arithmetic page draws its graph with labelled edges', async () => {
  await page.locator('tr[data-job="arithmetic"] a.job-link').click();
  await until('#/jobs/arithmetic/arithmetic', () => page.url().includes('#/jobs/arithmetic/arithmetic'));
  await until('5 op boxes', async () => (await page.locator('.dag-node').count()) === 5);
  const labels = await page.locator('.dag-label text').allTextContents();
  if (!labels.includes('high') || !labels.includes('low')) throw new Error(`edge labels: ${labels}`);
  if (labels.includes('result')) throw new Error('the default output "result" is labelled');
});

await check('clicking an op shows its inputs, config and outputs', async () => {
  await page.locator('.dag-node[data-op="split"]').click();
  await page.locator('.op-detail[data-op="split"]').waitFor();
  const t = await text('.op-detail');
  for (const w of ['low', 'high', 'add_one_a.result']) if (!t.includes(w)) throw new Error(`op detail lacks ${w}: ${t}`);
  await page.locator('.dag-node[data-op="add_x"]').click();
  const t2 = await text('.op-detail');
  if (!/\bx\b/.test(t2) || !t2.includes('int')) throw new Error(`add_x detail: ${t2}`);
});

await check('the launchpad is pre-filled and reports errors with line:col', async () => {
  const v = await page.locator('textarea[name=run_config]').inputValue();
  if (!v.includes('add_x') || !v.includes('x: 1')) throw new Error(`default config: ${v}`);
  await page.locator('.vstatus-bad').waitFor();
  const where = await text('.vdiags .diag-where');
  if (!/^\d+:\d+$/.test(where.trim())) throw new Error(`error position: ${where}`);
  const msg = await text('.vdiags .diag-msg');
  if (!msg.includes('num')) throw new Error(`error message: ${msg}`);
  await until('an error line in the gutter', async () => (await page.locator('.ed-ln.err').count()) >= 1);
  await shot('job-invalid-config');
});

await check('editing the config validates it live', async () => {
  await setEditor('ops:\n  add_x:\n    config:\n      x: 5\n    inputs:\n      num: 10\n');
  await page.locator('.vstatus-ok').waitFor();
  if (await page.locator('.vdiags .diag').count()) throw new Error('errors still listed');
  await shot('job');
});

await check('Launch opens the new run, which succeeds', async () => {
  await page.locator('#launchpad button.btn-primary').click();
  firstRun = await until('the run page', runIdOfUrl);
  await waitRunStatus('success');
  await until('5 succeeded rows', async () => (await page.locator('.g-row[data-state="succeeded"]').count()) === 5);
});

await check('the run page shows outputs (total = 17) and the event log', async () => {
  await until('total = 17', async () =>
    (await page.locator('#outputs tr[data-step="total"][data-output="result"]').innerText()).includes('17'));
  await until('run_success event', async () => (await page.locator('#events tr[data-type="run_success"]').count()) === 1);
  await page.locator('#events select[name=type]').selectOption('step_succeeded');
  await until('5 step_succeeded rows', async () => (await page.locator('#events tbody tr').count()) === 5);
  await page.locator('#events select[name=type]').selectOption('');
  await page.locator('.g-row[data-step="split"]').click();
  await page.locator('.step-detail[data-step="split"]').waitFor();
  await until('the log panel follows', async () => (await text('.log-step')) === 'split');
  await shot('run-success');
});

await check('the runs list shows the run and filters by status', async () => {
  await page.goto(`${base}/#/runs`);
  await page.locator(`tr[data-run="${firstRun}"][data-status="success"]`).waitFor();
  await page.locator('.chip[data-status="failure"]').click();
  await until('the success run hidden', async () => (await page.locator(`tr[data-run="${firstRun}"]`).count()) === 0);
  await page.locator('.chip[data-status="success"]').click();
  await page.locator(`tr[data-run="${firstRun}"]`).waitFor();
  if (!page.url().includes('status=')) throw new Error(`filters not in the URL: ${page.url()}`);
  await page.locator('.chip[data-status="all"]').click();
});

await check('the ingest job needs its path: the editor says where', async () => {
  await page.goto(`${base}/#/jobs/uitest/ingest`);
  await until('3 op boxes', async () => (await page.locator('.dag-node').count()) === 3);
  await page.locator('.vstatus-bad').waitFor();
  const all = await page.locator('.vdiags').innerText();
  if (!all.includes('path')) throw new Error(`errors: ${all}`);
});

await check('a failing run: launched with a path that does not exist yet', async () => {
  const v = await page.locator('textarea[name=run_config]').inputValue();
  if (!/path: null/.test(v)) throw new Error(`no null placeholder for path in: ${v}`);
  await setEditor(v.replace(/path: null/, 'path: data/input.txt'));
  await page.locator('.vstatus-ok').waitFor();
  await page.locator('#launchpad button.btn-primary').click();
  failedRun = await until('the run page', runIdOfUrl);
  await waitRunStatus('failure');
  await until('load failed, report skipped', async () =>
    (await page.locator('.g-row[data-step="load"][data-state="failed"]').count()) === 1 &&
    (await page.locator('.g-row[data-step="report"][data-state="skipped"]').count()) === 1);
});

await check("a step's stdout is shown in the log panel", async () => {
  await page.locator('.g-row[data-step="fetch"]').click();
  await until('fetch stdout', async () => (await text('pre.log')).includes('record 3: ok'));
});

await check('the failed step tells why on stderr', async () => {
  await page.locator('.g-row[data-step="load"]').click();
  await page.locator('.tab[data-stream="stderr"]').click();
  await until('load stderr', async () => (await text('pre.log')).includes('cannot read data/input.txt'));
  await shot('run-failure');
});

await check('re-executed from the failure after the fix, it succeeds', async () => {
  fs.mkdirSync(path.join(locDir, 'data'), { recursive: true });
  fs.writeFileSync(path.join(locDir, 'data', 'input.txt'), '39\n');
  await page.locator('button[data-action="reexecute-failure"]').click();
  fixedRun = await until('a new run page', async () => { const id = runIdOfUrl(); return id && id !== failedRun && id; });
  await waitRunStatus('success');
  const parent = await page.locator('.parent-link').getAttribute('href');
  if (!parent.includes(failedRun)) throw new Error(`parent link ${parent}`);
  await until('fetch reused', async () => (await page.locator('.g-row[data-step="fetch"][data-state="reused"]').count()) === 1);
  await until('load = 42', async () =>
    (await page.locator('#outputs tr[data-step="load"][data-output="result"]').innerText()).includes('42'));
  await until('the materialization', async () => (await page.locator('#assets tr[data-asset="warehouse.records"]').count()) === 1);
  await page.locator('.g-row[data-step="report"]').click();
  await until('report stdout', async () => (await text('pre.log')).includes('42 rows in the warehouse'));
  await shot('run-reexecuted');
});

await check("the run's graph view colours ops by step state", async () => {
  await page.locator('.tab[data-view="graph"]').click();
  await until('3 green ops', async () => (await page.locator('.run-graph .dag-node.tone-ok').count()) === 2 &&
    (await page.locator('.run-graph .dag-node.tone-reuse').count()) === 1);
  await page.locator('.run-graph .dag-node[data-op="load"]').click();
  await page.locator('.step-detail[data-step="load"]').waitFor();
  await page.locator('#timeline').screenshot({ path: path.join(shots, 'run-graph.png') });
  await page.locator('.tab[data-view="timeline"]').click();
});

let slowRun;
await check('the runs list updates live when a run starts', async () => {
  await page.goto(`${base}/#/runs`);
  await page.locator(`tr[data-run="${fixedRun}"]`).waitFor();
  slowRun = await page.evaluate(async () => {
    const r = await fetch('/api/v1/jobs/uitest/slow/launch', { method: 'POST',
      headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ run_config: {} }) });
    return (await r.json()).run_id;
  });
  await page.locator(`tr[data-run="${slowRun}"][data-status="started"]`).waitFor({ timeout: 20000 });
  await shot('runs');
});

await check('a live run tails its log and can be canceled', async () => {
  await page.locator(`tr[data-run="${slowRun}"] a.run-link`).click();
  await until('running', async () => (await runStatus()) === 'started');
  await until('a live tick', async () => /tick [3-9]/.test(await text('pre.log')), 20000);
  await shot('run-live');
  const cancel = page.locator('button[data-action="cancel"]');
  await cancel.click();
  await page.locator('button[data-action="cancel"].armed').waitFor();
  await cancel.click();
  await waitRunStatus('canceled', 30000);
});

await check('a secret a step printed shows as *** in its logs and events', async () => {
  const secret = process.env.WEFT_UI_SECRET;
  if (!secret) throw new Error('WEFT_UI_SECRET is not set');
  const leakRun = await page.evaluate(async () => {
    const r = await fetch('/api/v1/jobs/uitest/leak/launch', { method: 'POST',
      headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ run_config: {} }) });
    return (await r.json()).run_id;
  });
  await page.goto(`${base}/#/runs/${leakRun}`);
  await waitRunStatus('success');
  await page.locator('.g-row[data-step="leak"]').click();
  await until('the masked stdout', async () => (await text('pre.log')).includes('the token is ***'));
  await page.locator('.tab[data-stream="stderr"]').click();
  await until('the masked stderr', async () => (await text('pre.log')).includes('the token is ***'));
  const body = await page.evaluate(() => document.body.innerText);
  if (body.includes(secret)) throw new Error('the secret is on the page');
  await shot('run-secret-masked');
});

await check('the Workers page shows queues and workers (none here: no broker)', async () => {
  await page.goto(`${base}/#/workers`);
  await page.locator('a[data-nav="workers"].active').waitFor();
  await until('the empty states', async () => (await text('#queues')).includes('No broker configured') &&
    (await text('#workers')).includes('No workers'));
  await shot('workers');
});

await check('the Backfills page shows the progress of a backfill and its partitions', async () => {
  const created = await page.evaluate(async (b) => {
    const r = await fetch(`${b}/api/v1/backfills`, { method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ job: 'regional', keys: ['north', 'south'] }) });
    return r.json();
  }, base);
  if (!created.backfill_id) throw new Error(`POST /api/v1/backfills: ${JSON.stringify(created)}`);
  await page.goto(`${base}/#/backfills`);
  await page.locator('a[data-nav="backfills"].active').waitFor();
  const row = page.locator(`tr[data-backfill="${created.backfill_id}"]`);
  await until('2/2 succeeded', async () => /2\/2 succeeded/.test(await row.locator('.bf-progress').getAttribute('data-progress')), 30000);
  await shot('backfills');
  await row.locator('a.bf-link').click();
  await until('both partitions succeeded', async () =>
    (await page.locator('tr.bf-part[data-status="success"]').count()) === 2);
  await shot('backfill');
});

await check('no uncaught error in the page', async () => {
  if (pageErrors.length) throw new Error(pageErrors.join(' | '));
});

await check('the UI runs under the CSP, which is sent and blocks nothing', async () => {
  const res = await page.request.get(base + '/');
  const csp = res.headers()['content-security-policy'] || '';
  if (!csp.includes("script-src 'self'") || csp.includes('unsafe-inline'))
    throw new Error(`CSP: '${csp}'`);
  if (cspViolations.length) throw new Error(cspViolations.slice(0, 3).join(' | '));
});

await browser.close();
process.exit(failed ? 1 : 0);
