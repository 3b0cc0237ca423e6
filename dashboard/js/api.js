// api.js — every call to the gateway's admin API goes through here. It
// sends the session cookie, adds the CSRF header to state-changing calls,
// turns a 401 into "show the login view" (one listener, set by app.js),
// and turns a 404 into ApiError.notAvailable so a page can say "not
// available" instead of breaking. It also holds the environment chosen in
// the top bar, which every analytics query carries.

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
  get notAvailable() { return this.status === 404 || this.status === 501; }
  get unauthorized() { return this.status === 401; }
}

const TIMEOUT_MS = 20000;
let onUnauthorized = () => {};
export function setUnauthorizedHandler(fn) { onUnauthorized = fn; }

// The environment filter (top bar), kept across reloads.
const ENV_KEY = 'mg.env';
export const prefs = {
  env: (() => { try { return localStorage.getItem(ENV_KEY) || ''; } catch { return ''; } })(),
};
export const bus = new EventTarget(); // 'envchange', 'envseen' (detail: name)
// Pages report environment names they meet, for the top bar's suggestions.
export function seenEnvironment(env) {
  if (env) bus.dispatchEvent(new CustomEvent('envseen', { detail: String(env) }));
}
export function setEnv(env) {
  env = (env || '').trim();
  if (env === prefs.env) return;
  prefs.env = env;
  try { localStorage.setItem(ENV_KEY, env); } catch { /* private mode */ }
  bus.dispatchEvent(new Event('envchange'));
}

function errorMessage(status, body) {
  if (body && typeof body === 'object') {
    const e = body.error;
    if (typeof e === 'string') return e;
    if (e && typeof e.message === 'string') return e.message;
    if (typeof body.message === 'string') return body.message;
  }
  return `HTTP ${status}`;
}

// Call an admin endpoint; resolves to the parsed JSON body (or null). A GET
// answered 503 (analytics busy) is tried again once after a short pause.
export async function api(path, opts = {}) {
  try {
    return await call(path, opts);
  } catch (e) {
    if (e.status !== 503 || (opts.method && opts.method !== 'GET') || (opts.signal && opts.signal.aborted)) throw e;
    await new Promise((r) => setTimeout(r, 400));
    return call(path, opts);
  }
}

async function call(path, { method = 'GET', body, signal, quiet401 = false } = {}) {
  const headers = { accept: 'application/json' };
  if (method !== 'GET' && method !== 'HEAD') headers['x-moongate-csrf'] = '1';
  if (body !== undefined) headers['content-type'] = 'application/json';
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(new DOMException('timed out', 'TimeoutError')), TIMEOUT_MS);
  const relay = () => ctl.abort(signal.reason);
  if (signal) {
    if (signal.aborted) relay();
    else signal.addEventListener('abort', relay, { once: true });
  }
  let res;
  try {
    res = await fetch(path, {
      method, headers, credentials: 'same-origin', cache: 'no-store', signal: ctl.signal,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (e) {
    if (signal && signal.aborted) throw e;
    throw new ApiError(0, e && e.name === 'AbortError' ? 'the gateway did not answer in time' : 'the gateway is unreachable');
  } finally {
    clearTimeout(timer);
    if (signal) signal.removeEventListener('abort', relay);
  }
  const text = await res.text();
  let json = null;
  if (text) { try { json = JSON.parse(text); } catch { json = null; } }
  if (res.status === 401) {
    if (!quiet401) onUnauthorized();
    throw new ApiError(401, errorMessage(401, json));
  }
  if (!res.ok) throw new ApiError(res.status, errorMessage(res.status, json));
  return json;
}

export const post = (path, body, opts = {}) => api(path, { ...opts, method: 'POST', body: body === undefined ? {} : body });

// Query string from an object, leaving out empty values.
export function qs(params) {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) {
    if (v === undefined || v === null || v === '') continue;
    u.set(k, String(v));
  }
  const s = u.toString();
  return s ? '?' + s : '';
}

// /api/analytics/<endpoint>?… with the top bar's environment added.
export function analyticsUrl(endpoint, params = {}) {
  return `/api/analytics/${endpoint}${qs({ ...params, environment: prefs.env || params.environment })}`;
}
export const analytics = (endpoint, params, opts) => api(analyticsUrl(endpoint, params), opts);

// Time ranges offered by Analytics and Requests.
export const RANGES = {
  '1h': { ms: 3600e3, bucket: 'minute' },
  '24h': { ms: 86400e3, bucket: 'hour' },
  '7d': { ms: 7 * 86400e3, bucket: 'hour' },
  '30d': { ms: 30 * 86400e3, bucket: 'day' },
  '90d': { ms: 90 * 86400e3, bucket: 'day' },
};
export function rangeParams(range, now = Date.now()) {
  const r = RANGES[range] || RANGES['24h'];
  return { from: Math.floor(now - r.ms), to: Math.ceil(now) };
}

// Pick the first present key: the analytics engine may name a field
// differently from the contract (p50_ms vs p50_duration_ms).
export function pick(obj, ...keys) {
  if (!obj) return undefined;
  for (const k of keys) if (obj[k] !== undefined && obj[k] !== null) return obj[k];
  return undefined;
}

// Analytics lists arrive as {models: [...]}, {rows: [...]}, {requests: [...]}
// or a bare array, depending on the endpoint's version.
export function listOf(body, ...keys) {
  if (Array.isArray(body)) return body;
  if (!body || typeof body !== 'object') return [];
  for (const k of keys) if (Array.isArray(body[k])) return body[k];
  return [];
}
