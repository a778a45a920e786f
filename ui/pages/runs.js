// pages/runs.js: runs, newest first, filtered by status and job and searched
// (run id prefix, tag key=value, job:, status:, since:, until:), refreshed
// every 2 s while the page is visible (rows are updated in place, keyed by
// run id, so nothing jumps), with "Load more" following next_cursor, and
// bulk cancel / re-execute / delete of the checked runs (POST /runs/bulk).
import { api } from '../api.js';
import { replaceQuery } from '../router.js';
import { h, mount, badge, tagChips, errorBox, emptyState, fmtAgo, fmtTime, fmtDuration, fmtBytes, shortId, statusTone } from '../dom.js';

const STATUSES = ['queued', 'started', 'success', 'failure', 'canceling', 'canceled'];
const POLL_MS = 2000;

export function stepBar(steps) {
  const entries = Object.entries(steps || {}).filter(([, n]) => n > 0);
  const total = entries.reduce((a, [, n]) => a + n, 0);
  if (!total) return h('span', { class: 'muted small' }, '–');
  const order = ['succeeded', 'reused', 'running', 'up_for_retry', 'queued', 'failed', 'skipped', 'canceled'];
  entries.sort((a, b) => (order.indexOf(a[0]) + 99) % 99 - (order.indexOf(b[0]) + 99) % 99);
  const summary = entries.map(([k, n]) => `${n} ${k}`).join(', ');
  return h('span', { class: 'stepbar', title: summary },
    h('span', { class: 'stepbar-track' }, entries.map(([k, n]) => h('span', {
      class: `seg tone-${statusTone(k)}`, style: { flexGrow: n },
    }))),
    h('span', { class: 'small muted' }, entries.map(([k, n]) => `${n} ${k === 'succeeded' ? 'ok' : k}`).join(', ')));
}

/**
 * The search box's words: `key=value` a tag, `job:NAME`, `status:S[,S]`,
 * `since:T`, `until:T` (T as the API takes it: 2026-12-06, 12h, 7d...),
 * anything else a run id prefix. Returns the API's parameters.
 */
export function parseSearch(text) {
  const out = { tag: [], id: '', job: '', status: [], since: '', until: '' };
  for (const w of String(text || '').trim().split(/\s+/).filter(Boolean)) {
    const m = /^(job|status|since|until|id):(.*)$/.exec(w);
    if (m) {
      if (m[1] === 'status') out.status.push(...m[2].split(',').filter(Boolean));
      else out[m[1]] = m[2];
    } else if (w.includes('=')) out.tag.push(w);
    else out.id = w;
  }
  return out;
}

function runRow(run, now, selected, onCheck) {
  const live = !run.ended_ms && (run.status === 'started' || run.status === 'canceling');
  const dur = live && run.started_ms ? now - run.started_ms : run.duration_ms;
  return h('tr', { class: 'run-row', 'data-run': run.id, 'data-status': run.status },
    h('td', { class: 'col-check' }, h('input', { type: 'checkbox', class: 'run-check', 'aria-label': `select run ${run.id}`,
      checked: selected.has(run.id), onchange: (e) => onCheck(run.id, e.target.checked) })),
    h('td', null, badge(run.status), run.queue_reason
      ? h('div', { class: 'queue-reason small muted', title: 'why it waits in the run queue' }, run.queue_reason) : null),
    h('td', null, h('a', { class: 'mono run-link', href: `#/runs/${encodeURIComponent(run.id)}`, title: run.id }, shortId(run.id))),
    h('td', null, h('a', { href: `#/jobs/${encodeURIComponent(run.location)}/${encodeURIComponent(run.job)}` }, run.job),
      h('span', { class: 'muted small loc' }, run.location)),
    h('td', { title: fmtTime(run.started_ms || run.created_ms) }, fmtAgo(run.started_ms || run.created_ms, now)),
    h('td', { class: 'col-num' }, fmtDuration(dur)),
    h('td', null, stepBar(run.steps)),
    h('td', { class: 'col-tags' }, tagChips(run.tags)),
    h('td', null, run.parent_run_id
      ? h('a', { class: 'mono small', href: `#/runs/${encodeURIComponent(run.parent_run_id)}`, title: 're-execution of this run' },
        `↻ ${shortId(run.parent_run_id)}`) : null));
}

