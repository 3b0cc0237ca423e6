// crosstalk.test.mjs — multi-model sessions in a running gateway: the
// prompts each paradigm promises (read back from the mock upstream's echo
// of what it received), stop after round 5 with the recorded cost equal to
// the requests table's (sqlite3 CLI), pause then step, the budget, a
// provider failing mid-session (failover, and failure with a reason), a
// policy reload that leaves a running session alone, restarts, the API's
// reads, and the CLI against a gateway and standalone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import http from 'node:http';
import {
  BIN, HOME, startGateway, startMock, start, stop, admin, sleep, tmpDir, freePort,
  writeFileSync, readFileSync, existsSync, path,
} from './lib.mjs';

// The demo's provider names, so the example presets (which pin one) run.
const MOCKS = `
  { name = "mock-openai", format = "mock", models = { "gpt-4o-mini", "gpt-4o", "gpt-4.1-mini" }, mock = { speed = 0.25 } },
  { name = "mock-anthropic", format = "mock", models = { "claude-haiku-4-5", "claude-sonnet-4-5" }, mock = { speed = 0.25 } },
  { name = "mock-gemini", format = "mock", models = { "gemini-2.5-flash" }, mock = { speed = 0.25 } },`;

// The mock reflects the request it received; fast, so long echoes stream quickly.
const ECHO = { 'x-mock-echo': '1', 'x-mock-tps': '20000' };

function sql(db, query) {
  return execFileSync('sqlite3', ['-cmd', '.timeout 5000', db, query], { encoding: 'utf8' }).trim();
}

// Subscribe to the live stream; collects crosstalk_events (parsed).
function follow(gw) {
  const ctl = new AbortController();
  const events = [];
  const waiters = [];
  const ready = (async () => {
    const res = await fetch(gw.url + '/api/events', {
      headers: { authorization: `Bearer ${gw.token}` }, signal: ctl.signal,
    });
    return res;
  })();
  const done = ready.then(async (res) => {
    const dec = new TextDecoder();
    let buf = '';
    try {
      for await (const chunk of res.body) {
        buf += dec.decode(chunk, { stream: true });
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          let type = '', data = '';
          for (const line of block.split('\n')) {
            if (line.startsWith('event: ')) type = line.slice(7);
            else if (line.startsWith('data: ')) data += line.slice(6);
          }
          if (type !== 'crosstalk_event') continue;
          const ev = JSON.parse(data);
          events.push(ev);
          for (const w of [...waiters]) if (w.pred(ev)) { waiters.splice(waiters.indexOf(w), 1); w.resolve(ev); }
        }
      }
    } catch { /* aborted */ }
  });
  return {
    events,
    ready,
    until(pred, ms = 20000) {
      const hit = events.find(pred);
      if (hit) return Promise.resolve(hit);
      return new Promise((resolve, reject) => {
        const w = { pred, resolve };
        waiters.push(w);
        setTimeout(() => reject(new Error('timed out waiting for a crosstalk event')), ms);
      });
    },
    close() { ctl.abort(); return done; },
  };
}

async function create(gw, body) {
  const r = await admin(gw, 'POST', '/api/crosstalk/sessions', body);
  assert.equal(r.status, 201, r.text);
  return r.json;
}

async function session(gw, id) {
  const r = await admin(gw, 'GET', `/api/crosstalk/sessions/${id}`);
  assert.equal(r.status, 200, r.text);
  return r.json;
}

async function waitState(gw, id, pred, ms = 30000) {
  const end = Date.now() + ms;
  let s;
  while (Date.now() < end) {
    s = await session(gw, id);
    if (pred(s)) return s;
    await sleep(50);
  }
  throw new Error(`session ${id} stuck in ${s && s.state} (${s && s.turns_done} turns)`);
}

const ended = (s) => ['finished', 'stopped', 'failed', 'interrupted'].includes(s.state);

// The request the mock upstream received, from a turn's echoed reply.
function echoed(message) {
  const e = JSON.parse(message.content);
  const msgs = e.body.messages;
  return { system: msgs[0].content, user: msgs[msgs.length - 1].content, body: e.body, headers: e.headers };
}

