// app.js — the dashboard shell: login/logout, hash routing (#/home,
// #/analytics?model=x, …), the top bar (nav, environment, connection
// state, theme) and the life of each page. A page module exports
// mount(root, ctx) and may return { unmount, update }; ctx hands it
// subscriptions and timers that end by themselves when the page goes, so
// no page leaks listeners however often the user switches.

import { api, post, setUnauthorizedHandler, prefs, setEnv, bus } from './api.js';
import * as events from './events.js';
import { initTheme } from './theme.js';
import { clear, setText, h, toast } from './dom.js';

const PAGES = {
  home: { title: 'Home', load: () => import('./pages/home.js') },
  analytics: { title: 'Analytics', load: () => import('./pages/analytics.js') },
  live: { title: 'Live', load: () => import('./pages/live.js') },
  requests: { title: 'Requests', load: () => import('./pages/requests.js') },
  crosstalk: { title: 'Crosstalk', load: () => import('./pages/crosstalk.js') },
  alerts: { title: 'Alerts & budgets', load: () => import('./pages/alerts.js') },
  insights: { title: 'Insights', load: () => import('./pages/insights.js') },
  policies: { title: 'Policies', load: () => import('./pages/policies.js') },
  system: { title: 'System', load: () => import('./pages/system.js') },
};

const $ = (id) => document.getElementById(id);
const view = $('view');
let authed = false;
let current = null; // { name, page, cleanup: [], ctl }
let routeSeq = 0;

function parseHash() {
  const raw = location.hash.replace(/^#\/?/, '');
  const i = raw.indexOf('?');
  const name = (i < 0 ? raw : raw.slice(0, i)) || 'home';
  return { name, params: new URLSearchParams(i < 0 ? '' : raw.slice(i + 1)) };
}

function hashFor(name, params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) if (v !== undefined && v !== null && v !== '') q.set(k, v);
  const s = q.toString();
  return `#/${name}${s ? '?' + s : ''}`;
}

function unmountCurrent() {
  if (!current) return;
  const c = current;
  current = null;
  c.ctl.abort();
  for (const fn of c.cleanup.splice(0)) { try { fn(); } catch (e) { console.error(e); } }
  if (c.page && c.page.unmount) { try { c.page.unmount(); } catch (e) { console.error(e); } }
}

function makeCtx(name, params, slot) {
  return {
    params,
    signal: slot.ctl.signal,
    // Reflect page state in the address without remounting.
    setParams(obj) { history.replaceState(null, '', hashFor(name, obj)); },
    navigate(hash) { location.hash = hash; },
    on(type, fn) { slot.cleanup.push(events.on(type, fn)); },
    every(ms, fn) { const t = setInterval(fn, ms); slot.cleanup.push(() => clearInterval(t)); },
    onEnv(fn) { bus.addEventListener('envchange', fn); slot.cleanup.push(() => bus.removeEventListener('envchange', fn)); },
    alive: () => current === slot,
  };
}

