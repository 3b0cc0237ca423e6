// gateway.test.mjs — the host around the proxy: the bundled demo with its
// in-process mock providers, the admin guard, TLS, `moongate check`, and
// graceful shutdown with a stream in flight.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import https from 'node:https';
import { BIN, HOME, start, stop, startGateway, startMock, post, admin, freePort, tmpDir, parseSSE, sleep, writeFileSync, path, existsSync, readFileSync } from './lib.mjs';

test('no config: the bundled demo serves mock models in every format', async () => {
  const cwd = tmpDir();
  const port = await freePort();
  const gw = await start(['serve', '--listen', `127.0.0.1:${port}`], { port, cwd });
  try {
    const base = `http://127.0.0.1:${port}`;
    const h = await fetch(`${base}/healthz`).then((r) => r.json());
    assert.equal(h.status, 'ok');
    const c = await post(`${base}/v1/chat/completions`, { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hello' }] });
    assert.equal(c.status, 200, c.text);
    assert.ok(c.json.choices[0].message.content);
    const a = await post(`${base}/v1/messages`, { model: 'claude-haiku-4-5', max_tokens: 20, stream: true, messages: [{ role: 'user', content: 'hello' }] });
    assert.equal(parseSSE(a.text).at(-1).event, 'message_stop');
    const g = await post(`${base}/v1beta/models/gemini-2.5-flash:generateContent`, { contents: [{ role: 'user', parts: [{ text: 'hello' }] }] });
    assert.equal(g.status, 200, g.text);
    assert.ok(g.json.candidates[0].content.parts[0].text);
    assert.ok(existsSync(path.join(cwd, 'data', 'moongate.db')), 'SQLite database under data/');
    const tokenFile = path.join(cwd, 'data', 'admin_token');
    assert.ok(existsSync(tokenFile), 'admin token generated at first start');
    assert.equal((await import('node:fs')).statSync(tokenFile).mode & 0o777, 0o600);
    const token = readFileSync(tokenFile, 'utf8').trim();
    assert.ok(gw.output.includes(token), 'printed once at first start');
  } finally {
    const r = await stop(gw);
    assert.equal(r.code, 0);
  }
});

test('admin API guard: token required, constant answers, cross-origin refused', async () => {
  const gw = await startGateway({ providers: '{ name = "m", format = "mock", models = { "x" } }' });
  try {
    let r = await fetch(`${gw.url}/api/status`);
    assert.equal(r.status, 401);
    r = await fetch(`${gw.url}/api/status`, { headers: { authorization: 'Bearer wrong-token-wrong-token' } });
    assert.equal(r.status, 401);
    r = await fetch(`${gw.url}/api/status`, { headers: { authorization: `Bearer ${gw.token}`, origin: 'http://evil.example' } });
    assert.equal(r.status, 403);
    r = await fetch(`${gw.url}/api/status`, { headers: { authorization: `Bearer ${gw.token}`, 'sec-fetch-site': 'cross-site' } });
    assert.equal(r.status, 403);
    const ok = await admin(gw, 'GET', '/api/status');
    assert.equal(ok.status, 200);
    assert.equal(ok.json.workers, 1);
    const health = (await admin(gw, 'GET', '/api/system/health')).json;
    assert.ok(health.rss_kib > 1024 && health.rss_kib < 1024 * 1024, `rss ${health.rss_kib} KiB`);
    assert.ok(health.db_bytes > 0);
    assert.equal(health.records_dropped, 0);
    const healthz = await fetch(`${gw.url}/healthz`);
    assert.equal(healthz.status, 200);
    const metrics = await fetch(`${gw.url}/metrics`).then((x) => x.text());
    assert.match(metrics, /moongate_requests_total \d+/);
    // Memory gauges: malloc's bytes in use, and SQLite's share of them.
    const gauge = (name) => Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(metrics)?.[1]);
    assert.ok(gauge('moongate_sqlite_memory_bytes') > 0, metrics);
    // Under AddressSanitizer malloc is ASan's, which glibc's counters do not see.
    if (process.env.ASAN_OPTIONS === undefined) {
      assert.ok(gauge('moongate_heap_in_use_bytes') > 1e6, metrics);
      assert.ok(gauge('moongate_sqlite_memory_bytes') < gauge('moongate_heap_in_use_bytes'));
    } else {
      assert.ok(gauge('moongate_heap_in_use_bytes') >= 0, metrics);
    }
  } finally { await stop(gw.proc); }
});

test('moongate check reports config errors with file and key, exit 1', () => {
  const dir = tmpDir();
  const bad = path.join(dir, 'bad.lua');
  writeFileSync(bad, 'return { workers = "two", providers = { { name = "a", format = "openai", base_url = "http://x", models = { "m" }, timeouts = { conect = 1 } } } }');
  const r = spawnSync(BIN, ['check', '-c', bad], { env: { ...process.env, MOONGATE_HOME: HOME }, encoding: 'utf8' });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /workers/);
  assert.match(r.stderr, /conect/);
  const good = spawnSync(BIN, ['check'], { cwd: dir, env: { ...process.env, MOONGATE_HOME: HOME }, encoding: 'utf8' });
  assert.equal(good.status, 0, good.stderr);
  const serve = spawnSync(BIN, ['serve', '-c', bad], { env: { ...process.env, MOONGATE_HOME: HOME }, encoding: 'utf8', timeout: 10000 });
  assert.equal(serve.status, 1, 'serve refuses to start on a bad config');
});

