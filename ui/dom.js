// dom.js: tiny helpers to build DOM and SVG trees from data without
// innerHTML (every string becomes a text node, so nothing from the API can
// inject markup), plus the formatting shared by every page.

const SVG_NS = 'http://www.w3.org/2000/svg';

function append(el, child) {
  if (child === null || child === undefined || child === false) return;
  if (Array.isArray(child)) { child.forEach((c) => append(el, c)); return; }
  el.append(child instanceof Node ? child : document.createTextNode(String(child)));
}

function setAttrs(el, attrs) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.setAttribute('class', Array.isArray(v) ? v.filter(Boolean).join(' ') : v);
    else if (k === 'style' && typeof v === 'object') Object.assign(el.style, v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k in el && !(el instanceof SVGElement) && typeof v !== 'string') el[k] = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
}

/** h('div', {class: 'x', onclick: f}, 'text', child...) -> HTMLElement */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

/** s('rect', {x: 1}) -> SVGElement */
export function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

/** Replaces every child of el. */
export function mount(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

export function debounce(fn, ms) {
  let t = 0;
  const d = (...args) => { clearTimeout(t); t = setTimeout(() => fn(...args), ms); };
  d.cancel = () => clearTimeout(t);
  return d;
}

// ---- formatting ------------------------------------------------------------

export function fmtDuration(ms) {
  if (ms === null || ms === undefined || Number.isNaN(ms)) return '–';
  if (ms < 1000) return `${Math.max(0, Math.round(ms))} ms`;
  const sec = ms / 1000;
  if (sec < 60) return `${sec.toFixed(sec < 10 ? 2 : 1)} s`;
  const m = Math.floor(sec / 60), rs = Math.floor(sec % 60);
  if (m < 60) return `${m}m ${String(rs).padStart(2, '0')}s`;
  const hr = Math.floor(m / 60);
  return `${hr}h ${String(m % 60).padStart(2, '0')}m`;
}

const pad = (n) => String(n).padStart(2, '0');

export function fmtTime(ms) {
  if (!ms) return '–';
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

export function fmtClock(ms) {
  const d = new Date(ms);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.` +
    String(d.getMilliseconds()).padStart(3, '0');
}

export function fmtAgo(ms, now = Date.now()) {
  if (!ms) return '–';
  const sec = Math.round((now - ms) / 1000);
  if (sec < 5) return 'just now';
  if (sec < 60) return `${sec}s ago`;
  if (sec < 3600) return `${Math.floor(sec / 60)}m ago`;
  if (sec < 86400) return `${Math.floor(sec / 3600)}h ago`;
  return fmtTime(ms).slice(0, 10);
}

export function fmtBytes(n) {
  if (n === null || n === undefined) return '–';
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

export const shortId = (id) => (id ? String(id).slice(0, 8) : '');

// ---- status ----------------------------------------------------------------

// One colour family per meaning, for runs and steps alike (app.css --st-*).
const STATUS_TONE = {
  success: 'ok', succeeded: 'ok',
  failure: 'bad', failed: 'bad',
  started: 'live', running: 'live',
  queued: 'wait', waiting: 'wait',
  up_for_retry: 'warn', retrying: 'warn', canceling: 'warn',
  skipped: 'mute', canceled: 'mute', reused: 'reuse',
};
export const statusTone = (st) => STATUS_TONE[st] || 'wait';

const STATUS_LABEL = { started: 'running', up_for_retry: 'retrying' };
export const statusLabel = (st) => STATUS_LABEL[st] || st || 'unknown';

export function badge(status, extra) {
  return h('span', { class: ['badge', `tone-${statusTone(status)}`, extra], 'data-status': status },
    h('span', { class: 'dot' }), statusLabel(status));
}

export function tagChips(tags) {
  const entries = Object.entries(tags || {});
  if (!entries.length) return null;
  return h('span', { class: 'tags' },
    entries.map(([k, v]) => h('span', { class: 'tag', title: `${k}: ${v}` },
      h('span', { class: 'tag-k' }, k), h('span', { class: 'tag-v' }, String(v)))));
}

export function emptyState(title, text) {
  return h('div', { class: 'empty' }, h('div', { class: 'empty-title' }, title),
    text ? h('div', { class: 'empty-text' }, text) : null);
}

export function errorBox(err) {
  const details = (err && err.details) || [];
  return h('div', { class: 'alert alert-bad', role: 'alert' },
    h('strong', null, (err && err.message) || String(err)),
    details.length ? h('ul', null, details.map((d) => h('li', null, diagText(d)))) : null);
}

/** "file:line:col: message" of one API diagnostic, without empty parts. */
export function diagText(d) {
  if (typeof d !== 'object' || d === null) return String(d);
  const where = [d.file, d.line, d.col].filter((x) => x !== null && x !== undefined && x !== '');
  return where.length ? `${where.join(':')}: ${d.message}` : d.message;
}

/** A JSON value as short text for tables. */
export function valueText(v, max = 120) {
  let t = typeof v === 'string' ? JSON.stringify(v) : JSON.stringify(v);
  if (t === undefined) t = String(v);
  return t.length > max ? `${t.slice(0, max - 1)}…` : t;
}
