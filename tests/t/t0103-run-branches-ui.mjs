// t0103-run-branches-ui.mjs: the run page of a run with skipped steps, in
// headless Chromium (Debian's, through tests/browser's playwright-core),
// for t0103-run-branches.sh, which passes in the environment:
//   WEFT_UI_URL      the `weft dev` serving the run
//   WEFT_UI_RUN      the run: examples/branches' orders, with quarantine
//                    skipped (no rejects) and load run under its when:
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

await check('the timeline draws the skipped step apart', async () => {
  await page.goto(`${base}/#/runs/${run}`);
  const row = page.locator('.g-row[data-step="quarantine"]');
  await row.waitFor();
  const cls = await row.getAttribute('class');
  expect(/\bskipped\b/.test(cls) && (await row.getAttribute('data-state')) === 'skipped', `class "${cls}"`);
  const note = await row.locator('.g-note').textContent();
  expect(note.includes('check.rejects was not written'), `note "${note}"`);
  const cleanup = await page.locator('.g-row[data-step="cleanup"]').getAttribute('class');
  expect(!/\bskipped\b/.test(cleanup), 'cleanup is not skipped');
});

await check('the graph draws skipped nodes dashed, and marks conditions', async () => {
  await page.locator('.tab[data-view="graph"]').click();
  const node = page.locator('.dag-node[data-op="quarantine"]');
  await node.waitFor();
  expect(/\bskipped\b/.test(await node.getAttribute('class')), 'quarantine is not drawn skipped');
  // Read in the page in one go: a handle taken before a redraw would be
  // detached, and a detached element has no computed style.
  const dash = await page.evaluate(() => {
    const box = document.querySelector('.dag-node[data-op="quarantine"] .dag-box');
    return box ? getComputedStyle(box).strokeDasharray : null;
  });
  expect(dash && dash !== 'none', `dasharray ${dash}`);
  const load = page.locator('.dag-node[data-op="load"]');
  expect((await load.getAttribute('data-status')) === 'succeeded', 'load succeeded');
  expect((await load.locator('.dag-cond').textContent()) === 'when', 'load has no when mark');
  expect((await page.locator('.dag-node[data-op="cleanup"] .dag-cond').textContent()) === 'all_done',
    'cleanup has no trigger mark');
});

await check('the step card shows the when: condition', async () => {
  await page.locator('.dag-node[data-op="load"]').click();
  const code = page.locator('#step .step-cond code[data-when]');
  await code.waitFor();
  const t = await code.textContent();
  expect(t === 'check.status.ok && check.status.rows >= config.min_rows', `when "${t}"`);
  await page.locator('.dag-node[data-op="alert"]').click();
  await page.locator('#step .step-cond code[data-trigger="one_failed"]').waitFor();
  const msg = await page.locator('#step .step-msg').first().textContent();
  expect(msg.includes('no upstream failed'), `message "${msg}"`);
});

await check('no script error on the page', async () => expect(!errors.length, errors.join(' | ')));
await browser.close();