test('TLS listener with a self-signed certificate', async () => {
  const dir = tmpDir();
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${dir}/key.pem`, '-out', `${dir}/cert.pem`, '-days', '1', '-subj', '/CN=127.0.0.1'], { stdio: 'ignore' });
  const tlsPort = await freePort();
  const gw = await startGateway({
    providers: '{ name = "m", format = "mock", models = { "gpt-4o-mini" }, mock = { speed = 0 } }',
    extra: `listen_tls = { addr = "127.0.0.1:${tlsPort}", cert = "${dir}/cert.pem", key = "${dir}/key.pem" },`,
  });
  try {
    const body = JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'over tls' }] });
    const out = await new Promise((resolve, reject) => {
      const req = https.request({ host: '127.0.0.1', port: tlsPort, path: '/v1/chat/completions', method: 'POST', rejectUnauthorized: false, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
        let data = ''; res.on('data', (d) => { data += d; }); res.on('end', () => resolve({ status: res.statusCode, data }));
      });
      req.on('error', reject); req.end(body);
    });
    assert.equal(out.status, 200);
    assert.equal(JSON.parse(out.data).object, 'chat.completion');
  } finally { await stop(gw.proc); }
});

test('graceful shutdown: SIGTERM lets a stream in flight finish, records it, exits 0', async () => {
  const gw = await startGateway({ providers: '{ name = "m", format = "mock", models = { "gpt-4o-mini" }, mock = { speed = 1 } }' });
  const res = await fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST', headers: { 'content-type': 'application/json', 'x-mock-tps': '40' },
    body: JSON.stringify({ model: 'gpt-4o-mini', max_tokens: 40, stream: true, messages: [{ role: 'user', content: 'slow please' }] }),
  });
  assert.equal(res.status, 200);
  const textP = res.text();
  await sleep(200);
  gw.proc.kill('SIGTERM');
  const text = await textP;
  assert.equal(parseSSE(text).at(-1).data, '[DONE]', 'the stream finished cleanly');
  const r = await gw.proc.exited;
  assert.equal(r.code, 0);
  const n = execFileSync('sqlite3', [gw.db, "select count(*) from requests where status='success'"], { encoding: 'utf8' }).trim();
  assert.equal(n, '1', 'the record was flushed on shutdown');
  const refused = await fetch(`${gw.url}/healthz`).then(() => 'answered', () => 'refused');
  assert.equal(refused, 'refused');
});
