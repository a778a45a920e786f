// schedules.test.mjs: drives the Schedules and Sensors pages of the weft web
// UI in headless Chromium (Debian's /usr/bin/chromium, through
// playwright-core). Run by tests/t/t0031-ui-schedules.sh, which starts
// `weft server` on a workspace with the schedules `often` (every 5 minutes,
// on, ticked twice by `weft scheduler --once`) and `yearly` (off), and the
// file sensor `drop` (on, evaluated), and passes in the environment:
//   WEFT_UI_URL    the server, e.g. http://127.0.0.1:40123
//   WEFT_UI_SHOTS  where to save a screenshot of each page
//   CHROMIUM       the browser binary (default /usr/bin/chromium)
// Prints one line per check, "PASS name" or "FAIL name<TAB>detail"; after a
// failure the rest is skipped.
import { chromium } from 'playwright-core';
import fs from 'node:fs';
import path from 'node:path';

const base = process.env.WEFT_UI_URL;
const shots = process.env.WEFT_UI_SHOTS || 'screenshots';
if (!base) {
  console.error('usage: WEFT_UI_URL=... node schedules.test.mjs');
  process.exit(2);
}
fs.mkdirSync(shots, { recursive: true });
fs.rmSync(path.join(shots, 'schedules-failure.png'), { force: true });

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'],
});
const context = await browser.newContext({ viewport: { width: 1400, height: 900 }, deviceScaleFactor: 1 });
const page = await context.newPage();
const pageErrors = [];
page.on('pageerror', (e) => pageErrors.push(e.message));
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
    await page.screenshot({ path: path.join(shots, 'schedules-failure.png'), fullPage: true }).catch(() => {});
  }
}

async function until(what, fn, timeout = 15000) {
  const end = Date.now() + timeout;
  let last;
  for (;;) {
    try { last = await fn(); if (last) return last; } catch (e) { last = e.message; }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what} (last: ${JSON.stringify(last)})`);
    await page.waitForTimeout(100);
  }
}

async function shot(name) {
  await page.evaluate(() => { document.activeElement?.blur(); window.scrollTo(0, 0); });
  await page.waitForTimeout(150);
  await page.screenshot({ path: path.join(shots, `${name}.png`), fullPage: true });
}
const apiState = (kind, name) => page.evaluate(async ([k, n]) =>
  (await (await fetch(`/api/v1/${k}/${n}`)).json())[k.slice(0, -1)].state, [kind, name]);
const often = 'tr[data-schedule="often"]';

await check('the Schedules page lists every schedule with its state', async () => {
  await page.goto(`${base}/#/schedules`);
  await page.locator('a[data-nav="schedules"].active').waitFor();
  await page.locator(`${often}[data-state="on"]`).waitFor();
  await page.locator('tr[data-schedule="yearly"][data-state="off"]').waitFor();
  const row = await page.locator(often).innerText();
  for (const w of ['*/5 * * * *', 'Europe/Amsterdam', 'hello']) if (!row.includes(w)) throw new Error(`row lacks ${w}: ${row}`);
});

await check('the next tick is shown in local time and in the schedule zone', async () => {
  const next = await page.locator(`${often} .col-next`).innerText();
  if (!/in \d+(s|m)/.test(next)) throw new Error(`no "in N" text: ${next}`);
  if (!/\d{4}-\d\d-\d\d \d\d:\d\d:00/.test(next)) throw new Error(`no local time: ${next}`);
  if (!/[+-]0[12]:00 Europe\/Amsterdam/.test(next)) throw new Error(`no zone time: ${next}`);
});

