// pages/jobs.js: every job of every code location, with its op count, its
// last run and, for a location or job that fails to load, its errors.
import { api } from '../api.js';
import { h, mount, badge, tagChips, errorBox, emptyState, fmtAgo } from '../dom.js';

const jobName = (j) => j.name ?? j.job;

/** The errors of a location that belong to a job's file. */
function errorsOfJob(loc, job) {
  const name = jobName(job);
  return (loc.errors || []).filter((e) => e.file && (e.file === job.file ||
    e.file.endsWith(`/jobs/${name}.yaml`) || e.file.endsWith(`/jobs/${name}.yml`)));
}

function errorList(errors) {
  return h('ul', { class: 'diag-list' }, errors.map((e) => h('li', { class: 'diag' },
    h('span', { class: 'diag-where' }, [e.file, e.line, e.col].filter((x) => x != null).join(':')),
    h('span', { class: 'diag-msg' }, e.message))));
}

function jobRow(loc, job, lastRun) {
  const name = jobName(job);
  const errs = errorsOfJob(loc, job);
  const link = `#/jobs/${encodeURIComponent(job.location)}/${encodeURIComponent(name)}`;
  return [
    h('tr', { class: ['job-row', job.valid === false && 'invalid'], 'data-job': name },
      h('td', { class: 'col-name' },
        h('a', { href: link, class: 'job-link' }, name),
        job.valid === false ? h('span', { class: 'pill pill-bad', title: 'this job does not load' }, 'invalid') : null),
      h('td', { class: 'col-desc muted' }, job.description || ''),
      h('td', { class: 'col-num' }, job.ops ?? '–'),
      h('td', null, tagChips(job.tags)),
      h('td', { class: 'col-last' }, lastRun
        ? h('a', { href: `#/runs/${encodeURIComponent(lastRun.id)}`, class: 'last-run' },
          badge(lastRun.status), h('span', { class: 'muted small' }, fmtAgo(lastRun.created_ms)))
        : h('span', { class: 'muted small' }, 'never run'))),
    job.valid === false && errs.length
      ? h('tr', { class: 'job-errors' }, h('td', { colspan: 5 }, errorList(errs))) : null,
  ];
}

function locationCard(loc, jobs, lastRuns) {
  const jobFiles = new Set(jobs.flatMap((j) => errorsOfJob(loc, j).map((e) => e.file)));
  const locErrors = (loc.errors || []).filter((e) => !jobFiles.has(e.file));
  return h('section', { class: 'card', 'data-location': loc.name },
    h('div', { class: 'card-head' },
      h('h2', null, loc.name),
      loc.path ? h('span', { class: 'muted mono small' }, loc.path) : null,
      h('span', { class: 'spacer' }),
      h('span', { class: 'muted small' }, `${jobs.length} job${jobs.length === 1 ? '' : 's'} · ${loc.ops ?? '?'} ops`)),
    locErrors.length ? h('div', { class: 'alert alert-bad' },
      h('strong', null, `${locErrors.length} error${locErrors.length === 1 ? '' : 's'} while loading this location`),
      errorList(locErrors)) : null,
    jobs.length ? h('table', { class: 'table' },
      h('thead', null, h('tr', null, h('th', null, 'Job'), h('th', null, 'Description'),
        h('th', { class: 'col-num' }, 'Ops'), h('th', null, 'Tags'), h('th', null, 'Last run'))),
      h('tbody', null, jobs.map((j) => jobRow(loc, j, lastRuns.get(`${j.location}/${jobName(j)}`)))))
      : emptyState('No jobs', 'Add a file under jobs/ in this location.'));
}

export function jobsPage(root) {
  const body = h('div', { class: 'stack' }, h('div', { class: 'card skeleton' }));
  const reload = h('button', { class: 'btn', type: 'button' }, 'Reload locations');
  mount(root,
    h('div', { class: 'page-head' },
      h('div', null, h('h1', null, 'Jobs'), h('div', { id: 'jobs-sub', class: 'muted' }, '\u00a0')),
      h('span', { class: 'spacer' }), reload),
    body);

  let alive = true;
  async function load(fresh) {
    try {
      const [locs, jobs, runs] = await Promise.all([
        fresh ? api.reloadLocations() : api.locations(), api.jobs(),
        api.runs({ limit: 200 }).catch(() => ({ runs: [] }))]);
      if (!alive) return;
      const lastRuns = new Map();
      for (const r of runs.runs || []) {
        const k = `${r.location}/${r.job}`;
        if (!lastRuns.has(k)) lastRuns.set(k, r);
      }
      const locations = locs.locations || [];
      const all = jobs.jobs || [];
      root.querySelector('#jobs-sub').textContent =
        `${all.length} job${all.length === 1 ? '' : 's'} in ${locations.length} code location${locations.length === 1 ? '' : 's'}`;
      const wsErrors = locs.errors || [];
      const wsAlert = wsErrors.length ? h('div', { class: 'alert alert-bad' },
        h('strong', null, 'The workspace file has errors'), errorList(wsErrors)) : null;
      if (!locations.length) {
        mount(body, wsAlert, emptyState('No code locations', 'List some in workspace.yaml, or run weft dev -l DIR.'));
        return;
      }
      mount(body, wsAlert, locations.map((loc) => locationCard(loc, all.filter((j) => j.location === loc.name), lastRuns)));
    } catch (e) {
      if (alive) mount(body, errorBox(e));
    }
  }
  reload.addEventListener('click', async () => {
    reload.disabled = true;
    await load(true);
    reload.disabled = false;
  });
  load(false);
  return () => { alive = false; };
}
