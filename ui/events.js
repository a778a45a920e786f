// events.js: a run's event log as a table with type and step filters. Rows
// are appended as events arrive (the run page feeds them from the events
// stream); the table keeps to the bottom while the reader is there.
import { h, mount, fmtClock, fmtDuration, shortId, valueText, statusTone } from './dom.js';

const MAX_ROWS = 2000;

const TYPE_TONE = {
  run_success: 'ok', step_succeeded: 'ok', run_failure: 'bad', step_failed: 'bad',
  run_started: 'live', step_started: 'live', step_up_for_retry: 'warn', run_canceling: 'warn',
  run_timeout: 'bad', sla_missed: 'warn', hook_delivered: 'plain', hook_failed: 'bad',
  step_skipped: 'mute', step_canceled: 'mute', run_canceled: 'mute', step_reused: 'reuse',
  materialization: 'asset', step_output: 'plain', log: 'plain', run_queued: 'wait',
};

function meta(obj) {
  const e = Object.entries(obj || {});
  return e.length ? e.map(([k, v]) => `${k}=${valueText(v, 40)}`).join(' ') : '';
}

/** " · in IMAGE (DIGEST), container ID" for an attempt that ran in a container. */
function containerText(c) {
  if (!c || !c.image) return '';
  const digest = c.digest && c.digest.includes('@') ? c.digest.slice(c.digest.indexOf('@') + 1) : c.digest;
  return ` · in ${c.image}${digest ? ` (${digest.slice(0, 19)})` : ''}${c.id ? `, container ${c.id.slice(0, 12)}` : ''}`;
}

/** One line saying what an event means (engine.h lists the payloads). */
export function eventSummary(ev) {
  const p = ev.payload || {};
  const att = p.attempt && p.attempt > 1 ? ` (attempt ${p.attempt})` : '';
  switch (ev.type) {
    case 'run_queued': return `queued ${p.job || ''}${p.parent_run_id ? `, re-executing ${shortId(p.parent_run_id)}` : ''}`;
    case 'run_started': return `started on ${p.executor || '?'} executor: ${p.steps ?? '?'} steps, ${p.max_concurrent ?? '?'} at a time` +
      (p.reused && p.reused.length ? `; reused ${p.reused.join(', ')}` : '');
    case 'run_adopted': return `adopted by ${p.to || '?'} from ${p.from || '?'}: ${p.reason || ''}` +
      (p.taken_over && p.taken_over.length ? `; took over ${p.taken_over.join(', ')}` : '') +
      (p.restarted && p.restarted.length ? `; restarted ${p.restarted.join(', ')}` : '');
    case 'run_canceling': return `canceling${p.reason ? `: ${p.reason}` : ''}`;
    case 'run_success': return `succeeded in ${fmtDuration(p.duration_ms)}`;
    case 'run_failure': return `failed in ${fmtDuration(p.duration_ms)}${p.message ? `: ${p.message}` : ''}`;
    case 'run_canceled': return `canceled${p.message ? `: ${p.message}` : ''}`;
    case 'run_timeout': return `timed out after ${p.timeout || '?'}: its steps are canceled`;
    case 'sla_missed': return `missed its sla of ${p.sla || '?'} (still running)`;
    case 'hook_delivered': return `alert ${p.hook || '?'} (${p.kind || '?'} to ${p.target || '?'}) delivered after ${p.attempts ?? '?'} attempt${p.attempts === 1 ? '' : 's'}`;
    case 'hook_failed': return `alert ${p.hook || '?'} (${p.kind || '?'} to ${p.target || '?'}) failed after ${p.attempts ?? '?'} attempt${p.attempts === 1 ? '' : 's'}: ${p.error || ''}`;
    case 'step_started': return `started${att}, pid ${p.pid ?? '?'}`;
    case 'log': return `${p.level ? `[${p.level}] ` : ''}${p.msg ?? ''}`;
    case 'materialization': return `asset ${p.asset}${meta(p.metadata) ? ` · ${meta(p.metadata)}` : ''}`;
    case 'step_output': return `${p.output} = ${'value' in p && p.value !== null ? valueText(p.value, 80) : p.key ? `${p.key} (${p.bytes} B)` : 'null'}` +
      (p.from_run ? ` (from ${shortId(p.from_run)})` : '');
    case 'step_succeeded': return `succeeded${att} in ${fmtDuration(p.duration_ms)}${containerText(p.container)}`;
    case 'step_failed': return `failed${att}: ${p.message || `exit ${p.exit_code}`}${containerText(p.container)}`;
    case 'step_up_for_retry': return `will retry in ${fmtDuration(p.retry_in_ms)}: ${p.message || ''}${containerText(p.container)}`;
    case 'step_skipped': return `skipped: ${p.message || ''}`;
    case 'step_canceled': return `canceled${p.message ? `: ${p.message}` : ''}`;
    case 'step_reused': return `reused from run ${shortId(p.from_run)}`;
    default: return valueText(p, 160);
  }
}

