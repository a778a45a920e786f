// t0111-assets-ui.mjs: the Assets page and an asset's page in headless
// Chromium (Debian's, through tests/browser's playwright-core), for
// t0111-assets.sh, which passes in the environment:
//   WEFT_UI_URL   the `weft dev` serving its two locations
//   BROWSER_DIR   tests/browser (where playwright-core is installed)
//   CHROMIUM      the browser binary
// Prints "PASS name" or "FAIL name<TAB>detail" per check.
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(path.join(process.env.BROWSER_DIR, 'package.json'));
const { chromium } = require('playwright-core');
const base = process.env.WEFT_UI_URL;
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'],
});
const page = await (await browser.newContext({ viewport: { width: 1400, height: 900 } })).newPage();
page.setDefaultTimeout(15000);
const errors = [];
page.on('pageerror', (e) => errors.push(e.message));
let failed = false;
async function check(name, fn) {
  if (failed) { console.log(`SKIP ${name}`); return; }
  try { await fn(); console.log(`PASS ${name}`); } catch (e) {
    failed = true;
    console.log(`FAIL ${name}\t${String(e && e.message ? e.message : e).split('\n').slice(0, 4).join(' | ')}`);
  }
}
const expect = (cond, what) => { if (!cond) throw new Error(what); };

await check('the Assets page lists the catalog with its groups', async () => {
  await page.goto(`${base}/#/assets`);
  await page.locator('.asset-row[data-asset="order_mart"]').waitFor();
  expect((await page.locator('.asset-row').count()) === 4, 'not four assets');
  await page.locator('.asset-groups [data-group="ingest"]').click();
  await page.locator('.asset-row[data-asset="order_mart"]').waitFor({ state: 'detached' });
  expect((await page.locator('.asset-row').count()) === 2, 'group filter');
});

await check('the search narrows the list', async () => {
  await page.locator('.asset-groups [data-group=""]').click();
  await page.locator('input[type=search]').fill('mart');
  await page.locator('.asset-row[data-asset="raw_orders"]').waitFor({ state: 'detached' });
  expect((await page.locator('.asset-row').count()) === 1, 'search');
});

await check('the asset page: chart, metadata, lineage, checks', async () => {
  await page.goto(`${base}/#/assets/order_mart`);
  await page.locator('.asset-chart').waitFor();
  expect(Number(await page.locator('.asset-chart').getAttribute('data-points')) >= 2, 'chart points');
  expect((await page.locator('.asset-metadata tr[data-key="url"]').count()) === 1, 'latest metadata');
  expect((await page.locator('.asset-lineage .dag-node[data-op="raw_orders"]').count()) === 1, 'lineage');
  expect((await page.locator('.asset-checks tr[data-check="not_empty"]').getAttribute('data-passed')) === 'true', 'check');
});

await check('a stale asset says why', async () => {
  // The test changed the down location's code after the last run of it.
  await page.locator('.asset-stale [data-reason="code_version"]').waitFor();
});

await check('the heat strip of a partitioned asset', async () => {
  await page.goto(`${base}/#/assets/daily_orders`);
  await page.locator('.asset-strip').waitFor();
  expect((await page.locator('.asset-strip .cell').count()) === 5, 'five cells');
  expect((await page.locator('.asset-strip .cell[data-state="materialized"]').count()) >= 2, 'materialized cells');
});

await check('Materialize launches a run of its job', async () => {
  await page.goto(`${base}/#/assets/order_mart`);
  await page.locator('[data-materialize="order_mart"]').click();
  const done = page.locator('[data-materialized]');
  await done.waitFor();
  const id = await done.getAttribute('data-materialized');
  expect(/^[0-9a-f]{12}$/.test(id), `run id "${id}"`);
  const r = await (await fetch(`${base}/api/v1/runs/${id}`)).json();
  expect(r.run.job === 'mart_job', `job ${r.run.job}`);
});

await check('no script error on the page', async () => expect(!errors.length, errors.join(' | ')));
await browser.close();
