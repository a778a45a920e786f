// pages/run.js: one run, live. The run detail (GET /runs/{id}) is the
// truth every part is drawn from; the events stream says when to fetch it
// again (and feeds the events table). While the run is live the clock
// redraws the timeline four times a second, and a 2 s poll guards against
// a stream that cannot be had.
import { api, readSSE } from '../api.js';
import { navigate } from '../router.js';
import { createGantt, stepState, itemParent, mapSummary } from '../gantt.js';
import { drawGraph } from '../graph.js';
import { createLogViewer } from '../logs.js';
import { createEventsTable } from '../events.js';
import { previewButton, downloadLink } from '../outputs.js';
import { h, mount, badge, tagChips, errorBox, emptyState, fmtTime, fmtDuration, fmtBytes, shortId, valueText } from '../dom.js';

const FINAL = new Set(['run_success', 'run_failure', 'run_canceled']);
const ENDED = new Set(['success', 'failure', 'canceled']);

function outputValue(o) {
  if ('value' in o && o.value !== null && o.value !== undefined) return h('span', { class: 'mono' }, valueText(o.value, 200));
  if (o.key) return h('span', { class: 'mono muted', title: o.key }, `${o.key}`);
  return h('span', { class: 'muted' }, 'not written');
}

function outputsTable(runId, outputs, step) {
  const list = step ? outputs.filter((o) => o.step === step) : outputs;
  if (!list.length) return emptyState('No outputs', step ? 'This step stored no outputs.' : 'No step has stored an output yet.');
  const cols = step ? 5 : 6;
  return h('table', { class: 'table table-compact outputs-table' },
    h('thead', null, h('tr', null, step ? null : h('th', null, 'Step'), h('th', null, 'Output'), h('th', null, 'Type'),
      h('th', null, 'Value'), h('th', { class: 'col-num' }, 'Size'), h('th', null, ''))),
    h('tbody', null, list.map((o) => h('tr', { 'data-step': o.step, 'data-output': o.output },
      step ? null : h('td', { class: 'mono' }, o.step),
      h('td', { class: 'mono' }, o.output,
        o.from_run ? h('a', { class: 'pill pill-reuse', href: `#/runs/${encodeURIComponent(o.from_run)}`, title: 'reused from this run' }, `↻ ${shortId(o.from_run)}`) : null),
      h('td', { class: 'muted' }, o.type || ''),
      h('td', { class: 'ev-detail' }, outputValue(o)),
      h('td', { class: 'col-num muted small' }, o.bytes !== undefined ? fmtBytes(o.bytes) : ''),
      // Only a written output (it has a key in the artifact store) can be read.
      h('td', { class: 'nowrap out-actions' }, o.key ? [previewButton(runId, o, cols), ' ', downloadLink(runId, o)] : null)))));
}

function assetsTable(mats) {
  if (!mats.length) return emptyState('No assets', 'Ops record one by writing {"type":"materialization","asset":…} to $WEFT_EVENTS.');
  return h('table', { class: 'table table-compact' },
    h('thead', null, h('tr', null, h('th', null, 'Asset'), h('th', null, 'Step'), h('th', null, 'Metadata'), h('th', null, 'When'))),
    h('tbody', null, mats.map((m) => h('tr', { 'data-asset': m.asset },
      h('td', null, h('span', { class: 'asset' }, m.asset)),
      h('td', { class: 'mono' }, m.step),
      h('td', null, h('dl', { class: 'kv kv-inline' }, Object.entries(m.metadata || {}).map(([k, v]) =>
        [h('dt', null, k), h('dd', { class: 'mono' }, valueText(v, 80))]))),
      h('td', { class: 'muted small nowrap' }, fmtTime(m.ts_ms))))));
}

/** The image, digest and container each attempt ran in (none for a host step). */
function containersTable(ctrs) {
  if (!ctrs.length) return null;
  return [h('h4', null, 'Containers'),
    h('table', { class: 'table table-compact containers' },
      h('thead', null, h('tr', null, ['#', 'Image', 'Digest', 'Container'].map((t) => h('th', null, t)))),
      h('tbody', null, ctrs.map((c) => h('tr', { 'data-attempt': c.attempt },
        h('td', null, c.attempt),
        h('td', { class: 'mono small' }, c.image || '–'),
        h('td', { class: 'mono small', title: c.digest || '' }, c.digest ? c.digest.slice(c.digest.indexOf('sha256:'), c.digest.indexOf('sha256:') + 19) : '–'),
        h('td', { class: 'mono small', title: c.id || '' }, c.id ? c.id.slice(0, 12) : '–')))))];
}

