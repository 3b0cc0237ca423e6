// mock_sdk.test.mjs — `moongate mock` judged by the official SDKs talking to
// it directly: openai (chat completions and Responses, streaming and not,
// tools, parallel tools), @anthropic-ai/sdk (create, stream + finalMessage,
// tool_use, thinking) and @google/genai (generateContent and
// generateContentStream with function calls). Their parsers must accept
// every byte, and the assembled results must carry text, parsed tool
// arguments, a stop reason and usage. Raw HTTP checks cover the fault modes.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { GoogleGenAI } from '@google/genai';
import { startMock, stop, post, parseSSE } from './lib.mjs';

let mock, openai, anthropic, genai;

const weather = {
  type: 'function',
  function: {
    name: 'get_weather', description: 'weather for a city',
    parameters: { type: 'object', properties: { city: { type: 'string' }, unit: { type: 'string', enum: ['c', 'f'] } }, required: ['city'] },
  },
};
const clock = { type: 'function', function: { name: 'get_time', description: 'time in a zone', parameters: { type: 'object', properties: { tz: { type: 'string' } } } } };

before(async () => {
  mock = await startMock(['--speed', '0']);
  openai = new OpenAI({ baseURL: `${mock.url}/v1`, apiKey: 'sk-mock', maxRetries: 0 });
  anthropic = new Anthropic({ baseURL: mock.url, apiKey: 'sk-mock', maxRetries: 0 });
  genai = new GoogleGenAI({ apiKey: 'mock-key', httpOptions: { baseUrl: mock.url } });
});

after(async () => {
  const r = await stop(mock?.proc);
  assert.equal(r.code, 0, 'SIGTERM drains and exits 0');
});

test('openai chat: completion, stream with usage, helper stream', async () => {
  const c = await openai.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hello mock' }] });
  assert.match(c.choices[0].message.content, /^Mock reply to: hello mock/);
  assert.equal(c.choices[0].finish_reason, 'stop');
  assert.equal(c.usage.completion_tokens, 64);
  assert.equal(c.usage.total_tokens, c.usage.prompt_tokens + 64);

  const stream = await openai.chat.completions.create({
    model: 'gpt-4o-mini', stream: true, stream_options: { include_usage: true }, max_tokens: 10,
    messages: [{ role: 'user', content: 'hello mock' }],
  });
  let text = '', usage, finish;
  for await (const ch of stream) {
    text += ch.choices[0]?.delta?.content ?? '';
    finish = ch.choices[0]?.finish_reason ?? finish;
    if (ch.usage) usage = ch.usage;
  }
  assert.match(text, /^Mock reply to: hello mock/);
  assert.equal(finish, 'length');
  assert.equal(usage.completion_tokens, 10);

  const final = await openai.chat.completions.stream({ model: 'o3-mini', messages: [{ role: 'user', content: 'think first' }] }).finalChatCompletion();
  assert.ok(final.choices[0].message.content.length > 0);
});

test('openai chat: tool calls, parallel, streamed fragments', async () => {
  const one = await openai.chat.completions.create({
    model: 'gpt-4o-mini', tools: [weather], tool_choice: 'required', messages: [{ role: 'user', content: 'weather in Paris' }],
  });
  assert.equal(one.choices[0].finish_reason, 'tool_calls');
  const args = JSON.parse(one.choices[0].message.tool_calls[0].function.arguments);
  assert.equal(typeof args.city, 'string');
  assert.equal(args.unit, 'c');

  const par = await openai.chat.completions.create({
    model: 'gpt-4o-mini', tools: [weather, clock], messages: [{ role: 'user', content: 'call tools in parallel' }],
  });
  assert.deepEqual(par.choices[0].message.tool_calls.map((t) => t.function.name), ['get_weather', 'get_time']);

  const runner = openai.chat.completions.stream({
    model: 'gpt-4o-mini', tools: [weather, clock], tool_choice: 'required',
    messages: [{ role: 'user', content: 'both please' }],
  }, { headers: { 'x-mock-parallel': '2' } });
  const fc = await runner.finalChatCompletion();
  const calls = fc.choices[0].message.tool_calls;
  assert.equal(calls.length, 2);
  for (const tc of calls) {
    assert.match(tc.id, /^call_/);
    assert.equal(typeof JSON.parse(tc.function.arguments), 'object');
  }
});

test('openai embeddings and models', async () => {
  const e = await openai.embeddings.create({ model: 'text-embedding-3-small', input: ['a', 'b'] });
  assert.equal(e.data.length, 2);
  assert.equal(e.data[0].embedding.length, 8);
  const norm = Math.hypot(...e.data[0].embedding);
  assert.ok(Math.abs(norm - 1) < 1e-3, `unit vector, got ${norm}`);
  const models = [];
  for await (const m of openai.models.list()) models.push(m.id);
  assert.ok(models.length >= 3);
});