async function route({ focus = false } = {}) {
  if (!authed) return;
  let { name, params } = parseHash();
  if (!PAGES[name]) {
    name = 'home';
    history.replaceState(null, '', '#/home');
  }
  if (current && current.name === name && current.page && current.page.update) {
    current.page.update(params);
    return;
  }
  const seq = ++routeSeq;
  unmountCurrent();
  for (const a of document.querySelectorAll('.nav a')) {
    if (a.dataset.route === name) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  document.title = `${PAGES[name].title} · moongate`;
  clear(view);
  let mod;
  try {
    mod = await PAGES[name].load();
  } catch (e) {
    view.append(h('div', { class: 'notice err' }, `This page failed to load: ${e.message}`));
    return;
  }
  if (seq !== routeSeq || !authed) return;
  const slot = { name, page: null, cleanup: [], ctl: new AbortController() };
  current = slot;
  try {
    const page = mod.mount(view, makeCtx(name, params, slot));
    slot.page = typeof page === 'function' ? { unmount: page } : page || null;
  } catch (e) {
    console.error(e);
    view.append(h('div', { class: 'notice err' }, `This page failed: ${e.message}`));
  }
  if (focus) view.focus({ preventScroll: true });
}

// ---- login ----

function showLogin(message = '') {
  authed = false;
  events.stop();
  unmountCurrent();
  clear(view);
  $('app').hidden = true;
  $('login').hidden = false;
  setText($('login-error'), message);
  document.title = 'Log in · moongate';
  $('login-token').focus();
}

function showApp() {
  authed = true;
  $('login').hidden = true;
  $('app').hidden = false;
  events.start();
  route();
}

async function login(ev) {
  ev.preventDefault();
  const input = $('login-token');
  const button = ev.target.querySelector('button[type=submit]');
  const token = input.value.trim();
  if (!token) return;
  button.disabled = true;
  setText($('login-error'), '');
  try {
    await post('/api/login', { token }, { quiet401: true });
    input.value = '';
    showApp();
  } catch (e) {
    setText($('login-error'), e.status === 401 ? 'Wrong token.' : `Login failed: ${e.message}`);
    input.select();
  } finally {
    button.disabled = false;
  }
}

async function logout() {
  try { await post('/api/logout', {}, { quiet401: true }); } catch { /* the session is gone either way */ }
  showLogin();
}

// ---- top bar ----

const CONN_LABELS = { connecting: 'connecting', connected: 'live', reconnecting: 'reconnecting…', offline: 'offline' };
function wireConnection() {
  const el = $('conn');
  const label = el.firstElementChild;
  const show = (s) => {
    el.dataset.state = s;
    setText(label, CONN_LABELS[s] || s);
    el.title = s === 'connected' ? 'Live updates connected' : `Live updates: ${CONN_LABELS[s] || s}`;
  };
  events.on('state', show);
  show(events.connectionState());
}

function wireEnvironment() {
  const input = $('env');
  const list = $('env-list');
  const seen = new Set();
  input.value = prefs.env;
  const remember = (env) => {
    if (!env || seen.has(env) || seen.size > 50) return;
    seen.add(env);
    list.append(h('option', { value: env }));
  };
  remember(prefs.env);
  input.addEventListener('change', () => { setEnv(input.value); remember(prefs.env); });
  input.addEventListener('keydown', (e) => { if (e.key === 'Enter') input.blur(); });
  events.on('request_event', (r) => remember(r && r.environment));
  bus.addEventListener('envseen', (e) => remember(e.detail));
}

// Alerts and budget warnings reach the user on whichever page is open.
function wireNotices() {
  events.on('alert_triggered', (n) => {
    const text = n.title || `alert ${n.alert && n.alert.rule ? n.alert.rule : ''} firing`;
    toast(`Alert: ${text}${n.text ? ` — ${String(n.text).split('\n')[0]}` : ''}`, 8000);
  });
  events.on('budget_warning', (b) => {
    const who = b.scope === 'key' ? `key ${b.key_name || b.key_id || '?'}` : 'gateway';
    const pct = Math.round((Number(b.threshold) || 0) * 100);
    toast(`Budget: ${who} reached ${pct}% of its ${b.period === 'month' ? 'monthly' : 'daily'} budget`, 8000);
  });
}

async function boot() {
  initTheme($('theme'));
  wireConnection();
  wireEnvironment();
  wireNotices();
  $('login-form').addEventListener('submit', login);
  $('logout').addEventListener('click', logout);
  setUnauthorizedHandler(() => { if (authed) showLogin('Your session ended. Log in again.'); });
  window.addEventListener('hashchange', () => route({ focus: true }));
  try {
    await api('/api/status', { quiet401: true });
    showApp();
  } catch (e) {
    if (e.status === 401) showLogin();
    else showApp(); // unreachable or failing: the pages say what is wrong
  }
}

boot();
