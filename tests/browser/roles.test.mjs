// roles.test.mjs: the web UI of a `weft server` with authentication, in
// headless Chromium (playwright-core), with HTTP Basic sent by one
// user: the page loads, /api/v1/me names the user and role, and what the
// role may not do is not shown. Run by tests/t/t0095-ui-roles.sh once per
// role, with in the environment:
//   WEFT_UI_URL   the server        WEFT_UI_USER, WEFT_UI_PASS  the user
//   WEFT_UI_ROLE  viewer|launcher|operator|admin (what to expect)
//   CHROMIUM      the browser binary (default /usr/bin/chromium)
// Prints "PASS name" or "FAIL name<TAB>detail" per check.
import { chromium } from 'playwright-core';

const base = process.env.WEFT_UI_URL;
const user = process.env.WEFT_UI_USER;
const role = process.env.WEFT_UI_ROLE;
if (!base || !user || !role) {
  console.error('usage: WEFT_UI_URL=... WEFT_UI_USER=... WEFT_UI_PASS=... WEFT_UI_ROLE=... node roles.test.mjs');
  process.exit(2);
}
const rank = { viewer: 1, launcher: 2, operator: 3, admin: 4 }[role];

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'],
});
// Basic on every request: a browser gets no Basic challenge (it would show
// a password dialog; the UI has its login page, login.test.mjs).
const basic = Buffer.from(`${user}:${process.env.WEFT_UI_PASS || ''}`).toString('base64');
const context = await browser.newContext({
  viewport: { width: 1400, height: 900 },
  extraHTTPHeaders: { Authorization: `Basic ${basic}` },
});
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
    console.log(`FAIL ${name}\t${String(e && e.message ? e.message : e).split('\n').slice(0, 4).join(' | ')}`);
  }
}

/** Whether the element matching sel is on the page and shown. */
async function shown(sel) {
  await page.waitForSelector(sel, { state: 'attached' });
  return page.isVisible(sel);
}
function expect(what, got, want) {
  if (got !== want) throw new Error(`${what}: ${got ? 'shown' : 'hidden'}, expected ${want ? 'shown' : 'hidden'}`);
}

await check(`${role}: the UI loads with the user's password`, async () => {
  await page.goto(`${base}/#/jobs`);
  await page.waitForSelector('body[data-role]');
  const r = await page.evaluate(() => document.body.dataset.role);
  if (r !== role) throw new Error(`body[data-role] is ${r}`);
});
await check(`${role}: /api/v1/me names the user`, async () => {
  const me = await page.evaluate(async () => (await fetch('/api/v1/me')).json());
  if (me.who !== `user:${user}` || me.role !== role || me.auth !== true)
    throw new Error(JSON.stringify(me));
});
await check(`${role}: location changes ${rank >= 4 ? 'shown' : 'hidden'} on the Jobs page`, async () => {
  expect('Reload locations', await shown('[data-action="reload-locations"]'), rank >= 4);
  expect('Add location', await shown('[data-form="add-location"]'), rank >= 4);
});
await check(`${role}: Launch and Validate ${rank >= 2 ? 'shown' : 'hidden'} on a job's page`, async () => {
  await page.goto(`${base}/#/jobs/loc/hello`);
  expect('Launch', await shown('[data-action="launch"]'), rank >= 2);
  expect('Validate', await shown('[data-action="validate"]'), rank >= 2);
});
await check(`${role}: schedule switches ${rank >= 3 ? 'switch' : 'do not switch'}`, async () => {
  await page.goto(`${base}/#/schedules`);
  await page.waitForSelector('[data-action="sched-toggle"]');
  const pe = await page.$eval('[data-action="sched-toggle"]', (el) => getComputedStyle(el).pointerEvents);
  if ((pe !== 'none') !== (rank >= 3)) throw new Error(`pointer-events: ${pe}`);
});
await check(`${role}: no uncaught error in the page`, async () => {
  if (pageErrors.length) throw new Error(pageErrors.join(' | '));
});
await browser.close();
process.exit(failed ? 1 : 0);
