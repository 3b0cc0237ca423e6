// analytics.js — history from the analytics API: a time range, provider /
// model / status filters (kept in the address, #/analytics?range=7d&model=x),
// summary cards, request-volume and cost charts (PNG export), latency
// percentiles, the models table (click a model to filter by it) and CSV /
// JSON export links for the same filters. Every call goes through
// analytics(), which adds the top bar's environment. An endpoint the
// gateway does not have shows "not available"; the rest of the page works.

import { api, analytics, analyticsUrl, rangeParams, RANGES, pick, listOf } from '../api.js';
import { h, setText, clear, notAvailable } from '../dom.js';
import { fmtCount, fmtCost, fmtMs, fmtPct, fmtInt, num } from '../format.js';
import { kpi } from '../components/cards.js';
import { createChart } from '../chart.js';
import { errorsPanel, leaderboardPanel } from '../components/breakdowns.js';

const STATUSES = ['success', 'error', 'refused', 'rate_limited', 'timeout', 'cancelled'];
const REFRESH_MS = 30000;

function select(label, name, options, onChange) {
  const sel = h('select', { name, onchange: () => onChange(sel.value) });
  const fill = (opts, value) => {
    clear(sel);
    sel.append(h('option', { value: '' }, `all`));
    for (const o of opts) sel.append(h('option', { value: o }, o));
    if (value && !opts.includes(value)) sel.append(h('option', { value }, value));
    sel.value = value || '';
  };
  fill(options, '');
  return { el: h('label', { class: 'field' }, label, sel), sel, fill };
}

// Merge several [{t, value}] lists on t.
function merge(...lists) {
  const ts = new Set();
  for (const l of lists) for (const p of l) ts.add(num(p.t));
  const xs = [...ts].filter((t) => t !== null).sort((a, b) => a - b);
  const ys = lists.map((l) => {
    const m = new Map(l.map((p) => [num(p.t), num(p.value)]));
    return xs.map((t) => (m.has(t) ? m.get(t) : 0));
  });
  return [xs, ...ys];
}

function chartCard(title) {
  const note = h('span', { class: 'muted small' });
  const plot = h('div', { class: 'chart' });
  const png = h('button', { type: 'button', class: 'icon', disabled: true, 'aria-label': `Download ${title} chart as PNG` }, 'PNG');
  const msg = h('p', { class: 'muted small', hidden: true });
  const el = h('div', { class: 'panel chart-card' },
    h('div', { class: 'chart-head' }, h('h2', null, title), note, png),
    plot, msg);
  return { el, plot, png, msg, note };
}