test('openai responses: create and stream, text and function calls', async () => {
  const r = await openai.responses.create({ model: 'gpt-4o', input: 'hello responses' });
  assert.match(r.output_text, /^Mock reply to: hello responses/);
  assert.equal(r.status, 'completed');
  assert.equal(r.usage.output_tokens, 64);

  const s = openai.responses.stream({ model: 'gpt-4o', input: 'stream please', max_output_tokens: 12 });
  let deltas = '', lastEvent;
  s.on('response.output_text.delta', (ev) => { deltas += ev.delta; });
  s.on('event', (ev) => { lastEvent = ev; });
  const fr = await s.finalResponse();
  assert.equal(fr.output.find((o) => o.type === 'message').content[0].text, deltas);
  assert.equal(lastEvent.type, 'response.incomplete');
  assert.equal(lastEvent.response.incomplete_details.reason, 'max_output_tokens');
  assert.equal(lastEvent.response.usage.output_tokens, 12);

  const tools = [{ type: 'function', name: 'lookup', parameters: { type: 'object', properties: { q: { type: 'string' } } } }];
  const events = [];
  const stream = await openai.responses.create({ model: 'o4-mini', input: 'use tool', tools, stream: true, reasoning: { effort: 'low' } });
  for await (const ev of stream) events.push(ev);
  const done = events.at(-1);
  assert.equal(done.type, 'response.completed');
  const call = done.response.output.find((o) => o.type === 'function_call');
  assert.equal(call.name, 'lookup');
  assert.equal(typeof JSON.parse(call.arguments).q, 'string');
  assert.ok(done.response.usage.output_tokens_details.reasoning_tokens > 0);
  assert.deepEqual(events.map((e) => e.sequence_number), events.map((_, i) => i));
});

test('anthropic: create, stream finalMessage, tool_use, thinking', async () => {
  const m = await anthropic.messages.create({ model: 'claude-sonnet-4-5', max_tokens: 50, messages: [{ role: 'user', content: 'hello claude' }] });
  assert.match(m.content[0].text, /^Mock reply to: hello claude/);
  assert.equal(m.stop_reason, 'max_tokens');
  assert.equal(m.usage.output_tokens, 50);

  const fm = await anthropic.messages.stream({ model: 'claude-sonnet-4-5', max_tokens: 1024, messages: [{ role: 'user', content: 'hello' }] }).finalMessage();
  assert.equal(fm.stop_reason, 'end_turn');
  assert.equal(fm.usage.output_tokens, 64);
  assert.ok(fm.usage.input_tokens > 0);

  const tools = [
    { name: 'get_weather', description: 'w', input_schema: { type: 'object', properties: { city: { type: 'string' } } } },
    { name: 'get_time', description: 't', input_schema: { type: 'object', properties: { tz: { type: 'string' } } } },
  ];
  const tu = await anthropic.messages.stream({ model: 'claude-sonnet-4-5', max_tokens: 200, tools, messages: [{ role: 'user', content: 'use tools in parallel' }] }).finalMessage();
  assert.equal(tu.stop_reason, 'tool_use');
  const uses = tu.content.filter((b) => b.type === 'tool_use');
  assert.deepEqual(uses.map((b) => b.name), ['get_weather', 'get_time']);
  assert.equal(typeof uses[0].input.city, 'string');

  const th = await anthropic.messages.stream({
    model: 'claude-sonnet-4-5', max_tokens: 2000, thinking: { type: 'enabled', budget_tokens: 1024 },
    messages: [{ role: 'user', content: 'think' }],
  }).finalMessage();
  const thinking = th.content.find((b) => b.type === 'thinking');
  assert.ok(thinking.thinking.length > 0 && thinking.signature.length > 0);
  assert.equal(th.content.at(-1).type, 'text');

  const count = await anthropic.messages.countTokens({ model: 'claude-sonnet-4-5', messages: [{ role: 'user', content: 'count these tokens' }] });
  assert.equal(count.input_tokens, 5);
});

test('gemini: generateContent and generateContentStream with function calls', async () => {
  const r = await genai.models.generateContent({ model: 'gemini-2.5-flash', contents: 'hello gemini' });
  assert.match(r.text, /^Mock reply to: hello gemini/);
  assert.equal(r.candidates[0].finishReason, 'STOP');
  assert.equal(r.usageMetadata.candidatesTokenCount, 64);

  let text = '', last;
  for await (const ch of await genai.models.generateContentStream({ model: 'gemini-2.5-flash', contents: 'stream it', config: { maxOutputTokens: 7 } })) {
    text += ch.text ?? '';
    last = ch;
  }
  assert.match(text, /^Mock reply to: stream it/);
  assert.equal(last.candidates[0].finishReason, 'MAX_TOKENS');
  assert.equal(last.usageMetadata.candidatesTokenCount, 7);

  const config = {
    tools: [{ functionDeclarations: [{ name: 'get_weather', parameters: { type: 'OBJECT', properties: { city: { type: 'STRING' } } } }] }],
    toolConfig: { functionCallingConfig: { mode: 'ANY' } },
  };
  const fc = await genai.models.generateContent({ model: 'gemini-2.5-pro', contents: 'weather?', config });
  assert.equal(fc.functionCalls[0].name, 'get_weather');
  assert.equal(typeof fc.functionCalls[0].args.city, 'string');
  const calls = [];
  for await (const ch of await genai.models.generateContentStream({ model: 'gemini-2.5-pro', contents: 'weather?', config })) calls.push(...(ch.functionCalls ?? []));
  assert.equal(calls[0].name, 'get_weather');
});

