// fdlimit.test.mjs — the gateway at its open-file limit. A connection it
// accepted but cannot open an upstream socket for gets a 503 that says so
// (not a 502 blaming the provider), the provider's circuit breaker does not
// count it, and once descriptors free up the same provider serves again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import net from 'node:net';
import { readdirSync } from 'node:fs';
import { BIN, HOME, startMock, stop, freePort, tmpDir, writeFileSync, path, sleep } from './lib.mjs';

const LIMIT = 96;
// Descriptors numbered below the limit: an inherited one above it (a
// harness pipe) takes no slot.
const fdCount = (pid) => readdirSync(`/proc/${pid}/fd`).filter((n) => Number(n) < LIMIT).length;

function request(sock, body) {
  return new Promise((resolve, reject) => {
    let text = '';
    const onData = (d) => {
      text += d;
      const head = text.indexOf('\r\n\r\n');
      if (head < 0) return;
      const len = Number(/content-length: *(\d+)/i.exec(text.slice(0, head))?.[1] ?? -1);
      if (len >= 0 && text.length >= head + 4 + len) {
        sock.off('data', onData);
        resolve({ status: Number(text.split(' ')[1]), body: text.slice(head + 4) });
      }
    };
    sock.on('data', onData);
    sock.once('error', reject);
    sock.write(`POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
  });
}

test('out of descriptors: a 503 that says so, and the provider stays healthy', async () => {
  const mock = await startMock(['--speed', '0']);
  const dir = tmpDir();
  const port = await freePort();
  const cfgPath = path.join(dir, 'moongate.lua');
  (await import('node:fs')).mkdirSync(path.join(dir, 'policies'));
  writeFileSync(cfgPath, `return {
    listen = "127.0.0.1:${port}", db = "${dir}/mg.db", policies = "${dir}/policies", access_log = false,
    admin_token = "test-admin-token-0123456789", log_level = "error",
    providers = { { name = "up", format = "openai", base_url = "${mock.url}/v1", api_key = "k", models = { "m" } } },
  }`);
  // Both limits low, so the gateway cannot raise its own.
  const gw = spawn('sh', ['-c', `ulimit -Sn ${LIMIT} && ulimit -Hn ${LIMIT} && exec "$0" serve -c "$1"`, BIN, cfgPath],
    { env: { ...process.env, MOONGATE_HOME: HOME }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const exited = new Promise((r) => gw.once('exit', r));
  gw.stdout.on('data', (d) => { out += d; });
  gw.stderr.on('data', (d) => { out += d; });
  const socks = [];
  try {
    for (let i = 0; i < 100; i++) {
      const ok = await new Promise((r) => { const s = net.connect(port, '127.0.0.1', () => { s.end(); r(true); }); s.on('error', () => r(false)); });
      if (ok) break;
      assert.equal(gw.exitCode, null, `the gateway exited: ${out}`);
      await sleep(100);
    }
    await sleep(300);
    const body = JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }] });
    // Fill the table with idle connections until one is no longer
    // accepted: then not a descriptor is left.
    let accepted = 0;
    for (let i = 0; i < LIMIT + 10; i++) {
      const before = fdCount(gw.pid);
      const s = await new Promise((r, j) => { const c = net.connect(port, '127.0.0.1', () => r(c)); c.on('error', j); });
      socks.push(s);
      let k = 0;
      while (k++ < 30 && fdCount(gw.pid) === before) await sleep(10);
      if (fdCount(gw.pid) === before) break;
      accepted++;
    }
    assert.equal(fdCount(gw.pid), LIMIT, out);
    assert.ok(accepted < socks.length, 'the last connection waits in the backlog');
    socks.pop().destroy();
    await sleep(100);
    const last = socks[socks.length - 1];
    // More failures than the breaker's threshold: none may count.
    for (let i = 0; i < 7; i++) {
      const r = await request(last, body);
      assert.equal(r.status, 503, r.body);
      const j = JSON.parse(r.body);
      assert.equal(j.error.type, 'overloaded_error');
      assert.match(j.error.message, /no socket left.*ulimit -n/);
    }
    for (const s of socks.splice(0, 10)) s.destroy();
    await sleep(300);
    const r = await request(last, body);
    assert.equal(r.status, 200, r.body);
    assert.match(r.body, /chat\.completion/);
  } finally {
    for (const s of socks) s.destroy();
    gw.kill('SIGTERM');
    await exited;
    await stop(mock.proc);
  }
});