function people(n, extra = {}) {
  const ids = ['ada', 'basil', 'cleo', 'dora'];
  return ids.slice(0, n).map((id, i) => ({
    id, model: i % 2 ? 'gemini-2.5-flash' : 'gpt-4o-mini', template: 'skeptic', ...extra,
  }));
}

test('each paradigm builds the prompts it promises (as the upstream receives them)', async () => {
  const gw = await startGateway({ providers: MOCKS });
  try {
    // relay on a ring: each speaker gets the previous reply to build on
    let c = await create(gw, { preset: { prompt: 'Tides?', participants: people(3, { headers: ECHO }), topology: 'ring', paradigm: 'relay', rounds: 1 } });
    let s = await waitState(gw, c.id, ended);
    assert.equal(s.state, 'finished');
    let turns = s.transcript.filter((m) => m.role !== 'prompt');
    assert.deepEqual(turns.map((m) => m.speaker), ['ada', 'basil', 'cleo']);
    let t = turns.map(echoed);
    assert.match(t[0].user, /^Topic: Tides\?/);
    assert.match(t[0].user, /You open the relay/);
    assert.match(t[0].system, /You are a skeptic/);
    assert.ok(t[1].user.includes('ada passed you this:\n\n' + turns[0].content), 'basil receives ada\'s reply');
    assert.match(t[1].user, /Build on it/);
    assert.ok(t[2].user.includes('basil passed you this'), 'cleo receives basil\'s reply');
    assert.equal(t[0].body.stream, true);
    assert.equal(t[0].headers['x-mock-echo'], '1');
    assert.deepEqual(s.events.map((e) => e.heard), [['cleo'], ['ada'], ['basil']], 'ring: each hears the one before');

    // debate on a mesh with a judge: sides, rebuttals, a verdict from the whole debate
    const debaters = people(2, { headers: ECHO });
    c = await create(gw, { preset: { prompt: 'Cats beat dogs', participants: [...debaters, { id: 'judge', model: 'gpt-4o', template: 'judge', headers: ECHO }], topology: 'mesh', paradigm: { name: 'debate', judge: 'judge' }, rounds: 2 } });
    s = await waitState(gw, c.id, ended);
    assert.equal(s.state, 'finished');
    assert.equal(s.reason, 'verdict');
    turns = s.transcript.filter((m) => m.role !== 'prompt');
    assert.deepEqual(turns.map((m) => m.speaker), ['ada', 'basil', 'ada', 'basil', 'judge']);
    t = turns.map(echoed);
    assert.match(t[0].user, /Motion: Cats beat dogs\n\nYou argue for\. State your opening position/);
    assert.match(t[1].user, /You argue against\./);
    assert.match(t[2].user, /Rebut the strongest point/);
    assert.ok(t[2].user.includes('basil (against):\n' + turns[1].content));
    assert.match(t[4].system, /impartial judge/);
    assert.match(t[4].user, /\[Round 1\] ada \(for\):/);
    assert.match(t[4].user, /\[Round 2\] basil \(against\):/);
    assert.match(t[4].user, /Give your verdict/);
    assert.equal(turns[4].role, 'judge');

    // memory on a chain: the shared memory, never the others' messages
    c = await create(gw, { preset: { prompt: 'Floods', participants: people(3, { headers: ECHO }), topology: 'chain', paradigm: { name: 'memory', memory_chars: 4000 }, rounds: 1 } });
    s = await waitState(gw, c.id, ended);
    turns = s.transcript.filter((m) => m.role !== 'prompt');
    t = turns.map(echoed);
    assert.match(t[0].user, /Shared memory so far:\n\(empty\)/);
    assert.match(t[1].user, /Shared memory so far:\nada: /);
    assert.match(t[2].user, /ada: [^\n]*\nbasil: /);
    assert.ok(!t[1].user.includes(turns[0].content), 'basil does not see ada\'s message');
    assert.match(t[0].user, /MEMORY:/);

    // report on a star: contributions, then the synthesis of all of them
    c = await create(gw, { preset: { prompt: 'Schools', participants: [...people(3, { headers: ECHO }), { id: 'editor', model: 'gpt-4o', template: 'synthesizer', headers: ECHO }], topology: { name: 'star', center: 'basil' }, paradigm: { name: 'report', synthesizer: 'editor' }, rounds: 1 } });
    s = await waitState(gw, c.id, ended);
    assert.equal(s.reason, 'report');
    turns = s.transcript.filter((m) => m.role !== 'prompt');
    assert.deepEqual(turns.map((m) => m.speaker), ['basil', 'ada', 'cleo', 'editor'], 'star: centre first');
    t = turns.map(echoed);
    assert.match(t[0].user, /Other contributions so far:\n\n\(none yet\)/);
    assert.ok(t[1].user.includes('basil:\n' + turns[0].content), 'a spoke hears the centre');
    assert.ok(!t[2].user.includes(turns[1].content), 'spokes do not hear each other');
    assert.match(t[3].user, /Contributions:\n\n\[Round 1\] basil:/);
    assert.match(t[3].user, /Write the final report/);
  } finally { await stop(gw.proc); }
});

