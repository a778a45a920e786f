// pages/assets.js: the asset catalog: the Assets page (search, groups, stale
// badges) and one asset (#/assets/KEY): a chart of a numeric metadata value
// over its materializations, the latest metadata, producing job/op, the
// lineage graph, a partition heat strip, staleness with its reasons,
// checks, and a Materialize button (its producing job, through the queue).
import { api } from '../api.js';
import { drawGraph } from '../graph.js';
import { h, s, mount, errorBox, emptyState, fmtAgo, fmtTime, shortId, valueText, debounce } from '../dom.js';

const enc = encodeURIComponent;

function staleBadge(a) {
  if (!a.latest) return h('span', { class: 'badge tone-mute', 'data-stale': 'missing' }, h('span', { class: 'dot' }), 'missing');
  if (a.stale) {
    const why = (a.stale_reasons || []).map(reasonText).join('; ');
    return h('span', { class: 'badge tone-warn', 'data-stale': 'stale', title: why }, h('span', { class: 'dot' }), 'stale');
  }
  return h('span', { class: 'badge tone-ok', 'data-stale': 'fresh' }, h('span', { class: 'dot' }), 'fresh');
}

function reasonText(r) {
  if (r.kind === 'upstream') return `upstream ${r.asset} was materialized after it (${fmtTime(r.ts_ms)})`;
  return `the code of location ${r.location} changed since (${r.materialized_with} → ${r.current})`;
}

function producer(a) {
  const p = (a.producers || [])[0];
  if (!p) return h('span', { class: 'muted' }, 'undeclared');
  return h('span', null, h('a', { href: `#/jobs/${enc(p.location)}/${enc(p.job)}` }, `${p.location} / ${p.job}`),
    h('span', { class: 'muted small' }, ` op ${p.op}`));
}

function assetRow(a, now) {
  return h('tr', { class: 'asset-row', 'data-asset': a.key },
    h('td', null, h('a', { class: 'mono asset-link', href: `#/assets/${enc(a.key)}` }, a.key)),
    h('td', null, a.group || h('span', { class: 'muted' }, '–')),
    h('td', null, producer(a)),
    h('td', { title: a.latest ? fmtTime(a.latest.ts_ms) : '' }, a.latest ? fmtAgo(a.latest.ts_ms, now) : 'never'),
    h('td', null, String(a.materializations || 0)),
    h('td', null, staleBadge(a),
      a.freshness && a.freshness.overdue ? h('span', { class: 'badge tone-bad', 'data-overdue': '1' }, 'overdue') : null));
}

export function assetsPage(root, params, query) {
  const body = h('tbody'), msg = h('div'), groups = h('div', { class: 'asset-groups' }), more = h('div');
  const search = h('input', { class: 'input', type: 'search', placeholder: 'Search assets', value: (query && query.get('q')) || '', 'aria-label': 'search assets' });
  let group = (query && query.get('group')) || '', ctl = null;
  const HEAD = ['Asset', 'Group', 'Produced by', 'Materialized', 'Count', 'Status'];
  mount(root,
    h('div', { class: 'page-head' }, h('div', null, h('h1', null, 'Assets'),
      h('div', { class: 'muted' }, 'What ops produce (assets: in their YAML) and every asset a step materialized.'))),
    h('div', { class: 'toolbar' }, search, groups),
    h('section', { class: 'card card-flush' }, msg,
      h('div', { class: 'table-wrap' }, h('table', { class: 'table asset-table' },
        h('thead', null, h('tr', null, HEAD.map((t) => h('th', null, t)))), body)), more));
  async function load(cursor) {
    if (ctl) ctl.abort();
    ctl = new AbortController();
    try {
      const r = await api.assets({ q: search.value, group, cursor }, { signal: ctl.signal });
      const now = Date.now();
      mount(msg);
      mount(groups, h('button', { class: ['chip', group ? '' : 'active'], type: 'button', 'data-group': '', onclick: () => { group = ''; load(); } }, 'all'),
        r.groups.map((g) => h('button', { class: ['chip', g.name === group ? 'active' : ''], type: 'button', 'data-group': g.name,
          onclick: () => { group = g.name; load(); } }, `${g.name} (${g.count})`)));
      const rows = r.assets.map((a) => assetRow(a, now));
      if (cursor) rows.forEach((x) => body.appendChild(x));
      else mount(body, rows.length ? rows : h('tr', null, h('td', { colspan: HEAD.length }, emptyState('No assets',
        'Declare them on ops (assets: [name]) or report {"type":"materialization","asset":...} from a step.'))));
      mount(more, r.next_cursor ? h('button', { class: 'btn', type: 'button', onclick: () => load(r.next_cursor) }, 'More') : null);
    } catch (e) {
      if (e.name !== 'AbortError') mount(msg, errorBox(e));
    }
  }
  search.addEventListener('input', debounce(() => load(), 250));
  load();
  return () => { if (ctl) ctl.abort(); };
}

