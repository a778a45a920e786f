// graph.js: a job's DAG as a layered graph in SVG. Ops are boxes in columns
// by level (left to right), ordered inside a column by the barycentre of
// their neighbours to keep crossings few; data edges are curves carrying the
// output's name (unless it is the default "result"), `after:` orderings are
// dashed. Hovering an op highlights its edges; clicking selects it.
import { s, statusTone } from './dom.js';

const W = 156, H = 54, VH = 14, GX = 72, GY = 20, PAD = 16;

// Sugiyama-style ordering: nodes (real ops and the virtual nodes that carry
// an edge across intermediate levels) sorted inside each level by the mean
// position of their neighbours, sweeping down and up a few times.
function orderLevels(nodes, links) {
  const levels = [];
  nodes.forEach((n) => { (levels[n.level] ||= []).push(n.id); });
  const ups = new Map(nodes.map((n) => [n.id, []]));
  const downs = new Map(nodes.map((n) => [n.id, []]));
  for (const [a, b] of links) { ups.get(b).push(a); downs.get(a).push(b); }
  const pos = new Map();
  levels.forEach((col) => (col || []).forEach((n, i) => pos.set(n, i)));
  const bary = (n, nb) => {
    const ns = nb.get(n);
    return ns.length ? ns.reduce((a, x) => a + pos.get(x), 0) / ns.length : pos.get(n);
  };
  for (let pass = 0; pass < 6; pass++) {
    const down = pass % 2 === 0;
    const seq = down ? [...levels.keys()] : [...levels.keys()].reverse();
    for (const l of seq) {
      const col = levels[l];
      if (!col) continue;
      const key = new Map(col.map((n) => [n, bary(n, down ? ups : downs)]));
      col.sort((a, b) => key.get(a) - key.get(b) || pos.get(a) - pos.get(b));
      col.forEach((n, i) => pos.set(n, i));
    }
  }
  return levels.map((c) => c || []);
}

/** The (x, y) of a cubic bezier at the x-coordinate x (bisection on t). */
function cubicY(p0, p1, p2, p3, x) {
  const at = (t, a, b, c, d) => (1 - t) ** 3 * a + 3 * (1 - t) ** 2 * t * b + 3 * (1 - t) * t * t * c + t ** 3 * d;
  let lo = 0, hi = 1;
  for (let i = 0; i < 30; i++) {
    const m = (lo + hi) / 2;
    if (at(m, p0[0], p1[0], p2[0], p3[0]) < x) lo = m; else hi = m;
  }
  return at(lo, p0[1], p1[1], p2[1], p3[1]);
}

