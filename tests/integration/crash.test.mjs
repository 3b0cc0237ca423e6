// crash.test.mjs — crash safety of the metric store: a gateway with
// flush_interval 0.2 s under load is killed with SIGKILL; the database must
// then open clean (PRAGMA integrity_check = ok, read by the sqlite3 CLI)
// and hold every request that completed more than flush_interval + 1 s
// before the kill (its x-moongate-request-id is the row id).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { start, startGateway, stop, post, sleep } from './lib.mjs';

const FLUSH = 0.2;

function sqlite(db, sql) {
  return execFileSync('sqlite3', ['-batch', '-noheader', db, sql], { encoding: 'utf8', maxBuffer: 1 << 28 });
}

test('kill -9 under load: the database opens clean and holds what completed', async () => {
  const gw = await startGateway({
    providers: '{ name = "m", format = "mock", models = { "gpt-4o-mini", "claude-haiku" }, mock = { speed = 0 } }',
    extra: `store = { flush_interval = ${FLUSH} },`,
  });
  const done = []; // { id, at } per completed request, in completion order
  let running = true, failures = 0;
  const body = (i) => JSON.stringify({ model: i % 2 ? 'gpt-4o-mini' : 'claude-haiku', stream: i % 3 === 0,
                                        messages: [{ role: 'user', content: `request ${i}` }] });
  const worker = async (w) => {
    for (let i = w; running; i += 16) {
      try {
        const res = await fetch(`${gw.url}/v1/chat/completions`, {
          method: 'POST', headers: { 'content-type': 'application/json' }, body: body(i),
        });
        await res.text(); // complete means the whole body arrived
        if (res.status === 200) done.push({ id: res.headers.get('x-moongate-request-id'), at: Date.now() });
      } catch {
        failures++; // the requests in flight at the kill
        if (!running) return;
      }
    }
  };
  const workers = Array.from({ length: 16 }, (_, w) => worker(w));
  // Enough completed requests (however busy the machine), then more load
  // so the kill lands in the middle of it.
  const t0 = Date.now();
  while (done.length < 1000 && Date.now() - t0 < 30000) await sleep(100);
  await sleep(1500);
  const killedAt = Date.now();
  gw.proc.kill('SIGKILL');
  running = false;
  const exit = await gw.proc.exited;
  await Promise.all(workers);
  assert.equal(exit.sig, 'SIGKILL');

  assert.equal(sqlite(gw.db, 'PRAGMA integrity_check;').trim(), 'ok');
  const stored = new Set(sqlite(gw.db, 'SELECT id FROM requests;').split('\n').filter(Boolean));
  const due = done.filter((d) => d.at < killedAt - (FLUSH + 1) * 1000);
  const missing = due.filter((d) => !stored.has(d.id));
  const late = done.length - due.length;
  console.log(`${done.length} requests completed (${late} in the last ${FLUSH + 1} s), ${failures} cut by the kill; ` +
    `${stored.size} rows stored, ${missing.length} of the ${due.length} due missing`);
  assert.ok(due.length >= 500, `enough load before the kill (${due.length})`);
  assert.ok(late > 0, 'requests were completing when the kill came');
  assert.equal(missing.length, 0, `missing: ${missing.slice(0, 5).map((d) => d.id).join(', ')}`);
  // The rollups agree with the rows they summarise (same transaction).
  const rows = Number(sqlite(gw.db, 'SELECT count(*) FROM requests;'));
  const rolled = Number(sqlite(gw.db, 'SELECT coalesce(sum(requests), 0) FROM rollup_minute;'));
  assert.equal(rolled, rows);

  // And the gateway starts again on that database and goes on writing.
  const again = await start(['serve', '-c', gw.cfgPath], { port: gw.port });
  try {
    const r = await post(`${gw.url}/v1/chat/completions`, { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'after' }] });
    assert.equal(r.status, 200, r.text);
  } finally {
    const ex = await stop(again);
    assert.equal(ex.code, 0);
  }
  assert.equal(Number(sqlite(gw.db, 'SELECT count(*) FROM requests;')), rows + 1);
});