test('a 20-round session stopped after round 5 records 5 rounds; its cost is the sum of its requests', async () => {
  const gw = await startGateway({ providers: MOCKS });
  const live = follow(gw);
  try {
    await live.ready;
    const c = await create(gw, { preset: { prompt: 'Count to twenty', participants: people(2), topology: 'ring', paradigm: 'relay', rounds: 20 } });
    assert.equal(c.rounds, 20);
    await live.until((e) => e.session === c.id && e.type === 'round_end' && e.round === 5);
    const r = await admin(gw, 'POST', `/api/crosstalk/sessions/${c.id}/stop`);
    assert.equal(r.status, 200, r.text);
    const end = await live.until((e) => e.session === c.id && e.type === 'session_end');
    assert.equal(end.state, 'stopped');
    const s = await waitState(gw, c.id, ended);
    assert.equal(s.state, 'stopped');
    assert.equal(s.reason, 'operator');
    assert.equal(s.rounds_done, 5);
    assert.equal(s.rounds_planned, 20);
    assert.equal(Math.max(...s.transcript.map((m) => m.round)), 5, 'no message past round 5');
    assert.equal(s.turns_done, 10);
    // The store writes requests in batches: wait for every one of them.
    let rows;
    for (let i = 0; i < 100; i++) {
      rows = sql(gw.db, `SELECT count(*), printf('%.10f', COALESCE(sum(cost), 0)) FROM requests WHERE crosstalk_session = '${c.id}'`).split('|');
      if (Number(rows[0]) === s.requests) break;
      await sleep(50);
    }
    assert.equal(Number(rows[0]), s.requests, 'one requests row per turn request');
    assert.ok(s.requests >= 10 && s.requests <= 11);
    assert.ok(Math.abs(Number(rows[1]) - s.cost) < 1e-9, `requests ${rows[1]} vs session ${s.cost}`);
    const dbRow = sql(gw.db, `SELECT state, rounds_done, printf('%.10f', cost) FROM crosstalk_sessions WHERE id = '${c.id}'`).split('|');
    assert.deepEqual(dbRow.slice(0, 2), ['stopped', '5']);
    assert.ok(Math.abs(Number(dbRow[2]) - Number(rows[1])) < 1e-9);
    const evCost = Number(sql(gw.db, `SELECT printf('%.10f', sum(cost)) FROM crosstalk_events WHERE session_id = '${c.id}'`));
    assert.ok(Math.abs(evCost - s.cost) < 1e-9, 'events add up to the session');
    // A stopped session refuses more control.
    const again = await admin(gw, 'POST', `/api/crosstalk/sessions/${c.id}/resume`);
    assert.equal(again.status, 409);
  } finally { await live.close(); await stop(gw.proc); }
});

