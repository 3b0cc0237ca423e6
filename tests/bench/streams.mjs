// streams.mjs — the client half of streams.sh: holds N streaming chat
// completions open through a gateway at once, from 127.0.0.1, and measures
// the gateway's memory while they are open. Node 18+, no packages.
//
//   node streams.mjs --port P --pid GATEWAY_PID [--streams 10000] [--batch 250]
//                    [--tps 0.5] [--hold 20] [--model mock-gpt] [--budget 600]
//
// A warm-up round of short streams comes first; its end is the baseline.
// Streams are then opened in batches; a stream is open once its 200 and its first
// SSE event have arrived. The mock upstream sends one event per 1/tps
// seconds, and each request asks (x-mock-output-tokens) for enough events to
// outlive the opening of all the others plus `hold` seconds: the remaining
// opening time is estimated from the rate so far, with room to spare, so
// every stream is still open when the last one opens. Then: are all of them
// receiving (each gets a new event), and does each end with a finish_reason
// and `data: [DONE]` once left to finish. Prints progress, a table and a
// last line `STREAMSJSON {...}`. Exit 0 only if every stream completed.
import http from 'node:http';
import { readFileSync, readdirSync } from 'node:fs';

const args = {};
for (let i = 2; i < process.argv.length; i += 2) args[process.argv[i].replace(/^--/, '')] = process.argv[i + 1];
const PORT = Number(args.port);
const PID = Number(args.pid);
const N = Number(args.streams ?? 10000);
const BATCH = Number(args.batch ?? 250);
const TPS = Number(args.tps ?? 0.5);
const HOLD = Number(args.hold ?? 20);
const MODEL = args.model ?? 'mock-gpt';
const BUDGET_MS = Number(args.budget ?? 600) * 1000; // the whole run
const BATCH_TIMEOUT_MS = 60000;
const WARMUP = Math.min(200, N); // short streams first: warm the gateway, measure the opening rate
const SAMPLES = [1000, 2500, 5000, 10000].filter((n) => n < N).concat([N]);
if (!PORT || !PID || !(N > 0) || !(BATCH > 0) || !(TPS > 0)) {
  console.error('usage: node streams.mjs --port P --pid PID [--streams N] [--batch B] [--tps T] [--hold S]');
  process.exit(2);
}

const t0 = Date.now();
const secs = (ms) => (ms / 1000).toFixed(1);
const log = (msg) => console.log(`[${secs(Date.now() - t0).padStart(6)} s] ${msg}`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const overBudget = () => Date.now() - t0 > BUDGET_MS;

function procStats() {
  const status = readFileSync(`/proc/${PID}/status`, 'utf8');
  const kib = (k) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(status)?.[1] ?? NaN);
  return { rss: kib('VmRSS'), hwm: kib('VmHWM'), fds: readdirSync(`/proc/${PID}/fd`).length };
}

const agent = new http.Agent({ keepAlive: false, maxSockets: Infinity });
const streams = [];
let opened = 0, ended = 0;

// One stream. Keeps only counters and the last bytes, not the whole text,
// so the client's own memory stays small at 10k streams.
function openStream(id, tokens) {
  const s = { id, tokens, status: 0, open: false, done: false, ok: false, bytes: 0, finish: false, tail: '', err: '' };
  streams.push(s);
  const body = JSON.stringify({ model: MODEL, stream: true, messages: [{ role: 'user', content: `hold stream ${id}` }] });
  s.opening = new Promise((resolveOpen) => {
    const settle = () => { if (!s.open) { s.open = true; opened++; } resolveOpen(); };
    const end = (ok, err = '') => {
      if (s.done) return;
      s.done = true;
      s.ok = ok;
      s.err = err;
      ended++;
      resolveOpen();
    };
    const req = http.request({
      host: '127.0.0.1', port: PORT, path: '/v1/chat/completions', method: 'POST', agent,
      headers: {
        'content-type': 'application/json', 'content-length': Buffer.byteLength(body),
        'x-mock-ttft-ms': '0', 'x-mock-output-tokens': String(tokens),
      },
    }, (res) => {
      s.status = res.statusCode;
      res.setEncoding('utf8');
      res.on('data', (d) => {
        s.bytes += d.length;
        const window = s.tail + d;
        if (/"finish_reason":"(stop|length)"/.test(window)) s.finish = true;
        s.tail = window.slice(-256);
        if (!s.open && s.status === 200 && window.includes('data: ')) settle();
      });
      res.on('end', () => {
        const clean = s.status === 200 && s.finish && s.tail.endsWith('data: [DONE]\n\n');
        end(clean, clean ? '' : `status ${s.status}, finish ${s.finish}, ends ${JSON.stringify(s.tail.slice(-40))}`);
      });
      res.on('error', (e) => end(false, String(e)));
      res.on('close', () => end(false, 'connection closed before the end of the response'));
    });
    req.on('error', (e) => end(false, String(e)));
    req.end(body);
    s.req = req;
  });
  return s;
}

