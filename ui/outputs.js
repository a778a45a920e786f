// outputs.js: previews of a step's stored output on the run page, read
// through GET /api/v1/runs/{id}/outputs/{step}/{output}: only the first
// PREVIEW_BYTES are asked for (a Range request), so a large output costs
// the browser no more than its first lines. JSON is pretty-printed (when
// the whole of it came), CSV shows its first rows as a table, text its first
// lines, images are shown inline; every output has a download link.
import { api } from './api.js';
import { h, mount, errorBox, fmtBytes } from './dom.js';

const PREVIEW_BYTES = 64 * 1024;
const MAX_LINES = 40;

/** A link that downloads the output (the server says attachment). */
export function downloadLink(runId, o) {
  return h('a', { class: 'btn btn-sm out-download', href: api.outputUrl(runId, o.step, o.output),
    download: o.output, title: `download ${o.output}${o.bytes !== undefined ? ` (${fmtBytes(o.bytes)})` : ''}` }, 'Download');
}

// One CSV line's fields (RFC 4180 quotes; a quoted newline is not followed:
// a preview shows lines).
function csvFields(line, sep) {
  const out = [];
  let cur = '', q = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (q) {
      if (c === '"' && line[i + 1] === '"') { cur += '"'; i++; } else if (c === '"') q = false; else cur += c;
    } else if (c === '"') q = true;
    else if (c === sep) { out.push(cur); cur = ''; } else cur += c;
  }
  out.push(cur);
  return out;
}

function firstLines(text, cut) {
  let lines = text.split(/\r?\n/);
  // A cut preview's last line is partial: leave it out.
  if (cut && lines.length > 1) lines = lines.slice(0, -1);
  if (!cut && lines.length && lines[lines.length - 1] === '') lines.pop();
  return lines;
}

function csvTable(text, cut, name) {
  const lines = firstLines(text, cut);
  const sep = name.endsWith('.tsv') || (lines[0] || '').includes('\t') ? '\t' : ',';
  const shown = lines.slice(0, MAX_LINES + 1).map((l) => csvFields(l, sep));
  const [head, ...rows] = shown;
  return [h('div', { class: 'table-wrap out-csv' }, h('table', { class: 'table table-compact' },
    h('thead', null, h('tr', null, (head || []).map((c) => h('th', null, c)))),
    h('tbody', null, rows.map((r) => h('tr', null, r.map((c) => h('td', { class: 'mono small' }, c))))))),
  lines.length > shown.length || cut ? h('div', { class: 'muted small' }, `first ${rows.length} rows`) : null];
}

// Text whose first lines all hold the same number of commas (or tabs) reads
// as CSV: outputs are often named without an extension.
function looksCsv(text) {
  const lines = text.split(/\r?\n/).filter((l) => l !== '').slice(0, 6);
  if (lines.length < 2) return false;
  return [',', '\t'].some((sep) => {
    const n = lines[0].split(sep).length;
    return n > 1 && lines.every((l) => l.split(sep).length === n);
  });
}

function textBlock(text, cut) {
  const lines = firstLines(text, cut);
  const shown = lines.slice(0, MAX_LINES);
  return [h('pre', { class: 'out-text mono small' }, shown.join('\n')),
    lines.length > shown.length || cut ? h('div', { class: 'muted small' }, `first ${shown.length} lines`) : null];
}

/**
 * Fills box with a preview of output o of run runId. Returns a promise
 * (settled once the preview is drawn or its error shown).
 */
export async function previewOutput(box, runId, o) {
  const url = api.outputUrl(runId, o.step, o.output, { disposition: 'inline' });
  mount(box, h('div', { class: 'muted small' }, 'Loading…'));
  let res;
  try {
    res = await fetch(url, { headers: { Range: `bytes=0-${PREVIEW_BYTES - 1}` }, cache: 'no-store' });
  } catch {
    mount(box, errorBox(new Error('cannot reach the weft server')));
    return;
  }
  // A range of an empty output is past its end.
  if (res.status === 416 && /\/0$/.test(res.headers.get('Content-Range') || '')) {
    mount(box, h('div', { class: 'muted small out-size' }, 'empty (0 B)'));
    return;
  }
  if (!res.ok && res.status !== 206) {
    let msg = `HTTP ${res.status}`;
    try { msg = (await res.json()).error || msg; } catch { /* not JSON */ }
    mount(box, errorBox(new Error(msg)));
    return;
  }
  const type = (res.headers.get('Content-Type') || '').split(';')[0].trim().toLowerCase();
  const range = res.headers.get('Content-Range'); // bytes A-B/SIZE
  const size = range ? Number(range.split('/')[1]) : Number(res.headers.get('Content-Length'));
  const sizeNote = h('div', { class: 'muted small out-size' }, `${type || 'unknown type'}, ${fmtBytes(size)}`);
  if (type.startsWith('image/')) {
    res.body?.cancel();
    mount(box, sizeNote, h('img', { class: 'out-image', src: url, alt: o.output }));
    return;
  }
  const buf = await res.arrayBuffer();
  const cut = res.status === 206 && buf.byteLength < size;
  const text = new TextDecoder('utf-8', { fatal: false }).decode(buf);
  const name = o.output.toLowerCase();
  let body;
  if (type === 'application/json' && !cut) {
    try { body = h('pre', { class: 'out-json mono small' }, JSON.stringify(JSON.parse(text), null, 2)); } catch { body = textBlock(text, cut); }
  } else if (type === 'text/csv' || name.endsWith('.csv') || name.endsWith('.tsv') ||
    (type === 'text/plain' && looksCsv(text))) {
    body = csvTable(text, cut, name);
  } else if (type.startsWith('text/') || type === 'application/json') {
    body = textBlock(text, cut);
  } else {
    body = h('div', { class: 'muted small' }, 'Binary content: download it to look inside.');
  }
  mount(box, sizeNote, body);
}

/** The "Preview" button of an output's row: toggles a preview row below it. */
export function previewButton(runId, o, colspan) {
  let row = null;
  const btn = h('button', { type: 'button', class: 'btn btn-sm out-preview', 'aria-expanded': 'false' }, 'Preview');
  btn.addEventListener('click', () => {
    if (row) { row.remove(); row = null; btn.setAttribute('aria-expanded', 'false'); return; }
    const box = h('div', { class: 'out-preview-box' });
    row = h('tr', { class: 'out-preview-row' }, h('td', { colspan }, box));
    btn.closest('tr').after(row);
    btn.setAttribute('aria-expanded', 'true');
    previewOutput(box, runId, o);
  });
  return btn;
}