export function mount(root, ctx) {
  const f = { range: '24h', provider: '', model: '', status: '' };
  const readParams = (p) => {
    f.range = RANGES[p.get('range')] ? p.get('range') : '24h';
    f.provider = p.get('provider') || '';
    f.model = p.get('model') || '';
    f.status = p.get('status') || '';
  };
  readParams(ctx.params);

  // ---- controls ----
  const rangeButtons = Object.keys(RANGES).map((r) =>
    h('button', { type: 'button', 'aria-pressed': 'false', dataset: { range: r }, onclick: () => setFilter({ range: r }) }, r));
  const providerSel = select('Provider', 'provider', [], (v) => setFilter({ provider: v }));
  const modelSel = select('Model', 'model', [], (v) => setFilter({ model: v }));
  const statusSel = select('Status', 'status', STATUSES, (v) => setFilter({ status: v }));
  const clearBtn = h('button', { type: 'button', onclick: () => setFilter({ provider: '', model: '', status: '' }) }, 'Clear filters');
  const csv = h('a', { class: 'button', download: 'moongate-requests.csv' }, 'Export CSV');
  const json = h('a', { class: 'button', download: 'moongate-requests.json' }, 'Export JSON');
  const state = h('span', { class: 'muted small', role: 'status', 'aria-live': 'polite' });

  // ---- summary ----
  const c = {
    requests: kpi('Requests', { id: 'an-requests' }),
    errors: kpi('Errors', { id: 'an-errors' }),
    cost: kpi('Cost', { id: 'an-cost' }),
    savings: kpi('Savings', { id: 'an-savings' }),
    tokens: kpi('Tokens', { id: 'an-tokens' }),
    latency: kpi('Avg latency', { id: 'an-latency' }),
    ttft: kpi('Avg TTFT', { id: 'an-ttft' }),
  };
  const summaryNa = h('div', { hidden: true });

  // ---- latency percentiles ----
  const lat = {};
  const latGrid = h('div', { class: 'lat-bars' });
  for (const k of ['p50', 'p95', 'p99']) {
    lat[k] = { bar: h('div', { class: 'bar', style: { width: '0%' } }), value: h('span', { class: 'num r' }, '–') };
    latGrid.append(h('strong', null, k), h('div', { class: 'track' }, lat[k].bar), lat[k].value);
  }

  const volume = chartCard('Request volume');
  const cost = chartCard('Cost');
  const modelsBody = h('tbody');
  const modelsWrap = h('div', { class: 'table-wrap' }, h('table', null,
    h('thead', null, h('tr', null, h('th', null, 'Model'), h('th', { class: 'r' }, 'Requests'), h('th', { class: 'hide-sm' }, 'Share'),
      h('th', { class: 'r' }, 'Cost'), h('th', { class: 'r hide-sm' }, 'Tokens'), h('th', { class: 'r' }, 'Avg latency'), h('th', { class: 'r' }, 'Error rate'))),
    modelsBody));

  const errorsBox = errorsPanel();
  const board = leaderboardPanel();

  root.append(
    h('div', { class: 'page-head' }, h('h1', null, 'Analytics'), state),
    h('div', { class: 'toolbar' },
      h('div', { class: 'seg', role: 'group', 'aria-label': 'Time range' }, rangeButtons),
      providerSel.el, modelSel.el, statusSel.el, clearBtn, h('span', { style: { flex: '1' } }), csv, json),
    summaryNa,
    h('div', { class: 'cards' }, Object.values(c).map((k) => k.el)),
    h('div', { class: 'grid-2 section' }, volume.el, cost.el),
    h('div', { class: 'grid-1-2 section' },
      h('div', { class: 'panel' }, h('h2', null, 'Latency percentiles'), h('p', { class: 'muted small' }, 'Request duration over the range'), latGrid),
      h('div', { class: 'panel' }, h('h2', null, 'Models'), h('p', { class: 'muted small' }, 'Click a model to filter by it.'), modelsWrap)),
    h('div', { class: 'grid-2 section' }, errorsBox.el, board.el),
  );

  // ---- charts (uPlot loads on first use) ----
  let volumeChart = null, costChart = null;
  const pending = { volume: null, cost: null };
  createChart(volume.plot, {
    title: 'Request volume',
    series: [{ label: 'requests', color: '--chart-1', fmt: fmtInt }, { label: 'errors', color: '--chart-2', fmt: fmtInt }],
    yFmt: (v) => fmtCount(v),
  }).then((ch) => {
    if (!ctx.alive()) return ch.destroy();
    volumeChart = ch;
    volume.png.disabled = false;
    volume.png.onclick = () => ch.toPNG(`moongate-volume-${f.range}.png`);
    if (pending.volume) ch.setData(...pending.volume);
  }).catch((e) => { volume.msg.hidden = false; setText(volume.msg, e.message); });
  createChart(cost.plot, {
    title: 'Cost',
    series: [{ label: 'cost', color: '--chart-3', fmt: fmtCost, bars: true }],
    yFmt: (v) => fmtCost(v),
  }).then((ch) => {
    if (!ctx.alive()) return ch.destroy();
    costChart = ch;
    cost.png.disabled = false;
    cost.png.onclick = () => ch.toPNG(`moongate-cost-${f.range}.png`);
    if (pending.cost) ch.setData(...pending.cost);
  }).catch((e) => { cost.msg.hidden = false; setText(cost.msg, e.message); });

  // ---- filters ----
  function filters() {
    return { ...rangeParams(f.range), provider: f.provider, model: f.model, status: f.status };
  }

  function syncControls() {
    for (const b of rangeButtons) b.setAttribute('aria-pressed', String(b.dataset.range === f.range));
    providerSel.sel.value = f.provider;
    if (f.provider && providerSel.sel.value !== f.provider) providerSel.fill(knownProviders, f.provider);
    modelSel.sel.value = f.model;
    if (f.model && modelSel.sel.value !== f.model) modelSel.fill(knownModels, f.model);
    statusSel.sel.value = f.status;
    exportLinks();
    setText(volume.note, `per ${RANGES[f.range].bucket}`);
    setText(cost.note, `per ${RANGES[f.range].bucket}`);
  }

  // The range ends "now" when the link is used, not when it was drawn.
  function exportLinks() {
    csv.href = analyticsUrl('export', { format: 'csv', ...filters() });
    json.href = analyticsUrl('export', { format: 'json', ...filters() });
  }
  for (const a of [csv, json]) {
    a.addEventListener('pointerdown', exportLinks);
    a.addEventListener('focus', exportLinks);
  }

  function setFilter(patch) {
    Object.assign(f, patch);
    ctx.setParams({ range: f.range === '24h' ? '' : f.range, provider: f.provider, model: f.model, status: f.status });
    syncControls();
    load();
  }

  // ---- option lists ----
  let knownProviders = [];
  let knownModels = [];
  function addModels(list) {
    const set = new Set(knownModels);
    for (const m of list) if (m) set.add(String(m));
    if (set.size === knownModels.length) return;
    knownModels = [...set].sort();
    modelSel.fill(knownModels, f.model);
  }
  api('/api/providers', { signal: ctx.signal }).then((j) => {
    const ps = listOf(j, 'providers');
    knownProviders = ps.map((p) => p.name).filter(Boolean);
    providerSel.fill(knownProviders, f.provider);
    addModels(ps.flatMap((p) => (Array.isArray(p.models) ? p.models : [])));
  }).catch(() => {});

  // ---- loading ----
  let seq = 0;
  async function settle(p) {
    try { return { ok: true, value: await p }; } catch (e) { return { ok: false, error: e }; }
  }

  function renderSummary(r) {
    if (!r.ok) {
      summaryNa.hidden = false;
      clear(summaryNa);
      summaryNa.append(r.error.notAvailable ? notAvailable('Summary') : h('div', { class: 'notice err' }, `Summary failed: ${r.error.message}`));
      for (const k of Object.values(c)) k.set('–', '');
      return;
    }
    summaryNa.hidden = true;
    const s = r.value || {};
    const reqs = num(pick(s, 'requests'));
    c.requests.set(fmtCount(reqs), '');
    c.errors.set(fmtCount(pick(s, 'errors')), `${fmtPct(pick(s, 'error_rate'))} error rate`);
    c.cost.set(fmtCost(pick(s, 'cost')), reqs ? `${fmtCost(num(pick(s, 'cost')) / reqs)} / request` : '');
    c.savings.set(fmtCost(pick(s, 'savings')), 'from routing');
    c.tokens.set(fmtCount(pick(s, 'tokens_total')), `${fmtCount(pick(s, 'tokens_input'))} in · ${fmtCount(pick(s, 'tokens_output'))} out`);
    c.latency.set(fmtMs(pick(s, 'avg_duration_ms')), '');
    c.ttft.set(fmtMs(pick(s, 'avg_ttft_ms')), 'streams and replies');
    const p = {
      p50: num(pick(s, 'p50_ms', 'p50_duration_ms')),
      p95: num(pick(s, 'p95_ms', 'p95_duration_ms')),
      p99: num(pick(s, 'p99_ms', 'p99_duration_ms')),
    };
    const max = Math.max(p.p50 || 0, p.p95 || 0, p.p99 || 0) || 1;
    for (const k of ['p50', 'p95', 'p99']) {
      lat[k].bar.style.width = `${((p[k] || 0) / max) * 100}%`;
      setText(lat[k].value, fmtMs(p[k]));
    }
  }

  function renderSeries(card, chart, key, results) {
    const failed = results.find((r) => !r.ok);
    if (failed) {
      card.msg.hidden = false;
      setText(card.msg, failed.error.notAvailable ? 'Time series: not available on this gateway.' : `Time series failed: ${failed.error.message}`);
      return;
    }
    card.msg.hidden = true;
    const data = merge(...results.map((r) => listOf(r.value, 'points')));
    pending[key] = data;
    if (chart) chart.setData(...data);
  }

  function renderModels(r) {
    clear(modelsBody);
    if (!r.ok) {
      modelsBody.append(h('tr', null, h('td', { colspan: 7, class: 'na' },
        r.error.notAvailable ? 'Models: not available on this gateway.' : `Models failed: ${r.error.message}`)));
      return;
    }
    const models = listOf(r.value, 'models');
    addModels(models.map((m) => m.model));
    if (!models.length) {
      modelsBody.append(h('tr', null, h('td', { colspan: 7, class: 'muted' }, 'No requests in this range.')));
      return;
    }
    const total = models.reduce((a, m) => a + (num(m.requests) || 0), 0) || 1;
    for (const m of models) {
      const name = m.model ?? '(none)';
      const active = f.model && f.model === m.model;
      modelsBody.append(h('tr', { class: 'clickable', 'aria-selected': active ? 'true' : undefined },
        h('td', null, m.model ? h('button', {
          type: 'button', class: 'link', title: active ? 'Remove this model filter' : 'Filter by this model',
          onclick: () => setFilter({ model: active ? '' : m.model }),
        }, active ? `${name} ✕` : name) : h('span', { class: 'muted', title: 'Requests that never reached a model' }, name)),
        h('td', { class: 'r num' }, fmtInt(m.requests)),
        h('td', { class: 'hide-sm' }, h('span', { class: 'share', style: { width: `${Math.max(2, ((num(m.requests) || 0) / total) * 80)}px` } })),
        h('td', { class: 'r num' }, fmtCost(m.cost)),
        h('td', { class: 'r num hide-sm' }, fmtCount(m.tokens)),
        h('td', { class: 'r num' }, fmtMs(m.avg_duration_ms)),
        h('td', { class: 'r num' }, fmtPct(m.error_rate))));
    }
  }

  let loading = false;
  async function load() {
    const my = ++seq;
    loading = true;
    setText(state, 'loading…');
    const q = filters();
    const bucket = RANGES[f.range].bucket;
    const opts = { signal: ctx.signal };
    const [summary, reqs, errs, costs, models, errorGroups, leaders] = await Promise.all([
      settle(analytics('summary', q, opts)),
      settle(analytics('timeseries', { ...q, metric: 'requests', bucket }, opts)),
      settle(analytics('timeseries', { ...q, metric: 'errors', bucket }, opts)),
      settle(analytics('timeseries', { ...q, metric: 'cost', bucket }, opts)),
      settle(analytics('models', q, opts)),
      settle(analytics('errors', { ...q, limit: 10 }, opts)),
      settle(analytics('leaderboard', { ...q, limit: 5 }, opts)),
    ]);
    if (my !== seq || !ctx.alive()) return;
    loading = false;
    renderSummary(summary);
    renderSeries(volume, volumeChart, 'volume', [reqs, errs]);
    renderSeries(cost, costChart, 'cost', [costs]);
    renderModels(models);
    errorsBox.render(errorGroups);
    board.render(leaders);
    setText(state, `updated ${new Date().toLocaleTimeString()}`);
  }

  syncControls();
  load();
  ctx.onEnv(load);
  ctx.every(REFRESH_MS, () => { if (!loading && document.visibilityState === 'visible') load(); });

  return {
    update(params) { readParams(params); syncControls(); load(); },
    unmount() { if (volumeChart) volumeChart.destroy(); if (costChart) costChart.destroy(); },
  };
}
