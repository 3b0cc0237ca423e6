// load.mjs — mixed, validated traffic for the soak and kill -9 scripts:
// four client formats, streaming and not, same-format and converted,
// failover through a provider that always fails, a policy alias, injected
// upstream faults (which must fail the way they were told to), and SSE
// subscribers on /api/events. Every response is checked (status, shape, a
// stream's proper end); anything unexpected counts as a failure.
//
//   node load.mjs --url http://127.0.0.1:8080 --token T --duration 300 \
//     [--rate 150] [--concurrency 16] [--subscribers 4] [--pid PID] \
//     [--every 10] [--log completions.jsonl] [--summary out.json] [--only a,b]
//
// --pid: sample that process's RSS and open fds every --every seconds and
// print one line per sample. --log: one JSON line per finished request
// ({id, scenario, t_done}) for kill9.sh. Exit 0 when nothing unexpected
// happened, 1 otherwise. Models and providers expected (soak.sh writes the
// config): gpt-4o-mini (openai), claude-haiku-4-5 (anthropic), o4-mini
// (responses), gemini-2.5-flash (gemini), fo-model (a provider answering
// 500, then a working one), fault-model (a provider of its own, for
// faults injected with x-mock-fault), soak-alias (a policy route to
// oai/gpt-4o-mini).
import { readFileSync, readdirSync, createWriteStream } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseSSE as sseEvents } from '../integration/lib.mjs';

const args = Object.fromEntries(process.argv.slice(2).reduce((acc, a, i, all) => {
  if (a.startsWith('--')) acc.push([a.slice(2), all[i + 1]?.startsWith('--') || all[i + 1] === undefined ? '1' : all[i + 1]]);
  return acc;
}, []));
const URL_BASE = args.url;
const TOKEN = args.token || '';
const DURATION = Number(args.duration || 60) * 1000;
const RATE = Number(args.rate || 150);
const CONC = Number(args.concurrency || 16);
const SUBS = Number(args.subscribers ?? 4);
const PID = args.pid ? Number(args.pid) : null;
const EVERY = Number(args.every || 10) * 1000;
const log = args.log ? createWriteStream(args.log, { flags: 'a' }) : null;

const stats = { ok: 0, failed: 0, injected: 0, byScenario: {}, failures: [], samples: [], events: [] };
const note = (scenario, key) => {
  const s = (stats.byScenario[scenario] ||= { ok: 0, failed: 0, injected: 0 });
  s[key]++;
  stats[key]++;
};
const fail = (scenario, why) => {
  note(scenario, 'failed');
  if (stats.failures.length < 50) stats.failures.push(`${new Date().toISOString()} ${scenario}: ${why}`);
};

const msgs = (text) => [{ role: 'user', content: text }];
const PROMPTS = ['Say hello to the soak test', 'Summarise the plot of a short story in two sentences',
  'List three colours', 'Write a haiku about gateways', 'What is 2 + 2?'];
const prompt = () => PROMPTS[Math.floor(Math.random() * PROMPTS.length)];

// Client formats: how to ask and how to recognise a complete answer.
const CLIENT = {
  openai: {
    path: () => '/v1/chat/completions',
    body: (model, stream) => ({ model, stream, messages: msgs(prompt()), ...(stream ? { stream_options: { include_usage: true } } : {}) }),
    whole: (j) => typeof j.choices?.[0]?.message?.content === 'string' || Array.isArray(j.choices?.[0]?.message?.tool_calls),
    streamEnd: (ev) => ev.at(-1)?.data === '[DONE]',
  },
  anthropic: {
    path: () => '/v1/messages',
    body: (model, stream) => ({ model, stream, max_tokens: 200, messages: msgs(prompt()) }),
    whole: (j) => j.type === 'message' && Array.isArray(j.content),
    streamEnd: (ev) => ev.some((e) => e.event === 'message_stop'),
  },
  responses: {
    path: () => '/v1/responses',
    body: (model, stream) => ({ model, stream, input: prompt() }),
    whole: (j) => j.object === 'response' && Array.isArray(j.output),
    streamEnd: (ev) => ev.some((e) => e.event === 'response.completed'),
  },
  gemini: {
    path: (model, stream) => `/v1beta/models/${model}:${stream ? 'streamGenerateContent?alt=sse' : 'generateContent'}`,
    body: () => ({ contents: [{ role: 'user', parts: [{ text: prompt() }] }] }),
    whole: (j) => Array.isArray(j.candidates) && j.candidates.length > 0,
    streamEnd: (ev) => ev.length > 0 && ev.some((e) => /"finishReason"/.test(e.data)),
  },
};

