// firstrun.js — "point a client at the gateway": the base URL each SDK
// family needs and copyable curl and SDK snippets, built from this page's
// own origin and the models the gateway actually serves. Shown open on
// Home while the gateway has served no request, folded afterwards.

import { h, codeBlock, copyButton } from '../dom.js';

function pickModel(providers, re, fallback) {
  const all = [];
  for (const p of providers || []) for (const m of (Array.isArray(p.models) ? p.models : [])) all.push(String(m));
  return all.find((m) => re.test(m)) || all[0] || fallback;
}

function urlRow(label, url) {
  return [h('span', null, label), h('span', null, h('code', null, url), ' ', copyButton(url))];
}

export function firstRunPanel(providers, { open = true } = {}) {
  const origin = location.origin;
  const openaiModel = pickModel(providers, /^(gpt|o\d|chatgpt)/i, 'gpt-4o-mini');
  const claudeModel = pickModel(providers, /^claude/i, 'claude-haiku-4-5');
  const geminiModel = pickModel(providers, /^gemini/i, 'gemini-2.5-flash');
  const q = (o) => JSON.stringify(o);

  const curlOpenAI = `curl ${origin}/v1/chat/completions \\
  -H 'content-type: application/json' \\
  -d '${q({ model: openaiModel, messages: [{ role: 'user', content: 'Say hello' }] })}'`;
  const curlAnthropic = `curl ${origin}/v1/messages \\
  -H 'content-type: application/json' -H 'anthropic-version: 2023-06-01' \\
  -d '${q({ model: claudeModel, max_tokens: 200, messages: [{ role: 'user', content: 'Say hello' }] })}'`;
  const curlGemini = `curl '${origin}/v1beta/models/${geminiModel}:generateContent' \\
  -H 'content-type: application/json' \\
  -d '${q({ contents: [{ role: 'user', parts: [{ text: 'Say hello' }] }] })}'`;
  const sdkOpenAI = `import OpenAI from 'openai';
const client = new OpenAI({ baseURL: '${origin}/v1', apiKey: process.env.MOONGATE_KEY ?? 'unused' });`;
  const sdkAnthropic = `import Anthropic from '@anthropic-ai/sdk';
const client = new Anthropic({ baseURL: '${origin}', apiKey: process.env.MOONGATE_KEY ?? 'unused' });`;
  const sdkGemini = `import { GoogleGenAI } from '@google/genai';
const ai = new GoogleGenAI({ apiKey: process.env.MOONGATE_KEY ?? 'unused', httpOptions: { baseUrl: '${origin}' } });`;

  return h('details', { class: 'panel firstrun', open },
    h('summary', null, h('strong', null, open ? 'No requests yet — point a client at the gateway' : 'Connect a client')),
    h('p', { class: 'muted' }, 'Use the gateway as the base URL of any SDK or tool. With virtual keys configured, pass a key as the API key; otherwise any value works.'),
    h('div', { class: 'urls' },
      urlRow('OpenAI SDKs', `${origin}/v1`),
      urlRow('Anthropic SDK', origin),
      urlRow('Gemini (baseUrl)', origin)),
    h('h3', null, 'Try it with curl'),
    codeBlock(curlOpenAI), codeBlock(curlAnthropic), codeBlock(curlGemini),
    h('h3', null, 'In code'),
    codeBlock(sdkOpenAI), codeBlock(sdkAnthropic), codeBlock(sdkGemini));
}
