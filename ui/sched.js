// sched.js: what the schedules and sensors pages share: the on/off switch
// (POST .../on|off), tick status badges with their run links, times shown
// both in the browser's zone and in the schedule's, and the tick history
// table. `kind` is 'schedules' or 'sensors', as in the API's paths.
import { api } from './api.js';
import { h, badge, fmtTime, fmtAgo, shortId } from './dom.js';

export const POLL_MS = 2000;

/** "in 4m", "in 2h", "in 3d" of a time ahead; '–' for none. */
export function fmtIn(ms, now = Date.now()) {
  if (!ms) return '–';
  const sec = Math.round((ms - now) / 1000);
  if (sec <= 0) return 'due';
  if (sec < 60) return `in ${sec}s`;
  if (sec < 3600) return `in ${Math.floor(sec / 60)}m`;
  if (sec < 86400) return `in ${Math.floor(sec / 3600)}h ${Math.floor((sec % 3600) / 60)}m`;
  return `in ${Math.floor(sec / 86400)}d`;
}

/** "30s", "5m", "1h 30m" of an interval in seconds. */
export function fmtInterval(s) {
  if (!s) return '–';
  if (s < 60) return `${s}s`;
  if (s < 3600) return s % 60 ? `${Math.floor(s / 60)}m ${s % 60}s` : `${s / 60}m`;
  const hr = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
  return m ? `${hr}h ${m}m` : `${hr}h`;
}

/** The API's ISO text in the schedule's zone ("2026-03-29T03:00:00+02:00")
 * as "2026-03-29 03:00:00 +02:00". */
export function zoneText(iso) {
  if (!iso) return '–';
  const m = /^(\d{4}-\d\d-\d\d)T(\d\d:\d\d:\d\d)(?:\.\d+)?(Z|[+-]\d\d:?\d\d)?$/.exec(iso);
  if (!m) return iso;
  return `${m[1]} ${m[2]} ${m[3] === 'Z' || !m[3] ? 'UTC' : m[3]}`;
}

/** A time as two lines: the browser's local time, then the schedule's
 * zone (when it is not the browser's own). */
export function bothTimes(ms, iso, tz) {
  if (!ms) return h('span', { class: 'muted' }, '–');
  const local = Intl.DateTimeFormat().resolvedOptions().timeZone;
  return h('span', { class: 'when' },
    h('span', { class: 'when-local', title: 'your local time' }, fmtTime(ms)),
    tz && tz !== local ? h('span', { class: 'when-zone muted small', title: `in ${tz}` }, `${zoneText(iso)} ${tz}`) : null);
}

/** Links to the runs of a tick: the first by its short id, "+N" more. */
export function runLinks(tick) {
  const ids = (tick && tick.run_ids) || [];
  if (!ids.length) return h('span', { class: 'muted small' }, 'no run');
  return h('span', { class: 'run-links' },
    h('a', { class: 'mono run-link tick-run', href: `#/runs/${encodeURIComponent(ids[0])}`, title: ids[0] }, shortId(ids[0])),
    ids.length > 1 ? h('span', { class: 'muted small', title: ids.slice(1).join('\n') }, ` +${ids.length - 1}`) : null);
}

/** The last tick as a status badge that opens its run (when it made one). */
export function lastTick(tick, now = Date.now()) {
  if (!tick) return h('span', { class: 'muted small' }, 'never');
  const b = badge(tick.status, 'tick-status');
  const id = tick.run_id || (tick.run_ids && tick.run_ids[0]);
  return h('span', { class: 'last-tick', title: tick.reason || tick.tick || '' },
    id ? h('a', { class: 'last-run', href: `#/runs/${encodeURIComponent(id)}` }, b) : b,
    h('span', { class: 'muted small' }, fmtAgo(tick.tick_ms, now)));
}

/**
 * The on/off switch of one schedule or sensor. onChange(item) gets the item
 * the server answered; onError(e) a failure. Stays disabled while the
 * request is in flight.
 */
export function stateSwitch(kind, item, onChange, onError) {
  const on = item.state === 'on';
  const sw = h('button', {
    type: 'button', role: 'switch', class: ['switch', on && 'on'], 'data-action': 'sched-toggle',
    'aria-checked': String(on), 'data-state': item.state, 'data-name': item.name,
    'aria-label': `${item.name}: ${on ? 'on' : 'off'} (click to turn ${on ? 'off' : 'on'})`,
    title: `${on ? 'on' : 'off'}${item.state_stored ? '' : ' (declared default)'}; click to turn ${on ? 'off' : 'on'}`,
  }, h('span', { class: 'switch-knob' }));
  sw.addEventListener('click', async (ev) => {
    ev.preventDefault();
    ev.stopPropagation();
    sw.disabled = true;
    try {
      onChange(await api.schedSetState(kind, item.name, !on));
    } catch (e) {
      sw.disabled = false;
      if (onError) onError(e);
    }
  });
  return h('span', { class: 'switch-wrap' }, sw,
    h('span', { class: ['switch-label', on ? 'on' : 'off'] }, on ? 'On' : 'Off'));
}

/** One row of a tick history (with a partition column when withPart). */
export function tickRow(tick, tz, withPart) {
  return h('tr', { class: 'tick-row', 'data-tick': String(tick.tick_ms), 'data-status': tick.status },
    h('td', null, badge(tick.status)),
    h('td', null, bothTimes(tick.tick_ms, tick.tick, tz)),
    withPart ? h('td', null, tick.partition ? h('span', { class: 'mono small' }, tick.partition) : h('span', { class: 'muted' }, '–')) : null,
    h('td', null, runLinks(tick)),
    h('td', { class: 'tick-reason' }, tick.reason ? h('span', { class: ['step-msg', tick.status === 'failure' && 'bad'] }, tick.reason)
      : h('span', { class: 'muted' }, '–')));
}

/** The tick history; the partition column only when a tick has one. */
export function ticksTable(ticks, tz, what) {
  const withPart = ticks.some((t) => t.partition);
  const head = ['Status', 'Time', withPart ? 'Partition' : null, 'Run', 'Reason'].filter(Boolean);
  const tbody = h('tbody', null, ticks.length ? ticks.map((t) => tickRow(t, tz, withPart))
    : h('tr', null, h('td', { colspan: head.length }, h('div', { class: 'empty' },
      h('div', { class: 'empty-title' }, `No ${what} yet`),
      h('div', { class: 'empty-text' }, `They appear here as the scheduler records them.`)))));
  return h('table', { class: 'table ticks-table' },
    h('thead', null, h('tr', null, head.map((t) => h('th', null, t)))),
    tbody);
}