// name: [weight, client format, model, stream, expectation]
const SCENARIOS = [
  ['openai', 10, 'openai', 'gpt-4o-mini', false],
  ['openai-stream', 10, 'openai', 'gpt-4o-mini', true],
  ['anthropic', 6, 'anthropic', 'claude-haiku-4-5', false],
  ['anthropic-stream', 8, 'anthropic', 'claude-haiku-4-5', true],
  ['gemini-stream', 4, 'gemini', 'gemini-2.5-flash', true],
  ['responses', 4, 'responses', 'o4-mini', false],
  ['conv-anthropic>openai-stream', 6, 'anthropic', 'gpt-4o-mini', true],
  ['conv-openai>anthropic', 5, 'openai', 'claude-haiku-4-5', false],
  ['conv-openai>gemini-stream', 4, 'openai', 'gemini-2.5-flash', true],
  ['conv-gemini>openai', 4, 'gemini', 'gpt-4o-mini', false],
  ['conv-responses>anthropic-stream', 4, 'responses', 'claude-haiku-4-5', true],
  ['failover', 6, 'openai', 'fo-model', false, { provider: 'backup' }],
  ['failover-stream', 4, 'anthropic', 'fo-model', true, { provider: 'backup' }],
  ['policy-alias', 4, 'openai', 'soak-alias', false, { model: 'gpt-4o-mini' }],
  // Faults the mock injects when asked by header (the gateway forwards
  // x-mock-*), on a provider of their own so no breaker touches the rest.
  ['inject-429', 2, 'openai', 'fault-model', false, { injected: 429, fault: '429' }],
  ['inject-503', 2, 'anthropic', 'fault-model', false, { injected: 'error', fault: '503' }],
  ['inject-cut', 2, 'openai', 'fault-model', true, { injected: 'cut', fault: 'cut' }],
  // Malformed SSE passes through a same-format stream as sent; whatever the
  // client gets, the request must end.
  ['inject-malformed', 1, 'openai', 'fault-model', true, { injected: 'any', fault: 'malformed' }],
];
// --only a,b: run just these scenarios (for narrowing a problem down).
if (args.only) {
  const keep = new Set(args.only.split(','));
  for (let i = SCENARIOS.length - 1; i >= 0; i--) if (!keep.has(SCENARIOS[i][0])) SCENARIOS.splice(i, 1);
  if (!SCENARIOS.length) throw new Error(`--only ${args.only}: no such scenario`);
}
const TOTAL_WEIGHT = SCENARIOS.reduce((a, s) => a + s[1], 0);
function pick() {
  let r = Math.random() * TOTAL_WEIGHT;
  for (const s of SCENARIOS) if ((r -= s[1]) < 0) return s;
  return SCENARIOS[0];
}

function isError(fmt, text) {
  try {
    const j = JSON.parse(text);
    return fmt === 'anthropic' ? j.type === 'error' && typeof j.error?.message === 'string'
      : typeof j.error?.message === 'string';
  } catch { return false; }
}

async function runOne() {
  const [name, , fmt, model, stream, expect = {}] = pick();
  const c = CLIENT[fmt];
  let res, text;
  try {
    res = await fetch(URL_BASE + c.path(model, stream), {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(expect.fault ? { 'x-mock-fault': expect.fault } : {}) },
      body: JSON.stringify(c.body(model, stream)), signal: AbortSignal.timeout(30000),
    });
    text = await res.text();
  } catch (e) {
    // A cut stream may end as a network error on the client side.
    if (expect.injected === 'cut') return note(name, 'injected');
    return fail(name, `request failed: ${e.cause?.code || e.message}`);
  }
  const id = res.headers.get('x-moongate-request-id');
  const done = Date.now();
  if (log && id) log.write(`${JSON.stringify({ id, scenario: name, status: res.status, t_done: done })}\n`);
  if (expect.injected === 'any') return note(name, 'injected');
  if (expect.injected) {
    // An injected fault must still come back as an error the client's SDK
    // reads: its status, or another error status once the breaker opened.
    if (expect.injected !== 'cut' && res.status >= 400 && isError(fmt, text)) {
      if (expect.injected === 429 && res.status !== 429 && !/unavailable|breaker|no provider/i.test(text)) {
        return fail(name, `injected 429 but got ${res.status}: ${text.slice(0, 200)}`);
      }
      return note(name, 'injected');
    }
    if (expect.injected === 'cut') {
      const ev = sseEvents(text);
      // A cut after commit: no proper end, or an error event. Before any
      // byte: an error status (failover had nowhere else to go).
      if (res.status >= 400 || !c.streamEnd(ev) || ev.some((e) => e.event === 'error' || /"error"/.test(e.data))) return note(name, 'injected');
    }
    return fail(name, `injected ${expect.injected} but got ${res.status}: ${text.slice(0, 200)}`);
  }
  if (res.status !== 200) return fail(name, `status ${res.status}: ${text.slice(0, 300)}`);
  if (expect.provider && res.headers.get('x-moongate-provider') !== expect.provider) {
    return fail(name, `served by ${res.headers.get('x-moongate-provider')}, expected ${expect.provider}`);
  }
  if (expect.model && res.headers.get('x-moongate-model') !== expect.model) {
    return fail(name, `model ${res.headers.get('x-moongate-model')}, expected ${expect.model}`);
  }
  if (stream) {
    const ev = sseEvents(text);
    if (!c.streamEnd(ev)) return fail(name, `stream did not end properly: …${text.slice(-300)}`);
  } else {
    let j;
    try { j = JSON.parse(text); } catch { return fail(name, `not JSON: ${text.slice(0, 200)}`); }
    if (!c.whole(j)) return fail(name, `unexpected body: ${text.slice(0, 300)}`);
  }
  note(name, 'ok');
}

