// gantt.js: a run's timeline. One row per step in plan order; one bar per
// attempt, coloured by its state, on a shared time axis that grows with the
// clock while the run is live. Steps still waiting have an empty dashed
// track. Rows are kept between updates (keyed by step), so a click or a
// checkbox is never lost to a redraw. A mapped step is one row with its
// items' counts ("12 ✓ 3 ✗ 5 …"), expandable to one row per item.
import { h, s, fmtDuration, statusTone, statusLabel } from './dom.js';

const STEPS_MS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1e3, 2e3, 5e3, 1e4, 15e3, 3e4, 6e4,
  12e4, 3e5, 6e5, 9e5, 18e5, 36e5, 72e5, 144e5, 864e5];

function tickStep(span, px) {
  const want = Math.max(2, Math.floor(px / 90));
  return STEPS_MS.find((st) => span / st <= want) || STEPS_MS[STEPS_MS.length - 1];
}

function tickLabel(ms, step) {
  if (step < 1000) return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(step < 100 ? 2 : 1)} s`;
  if (step < 60000) return `${Math.round(ms / 1000)} s`;
  if (step < 3600000) return `${Math.floor(ms / 60000)}m${ms % 60000 ? ` ${Math.round((ms % 60000) / 1000)}s` : ''}`;
  return `${Math.floor(ms / 3600000)}h${ms % 3600000 ? ` ${Math.round((ms % 3600000) / 60000)}m` : ''}`;
}

const isReused = (a) => a.status === 'succeeded' && /^reused/.test(a.message || '');

/** The state a row shows: its last attempt's, 'reused', or 'waiting'. */
export function stepState(attempts) {
  if (!attempts || !attempts.length) return 'waiting';
  const last = attempts[attempts.length - 1];
  return isReused(last) ? 'reused' : last.status;
}

/** The mapped step an item row belongs to ("sq[3]" -> "sq"), or null. */
export function itemParent(step) {
  const m = /^(.+)\[[^\]]+\]$/.exec(step);
  return m ? m[1] : null;
}

/**
 * The per-item summary of a mapped step, from its items' attempt lists:
 * {total, ok, failed, running, other, text}, text as "12 ✓ 3 ✗ 2 ▶ 5 …"
 * (zero counts left out; reused items count as succeeded).
 */
export function mapSummary(itemAttempts) {
  const c = { total: 0, ok: 0, failed: 0, running: 0, other: 0 };
  for (const list of itemAttempts) {
    const st = stepState(list);
    c.total++;
    if (st === 'succeeded' || st === 'reused') c.ok++;
    else if (st === 'failed') c.failed++;
    else if (st === 'running' || st === 'up_for_retry') c.running++;
    else c.other++;
  }
  c.text = [[c.ok, '✓'], [c.failed, '✗'], [c.running, '▶'], [c.other, '…']]
    .filter(([n]) => n).map(([n, sym]) => `${n} ${sym}`).join(' ') || '0 items';
  return c;
}

/**
 * createGantt({onSelect(step), onToggle(step, on)}) -> {el, update(data)}
 * data: {plan, steps (attempt rows), run, now, selected, checked:Set, selectable}
 */
export function createGantt({ onSelect, onToggle } = {}) {
  const axis = s('svg', { class: 'g-axis', height: 24 });
  const rowsEl = h('div', { class: 'g-rows' });
  const empty = h('div', { class: 'g-empty muted small', hidden: true }, 'No steps yet: the run has not started.');
  const el = h('div', { class: 'gantt' },
    h('div', { class: 'g-row g-head' }, h('div', { class: 'g-label muted small' }, 'Step'),
      h('div', { class: 'g-track-wrap' }, axis), h('div', { class: 'g-dur muted small' }, 'Duration')),
    rowsEl, empty);
  const rows = new Map();
  const expanded = new Set(); // mapped steps whose item rows are shown
  let last = null;
  let width = 600;

  const ro = new ResizeObserver(() => {
    const wrap = el.querySelector('.g-head .g-track-wrap');
    const w = Math.floor(wrap.getBoundingClientRect().width);
    if (w && w !== width) { width = w; if (last) update(last); }
  });
  ro.observe(el);

  function makeRow(step) {
    const box = h('input', { type: 'checkbox', class: 'g-check', 'aria-label': `select ${step}`,
      onclick: (ev) => ev.stopPropagation(),
      onchange: (ev) => onToggle && onToggle(step, ev.target.checked) });
    const dot = h('span', { class: 'dot' });
    const name = h('span', { class: 'g-name' }, step);
    const extra = h('span', { class: 'g-extra muted small' });
    const track = s('svg', { class: 'g-track', height: 28 });
    const dur = h('div', { class: 'g-dur mono small' });
    // A mapped step's row expands to its items (one row each).
    const toggle = h('button', { type: 'button', class: 'g-toggle', hidden: true, 'aria-expanded': 'false',
      title: 'show the items', onclick: (ev) => {
        ev.stopPropagation();
        if (expanded.has(step)) expanded.delete(step); else expanded.add(step);
        if (last) update(last);
      } }, '▸');
    const items = h('span', { class: 'g-items small', hidden: true });
    const row = h('div', { class: 'g-row', 'data-step': step, tabindex: 0, role: 'button',
      onclick: () => onSelect && onSelect(step),
      onkeydown: (ev) => { if (ev.key === 'Enter') onSelect && onSelect(step); } },
    h('div', { class: 'g-label' }, box, toggle, dot, name, items, extra),
    h('div', { class: 'g-track-wrap' }, track), dur);
    return { row, box, toggle, items, dot, extra, track, dur };
  }

  function update(data) {
    last = data;
    const { plan = [], steps = [], run = {}, now = Date.now(), selected, checked = new Set() } = data;
    const by = new Map();
    for (const a of steps) (by.get(a.step) || by.set(a.step, []).get(a.step)).push(a);
    for (const list of by.values()) list.sort((a, b) => a.attempt - b.attempt);
    const base = plan.length ? plan.slice() : [...by.keys()];
    for (const k of by.keys()) if (!base.includes(k)) base.push(k);
    // Items go under their mapped step, in item order, shown when it is
    // expanded; a collapsed step's row carries their counts.
    const known = new Set(base);
    const groups = new Map();
    for (const k of base) {
      const p = itemParent(k);
      if (p && known.has(p)) (groups.get(p) || groups.set(p, []).get(p)).push(k);
    }
    const byNum = (a, b) => a.localeCompare(b, undefined, { numeric: true });
    const names = [];
    for (const k of base) {
      const p = itemParent(k);
      if (p && groups.has(p)) continue;
      names.push(k);
      if (groups.has(k) && expanded.has(k)) names.push(...groups.get(k).sort(byNum));
    }

    const starts = steps.map((a) => a.started_ms).filter(Boolean);
    const t0 = run.started_ms || (starts.length ? Math.min(...starts) : run.created_ms || now);
    const liveRun = !run.ended_ms;
    const ends = steps.map((a) => a.ended_ms || (a.started_ms && liveRun ? now : 0));
    const t1 = Math.max(t0 + 1, run.ended_ms || (liveRun ? now : 0), ...ends);
    const span = (t1 - t0) * 1.03;
    const W = Math.max(100, width);
    const X = (t) => Math.max(0, Math.min(W, ((t - t0) / span) * W));

    // Axis and grid.
    const step = tickStep(span, W);
    const ticks = [];
    for (let t = 0; t <= span; t += step) ticks.push(t);
    axis.setAttribute('width', W);
    axis.replaceChildren(...ticks.map((t) => s('g', { transform: `translate(${X(t0 + t)},0)` },
      s('line', { y1: 16, y2: 24, class: 'g-tick' }),
      s('text', { y: 12, x: t === 0 ? 0 : 0, 'text-anchor': t === 0 ? 'start' : 'middle', class: 'g-ticklabel' },
        tickLabel(t, step)))));

    const seen = new Set();
    let prev = null;
    for (const name of names) {
      seen.add(name);
      let r = rows.get(name);
      if (!r) { r = makeRow(name); rows.set(name, r); }
      const want = prev ? prev.nextSibling : rowsEl.firstChild;
      if (want !== r.row) rowsEl.insertBefore(r.row, want);
      prev = r.row;

      const attempts = by.get(name) || [];
      const state = stepState(attempts);
      const tone = statusTone(state);
      const kids0 = groups.get(name);
      const isItem = itemParent(name) !== null && groups.has(itemParent(name));
      r.row.className = ['g-row', `tone-${tone}`, state === 'skipped' && 'skipped', selected === name && 'selected',
        kids0 && 'mapped', isItem && 'g-item'].filter(Boolean).join(' ');
      r.toggle.hidden = !kids0;
      r.items.hidden = !kids0;
      if (kids0) {
        const sum = mapSummary(kids0.map((k) => by.get(k) || []));
        r.items.textContent = `${sum.total} items · ${sum.text}`;
        r.row.dataset.items = sum.text;
        r.toggle.textContent = expanded.has(name) ? '▾' : '▸';
        r.toggle.setAttribute('aria-expanded', expanded.has(name) ? 'true' : 'false');
      }
      r.row.dataset.state = state;
      r.dot.title = statusLabel(state);
      r.box.checked = checked.has(name);
      r.box.disabled = !data.selectable;
      r.extra.textContent = attempts.length > 1 ? `×${attempts.length}` : '';
      const lastA = attempts[attempts.length - 1];
      const dur = lastA && lastA.started_ms ? (lastA.ended_ms || (liveRun ? now : lastA.started_ms)) - lastA.started_ms : null;
      r.dur.textContent = state === 'reused' ? 'reused' : dur === null ? '' : fmtDuration(dur);

      const kids = ticks.map((t) => s('line', { x1: X(t0 + t), x2: X(t0 + t), y1: 0, y2: 28, class: 'g-grid' }));
      r.track.setAttribute('width', W);
      const drawn = attempts.filter((a) => a.started_ms && !isReused(a));
      for (const a of drawn) {
        const x0 = X(a.started_ms);
        const x1 = X(a.ended_ms || (liveRun ? now : a.started_ms));
        const st = isReused(a) ? 'reused' : a.status;
        const title = `${name} · attempt ${a.attempt} · ${statusLabel(st)}` +
          (a.ended_ms ? ` · ${fmtDuration(a.ended_ms - a.started_ms)}` : '') + (a.message ? `\n${a.message}` : '');
        kids.push(s('rect', { x: x0, y: 7, width: Math.max(4, x1 - x0), height: 14, rx: 3,
          class: ['g-bar', `tone-${statusTone(st)}`, st === 'running' && 'live'], 'data-attempt': a.attempt },
        s('title', null, title)));
      }
      if (!drawn.length) {
        const text = state === 'waiting' ? (liveRun ? 'waiting' : 'not run')
          : state === 'reused' ? lastA.message
            : `${statusLabel(state)}${lastA && lastA.message ? ` — ${lastA.message}` : ''}`;
        kids.push(s('line', { x1: 0, x2: W, y1: 14, y2: 14, class: ['g-wait', `tone-${tone}`] }),
          s('text', { x: 6, y: 18, class: 'g-note' }, text));
      }
      r.track.replaceChildren(...kids);
    }
    for (const [k, r] of rows) if (!seen.has(k)) { r.row.remove(); rows.delete(k); }
    empty.hidden = names.length > 0;
  }

  return { el, update, dispose: () => ro.disconnect() };
}