test('pause then step runs exactly one turn', async () => {
  const gw = await startGateway({ providers: MOCKS });
  try {
    const c = await create(gw, { preset: { prompt: 'Step', participants: people(3), topology: 'mesh', paradigm: 'relay', rounds: 3 }, paused: true });
    assert.equal(c.state, 'paused');
    await sleep(400);
    let s = await session(gw, c.id);
    assert.equal(s.turns_done, 0, 'a paused session does not start');
    assert.equal(s.events.length, 0);
    for (let k = 1; k <= 2; k++) {
      const r = await admin(gw, 'POST', `/api/crosstalk/sessions/${c.id}/step`);
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.state, 'stepping');
      s = await waitState(gw, c.id, (x) => x.state === 'paused' && x.turns_done === k);
      await sleep(400); // nothing more happens while paused
      s = await session(gw, c.id);
      assert.equal(s.turns_done, k);
      assert.equal(s.events.length, k);
      assert.equal(s.state, 'paused');
    }
    const bad = await admin(gw, 'POST', `/api/crosstalk/sessions/${c.id}/resume`);
    assert.equal(bad.status, 200);
    const twice = await admin(gw, 'POST', `/api/crosstalk/sessions/${c.id}/step`);
    assert.equal(twice.status, 409, 'step needs a paused session');
    // pause mid-run: the turn in flight completes, then nothing
    await admin(gw, 'POST', `/api/crosstalk/sessions/${c.id}/pause`);
    s = await waitState(gw, c.id, (x) => x.state === 'paused');
    await sleep(700);
    const n = (await session(gw, c.id)).turns_done;
    await sleep(500);
    assert.equal((await session(gw, c.id)).turns_done, n);
    await admin(gw, 'POST', `/api/crosstalk/sessions/${c.id}/resume`);
    s = await waitState(gw, c.id, ended);
    assert.equal(s.state, 'finished');
    assert.equal(s.turns_done, 9);
  } finally { await stop(gw.proc); }
});

test('the budget ends the session before a turn that could exceed it', async () => {
  const gw = await startGateway({ providers: MOCKS });
  try {
    // gpt-4o: $10 per million output tokens, so a 400-token turn may cost $0.004+.
    const c = await create(gw, { preset: { prompt: 'Spend', participants: people(2, { model: 'gpt-4o', max_tokens: 400 }), topology: 'ring', paradigm: 'relay', budget_usd: 0.01 } });
    assert.equal(c.budget_usd, 0.01);
    const s = await waitState(gw, c.id, ended);
    assert.equal(s.state, 'finished');
    assert.equal(s.reason, 'budget');
    assert.match(s.detail, /could cost up to \$0\.00[4-9]\d*; \$0\.00\d+ of the \$0\.010000 budget is left/);
    assert.ok(s.cost <= 0.01, `spent ${s.cost}`);
    assert.ok(s.turns_done >= 1);
    const worst = Number(s.detail.match(/up to \$([\d.]+)/)[1]);
    assert.ok(s.cost + worst > 0.01, 'it stopped only because the next turn could pass the budget');
    // A budget the first turn cannot fit runs nothing.
    const c2 = await create(gw, { preset: { prompt: 'x', participants: people(2, { model: 'gpt-4o', max_tokens: 400 }), topology: 'ring', paradigm: 'relay', budget_usd: 0.001 } });
    const s2 = await waitState(gw, c2.id, ended);
    assert.equal(s2.reason, 'budget');
    assert.equal(s2.requests, 0);
  } finally { await stop(gw.proc); }
});

test('a provider failing mid-session: failover keeps it going', async () => {
  const mock = await startMock(['--speed', '0.25']);
  const gw = await startGateway({
    providers: `{ name = "remote", format = "openai", base_url = "${mock.url}/v1", models = { "gpt-4o-mini" } },
                { name = "local", format = "mock", models = { "gpt-4o-mini" }, mock = { speed = 0.25 } },`,
  });
  const live = follow(gw);
  try {
    await live.ready;
    const c = await create(gw, { preset: { prompt: 'Failover', participants: people(2, { model: 'gpt-4o-mini' }), topology: 'ring', paradigm: 'relay', rounds: 4 } });
    await live.until((e) => e.session === c.id && e.type === 'round_end' && e.round === 1);
    await stop(mock.proc, 'SIGKILL');
    const s = await waitState(gw, c.id, ended);
    assert.equal(s.state, 'finished', s.detail);
    assert.equal(s.rounds_done, 4);
    const providers = s.events.map((e) => e.provider);
    assert.equal(providers[0], 'remote');
    assert.equal(providers[providers.length - 1], 'local', 'later turns failed over');
    // A turn cut mid-stream cannot move to another provider (its bytes were
    // already relayed): it fails, and its retry goes to the next provider.
    s.events.forEach((e, i) => {
      if (e.status !== 'success') assert.equal(s.events[i + 1].status, 'success', 'a failed turn is retried once and succeeds');
    });
    assert.equal(s.turns_done, 8);
  } finally { await live.close(); await stop(gw.proc); await stop(mock.proc); }
});