export function createEventsTable() {
  const typeSel = h('select', { class: 'input select', 'aria-label': 'event type filter', name: 'type' }, h('option', { value: '' }, 'All types'));
  const stepSel = h('select', { class: 'input select', 'aria-label': 'event step filter', name: 'step' },
    h('option', { value: '' }, 'All steps'), h('option', { value: '\u0000run' }, 'Run only'));
  const count = h('span', { class: 'muted small' });
  const tbody = h('tbody');
  const scroller = h('div', { class: 'events-scroll' },
    h('table', { class: 'table table-compact events-table' },
      h('thead', null, h('tr', null, h('th', null, 'Time'), h('th', null, 'Step'), h('th', null, 'Type'), h('th', null, 'Details'))),
      tbody));
  const el = h('section', { class: 'card', id: 'events' },
    h('div', { class: 'card-head' }, h('h2', null, 'Events'), count, h('span', { class: 'spacer' }), typeSel, stepSel),
    scroller);

  const events = [];
  const types = new Set(), steps = new Set();
  let t0 = null;

  const match = (ev) => (!typeSel.value || ev.type === typeSel.value) &&
    (!stepSel.value || (stepSel.value === '\u0000run' ? !ev.step : ev.step === stepSel.value));

  function row(ev) {
    const off = t0 !== null ? `+${fmtDuration(ev.ts_ms - t0)}` : '';
    return h('tr', { 'data-type': ev.type, 'data-step': ev.step || '' },
      h('td', { class: 'mono small nowrap', title: off }, fmtClock(ev.ts_ms)),
      h('td', { class: 'mono small' }, ev.step || h('span', { class: 'muted' }, 'run')),
      h('td', null, h('span', { class: `pill tone-${TYPE_TONE[ev.type] || statusTone(ev.type)}` }, ev.type)),
      h('td', { class: ['ev-detail', ev.type === 'log' && 'mono'] }, eventSummary(ev)));
  }

  function rebuild() {
    const shown = events.filter(match).slice(-MAX_ROWS);
    mount(tbody, shown.map(row));
    updateCount();
    scroller.scrollTop = scroller.scrollHeight;
  }

  function updateCount() {
    const n = events.filter(match).length;
    count.textContent = n === events.length ? `${n}` : `${n} of ${events.length}`;
  }

  function addOption(sel, set, v) {
    if (!v || set.has(v)) return;
    set.add(v);
    const opts = [...sel.options].slice(sel === stepSel ? 2 : 1);
    const before = opts.find((o) => o.value > v && sel === typeSel);
    sel.insertBefore(h('option', { value: v }, v), before || null);
  }

  typeSel.addEventListener('change', rebuild);
  stepSel.addEventListener('change', rebuild);

  return {
    el,
    /** plan: the run's steps, to offer in the step filter in job order. */
    setSteps(plan) { (plan || []).forEach((st) => addOption(stepSel, steps, st)); },
    add(list) {
      if (!list.length) return;
      const stick = scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 24;
      for (const ev of list) {
        if (t0 === null) t0 = ev.ts_ms;
        events.push(ev);
        addOption(typeSel, types, ev.type);
        addOption(stepSel, steps, ev.step);
        if (match(ev)) tbody.append(row(ev));
      }
      while (tbody.children.length > MAX_ROWS) tbody.firstChild.remove();
      updateCount();
      if (stick) scroller.scrollTop = scroller.scrollHeight;
    },
    setFilter(type, step) { typeSel.value = type || ''; stepSel.value = step || ''; rebuild(); },
    get length() { return events.length; },
  };
}
