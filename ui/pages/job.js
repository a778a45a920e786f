// pages/job.js: one job: its graph, the details of the op picked in it, and
// the launchpad (run-config editor validated live against the server, then
// Launch, which opens the new run's page). Recent runs of the job on the side.
import { api } from '../api.js';
import { navigate } from '../router.js';
import { drawGraph } from '../graph.js';
import { createEditor } from '../editor.js';
import { h, mount, badge, tagChips, errorBox, emptyState, debounce, fmtAgo, fmtDuration, shortId, valueText } from '../dom.js';

function kv(rows) {
  return h('dl', { class: 'kv' }, rows.filter(Boolean).map(([k, v]) => [h('dt', null, k), h('dd', null, v)]));
}

function miniTable(head, rows) {
  if (!rows.length) return h('div', { class: 'muted small' }, 'none');
  return h('table', { class: 'table table-compact' },
    h('thead', null, h('tr', null, head.map((t) => h('th', null, t)))),
    h('tbody', null, rows.map((r) => h('tr', null, r.map((c) => h('td', null, c))))));
}

function opDetail(op) {
  if (!op) {
    return emptyState('Pick an op', 'Click a box in the graph to see its inputs, config and outputs.');
  }
  const source = (i) => (i.from ? h('span', { class: 'mono' }, `${i.from.op}.${i.from.output}`)
    : i.default !== null && i.default !== undefined
      ? h('span', { class: 'muted' }, `default ${valueText(i.default)}`)
      : h('span', { class: 'pill pill-warn' }, 'run config'));
  const retries = op.retries && op.retries.max ? `${op.retries.max} (delay ${op.retries.delay}s ×${op.retries.backoff})` : 'none';
  const cmd = op.run || (op.argv ? op.argv.join(' ') : op.c_function ? `C function ${op.c_function}` : '');
  return h('div', { class: 'op-detail', 'data-op': op.name },
    h('div', { class: 'op-title' }, h('h3', null, op.name),
      op.uses && op.uses !== op.name ? h('span', { class: 'muted mono small' }, `uses ${op.uses}`) : null),
    op.description ? h('p', { class: 'muted' }, op.description) : null,
    h('h4', null, 'Inputs'),
    miniTable(['name', 'type', 'from'], (op.inputs || []).map((i) => [h('span', { class: 'mono' }, i.name), i.type, source(i)])),
    h('h4', null, 'Config'),
    miniTable(['name', 'type', 'default'], (op.config || []).map((c) => [
      h('span', { class: 'mono', title: c.description || null }, c.name, c.required ? h('span', { class: 'req', title: 'required' }, '*') : null),
      c.enum ? `${c.type} (${c.enum.join(' | ')})` : c.type,
      c.value !== null && c.value !== undefined ? h('span', { class: 'mono' }, valueText(c.value))
        : c.default !== null && c.default !== undefined ? h('span', { class: 'mono muted' }, valueText(c.default)) : h('span', { class: 'muted' }, '–')])),
    h('h4', null, 'Outputs'),
    miniTable(['name', 'type', ''], (op.outputs || []).map((o) => [h('span', { class: 'mono' }, o.name), o.type, h('span', { class: 'muted' }, o.description || '')])),
    h('h4', null, 'Runs'),
    cmd ? h('pre', { class: 'code' }, cmd) : null,
    kv([['retries', retries], ['timeout', op.timeout ? `${op.timeout} s` : 'none'],
      ['queue', op.queue || 'default'], op.image ? ['image', op.image] : null]));
}

/** "k=v, k2=v2" -> {k: v, k2: v2} */
function parseTags(text) {
  const tags = {};
  for (const part of text.split(/[,\s]+/)) {
    if (!part) continue;
    const eq = part.indexOf('=');
    if (eq > 0) tags[part.slice(0, eq)] = part.slice(eq + 1);
  }
  return tags;
}