test('errors come back in the API own shape, and the SDKs raise them', async () => {
  await assert.rejects(
    openai.chat.completions.create({ model: 'gpt-4o-mini@429', messages: [{ role: 'user', content: 'x' }] }),
    (e) => e.status === 429 && e.headers.get('retry-after') === '1',
  );
  await assert.rejects(
    anthropic.messages.create({ model: 'claude@503', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] }),
    (e) => e.status === 503 && e.error?.error?.type === 'overloaded_error',
  );
  const g = await post(`${mock.url}/v1beta/models/g:generateContent`, '{bad');
  assert.equal(g.status, 400);
  assert.equal(g.json.error.status, 'INVALID_ARGUMENT');
  const nf = await post(`${mock.url}/v1/nothing`, {});
  assert.equal(nf.status, 404);
});

// Raw HTTP/1.1 over a socket: what arrives, and whether the body was ended.
function rawPost(path, body, headers = {}, ms = 3000) {
  return new Promise((resolve) => {
    const sock = net.connect(mock.port, '127.0.0.1');
    let data = '';
    const payload = JSON.stringify(body);
    const extra = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('');
    sock.on('connect', () => sock.write(`POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n${extra}Content-Length: ${Buffer.byteLength(payload)}\r\n\r\n${payload}`));
    sock.on('data', (d) => { data += d; });
    const timer = setTimeout(() => { sock.destroy(); resolve({ data, closed: false }); }, ms);
    sock.on('close', () => { clearTimeout(timer); resolve({ data, closed: true }); });
  });
}

test('faults over the wire: timeout, stall, malformed, wrongtype, cut', async () => {
  const chat = { model: 'gpt-4o-mini', stream: true, messages: [{ role: 'user', content: 'fault' }] };
  const t = await rawPost('/v1/chat/completions', chat, { 'x-mock-fault': 'timeout' }, 500);
  assert.equal(t.data, '', 'timeout sends nothing');
  const s = await rawPost('/v1/chat/completions', chat, { 'x-mock-fault': 'stall' }, 500);
  assert.match(s.data, /^HTTP\/1\.1 200/);
  assert.ok(s.data.includes('chat.completion.chunk') && !s.data.includes('[DONE]'), 'stall stops mid-way');

  const m = await post(`${mock.url}/v1/chat/completions`, chat, { 'x-mock-fault': 'malformed' });
  const broken = parseSSE(m.text).filter((e) => e.data !== '[DONE]').filter((e) => { try { JSON.parse(e.data); return false; } catch { return true; } });
  assert.equal(broken.length, 1);
  const w = await post(`${mock.url}/v1/chat/completions`, chat, { 'x-mock-fault': 'wrongtype' });
  assert.match(w.headers.get('content-type'), /text\/html/);

  const c = await rawPost('/v1/messages', { model: 'c', max_tokens: 50, stream: true, messages: [{ role: 'user', content: 'x' }] }, { 'x-mock-fault': 'cut' }, 1000);
  assert.ok(c.data.includes('content_block_delta'));
  assert.ok(!c.data.includes('message_stop'), 'the stream never ends cleanly');
});

test('echo shows what reached the mock', async () => {
  const r = await post(`${mock.url}/v1/chat/completions`, { model: 'm', messages: [{ role: 'user', content: 'echo' }] }, { 'x-mock-echo': '1', 'x-trace': 'abc' });
  const echo = JSON.parse(r.json.choices[0].message.content);
  assert.equal(echo.headers['x-trace'], 'abc');
  assert.equal(echo.body.messages[0].content, 'echo');
});

test('pacing: time to first token and tokens per second from headers', async () => {
  const t0 = Date.now();
  const res = await fetch(`${mock.url}/v1/chat/completions`, {
    method: 'POST', headers: { 'content-type': 'application/json', 'x-mock-ttft-ms': '300', 'x-mock-tps': '100' },
    body: JSON.stringify({ model: 'm', stream: true, max_tokens: 20, messages: [{ role: 'user', content: 'pace' }] }),
  });
  const reader = res.body.getReader();
  await reader.read();
  const ttft = Date.now() - t0;
  while (!(await reader.read()).done);
  const total = Date.now() - t0;
  assert.ok(ttft >= 290, `first byte after ${ttft} ms`);
  assert.ok(total >= 480 && total < 3000, `20 tokens at 100/s after the first: ${total} ms`);
});