let lastRun;
await check("the last tick's badge links to its run", async () => {
  const link = page.locator(`${often} .last-tick a.last-run`);
  await link.locator('.badge[data-status="success"]').waitFor();
  lastRun = (/#\/runs\/([0-9a-f]+)/.exec(await link.getAttribute('href')) || [])[1];
  if (!lastRun) throw new Error('no run id in the link');
  await shot('schedules');
});

await check('toggling a schedule off turns it off on the server', async () => {
  await page.locator('.switch[data-name="often"]').click();
  await page.locator(`${often}[data-state="off"]`).waitFor();
  if ((await page.locator('.switch[data-name="often"]').getAttribute('aria-checked')) !== 'false') {
    throw new Error('the switch is not unchecked');
  }
  await until('the API says off', async () => (await apiState('schedules', 'often')) === 'off');
});

await check('after a reload it is still off', async () => {
  await page.reload();
  await page.locator(`${often}[data-state="off"]`).waitFor();
  const next = await page.locator(`${often} .col-next`).innerText();
  if (!next.includes('off')) throw new Error(`next tick of an off schedule: ${next}`);
});

await check('a schedule page shows its next ticks and its tick history', async () => {
  await page.locator(`${often} a.sched-link`).click();
  await until('#/schedules/often', () => page.url().includes('#/schedules/often'));
  await until('10 preview rows', async () => (await page.locator('.preview-row').count()) === 10);
  await until('2 success ticks', async () => (await page.locator('.tick-row[data-status="success"]').count()) >= 2);
  const first = await page.locator('.tick-row').first().innerText();
  if (!/Europe\/Amsterdam/.test(first)) throw new Error(`tick time without the zone: ${first}`);
  const href = await page.locator('.tick-row a.tick-run').first().getAttribute('href');
  if (!href.includes(lastRun)) throw new Error(`the newest tick links to ${href}, not ${lastRun}`);
  if ((await page.locator('.switch[data-name="often"]').getAttribute('data-state')) !== 'off') {
    throw new Error('the page does not show the schedule off');
  }
  await shot('schedule');
});

await check('turning it on from its page', async () => {
  await page.locator('.switch[data-name="often"]').click();
  await page.locator('.switch[data-name="often"][data-state="on"]').waitFor();
  await until('the API says on', async () => (await apiState('schedules', 'often')) === 'on');
});

await check("a tick's run link opens the run", async () => {
  await page.locator('.tick-row a.tick-run').first().click();
  await until('the run page', () => page.url().includes(`#/runs/${lastRun}`));
  await page.locator('.run-status').first().waitFor();
});

await check('the Sensors page shows kind, interval, cursor and last evaluation', async () => {
  await page.goto(`${base}/#/sensors`);
  await page.locator('a[data-nav="sensors"].active').waitFor();
  const row = page.locator('tr[data-sensor="drop"][data-state="on"]');
  await row.waitFor();
  const t = await row.innerText();
  for (const w of ['file', '30s', 'hello']) if (!t.includes(w)) throw new Error(`row lacks ${w}: ${t}`);
  if (!(await row.locator('.cursor').count())) throw new Error(`no cursor shown: ${t}`);
  await row.locator('.last-tick .badge').waitFor();
  await shot('sensors');
});

await check('a sensor page lists its evaluations, one with a run', async () => {
  await page.locator('tr[data-sensor="drop"] a.sched-link').click();
  await until('#/sensors/drop', () => page.url().includes('#/sensors/drop'));
  await until('an evaluation with a run', async () => (await page.locator('.tick-row a.tick-run').count()) >= 1);
  const decl = await page.locator('.sched-decl').innerText();
  if (!decl.includes('in/*.csv')) throw new Error(`declaration lacks the glob: ${decl}`);
  await shot('sensor');
});

await check('an unknown schedule shows the API error', async () => {
  await page.goto(`${base}/#/schedules/nope`);
  await until('the error', async () => (await page.locator('.alert-bad').innerText()).includes("no schedule 'nope'"));
});

await check('no script errors on any page', async () => {
  if (pageErrors.length) throw new Error(pageErrors.join(' | '));
});

await browser.close();
process.exit(failed ? 1 : 0);