test('a provider failing mid-session with nowhere to go: failed, with the reason', async () => {
  const mock = await startMock(['--speed', '0.25']);
  const gw = await startGateway({
    providers: `{ name = "remote", format = "openai", base_url = "${mock.url}/v1", models = { "gpt-4o-mini" } },`,
  });
  const live = follow(gw);
  try {
    await live.ready;
    const c = await create(gw, { preset: { prompt: 'Fail', participants: people(2, { model: 'gpt-4o-mini' }), topology: 'ring', paradigm: 'relay', rounds: 10 } });
    await live.until((e) => e.session === c.id && e.type === 'round_end' && e.round === 1);
    await stop(mock.proc, 'SIGKILL');
    const s = await waitState(gw, c.id, ended);
    assert.equal(s.state, 'failed');
    assert.equal(s.reason, 'turn_failed');
    assert.match(s.detail, /^round \d+, (ada|basil) \(gpt-4o-mini\): error: .+/);
    const failed = s.events.filter((e) => e.status !== 'success');
    assert.equal(failed.length, 2, 'one retry, then the session fails');
    assert.ok(failed[0].error);
    assert.ok(s.rounds_done >= 1);
    const end = await live.until((e) => e.session === c.id && e.type === 'session_end');
    assert.equal(end.state, 'failed');
  } finally { await live.close(); await stop(gw.proc); await stop(mock.proc); }
});

const versioned = (v) => `-- a user paradigm, reloaded by the test
return {
  paradigms = {
    versioned = {
      messages = function(session, turn)
        return { { role = "system", content = "PARADIGM-VERSION-${v}" },
                 { role = "user", content = "turn " .. turn.round .. "." .. turn.index } }
      end,
    },
  },
}
`;

test('a policy reload during a session does not disturb it', async () => {
  const gw = await startGateway({ providers: MOCKS, policies: { 'paradigms.lua': versioned(1) } });
  const live = follow(gw);
  try {
    await live.ready;
    const preset = { prompt: 'Reload', participants: people(2, { headers: ECHO }), topology: 'ring', paradigm: 'versioned', rounds: 5 };
    const c = await create(gw, { preset });
    await live.until((e) => e.session === c.id && e.type === 'round_end' && e.round === 1);
    const before = (await admin(gw, 'GET', '/api/policies')).json.generation;
    writeFileSync(path.join(gw.polDir, 'paradigms.lua'), versioned(2));
    await admin(gw, 'POST', '/api/policies/reload');
    for (let i = 0; i < 100 && (await admin(gw, 'GET', '/api/policies')).json.generation <= before; i++) await sleep(50);
    assert.ok((await admin(gw, 'GET', '/api/policies')).json.generation > before, 'reloaded');
    const s = await waitState(gw, c.id, ended);
    assert.equal(s.state, 'finished', s.detail);
    assert.equal(s.rounds_done, 5);
    assert.equal(s.policy_generation, before);
    const systems = s.transcript.filter((m) => m.role !== 'prompt').map((m) => echoed(m).system);
    assert.equal(systems.length, 10);
    assert.ok(systems.every((x) => x === 'PARADIGM-VERSION-1'), 'the whole session kept its paradigm');
    assert.ok(s.events.every((e) => e.status === 'success'));
    const c2 = await create(gw, { preset: { ...preset, rounds: 1 } });
    const s2 = await waitState(gw, c2.id, ended);
    assert.equal(echoed(s2.transcript[1]).system, 'PARADIGM-VERSION-2', 'new sessions get the new one');
  } finally { await live.close(); await stop(gw.proc); }
});

