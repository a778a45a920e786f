// t0123-ui-runs-storage-ui.mjs: the run page's output previews, the runs
// list's search and bulk actions, and the Storage page in headless Chromium
// (Debian's, through tests/browser's playwright-core), for
// t0123-ui-runs-storage.sh, which passes in the environment:
//   WEFT_UI_URL   the `weft dev` serving its location
//   BROWSER_DIR   tests/browser (where playwright-core is installed)
//   CHROMIUM      the browser binary
//   IDS, BAD      the four runs of job out (oldest first) and the failed run
// Prints "PASS name" or "FAIL name<TAB>detail" per check.
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(path.join(process.env.BROWSER_DIR, 'package.json'));
const { chromium } = require('playwright-core');
const base = process.env.WEFT_UI_URL;
const ids = process.env.IDS.split(' ');
const bad = process.env.BAD;
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
const outRow = (o) => page.locator(`#outputs tr[data-step="make"][data-output="${o}"]`);
async function preview(o) {
  await outRow(o).locator('.out-preview').click();
  return outRow(o).locator('xpath=following-sibling::tr[1]');
}

await check('the run page previews a JSON output pretty-printed', async () => {
  await page.goto(`${base}/#/runs/${ids[3]}`);
  await outRow('summary').waitFor();
  const box = await preview('summary');
  const text = await box.locator('pre.out-json').textContent();
  expect(text.includes('\n  "rows": 3,'), `not pretty: ${text}`);
  expect((await box.locator('.out-size').textContent()).startsWith('application/json'), 'type and size');
});

await check('a CSV output shows its first rows as a table', async () => {
  const box = await preview('table');
  await box.locator('.out-csv').waitFor();
  const head = await box.locator('.out-csv th').allTextContents();
  expect(head.join('|') === 'id|amount', `header ${head}`);
  expect((await box.locator('.out-csv tbody tr').count()) === 3, 'three rows');
});

await check('a text output shows its lines, an image is shown inline', async () => {
  let box = await preview('notes');
  expect((await box.locator('pre.out-text').textContent()) === 'plain words\nsecond line', 'text');
  box = await preview('picture');
  const img = box.locator('img.out-image');
  await img.waitFor();
  await page.waitForFunction((el) => el.complete && el.naturalWidth === 1, await img.elementHandle());
});

await check('an empty output says so', async () => {
  const box = await preview('nothing');
  await box.locator('.out-size', { hasText: 'empty (0 B)' }).waitFor();
});

await check('a preview closes again, and every output has a download link', async () => {
  await outRow('notes').locator('.out-preview').click();
  expect((await page.locator('#outputs .out-preview-row').count()) === 4, 'four previews left open');
  const href = await outRow('table').locator('a.out-download').getAttribute('href');
  expect(href === `/api/v1/runs/${ids[3]}/outputs/make/table`, href);
  const [download] = await Promise.all([page.waitForEvent('download'), outRow('table').locator('a.out-download').click()]);
  expect(download.suggestedFilename() === 'table', download.suggestedFilename());
});

const rowIds = async () => page.locator('.runs-table tbody tr.run-row').evaluateAll((trs) => trs.map((t) => t.dataset.run));
async function search(q, n) {
  await page.locator('input.runs-search').fill(q);
  await page.locator('.runs-search-form button[type=submit]').click();
  await page.waitForFunction((want) => document.querySelectorAll('.runs-table tr.run-row').length === want, n);
}

await check('the runs list searches by tag, id prefix, job: and status:', async () => {
  await page.goto(`${base}/#/runs`);
  await page.locator('.runs-table tr.run-row').first().waitFor();
  await search('team=ml', 3);
  expect(JSON.stringify(await rowIds()) === JSON.stringify([bad, ids[3], ids[1]]), `tag: ${await rowIds()}`);
  await search(ids[2].slice(0, 7), 1);
  expect((await rowIds())[0] === ids[2], 'id prefix');
  await search('job:out team=bi', 2);
  await search('status:failure', 1);
  expect(page.url().includes('q=status'), `the search is in the URL: ${page.url()}`);
  await search('since:nonsense', 0);
  await page.locator('.alert-bad').waitFor();
  await search('', 5);
});

await check('bulk re-execute of checked runs', async () => {
  await page.locator(`tr[data-run="${bad}"] input.run-check`).check();
  expect(!(await page.locator('.bulk-bar').isHidden()), 'the bulk bar shows');
  await page.locator('.bulk-bar [data-bulk="reexecute"]').click();
  await page.locator('.bulk-msg .alert', { hasText: '1 re-executed' }).waitFor();
  await page.waitForFunction(() => document.querySelectorAll('.runs-table tr.run-row').length === 6);
});

await check('bulk delete shows a dry run, then deletes; refused runs say why', async () => {
  expect(!(await page.locator(`tr[data-run="${bad}"] input.run-check`).isChecked()), 'a done action unchecks its runs');
  await page.locator('.bulk-bar').waitFor({ state: 'hidden' });
  for (const id of [ids[0], ids[3]]) await page.locator(`tr[data-run="${id}"] input.run-check`).check();
  await page.locator('.bulk-bar [data-bulk="delete"]').click();
  await page.locator('.bulk-msg .alert', { hasText: 'Deleting would remove 1 run' }).waitFor();
  // ids[3] is among keep_last (2): refused, and said why.
  expect((await page.locator('.bulk-msg li').textContent()).includes('keep_last'), 'the refusal names keep_last');
  expect((await page.locator(`tr[data-run="${ids[0]}"]`).count()) === 1, 'the dry run removed nothing');
  await page.locator('.bulk-bar [data-bulk="delete"].armed').click();
  await page.locator('.bulk-msg .alert', { hasText: '1 deleted, 1 not' }).waitFor();
  await page.locator(`tr[data-run="${ids[0]}"]`).waitFor({ state: 'detached' });
});

await check('the Storage page shows use per job and what retention removes next', async () => {
  await page.goto(`${base}/#/storage`);
  await page.locator('.storage-table tr[data-job="out"]').waitFor();
  await page.locator('#retention-next .retention-summary', { hasText: 'remove 0 runs' }).waitFor(); // nothing old enough now
  await page.locator('select[name=ahead]').selectOption('7d');
  expect((await page.locator('.storage-table tbody tr').first().getAttribute('data-job')) === 'out', 'biggest first');
  expect(Number(await page.locator('tr[data-job="out"] .storage-bytes').getAttribute('data-bytes')) > 0, 'bytes');
  await page.locator('#retention-next .retention-items tr[data-run]').first().waitFor();
  const listed = await page.locator('#retention-next .retention-items tr[data-what="run"]').evaluateAll((trs) => trs.map((t) => t.dataset.run));
  expect(JSON.stringify(listed) === JSON.stringify([ids[1]]), `next removal: ${listed}`);
});

await check('no script error on any page', async () => { expect(!errors.length, errors.join('; ')); });
await browser.close();