export function runsPage(root, _params, query) {
  const state = {
    status: (query.get('status') || '').split(',').filter((x) => STATUSES.includes(x)),
    job: query.get('job') || '',
    q: query.get('q') || '',
    runs: [],
    next: null,
  };
  const chips = h('div', { class: 'chips', role: 'group', 'aria-label': 'status filter' });
  const jobSelect = h('select', { class: 'input select', 'aria-label': 'job filter', name: 'job' },
    h('option', { value: '' }, 'All jobs'));
  const search = h('input', { class: 'input runs-search', type: 'search', name: 'q', value: state.q,
    placeholder: 'run id prefix, key=value, job:NAME, status:failure, since:7d, until:2026-12-06',
    'aria-label': 'search runs', size: 48 });
  const selected = new Set();
  const allBox = h('input', { type: 'checkbox', class: 'run-check-all', 'aria-label': 'select every run shown' });
  const tbody = h('tbody');
  const table = h('table', { class: 'table runs-table' },
    h('thead', null, h('tr', null, h('th', { class: 'col-check' }, allBox),
      ['Status', 'Run', 'Job', 'Started', 'Duration', 'Steps', 'Tags', 'Parent']
        .map((t, i) => h('th', { class: i === 4 ? 'col-num' : null }, t)))), tbody);
  const bulkInfo = h('span', { class: 'small muted bulk-count' });
  const bulkBtn = (action, label, cls) => h('button', { type: 'button', class: ['btn', 'btn-sm', cls], 'data-action': action,
    'data-bulk': action === 'delete-runs' ? 'delete' : action === 'reexecute-runs' ? 'reexecute' : 'cancel' }, label);
  const bCancel = bulkBtn('cancel', 'Cancel'), bRe = bulkBtn('reexecute-runs', 'Re-execute from failure'),
    bDel = bulkBtn('delete-runs', 'Delete', 'btn-danger');
  const bulkBar = h('div', { class: 'bulk-bar', hidden: true }, bulkInfo, bCancel, bRe, bDel);
  const bulkMsg = h('div', { class: 'bulk-msg' });
  const more = h('button', { class: 'btn', type: 'button', hidden: true }, 'Load more');
  const info = h('div', { class: 'muted small' });
  const body = h('div', { class: 'table-wrap' }, table);
  const msg = h('div');

  mount(root,
    h('div', { class: 'page-head' }, h('div', null, h('h1', null, 'Runs'),
      h('div', { class: 'muted' }, 'Newest first; updates live.')),
    h('span', { class: 'spacer' }), h('span', { class: 'live-dot', title: 'refreshing every 2 s' }, 'live')),
    h('div', { class: 'filters' }, chips, h('span', { class: 'spacer' }), jobSelect),
    h('form', { class: 'filters runs-search-form', onsubmit: (e) => { e.preventDefault(); state.q = search.value; changed(); } },
      search, h('button', { class: 'btn', type: 'submit' }, 'Search'),
      h('button', { class: 'btn btn-ghost', type: 'button', onclick: () => { search.value = ''; state.q = ''; changed(); } }, 'Clear')),
    bulkBar, bulkMsg,
    msg,
    h('section', { class: 'card card-flush' }, body),
    h('div', { class: 'more-row' }, info, h('span', { class: 'spacer' }), more));

  function renderChips() {
    const all = h('button', { type: 'button', class: ['chip', !state.status.length && 'on'], 'data-status': 'all',
      onclick: () => { state.status = []; changed(); } }, 'All');
    mount(chips, all, STATUSES.map((st) => h('button', {
      type: 'button', class: ['chip', `tone-${statusTone(st)}`, state.status.includes(st) && 'on'], 'data-status': st,
      'aria-pressed': String(state.status.includes(st)),
      onclick: () => {
        state.status = state.status.includes(st) ? state.status.filter((x) => x !== st) : [...state.status, st];
        changed();
      },
    }, h('span', { class: 'dot' }), st === 'started' ? 'running' : st)));
  }

  const rows = new Map(); // id -> {tr, sig}
  function renderRows() {
    const now = Date.now();
    if (!state.runs.length) {
      rows.clear();
      mount(tbody, h('tr', null, h('td', { colspan: 9 }, emptyState('No runs',
        state.status.length || state.job || state.q ? 'Nothing matches these filters.' : 'Launch a job from its page to see it here.'))));
    } else {
      for (const c of [...tbody.children]) if (!c.dataset.run) c.remove();
      const seen = new Set();
      let prev = null;
      for (const run of state.runs) {
        seen.add(run.id);
        const live = !run.ended_ms && run.started_ms;
        const sig = JSON.stringify(run, (k, v) => (k === 'heartbeat_ms' ? undefined : v)) +
          (live ? now : '') + fmtAgo(run.started_ms || run.created_ms, now);
        let r = rows.get(run.id);
        if (!r || r.sig !== sig) {
          const tr = runRow(run, now, selected, onCheck);
          if (r) r.tr.replaceWith(tr);
          r = { tr, sig };
          rows.set(run.id, r);
        }
        const want = prev ? prev.nextSibling : tbody.firstChild;
        if (want !== r.tr) tbody.insertBefore(r.tr, want);
        prev = r.tr;
      }
      for (const [id, r] of rows) if (!seen.has(id)) { r.tr.remove(); rows.delete(id); }
    }
    renderBulk();
    more.hidden = !state.next;
    info.textContent = state.runs.length ? `${state.runs.length} run${state.runs.length === 1 ? '' : 's'} shown` : '';
  }

  function onCheck(id, on) {
    if (on) selected.add(id); else selected.delete(id);
    disarm();
    renderBulk();
  }
  function renderBulk() {
    // Only runs still shown stay checked (a search changed the list).
    const shown = new Set(state.runs.map((r) => r.id));
    for (const id of selected) if (!shown.has(id)) selected.delete(id);
    bulkBar.hidden = !selected.size;
    bulkInfo.textContent = `${selected.size} selected`;
    allBox.checked = state.runs.length > 0 && selected.size === state.runs.length;
    allBox.indeterminate = selected.size > 0 && selected.size < state.runs.length;
  }
  allBox.addEventListener('change', () => {
    if (allBox.checked) state.runs.forEach((r) => selected.add(r.id)); else selected.clear();
    for (const cb of tbody.querySelectorAll('.run-check')) cb.checked = selected.has(cb.closest('tr').dataset.run);
    disarm();
    renderBulk();
  });

  // Delete asks twice: the first click shows what would go (a dry run).
  let armed = false;
  function disarm() { armed = false; bDel.classList.remove('armed'); bDel.textContent = 'Delete'; }
  async function bulk(action) {
    const ids = [...selected];
    if (!ids.length) return;
    const body = { action, ids };
    if (action === 'delete' && !armed) body.dry_run = true;
    for (const b of [bCancel, bRe, bDel]) b.disabled = true;
    try {
      const r = await api.runsBulk(body);
      const bad = (r.results || []).filter((x) => !x.ok);
      if (body.dry_run) {
        const w = (r.results || []).filter((x) => x.ok).reduce((a, x) => {
          const t = x.would_remove || {};
          return { events: a.events + (t.events || 0), bytes: a.bytes + (t.bytes || 0) };
        }, { events: 0, bytes: 0 });
        armed = r.ok > 0;
        if (armed) { bDel.classList.add('armed'); bDel.textContent = `Delete ${r.ok} run${r.ok === 1 ? '' : 's'}?`; }
        mount(bulkMsg, h('div', { class: ['alert', bad.length ? 'alert-warn' : null], role: 'status' },
          `Deleting would remove ${r.ok} run${r.ok === 1 ? '' : 's'} (${w.events} events, ${fmtBytes(w.bytes)} of files)` +
          (armed ? ': click again to delete.' : '.'), bulkFailures(bad)));
        return;
      }
      disarm();
      const verb = { cancel: 'canceled', reexecute: 're-executed', delete: 'deleted' }[action];
      mount(bulkMsg, h('div', { class: ['alert', bad.length ? 'alert-warn' : 'alert-ok'], role: 'status' },
        `${r.ok} ${verb}${bad.length ? `, ${bad.length} not` : ''}.`,
        action === 'reexecute' ? h('span', null, ' New runs: ', (r.results || []).filter((x) => x.run_id).map((x) =>
          [h('a', { class: 'mono', href: `#/runs/${encodeURIComponent(x.run_id)}` }, shortId(x.run_id)), ' '])) : null,
        bulkFailures(bad)));
      // Done with those runs: uncheck them.
      selected.clear();
      for (const cb of tbody.querySelectorAll('.run-check')) cb.checked = false;
      renderBulk();
      refresh();
    } catch (e) {
      disarm();
      mount(bulkMsg, errorBox(e));
    } finally {
      for (const b of [bCancel, bRe, bDel]) b.disabled = false;
    }
  }
  function bulkFailures(bad) {
    return bad.length ? h('ul', { class: 'small' }, bad.map((x) =>
      h('li', null, h('span', { class: 'mono' }, shortId(x.id)), `: ${x.message || `HTTP ${x.status}`}`))) : null;
  }
  bCancel.addEventListener('click', () => { disarm(); bulk('cancel'); });
  bRe.addEventListener('click', () => { disarm(); bulk('reexecute'); });
  bDel.addEventListener('click', () => bulk('delete'));

  // The API's parameters: the chips and the job list, and the search box's words.
  function params(extra) {
    const q = parseSearch(state.q);
    const status = [...new Set([...state.status, ...q.status])];
    return { status, job: q.job || state.job, id: q.id, tag: q.tag, since: q.since, until: q.until, ...extra };
  }

  let alive = true, inflight = null;
  async function refresh() {
    if (inflight) inflight.abort();
    const ctl = new AbortController();
    inflight = ctl;
    try {
      const r = await api.runs(params({ limit: Math.min(500, Math.max(50, state.runs.length)) }), { signal: ctl.signal });
      if (!alive || ctl.signal.aborted) return;
      state.runs = r.runs || [];
      state.next = r.next_cursor || null;
      mount(msg);
      renderRows();
    } catch (e) {
      if (alive && e.name !== 'AbortError') mount(msg, errorBox(e));
    } finally {
      if (inflight === ctl) inflight = null;
    }
  }

  function changed() {
    replaceQuery({ status: state.status, job: state.job, q: state.q });
    mount(bulkMsg);
    disarm();
    renderChips();
    state.runs = [];
    rows.clear();
    tbody.replaceChildren();
    refresh();
  }

  more.addEventListener('click', async () => {
    more.disabled = true;
    try {
      const r = await api.runs(params({ limit: 50, cursor: state.next }));
      const have = new Set(state.runs.map((x) => x.id));
      state.runs.push(...(r.runs || []).filter((x) => !have.has(x.id)));
      state.next = r.next_cursor || null;
      renderRows();
    } catch (e) {
      mount(msg, errorBox(e));
    } finally {
      more.disabled = false;
    }
  });
  jobSelect.addEventListener('change', () => { state.job = jobSelect.value; changed(); });

  api.jobs().then((r) => {
    const names = [...new Set((r.jobs || []).map((j) => j.name ?? j.job))].sort();
    if (state.job && !names.includes(state.job)) names.unshift(state.job);
    jobSelect.append(...names.map((n) => h('option', { value: n }, n)));
    jobSelect.value = state.job;
  }).catch(() => {});

  renderChips();
  mount(tbody, h('tr', null, h('td', { colspan: 9 }, h('div', { class: 'muted small pad' }, 'Loading…'))));
  refresh();
  const timer = setInterval(() => { if (!document.hidden && !inflight) refresh(); }, POLL_MS);
  return () => { alive = false; clearInterval(timer); if (inflight) inflight.abort(); };
}