test('presets by name, preset errors with file:line, list, detail and stats', async () => {
  const gw = await startGateway({ providers: MOCKS });
  try {
    const presets = await admin(gw, 'GET', '/api/crosstalk/presets');
    assert.deepEqual(presets.json.presets.map((p) => p.name), ['debate', 'interview', 'memory', 'relay', 'report']);
    assert.match(presets.json.presets[0].description, /argue a motion/);
    for (const name of ['relay', 'memory', 'report', 'interview']) {
      const x = await create(gw, { preset: name, rounds: name === 'interview' ? undefined : 1 });
      const done = await waitState(gw, x.id, ended);
      assert.equal(done.state, 'finished', `${name}: ${done.detail}`);
      assert.equal(done.paradigm, name);
      if (name === 'interview') assert.equal(done.reason, 'enough');
    }
    const c = await create(gw, { preset: 'debate', rounds: 1 });
    assert.equal(c.paradigm, 'debate');
    assert.equal(c.topology, 'mesh');
    assert.equal(c.participants.length, 3);
    const s = await waitState(gw, c.id, ended);
    assert.equal(s.state, 'finished');
    assert.equal(s.preset, 'debate');
    assert.equal(s.live, false);
    assert.ok(s.by_model.length >= 2);
    assert.equal(s.by_round.length, 1);
    assert.equal(s.by_participant.map((p) => p.participant).join(','), 'optimist,skeptic,judge');
    assert.ok(Math.abs(s.by_round[0].cost - s.cost) < 1e-12);

    const bad = await admin(gw, 'POST', '/api/crosstalk/sessions', { name: 'bad.lua', source: 'return {\n  prompt = "x",\n  participants = { { id = "a", model = "m", temperature = 9 } },\n  topology = "ring", paradigm = "relay",\n}\n' });
    assert.equal(bad.status, 400);
    assert.equal(bad.json.error.message, 'bad.lua:3: participants[1].temperature: expected a number from 0 to 2, got 9');
    const syntax = await admin(gw, 'POST', '/api/crosstalk/sessions', { name: 'oops.lua', source: 'return {\n prompt = \n' });
    assert.equal(syntax.status, 400);
    assert.match(syntax.json.error.message, /^oops\.lua:3: /);
    const marker = path.join(tmpDir('mg-ct-esc-'), 'escaped');
    for (const src of [`return os.execute("touch ${marker}")`, `return io.open("${marker}", "w")`,
      `return load("return 1")`, `return require("os")`, `return getmetatable("").__index.rep`,
      `local u = require("moongate.crosstalk.util"); u.name = nil; return {}`]) {
      const escape = await admin(gw, 'POST', '/api/crosstalk/sessions', { name: 'esc.lua', source: src });
      assert.equal(escape.status, 400, src);
      assert.match(escape.json.error.message, /^esc\.lua:1: |may require only/, src);
    }
    assert.ok(!existsSync(marker), 'a preset cannot run commands');
    const runaway = await admin(gw, 'POST', '/api/crosstalk/sessions', { name: 'loop.lua', source: 'while true do end' });
    assert.equal(runaway.status, 400);
    const missing = await admin(gw, 'POST', '/api/crosstalk/sessions', { preset: 'nope' });
    assert.equal(missing.status, 404);
    const traversal = await admin(gw, 'POST', '/api/crosstalk/sessions', { preset: '../demo' });
    assert.equal(traversal.status, 400);
    assert.equal((await admin(gw, 'GET', '/api/crosstalk/sessions/0123')).status, 404);
    assert.equal((await admin(gw, 'GET', `/api/crosstalk/sessions/${'0'.repeat(32)}`)).status, 404);
    assert.equal((await admin(gw, 'POST', `/api/crosstalk/sessions/${'0'.repeat(32)}/stop`)).status, 404);

    const list = await admin(gw, 'GET', '/api/crosstalk/sessions?state=finished&paradigm=debate');
    assert.equal((await admin(gw, 'GET', '/api/crosstalk/sessions?state=finished')).json.sessions.length, 5);
    assert.equal(list.json.sessions.length, 1);
    assert.equal(list.json.sessions[0].id, c.id);
    const none = await admin(gw, 'GET', '/api/crosstalk/sessions?state=running');
    assert.equal(none.json.sessions.length, 0);
    const stats = (await admin(gw, 'GET', '/api/crosstalk/stats')).json;
    assert.equal(stats.sessions, 5);
    assert.deepEqual(stats.by_paradigm.map((p) => p.paradigm).sort(), ['debate', 'interview', 'memory', 'relay', 'report']);
    assert.ok(Math.abs(stats.by_paradigm.find((p) => p.paradigm === 'debate').cost - s.cost) < 1e-12);
    assert.ok(stats.by_model.length >= 2);
    const noauth = await fetch(gw.url + '/api/crosstalk/sessions');
    assert.equal(noauth.status, 401);
  } finally { await stop(gw.proc); }
});

