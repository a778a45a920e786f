// pages/schedule.js: one schedule or sensor: its declaration and on/off
// switch, the next ticks a schedule will fire (local time and its zone),
// and the tick (evaluation) history with status, reason and run links,
// older pages loaded on demand. Refreshed every 2 s while visible.
import { api } from '../api.js';
import { h, mount, errorBox, fmtAgo, tagChips } from '../dom.js';
import { POLL_MS, fmtIn, fmtInterval, bothTimes, lastTick, stateSwitch, ticksTable } from '../sched.js';

const enc = encodeURIComponent;

function kv(rows) {
  return h('dl', { class: 'kv' }, rows.filter(Boolean).map(([k, v]) => [h('dt', null, k), h('dd', null, v)]));
}

const code = (v) => h('pre', { class: 'code' }, typeof v === 'string' ? v : JSON.stringify(v, null, 2));

/** What a sensor's kind declares, as rows of kv(). */
function sensorRows(it) {
  switch (it.kind) {
    case 'file': return [['glob', h('span', { class: 'mono' }, it.glob || '–')]];
    case 'command': return [['command', h('span', { class: 'mono' }, it.run || (it.argv || []).join(' ') || '–')],
      ['timeout', it.timeout_s ? `${it.timeout_s} s` : '–']];
    case 'run_status': return [['watches', h('span', null, h('span', { class: 'mono' }, it.watch_job || '–'),
      ` when it ends in ${it.watch_status || '–'}`)]];
    case 'asset': return [['asset', h('span', { class: 'asset' }, it.asset || '–')]];
    default: return [];
  }
}