/** The step's `when:` condition and trigger rule, from the job (op may be null). */
function stepCondition(op) {
  if (!op || (!op.when && (!op.trigger || op.trigger === 'all_success'))) return null;
  return h('p', { class: 'step-cond small' },
    op.when ? [h('span', { class: 'muted' }, 'when '), h('code', { 'data-when': op.when }, op.when)] : null,
    op.when && op.trigger && op.trigger !== 'all_success' ? ' · ' : null,
    op.trigger && op.trigger !== 'all_success'
      ? [h('span', { class: 'muted' }, 'trigger '), h('code', { 'data-trigger': op.trigger }, op.trigger)] : null);
}

function stepCard(detail, step, op) {
  if (!step) return emptyState('No step selected', 'Click a row of the timeline.');
  const attempts = detail.steps.filter((a) => a.step === step).sort((a, b) => a.attempt - b.attempt);
  const state = stepState(attempts);
  const logs = (detail.logs || {})[step];
  return h('div', { class: 'step-detail', 'data-step': step },
    h('div', { class: 'op-title' }, h('h3', { class: 'mono' }, step), badge(state)),
    stepCondition(op),
    attempts.length ? h('table', { class: 'table table-compact' },
      h('thead', null, h('tr', null, ['#', 'Status', 'Started', 'Duration', 'PID'].map((t) => h('th', null, t)))),
      h('tbody', null, attempts.map((a) => [
        h('tr', null, h('td', null, a.attempt), h('td', null, badge(a.status)),
          h('td', { class: 'small nowrap' }, a.started_ms ? fmtTime(a.started_ms).slice(11) : '–'),
          h('td', { class: 'small' }, a.started_ms && a.ended_ms ? fmtDuration(a.ended_ms - a.started_ms) : a.started_ms ? 'running' : '–'),
          h('td', { class: 'mono small' }, a.pid ?? '–')),
        a.message ? h('tr', { class: 'msg-row' }, h('td', { colspan: 5 }, h('div', { class: ['step-msg', a.status === 'failed' && 'bad'] }, a.message))) : null,
      ])))
      : h('p', { class: 'muted' }, 'Not started yet.'),
    logs ? h('div', { class: 'muted small' }, `logs of attempt ${logs.attempt}: stdout ${fmtBytes(logs.stdout_bytes)}, stderr ${fmtBytes(logs.stderr_bytes)}`) : null,
    containersTable((detail.containers || []).filter((c) => c.step === step)),
    h('h4', null, 'Outputs'),
    outputsTable(detail.run.id, detail.outputs || [], step));
}

