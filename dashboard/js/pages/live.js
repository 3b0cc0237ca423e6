// live.js — what is happening now: sparklines of requests/s, tokens/s,
// cost/s and error rate from metrics_update (last two minutes), and the
// request feed from request_event. The feed never holds more than MAX_ROWS
// rows in the DOM however long it runs: new rows are batched once per
// animation frame and the oldest are dropped. Pause keeps the newest
// MAX_ROWS arrivals aside; a text filter hides rows that do not match;
// Export saves the visible rows' records as JSON. A row opens (native
// <details>, keyboard friendly) to the full record.

import { h, setText, download } from '../dom.js';
import { fmtTime, fmtMs, fmtCost, fmtInt, fmtRate, fmtPct, statusClass, num } from '../format.js';
import { createChart } from '../chart.js';
import { latestMetrics } from '../events.js';
import { analytics, listOf, seenEnvironment } from '../api.js';
import { recordDetail } from '../components/record.js';

const MAX_ROWS = 200;
const SPARK_POINTS = 120;
const HAYSTACK_FIELDS = ['id', 'provider', 'model_requested', 'model_routed', 'status', 'http_status', 'error',
  'endpoint', 'client_format', 'environment', 'key_id', 'user_id', 'session_id'];

function haystack(rec) {
  return HAYSTACK_FIELDS.map((k) => (rec[k] === null || rec[k] === undefined ? '' : String(rec[k]))).join(' ').toLowerCase();
}

