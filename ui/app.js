// app.js: the entry point of the weft web UI: routes, the top bar's active
// link and the server's health badge.
import { route, start, navigate, parseHash } from './router.js';
import { api, onUnauthorized } from './api.js';
import { loginPage } from './pages/login.js';
import { jobsPage } from './pages/jobs.js';
import { jobPage } from './pages/job.js';
import { runsPage } from './pages/runs.js';
import { runPage } from './pages/run.js';
import { schedulesPage, sensorsPage } from './pages/schedules.js';
import { schedulePage, sensorPage } from './pages/schedule.js';
import { workersPage } from './pages/workers.js';
import { backfillsPage, backfillPage } from './pages/backfills.js';
import { assetsPage, assetPage } from './pages/assets.js';
import { storagePage } from './pages/storage.js';

route('/jobs', jobsPage);
route('/jobs/:loc/:job', jobPage);
route('/runs', runsPage);
route('/runs/:id', runPage);
route('/schedules', schedulesPage);
route('/schedules/:name', schedulePage);
route('/sensors', sensorsPage);
route('/sensors/:name', sensorPage);
route('/workers', workersPage);
route('/backfills', backfillsPage);
route('/backfills/:id', backfillPage);
route('/assets', assetsPage);
route('/assets/:key', assetPage);
route('/storage', storagePage);
route('/login', loginPage);

function markNav(path) {
  const section = path.split('/')[1] || 'jobs';
  document.querySelectorAll('[data-nav]').forEach((a) => {
    a.classList.toggle('active', a.dataset.nav === section);
  });
}

async function health() {
  const el = document.getElementById('server-status');
  try {
    const h = await api.health();
    el.textContent = `weft ${h.version || ''}`.trim();
    el.className = 'server-status ok';
    el.title = 'server is up';
  } catch {
    el.textContent = 'server unreachable';
    el.className = 'server-status bad';
  }
}

start(document.getElementById('view'), markNav);
health();
setInterval(() => { if (!document.hidden) health(); }, 15000);

// What the signed-in role may not do is not shown (app.css hides it by
// data-action); the server checks every request all the same. Who is
// signed in shows in the top bar, with a logout button for a login
// session (Basic and proxy sign-ins end with the browser or the proxy).
function showMe(me) {
  document.body.dataset.role = me.role;
  const who = document.getElementById('who');
  const name = me.who ? me.who.replace(/^user:/, '') : '';
  who.textContent = me.who ? `${name} (${me.role})` : '';
  who.hidden = !me.who;
  document.getElementById('logout').hidden = !me.session;
  if (me.who) document.getElementById('server-status').title = `signed in as ${me.who} (${me.role})`;
}
function loadMe() {
  api.me().then(showMe).catch(() => { document.body.dataset.role = 'viewer'; });
}

// Without credentials (none yet, the session expired, logged out elsewhere)
// every page goes to the login page, which comes back here afterwards.
onUnauthorized((why) => {
  const { path } = parseHash();
  if (path === '/login') return;
  document.getElementById('who').hidden = true;
  document.getElementById('logout').hidden = true;
  // A first visit needs no explaining; an expired session does.
  const q = new URLSearchParams({ next: location.hash.replace(/^#/, '') || '/jobs',
    why: why.startsWith('authentication required') ? '' : why });
  location.replace(`#/login?${q}`);
});
window.addEventListener('weft:login', loadMe);
document.getElementById('logout').addEventListener('click', async () => {
  try { await api.logout(); } catch { /* the cookie is cleared or already gone */ }
  document.getElementById('who').hidden = true;
  document.getElementById('logout').hidden = true;
  navigate('/login');
});
loadMe();