export function runPage(root, { id }) {
  let alive = true;
  let detail = null;
  let selected = null, userPicked = false;
  let cancelArmedUntil = 0, canceling = false;
  const checked = new Set();
  const ctl = new AbortController();
  const timers = [];

  const head = h('div', { class: 'run-head' }, h('div', { class: 'card skeleton' }));
  const actionMsg = h('div', { class: 'action-msg' });
  const gantt = createGantt({
    onSelect: (step) => { userPicked = true; select(step); },
    onToggle: (step, on) => { if (on) checked.add(step); else checked.delete(step); renderActions(); },
  });
  const logs = createLogViewer();
  const events = createEventsTable();
  const stepBox = h('div');
  const outputsBox = h('div');
  const assetsBox = h('div');
  const actions = h('div', { class: 'actions' });

  // The timeline card shows the Gantt chart, or the job's graph coloured by step state.
  let view = 'timeline', job = null, jobErr = null, jobLoading = false, graph = null, graphSig = '';
  const graphBox = h('div', { class: 'graph-scroll run-graph', hidden: true });
  const viewTabs = ['timeline', 'graph'].map((v) => h('button', {
    type: 'button', class: ['tab', v === view && 'on'], 'data-view': v,
    onclick: () => { view = v; showView(); },
  }, v === 'timeline' ? 'Timeline' : 'Graph'));
  function showView() {
    viewTabs.forEach((b) => b.classList.toggle('on', b.dataset.view === view));
    gantt.el.hidden = view !== 'timeline';
    graphBox.hidden = view !== 'graph';
    if (view === 'graph') renderGraph();
  }
  // The job (its graph, each step's when: and trigger), fetched once.
  function loadJob() {
    if (job || jobErr || jobLoading || !detail) return;
    jobLoading = true;
    api.job(detail.run.location, detail.run.job).then((j) => { job = j; renderParts(); })
      .catch((e) => { jobErr = e; renderParts(); });
  }
  function renderGraph() {
    if (!detail || view !== 'graph') return;
    if (!job && !jobErr) { loadJob(); return; }
    if (jobErr) { mount(graphBox, errorBox(jobErr)); return; }
    const by = new Map();
    for (const a of detail.steps) (by.get(a.step) || by.set(a.step, []).get(a.step)).push(a);
    const status = {};
    for (const op of job.ops || []) status[op.name] = stepState((by.get(op.name) || []).sort((a, b) => a.attempt - b.attempt));
    // Mapped steps: the counts of their items (rows named STEP[...]).
    const items = {};
    for (const op of job.ops || []) {
      if (!op.map) continue;
      const lists = [...by.entries()].filter(([k]) => itemParent(k) === op.name)
        .map(([, l]) => l.sort((a, b) => a.attempt - b.attempt));
      if (lists.length) items[op.name] = mapSummary(lists).text;
    }
    // Redrawn only when what it shows changed: the events stream refreshes the
    // run after it loads, and a redraw would drop the nodes under the pointer.
    const sig = JSON.stringify([status, items]);
    if (!graph || sig !== graphSig) {
      graphSig = sig;
      graph = drawGraph(job, { status, items, onSelect: (op) => { if (op) { userPicked = true; select(op.name); } } });
      mount(graphBox, graph.el);
    }
    graph.select(selected);
  }

  mount(root,
    head, actionMsg,
    h('section', { class: 'card', id: 'timeline' },
      h('div', { class: 'card-head' }, h('div', { class: 'tabs', role: 'tablist' }, viewTabs), h('span', { class: 'spacer' }),
        h('span', { class: 'legend small muted' },
          ['succeeded', 'running', 'failed', 'up_for_retry', 'waiting', 'skipped', 'reused'].map((st) =>
            h('span', { class: 'legend-item' }, badge(st, 'badge-flat'))))),
      gantt.el, graphBox),
    h('div', { class: 'grid-2' }, logs.el, h('section', { class: 'card', id: 'step' }, stepBox)),
    events.el,
    h('div', { class: 'grid-2 grid-even' },
      h('section', { class: 'card', id: 'outputs' }, h('div', { class: 'card-head' }, h('h2', null, 'Outputs')), outputsBox),
      h('section', { class: 'card', id: 'assets' }, h('div', { class: 'card-head' }, h('h2', null, 'Asset materializations')), assetsBox)));

  const isLive = () => !detail || !ENDED.has(detail.run.status);

  function select(step) {
    selected = step;
    logs.show(id, step, isLive);
    renderParts();
  }

  function autoSelect() {
    if (userPicked || !detail) return;
    const by = new Map();
    for (const a of detail.steps) by.set(a.step, a);
    const plan = detail.plan && detail.plan.length ? detail.plan : [...by.keys()];
    const pick = plan.find((st) => by.get(st)?.status === 'failed') ||
      plan.filter((st) => by.get(st)?.status === 'running').pop() ||
      [...detail.steps].filter((a) => a.started_ms && !/^reused/.test(a.message || ''))
        .sort((a, b) => a.started_ms - b.started_ms).map((a) => a.step).pop() || plan[0];
    if (pick && pick !== selected) select(pick);
  }

  function renderHead() {
    const r = detail.run;
    const live = isLive();
    const dur = r.started_ms ? (r.ended_ms || Date.now()) - r.started_ms : null;
    mount(head,
      h('div', { class: 'page-head' },
        h('div', null,
          h('div', { class: 'crumbs' }, h('a', { href: '#/runs' }, 'Runs'), ' / ',
            h('a', { href: `#/jobs/${encodeURIComponent(r.location)}/${encodeURIComponent(r.job)}` }, `${r.location} / ${r.job}`)),
          h('h1', { class: 'run-title' }, h('span', { class: 'mono', title: r.id }, r.id), badge(r.status, 'badge-lg run-status')),
          r.queue_reason ? h('div', { class: 'queue-reason muted', title: 'why it waits in the run queue' }, r.queue_reason) : null,
          h('div', { class: 'meta-row' },
            h('span', null, h('span', { class: 'muted' }, 'created '), fmtTime(r.created_ms)),
            h('span', null, h('span', { class: 'muted' }, 'duration '), h('span', { class: 'run-duration' }, dur === null ? '–' : fmtDuration(dur)), live && r.started_ms ? h('span', { class: 'muted' }, ' so far') : null),
            r.parent_run_id ? h('span', null, h('span', { class: 'muted' }, 're-executes '),
              h('a', { class: 'mono parent-link', href: `#/runs/${encodeURIComponent(r.parent_run_id)}` }, shortId(r.parent_run_id))) : null,
            r.root_run_id && r.root_run_id !== r.id && r.root_run_id !== r.parent_run_id ? h('span', null, h('span', { class: 'muted' }, 'root '),
              h('a', { class: 'mono', href: `#/runs/${encodeURIComponent(r.root_run_id)}` }, shortId(r.root_run_id))) : null,
            r.coordinator ? h('span', { class: 'run-coordinator', title: 'the coordinator process driving the run (host:pid:start)' },
              h('span', { class: 'muted' }, 'coordinator '), h('span', { class: 'mono' }, r.coordinator)) : null,
            (detail.adoptions || []).length ? h('span', {
              class: 'run-adoptions',
              title: detail.adoptions.map((a) => `${fmtTime(a.ts_ms)}: ${a.from || '?'} -> ${a.to || '?'} (${a.reason || ''})`).join('\n'),
            }, h('span', { class: 'muted' }, 'adopted '), `${detail.adoptions.length}×`) : null,
            r.code_version ? h('span', { class: 'code-version', title: 'content hash of the code location at launch' },
              h('span', { class: 'muted' }, 'code '), h('span', { class: 'mono' }, r.code_version)) : null),
          tagChips(r.tags),
          detail.run_config ? h('details', { class: 'run-config' }, h('summary', null, 'Run config'),
            h('pre', { class: 'code' }, JSON.stringify(detail.run_config, null, 2))) : null),
        h('span', { class: 'spacer' }),
        actions),
      r.message && r.status !== 'success' ? h('div', { class: `alert ${r.status === 'failure' ? 'alert-bad' : 'alert-mute'}` }, r.message) : null);
    renderActions();
  }

  function renderActions() {
    if (!detail) return;
    const st = detail.run.status;
    const btns = [];
    if (st === 'queued' || st === 'started') {
      // Two clicks cancel: the first arms the button for 4 s (kept in the
      // page, so a redraw in between does not disarm it).
      const armed = Date.now() < cancelArmedUntil;
      const b = h('button', { class: ['btn btn-danger', armed && 'armed'], type: 'button', 'data-action': 'cancel',
        disabled: canceling }, canceling ? 'Canceling…' : armed ? 'Click again to cancel' : 'Cancel run');
      b.addEventListener('click', async () => {
        if (Date.now() >= cancelArmedUntil) {
          cancelArmedUntil = Date.now() + 4000;
          renderActions();
          setTimeout(renderActions, 4100);
          return;
        }
        cancelArmedUntil = 0;
        canceling = true;
        renderActions();
        await act(() => api.cancel(id));
        canceling = false;
        refresh();
      });
      btns.push(b);
    }
    if (st === 'failure' || st === 'canceled') {
      btns.push(h('button', { class: 'btn btn-primary', type: 'button', 'data-action': 'reexecute-failure',
        onclick: (ev) => reexec(ev.currentTarget, { from_failure: true }) }, 'Re-execute from failure'));
    }
    if (ENDED.has(st)) {
      const n = checked.size;
      btns.push(h('button', { class: 'btn', type: 'button', 'data-action': 'reexecute-steps', disabled: !n,
        title: n ? [...checked].join(', ') : 'tick steps in the timeline first',
        onclick: (ev) => reexec(ev.currentTarget, { steps: [...checked] }) }, n ? `Re-execute ${n} selected` : 'Re-execute selected'));
    }
    mount(actions, btns);
  }

  async function act(fn) {
    mount(actionMsg);
    try { return await fn(); } catch (e) { mount(actionMsg, errorBox(e)); return null; }
  }

  async function reexec(btn, body) {
    btn.disabled = true;
    const r = await act(() => api.reexecute(id, body));
    if (r && r.run_id) navigate(`/runs/${encodeURIComponent(r.run_id)}`);
    else btn.disabled = false;
  }

  function renderGantt() {
    gantt.update({ plan: detail.plan, steps: detail.steps, run: detail.run, now: Date.now(), selected, checked, selectable: ENDED.has(detail.run.status) });
  }

  function renderParts() {
    if (!detail) return;
    renderGantt();
    renderGraph();
    loadJob();
    const op = job && selected ? (job.ops || []).find((o) => o.name === selected) : null;
    mount(stepBox, stepCard(detail, selected, op));
    logs.setSizes((detail.logs || {})[selected]);
  }

  // The header is redrawn only when what it shows changed (not, say, the
  // coordinator's heartbeat), so an open <details> or an armed button stays.
  let headSig = '', outputsSig = '';
  const HEAD_FIELDS = ['id', 'job', 'location', 'status', 'message', 'tags', 'parent_run_id', 'root_run_id',
    'created_ms', 'started_ms', 'ended_ms', 'duration_ms', 'code_version'];
  function renderAll() {
    const sig = JSON.stringify(HEAD_FIELDS.map((k) => detail.run[k]));
    if (sig !== headSig) { headSig = sig; renderHead(); }
    renderParts();
    // Redrawn only when the outputs change, so an open preview stays open.
    const outSig = JSON.stringify(detail.outputs || []);
    if (outSig !== outputsSig) { outputsSig = outSig; mount(outputsBox, outputsTable(detail.run.id, detail.outputs || [])); }
    mount(assetsBox, assetsTable(detail.materializations || []));
    events.setSteps(detail.plan);
  }

  let fetching = null, again = false;
  async function refresh() {
    if (fetching) { again = true; return fetching; }
    fetching = (async () => {
      try {
        const d = await api.run(id, { signal: ctl.signal });
        if (!alive) return;
        d.steps = d.steps || [];
        const wasLive = isLive();
        detail = d;
        renderAll();
        autoSelect();
        if (wasLive && !isLive()) logs.poke(selected);
      } catch (e) {
        if (alive && e.name !== 'AbortError' && !detail) mount(head, h('div', { class: 'page-head' }, h('h1', { class: 'mono' }, id)), errorBox(e));
      }
    })();
    await fetching;
    fetching = null;
    if (again && alive) { again = false; refresh(); }
    return null;
  }
  let refreshTimer = 0;
  const soon = () => { if (!refreshTimer) refreshTimer = setTimeout(() => { refreshTimer = 0; refresh(); }, 150); };

  // The events stream: everything from the start, then live until the final event.
  let lastId = null, sawFinal = false, pollEvents = false;
  function onEvents(list) {
    events.add(list);
    for (const ev of list) {
      if (ev.type === 'step_started') logs.poke(ev.step);
      if (FINAL.has(ev.type)) sawFinal = true;
    }
    if (list.some((ev) => ev.type !== 'log')) soon();
  }
  async function streamEvents() {
    while (alive && !sawFinal) {
      try {
        if (pollEvents) {
          const r = await api.events(id, { after: lastId ?? undefined, limit: 500 });
          const evs = r.events || [];
          if (evs.length) { lastId = evs[evs.length - 1].id; onEvents(evs); }
          if (!evs.length && !isLive()) break;
          if (evs.length < 500) await new Promise((res) => setTimeout(res, 1500));
          continue;
        }
        await readSSE(api.eventsStreamUrl(id, lastId === null ? {} : { after: lastId }), {
          signal: ctl.signal,
          lastEventId: lastId,
          onEvent: (name, data) => {
            let ev;
            try { ev = JSON.parse(data); } catch { return; }
            if (!ev || ev.id === undefined) return;
            lastId = ev.id;
            onEvents([ev]);
          },
        });
      } catch (e) {
        if (!alive || e.name === 'AbortError') return;
        if (e.status === 404 && detail) pollEvents = true; // no stream route: poll the log
        else if (e.status === 404) return;
      }
      if (!sawFinal && alive) await new Promise((res) => setTimeout(res, 1000));
    }
    if (alive) refresh();
  }

  refresh().then(() => { if (alive) streamEvents(); });
  timers.push(setInterval(() => {
    if (!detail || !isLive() || document.hidden) return;
    renderGantt();
    const el = head.querySelector('.run-duration');
    if (el && detail.run.started_ms) el.textContent = fmtDuration(Date.now() - detail.run.started_ms);
  }, 250));
  timers.push(setInterval(() => { if (alive && isLive() && !document.hidden) refresh(); }, 2000));

  return () => {
    alive = false;
    ctl.abort();
    timers.forEach(clearInterval);
    clearTimeout(refreshTimer);
    gantt.dispose();
    logs.dispose();
  };
}
