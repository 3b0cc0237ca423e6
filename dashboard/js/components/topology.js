// topology.js — the crosstalk diagram: participants placed by topology
// (ring and mesh on a circle, star around its centre, chain on a line),
// the topology's edges drawn faintly, the paradigm's special participant
// (a debate's judge, a report's synthesizer) set apart with a dashed ring,
// and the active speaker highlighted with lines from whoever it hears.
// Also the turn order of a round, as docs/crosstalk.md defines it per
// topology, for the builder's preview. An SVG built with the DOM: no
// library, nothing drawn on a canvas, so it follows the theme by CSS.

const NS = 'http://www.w3.org/2000/svg';
const W = 440;
const H = 300;
const R = 20;
let uid = 0;

function s(tag, attrs, ...children) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) if (v !== undefined && v !== null) el.setAttribute(k, String(v));
  for (const c of children) if (c !== null && c !== undefined) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}

// "ring" | {name: "star", options: {center}} | {name, center} → { name, center }
export function topologyOf(t) {
  if (!t) return { name: 'ring', center: null };
  if (typeof t === 'string') return { name: t, center: null };
  const opts = t.options || t;
  return { name: String(t.name || t[0] || 'ring'), center: opts.center || null };
}

// The paradigm's participant kept out of the rotation, when there is one.
export function specialOf(paradigm, participants) {
  const p = typeof paradigm === 'string' ? { name: paradigm } : (paradigm || {});
  const opts = p.options || p;
  if (p.name === 'debate') return opts.judge || null;
  if (p.name === 'report') return opts.synthesizer || (participants.length ? participants[participants.length - 1].id : null);
  return null;
}

// Who speaks in which order in one round, and whose latest message each
// speaker hears (docs/crosstalk.md, "Topologies").
export function turnOrder(topology, speakers) {
  const { name, center } = topologyOf(topology);
  const n = speakers.length;
  if (name === 'ring') return speakers.map((id, i) => ({ speaker: id, hears: n > 1 ? [speakers[(i - 1 + n) % n]] : [] }));
  if (name === 'chain') return speakers.map((id, i) => ({ speaker: id, hears: i > 0 ? [speakers[i - 1]] : [] }));
  if (name === 'mesh') return speakers.map((id) => ({ speaker: id, hears: speakers.filter((x) => x !== id) }));
  if (name === 'star') {
    const c = center && speakers.includes(center) ? center : speakers[0];
    const spokes = speakers.filter((x) => x !== c);
    return [{ speaker: c, hears: spokes }, ...spokes.map((id) => ({ speaker: id, hears: [c] }))];
  }
  return speakers.map((id) => ({ speaker: id, hears: [] })); // a topology of the user's own: unknown until it runs
}

function edgesOf(topology, speakers) {
  const { name, center } = topologyOf(topology);
  const n = speakers.length;
  const out = [];
  if (name === 'ring' || name === 'chain') {
    for (let i = 0; i < n - 1; i++) out.push([speakers[i], speakers[i + 1], true]);
    if (name === 'ring' && n > 2) out.push([speakers[n - 1], speakers[0], true]);
  } else if (name === 'mesh') {
    for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) out.push([speakers[i], speakers[j], false]);
  } else if (name === 'star') {
    const c = center && speakers.includes(center) ? center : speakers[0];
    for (const id of speakers) if (id !== c) out.push([c, id, false]);
  }
  return out;
}

function place(topology, speakers, special) {
  const { name, center } = topologyOf(topology);
  const pos = new Map();
  const cx = special ? W / 2 - 30 : W / 2;
  const cy = H / 2 - 4;
  const n = speakers.length;
  if (name === 'chain') {
    const left = 40, right = (special ? W - 110 : W - 40);
    const step = n > 1 ? (right - left) / (n - 1) : 0;
    speakers.forEach((id, i) => pos.set(id, { x: n > 1 ? left + i * step : cx, y: cy + (n > 4 ? (i % 2 ? 42 : -42) : 0) }));
  } else {
    let ring = speakers;
    if (name === 'star') {
      const c = center && speakers.includes(center) ? center : speakers[0];
      pos.set(c, { x: cx, y: cy });
      ring = speakers.filter((x) => x !== c);
    }
    const rad = Math.min(H / 2 - 48, 115);
    // Two spokes on opposite sides would read as a chain: bend them.
    const angle = (i) => (name === 'star' && ring.length === 2 ? (i ? -Math.PI / 6 : -5 * Math.PI / 6)
      : -Math.PI / 2 + (2 * Math.PI * i) / Math.max(1, ring.length));
    ring.forEach((id, i) => {
      const a = angle(i);
      pos.set(id, { x: cx + rad * Math.cos(a), y: cy + rad * Math.sin(a) });
    });
  }
  if (special) pos.set(special, { x: W - 70, y: H - 62 });
  return pos;
}

