// pages/backfills.js: the Backfills page (every backfill with a progress bar
// of its partitions: succeeded, running, queued, failed, missing) and one
// backfill (#/backfills/ID: the status and latest run of each partition).
// Both refresh every 2 s while something is queued or running.
import { api } from '../api.js';
import { h, mount, badge, errorBox, emptyState, fmtAgo, fmtTime, shortId, tagChips } from '../dom.js';

const POLL_MS = 2000;
const enc = encodeURIComponent;
// counts key -> tone of app.css, in the order the bar shows them.
const SEGMENTS = [['succeeded', 'ok'], ['running', 'live'], ['queued', 'wait'], ['failed', 'bad'], ['missing', 'mute']];

export function progressBar(b) {
  const c = b.counts || {};
  const total = b.keys || 0;
  const parts = SEGMENTS.filter(([k]) => c[k] > 0);
  const text = `${c.succeeded || 0}/${total} succeeded` +
    SEGMENTS.slice(1).filter(([k]) => c[k] > 0).map(([k]) => `, ${c[k]} ${k}`).join('');
  return h('span', { class: 'bf-progress', title: text, 'data-progress': text },
    h('span', { class: 'bf-track' }, parts.map(([k, tone]) => h('span', {
      class: `seg tone-${tone}`, 'data-seg': k, style: { flexGrow: c[k] },
    }))),
    h('span', { class: 'small' }, text));
}

function doneBadge(b) {
  if (!b.done) return badge('started');
  return badge(b.counts.succeeded === b.keys ? 'success' : 'failure');
}

function backfillRow(b, now) {
  return h('tr', { class: 'bf-row', 'data-backfill': b.id },
    h('td', null, doneBadge(b)),
    h('td', null, h('a', { class: 'mono bf-link', href: `#/backfills/${enc(b.id)}` }, b.id)),
    h('td', null, h('a', { href: `#/jobs/${enc(b.location || '')}/${enc(b.job)}` }, b.job),
      h('span', { class: 'muted small loc' }, b.location || '')),
    h('td', { title: fmtTime(b.created_ms) }, fmtAgo(b.created_ms, now)),
    h('td', null, progressBar(b)),
    h('td', { class: 'col-tags' }, tagChips(b.tags)));
}

function table(head, tbody) {
  return h('div', { class: 'table-wrap' },
    h('table', { class: 'table bf-table' }, h('thead', null, h('tr', null, head.map((t) => h('th', null, t)))), tbody));
}

// Refreshes with fn every POLL_MS while keepGoing() says so; returns the
// page's dispose function.
function poller(fn, keepGoing) {
  let alive = true, timer = null, ctl = null;
  async function tick() {
    ctl = new AbortController();
    try { await fn(ctl.signal, () => alive); } finally { ctl = null; }
    if (alive && keepGoing()) timer = setTimeout(() => { if (!document.hidden) tick(); else timer = setTimeout(tick, POLL_MS); }, POLL_MS);
  }
  tick();
  return () => { alive = false; clearTimeout(timer); if (ctl) ctl.abort(); };
}

export function backfillsPage(root) {
  const body = h('tbody'), msg = h('div');
  const HEAD = ['State', 'Backfill', 'Job', 'Created', 'Partitions', 'Tags'];
  let live = true;
  mount(root,
    h('div', { class: 'page-head' }, h('div', null, h('h1', null, 'Backfills'),
      h('div', { class: 'muted' }, 'One run per partition of a partitioned job: weft backfill JOB --from KEY --to KEY.'))),
    h('section', { class: 'card card-flush' }, msg, table(HEAD, body)));
  mount(body, h('tr', null, h('td', { colspan: HEAD.length }, h('div', { class: 'muted small pad' }, 'Loading…'))));
  return poller(async (signal, alive) => {
    try {
      const r = await api.backfills({ signal });
      if (!alive()) return;
      mount(msg);
      const now = Date.now();
      live = r.backfills.some((b) => !b.done);
      mount(body, r.backfills.length ? r.backfills.map((b) => backfillRow(b, now))
        : h('tr', null, h('td', { colspan: HEAD.length }, emptyState('No backfills yet',
          'weft backfill JOB --from 2026-01-01 --to 2026-01-31 makes one run per partition.'))));
    } catch (e) {
      if (e.name !== 'AbortError') mount(msg, errorBox(e));
    }
  }, () => live);
}

function partitionRow(p) {
  return h('tr', { class: 'bf-part', 'data-partition': p.key, 'data-status': p.status },
    h('td', { class: 'mono' }, p.key),
    h('td', null, p.status === 'missing' ? h('span', { class: 'muted' }, 'no run') : badge(p.status)),
    h('td', null, p.run_id ? h('a', { class: 'mono', href: `#/runs/${enc(p.run_id)}`, title: p.run_id }, shortId(p.run_id)) : '–'));
}

export function backfillPage(root, params) {
  const head = h('div'), body = h('tbody'), msg = h('div');
  let live = true;
  mount(root, head, msg,
    h('section', { class: 'card card-flush' }, table(['Partition', 'Status', 'Latest run'], body)));
  return poller(async (signal, alive) => {
    try {
      const { backfill: b } = await api.backfill(params.id, { signal });
      if (!alive()) return;
      live = !b.done;
      mount(msg);
      mount(head, h('div', { class: 'page-head' }, h('div', null,
        h('div', { class: 'crumbs' }, h('a', { href: '#/backfills' }, 'Backfills'), ' / ',
          h('a', { href: `#/jobs/${enc(b.location || '')}/${enc(b.job)}` }, `${b.location || ''} / ${b.job}`)),
        h('h1', { class: 'run-title' }, h('span', { class: 'mono' }, b.id), doneBadge(b)),
        h('div', { class: 'meta-row' }, h('span', null, h('span', { class: 'muted' }, 'created '), fmtTime(b.created_ms)),
          progressBar(b), tagChips(b.tags)),
        h('div', { class: 'muted small' }, 'Running it again (or weft backfill retry ',
          h('span', { class: 'mono' }, b.id), ') launches only the failed and missing partitions.'))));
      mount(body, b.partitions.map(partitionRow));
    } catch (e) {
      if (e.name !== 'AbortError') { live = false; mount(msg, errorBox(e)); }
    }
  }, () => live);
}
