// router.js: hash routes (#/jobs, #/jobs/LOC/JOB, #/runs, #/runs/ID). A
// route's page is `render(root, params, query) -> dispose()`: the router
// disposes the page it leaves (closing its streams and timers) before
// rendering the next.

const routes = [];
let current = null;

/** route('/runs/:id', page): page(root, {id}, URLSearchParams) -> dispose */
export function route(pattern, page) {
  const names = [];
  const re = new RegExp(`^${pattern.replace(/:([a-z]+)/g, (_, n) => { names.push(n); return '([^/]+)'; })}/?$`);
  routes.push({ re, names, page });
}

export function parseHash(hash = location.hash) {
  const raw = hash.replace(/^#/, '') || '/jobs';
  const qi = raw.indexOf('?');
  return { path: qi < 0 ? raw : raw.slice(0, qi), query: new URLSearchParams(qi < 0 ? '' : raw.slice(qi + 1)) };
}

/** Builds '#/path?query' from a path and an object of query values. */
export function href(path, params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) {
    if (v === null || v === undefined || v === '' || (Array.isArray(v) && !v.length)) continue;
    q.set(k, Array.isArray(v) ? v.join(',') : String(v));
  }
  const t = q.toString();
  return `#${path}${t ? `?${t}` : ''}`;
}

/** Changes the query of the current route without re-rendering the page. */
export function replaceQuery(params) {
  const { path } = parseHash();
  history.replaceState(null, '', href(path, params));
}

export function navigate(hashPath) {
  location.hash = hashPath.startsWith('#') ? hashPath : `#${hashPath}`;
}

export function start(root, onRoute) {
  const render = () => {
    const { path, query } = parseHash();
    if (current && current.dispose) current.dispose();
    current = null;
    for (const r of routes) {
      const m = r.re.exec(path);
      if (!m) continue;
      const params = {};
      r.names.forEach((n, i) => { params[n] = decodeURIComponent(m[i + 1]); });
      root.replaceChildren();
      window.scrollTo(0, 0);
      current = { dispose: r.page(root, params, query) };
      if (onRoute) onRoute(path);
      return;
    }
    location.replace('#/jobs');
  };
  window.addEventListener('hashchange', render);
  render();
}