// Events each new stream asks for: enough to outlive the rest of the
// opening (estimated from the rate so far, or the warm-up's, doubled)
// plus HOLD seconds.
let rateGuess = 100;
function tokensFor(started) {
  const elapsed = (Date.now() - tOpen) / 1000;
  const rate = opened > 0 && elapsed > 0 ? opened / elapsed : rateGuess;
  const remaining = (N - started) / rate;
  return Math.max(4, Math.ceil(TPS * (HOLD + 2 * remaining + 2)));
}

// A round of short streams (two events each) before measuring: the
// gateway's one-time growth (Lua states, SQLite cache, curl's connection
// cache) stays out of the per-stream figure, and the time they take to
// open gives the first batch its rate estimate.
async function warmUp() {
  const start = Date.now();
  const batch = Array.from({ length: WARMUP }, (_, i) => openStream(-1 - i, 2));
  await Promise.race([Promise.all(batch.map((s) => s.opening)), sleep(BATCH_TIMEOUT_MS)]);
  const openSecs = Math.max(0.05, (Date.now() - start) / 1000);
  const until = Date.now() + (2 / TPS + 30) * 1000;
  while (batch.some((s) => !s.done) && Date.now() < until) await sleep(100);
  const ok = batch.filter((s) => s.ok).length;
  streams.length = 0;
  opened = 0;
  ended = 0;
  await sleep(1000); // closed connections reaped, records flushed
  return { ok, rate: WARMUP / openSecs };
}

const samples = [];
function sample(label) {
  const st = procStats();
  const open = opened - streams.filter((s) => s.open && s.done).length;
  samples.push({ label, open, ...st });
  return st;
}

const cold = procStats();
log(`gateway pid ${PID}: RSS ${(cold.rss / 1024).toFixed(1)} MiB, ${cold.fds} fds at start; warming up with ${WARMUP} short streams`);
const warm = await warmUp();
if (warm.ok !== WARMUP) {
  log(`warm-up: only ${warm.ok} of ${WARMUP} short streams completed`);
  process.exit(1);
}
rateGuess = warm.rate;
sample('idle');
log(`warm-up done (opened at ${warm.rate.toFixed(0)}/s): RSS ${(samples[0].rss / 1024).toFixed(1)} MiB, ${samples[0].fds} fds`);
let tOpen = Date.now();
let failed = 0;
while (streams.length < N && !overBudget()) {
  const next = SAMPLES.find((n) => n > streams.length) ?? N;
  const size = Math.min(BATCH, next - streams.length);
  const batch = [];
  for (let i = 0; i < size; i++) batch.push(openStream(streams.length, tokensFor(streams.length)));
  const timedOut = await Promise.race([
    Promise.all(batch.map((s) => s.opening)).then(() => false),
    sleep(BATCH_TIMEOUT_MS).then(() => true),
  ]);
  const bad = batch.filter((s) => !s.open || (s.done && !s.ok));
  failed += bad.length;
  if (timedOut || bad.length) {
    log(`batch at ${streams.length}: ${bad.length} of ${size} did not open${timedOut ? ' (timed out)' : ''}; first: ${bad[0]?.err || 'no first event'}`);
    break;
  }
  if (streams.length === next) {
    const st = sample(`${next}`);
    log(`open ${opened}/${N} (${(opened / ((Date.now() - tOpen) / 1000)).toFixed(0)}/s): gateway RSS ${(st.rss / 1024).toFixed(1)} MiB, ${st.fds} fds`);
  }
}
const openMs = Date.now() - tOpen;
const allOpen = opened === N && failed === 0;
const earlyEnds = streams.filter((s) => s.done).length;
log(allOpen ? `all ${N} open in ${secs(openMs)} s; ${earlyEnds} ended before the last opened`
            : `stopped opening: ${opened} open, ${failed} failed`);

