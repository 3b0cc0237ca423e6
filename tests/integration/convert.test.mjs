// convert.test.mjs — any client format to any provider format through the
// gateway, with the official SDKs as judges: openai (chat + responses),
// @anthropic-ai/sdk and @google/genai, each against moongate mock upstreams
// of every other format, streaming and not, text and tool calls. The
// assembled result must equal what the upstream sent in its own format.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { GoogleGenAI } from '@google/genai';
import { startMock, startGateway, stop, post } from './lib.mjs';

let mock, gw, openai, anthropic, genai;
// One model name per provider format; the provider decides the upstream format.
const MODEL = { openai: 'up-openai', anthropic: 'up-anthropic', responses: 'up-responses', gemini: 'up-gemini' };

before(async () => {
  mock = await startMock(['--speed', '0']);
  gw = await startGateway({
    providers: `
      { name = "p-openai", format = "openai", base_url = "${mock.url}/v1", api_key = "k", models = { "${MODEL.openai}" } },
      { name = "p-anthropic", format = "anthropic", base_url = "${mock.url}", api_key = "k", models = { "${MODEL.anthropic}" } },
      { name = "p-responses", format = "responses", base_url = "${mock.url}/v1", api_key = "k", models = { "${MODEL.responses}" } },
      { name = "p-gemini", format = "gemini", base_url = "${mock.url}", api_key = "k", models = { "${MODEL.gemini}" } },`,
  });
  openai = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'k', maxRetries: 0 });
  anthropic = new Anthropic({ baseURL: gw.url, apiKey: 'k', maxRetries: 0 });
  genai = new GoogleGenAI({ apiKey: 'k', httpOptions: { baseUrl: gw.url } });
});
after(async () => { await stop(gw?.proc); await stop(mock?.proc); });

const PROMPT = 'Tell me about moons';
const MAX = 24;

// What the upstream says when asked directly in its own format.
async function direct(fmt) {
  const m = MODEL[fmt];
  if (fmt === 'openai') {
    const r = await post(`${mock.url}/v1/chat/completions`, { model: m, max_tokens: MAX, messages: [{ role: 'user', content: PROMPT }] });
    return { text: r.json.choices[0].message.content, input: r.json.usage.prompt_tokens, output: r.json.usage.completion_tokens };
  }
  if (fmt === 'anthropic') {
    const r = await post(`${mock.url}/v1/messages`, { model: m, max_tokens: MAX, messages: [{ role: 'user', content: PROMPT }] });
    return { text: r.json.content[0].text, input: r.json.usage.input_tokens, output: r.json.usage.output_tokens };
  }
  if (fmt === 'responses') {
    const r = await post(`${mock.url}/v1/responses`, { model: m, max_output_tokens: MAX, input: PROMPT });
    const msg = r.json.output.find((o) => o.type === 'message');
    return { text: msg.content[0].text, input: r.json.usage.input_tokens, output: r.json.usage.output_tokens };
  }
  const r = await post(`${mock.url}/v1beta/models/${m}:generateContent`, { contents: [{ role: 'user', parts: [{ text: PROMPT }] }], generationConfig: { maxOutputTokens: MAX } });
  return { text: r.json.candidates[0].content.parts.map((p) => p.text).join(''), input: r.json.usageMetadata.promptTokenCount, output: r.json.usageMetadata.candidatesTokenCount };
}