function launchpad(loc, jobName, defaults) {
  const status = h('div', { class: 'vstatus', 'aria-live': 'polite' });
  const errList = h('ul', { class: 'diag-list vdiags' });
  const resolved = h('pre', { class: 'code resolved' });
  const resolvedBox = h('details', { class: 'resolved-box', hidden: true }, h('summary', null, 'Resolved config'), resolved);
  const tagsInput = h('input', { class: 'input', type: 'text', placeholder: 'key=value, …', name: 'tags', 'aria-label': 'Tags' });
  const validateBtn = h('button', { class: 'btn', type: 'button', 'data-action': 'validate' }, 'Validate');
  const launchBtn = h('button', { class: 'btn btn-primary', type: 'button', 'data-action': 'launch' }, 'Launch run');
  const resetBtn = h('button', { class: 'btn btn-ghost', type: 'button', title: 'Back to the defaults of the job' }, 'Reset');
  let seq = 0;

  const editor = createEditor({
    value: defaults || '',
    onInput: () => { setStatus('pending', 'Checking…'); live(); },
    onSubmit: () => launch(),
  });

  function setStatus(kind, text) {
    status.className = `vstatus vstatus-${kind}`;
    mount(status, h('span', { class: 'dot' }), text);
  }

  function showErrors(diags) {
    editor.markErrors(diags);
    mount(errList, (diags || []).map((d) => h('li', { class: 'diag diag-link', tabindex: 0, title: 'go to this line',
      onclick: () => d.line && editor.goTo(d.line, d.col),
      onkeydown: (ev) => { if (ev.key === 'Enter' && d.line) editor.goTo(d.line, d.col); } },
    h('span', { class: 'diag-where' }, d.line ? `${d.line}:${d.col ?? 1}` : '—'),
    h('span', { class: 'diag-msg' }, d.message))));
  }

  async function validate() {
    const my = ++seq;
    try {
      const r = await api.validate(loc, jobName, editor.value, parseTags(tagsInput.value));
      if (my !== seq) return false;
      showErrors([]);
      setStatus('ok', 'Valid run config');
      resolved.textContent = JSON.stringify(r.resolved ?? r, null, 2);
      resolvedBox.hidden = false;
      return true;
    } catch (e) {
      if (my !== seq) return false;
      resolvedBox.hidden = true;
      if (e.status === 400) {
        const n = e.details.length;
        setStatus('bad', n ? `${n} error${n === 1 ? '' : 's'} in the run config` : e.message);
        showErrors(e.details.length ? e.details : [{ message: e.message }]);
      } else {
        setStatus('bad', e.message);
        showErrors([]);
      }
      return false;
    }
  }
  const live = debounce(validate, 450);

  async function launch() {
    live.cancel();
    launchBtn.disabled = true;
    setStatus('pending', 'Launching…');
    const my = ++seq;
    try {
      const r = await api.launch(loc, jobName, editor.value, parseTags(tagsInput.value));
      navigate(`/runs/${encodeURIComponent(r.run_id)}`);
    } catch (e) {
      if (my === seq) {
        setStatus('bad', e.status === 400 ? `Not launched: ${e.details.length || 1} error(s)` : e.message);
        showErrors(e.details.length ? e.details : [{ message: e.message }]);
      }
    } finally {
      launchBtn.disabled = false;
    }
  }

  validateBtn.addEventListener('click', () => { live.cancel(); setStatus('pending', 'Checking…'); validate(); });
  launchBtn.addEventListener('click', launch);
  resetBtn.addEventListener('click', () => { editor.value = defaults || ''; setStatus('pending', 'Checking…'); live(); });
  tagsInput.addEventListener('input', () => live());

  setStatus('pending', 'Checking…');
  validate();

  const el = h('section', { class: 'card launchpad', id: 'launchpad' },
    h('div', { class: 'card-head' }, h('h2', null, 'Launchpad'), h('span', { class: 'spacer' }),
      h('span', { class: 'muted small' }, 'YAML or JSON · Ctrl+Enter launches')),
    editor.el,
    h('div', { class: 'launch-row' },
      h('label', { class: 'tags-field' }, h('span', { class: 'muted small' }, 'Tags'), tagsInput),
      h('span', { class: 'spacer' }), resetBtn, validateBtn, launchBtn),
    status, errList, resolvedBox);
  return { el, dispose: () => live.cancel() };
}

