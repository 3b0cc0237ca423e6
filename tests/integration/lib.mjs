// lib.mjs — helpers for integration tests: free ports, starting moongate
// (serve / mock) as child processes on 127.0.0.1, temp configs, and HTTP
// calls with timeouts. Every process started here is killed at test end.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync, existsSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export const BIN = process.env.MOONGATE_BIN || path.resolve('build/moongate');
export const HOME = process.env.MOONGATE_HOME || path.resolve('.');

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

export function tmpDir(prefix = 'mg-') {
  return mkdtempSync(path.join(os.tmpdir(), prefix));
}

async function waitForPort(port, ms = 10000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const ok = await new Promise((res) => {
      const s = net.connect(port, '127.0.0.1');
      s.on('connect', () => { s.destroy(); res(true); });
      s.on('error', () => res(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`port ${port} did not open within ${ms} ms`);
}

const children = new Set();
process.on('exit', () => { for (const c of children) try { c.kill('SIGKILL'); } catch {} });

export async function start(args, { port, env = {}, cwd } = {}) {
  const child = spawn(BIN, args, {
    cwd, env: { ...process.env, MOONGATE_HOME: HOME, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  child.output = '';
  child.stdout.on('data', (d) => { child.output += d; });
  child.stderr.on('data', (d) => { child.output += d; });
  child.exited = new Promise((res) => child.on('exit', (code, sig) => { children.delete(child); res({ code, sig }); }));
  if (port) {
    try { await waitForPort(port); } catch (e) {
      child.kill('SIGKILL');
      throw new Error(`${e.message}\n--- output of moongate ${args.join(' ')}:\n${child.output}`);
    }
  }
  return child;
}

export async function stop(child, signal = 'SIGTERM', ms = 15000) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return child?.exited;
  child.kill(signal);
  const t = setTimeout(() => child.kill('SIGKILL'), ms);
  const r = await child.exited;
  clearTimeout(t);
  return r;
}

export async function startMock(extra = [], fixedPort = null) {
  const port = fixedPort ?? await freePort();
  const proc = await start(['mock', '--listen', `127.0.0.1:${port}`, ...extra], { port });
  return { port, proc, url: `http://127.0.0.1:${port}` };
}

// Start a gateway with a config built from `providers` (Lua source for the
// providers list) and optional extra top-level Lua fields.
export async function startGateway({ providers, extra = '', policies = null, token = 'test-admin-token-0123456789' } = {}) {
  const dir = tmpDir();
  const port = await freePort();
  const polDir = path.join(dir, 'policies');
  (await import('node:fs')).mkdirSync(polDir);
  if (policies) for (const [name, src] of Object.entries(policies)) writeFileSync(path.join(polDir, name), src);
  const cfg = `return {
  listen = "127.0.0.1:${port}",
  db = "${dir}/mg.db",
  policies = "${polDir}",
  admin_token = "${token}",
  access_log = false,
  log_level = "warn",
  store = { flush_interval = 0.05 },
  providers = { ${providers} },
  ${extra}
}`;
  const cfgPath = path.join(dir, 'moongate.lua');
  writeFileSync(cfgPath, cfg);
  const proc = await start(['serve', '-c', cfgPath], { port });
  return { port, proc, dir, cfgPath, polDir, token, url: `http://127.0.0.1:${port}`, db: `${dir}/mg.db` };
}

export async function post(url, body, headers = {}, ms = 20000) {
  const res = await fetch(url, {
    method: 'POST', body: typeof body === 'string' ? body : JSON.stringify(body),
    headers: { 'content-type': 'application/json', ...headers },
    signal: AbortSignal.timeout(ms),
  });
  const text = await res.text();
  let json = null;
  try { json = JSON.parse(text); } catch {}
  return { status: res.status, headers: res.headers, text, json };
}

export async function admin(gw, method, p, body) {
  const res = await fetch(gw.url + p, {
    method, body: body ? JSON.stringify(body) : undefined,
    headers: { authorization: `Bearer ${gw.token}`, 'content-type': 'application/json' },
    signal: AbortSignal.timeout(10000),
  });
  const text = await res.text();
  let json = null;
  try { json = JSON.parse(text); } catch {}
  return { status: res.status, json, text };
}

// SQLite rows through the sqlite3 CLI would add a dependency; node 22 has
// node:sqlite but Debian's 18 does not. Read through the admin API instead,
// or count via the helper binary when present.
export function sleep(ms) { return new Promise((r) => setTimeout(r, ms)); }

export function parseSSE(text) {
  const events = [];
  for (const block of text.split(/\r?\n\r?\n/)) {
    if (!block.trim()) continue;
    let event = '', data = [];
    for (const line of block.split(/\r?\n/)) {
      if (line.startsWith(':')) continue;
      const i = line.indexOf(':');
      const f = i < 0 ? line : line.slice(0, i);
      let v = i < 0 ? '' : line.slice(i + 1);
      if (v.startsWith(' ')) v = v.slice(1);
      if (f === 'event') event = v; else if (f === 'data') data.push(v);
    }
    events.push({ event, data: data.join('\n') });
  }
  return events;
}

export { readFileSync, existsSync, writeFileSync, path };

// The request record with this id, once the writer has stored it.
export async function recordOf(gw, id) {
  for (let i = 0; i < 100; i++) {
    const out = execFileSync('sqlite3', ['-json', gw.db, `select * from requests where id='${id}'`], { encoding: 'utf8' }).trim();
    if (out) return JSON.parse(out)[0];
    await sleep(50);
  }
  throw new Error(`record ${id} never reached the database`);
}
