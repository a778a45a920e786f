// pages/workers.js: the Workers page: depths of the RabbitMQ op queues
// (ready, unacked, consumers) and every `weft worker` with its host, queues,
// concurrency, running steps (links to their runs) and heartbeat age; lost
// workers (heartbeat older than 10 s) are marked. Refreshed every 2 s.
import { api } from '../api.js';
import { h, mount, errorBox, emptyState, fmtAgo, shortId } from '../dom.js';

const POLL_MS = 2000;
const enc = encodeURIComponent;

const STATE_TONE = { running: 'live', stopping: 'warn', stopped: 'mute', lost: 'bad' };

function stateBadge(state) {
  return h('span', { class: ['badge', `tone-${STATE_TONE[state] || 'wait'}`], 'data-state': state },
    h('span', { class: 'dot' }), state);
}

function ageText(ms) {
  if (ms < 0) ms = 0;
  if (ms < 10000) return `${(ms / 1000).toFixed(1)} s ago`;
  return fmtAgo(Date.now() - ms);
}

function queueRow(q) {
  return h('tr', { 'data-queue': q.name },
    h('td', { class: 'col-name' }, h('span', { class: 'mono' }, q.name),
      q.dead_letters ? h('span', { class: 'pill pill-bad', title: 'messages that could not be run' }, 'dead letters') : null,
      q.exists ? null : h('span', { class: 'muted small' }, ' not declared yet')),
    h('td', { class: 'col-num', 'data-col': 'ready' }, q.ready),
    h('td', { class: 'col-num', 'data-col': 'unacked' }, q.unacked),
    h('td', { class: 'col-num', 'data-col': 'consumers' }, q.consumers));
}

function runningCell(w) {
  if (!w.running.length) return h('td', { class: 'muted' }, '–');
  return h('td', null, w.running.map((s) =>
    h('div', { class: 'small' },
      h('a', { href: `#/runs/${enc(s.run_id)}` }, shortId(s.run_id)), ' ',
      h('span', { class: 'mono' }, s.step), s.attempt > 1 ? h('span', { class: 'muted' }, ` #${s.attempt}`) : null)));
}

function workerRow(w) {
  return h('tr', { 'data-worker': w.id, 'data-state': w.state, class: w.lost ? 'worker-lost' : null },
    h('td', { class: 'col-name' }, h('span', { class: 'mono' }, w.id),
      h('div', { class: 'muted small' }, `pid ${w.pid}`)),
    h('td', null, w.host),
    h('td', null, w.queues.map((q) => h('span', { class: 'pill' }, q))),
    h('td', { class: 'col-num' }, `${w.running.length} / ${w.concurrency}`),
    runningCell(w),
    h('td', { class: 'col-num' }, w.steps_done),
    h('td', { class: 'nowrap', title: `last heartbeat ${new Date(w.heartbeat_ms).toISOString()}` },
      ageText(w.heartbeat_age_ms)),
    h('td', null, stateBadge(w.state)));
}

const NUMERIC = new Set(['Ready', 'Unacked', 'Consumers', 'Running', 'Done']);

function table(cls, head, tbody) {
  return h('div', { class: 'table-wrap' },
    h('table', { class: `table ${cls}` }, h('thead', null, h('tr', null,
      head.map((t) => h('th', { class: NUMERIC.has(t) ? 'col-num' : null }, t)))), tbody));
}

export function workersPage(root) {
  const qBody = h('tbody'), wBody = h('tbody');
  const qMsg = h('div'), wMsg = h('div');
  const broker = h('span', { class: 'muted small mono' });
  const info = h('div', { class: 'muted small' });
  const showAll = h('input', { type: 'checkbox', id: 'workers-all' });
  const W_HEAD = ['Worker', 'Host', 'Queues', 'Running', 'Steps', 'Done', 'Heartbeat', 'State'];
  mount(root,
    h('div', { class: 'page-head' }, h('div', null, h('h1', null, 'Workers'),
      h('div', { class: 'muted' }, 'weft worker processes taking steps from RabbitMQ queues, and the depth of each queue.')),
    h('span', { class: 'spacer' }), h('span', { class: 'live-dot', title: 'refreshing every 2 s' }, 'live')),
    h('div', { class: 'stack' },
    h('section', { class: 'card card-flush', id: 'queues' },
      h('div', { class: 'card-head pad-head' }, h('h2', null, 'Queues'), h('span', { class: 'spacer' }), broker),
      qMsg, table('queues-table', ['Queue', 'Ready', 'Unacked', 'Consumers'], qBody)),
    h('section', { class: 'card card-flush', id: 'workers' },
      h('div', { class: 'card-head pad-head' }, h('h2', null, 'Workers'), h('span', { class: 'spacer' }),
        h('label', { class: 'small', for: 'workers-all' }, showAll, ' show stopped')),
      wMsg, table('workers-table', W_HEAD, wBody))),
    h('div', { class: 'more-row' }, info));

  let alive = true, inflight = null;

  function renderQueues(r) {
    broker.textContent = r.broker || '';
    if (!r.broker) {
      mount(qBody, h('tr', null, h('td', { colspan: 4 }, emptyState('No broker configured',
        'Set broker.rabbitmq.url in $WEFT_HOME/weft.yaml to run steps on weft worker processes.'))));
      return;
    }
    mount(qBody, r.queues.map(queueRow));
  }

  function renderWorkers(r) {
    const ws = r.workers || [];
    if (!ws.length) {
      mount(wBody, h('tr', null, h('td', { colspan: W_HEAD.length }, emptyState('No workers',
        'Start one with: weft worker --queue default --concurrency 4'))));
    } else {
      mount(wBody, ws.map(workerRow));
    }
    const lost = ws.filter((w) => w.lost).length;
    const busy = ws.reduce((n, w) => n + w.running.length, 0);
    info.textContent = `${ws.length} worker${ws.length === 1 ? '' : 's'}, ${busy} step${busy === 1 ? '' : 's'} running` +
      (lost ? `, ${lost} lost` : '');
  }

  async function refresh() {
    const ctl = new AbortController();
    inflight = ctl;
    const opts = { signal: ctl.signal };
    try {
      const [w, q] = await Promise.allSettled([api.workers({ all: showAll.checked ? 'true' : null }, opts),
        api.queues(opts)]);
      if (!alive || ctl.signal.aborted) return;
      if (w.status === 'fulfilled') { mount(wMsg); renderWorkers(w.value); } else if (w.reason.name !== 'AbortError') mount(wMsg, errorBox(w.reason));
      if (q.status === 'fulfilled') { mount(qMsg); renderQueues(q.value); } else if (q.reason.name !== 'AbortError') mount(qMsg, errorBox(q.reason));
    } finally {
      if (inflight === ctl) inflight = null;
    }
  }

  showAll.addEventListener('change', () => { if (inflight) inflight.abort(); refresh(); });
  const loading = (n) => h('tr', null, h('td', { colspan: n }, h('div', { class: 'muted small pad' }, 'Loading…')));
  mount(qBody, loading(4));
  mount(wBody, loading(W_HEAD.length));
  refresh();
  const timer = setInterval(() => { if (!document.hidden && !inflight) refresh(); }, POLL_MS);
  return () => { alive = false; clearInterval(timer); if (inflight) inflight.abort(); };
}
