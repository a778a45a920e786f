// t0107-run-map-ui.mjs: the run page of a run with a mapped step, in
// headless Chromium (Debian's, through tests/browser's playwright-core),
// for t0107-run-map.sh, which passes in the environment:
//   WEFT_UI_URL      the `weft dev` serving the run
//   WEFT_UI_RUN      the run: job flaky, p mapped over 20 numbers, 3 of
//                    its items failed (p[3], p[8], p[16]), sum skipped
//   BROWSER_DIR      tests/browser (where playwright-core is installed)
//   CHROMIUM         the browser binary
// Prints "PASS name" or "FAIL name<TAB>detail" per check.
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(path.join(process.env.BROWSER_DIR, 'package.json'));
const { chromium } = require('playwright-core');
const base = process.env.WEFT_UI_URL, run = process.env.WEFT_UI_RUN;
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

await check('the timeline shows a mapped step as one row with its item counts', async () => {
  await page.goto(`${base}/#/runs/${run}`);
  const row = page.locator('.g-row[data-step="p"]');
  await row.waitFor();
  expect((await row.getAttribute('data-items')) === '17 ✓ 3 ✗', `items "${await row.getAttribute('data-items')}"`);
  expect((await row.locator('.g-items').textContent()).startsWith('20 items'), 'no item total');
  expect((await page.locator('.g-row[data-step="p[3]"]').count()) === 0, 'items shown before expanding');
});

await check('expanding it shows one row per item, in item order', async () => {
  await page.locator('.g-row[data-step="p"] .g-toggle').click();
  await page.locator('.g-row[data-step="p[16]"]').waitFor();
  const steps = await page.locator('.g-row.g-item').evaluateAll((rs) => rs.map((r) => r.dataset.step));
  expect(steps.length === 20 && steps[0] === 'p[0]' && steps[2] === 'p[2]' && steps[19] === 'p[19]',
    `rows ${steps.join(',')}`);
  expect((await page.locator('.g-row[data-step="p[8]"]').getAttribute('data-state')) === 'failed', 'p[8] not failed');
  await page.locator('.g-row[data-step="p"] .g-toggle').click();
  await page.locator('.g-row[data-step="p[8]"]').waitFor({ state: 'detached' });
});

await check('the graph draws it as one node with its counts', async () => {
  await page.locator('.tab[data-view="graph"]').click();
  const node = page.locator('.dag-node[data-op="p"]');
  await node.waitFor();
  expect(/\bmapped\b/.test(await node.getAttribute('class')), 'not drawn as mapped');
  expect((await node.getAttribute('data-items')) === '17 ✓ 3 ✗', `items "${await node.getAttribute('data-items')}"`);
  expect((await node.locator('.dag-sub').textContent()) === '17 ✓ 3 ✗', 'counts not in the node');
  expect((await page.locator('.dag-node').count()) === 3, 'items drawn as nodes');
});

await check('no script error on the page', async () => expect(!errors.length, errors.join(' | ')));
await browser.close();
