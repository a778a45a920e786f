// logs.js: a step's compute log (stdout or stderr), tailed live through
// GET .../logs/{step}/stream. The stream sends the file from offset 0 and
// then each chunk as it is written, and ends with `event: end` once the
// attempt is over; a dropped connection is reopened and the chunks already
// shown (by byte offset) are skipped. A step that has no log yet (404) is
// asked again while its run is live.
import { api, readSSE } from './api.js';
import { h, mount, fmtBytes } from './dom.js';

const MAX_CHARS = 1 << 20; // keep the last 1 MiB of text in the page

const utf8 = new TextEncoder();
const byteLen = (t) => utf8.encode(t).length;

export function createLogViewer() {
  const tabs = {
    stdout: h('button', { type: 'button', class: 'tab on', role: 'tab', 'data-stream': 'stdout' }, 'stdout'),
    stderr: h('button', { type: 'button', class: 'tab', role: 'tab', 'data-stream': 'stderr' }, 'stderr'),
  };
  const title = h('span', { class: 'log-step mono' });
  const meta = h('span', { class: 'muted small log-meta' });
  const raw = h('a', { class: 'small', target: '_blank', rel: 'noopener' }, 'raw');
  const pre = h('pre', { class: 'log', tabindex: 0, 'aria-label': 'compute log' });
  const note = h('div', { class: 'log-note muted small' });
  const el = h('section', { class: 'card log-card', id: 'logs' },
    h('div', { class: 'card-head' }, h('h2', null, 'Logs'), title,
      h('div', { class: 'tabs', role: 'tablist' }, tabs.stdout, tabs.stderr),
      h('span', { class: 'spacer' }), meta, raw),
    h('div', { class: 'log-wrap' }, pre, note));

  let runId = null, step = null, stream = 'stdout', ctl = null;
  let received = 0, shownAttempt = null, chars = 0, ended = false, isLive = () => false;
  let retryTimer = 0;

  function atBottom() { return pre.scrollHeight - pre.scrollTop - pre.clientHeight < 24; }

  function appendText(text, cls) {
    const stick = atBottom();
    const node = cls ? h('span', { class: cls }, text) : document.createTextNode(text);
    pre.append(node);
    chars += text.length;
    while (chars > MAX_CHARS && pre.firstChild) {
      chars -= pre.firstChild.textContent.length;
      pre.firstChild.remove();
    }
    if (stick) pre.scrollTop = pre.scrollHeight;
    pre.classList.remove('empty');
  }

  function onChunk(c) {
    if (shownAttempt !== null && c.attempt !== shownAttempt) {
      appendText(`\n── attempt ${c.attempt} ──\n`, 'log-sep');
      received = 0;
    }
    shownAttempt = c.attempt;
    let text = c.text || '';
    const len = byteLen(text);
    if (c.offset + len <= received) return; // already shown (reconnect)
    if (c.offset < received) text = new TextDecoder().decode(utf8.encode(text).slice(received - c.offset));
    received = Math.max(received, c.offset + len);
    if (text) appendText(text);
    meta.textContent = fmtBytes(received);
  }

  async function follow(my) {
    clearTimeout(retryTimer);
    try {
      await readSSE(api.logStreamUrl(runId, step, { stream }), {
        signal: my.signal,
        onEvent: (name, data) => {
          if (name === 'chunk') onChunk(JSON.parse(data));
          else if (name === 'end') ended = true;
        },
      });
      if (my.signal.aborted) return;
      if (!ended) { retryTimer = setTimeout(() => follow(my), 1000); return; }
      note.textContent = received ? '' : `(nothing on ${stream})`;
    } catch (e) {
      if (my.signal.aborted || e.name === 'AbortError') return;
      if (e.status === 404 && isLive()) {
        note.textContent = 'waiting for the step to start…';
        retryTimer = setTimeout(() => follow(my), 1000);
      } else if (e.status === 404) {
        note.textContent = `(no ${stream} log for this step)`;
      } else {
        note.textContent = `${e.message}; retrying…`;
        retryTimer = setTimeout(() => follow(my), 2000);
      }
    }
  }

  function open() {
    if (ctl) ctl.abort();
    clearTimeout(retryTimer);
    pre.replaceChildren();
    pre.classList.add('empty');
    received = 0; chars = 0; shownAttempt = null; ended = false;
    note.textContent = '';
    meta.textContent = '';
    Object.entries(tabs).forEach(([k, b]) => { b.classList.toggle('on', k === stream); b.setAttribute('aria-selected', String(k === stream)); });
    if (!step) {
      title.textContent = '';
      raw.hidden = true;
      mount(note, 'Pick a step in the timeline to read its logs.');
      return;
    }
    title.textContent = step;
    raw.hidden = false;
    raw.href = api.logUrl(runId, step, { stream });
    ctl = new AbortController();
    follow(ctl);
  }

  Object.entries(tabs).forEach(([k, b]) => b.addEventListener('click', () => {
    if (stream !== k) { stream = k; open(); }
  }));

  return {
    el,
    /** Shows run's step (re-opening the stream only when something changed). */
    show(id, stepName, live) {
      isLive = live || isLive;
      if (id === runId && stepName === step) return;
      runId = id;
      step = stepName;
      open();
    },
    /** The step (re)started: a finished stream or a 404 is worth another look. */
    poke(stepName) {
      if (stepName === step && (ended || note.textContent)) open();
    },
    /** sizes: the run detail's logs[step] ({stdout_bytes, stderr_bytes}). */
    setSizes(sizes) {
      for (const [k, b] of Object.entries(tabs)) {
        const n = sizes ? sizes[`${k}_bytes`] : 0;
        b.textContent = n ? `${k} · ${fmtBytes(n)}` : k;
        b.classList.toggle('has-data', Boolean(n));
      }
    },
    get step() { return step; },
    dispose() { if (ctl) ctl.abort(); clearTimeout(retryTimer); },
  };
}
