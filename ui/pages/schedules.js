// pages/schedules.js: the Schedules and Sensors lists: one row each with its
// on/off switch, what it launches, when it ticks next (local time and the
// schedule's zone) and how its last tick went (a badge that opens the run).
// Refreshed every 2 s while visible, rows updated in place by name.
import { api } from '../api.js';
import { h, mount, errorBox, emptyState } from '../dom.js';
import { POLL_MS, fmtIn, fmtInterval, bothTimes, lastTick, stateSwitch } from '../sched.js';

const enc = encodeURIComponent;

function jobCell(it) {
  return h('td', null, h('a', { href: `#/jobs/${enc(it.location)}/${enc(it.job)}` }, it.job),
    h('span', { class: 'muted small loc' }, it.location));
}

function nextCell(it, now) {
  if (it.state !== 'on' || !it.next_tick_ms) {
    return h('td', { class: 'col-next' }, h('span', { class: 'muted' }, it.state === 'on' ? 'never' : 'off'));
  }
  return h('td', { class: 'col-next' }, h('div', { class: 'next-in' }, fmtIn(it.next_tick_ms, now)),
    bothTimes(it.next_tick_ms, it.next_tick, it.timezone));
}

function cursorText(c) {
  if (c === null || c === undefined) return h('span', { class: 'muted' }, '–');
  const t = typeof c === 'string' ? c : JSON.stringify(c);
  return h('span', { class: 'mono small cursor', title: t }, t.length > 40 ? `${t.slice(0, 39)}…` : t);
}

const KINDS = {
  schedules: {
    title: 'Schedules',
    blurb: 'Cron schedules of every location; toggling is stored and survives restarts.',
    head: ['State', 'Schedule', 'Job', 'Cron', 'Zone', 'Next tick', 'Last tick'],
    cells: (it, now) => [
      h('td', { class: 'mono' }, it.cron),
      h('td', { class: 'small' }, it.timezone),
      nextCell(it, now),
      h('td', { class: 'col-last' }, lastTick(it.last_tick, now)),
    ],
    empty: 'Declare one in a job\'s schedules: or in schedules/*.yaml of a location.',
  },
  sensors: {
    title: 'Sensors',
    blurb: 'Sensors of every location, each evaluated at its interval; toggling is stored.',
    head: ['State', 'Sensor', 'Job', 'Kind', 'Interval', 'Cursor', 'Next evaluation', 'Last evaluation'],
    cells: (it, now) => [
      h('td', null, h('span', { class: 'pill' }, it.kind)),
      h('td', { class: 'col-num' }, fmtInterval(it.interval_s)),
      h('td', null, cursorText(it.cursor)),
      nextCell(it, now),
      h('td', { class: 'col-last' }, lastTick(it.last_evaluation || it.last_tick, now)),
    ],
    empty: 'Declare one in sensors/*.yaml of a location.',
  },
};

function listPage(kind, root) {
  const K = KINDS[kind];
  const one = kind.slice(0, -1);
  const tbody = h('tbody');
  const msg = h('div');
  const info = h('div', { class: 'muted small' });
  mount(root,
    h('div', { class: 'page-head' }, h('div', null, h('h1', null, K.title), h('div', { class: 'muted' }, K.blurb)),
      h('span', { class: 'spacer' }), h('span', { class: 'live-dot', title: 'refreshing every 2 s' }, 'live')),
    msg,
    h('section', { class: 'card card-flush' }, h('div', { class: 'table-wrap' },
      h('table', { class: `table sched-table ${kind}-table` },
        h('thead', null, h('tr', null, K.head.map((t) => h('th', null, t)))), tbody))),
    h('div', { class: 'more-row' }, info));

  let items = [], alive = true, inflight = null;
  const rows = new Map(); // name -> {tr, sig}
  const replace = (item) => {
    if (inflight) inflight.abort(); // it may have read the state before the change
    items = items.map((x) => (x.name === item.name ? item : x));
    render();
  };
  const fail = (e) => mount(msg, errorBox(e));

  function row(it, now) {
    return h('tr', { class: 'sched-row', [`data-${one}`]: it.name, 'data-state': it.state },
      h('td', null, stateSwitch(kind, it, replace, fail)),
      h('td', { class: 'col-name' }, h('a', { class: 'sched-link', href: `#/${kind}/${enc(it.name)}` }, it.name),
        it.description ? h('div', { class: 'muted small sched-desc' }, it.description) : null),
      jobCell(it),
      K.cells(it, now));
  }

  function render() {
    const now = Date.now();
    if (!items.length) {
      rows.clear();
      mount(tbody, h('tr', null, h('td', { colspan: K.head.length }, emptyState(`No ${kind}`, K.empty))));
      info.textContent = '';
      return;
    }
    for (const c of [...tbody.children]) if (!c.dataset[one]) c.remove();
    const seen = new Set();
    let prev = null;
    for (const it of items) {
      seen.add(it.name);
      const sig = JSON.stringify(it) + fmtIn(it.next_tick_ms, now) + (it.last_tick ? it.last_tick.tick_ms - now : '');
      let r = rows.get(it.name);
      if (!r || r.sig !== sig) {
        const tr = row(it, now);
        if (r) r.tr.replaceWith(tr);
        r = { tr, sig };
        rows.set(it.name, r);
      }
      const want = prev ? prev.nextSibling : tbody.firstChild;
      if (want !== r.tr) tbody.insertBefore(r.tr, want);
      prev = r.tr;
    }
    for (const [name, r] of rows) if (!seen.has(name)) { r.tr.remove(); rows.delete(name); }
    const n = items.filter((x) => x.state === 'on').length;
    info.textContent = `${items.length} ${items.length === 1 ? one : kind}, ${n} on`;
  }

  async function refresh() {
    const ctl = new AbortController();
    inflight = ctl;
    try {
      const r = await api.schedItems(kind, { signal: ctl.signal });
      if (!alive || ctl.signal.aborted) return;
      items = r[kind] || [];
      mount(msg);
      render();
    } catch (e) {
      if (alive && e.name !== 'AbortError') fail(e);
    } finally {
      if (inflight === ctl) inflight = null;
    }
  }

  mount(tbody, h('tr', null, h('td', { colspan: K.head.length }, h('div', { class: 'muted small pad' }, 'Loading…'))));
  refresh();
  const timer = setInterval(() => { if (!document.hidden && !inflight) refresh(); }, POLL_MS);
  return () => { alive = false; clearInterval(timer); if (inflight) inflight.abort(); };
}

export const schedulesPage = (root) => listPage('schedules', root);
export const sensorsPage = (root) => listPage('sensors', root);
