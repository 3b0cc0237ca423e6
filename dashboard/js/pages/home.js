// home.js — the first page: an overall health badge with its reasons, the
// headline numbers (uptime, requests, cost and tokens today, errors,
// active) kept live by metrics_update, the provider health table, and the
// "connect a client" panel (open while the gateway has served nothing).
//
// Health: error   — error rate ≥ 25 % (over the last minute of live data,
//                   or the last hour from analytics), or no provider usable;
//         warning — error rate ≥ 5 %, records dropped by the store, an
//                   open breaker, or a failed policy reload;
//         healthy — otherwise.

import { api, analytics, pick } from '../api.js';
import { h, setText, clear } from '../dom.js';
import { fmtCount, fmtCost, fmtDuration, fmtPct, fmtRate, fmtInt, num } from '../format.js';
import { kpi } from '../components/cards.js';
import { providersPanel } from '../components/providers.js';
import { firstRunPanel } from '../components/firstrun.js';
import { latestMetrics, connectionState } from '../events.js';

const WINDOW_S = 60;
const MIN_REQUESTS_FOR_RATE = 10;

function startOfToday() {
  const d = new Date();
  d.setHours(0, 0, 0, 0);
  return d.getTime();
}

export function mount(root, ctx) {
  const badge = h('span', { class: 'badge', dataset: { level: 'unknown' }, role: 'status', 'aria-live': 'polite' }, 'checking');
  const reasons = h('ul', { class: 'reasons' });
  const meta = h('div', { class: 'muted small num' });
  const cards = {
    uptime: kpi('Uptime', { id: 'uptime' }),
    requests: kpi('Requests', { id: 'requests', title: 'Requests finished since the gateway started' }),
    cost: kpi('Cost today', { id: 'cost' }),
    tokens: kpi('Tokens today', { id: 'tokens' }),
    errors: kpi('Errors', { id: 'errors', title: 'Failed requests since the gateway started' }),
    active: kpi('Active', { id: 'active', title: 'Requests in flight' }),
  };
  const providers = providersPanel(ctx);
  const firstRunSlot = h('div', { class: 'section' });
  const err = h('div', { class: 'notice err', hidden: true, role: 'alert' });

  root.append(
    h('div', { class: 'page-head' }, h('h1', null, 'Overview')),
    err,
    h('div', { class: 'panel status-card' }, badge, h('div', null, reasons, meta)),
    h('div', { class: 'cards section' }, Object.values(cards).map((c) => c.el)),
    firstRunSlot,
    h('section', { class: 'section' }, h('h2', null, 'Providers'), providers.el),
  );

  // What the page knows; metrics_update changes only the live parts.
  const s = {
    status: null, statusAt: 0, policies: null, providers: [],
    costBase: null, tokensBase: null, costLive: 0, tokensLive: 0,
    recentRate: null, window: [], firstRunOpen: null,
  };

  function liveRate() {
    let req = 0, errs = 0;
    for (const [r, e] of s.window) { req += r; errs += e; }
    return req >= MIN_REQUESTS_FOR_RATE ? errs / req : null;
  }

  function health() {
    const why = [];
    let level = 'healthy';
    const raise = (l, reason) => {
      why.push(reason);
      if (l === 'error' || (l === 'warning' && level === 'healthy')) level = l;
    };
    const live = liveRate();
    const rate = live !== null ? live : s.recentRate;
    const rateWhere = live !== null ? 'last minute' : 'last hour';
    if (rate !== null && rate >= 0.25) raise('error', `error rate ${fmtPct(rate)} (${rateWhere})`);
    else if (rate !== null && rate >= 0.05) raise('warning', `error rate ${fmtPct(rate)} (${rateWhere})`);
    const dropped = num(s.status && s.status.store && s.status.store.dropped) || 0;
    if (dropped > 0) raise('warning', `${fmtInt(dropped)} records dropped by the store (queue full)`);
    const ps = s.providers;
    const open = ps.filter((p) => p.breaker === 'open').map((p) => p.name);
    if (open.length) raise('warning', `breaker open: ${open.join(', ')}`);
    if (ps.length && ps.every((p) => p.disabled || p.breaker === 'open')) raise('error', 'no provider is usable');
    if (s.policies && s.policies.last_error) raise('warning', 'the last policy reload failed');
    if (s.policies && s.policies.restart_needed) raise('warning', `restart needed (${s.policies.restart_needed} changed)`);
    return { level, why };
  }

  function renderHealth() {
    if (!s.status) return;
    const { level, why } = health();
    badge.dataset.level = level;
    setText(badge, level);
    const text = why.length ? why : ['error rate low, store keeping up, providers reachable'];
    if (reasons.dataset.text !== text.join('|')) {
      reasons.dataset.text = text.join('|');
      clear(reasons);
      for (const t of text) reasons.append(h('li', null, t));
    }
  }

  function renderUptime() {
    if (!s.status) return;
    const up = (num(s.status.uptime_s) || 0) + (performance.now() - s.statusAt) / 1000;
    cards.uptime.set(fmtDuration(up), `version ${s.status.version ?? '–'}`);
  }

  function renderFirstRun(requests) {
    const open = requests === 0;
    if (s.firstRunOpen === open) return;
    s.firstRunOpen = open;
    clear(firstRunSlot);
    firstRunSlot.append(firstRunPanel(s.providers, { open }));
  }

  function renderTotals(m) {
    const st = s.status || {};
    const requests = num(m ? m.requests : st.requests);
    const errors = num(m ? m.errors : st.errors);
    const rps = m ? num(m.rps) : null;
    cards.requests.set(fmtCount(requests), rps === null ? '' : `+${fmtRate(rps)}/s`);
    cards.errors.set(fmtCount(errors), m ? `+${fmtRate(num(m.errors_per_s) || 0)}/s · ${requests ? fmtPct((errors || 0) / requests) : '–'}` : '');
    cards.active.set(fmtInt(m ? m.active : st.active), st.workers ? `${st.workers} worker${st.workers > 1 ? 's' : ''}` : '');
    const cost = s.costBase !== null ? s.costBase + s.costLive : m ? num(m.cost_today) : null;
    cards.cost.set(fmtCost(cost), m ? `+${fmtCost(num(m.cost_per_s) || 0)}/s` : '');
    const tokens = s.tokensBase !== null ? s.tokensBase + s.tokensLive : s.tokensLive;
    cards.tokens.set(fmtCount(tokens), m ? `+${fmtRate(num(m.tokens_per_s) || 0, 0)}/s` : (s.tokensBase === null ? 'since page opened' : ''));
    if (requests !== null) renderFirstRun(requests);
  }

  function onMetrics(m) {
    s.window.push([num(m.rps) || 0, num(m.errors_per_s) || 0]);
    if (s.window.length > WINDOW_S) s.window.shift();
    s.costLive += num(m.cost_per_s) || 0;
    s.tokensLive += num(m.tokens_per_s) || 0;
    renderTotals(m);
    renderHealth();
  }

  async function loadStatus() {
    try {
      s.status = await api('/api/status', { signal: ctx.signal });
      s.statusAt = performance.now();
      err.hidden = true;
    } catch (e) {
      if (ctx.signal.aborted) return;
      err.hidden = false;
      setText(err, `Could not read /api/status: ${e.message}`);
    }
    renderUptime();
    if (s.status) setText(meta, `policy generation ${s.status.generation ?? '–'} · ${fmtInt(s.status.upstream_pauses)} upstream pauses`);
  }

  async function loadToday() {
    const today = startOfToday();
    try {
      const [day, hour] = await Promise.all([
        analytics('summary', { from: today, to: Date.now() + 1000 }, { signal: ctx.signal }),
        analytics('summary', { from: Date.now() - 3600e3, to: Date.now() + 1000 }, { signal: ctx.signal }),
      ]);
      s.costBase = num(pick(day, 'cost')) ?? 0;
      s.tokensBase = num(pick(day, 'tokens_total')) ?? ((num(day && day.tokens_input) || 0) + (num(day && day.tokens_output) || 0));
      s.costLive = 0;
      s.tokensLive = 0;
      const hr = num(pick(hour, 'requests')) || 0;
      s.recentRate = hr >= MIN_REQUESTS_FOR_RATE ? num(pick(hour, 'error_rate')) : null;
    } catch { /* analytics not available: the live stream's totals stand in */ }
  }

  async function loadPolicies() {
    try { s.policies = await api('/api/policies', { signal: ctx.signal }); } catch { s.policies = null; }
  }

  async function loadAll() {
    await Promise.all([loadStatus(), loadToday(), loadPolicies(), providers.refresh().then((p) => { s.providers = p; })]);
    if (ctx.signal.aborted) return;
    renderTotals(latestMetrics());
    renderHealth();
  }

  loadAll();
  ctx.on('metrics_update', onMetrics);
  ctx.on('reload', () => loadPolicies().then(renderHealth));
  // Back after a drop: what happened meanwhile is only in the API.
  let lastState = connectionState() === 'reconnecting' ? 'reconnecting' : 'connected';
  ctx.on('state', (st) => { if (st === 'connected' && lastState !== 'connected') loadAll(); lastState = st; });
  ctx.every(1000, renderUptime);
  ctx.every(10000, async () => {
    await Promise.all([loadStatus(), loadPolicies(), providers.refresh().then((p) => { s.providers = p; })]);
    renderHealth();
  });
  ctx.every(5 * 60000, loadToday);
}