function recentRuns(loc, jobName) {
  const list = h('div', { class: 'recent' }, h('div', { class: 'muted small' }, 'Loading…'));
  const el = h('section', { class: 'card' },
    h('div', { class: 'card-head' }, h('h2', null, 'Recent runs'), h('span', { class: 'spacer' }),
      h('a', { href: `#/runs?job=${encodeURIComponent(jobName)}`, class: 'small' }, 'all runs →')),
    list);
  let stop = false;
  async function load() {
    try {
      const r = await api.runs({ job: jobName, limit: 8 });
      if (stop) return;
      const runs = (r.runs || []).filter((x) => !x.location || x.location === loc);
      mount(list, runs.length ? runs.map((run) => h('a', { class: 'recent-row', href: `#/runs/${encodeURIComponent(run.id)}` },
        badge(run.status), h('span', { class: 'mono' }, shortId(run.id)),
        h('span', { class: 'spacer' }),
        h('span', { class: 'muted small' }, fmtDuration(run.duration_ms)),
        h('span', { class: 'muted small ago' }, fmtAgo(run.created_ms))))
        : h('div', { class: 'muted small' }, 'No runs yet. Launch one from the launchpad.'));
    } catch (e) {
      if (!stop) mount(list, h('div', { class: 'muted small' }, e.message));
    }
  }
  load();
  const timer = setInterval(() => { if (!document.hidden) load(); }, 4000);
  return { el, dispose: () => { stop = true; clearInterval(timer); } };
}

export function jobPage(root, { loc, job: jobName }) {
  const disposers = [];
  mount(root,
    h('div', { class: 'page-head' }, h('div', null,
      h('div', { class: 'crumbs' }, h('a', { href: '#/jobs' }, 'Jobs'), ' / ', h('span', null, loc)),
      h('h1', null, jobName))),
    h('div', { class: 'card skeleton' }));
  let alive = true;
  api.job(loc, jobName).then((job) => {
    if (!alive) return;
    const detail = h('div', { class: 'op-panel' });
    mount(detail, opDetail(null));
    const graph = drawGraph(job, { onSelect: (op) => mount(detail, opDetail(op)) });
    const pad = launchpad(loc, jobName, job.default_run_config);
    const recent = recentRuns(loc, jobName);
    disposers.push(pad.dispose, recent.dispose);
    mount(root,
      h('div', { class: 'page-head' },
        h('div', null,
          h('div', { class: 'crumbs' }, h('a', { href: '#/jobs' }, 'Jobs'), ' / ', h('span', null, loc)),
          h('h1', null, jobName),
          job.description ? h('div', { class: 'muted' }, job.description) : null),
        h('span', { class: 'spacer' }),
        h('div', { class: 'head-meta' }, tagChips(job.tags),
          h('span', { class: 'muted small' }, `${(job.ops || []).length} ops · ${job.levels ?? '?'} levels`))),
      h('section', { class: 'card graph-card' },
        h('div', { class: 'card-head' }, h('h2', null, 'Graph'),
          h('span', { class: 'muted small' }, 'hover an op to trace its edges, click it for details'),
          h('span', { class: 'spacer' }),
          job.file ? h('span', { class: 'muted mono small' }, job.file) : null),
        h('div', { class: 'graph-layout' }, h('div', { class: 'graph-scroll' }, graph.el), detail)),
      h('div', { class: 'grid-2' }, pad.el, recent.el));
  }).catch((e) => {
    if (alive) mount(root, h('div', { class: 'page-head' }, h('h1', null, jobName)), errorBox(e));
  });
  return () => { alive = false; disposers.forEach((d) => d()); };
}