// Receiving: every stream still running gets a new event.
let receiving = 0;
if (allOpen) {
  const before = streams.map((s) => s.bytes);
  const until = Date.now() + (3 / TPS + 10) * 1000;
  while (Date.now() < until && !overBudget()) {
    receiving = streams.filter((s, i) => s.bytes > before[i]).length;
    if (receiving === N) break;
    await sleep(250);
  }
  log(`receiving: ${receiving}/${N} streams got a new event after all were open`);
}

// Let them finish (or, after a failure, end them), bounded.
if (!allOpen) for (const s of streams) if (!s.done) s.req?.destroy();
const longest = Math.max(...streams.map((s) => s.tokens)) / TPS;
const finishBy = Date.now() + Math.min((longest + 30) * 1000, Math.max(5000, BUDGET_MS - (Date.now() - t0)));
let lastLog = Date.now();
while (ended < streams.length && Date.now() < finishBy) {
  await sleep(250);
  if (Date.now() - lastLog >= 5000) {
    log(`finished ${ended}/${streams.length}`);
    lastLog = Date.now();
  }
}
const end = procStats();
const completed = streams.filter((s) => s.ok).length;
const bad = streams.filter((s) => !s.ok);
log(`completed with finish_reason and [DONE]: ${completed}/${N}${bad.length ? `; first problem: stream ${bad[0].id}: ${bad[0].err || 'did not end in time'}` : ''}`);
agent.destroy();

// ------------------------------------------------------------------ table --
const idle = samples[0];
console.log('');
console.log(`${'open streams'.padStart(12)} ${'gateway RSS'.padStart(12)} ${'RSS/stream'.padStart(11)} ${'fds'.padStart(7)}`);
for (const s of samples) {
  const per = s.open > 0 ? `${((s.rss - idle.rss) / s.open).toFixed(1)} KiB` : '-';
  console.log(`${String(s.open).padStart(12)} ${`${(s.rss / 1024).toFixed(1)} MiB`.padStart(12)} ${per.padStart(11)} ${String(s.fds).padStart(7)}`);
}
const ok = allOpen && receiving === N && completed === N && earlyEnds === 0;
console.log(`time to open ${opened} streams: ${secs(openMs)} s (${(opened / (openMs / 1000)).toFixed(0)} streams/s, batches of ${BATCH})`);
console.log(`all open at once: ${allOpen && earlyEnds === 0 ? 'yes' : 'no'}; receiving: ${receiving}/${N}; completed: ${completed}/${N}`);
console.log(`gateway RSS at start ${(cold.rss / 1024).toFixed(1)} MiB; after the warm-up (the baseline above) ${(idle.rss / 1024).toFixed(1)} MiB`);
console.log(`gateway peak RSS (VmHWM) ${(end.hwm / 1024).toFixed(1)} MiB; after the streams ended: RSS ${(end.rss / 1024).toFixed(1)} MiB, ${end.fds} fds`);
console.log(`STREAMSJSON ${JSON.stringify({ n: N, cold, opened, failed, receiving, completed, early_ends: earlyEnds, open_ms: openMs, samples, end, ok })}`);
process.exit(ok ? 0 : 1);
