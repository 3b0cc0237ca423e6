// keys.test.mjs — virtual keys end to end through `moongate serve`: auth
// modes, keys presented the three ways SDKs send them, errors in the
// client's format, revoke / rotate taking effect at once, rpm and
// concurrency limits under concurrent load, a daily budget refusing at the
// boundary with spend never past it, the global budget, persistence across
// a restart, the key stamped on request records, and `moongate keys`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { BIN, HOME, start, stop, startGateway, post, admin, freePort, sleep } from './lib.mjs';

const PROVIDERS = `
  { name = "m", format = "mock", mock = { speed = 0 },
    models = { "gpt-4o-mini", "gpt-4o", "claude-haiku-4-5", "gemini-2.5-flash" } },`;

const chat = (extra = {}) => ({ model: 'gpt-4o-mini', max_tokens: 20, messages: [{ role: 'user', content: 'hello keys' }], ...extra });
const bearer = (secret) => ({ authorization: `Bearer ${secret}` });

async function createKey(gw, body) {
  const r = await admin(gw, 'POST', '/api/keys', body);
  assert.equal(r.status, 201, r.text);
  assert.match(r.json.secret, /^mg-[0-9A-Za-z]{43}$/);
  return { secret: r.json.secret, id: r.json.key.id, key: r.json.key };
}

function sql(gw, q) {
  return execFileSync('sqlite3', ['-json', gw.db, q], { encoding: 'utf8' }).trim();
}

async function waitFor(fn, ms = 5000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v || Date.now() > end) return v;
    await sleep(50);
  }
}

test('auth = "keys": no key, wrong key, each header style, errors in the client format', async () => {
  const gw = await startGateway({ providers: PROVIDERS, extra: 'auth = "keys",' });
  try {
    let r = await post(`${gw.url}/v1/chat/completions`, chat());
    assert.equal(r.status, 401, r.text);
    assert.match(r.json.error.message, /missing API key/);
    r = await post(`${gw.url}/v1/messages`, chat({ model: 'claude-haiku-4-5' }), { 'x-api-key': 'mg-wrong' });
    assert.equal(r.status, 401, r.text);
    assert.equal(r.json.type, 'error', 'anthropic error shape');
    assert.equal(r.json.error.type, 'authentication_error');
    r = await post(`${gw.url}/v1beta/models/gemini-2.5-flash:generateContent`, { contents: [{ role: 'user', parts: [{ text: 'hi' }] }] }, { 'x-goog-api-key': 'mg-wrong' });
    assert.equal(r.status, 401, r.text);
    assert.equal(r.json.error.status, 'UNAUTHENTICATED', 'gemini error shape');

    const k = await createKey(gw, { name: 'ci-bot', user_id: 'ann', environment: 'ci' });
    r = await post(`${gw.url}/v1/chat/completions`, chat(), bearer(k.secret));
    assert.equal(r.status, 200, r.text);
    r = await post(`${gw.url}/v1/messages`, chat({ model: 'claude-haiku-4-5' }), { 'x-api-key': k.secret });
    assert.equal(r.status, 200, r.text);
    r = await post(`${gw.url}/v1beta/models/gemini-2.5-flash:generateContent`, { contents: [{ role: 'user', parts: [{ text: 'hi' }] }] }, { 'x-goog-api-key': k.secret });
    assert.equal(r.status, 200, r.text);

    // The record carries the key id and its user, never the secret.
    const id = r.headers.get('x-moongate-request-id');
    const rec = await waitFor(() => { const o = sql(gw, `select key_id, user_id, environment from requests where id='${id}'`); return o && JSON.parse(o)[0]; });
    assert.equal(rec.key_id, k.id);
    assert.equal(rec.user_id, 'ann');
    assert.equal(rec.environment, 'ci');
    assert.equal(sql(gw, `select count(*) n from requests where instr(coalesce(error,'')||coalesce(attempts_json,''), '${k.secret.slice(9)}') > 0`), '[{"n":0}]');

    // Listing shows usage, no secrets or hashes.
    const list = await admin(gw, 'GET', '/api/keys');
    assert.equal(list.status, 200);
    assert.ok(!list.text.includes(k.secret.slice(9)), 'no secret in the listing');
    assert.equal(list.json.keys[0].usage.requests_last_minute, 3);
  } finally { await stop(gw.proc); }
});

