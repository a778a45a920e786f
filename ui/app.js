// app.js: the entry point of the weft web UI: routes, the top bar's active
// link and the server's health badge.
import { route, start } from './router.js';
import { api } from './api.js';
import { jobsPage } from './pages/jobs.js';
import { jobPage } from './pages/job.js';
import { runsPage } from './pages/runs.js';
import { runPage } from './pages/run.js';
import { schedulesPage, sensorsPage } from './pages/schedules.js';
import { schedulePage, sensorPage } from './pages/schedule.js';
import { workersPage } from './pages/workers.js';
import { backfillsPage, backfillPage } from './pages/backfills.js';

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
// data-action); the server checks every request all the same.
api.me().then((me) => {
  document.body.dataset.role = me.role;
  if (me.who) document.getElementById('server-status').title = `signed in as ${me.who} (${me.role})`;
}).catch(() => { document.body.dataset.role = 'viewer'; });