test('sessions the gateway stops under show as interrupted', async () => {
  const gw = await startGateway({ providers: MOCKS });
  let gw2;
  try {
    const a = await create(gw, { preset: { prompt: 'x', participants: people(2), topology: 'ring', paradigm: 'relay' } });
    await sleep(300);
    const r = await stop(gw.proc, 'SIGTERM');
    assert.equal(r.code, 0);
    assert.deepEqual(sql(gw.db, `SELECT state, reason FROM crosstalk_sessions WHERE id = '${a.id}'`).split('|'), ['interrupted', 'shutdown']);
    // A crash leaves it "running" in the database; the next start says interrupted.
    gw2 = await start(['serve', '-c', gw.cfgPath], { port: Number(new URL(gw.url).port) });
    const b = await create(gw, { preset: { prompt: 'x', participants: people(2), topology: 'ring', paradigm: 'relay' } });
    await sleep(300);
    gw2.kill('SIGKILL');
    await gw2.exited;
    assert.equal(sql(gw.db, `SELECT state FROM crosstalk_sessions WHERE id = '${b.id}'`), 'running');
    gw2 = await start(['serve', '-c', gw.cfgPath], { port: Number(new URL(gw.url).port) });
    const s = await session(gw, b.id);
    assert.equal(s.state, 'interrupted');
    assert.equal(s.reason, 'restart');
  } finally { await stop(gw.proc); await stop(gw2); }
});

// One request on a new connection: with workers = 2 the kernel spreads
// these over both workers (SO_REUSEPORT).
function adminFresh(gw, method, p, body) {
  return new Promise((resolve, reject) => {
    const u = new URL(gw.url + p);
    const req = http.request({
      host: u.hostname, port: u.port, path: u.pathname + u.search, method, agent: false,
      headers: { authorization: `Bearer ${gw.token}`, 'content-type': 'application/json' },
    }, (res) => {
      let text = '';
      res.on('data', (d) => { text += d; });
      res.on('end', () => resolve({ status: res.statusCode, json: JSON.parse(text || 'null'), text }));
    });
    req.on('error', reject);
    req.end(body ? JSON.stringify(body) : undefined);
  });
}

test('with two workers, every worker reads and controls every session', async () => {
  const gw = await startGateway({ providers: MOCKS, extra: 'workers = 2,' });
  try {
    const c = (await adminFresh(gw, 'POST', '/api/crosstalk/sessions', { preset: { prompt: 'w', participants: people(3), topology: 'ring', paradigm: 'relay', rounds: 2 }, paused: true })).json;
    const seen = new Set();
    for (let k = 1; k <= 4; k++) {
      const r = await adminFresh(gw, 'POST', `/api/crosstalk/sessions/${c.id}/step`);
      assert.ok(r.status === 200 || r.status === 202, r.text); // 202: posted to the owner's worker
      seen.add(r.status);
      const end = Date.now() + 20000;
      let s;
      do {
        s = (await adminFresh(gw, 'GET', `/api/crosstalk/sessions/${c.id}`)).json;
        if (s.state === 'paused' && s.turns_done === k) break;
        await sleep(50);
      } while (Date.now() < end);
      assert.equal(s.turns_done, k);
      assert.equal(s.live, true);
    }
    for (let i = 0; i < 10; i++) {
      const r = await adminFresh(gw, 'POST', `/api/crosstalk/sessions/${c.id}/resume`);
      assert.ok([200, 202, 409].includes(r.status), r.text);
    }
    const s = await waitState(gw, c.id, ended);
    assert.equal(s.state, 'finished');
    assert.equal(s.turns_done, 6);
    console.log(`control answers seen: ${[...seen].join(', ')}`);
  } finally { await stop(gw.proc); }
});

function runCli(args, { cwd, env = {}, interruptAfter = 0 } = {}) {
  return new Promise((resolve) => {
    const child = spawn(BIN, ['crosstalk', ...args], { cwd, env: { ...process.env, MOONGATE_HOME: HOME, NO_COLOR: '1', ...env } });
    let out = '', err = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { err += d; });
    let timer;
    if (interruptAfter) timer = setTimeout(() => child.kill('SIGINT'), interruptAfter);
    const killer = setTimeout(() => child.kill('SIGKILL'), 60000);
    child.on('exit', (code) => { clearTimeout(timer); clearTimeout(killer); resolve({ code, out, err }); });
  });
}