test('open mode: no key needed, but a presented mg- key is checked and its limits apply', async () => {
  const gw = await startGateway({ providers: PROVIDERS });
  try {
    let r = await post(`${gw.url}/v1/chat/completions`, chat());
    assert.equal(r.status, 200, r.text);
    r = await post(`${gw.url}/v1/chat/completions`, chat(), bearer('sk-some-provider-key'));
    assert.equal(r.status, 200, r.text);
    r = await post(`${gw.url}/v1/chat/completions`, chat(), bearer('mg-not-a-real-key'));
    assert.equal(r.status, 401, r.text);
    const k = await createKey(gw, { name: 'narrow', models: ['gpt-4o-mini'] });
    r = await post(`${gw.url}/v1/chat/completions`, chat({ model: 'gpt-4o' }), bearer(k.secret));
    assert.equal(r.status, 403, r.text);
    assert.match(r.json.error.message, /may not use model 'gpt-4o'/);
  } finally { await stop(gw.proc); }
});

test('revoke and rotate take effect on the next request', async () => {
  const gw = await startGateway({ providers: PROVIDERS, extra: 'auth = "keys",' });
  try {
    const k = await createKey(gw, { name: 'rot' });
    assert.equal((await post(`${gw.url}/v1/chat/completions`, chat(), bearer(k.secret))).status, 200);
    const rot = await admin(gw, 'POST', `/api/keys/${k.id}/rotate`);
    assert.equal(rot.status, 200, rot.text);
    assert.equal((await post(`${gw.url}/v1/chat/completions`, chat(), bearer(k.secret))).status, 401);
    assert.equal((await post(`${gw.url}/v1/chat/completions`, chat(), bearer(rot.json.secret))).status, 200);
    assert.equal((await admin(gw, 'POST', '/api/keys/rot/revoke')).status, 200);
    const r = await post(`${gw.url}/v1/chat/completions`, chat(), bearer(rot.json.secret));
    assert.equal(r.status, 401);
    assert.match(r.json.error.message, /key 'rot' was revoked/);
    const bad = await admin(gw, 'POST', '/api/keys', { name: 'x', rpm: -5 });
    assert.equal(bad.status, 400);
    assert.equal(bad.json.error.field, 'rpm');
  } finally { await stop(gw.proc); }
});

test('rpm and max_concurrency hold under concurrent load, with retry-after', async () => {
  const gw = await startGateway({ providers: PROVIDERS, extra: 'auth = "keys",' });
  try {
    const r1 = await createKey(gw, { name: 'rpm', rpm: 10 });
    const burst = await Promise.all(Array.from({ length: 30 }, () => post(`${gw.url}/v1/chat/completions`, chat(), bearer(r1.secret))));
    assert.equal(burst.filter((r) => r.status === 200).length, 10);
    const refused = burst.filter((r) => r.status === 429);
    assert.equal(refused.length, 20);
    assert.match(refused[0].json.error.message, /10 requests per minute/);
    assert.ok(Number(refused[0].headers.get('retry-after')) >= 1, 'retry-after header');

    // Slow streams hold their slot; 12 at once with max 3 -> at most 3 run.
    const c = await createKey(gw, { name: 'conc', max_concurrency: 3 });
    const slow = { ...bearer(c.secret), 'x-mock-ttft-ms': '600' };
    const results = await Promise.all(Array.from({ length: 12 }, () => post(`${gw.url}/v1/chat/completions`, chat({ stream: true }), slow)));
    const ok = results.filter((r) => r.status === 200).length;
    assert.equal(ok, 3, results.map((r) => r.status).join(','));
    assert.match(results.find((r) => r.status === 429).json.error.message, /max_concurrency/);
    const after = await admin(gw, 'GET', '/api/keys/conc');
    assert.equal(after.json.usage.inflight, 0, 'every slot released');
  } finally { await stop(gw.proc); }
});

test('a daily budget refuses at the boundary; spend never passes it', async () => {
  const gw = await startGateway({ providers: PROVIDERS, extra: 'auth = "keys",' });
  try {
    const budget = 0.0005;
    const k = await createKey(gw, { name: 'ci-bot', budget_usd_day: budget });
    let refusal = null, served = 0;
    for (let i = 0; i < 400 && !refusal; i++) {
      // Four at a time: the reservation of the worst case must hold the line.
      const rs = await Promise.all(Array.from({ length: 4 }, () => post(`${gw.url}/v1/chat/completions`, chat(), bearer(k.secret))));
      served += rs.filter((r) => r.status === 200).length;
      refusal = rs.find((r) => r.status === 429) || null;
    }
    assert.ok(refusal, 'the budget refused at some point');
    assert.ok(served > 0);
    // Whichever came first: the budget reached, the worst case not fitting,
    // or not fitting beside the requests still in flight.
    assert.match(refusal.json.error.message, /key 'ci-bot' (reached its|has \$[0-9.]+ left of its|has \$[0-9.]+ of its) \$0\.0005 daily budget/);
    const info = await admin(gw, 'GET', `/api/keys/${k.id}`);
    assert.ok(info.json.usage.spent_usd_day <= budget + 1e-9, `spent ${info.json.usage.spent_usd_day} <= ${budget}`);
    // The records agree with the key's view.
    await sleep(300);
    const sum = JSON.parse(sql(gw, `select total(cost) s from requests where key_id='${k.id}'`))[0].s;
    assert.ok(Math.abs(sum - info.json.usage.spent_usd_day) < 1e-6, `records ${sum} vs key ${info.json.usage.spent_usd_day}`);
    const status = await admin(gw, 'GET', '/api/budget/status');
    assert.equal(status.status, 200, status.text);
    assert.equal(status.json.keys[0].name, 'ci-bot');
  } finally { await stop(gw.proc); }
});