function clip(text, max) {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/**
 * Draws job (the API's job document: ops with level, edges, upstream).
 * opts: onSelect(op), status: {opName: status} to colour boxes (run page),
 * items: {opName: "12 ✓ 3 ✗"} the item counts of mapped steps (run page).
 * Returns {el, select(name)}.
 */
export function drawGraph(job, opts = {}) {
  const ops = job.ops || [];
  const edges = (job.edges || []).slice();
  const dataPairs = new Set(edges.map((e) => `${e.from}>${e.to}`));
  for (const op of ops) {
    for (const u of op.upstream || []) {
      if (!dataPairs.has(`${u}>${op.name}`)) edges.push({ from: u, to: op.name, after: true });
    }
  }
  const lvl = new Map(ops.map((o) => [o.name, o.level]));
  const nodes = ops.map((o) => ({ id: o.name, level: o.level, h: H }));
  const links = [];
  let vid = 0;
  for (const e of edges) {
    const la = lvl.get(e.from), lb = lvl.get(e.to);
    if (la === undefined || lb === undefined) { e.chain = null; continue; }
    e.chain = [e.from];
    for (let l = la + 1; l < lb; l++) {
      const id = `\u0000v${vid++}`;
      nodes.push({ id, level: l, h: VH, virtual: true });
      e.chain.push(id);
    }
    e.chain.push(e.to);
    for (let i = 0; i + 1 < e.chain.length; i++) links.push([e.chain[i], e.chain[i + 1]]);
  }
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const levels = orderLevels(nodes, links);
  const colH = levels.map((col) => col.reduce((a, id) => a + byId.get(id).h, 0) + Math.max(0, col.length - 1) * GY);
  const tallest = Math.max(H, ...colH);
  const width = PAD * 2 + levels.length * W + Math.max(0, levels.length - 1) * GX;
  const height = PAD * 2 + tallest + 8;
  const box = new Map();
  levels.forEach((col, l) => {
    let y = PAD + (tallest - colH[l]) / 2;
    for (const id of col) {
      const n = byId.get(id);
      box.set(id, { x: PAD + l * (W + GX), y, h: n.h, cy: y + n.h / 2 });
      y += n.h + GY;
    }
  });

  // Ports: spread the edges entering and leaving a box along its side.
  const inPorts = new Map(), outPorts = new Map();
  for (const e of edges) {
    if (!e.chain) continue;
    (inPorts.get(e.to) || inPorts.set(e.to, []).get(e.to)).push(e);
    const key = e.after ? '\u0000after' : e.output;
    const outs = outPorts.get(e.from) || outPorts.set(e.from, []).get(e.from);
    if (!outs.includes(key)) outs.push(key);
  }
  const prevY = (e) => box.get(e.chain[e.chain.length - 2]).cy;
  for (const list of inPorts.values()) list.sort((a, b) => prevY(a) - prevY(b));
  const portY = (n, i, k, gap) => box.get(n).cy + (k <= 1 ? 0 : (i - (k - 1) / 2) * Math.min(gap, (H - 12) / (k - 1)));

  const svg = s('svg', {
    class: 'dag', viewBox: `0 0 ${width} ${height}`, width, height, role: 'img',
    'aria-label': `graph of job ${job.job || job.name}`,
  });
  svg.append(s('defs', null,
    s('marker', { id: 'dag-arrow', viewBox: '0 0 8 8', refX: 7, refY: 4, markerWidth: 7, markerHeight: 7, orient: 'auto' },
      s('path', { d: 'M0,0 L8,4 L0,8 z', class: 'dag-arrowhead' }))));

  const edgeLayer = s('g', { class: 'dag-edges' });
  const labelLayer = s('g', { class: 'dag-labels' });
  const nodeLayer = s('g', { class: 'dag-nodes' });
  svg.append(edgeLayer, labelLayer, nodeLayer);
  const edgeEls = [];
  const labelled = new Set();

  const curve = (p, q) => {
    const dx = Math.max(30, (q[0] - p[0]) / 2);
    return [[p[0] + dx, p[1]], [q[0] - dx, q[1]]];
  };
  for (const e of edges) {
    if (!e.chain) continue;
    const a = box.get(e.from), b = box.get(e.to);
    const outs = outPorts.get(e.from);
    const ins = inPorts.get(e.to);
    const pts = [[a.x + W, portY(e.from, outs.indexOf(e.after ? '\u0000after' : e.output), outs.length, 20)]];
    for (const v of e.chain.slice(1, -1)) { const vb = box.get(v); pts.push([vb.x, vb.cy], [vb.x + W, vb.cy]); }
    pts.push([b.x - 2, portY(e.to, ins.indexOf(e), ins.length, 14)]);
    let d = `M${pts[0]}`;
    for (let i = 0; i + 1 < pts.length; i += 2) {
      const [c1, c2] = curve(pts[i], pts[i + 1]);
      d += ` C${c1} ${c2} ${pts[i + 1]}`;
      if (i + 2 < pts.length) d += ` L${pts[i + 2]}`;
    }
    const path = s('path', {
      d, class: ['dag-edge', e.after && 'after'], 'marker-end': 'url(#dag-arrow)',
      'data-from': e.from, 'data-to': e.to,
    }, s('title', null, e.after ? `${e.from} → ${e.to} (after)` : `${e.from}.${e.output} → ${e.to}.${e.input}`));
    edgeLayer.append(path);
    edgeEls.push(path);
    const key = `${e.from}.${e.output}`;
    if (!e.after && e.output !== 'result' && !labelled.has(key)) {
      labelled.add(key);
      const text = clip(e.output, 12);
      const [c1, c2] = curve(pts[0], pts[1]);
      const lx = pts[0][0] + 8, tw = text.length * 6.4 + 10;
      const ly = cubicY(pts[0], c1, c2, pts[1], lx + tw / 2);
      labelLayer.append(s('g', { class: 'dag-label', 'data-from': e.from, transform: `translate(${lx},${ly})` },
        s('rect', { x: 0, y: -9, width: tw, height: 18, rx: 9 }),
        s('text', { x: tw / 2, y: 4, 'text-anchor': 'middle' }, text)));
    }
  }

  const nodeEls = new Map();
  let selected = null;
  for (const op of ops) {
    const b = box.get(op.name);
    if (!b) continue;
    // A mapped step: one node with its items' counts (run page) or what it
    // maps over (job page), drawn as a stack.
    const items = op.map && opts.items ? opts.items[op.name] : null;
    // op.sub: a caller's own subtitle (the asset lineage: fresh, stale).
    const sub = op.sub ? op.sub : op.map ? (items || `map over ${op.map.from}`)
      : op.uses && op.uses !== op.name ? `uses ${op.uses}`
        : `${(op.inputs || []).length} in · ${(op.outputs || []).length} out`;
    const st = opts.status && opts.status[op.name];
    // Skipped steps are drawn apart from canceled ones (dashed, struck);
    // a step with a `when:` condition or a trigger rule says so in a corner.
    const rule = op.trigger && op.trigger !== 'all_success' ? op.trigger : null;
    const g = s('g', {
      class: ['dag-node', st && `tone-${statusTone(st)}`, st === 'skipped' && 'skipped', op.map && 'mapped'],
      transform: `translate(${b.x},${b.y})`, 'data-status': st || null, 'data-items': items || null,
      tabindex: 0, role: 'button', 'data-op': op.name, 'aria-label': `op ${op.name}`,
    },
    s('title', null, (op.description ? `${op.name}: ${op.description}` : op.name) +
      (op.when ? `\nwhen: ${op.when}` : '') + (rule ? `\ntrigger: ${rule}` : '')),
    op.map ? s('rect', { class: 'dag-stack', width: W, height: H, rx: 8, x: 4, y: 4 }) : null,
    s('rect', { class: 'dag-box', width: W, height: H, rx: 8 }),
    s('rect', { class: 'dag-stripe', width: 4, height: H - 16, x: 0, y: 8, rx: 2 }),
    s('text', { class: 'dag-name', x: 16, y: 23 }, clip(op.name, 18)),
    s('text', { class: 'dag-sub', x: 16, y: 41 }, clip(sub, op.map ? 24 : 22)),
    op.when || rule ? s('text', { class: 'dag-cond', x: W - 8, y: 14, 'text-anchor': 'end' },
      op.when ? 'when' : rule) : null);
    nodeLayer.append(g);
    nodeEls.set(op.name, g);
    const hl = (on) => {
      svg.classList.toggle('hovering', on);
      g.classList.toggle('hl', on);
      edgeEls.forEach((p) => p.classList.toggle('hl', on && (p.dataset.from === op.name || p.dataset.to === op.name)));
    };
    g.addEventListener('mouseenter', () => hl(true));
    g.addEventListener('mouseleave', () => hl(false));
    const pick = () => select(op.name, true);
    g.addEventListener('click', pick);
    g.addEventListener('keydown', (ev) => { if (ev.key === 'Enter' || ev.key === ' ') { ev.preventDefault(); pick(); } });
  }

  function select(name, fromUser) {
    if (selected) nodeEls.get(selected)?.classList.remove('selected');
    selected = nodeEls.has(name) ? name : null;
    if (selected) nodeEls.get(selected).classList.add('selected');
    if (fromUser && opts.onSelect) opts.onSelect(ops.find((o) => o.name === selected));
  }

  return { el: svg, select };
}