test('the CLI runs a preset on a running gateway and prints it live', async () => {
  const gw = await startGateway({ providers: MOCKS });
  try {
    const preset = path.join(HOME, 'examples/crosstalk/relay.lua');
    const r = await runCli([preset, '--rounds', '1', '--url', gw.url, '--token', gw.token]);
    assert.equal(r.code, 0, r.err + r.out);
    assert.match(r.out, /crosstalk relay · relay on ring · 1 round/);
    assert.match(r.out, /── round 1\/1 ──/);
    assert.match(r.out, /\nphilosopher \(gpt-4o-mini\)\nMock reply to: Topic: What would a city/);
    assert.match(r.out, /round 1\/1 · [\d.]+s · [\d,]+ tokens · \$0\.\d{6} · est\. \$0\.\d{6}/);
    assert.match(r.out, /■ finished \(rounds\): all 1 round done/);
    const id = r.out.match(/session ([0-9a-f]{32})/)[1];
    const s = await session(gw, id);
    assert.equal(s.state, 'finished');
    assert.equal(s.turns_done, 3);

    const j = await runCli([preset, '--rounds', '1', '--json', '--url', gw.url, '--token', gw.token]);
    assert.equal(j.code, 0, j.err);
    const lines = j.out.trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(lines[0].type, 'created');
    assert.equal(lines[lines.length - 1].type, 'session_end');
    assert.ok(lines.some((e) => e.type === 'token'));
    assert.equal(lines.filter((e) => e.type === 'turn_end').length, 3);

    const bad = await runCli([preset, '--url', gw.url, '--token', 'wrong']);
    assert.equal(bad.code, 1);
    const stopped = await runCli([preset, '--rounds', '50', '--url', gw.url, '--token', gw.token], { interruptAfter: 1500 });
    assert.equal(stopped.code, 3, stopped.err + stopped.out);
    assert.match(stopped.out, /■ stopped \(operator\)/);
  } finally { await stop(gw.proc); }
});

test('the CLI runs standalone with the same config and database; Ctrl-C records stopped', async () => {
  const dir = tmpDir('mg-ct-cli-');
  const port = await freePort();
  const cfg = path.join(dir, 'moongate.lua');
  mkdirSync(path.join(dir, 'policies'));
  writeFileSync(cfg, `return {
  listen = "127.0.0.1:${port}", db = "${dir}/mg.db", policies = "${dir}/policies",
  admin_token = "cli-token-0123456789abcdef", access_log = false,
  store = { flush_interval = 0.05 },
  providers = { ${MOCKS} },
}`);
  const preset = path.join(HOME, 'examples/crosstalk/debate.lua');
  const r = await runCli([preset, '-c', cfg, '--rounds', '1'], { cwd: dir });
  assert.equal(r.code, 0, r.err + r.out);
  assert.match(r.err, /no gateway at http:\/\/127\.0\.0\.1:\d+; running one in this process/);
  assert.match(r.out, /■ finished \(verdict\)/);
  const id = r.out.match(/session ([0-9a-f]{32})/)[1];
  assert.equal(sql(`${dir}/mg.db`, `SELECT state FROM crosstalk_sessions WHERE id = '${id}'`), 'finished');
  assert.equal(sql(`${dir}/mg.db`, `SELECT count(*) FROM requests WHERE crosstalk_session = '${id}'`), '3');
  const s = await runCli([preset, '-c', cfg, '--standalone', '--rounds', '30'], { cwd: dir, interruptAfter: 2000 });
  assert.equal(s.code, 3, s.err + s.out);
  const id2 = s.out.match(/session ([0-9a-f]{32})/)[1];
  const row = sql(`${dir}/mg.db`, `SELECT state, reason, printf('%.10f', cost) FROM crosstalk_sessions WHERE id = '${id2}'`).split('|');
  assert.deepEqual(row.slice(0, 2), ['stopped', 'operator']);
  const sum = sql(`${dir}/mg.db`, `SELECT printf('%.10f', COALESCE(sum(cost), 0)) FROM requests WHERE crosstalk_session = '${id2}'`);
  assert.equal(sum, row[2]);
});
