// sdk.test.mjs — the official SDKs as judges of the proxy path: openai and
// @anthropic-ai/sdk pointed at moongate (in front of moongate mock), streaming
// and not, with tools. Their own parsers must accept every response.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { startMock, startGateway, stop } from './lib.mjs';

let mock, gw, openai, anthropic;
const weather = { type: 'function', function: { name: 'get_weather', description: 'weather for a city', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } } };

before(async () => {
  mock = await startMock(['--speed', '0']);
  gw = await startGateway({
    providers: `
      { name = "oai", format = "openai", base_url = "${mock.url}/v1", api_key = "sk-upstream", models = { "gpt-4o-mini" } },
      { name = "ant", format = "anthropic", base_url = "${mock.url}", api_key = "sk-upstream", models = { "claude-sonnet-4-5" } },`,
  });
  openai = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'client-key', maxRetries: 0 });
  anthropic = new Anthropic({ baseURL: gw.url, apiKey: 'client-key', maxRetries: 0 });
});
after(async () => { await stop(gw?.proc); await stop(mock?.proc); });

test('openai: chat completion, stream, and parallel tool calls', async () => {
  const c = await openai.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hello' }] });
  assert.ok(c.choices[0].message.content.length > 0);
  assert.ok(c.usage.total_tokens > 0);
  let text = '';
  const stream = await openai.chat.completions.create({ model: 'gpt-4o-mini', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'hello' }] });
  let usage;
  for await (const ch of stream) { text += ch.choices[0]?.delta?.content ?? ''; if (ch.usage) usage = ch.usage; }
  assert.ok(text.length > 0);
  assert.ok(usage.completion_tokens > 0);
  const t = await openai.chat.completions.create({
    model: 'gpt-4o-mini', tool_choice: 'required', tools: [weather, { ...weather, function: { ...weather.function, name: 'get_time' } }],
    messages: [{ role: 'user', content: 'use tool in parallel for Paris' }],
  }, { headers: { 'x-mock-parallel': '2' } });
  assert.equal(t.choices[0].finish_reason, 'tool_calls');
  assert.equal(t.choices[0].message.tool_calls.length, 2);
  for (const tc of t.choices[0].message.tool_calls) assert.equal(typeof JSON.parse(tc.function.arguments), 'object');
  const runner = openai.chat.completions.stream({ model: 'gpt-4o-mini', tool_choice: 'required', tools: [weather], messages: [{ role: 'user', content: 'use tool' }] });
  const final = await runner.finalChatCompletion();
  assert.equal(final.choices[0].message.tool_calls[0].function.name, 'get_weather');
});

test('anthropic: message, stream with finalMessage, tool_use and thinking', async () => {
  const m = await anthropic.messages.create({ model: 'claude-sonnet-4-5', max_tokens: 50, messages: [{ role: 'user', content: 'hello' }] });
  assert.equal(m.type, 'message');
  assert.ok(m.usage.output_tokens > 0);
  const s = anthropic.messages.stream({ model: 'claude-sonnet-4-5', max_tokens: 64, messages: [{ role: 'user', content: 'hello' }] });
  const fm = await s.finalMessage();
  assert.ok(fm.content[0].text.length > 0);
  const tools = [{ name: 'get_weather', description: 'w', input_schema: { type: 'object', properties: { city: { type: 'string' } } } }];
  const tu = await anthropic.messages.stream({ model: 'claude-sonnet-4-5', max_tokens: 200, tool_choice: { type: 'any' }, tools, messages: [{ role: 'user', content: 'weather?' }] }).finalMessage();
  assert.equal(tu.stop_reason, 'tool_use');
  const block = tu.content.find((b) => b.type === 'tool_use');
  assert.equal(block.name, 'get_weather');
  assert.equal(typeof block.input, 'object');
  const th = await anthropic.messages.stream({ model: 'claude-sonnet-4-5', max_tokens: 300, thinking: { type: 'enabled', budget_tokens: 100 }, messages: [{ role: 'user', content: 'think' }] }).finalMessage();
  assert.ok(th.content.some((b) => b.type === 'thinking' && b.signature));
});

test('anthropic error surfaces as the SDK error type', async () => {
  await assert.rejects(
    anthropic.messages.create({ model: 'no-such-model', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] }),
    (e) => e.status === 404 && e.error?.error?.type === 'not_found_error',
  );
});
