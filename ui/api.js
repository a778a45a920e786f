// api.js: the client of the HTTP API v1 (src/http/API.md). Every call
// returns parsed JSON or throws an ApiError carrying the status, the
// server's message and its field-level details. Streams (server-sent
// events) are read with fetch rather than EventSource, so that every event
// name is seen, a 404 is told apart from a dropped connection, and a
// stream that ended on purpose is not reopened.

const BASE = '/api/v1';

// Told of every 401 but a login's own (app.js shows the login page).
let unauthorized = null;
export function onUnauthorized(fn) { unauthorized = fn; }

export class ApiError extends Error {
  constructor(status, message, details) {
    super(message);
    this.status = status;
    this.details = details || [];
  }
}

const enc = encodeURIComponent;

function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) {
    if (v === null || v === undefined || v === '') continue;
    // Tags repeat (a value may hold a comma); other lists are comma-joined.
    if (Array.isArray(v)) {
      if (k === 'tag') v.forEach((x) => q.append(k, x)); else if (v.length) q.set(k, v.join(','));
    } else q.set(k, String(v));
  }
  const t = q.toString();
  return t ? `?${t}` : '';
}

async function request(method, path, body, opts = {}) {
  let res;
  try {
    res = await fetch(BASE + path, {
      method,
      // Every state-changing request says JSON, body or not: the server
      // refuses one that does not (a page of another origin cannot send it
      // without a CORS preflight, which the server never grants).
      headers: method === 'GET' ? {} : { 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: opts.signal,
    });
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ApiError(0, 'cannot reach the weft server');
  }
  const text = await res.text();
  let data = null;
  if (text) {
    try { data = JSON.parse(text); } catch { data = null; }
  }
  if (!res.ok) {
    const msg = (data && data.error) || `${method} ${path}: HTTP ${res.status}`;
    if (res.status === 401 && path !== '/login' && unauthorized) unauthorized(msg);
    throw new ApiError(res.status, msg, data && data.details);
  }
  return data;
}

const get = (path, params, opts) => request('GET', path + query(params), undefined, opts);
const post = (path, body) => request('POST', path, body === undefined ? {} : body);

const jobPath = (loc, job) => `/jobs/${enc(loc)}/${enc(job)}`;
const runPath = (id) => `/runs/${enc(id)}`;

export const api = {
  health: () => fetch('/healthz').then((r) => r.json()),
  me: () => get('/me'),
  login: (user, password) => post('/login', { user, password }),
  logout: () => post('/logout'),
  locations: () => get('/locations'),
  reloadLocations: () => post('/locations/reload'),
  addLocation: (body) => post('/locations', body),
  removeLocation: (name, ifVersion) =>
    request('DELETE', `/locations/${enc(name)}${query({ if_version: ifVersion })}`),
  reloadLocation: (name) => post(`/locations/${enc(name)}/reload`),
  jobs: () => get('/jobs'),
  job: (loc, job) => get(jobPath(loc, job)),
  validate: (loc, job, runConfig, tags) =>
    post(`${jobPath(loc, job)}/validate`, { run_config: runConfig, tags: tags || {} }),
  launch: (loc, job, runConfig, tags) =>
    post(`${jobPath(loc, job)}/launch`, { run_config: runConfig, tags: tags || {} }),
  runs: (params, opts) => get('/runs', params, opts),
  run: (id, opts) => get(runPath(id), undefined, opts),
  events: (id, params) => get(`${runPath(id)}/events`, params),
  cancel: (id) => post(`${runPath(id)}/cancel`),
  reexecute: (id, body) => post(`${runPath(id)}/reexecute`, body),
  runsBulk: (body) => post('/runs/bulk', body),
  outputUrl: (id, step, output, params) =>
    `${BASE}${runPath(id)}/outputs/${enc(step)}/${enc(output)}${query(params)}`,
  storage: (params, opts) => get('/instance/storage', params, opts),
  logUrl: (id, step, params) => `${BASE}${runPath(id)}/logs/${enc(step)}${query(params)}`,
  eventsStreamUrl: (id, params) => `${BASE}${runPath(id)}/events/stream${query(params)}`,
  logStreamUrl: (id, step, params) => `${BASE}${runPath(id)}/logs/${enc(step)}/stream${query(params)}`,
  // kind: 'schedules' | 'sensors' (the same routes for both).
  schedItems: (kind, opts) => get(`/${kind}`, undefined, opts),
  schedItem: (kind, name, opts) => get(`/${kind}/${enc(name)}`, undefined, opts),
  schedTicks: (kind, name, params, opts) => get(`/${kind}/${enc(name)}/ticks`, params, opts),
  schedSetState: (kind, name, on) => post(`/${kind}/${enc(name)}/${on ? 'on' : 'off'}`),
  workers: (params, opts) => get('/workers', params, opts),
  queues: (opts) => get('/queues', undefined, opts),
  backfills: (opts) => get('/backfills', undefined, opts),
  backfill: (id, opts) => get(`/backfills/${enc(id)}`, undefined, opts),
  createBackfill: (body) => post('/backfills', body),
  assets: (params, opts) => get('/assets', params, opts),
  asset: (key, opts) => get(`/assets/${enc(key)}`, undefined, opts),
  assetHistory: (key, params, opts) => get(`/assets/${enc(key)}/history`, params, opts),
  materializeAsset: (key, body) => post(`/assets/${enc(key)}/materialize`, body),
};

/**
 * Reads a text/event-stream. handlers: onEvent(name, data, id) for each
 * message, onOpen(), and the returned promise resolves when the server closes
 * the stream ({ended: true}) or rejects with ApiError on an HTTP error.
 * Pass an AbortSignal to stop reading.
 */
export async function readSSE(url, { signal, lastEventId, onEvent, onOpen } = {}) {
  const headers = { Accept: 'text/event-stream' };
  if (lastEventId !== undefined && lastEventId !== null) headers['Last-Event-ID'] = String(lastEventId);
  let res;
  try {
    res = await fetch(url, { headers, signal, cache: 'no-store' });
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ApiError(0, 'cannot reach the weft server');
  }
  if (!res.ok) {
    let msg = `HTTP ${res.status}`;
    try { msg = (await res.json()).error || msg; } catch { /* not JSON */ }
    if (res.status === 401 && unauthorized) unauthorized(msg);
    throw new ApiError(res.status, msg);
  }
  if (onOpen) onOpen();
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = '';
  let ev = { name: 'message', data: [], id: null };
  const dispatch = () => {
    if (ev.data.length) onEvent(ev.name, ev.data.join('\n'), ev.id);
    ev = { name: 'message', data: [], id: null };
  };
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += value;
    let nl;
    while ((nl = buf.search(/\r\n|\r|\n/)) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + (buf.startsWith('\r\n', nl) ? 2 : 1));
      if (line === '') { dispatch(); continue; }
      if (line.startsWith(':')) continue; // comment (": ping")
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      let val = colon < 0 ? '' : line.slice(colon + 1);
      if (val.startsWith(' ')) val = val.slice(1);
      if (field === 'event') ev.name = val;
      else if (field === 'data') ev.data.push(val);
      else if (field === 'id') ev.id = val;
    }
  }
  return { ended: true };
}