export function mount(root, ctx) {
  // ---- sparklines ----
  const sparkDefs = [
    { key: 'rps', label: 'Requests / s', color: '--chart-1', fmt: (v) => fmtRate(v) },
    { key: 'tps', label: 'Tokens / s', color: '--chart-3', fmt: (v) => fmtRate(v, 0) },
    { key: 'cps', label: 'Cost / s', color: '--chart-4', fmt: (v) => fmtCost(v) },
    { key: 'err', label: 'Error rate', color: '--chart-2', fmt: (v) => fmtPct(v) },
  ];
  const series = { t: [], rps: [], tps: [], cps: [], err: [] };
  const sparks = sparkDefs.map((d) => {
    const value = h('div', { class: 'value num' }, '–');
    const plot = h('div', { class: 'chart', 'aria-hidden': 'true' });
    return { ...d, value, plot, chart: null, el: h('div', { class: 'card spark' }, h('div', { class: 'label' }, d.label), value, plot) };
  });

  // ---- feed controls ----
  const pauseBtn = h('button', { type: 'button', 'aria-pressed': 'false' }, 'Pause');
  const filterInput = h('input', { type: 'search', placeholder: 'filter: model, provider, status, id…', 'aria-label': 'Filter the feed', spellcheck: 'false' });
  const exportBtn = h('button', { type: 'button' }, 'Export JSON');
  const clearBtn = h('button', { type: 'button' }, 'Clear');
  const counter = h('span', { class: 'muted small num', role: 'status' }, '');
  const feedBody = h('div', { class: 'feed-rows' });
  const empty = h('div', { class: 'feed-empty' }, 'Waiting for requests… (each finished request appears here)');
  const feed = h('div', { class: 'feed', role: 'list', 'aria-label': 'Request feed' },
    h('div', { class: 'feed-head', 'aria-hidden': 'true' },
      h('span', null, 'Time'), h('span', null, 'Status'), h('span', { class: 'c-provider' }, 'Provider'), h('span', null, 'Model'),
      h('span', null, 'Latency'), h('span', { class: 'c-cost' }, 'Cost'), h('span', { class: 'c-tokens' }, 'Tokens')),
    feedBody, empty);

  root.append(
    h('div', { class: 'page-head' }, h('h1', null, 'Live')),
    h('div', { class: 'sparks' }, sparks.map((s) => s.el)),
    h('div', { class: 'toolbar section' }, pauseBtn, filterInput, clearBtn, exportBtn, counter),
    feed,
  );

  for (const s of sparks) {
    createChart(s.plot, { spark: true, title: s.label, series: [{ label: s.label, color: s.color, fmt: s.fmt }] })
      .then((ch) => {
        if (!ctx.alive()) return ch.destroy();
        s.chart = ch;
        ch.setData(series.t, series[s.key]);
      })
      .catch(() => { s.plot.append(h('span', { class: 'muted small' }, 'chart unavailable')); });
  }

  function onMetrics(m) {
    const rps = num(m.rps) || 0;
    const errs = num(m.errors_per_s) || 0;
    series.t.push(num(m.ts) || Date.now());
    series.rps.push(rps);
    series.tps.push(num(m.tokens_per_s) || 0);
    series.cps.push(num(m.cost_per_s) || 0);
    series.err.push(rps > 0 ? errs / rps : 0);
    if (series.t.length > SPARK_POINTS) for (const k of Object.keys(series)) series[k].shift();
    for (const s of sparks) {
      const arr = series[s.key];
      setText(s.value, s.fmt(arr[arr.length - 1]));
      if (s.chart) s.chart.setData(series.t, arr);
    }
  }

  // ---- feed ----
  const records = new WeakMap(); // row → record
  const shownIds = new Set();    // ids of the rows in the DOM (no duplicates)
  let queue = [];   // arrived, not yet drawn
  let held = [];    // arrived while paused
  let heldDropped = 0;
  let paused = false;
  let frame = 0;
  let filter = '';

  function rowFor(rec) {
    const cls = statusClass(rec);
    const model = rec.model_requested && rec.model_routed && rec.model_requested !== rec.model_routed
      ? `${rec.model_requested} → ${rec.model_routed}` : (rec.model_routed || rec.model_requested || '–');
    const d = h('details', { role: 'listitem' },
      h('summary', null,
        h('span', { class: 'cell num' }, fmtTime(rec.ts_ms)),
        h('span', { class: `cell st ${cls}` }, String(rec.http_status ?? rec.status ?? '?')),
        h('span', { class: 'cell c-provider' }, rec.provider ?? '–'),
        h('span', { class: 'cell', title: model }, model),
        h('span', { class: 'cell num' }, fmtMs(rec.duration_ms)),
        h('span', { class: 'cell num c-cost' }, fmtCost(rec.cost)),
        h('span', { class: 'cell num c-tokens' }, fmtInt(rec.tokens_total))));
    d.dataset.hay = haystack(rec);
    if (rec.id) d.dataset.id = rec.id;
    if (filter && !d.dataset.hay.includes(filter)) d.hidden = true;
    d.addEventListener('toggle', () => {
      if (d.open && !d.querySelector('.detail')) d.append(h('div', { class: 'detail' }, recordDetail(rec)));
    });
    records.set(d, rec);
    if (rec.id) shownIds.add(rec.id);
    return d;
  }

  function updateCounter() {
    const rows = feedBody.childElementCount;
    let shown = rows;
    if (filter) shown = feedBody.querySelectorAll('details:not([hidden])').length;
    const parts = [filter ? `${shown} of ${rows} rows match` : `${rows} rows`];
    if (paused) parts.push(`${held.length + heldDropped} new while paused`);
    setText(counter, parts.join(' · '));
    empty.hidden = rows > 0;
  }

  function flush() {
    frame = 0;
    if (!queue.length) return;
    const batch = queue.length > MAX_ROWS ? queue.slice(-MAX_ROWS) : queue;
    queue = [];
    const frag = document.createDocumentFragment();
    for (let i = batch.length - 1; i >= 0; i--) { // newest first
      if (batch[i].id && shownIds.has(batch[i].id)) continue;
      frag.append(rowFor(batch[i]));
    }
    feedBody.prepend(frag);
    let extra = feedBody.childElementCount - MAX_ROWS;
    while (extra-- > 0) dropRow(feedBody.lastElementChild);
    updateCounter();
  }

  function dropRow(d) {
    const rec = records.get(d);
    if (rec && rec.id) shownIds.delete(rec.id);
    d.remove();
  }

  function onRequest(rec) {
    if (!rec || typeof rec !== 'object') return;
    if (paused) {
      held.push(rec);
      if (held.length > MAX_ROWS) { held.shift(); heldDropped++; }
      updateCounter();
      return;
    }
    queue.push(rec);
    if (queue.length > MAX_ROWS) queue.shift(); // a hidden tab gets no frames
    if (!frame) frame = requestAnimationFrame(flush);
  }

  pauseBtn.addEventListener('click', () => {
    paused = !paused;
    pauseBtn.setAttribute('aria-pressed', String(paused));
    setText(pauseBtn, paused ? 'Resume' : 'Pause');
    if (!paused) {
      queue = queue.concat(held).slice(-MAX_ROWS);
      held = [];
      heldDropped = 0;
      if (!frame) frame = requestAnimationFrame(flush);
    }
    updateCounter();
  });

  let filterTimer = 0;
  filterInput.addEventListener('input', () => {
    clearTimeout(filterTimer);
    filterTimer = setTimeout(() => {
      filter = filterInput.value.trim().toLowerCase();
      for (const d of feedBody.children) d.hidden = !!filter && !d.dataset.hay.includes(filter);
      updateCounter();
    }, 120);
  });

  clearBtn.addEventListener('click', () => {
    feedBody.replaceChildren();
    shownIds.clear();
    queue = [];
    held = [];
    heldDropped = 0;
    updateCounter();
  });

  exportBtn.addEventListener('click', () => {
    const out = [];
    for (const d of feedBody.children) if (!d.hidden) out.push(records.get(d));
    const stamp = new Date().toISOString().replace(/[:.]/g, '-');
    download(`moongate-live-${stamp}.json`, new Blob([JSON.stringify(out, null, 2)], { type: 'application/json' }));
  });

  ctx.on('metrics_update', onMetrics);
  ctx.on('request_event', onRequest);
  const m = latestMetrics();
  if (m) onMetrics(m);
  updateCounter();

  // Start with the most recent stored requests so the feed is not blank;
  // live events that arrive meanwhile are newer and go on top.
  analytics('requests', { limit: 50 }, { signal: ctx.signal }).then((j) => {
    const rows = listOf(j, 'requests', 'rows').filter((r) => r && !(r.id && shownIds.has(r.id)));
    for (const env of new Set(rows.map((r) => r.environment))) seenEnvironment(env);
    if (!rows.length || !ctx.alive()) return;
    const frag = document.createDocumentFragment();
    for (const r of rows.slice(0, MAX_ROWS - feedBody.childElementCount)) frag.append(rowFor(r)); // newest first already
    feedBody.append(frag);
    updateCounter();
  }).catch(() => { /* history not available: live events only */ });

  return () => {
    if (frame) cancelAnimationFrame(frame);
    clearTimeout(filterTimer);
    for (const s of sparks) if (s.chart) s.chart.destroy();
  };
}