// ---- one asset --------------------------------------------------------------

/** The numeric metadata keys of the materializations, most frequent first. */
function numericKeys(events) {
  const count = new Map();
  for (const e of events) for (const [k, v] of Object.entries(e.metadata || {})) {
    if (typeof v === 'number') count.set(k, (count.get(k) || 0) + 1);
  }
  return [...count.entries()].sort((a, b) => b[1] - a[1]).map(([k]) => k);
}

/** A line chart (SVG) of metadata key over time, oldest left. */
function chart(events, key) {
  const pts = events.filter((e) => typeof (e.metadata || {})[key] === 'number')
    .map((e) => [e.ts_ms, e.metadata[key]]).reverse();
  const W = 640, H = 160, P = 32;
  if (!pts.length) return h('div', { class: 'muted small' }, `no numeric value of ${key}`);
  const xs = pts.map((p) => p[0]), ys = pts.map((p) => p[1]);
  const x0 = Math.min(...xs), x1 = Math.max(...xs), y0 = Math.min(0, ...ys), y1 = Math.max(...ys);
  const X = (x) => P + (x1 === x0 ? (W - 2 * P) / 2 : ((x - x0) / (x1 - x0)) * (W - 2 * P));
  const Y = (y) => H - P - (y1 === y0 ? (H - 2 * P) / 2 : ((y - y0) / (y1 - y0)) * (H - 2 * P));
  const d = pts.map((p, i) => `${i ? 'L' : 'M'}${X(p[0]).toFixed(1)},${Y(p[1]).toFixed(1)}`).join(' ');
  return s('svg', { class: 'asset-chart', viewBox: `0 0 ${W} ${H}`, width: W, height: H, 'data-key': key, 'data-points': pts.length, role: 'img', 'aria-label': `${key} over time` },
    s('line', { class: 'axis', x1: P, y1: H - P, x2: W - P, y2: H - P }),
    s('line', { class: 'axis', x1: P, y1: P, x2: P, y2: H - P }),
    s('text', { class: 'axis-label', x: 2, y: P + 4 }, String(y1)),
    s('text', { class: 'axis-label', x: 2, y: H - P }, String(y0)),
    s('path', { class: 'line', d, fill: 'none' }),
    pts.map((p) => s('circle', { class: 'pt', cx: X(p[0]).toFixed(1), cy: Y(p[1]).toFixed(1), r: 3 },
      s('title', null, `${fmtTime(p[0])}: ${p[1]}`))));
}

/** One cell per partition: materialized (ok) or missing. */
function heatStrip(p) {
  if (!p || !(p.keys || []).length) return null;
  const mat = p.materialized || {};
  return h('div', null,
    h('div', { class: 'asset-strip', 'data-total': p.total, 'data-missing': p.missing },
      p.keys.map((k) => h('span', { class: ['cell', mat[k] ? 'tone-ok' : 'tone-mute'], 'data-partition': k,
        'data-state': mat[k] ? 'materialized' : 'missing', title: mat[k] ? `${k}: ${fmtTime(mat[k])}` : `${k}: missing` }))),
    h('div', { class: 'muted small' }, `${Object.keys(mat).length} materialized, ${p.missing} missing of ${p.total}`));
}