function detailPage(kind, root, name) {
  const one = kind.slice(0, -1);
  const isSched = kind === 'schedules';
  const head = h('div');
  const msg = h('div');
  const aside = h('div', { class: 'card sched-decl' });
  const previewBox = h('div');
  const historyBox = h('div', { class: 'table-wrap' });
  const more = h('button', { class: 'btn', type: 'button', hidden: true }, 'Load older');
  const historyInfo = h('span', { class: 'muted small' });
  const what = isSched ? 'ticks' : 'evaluations';

  mount(root, head, msg,
    h('div', { class: 'grid-2 sched-grid' },
      h('div', { class: 'stack' },
        isSched ? h('section', { class: 'card sched-preview' },
          h('div', { class: 'card-head' }, h('h2', null, 'Next ticks'),
            h('span', { class: 'muted small' }, 'the next 10 fire times, whether on or off')), previewBox) : null,
        h('section', { class: 'card card-flush sched-history' },
          h('div', { class: 'card-head pad-head' }, h('h2', null, isSched ? 'Tick history' : 'Evaluations'),
            h('span', { class: 'spacer' }), historyInfo), historyBox,
          h('div', { class: 'more-row pad-head' }, h('span', { class: 'spacer' }), more))),
      aside));

  // Every tick seen, by time: the newest 20 come with each refresh, older
  // pages as loaded; none drops out as new ones arrive.
  const known = new Map();
  let item = null, hasMore = false, loadedOlder = false, sig = '';
  let alive = true, inflight = null;

  const fail = (e) => mount(msg, errorBox(e));
  const changed = (it) => {
    if (inflight) inflight.abort();
    item = Object.assign({}, item, it);
    renderHead();
  };

  function renderHead() {
    const now = Date.now();
    mount(head, h('div', { class: 'page-head' },
      h('div', null,
        h('div', { class: 'crumbs' }, h('a', { href: `#/${kind}` }, isSched ? 'Schedules' : 'Sensors'), ' / ',
          h('span', null, item.location)),
        h('div', { class: 'run-title' }, h('h1', { class: 'sched-name' }, item.name), stateSwitch(kind, item, changed, fail)),
        h('div', { class: 'meta-row' },
          h('span', null, 'launches ', h('a', { href: `#/jobs/${enc(item.location)}/${enc(item.job)}` }, item.job)),
          isSched ? h('span', null, h('span', { class: 'mono' }, item.cron), h('span', { class: 'muted' }, ` in ${item.timezone}`))
            : h('span', null, h('span', { class: 'pill' }, item.kind), h('span', { class: 'muted' }, ` every ${fmtInterval(item.interval_s)}`)),
          h('span', { class: 'muted' }, 'next: ', item.state === 'on' && item.next_tick_ms
            ? h('span', { class: 'next-tick', title: item.next_tick || '' }, fmtIn(item.next_tick_ms, now)) : (item.state === 'on' ? 'never' : 'off')),
          h('span', { class: 'muted' }, 'last: ', lastTick(item.last_tick, now)))),
      h('span', { class: 'spacer' }), h('span', { class: 'live-dot', title: 'refreshing every 2 s' }, 'live')));
    mount(aside, h('h2', null, 'Declaration'),
      item.description ? h('p', { class: 'muted' }, item.description) : null,
      kv([
        ['job', h('a', { href: `#/jobs/${enc(item.location)}/${enc(item.job)}` }, item.job)],
        ['location', item.location],
        isSched ? ['cron', h('span', { class: 'mono' }, item.cron)] : ['kind', item.kind],
        isSched ? ['time zone', item.timezone] : ['interval', fmtInterval(item.interval_s)],
        isSched ? ['catch-up', item.catch_up === 'all' ? `all missed ticks (at most ${item.max_catch_up})` : 'the latest missed tick only'] : null,
        ...(isSched ? [] : sensorRows(item)),
        ['state', `${item.state}${item.state_stored ? '' : ' (declared default)'}`],
        isSched ? null : ['cursor', item.cursor === null || item.cursor === undefined ? h('span', { class: 'muted' }, 'none yet')
          : h('span', { class: 'mono small sensor-cursor' }, typeof item.cursor === 'string' ? item.cursor : JSON.stringify(item.cursor))],
        item.file ? ['declared in', h('span', { class: 'mono small' }, `${item.file}${item.line ? `:${item.line}` : ''}`)] : null,
        Object.keys(item.tags || {}).length ? ['tags', tagChips(item.tags)] : null,
      ]),
      item.config ? [h('h4', null, 'Run config template'), code(item.config)] : null);
  }

  function renderPreview(preview) {
    if (!isSched) return;
    if (!preview.length) { mount(previewBox, h('div', { class: 'muted small' }, 'This expression fires no more.')); return; }
    const now = Date.now();
    const hasPart = preview.some((p) => p.partition);
    mount(previewBox, h('table', { class: 'table table-compact preview-table' },
      h('thead', null, h('tr', null, ['#', 'When', 'Your time / schedule zone', hasPart ? 'Partition' : null].filter(Boolean).map((t) => h('th', null, t)))),
      h('tbody', null, preview.map((p, i) => h('tr', { class: 'preview-row', 'data-tick': String(p.tick_ms) },
        h('td', { class: 'muted' }, String(i + 1)),
        h('td', { class: 'nowrap' }, fmtIn(p.tick_ms, now)),
        h('td', null, bothTimes(p.tick_ms, p.tick, item.timezone)),
        hasPart ? h('td', { class: 'mono small' }, p.partition || '–') : null)))));
  }

  function renderHistory() {
    const all = [...known.values()].sort((a, b) => b.tick_ms - a.tick_ms);
    mount(historyBox, ticksTable(all, isSched ? item.timezone : null, what));
    more.hidden = !hasMore;
    historyInfo.textContent = all.length ? `${all.length} shown, newest ${fmtAgo(all[0].tick_ms)}` : '';
  }

  async function refresh() {
    const ctl = new AbortController();
    inflight = ctl;
    try {
      const d = await api.schedItem(kind, name, { signal: ctl.signal });
      if (!alive || ctl.signal.aborted) return;
      mount(msg);
      item = d[one];
      for (const t of d.ticks || []) known.set(t.tick_ms, t);
      if (!loadedOlder) hasMore = d.next_cursor !== null && d.next_cursor !== undefined;
      // Redrawn when something changed, or a relative time did ("in 4m").
      const s = JSON.stringify(d) + fmtIn(item.next_tick_ms) + fmtAgo(item.last_tick_ms) +
        (d.preview && d.preview.length ? fmtIn(d.preview[0].tick_ms) : '');
      if (s === sig) return;
      sig = s;
      renderHead();
      renderPreview(d.preview || []);
      renderHistory();
    } catch (e) {
      if (!alive || e.name === 'AbortError') return;
      if (!item) mount(head, h('div', { class: 'page-head' }, h('h1', null, name)));
      fail(e);
    } finally {
      if (inflight === ctl) inflight = null;
    }
  }

  more.addEventListener('click', async () => {
    more.disabled = true;
    try {
      const r = await api.schedTicks(kind, name, { limit: 50, cursor: Math.min(...known.keys()) });
      for (const t of r.ticks || []) known.set(t.tick_ms, t);
      loadedOlder = true;
      hasMore = r.next_cursor !== null && r.next_cursor !== undefined;
      renderHistory();
    } catch (e) {
      fail(e);
    } finally {
      more.disabled = false;
    }
  });

  mount(head, h('div', { class: 'page-head' }, h('h1', null, name)));
  mount(historyBox, h('div', { class: 'muted small pad' }, 'Loading…'));
  refresh();
  const timer = setInterval(() => { if (!document.hidden && !inflight) refresh(); }, POLL_MS);
  return () => { alive = false; clearInterval(timer); if (inflight) inflight.abort(); };
}

export const schedulePage = (root, params) => detailPage('schedules', root, params.name);
export const sensorPage = (root, params) => detailPage('sensors', root, params.name);
