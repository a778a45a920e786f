// pages/storage.js: what the instance stores per job (runs, events, artifact
// store objects and work folders) and what weft.yaml's retention: policy
// would remove next (GET /api/v1/instance/storage, a dry pass: nothing is
// removed from here; `weft instance purge` or the server's scheduler does).
import { api } from '../api.js';
import { h, mount, badge, errorBox, emptyState, fmtAgo, fmtBytes, fmtTime, shortId } from '../dom.js';

const num = (n) => (n ?? 0).toLocaleString('en-US');

function jobsTable(d) {
  if (!d.jobs.length) return emptyState('Nothing stored', 'No run has been recorded yet.');
  const max = Math.max(1, ...d.jobs.map((j) => j.bytes));
  const t = d.total;
  return h('table', { class: 'table storage-table' },
    h('thead', null, h('tr', null, ['Job', 'Runs', 'Events', 'Artifacts', 'Artifact bytes', 'Work folders', 'Total', '', 'Oldest run']
      .map((c, i) => h('th', { class: i >= 1 && i <= 6 ? 'col-num' : null }, c)))),
    h('tbody', null, d.jobs.map((j) => h('tr', { 'data-job': j.job, 'data-location': j.location },
      h('td', null, h('a', { href: `#/runs?job=${encodeURIComponent(j.job)}` }, j.job), h('span', { class: 'muted small loc' }, j.location)),
      h('td', { class: 'col-num' }, num(j.runs)),
      h('td', { class: 'col-num' }, num(j.events)),
      h('td', { class: 'col-num' }, num(j.artifacts)),
      h('td', { class: 'col-num' }, fmtBytes(j.artifact_bytes)),
      h('td', { class: 'col-num' }, fmtBytes(j.work_bytes)),
      h('td', { class: 'col-num storage-bytes', 'data-bytes': j.bytes }, fmtBytes(j.bytes)),
      h('td', { class: 'storage-bar-cell' }, h('span', { class: 'storage-bar', style: { width: `${(100 * j.bytes) / max}%` } })),
      h('td', { class: 'small muted', title: fmtTime(j.oldest_ms) }, fmtAgo(j.oldest_ms))))),
    h('tfoot', null, h('tr', null, h('th', null, 'All jobs'),
      h('th', { class: 'col-num' }, num(t.runs)), h('th', { class: 'col-num' }, num(t.events)),
      h('th', { class: 'col-num' }, num(t.artifacts)), h('th', { class: 'col-num' }, fmtBytes(t.artifact_bytes)),
      h('th', { class: 'col-num' }, fmtBytes(t.work_bytes)), h('th', { class: 'col-num storage-total' }, fmtBytes(t.bytes)),
      h('th', null), h('th', null))));
}

function retentionCard(r) {
  if (!r.policy) {
    return emptyState('No retention policy', 'weft.yaml has no retention: section, so nothing is ever removed.');
  }
  const runs = Object.values(r.runs || {}).reduce((a, n) => a + n, 0);
  const what = { run: 'the whole run', events_debug: 'its debug events', logs: 'its compute logs', artifacts: 'its artifacts' };
  return [
    h('p', { class: 'retention-summary' },
      `Next pass would remove ${num(runs)} run${runs === 1 ? '' : 's'}`,
      runs ? ` (${Object.entries(r.runs).map(([s, n]) => `${n} ${s}`).join(', ')})` : '',
      `, ${num(r.events)} events of those runs, ${num(r.debug_events)} debug events of kept runs, ` +
      `${num(r.log_files)} log files and ${num(r.artifacts)} artifacts: ${fmtBytes(r.bytes)}.`,
      r.complete ? null : h('span', { class: 'muted' }, ' (the look-ahead stopped after 2 s: there is more)')),
    h('p', { class: 'muted small' }, `Kept although old enough: ${num(r.kept.pinned)} pinned, ` +
      `${num(r.kept.keep_last)} among keep_last, ${num(r.kept.reexecuted)} with a re-execution.`),
    r.items.length ? h('table', { class: 'table table-compact retention-items' },
      h('thead', null, h('tr', null, ['Run', 'Job', 'Status', 'Removes'].map((c) => h('th', null, c)))),
      h('tbody', null, r.items.map((it) => h('tr', { 'data-run': it.run_id, 'data-what': it.what },
        h('td', null, h('a', { class: 'mono', href: `#/runs/${encodeURIComponent(it.run_id)}`, title: it.run_id }, shortId(it.run_id))),
        h('td', null, it.job), h('td', null, badge(it.status)), h('td', null, what[it.what] || it.what))))) : null,
  ];
}

export function storagePage(root) {
  const body = h('div', null, h('div', { class: 'muted small pad' }, 'Loading…'));
  const reload = h('button', { class: 'btn', type: 'button' }, 'Refresh');
  // The look-ahead: what the policy removes now, or after a while.
  const ahead = h('select', { class: 'input select', name: 'ahead', 'aria-label': 'look ahead' },
    [['', 'now'], ['1d', 'in a day'], ['7d', 'in a week'], ['30d', 'in 30 days']].map(([v, t]) => h('option', { value: v }, t)));
  mount(root,
    h('div', { class: 'page-head' }, h('div', null, h('h1', null, 'Storage'),
      h('div', { class: 'muted' }, 'What each job keeps, and what the retention policy removes next.')),
    h('span', { class: 'spacer' }), h('label', { class: 'muted small' }, 'Retention look-ahead: ', ahead), reload),
    body);
  let alive = true;
  async function load() {
    reload.disabled = true;
    try {
      const d = await api.storage({ ahead: ahead.value });
      if (!alive) return;
      mount(body,
        h('section', { class: 'card card-flush', id: 'storage-jobs' }, h('div', { class: 'table-wrap' }, jobsTable(d)),
          d.complete ? null : h('div', { class: 'muted small pad' }, `Only the newest ${num(d.scanned)} runs were counted.`)),
        h('section', { class: 'card', id: 'retention-next' }, h('div', { class: 'card-head' }, h('h2', null, 'Retention: next removal'),
            h('span', { class: 'muted small' }, ahead.value ? ` as of ${fmtTime(d.as_of_ms)}` : '')),
          retentionCard(d.retention)));
    } catch (e) {
      if (alive) mount(body, errorBox(e));
    } finally {
      reload.disabled = false;
    }
  }
  reload.addEventListener('click', load);
  ahead.addEventListener('change', load);
  load();
  return () => { alive = false; };
}