/** The lineage as the job graph draws it: levels by longest path. */
function lineageGraph(l, key) {
  const nodes = l.nodes || [], edges = (l.edges || []).filter(([a, b]) => nodes.some((n) => n.key === a) && nodes.some((n) => n.key === b));
  const level = new Map(nodes.map((n) => [n.key, 0]));
  for (let i = 0; i < nodes.length; i++) {
    for (const [a, b] of edges) if (level.get(b) < level.get(a) + 1) level.set(b, level.get(a) + 1);
  }
  const ups = new Map(nodes.map((n) => [n.key, []]));
  for (const [a, b] of edges) ups.get(b).push(a);
  const job = { name: `lineage of ${key}`, ops: nodes.map((n) => ({ name: n.key, level: level.get(n.key), upstream: ups.get(n.key),
    description: n.stale ? 'stale' : n.materialized ? 'fresh' : 'never materialized',
    sub: `${n.stale ? 'stale' : n.materialized ? 'fresh' : 'missing'}${n.declared ? '' : ' · undeclared'}` })),
  edges: edges.map(([a, b]) => ({ from: a, to: b, output: 'result' })) };
  const status = Object.fromEntries(nodes.map((n) => [n.key, !n.materialized ? 'skipped' : n.stale ? 'up_for_retry' : 'success']));
  const g = drawGraph(job, { status, onSelect: (name) => { if (name !== key) location.hash = `#/assets/${enc(name)}`; } });
  g.select(key);
  return h('div', { class: 'asset-lineage' }, g.el);
}

function checksTable(checks) {
  if (!checks.length) return h('div', { class: 'muted small' }, 'No checks reported ({"type":"check","asset":...,"name":...,"passed":...}).');
  return h('table', { class: 'table asset-checks' }, h('thead', null, h('tr', null, ['Check', 'Latest', 'When', 'History'].map((t) => h('th', null, t)))),
    h('tbody', null, checks.map((c) => h('tr', { 'data-check': c.name, 'data-passed': String(c.passed) },
      h('td', { class: 'mono' }, c.name),
      h('td', null, h('span', { class: ['badge', c.passed ? 'tone-ok' : 'tone-bad'] }, h('span', { class: 'dot' }), c.passed ? 'passed' : 'failed')),
      h('td', { title: fmtTime(c.ts_ms) }, fmtAgo(c.ts_ms)),
      h('td', null, h('span', { class: 'asset-check-history' }, c.history.slice(0, 30).reverse().map((x) =>
        h('span', { class: ['cell', x.passed ? 'tone-ok' : 'tone-bad'], title: `${fmtTime(x.ts_ms)}: ${x.passed ? 'passed' : 'failed'}` }))))))));
}

function historyTable(events) {
  return h('table', { class: 'table asset-history' }, h('thead', null, h('tr', null, ['When', 'What', 'Run', 'Partition', 'Metadata'].map((t) => h('th', null, t)))),
    h('tbody', null, events.map((e) => h('tr', { 'data-kind': e.kind },
      h('td', { title: fmtTime(e.ts_ms) }, fmtAgo(e.ts_ms)),
      h('td', null, e.kind === 'check' ? `check ${e.name}: ${e.passed ? 'passed' : 'failed'}` : e.kind.replace('_', ' ')),
      h('td', null, e.run_id ? h('a', { class: 'mono', href: `#/runs/${enc(e.run_id)}` }, shortId(e.run_id)) : '–'),
      h('td', { class: 'mono' }, e.partition || ''),
      h('td', { class: 'mono small' }, valueText(e.kind === 'freshness_missed' ? e.details : e.metadata))))));
}