test('global budget: 429 budget_exceeded for everyone once spent', async () => {
  const gw = await startGateway({ providers: PROVIDERS, extra: 'budget = { daily_usd = 0.0003, warn_at = 0.8 },' });
  try {
    let refusal = null;
    for (let i = 0; i < 400 && !refusal; i++) {
      const r = await post(`${gw.url}/v1/chat/completions`, chat());
      if (r.status === 429) refusal = r;
      else assert.equal(r.status, 200, r.text);
    }
    assert.ok(refusal, 'refused');
    assert.match(refusal.json.error.message, /the gateway (reached|has \$[0-9.]+ left of) its \$0\.0003 daily budget/);
    const cfg = await admin(gw, 'GET', '/api/budget/config');
    assert.equal(cfg.json.daily_usd, 0.0003);
    assert.deepEqual(cfg.json.thresholds, [0.8, 1]);
    assert.equal((await admin(gw, 'POST', '/api/budget/pause')).status, 200);
    assert.equal((await post(`${gw.url}/v1/chat/completions`, chat())).status, 200, 'paused: served');
  } finally { await stop(gw.proc); }
});

test('keys and spend survive a restart', async () => {
  const gw = await startGateway({ providers: PROVIDERS, extra: 'auth = "keys",' });
  let again;
  try {
    const keep = await createKey(gw, { name: 'keep', rpm: 1000, budget_usd_day: 5 });
    const gone = await createKey(gw, { name: 'gone' });
    assert.equal((await admin(gw, 'POST', '/api/keys/gone/revoke')).status, 200);
    assert.equal((await post(`${gw.url}/v1/chat/completions`, chat(), bearer(keep.secret))).status, 200);
    const spent = (await admin(gw, 'GET', '/api/keys/keep')).json.usage.spent_usd_day;
    assert.ok(spent > 0);
    const r = await stop(gw.proc);
    assert.equal(r.code, 0);
    again = await start(['serve', '-c', gw.cfgPath], { port: gw.port });
    assert.equal((await post(`${gw.url}/v1/chat/completions`, chat(), bearer(keep.secret))).status, 200);
    assert.equal((await post(`${gw.url}/v1/chat/completions`, chat(), bearer(gone.secret))).status, 401);
    const info = await admin(gw, 'GET', '/api/keys/keep');
    assert.equal(info.json.rpm, 1000);
    assert.ok(info.json.usage.spent_usd_day > spent, 'spend read back from the records, then added to');
  } finally { await stop(again); await stop(gw.proc); }
});

test('moongate keys: create, list, revoke against the running gateway; clear error with none', async () => {
  const gw = await startGateway({ providers: PROVIDERS, extra: 'auth = "keys",' });
  const env = { ...process.env, MOONGATE_HOME: HOME };
  const cli = (...args) => spawnSync(BIN, ['keys', ...args, '--url', gw.url, '--token', gw.token], { env, encoding: 'utf8', timeout: 20000 });
  try {
    let r = cli('create', 'cli-bot', '--rpm', '100', '--budget-day', '5', '--models', 'gpt-4o-mini');
    assert.equal(r.status, 0, r.stderr);
    const secret = r.stdout.match(/mg-[0-9A-Za-z]{43}/)[0];
    assert.equal((await post(`${gw.url}/v1/chat/completions`, chat(), bearer(secret))).status, 200);
    r = cli('list');
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /cli-bot/);
    assert.match(r.stdout, /100 rpm/);
    assert.ok(!r.stdout.includes(secret));
    r = cli('revoke', 'cli-bot');
    assert.equal(r.status, 0, r.stderr);
    assert.equal((await post(`${gw.url}/v1/chat/completions`, chat(), bearer(secret))).status, 401);
    r = spawnSync(BIN, ['keys', 'list', '--url', gw.url, '--token', 'wrong-token-wrong-token'], { env, encoding: 'utf8' });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /refused the admin token/);
  } finally { await stop(gw.proc); }
  const port = await freePort();
  const r = spawnSync(BIN, ['keys', 'list', '--url', `http://127.0.0.1:${port}`, '--token', 'x'.repeat(20)], { env, encoding: 'utf8' });
  assert.equal(r.status, 1);
  assert.match(r.stderr, new RegExp(`no gateway at http://127.0.0.1:${port} — start one with \`moongate serve\``));
});
