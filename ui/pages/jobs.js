// pages/jobs.js: every job of every code location, with its op count, its
// last run and, for a location or job that fails to load, its errors; and a
// Locations panel to add, reload and remove registry locations.
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

/** The error of a location change, inline: the message, field details. */
function inlineError(e) {
  const details = (e.details || []).map((d) => (d && d.field ? { message: `${d.field}: ${d.message}` } : d));
  return h('div', { class: 'loc-inline-error' }, errorBox({ message: e.message, details }));
}

/**
 * The Locations panel: one row per location with Reload and Remove (which
 * asks for a second click), and an Add location form. Changes carry the
 * registry version the list showed, so a change made meanwhile by someone
 * else is refused (409) instead of overwritten. changed() refreshes the page.
 */
function locationsPanel(changed) {
  const list = h('div');
  const formError = h('div');
  const name = h('input', { class: 'input', name: 'name', placeholder: 'name', autocomplete: 'off', 'aria-label': 'location name' });
  const path = h('input', { class: 'input mono', name: 'path', placeholder: '/path/to/folder on the server', autocomplete: 'off', 'aria-label': 'location folder' });
  const add = h('button', { class: 'btn btn-primary', type: 'submit', 'data-action': 'add-location' }, 'Add location');
  const form = h('form', { class: 'loc-form', 'data-form': 'add-location' }, name, path, add);
  const version = h('span', { class: 'muted small' });
  const panel = h('section', { class: 'card loc-panel', id: 'locations-panel' },
    h('div', { class: 'card-head' }, h('h2', null, 'Locations'), h('span', { class: 'spacer' }), version),
    list, form, formError);
  let regVersion;

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    add.disabled = true;
    mount(formError);
    for (const i of [name, path]) i.classList.remove('invalid');
    try {
      await api.addLocation({ name: name.value.trim(), path: path.value.trim(), if_version: regVersion });
      name.value = '';
      path.value = '';
      await changed();
    } catch (e) {
      for (const d of e.details || []) {
        if (d.field === 'name') name.classList.add('invalid');
        if (d.field === 'path') path.classList.add('invalid');
      }
      mount(formError, inlineError(e));
      if (e.status === 409) await changed();
    } finally {
      add.disabled = false;
    }
  });

  function row(loc) {
    const err = h('div');
    const nerr = (loc.errors || []).length;
    const reload = h('button', { class: 'btn', type: 'button', 'data-action': 'reload-location' }, 'Reload');
    let armedUntil = 0;
    const remove = h('button', { class: 'btn btn-danger', type: 'button', 'data-action': 'remove-location' }, 'Remove');
    const busy = async (fn) => {
      reload.disabled = remove.disabled = true;
      mount(err);
      try {
        await fn();
      } catch (e) {
        mount(err, inlineError(e));
        reload.disabled = remove.disabled = false;
        return;
      }
      await changed();
    };
    reload.addEventListener('click', () => busy(async () => {
      const r = await api.reloadLocation(loc.name);
      if ((r.errors || []).length) {
        const e = new Error(`${r.errors.length} error${r.errors.length === 1 ? '' : 's'} in ${loc.name}; its other jobs stay loaded`);
        e.details = r.errors;
        throw e;
      }
    }));
    remove.addEventListener('click', () => {
      if (Date.now() > armedUntil) {
        armedUntil = Date.now() + 4000;
        remove.classList.add('armed');
        remove.textContent = 'Click again to remove';
        setTimeout(() => {
          if (Date.now() >= armedUntil) { remove.classList.remove('armed'); remove.textContent = 'Remove'; }
        }, 4100);
        return;
      }
      busy(() => api.removeLocation(loc.name, regVersion));
    });
    return h('tr', { 'data-loc-row': loc.name },
      h('td', { class: 'col-name' }, h('strong', null, loc.name)),
      h('td', null, h('span', { class: 'muted mono small' }, loc.path || ''), err),
      h('td', { class: 'col-num' }, loc.jobs ?? '–'),
      h('td', { class: 'col-num' }, nerr ? h('span', { class: 'pill pill-bad' }, String(nerr)) : '0'),
      h('td', null, h('div', { class: 'actions' }, reload, remove)));
  }

  return {
    el: panel,
    show(locs) {
      regVersion = typeof locs.version === 'number' ? locs.version : undefined;
      version.textContent = regVersion ? `registry version ${regVersion}` : '';
      const locations = locs.locations || [];
      mount(list, locations.length
        ? h('table', { class: 'table table-compact' },
          h('thead', null, h('tr', null, h('th', null, 'Name'), h('th', null, 'Folder'),
            h('th', { class: 'col-num' }, 'Jobs'), h('th', { class: 'col-num' }, 'Errors'), h('th', null, ''))),
          h('tbody', null, locations.map(row)))
        : h('div', { class: 'muted small' }, 'No code locations yet.'));
    },
  };
}

export function jobsPage(root) {
  const body = h('div', { class: 'stack' }, h('div', { class: 'card skeleton' }));
  const reload = h('button', { class: 'btn', type: 'button', 'data-action': 'reload-locations' }, 'Reload locations');
  const panel = locationsPanel(() => load(false));
  mount(root,
    h('div', { class: 'page-head' },
      h('div', null, h('h1', null, 'Jobs'), h('div', { id: 'jobs-sub', class: 'muted' }, '\u00a0')),
      h('span', { class: 'spacer' }), reload),
    body, panel.el);

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
      panel.show(locs);
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