// A line between two node centres, stopped at the circles' edges.
function segment(a, b, pad = 3) {
  const dx = b.x - a.x, dy = b.y - a.y;
  const len = Math.hypot(dx, dy) || 1;
  const ux = dx / len, uy = dy / len;
  return { x1: a.x + ux * R, y1: a.y + uy * R, x2: b.x - ux * (R + pad), y2: b.y - uy * (R + pad) };
}

function shorten(text, n) {
  text = String(text || '');
  return text.length > n ? text.slice(0, n - 1) + '…' : text;
}

// cfg: { participants: [{id, name, model}], speakers: [ids in rotation],
// topology, paradigm }. Returns { el, render(cfg), setActive(id, hears), clearActive() }.
export function topologyDiagram({ label = 'Crosstalk topology' } = {}) {
  const id = `topo${++uid}`;
  const defs = s('defs', null,
    s('marker', { id: `${id}-arrow`, viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse', class: 'topo-mark' },
      s('path', { d: 'M0,0 L10,5 L0,10 z' })),
    s('marker', { id: `${id}-hot`, viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse', class: 'topo-mark hot' },
      s('path', { d: 'M0,0 L10,5 L0,10 z' })));
  const edges = s('g', { class: 'edges' });
  const hears = s('g', { class: 'hears' });
  const nodes = s('g', { class: 'nodes' });
  const caption = s('text', { x: 10, y: H - 10, class: 'caption' });
  const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, class: 'topo', role: 'img', 'aria-label': label }, defs, edges, hears, nodes, caption);
  let pos = new Map();
  const nodeEls = new Map();

  function render(cfg) {
    const participants = cfg.participants || [];
    const speakers = cfg.speakers && cfg.speakers.length ? cfg.speakers
      : participants.filter((p) => p.speaks_in_rotation !== false && p.id !== cfg.special).map((p) => p.id);
    const special = cfg.special !== undefined ? cfg.special
      : (participants.find((p) => p.speaks_in_rotation === false) || {}).id || null;
    pos = place(cfg.topology, speakers, special && !speakers.includes(special) ? special : null);
    edges.replaceChildren();
    hears.replaceChildren();
    nodes.replaceChildren();
    nodeEls.clear();
    for (const [a, b, directed] of edgesOf(cfg.topology, speakers)) {
      const pa = pos.get(a), pb = pos.get(b);
      if (!pa || !pb) continue;
      edges.append(s('line', { ...segment(pa, pb), class: 'edge', 'marker-end': directed ? `url(#${id}-arrow)` : null }));
    }
    const byId = new Map(participants.map((p) => [p.id, p]));
    // Numbers give the speaking order (a star's centre speaks first).
    const order = turnOrder(cfg.topology, speakers).map((t) => t.speaker);
    for (const pid of [...speakers, ...(special && !speakers.includes(special) ? [special] : [])]) {
      const p = byId.get(pid) || { id: pid };
      const at = pos.get(pid);
      if (!at) continue;
      const isSpecial = pid === special && !speakers.includes(pid);
      const g = s('g', { class: `node${isSpecial ? ' special' : ''}`, 'data-id': pid, transform: `translate(${at.x.toFixed(1)},${at.y.toFixed(1)})` },
        s('title', null, `${p.name || pid} · ${p.model || ''}`),
        s('circle', { r: R }),
        s('text', { class: 'idx', 'text-anchor': 'middle', dy: '0.35em' }, isSpecial ? '★' : String(order.indexOf(pid) + 1)),
        s('text', { class: 'name', 'text-anchor': 'middle', y: R + 14 }, shorten(p.name || pid, 16)),
        s('text', { class: 'model', 'text-anchor': 'middle', y: R + 27 }, shorten(p.model || '', 22)));
      nodes.append(g);
      nodeEls.set(pid, g);
    }
    const t = topologyOf(cfg.topology);
    const par = typeof cfg.paradigm === 'string' ? cfg.paradigm : (cfg.paradigm && cfg.paradigm.name) || '';
    caption.textContent = `${t.name}${par ? ' · ' + par : ''}${special ? ` · ★ ${special}` : ''}`;
  }

  function clearActive() {
    hears.replaceChildren();
    for (const g of nodeEls.values()) g.classList.remove('active', 'heard');
  }

  function setActive(speaker, heard = []) {
    clearActive();
    const g = nodeEls.get(speaker);
    if (!g) return;
    g.classList.add('active');
    const to = pos.get(speaker);
    for (const hid of heard || []) {
      const from = pos.get(hid);
      if (!from || hid === speaker) continue;
      const hg = nodeEls.get(hid);
      if (hg) hg.classList.add('heard');
      hears.append(s('line', { ...segment(from, to), class: 'hear', 'marker-end': `url(#${id}-hot)` }));
    }
  }

  return { el: svg, render, setActive, clearActive, active: () => [...nodeEls.entries()].filter(([, g]) => g.classList.contains('active')).map(([k]) => k)[0] || null };
}