const clients = {
  async openai(model, stream) {
    if (!stream) {
      const c = await openai.chat.completions.create({ model, max_tokens: MAX, messages: [{ role: 'user', content: PROMPT }] });
      return { text: c.choices[0].message.content, input: c.usage.prompt_tokens, output: c.usage.completion_tokens, stop: c.choices[0].finish_reason };
    }
    const s = await openai.chat.completions.create({ model, max_tokens: MAX, stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: PROMPT }] });
    let text = '', usage, stop;
    for await (const ch of s) { text += ch.choices[0]?.delta?.content ?? ''; stop = ch.choices[0]?.finish_reason ?? stop; if (ch.usage) usage = ch.usage; }
    return { text, input: usage.prompt_tokens, output: usage.completion_tokens, stop };
  },
  async anthropic(model, stream) {
    const req = { model, max_tokens: MAX, messages: [{ role: 'user', content: PROMPT }] };
    const m = stream ? await anthropic.messages.stream(req).finalMessage() : await anthropic.messages.create(req);
    return { text: m.content.map((b) => b.text ?? '').join(''), input: m.usage.input_tokens, output: m.usage.output_tokens, stop: m.stop_reason };
  },
  async responses(model, stream) {
    if (!stream) {
      const r = await openai.responses.create({ model, max_output_tokens: MAX, input: PROMPT });
      return { text: r.output_text, input: r.usage.input_tokens, output: r.usage.output_tokens, stop: r.status };
    }
    const s = await openai.responses.create({ model, max_output_tokens: MAX, input: PROMPT, stream: true });
    let text = '', final;
    for await (const ev of s) { if (ev.type === 'response.output_text.delta') text += ev.delta; if (ev.type === 'response.completed' || ev.type === 'response.incomplete') final = ev.response; }
    return { text, input: final.usage.input_tokens, output: final.usage.output_tokens, stop: final.status };
  },
  async gemini(model, stream) {
    const req = { model, contents: PROMPT, config: { maxOutputTokens: MAX } };
    if (!stream) {
      const r = await genai.models.generateContent(req);
      return { text: r.text, input: r.usageMetadata.promptTokenCount, output: r.usageMetadata.candidatesTokenCount, stop: r.candidates[0].finishReason };
    }
    let text = '', last;
    for await (const ch of await genai.models.generateContentStream(req)) { text += ch.text ?? ''; last = ch; }
    return { text, input: last.usageMetadata.promptTokenCount, output: last.usageMetadata.candidatesTokenCount, stop: last.candidates[0].finishReason };
  },
};

const maxStop = { openai: 'length', anthropic: 'max_tokens', responses: 'incomplete', gemini: 'MAX_TOKENS' };

for (const client of Object.keys(clients)) {
  for (const provider of Object.keys(MODEL)) {
    if (client === provider) continue;
    for (const stream of [false, true]) {
      test(`${client} client → ${provider} provider${stream ? ' (stream)' : ''}`, async () => {
        const want = await direct(provider);
        const got = await clients[client](MODEL[provider], stream);
        assert.equal(got.text, want.text, 'same text');
        assert.equal(got.input, want.input, 'same input tokens');
        assert.equal(got.output, want.output, 'same output tokens');
        assert.equal(got.stop, maxStop[client], 'stopped by max tokens, mapped to the client format');
      });
    }
  }
}

test('tool calls survive conversion: anthropic client → openai provider, parallel, streamed', async () => {
  const tools = ['get_weather', 'get_time'].map((name) => ({ name, description: name, input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } }));
  const m = await anthropic.messages.stream({ model: MODEL.openai, max_tokens: 200, tool_choice: { type: 'any' }, tools, messages: [{ role: 'user', content: 'use tool in parallel for Paris' }] }, { headers: { 'x-mock-parallel': '2' } }).finalMessage();
  assert.equal(m.stop_reason, 'tool_use');
  const calls = m.content.filter((b) => b.type === 'tool_use');
  assert.equal(calls.length, 2);
  assert.deepEqual(calls.map((c) => c.name).sort(), ['get_time', 'get_weather']);
  for (const c of calls) { assert.equal(typeof c.input, 'object'); assert.ok(c.id); }
});

test('tool calls survive conversion: openai client → anthropic and gemini providers', async () => {
  const weather = { type: 'function', function: { name: 'get_weather', description: 'w', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } } };
  for (const model of [MODEL.anthropic, MODEL.gemini]) {
    const c = await openai.chat.completions.create({ model, tool_choice: 'required', tools: [weather], messages: [{ role: 'user', content: 'use tool' }] });
    assert.equal(c.choices[0].finish_reason, 'tool_calls', model);
    const tc = c.choices[0].message.tool_calls[0];
    assert.equal(tc.function.name, 'get_weather');
    assert.equal(typeof JSON.parse(tc.function.arguments), 'object');
    const final = await openai.chat.completions.stream({ model, tool_choice: 'required', tools: [weather], messages: [{ role: 'user', content: 'use tool' }] }).finalChatCompletion();
    assert.equal(final.choices[0].message.tool_calls[0].function.name, 'get_weather', `${model} stream`);
  }
});

test('what cannot be converted is refused with a clear 400', async () => {
  const r = await post(`${gw.url}/v1/responses`, { model: MODEL.anthropic, input: 'x', previous_response_id: 'resp_123' });
  assert.equal(r.status, 400);
  assert.match(r.json.error.message, /previous_response_id/);
  const e = await post(`${gw.url}/v1/embeddings`, { model: MODEL.anthropic, input: 'x' });
  assert.equal(e.status, 400);
});