let running = true;
async function worker(i) {
  const period = (CONC / RATE) * 1000; // each worker's share of the rate
  await sleep((i * period) / CONC);
  while (running) {
    const t0 = Date.now();
    await runOne();
    const left = period - (Date.now() - t0);
    if (left > 0) await sleep(left);
  }
}

// One /api/events subscriber: counts events; an unexpected end is a failure
// (then it reconnects).
const subs = [];
async function subscriber(i) {
  const st = { metrics: 0, requests: 0, drops: 0 };
  subs.push(st);
  while (running) {
    const ctl = new AbortController();
    const stopper = setInterval(() => { if (!running) ctl.abort(); }, 200);
    try {
      const res = await fetch(`${URL_BASE}/api/events`, { headers: { authorization: `Bearer ${TOKEN}` }, signal: ctl.signal });
      if (res.status !== 200) throw new Error(`status ${res.status}`);
      const dec = new TextDecoder();
      let buf = '';
      for await (const chunk of res.body) {
        buf += dec.decode(chunk, { stream: true });
        let k;
        while ((k = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, k);
          buf = buf.slice(k + 2);
          if (/^event: metrics_update/m.test(block)) st.metrics++;
          else if (/^event: request_event/m.test(block)) st.requests++;
        }
      }
      if (running) { st.drops++; fail(`subscriber-${i}`, 'event stream ended'); }
    } catch (e) {
      if (running) { st.drops++; fail(`subscriber-${i}`, `event stream: ${e.message}`); await sleep(500); }
    } finally {
      clearInterval(stopper);
    }
  }
}

function sample(t0) {
  if (!PID) return;
  try {
    const rss = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${PID}/status`, 'utf8'))[1]);
    const fds = readdirSync(`/proc/${PID}/fd`).length;
    const s = { t: Math.round((Date.now() - t0) / 1000), rss_kib: rss, fds, ok: stats.ok, failed: stats.failed, injected: stats.injected };
    stats.samples.push(s);
    console.log(`sample t=${String(s.t).padStart(5)}s rss=${String(rss).padStart(7)} KiB fds=${String(fds).padStart(4)} ok=${s.ok} failed=${s.failed} injected=${s.injected}`);
  } catch (e) {
    console.log(`sample: gateway ${PID} gone (${e.code || e.message})`);
  }
}

const t0 = Date.now();
sample(t0);
const sampler = setInterval(() => sample(t0), EVERY);
const workers = Array.from({ length: CONC }, (_, i) => worker(i));
const subscribers = Array.from({ length: SUBS }, (_, i) => subscriber(i));
await sleep(DURATION);
running = false;
await Promise.all(workers);
await Promise.all(subscribers);
clearInterval(sampler);
sample(t0);
if (log) await new Promise((r) => log.end(r));

const secs = (Date.now() - t0) / 1000;
const summary = {
  seconds: Math.round(secs), ok: stats.ok, failed: stats.failed, injected: stats.injected,
  rps: Math.round(((stats.ok + stats.failed + stats.injected) / secs) * 10) / 10,
  by_scenario: stats.byScenario, subscribers: subs, failures: stats.failures, samples: stats.samples,
};
if (args.summary) (await import('node:fs')).writeFileSync(args.summary, JSON.stringify(summary, null, 1));
console.log(`load: ${summary.ok} ok, ${summary.injected} injected faults as told, ${summary.failed} unexpected failures, ${summary.rps} req/s over ${summary.seconds} s`);
for (const [i, s] of subs.entries()) console.log(`load: subscriber ${i}: ${s.metrics} metrics_update, ${s.requests} request_event, ${s.drops} drops`);
for (const f of stats.failures) console.log(`load: FAILURE ${f}`);
// A subscriber must keep hearing the 1 Hz metrics tick.
const quiet = subs.filter((s) => s.metrics < (secs * 0.8) - 2);
if (quiet.length) console.log(`load: FAILURE ${quiet.length} subscriber(s) got fewer metrics_update events than ~1 per second`);
process.exit(stats.failed === 0 && quiet.length === 0 ? 0 : 1);
