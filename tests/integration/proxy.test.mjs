// proxy.test.mjs — the proxy path end to end: moongate serve in front of
// moongate mock (a real HTTP upstream), same-format OpenAI and Anthropic,
// streaming and not, errors in the client's format, faults, failover, and
// the request record each request leaves in SQLite.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { startMock, startGateway, stop, post, admin, parseSSE, sleep, freePort, recordOf } from './lib.mjs';

let mock, gw;

function sql(q) {
  return execFileSync('sqlite3', ['-json', gw.db, q], { encoding: 'utf8' }).trim();
}

before(async () => {
  mock = await startMock(['--speed', '0']);
  const dead = await freePort();
  gw = await startGateway({
    providers: `
      { name = "oai", format = "openai", base_url = "${mock.url}/v1", api_key = "sk-test-secret-1", models = { "gpt-4o-mini", "gpt-4o" } },
      { name = "ant", format = "anthropic", base_url = "${mock.url}", api_key = "sk-ant-secret-2", models = { "claude-haiku-4-5" } },
      { name = "broken", format = "openai", base_url = "${mock.url}/v1", api_key = "x", models = { "fo-model" }, headers = { ["x-mock-fault"] = "500" } },
      { name = "backup", format = "openai", base_url = "${mock.url}/v1", api_key = "x", models = { "fo-model" } },
      { name = "dead", format = "openai", base_url = "http://127.0.0.1:${dead}/v1", api_key = "x", models = { "dead-model", "fo-dead" } },
      { name = "alive", format = "openai", base_url = "${mock.url}/v1", api_key = "x", models = { "fo-dead" } },
      { name = "slow", format = "anthropic", base_url = "${mock.url}", api_key = "x", models = { "slow-model" }, timeouts = { first_byte = 0.5 }, headers = { ["x-mock-fault"] = "timeout" } },
    `,
  });
});

after(async () => {
  await stop(gw?.proc);
  await stop(mock?.proc);
});

const chat = (extra = {}) => ({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Say hello to the gateway' }], ...extra });

test('openai non-streaming: body, moongate headers and the record', async () => {
  const r = await post(`${gw.url}/v1/chat/completions`, chat());
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.object, 'chat.completion');
  assert.ok(r.json.choices[0].message.content.length > 0);
  assert.equal(r.headers.get('x-moongate-provider'), 'oai');
  assert.equal(r.headers.get('x-moongate-model'), 'gpt-4o-mini');
  const id = r.headers.get('x-moongate-request-id');
  assert.match(id, /^[0-9a-f]{32}$/);
  const rec = await recordOf(gw, id);
  assert.equal(rec.status, 'success');
  assert.equal(rec.http_status, 200);
  assert.equal(rec.provider, 'oai');
  assert.equal(rec.client_format, 'openai');
  assert.equal(rec.tokens_input, r.json.usage.prompt_tokens);
  assert.equal(rec.tokens_output, r.json.usage.completion_tokens);
  assert.equal(rec.tokens_estimated, 0);
  assert.ok(rec.cost > 0, 'gpt-4o-mini has a price');
});

test('openai streaming: usage is recorded but the usage chunk is stripped when not asked', async () => {
  const r = await post(`${gw.url}/v1/chat/completions`, chat({ stream: true }));
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type'), /text\/event-stream/);
  const ev = parseSSE(r.text);
  assert.equal(ev.at(-1).data, '[DONE]');
  const chunks = ev.slice(0, -1).map((e) => JSON.parse(e.data));
  assert.ok(chunks.every((c) => c.choices.length > 0), 'no usage-only chunk');
  const rec = await recordOf(gw, r.headers.get('x-moongate-request-id'));
  assert.ok(rec.tokens_output > 0);
  assert.equal(rec.tokens_estimated, 0);
  assert.equal(rec.stream, 1);
});

test('openai streaming with include_usage keeps the usage chunk', async () => {
  const r = await post(`${gw.url}/v1/chat/completions`, chat({ stream: true, stream_options: { include_usage: true } }));
  const chunks = parseSSE(r.text).slice(0, -1).map((e) => JSON.parse(e.data));
  const last = chunks.at(-1);
  assert.equal(last.choices.length, 0);
  assert.ok(last.usage.completion_tokens > 0);
  const rec = await recordOf(gw, r.headers.get('x-moongate-request-id'));
  assert.equal(rec.tokens_output, last.usage.completion_tokens);
});

test('anthropic messages, streaming and not, with exact usage', async () => {
  const body = { model: 'claude-haiku-4-5', max_tokens: 40, messages: [{ role: 'user', content: 'hi there' }] };
  const r = await post(`${gw.url}/v1/messages`, body, { 'anthropic-version': '2023-06-01' });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.type, 'message');
  assert.equal(r.headers.get('x-moongate-provider'), 'ant');
  const rec = await recordOf(gw, r.headers.get('x-moongate-request-id'));
  assert.equal(rec.tokens_output, r.json.usage.output_tokens);
  const s = await post(`${gw.url}/v1/messages`, { ...body, stream: true });
  const ev = parseSSE(s.text).map((e) => e.event);
  assert.equal(ev[0], 'message_start');
  assert.equal(ev.at(-1), 'message_stop');
  const srec = await recordOf(gw, s.headers.get('x-moongate-request-id'));
  assert.ok(srec.tokens_output > 0 && srec.tokens_input > 0);
});

test('count_tokens and models list', async () => {
  const r = await post(`${gw.url}/v1/messages/count_tokens`, { model: 'claude-haiku-4-5', messages: [{ role: 'user', content: 'count me' }] });
  assert.equal(r.status, 200, r.text);
  assert.ok(r.json.input_tokens > 0);
  const m = await fetch(`${gw.url}/v1/models`).then((x) => x.json());
  assert.equal(m.object, 'list');
  assert.ok(m.data.some((d) => d.id === 'claude-haiku-4-5' && d.owned_by === 'ant'));
});

