// editor.js: the run-config editor: a monospace textarea with a line-number
// gutter that marks the lines the server reported errors on, Tab indenting
// by two spaces and a way to jump to a line:col.
import { h } from './dom.js';

export function createEditor({ value = '', onInput, onSubmit, label = 'Run config' } = {}) {
  const gutter = h('div', { class: 'ed-gutter', 'aria-hidden': 'true' });
  const ta = h('textarea', {
    class: 'ed-text', spellcheck: false, wrap: 'off', autocomplete: 'off',
    autocapitalize: 'off', 'aria-label': label, name: 'run_config',
  });
  ta.value = value;
  const el = h('div', { class: 'editor' }, gutter, ta);
  let errLines = new Map();

  function renderGutter() {
    const n = ta.value.split('\n').length;
    const frag = document.createDocumentFragment();
    for (let i = 1; i <= n; i++) {
      const msg = errLines.get(i);
      frag.append(h('div', { class: ['ed-ln', msg && 'err'], title: msg || null }, String(i)));
    }
    gutter.replaceChildren(frag);
    gutter.scrollTop = ta.scrollTop;
  }

  ta.addEventListener('input', () => { renderGutter(); if (onInput) onInput(ta.value); });
  ta.addEventListener('scroll', () => { gutter.scrollTop = ta.scrollTop; });
  ta.addEventListener('keydown', (ev) => {
    if (ev.key === 'Tab' && !ev.shiftKey && !ev.ctrlKey && !ev.metaKey) {
      ev.preventDefault();
      document.execCommand('insertText', false, '  ');
    } else if (ev.key === 'Enter' && (ev.ctrlKey || ev.metaKey) && onSubmit) {
      ev.preventDefault();
      onSubmit();
    }
  });
  renderGutter();

  return {
    el,
    textarea: ta,
    get value() { return ta.value; },
    set value(v) { ta.value = v; renderGutter(); },
    /** diags: [{line, col, message}] from the API; marks their lines. */
    markErrors(diags) {
      errLines = new Map();
      for (const d of diags || []) {
        if (!d.line) continue;
        errLines.set(d.line, errLines.has(d.line) ? `${errLines.get(d.line)}\n${d.message}` : d.message);
      }
      renderGutter();
    },
    /** Puts the caret at line:col (1-based) and scrolls it into view. */
    goTo(line, col = 1) {
      const lines = ta.value.split('\n');
      let off = 0;
      for (let i = 0; i < Math.min(line - 1, lines.length); i++) off += lines[i].length + 1;
      const ln = lines[Math.min(line, lines.length) - 1] || '';
      const pos = off + Math.min(Math.max(0, col - 1), ln.length);
      ta.focus();
      ta.setSelectionRange(pos, off + ln.length);
      const lh = parseFloat(getComputedStyle(ta).lineHeight) || 20;
      ta.scrollTop = Math.max(0, (line - 3) * lh);
    },
  };
}
