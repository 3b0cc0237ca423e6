// events.js — the live stream: one EventSource on /api/events for the
// whole dashboard, fanned out to whichever page listens. When the stream
// drops (an error, or no message for WATCHDOG_MS although the host sends
// metrics every second) it is closed and reopened with exponential backoff
// and jitter; before reopening it checks the session, since an
// EventSource cannot see a 401. The state (connecting / connected /
// reconnecting / offline) is published for the top bar.
//
// Cost of a live update: window.__mgLastUpdateMs is the time spent in the
// last metrics_update (parse + every listener); window.__mgUpdateStats
// keeps count, total, max and the last 120 costs (recent) for tests and
// curious users.

import { api } from './api.js';

const WATCHDOG_MS = 6000;
const BACKOFF_MIN_MS = 1000;
const BACKOFF_MAX_MS = 30000;

const listeners = new Map(); // type → Set(fn); also 'state'
let source = null;
let state = 'offline';
let attempt = 0;
let retryTimer = 0;
let watchdog = 0;
let running = false;
let lastMetrics = null;

window.__mgLastUpdateMs = 0;
window.__mgUpdateStats = { count: 0, totalMs: 0, maxMs: 0, recent: [] }; // recent: last 120 costs

export function on(type, fn) {
  if (!listeners.has(type)) listeners.set(type, new Set());
  listeners.get(type).add(fn);
  return () => listeners.get(type).delete(fn);
}

function emit(type, data) {
  const set = listeners.get(type);
  if (!set) return;
  for (const fn of set) {
    try { fn(data); } catch (e) { console.error(`moongate: ${type} listener failed`, e); }
  }
}

export const connectionState = () => state;
export const latestMetrics = () => lastMetrics;

function setState(s) {
  if (s === state) return;
  state = s;
  emit('state', s);
}

function armWatchdog() {
  clearTimeout(watchdog);
  watchdog = setTimeout(() => drop(), WATCHDOG_MS);
}

function parse(ev) {
  try { return JSON.parse(ev.data); } catch { return null; }
}

function onMetrics(ev) {
  const t0 = performance.now();
  armWatchdog();
  const m = parse(ev);
  if (m && typeof m === 'object') {
    lastMetrics = m;
    emit('metrics_update', m);
  }
  const dt = performance.now() - t0;
  window.__mgLastUpdateMs = dt;
  const st = window.__mgUpdateStats;
  st.count++; st.totalMs += dt; if (dt > st.maxMs) st.maxMs = dt;
  st.recent.push(dt);
  if (st.recent.length > 120) st.recent.shift();
}

function onRequest(ev) {
  armWatchdog();
  const d = parse(ev);
  if (!d) return;
  // A coalesced burst may arrive as an array of records.
  if (Array.isArray(d)) for (const r of d) emit('request_event', r);
  else emit('request_event', d);
}

function onReload(ev) {
  armWatchdog();
  emit('reload', parse(ev) || {});
}

// crosstalk_event (session_start, state, turn_start, token, turn_end,
// round_end, session_end), alert_triggered / alert_resolved and
// budget_warning: passed on as parsed, one listener call per event (an
// array, should the host ever coalesce, is split).
const PASS_THROUGH = ['crosstalk_event', 'alert_triggered', 'alert_resolved', 'budget_warning'];
function onPassThrough(ev) {
  armWatchdog();
  const d = parse(ev);
  if (!d || typeof d !== 'object') return;
  if (Array.isArray(d)) for (const x of d) emit(ev.type, x);
  else emit(ev.type, d);
}

function open() {
  clearTimeout(retryTimer);
  if (!running) return;
  setState(attempt === 0 ? 'connecting' : 'reconnecting');
  const es = new EventSource('/api/events');
  source = es;
  es.addEventListener('open', () => {
    if (source !== es) return;
    attempt = 0;
    setState('connected');
    armWatchdog();
  });
  es.addEventListener('metrics_update', onMetrics);
  es.addEventListener('request_event', onRequest);
  es.addEventListener('reload', onReload);
  for (const type of PASS_THROUGH) es.addEventListener(type, onPassThrough);
  es.addEventListener('message', armWatchdog);
  es.addEventListener('error', () => { if (source === es) drop(); });
  armWatchdog();
}

// Close the stream and plan the next try.
function drop() {
  clearTimeout(watchdog);
  if (source) { source.close(); source = null; }
  if (!running) return;
  attempt++;
  setState('reconnecting');
  const base = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** Math.min(attempt - 1, 10));
  const delay = base / 2 + Math.random() * base / 2;
  clearTimeout(retryTimer);
  retryTimer = setTimeout(checkThenOpen, delay);
}

async function checkThenOpen() {
  if (!running) return;
  try {
    await api('/api/status'); // a 401 here sends the user to the login view
    open();
  } catch (e) {
    if (e.status === 401) return; // stop() was called by the login handler
    drop();
  }
}

export function start() {
  if (running) return;
  running = true;
  attempt = 0;
  open();
}

export function stop() {
  running = false;
  clearTimeout(retryTimer);
  clearTimeout(watchdog);
  if (source) { source.close(); source = null; }
  setState('offline');
}