test('client errors come back in the client format', async () => {
  let r = await post(`${gw.url}/v1/chat/completions`, '{"model": ');
  assert.equal(r.status, 400);
  assert.match(r.json.error.message, /invalid JSON/);
  r = await post(`${gw.url}/v1/messages`, '{not json');
  assert.equal(r.status, 400);
  assert.equal(r.json.type, 'error');
  assert.equal(r.json.error.type, 'invalid_request_error');
  r = await post(`${gw.url}/v1/chat/completions`, chat({ model: 'no-such-model' }));
  assert.equal(r.status, 404);
  assert.match(r.json.error.message, /no-such-model/);
  r = await post(`${gw.url}/v1beta/models/nope:generateContent`, { contents: [] });
  assert.equal(r.status, 404);
  assert.equal(r.json.error.status, 'NOT_FOUND');
});

test('upstream 4xx/5xx pass through; 500 fails over to the next provider', async () => {
  const r = await post(`${gw.url}/v1/chat/completions`, chat({ model: 'fo-model' }));
  assert.equal(r.status, 200, r.text);
  assert.equal(r.headers.get('x-moongate-provider'), 'backup');
  const rec = await recordOf(gw, r.headers.get('x-moongate-request-id'));
  assert.equal(rec.attempts, 2);
  const attempts = JSON.parse(rec.attempts_json);
  assert.equal(attempts[0].provider, 'broken');
  assert.equal(attempts[0].status, 500);
  assert.equal(attempts[1].provider, 'backup');
  const only = await post(`${gw.url}/v1/chat/completions`, chat({ model: 'broken/fo-model' }));
  assert.equal(only.status, 500);
  assert.ok(only.json.error, 'the upstream error body is passed through');
  const rl = await post(`${gw.url}/v1/chat/completions`, chat(), { 'x-mock-fault': '429' });
  assert.equal(rl.status, 429);
  assert.ok(rl.headers.get('retry-after'));
  const rrec = await recordOf(gw, rl.headers.get('x-moongate-request-id'));
  assert.equal(rrec.status, 'rate_limited');
});

test('unreachable upstream → 502, fails over when another provider serves the model', async () => {
  const r = await post(`${gw.url}/v1/chat/completions`, chat({ model: 'dead-model' }));
  assert.equal(r.status, 502);
  assert.match(r.json.error.message, /connect/);
  const f = await post(`${gw.url}/v1/chat/completions`, chat({ model: 'fo-dead' }));
  assert.equal(f.status, 200);
  assert.equal(f.headers.get('x-moongate-provider'), 'alive');
});

test('first-byte timeout → 504 in the client format', async () => {
  const t0 = Date.now();
  const r = await post(`${gw.url}/v1/messages`, { model: 'slow/slow-model', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] });
  assert.equal(r.status, 504);
  assert.equal(r.json.type, 'error');
  assert.ok(Date.now() - t0 < 5000);
  const rec = await recordOf(gw, r.headers.get('x-moongate-request-id'));
  assert.equal(rec.status, 'timeout');
});

test('a stream cut mid-way ends with the format error event, never a clean end', async () => {
  const o = await post(`${gw.url}/v1/chat/completions`, chat({ stream: true }), { 'x-mock-fault': 'cut' });
  assert.equal(o.status, 200);
  const ev = parseSSE(o.text);
  assert.notEqual(ev.at(-1).data, '[DONE]');
  assert.ok(JSON.parse(ev.at(-1).data).error, 'last event is an error object');
  const rec = await recordOf(gw, o.headers.get('x-moongate-request-id'));
  assert.equal(rec.status, 'error');
  assert.equal(rec.tokens_estimated, 1);
  const a = await post(`${gw.url}/v1/messages`, { model: 'claude-haiku-4-5', max_tokens: 50, stream: true, messages: [{ role: 'user', content: 'x' }] }, { 'x-mock-fault': 'cut' });
  const aev = parseSSE(a.text);
  assert.equal(aev.at(-1).event, 'error');
  assert.equal(JSON.parse(aev.at(-1).data).type, 'error');
});

test('stream request answered with the wrong content type is an upstream error', async () => {
  const r = await post(`${gw.url}/v1/chat/completions`, chat({ stream: true }), { 'x-mock-fault': 'wrongtype' });
  assert.equal(r.status, 502);
  assert.match(r.json.error.message, /content-type/);
});

test('a client that disconnects cancels its upstream', async () => {
  const ctl = new AbortController();
  const res = await fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST', signal: ctl.signal, headers: { 'content-type': 'application/json', 'x-mock-stream-bytes': '50000000' },
    body: JSON.stringify(chat({ stream: true })),
  });
  const id = res.headers.get('x-moongate-request-id');
  const reader = res.body.getReader();
  await reader.read();
  ctl.abort();
  const rec = await recordOf(gw, id);
  assert.equal(rec.status, 'cancelled');
  const st = await admin(gw, 'GET', '/api/status');
  assert.equal(st.json.active, 0);
});

test('provider keys never leak into responses, records or the admin API', async () => {
  const p = await admin(gw, 'GET', '/api/providers');
  assert.equal(p.status, 200);
  assert.ok(!p.text.includes('sk-test-secret-1'));
  assert.equal(p.json.providers[0].has_key, true);
  const dump = sql('select * from requests');
  assert.ok(!dump.includes('sk-test-secret-1') && !dump.includes('sk-ant-secret-2'));
  assert.ok(!gw.proc.output.includes('sk-test-secret-1'));
});
