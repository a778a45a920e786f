// login.test.mjs: the web UI's login page against a `weft server` with
// authentication, in headless Chromium (playwright-core): without
// credentials the UI shows its login page (no password dialog), a wrong
// password is refused, a login shows who is signed in and what the role
// may do, the session cookie is HttpOnly, logging out ends the session on
// the server (the old cookie is then 401), and an expired session sends
// the user back to the login page. Run by tests/t/t0098-ui-login.sh with:
//   WEFT_UI_URL        the server (default session lifetime)
//   WEFT_UI_SHORT_URL  a server whose weft.yaml says auth.session_idle: 3s
//   WEFT_UI_PASS       the password of the users ui-viewer and ui-admin
//   CHROMIUM           the browser binary (default /usr/bin/chromium)
// Prints "PASS name" or "FAIL name<TAB>detail" per check.
import { chromium } from 'playwright-core';

const base = process.env.WEFT_UI_URL;
const short = process.env.WEFT_UI_SHORT_URL;
const pass = process.env.WEFT_UI_PASS;
if (!base || !short || !pass) {
  console.error('usage: WEFT_UI_URL=... WEFT_UI_SHORT_URL=... WEFT_UI_PASS=... node login.test.mjs');
  process.exit(2);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'],
});
const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
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

async function logIn(user, password) {
  await page.waitForSelector('form[data-form="login"]');
  await page.fill('#login-user', user);
  await page.fill('#login-password', password);
  await page.click('[data-action="login"]');
}
async function sessionCookie(url) {
  const c = (await context.cookies(url)).find((k) => k.name === 'weft_session');
  return c;
}

await check('without credentials the UI shows its login page (no password dialog)', async () => {
  const resp = await page.goto(`${base}/#/runs`);
  if (!resp || resp.status() !== 200) throw new Error(`GET / answered ${resp && resp.status()}`);
  await page.waitForSelector('form[data-form="login"]');
  const hash = await page.evaluate(() => location.hash);
  if (!hash.startsWith('#/login') || !hash.includes('next=%2Fruns')) throw new Error(`at ${hash}`);
  if (await page.isVisible('#logout')) throw new Error('a logout button before any login');
});
await check('a wrong password is refused on the page', async () => {
  await logIn('ui-viewer', 'not-the-password');
  await page.waitForSelector('[data-login-status] .alert-bad');
  const text = await page.textContent('[data-login-status]');
  if (!text.includes('wrong user name or password')) throw new Error(text);
  if (await sessionCookie(base)) throw new Error('a cookie after a failed login');
});
await check('a viewer logs in and is back on the page it asked for', async () => {
  await logIn('ui-viewer', pass);
  await page.waitForFunction(() => location.hash === '#/runs');
  await page.waitForSelector('body[data-role="viewer"]');
  await page.waitForSelector('#who:not([hidden])');
  const who = await page.textContent('#who');
  if (who !== 'ui-viewer (viewer)') throw new Error(`top bar says ${who}`);
  if (!(await page.isVisible('#logout'))) throw new Error('no logout button');
});
await check('the session cookie is HttpOnly, SameSite=Strict, not Secure without TLS', async () => {
  const c = await sessionCookie(base);
  if (!c || !c.httpOnly || c.sameSite !== 'Strict' || c.path !== '/' || c.secure)
    throw new Error(JSON.stringify(c));
  const seen = await page.evaluate(() => document.cookie);
  if (seen.includes('weft_session')) throw new Error('a script reads the cookie');
});
await check('a viewer sees no Launch on a job page', async () => {
  await page.goto(`${base}/#/jobs/loc/hello`);
  await page.waitForSelector('[data-action="launch"]', { state: 'attached' });
  if (await page.isVisible('[data-action="launch"]')) throw new Error('Launch is shown');
});
let old = null;
await check('logout goes to the login page and clears the cookie', async () => {
  old = (await sessionCookie(base)).value;
  await page.click('#logout');
  await page.waitForSelector('form[data-form="login"]');
  if (await sessionCookie(base)) throw new Error('the cookie is still there');
  if (await page.isVisible('#who')) throw new Error('still says who is signed in');
});
await check('after logout the old cookie is 401 at the API', async () => {
  const r = await fetch(`${base}/api/v1/me`, { headers: { Cookie: `weft_session=${old}` } });
  const body = await r.json();
  if (r.status !== 401) throw new Error(`HTTP ${r.status} ${JSON.stringify(body)}`);
});
await check('an admin logs in and sees the location controls', async () => {
  await logIn('ui-admin', pass);
  await page.waitForSelector('#who:not([hidden])');
  await page.waitForSelector('body[data-role="admin"]');
  await page.goto(`${base}/#/jobs`);
  await page.waitForSelector('[data-action="reload-locations"]');
  if (!(await page.isVisible('[data-action="reload-locations"]'))) throw new Error('hidden');
  await page.click('#logout');
  await page.waitForSelector('form[data-form="login"]');
});
await check('an expired session goes back to the login page, saying so', async () => {
  await page.goto(`${short}/#/jobs`);
  await logIn('ui-viewer', pass);
  await page.waitForSelector('#who:not([hidden])');
  await page.goto('about:blank'); // nothing uses the session meanwhile
  await page.waitForTimeout(4500); // auth.session_idle: 3s
  await page.goto(`${short}/#/runs`);
  await page.waitForSelector('form[data-form="login"]');
  const text = await page.textContent('[data-login-status]');
  if (!text.includes('idle too long')) throw new Error(`the page says: ${text}`);
  const hash = await page.evaluate(() => location.hash);
  if (!hash.includes('next=%2Fruns')) throw new Error(`at ${hash}`);
});
await check('no uncaught error in the page', async () => {
  if (pageErrors.length) throw new Error(pageErrors.join(' | '));
});
await browser.close();
process.exit(failed ? 1 : 0);
