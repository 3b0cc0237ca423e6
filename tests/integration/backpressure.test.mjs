// backpressure.test.mjs — a slow reader must not make the gateway buffer:
// a 50 MB upstream stream read by a client that takes small bites for 10 s.
// The gateway pauses the upstream (counted) and its RSS stays flat.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { readFileSync } from 'node:fs';
import { startMock, startGateway, stop, admin, sleep } from './lib.mjs';

const rssKiB = (pid) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);

test('slow reader: bounded memory and paused upstream', async () => {
  const mock = await startMock(['--speed', '0']);
  const gw = await startGateway({ providers: `{ name = "oai", format = "openai", base_url = "${mock.url}/v1", api_key = "x", models = { "gpt-4o-mini" } }` });
  try {
    // Warm up allocator and connection pools before the baseline.
    await fetch(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'gpt-4o-mini', stream: true, messages: [{ role: 'user', content: 'warm' }] }) }).then((r) => r.text());
    const before = rssKiB(gw.proc.pid);
    const body = JSON.stringify({ model: 'gpt-4o-mini', stream: true, messages: [{ role: 'user', content: 'big' }] });
    const sock = net.connect(gw.port, '127.0.0.1');
    await new Promise((r) => sock.on('connect', r));
    sock.write(`POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nx-mock-stream-bytes: 50000000\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
    let received = 0;
    sock.on('data', (d) => { received += d.length; sock.pause(); });
    let peak = before;
    const end = Date.now() + 10000;
    while (Date.now() < end) {
      await sleep(50);
      sock.resume(); // one small bite per 50 ms
      peak = Math.max(peak, rssKiB(gw.proc.pid));
    }
    sock.destroy();
    const grew = peak - before;
    const st = await admin(gw, 'GET', '/api/status');
    console.log(`received ${(received / 1e6).toFixed(1)} MB in 10 s; gateway RSS ${before} KiB → peak ${peak} KiB (+${grew} KiB); pauses ${st.json.upstream_pauses}`);
    assert.ok(received < 50e6, 'the reader really was slow');
    // Under AddressSanitizer (CI's second pass) the quarantine of freed
    // blocks (capped at 16 MiB by scripts/dev.sh) and shadow memory add
    // their own growth; a buffered 50 MB stream would still blow past it.
    const limit = process.env.ASAN_OPTIONS ? 49152 : 4096;
    assert.ok(grew < limit, `RSS grew ${grew} KiB (limit ${limit})`);
    assert.ok(st.json.upstream_pauses > 0, 'upstream was paused');
  } finally {
    await stop(gw.proc);
    await stop(mock.proc);
  }
});