export function assetPage(root, params) {
  const key = params.key;
  const head = h('div'), msg = h('div'), body = h('div');
  mount(root, head, msg, body);
  let ctl = new AbortController();
  async function materialize(btn, a) {
    btn.disabled = true;
    try {
      const r = await api.materializeAsset(key, {});
      mount(msg, h('div', { class: 'alert alert-ok', 'data-materialized': (r.run_ids || [])[0] || r.backfill_id },
        'Launched ', (r.run_ids || []).map((id) => h('a', { class: 'mono', href: `#/runs/${enc(id)}` }, id)),
        r.backfill_id ? h('a', { href: `#/backfills/${enc(r.backfill_id)}` }, `backfill ${r.backfill_id}`) : null,
        ` of job ${r.job}.`));
    } catch (e) {
      mount(msg, errorBox(e));
    } finally {
      btn.disabled = false;
    }
    void a;
  }
  async function load() {
    try {
      const [a, hist] = await Promise.all([api.asset(key, { signal: ctl.signal }),
        api.assetHistory(key, { limit: 200 }, { signal: ctl.signal })]);
      const btn = h('button', { class: 'btn btn-primary', type: 'button', 'data-action': 'launch', 'data-materialize': key,
        disabled: !(a.producers || []).length, title: (a.producers || []).length ? 'launch its producing job' : 'no job produces it' }, 'Materialize');
      btn.addEventListener('click', () => materialize(btn, a));
      mount(head, h('div', { class: 'page-head' }, h('div', null,
        h('div', { class: 'crumbs' }, h('a', { href: '#/assets' }, 'Assets'), a.group ? ` / ${a.group}` : ''),
        h('h1', { class: 'run-title' }, h('span', { class: 'mono' }, a.key), staleBadge(a)),
        a.description ? h('div', { class: 'muted' }, a.description) : null,
        h('div', { class: 'meta-row' }, h('span', null, h('span', { class: 'muted' }, 'produced by '), producer(a)),
          a.latest ? h('span', null, h('span', { class: 'muted' }, 'last '), fmtTime(a.latest.ts_ms), ' by run ',
            h('a', { class: 'mono', href: `#/runs/${enc(a.latest.run_id)}` }, shortId(a.latest.run_id))) : h('span', { class: 'muted' }, 'never materialized'),
          (a.owners || []).length ? h('span', null, h('span', { class: 'muted' }, 'owners '), a.owners.join(', ')) : null,
          a.freshness ? h('span', { 'data-freshness': a.freshness.overdue ? 'overdue' : 'ok' }, h('span', { class: 'muted' }, 'max age '), a.freshness.max_age,
            a.freshness.overdue ? h('span', { class: 'badge tone-bad' }, 'overdue') : null) : null)),
      h('div', null, btn)));
      const reasons = (a.stale_reasons || []);
      const events = hist.events || [];
      const mats = events.filter((e) => e.kind === 'materialization');
      const keys = numericKeys(mats);
      const chartBox = h('div');
      const picker = keys.length > 1 ? h('select', { class: 'input', 'aria-label': 'metadata value', onchange: (ev) => mount(chartBox, chart(mats, ev.target.value)) },
        keys.map((k) => h('option', { value: k }, k))) : null;
      mount(chartBox, keys.length ? chart(mats, keys[0]) : h('div', { class: 'muted small' }, 'No numeric metadata to chart yet.'));
      mount(body,
        reasons.length ? h('div', { class: 'alert alert-warn asset-stale', role: 'status' }, h('strong', null, 'Stale: '),
          reasons.map((r) => h('div', { 'data-reason': r.kind }, reasonText(r)))) : null,
        h('section', { class: 'card' }, h('h2', null, 'History ', picker), chartBox),
        h('section', { class: 'card' }, h('h2', null, 'Latest metadata'),
          Object.keys(a.metadata_latest || {}).length ? h('table', { class: 'table asset-metadata' }, h('tbody', null,
            Object.entries(a.metadata_latest).map(([k, v]) => h('tr', { 'data-key': k }, h('td', { class: 'mono' }, k),
              h('td', { class: 'mono' }, valueText(v.value)), h('td', { class: 'muted small', title: fmtTime(v.ts_ms) }, fmtAgo(v.ts_ms))))))
            : h('div', { class: 'muted small' }, 'None yet.')),
        a.partitions && (a.partitions.keys || []).length ? h('section', { class: 'card' }, h('h2', null, 'Partitions'), heatStrip(a.partitions)) : null,
        h('section', { class: 'card' }, h('h2', null, 'Lineage'), lineageGraph(a.lineage || {}, a.key)),
        h('section', { class: 'card' }, h('h2', null, 'Checks'), checksTable(a.checks || [])),
        h('section', { class: 'card card-flush' }, h('h2', { class: 'pad' }, 'Materializations and checks'), historyTable(events)));
    } catch (e) {
      if (e.name !== 'AbortError') mount(msg, errorBox(e));
    }
  }
  load();
  return () => ctl.abort();
}
