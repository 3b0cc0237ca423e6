// alerts.test.mjs — alert rules, channels, insights and what-if in a running
// gateway, with local receivers on 127.0.0.1: an HTTP server capturing
// webhooks (checking the HMAC signature) and a tiny SMTP sink.
//   - a latency rule from a policy fires once within its cooldown (webhook +
//     e-mail), then resolves when latency drops; the history keeps both;
//   - an insight computed from a seeded history matches a hand-computed
//     saving, and applying it flips the routing flag a policy reads;
//   - a what-if replay (API and CLI) over the same history matches a
//     hand-computed figure.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import crypto from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { startGateway, stop, post, admin, sleep, BIN, HOME, writeFileSync, path } from './lib.mjs';

const SECRET = 's3cret-hmac-key';
const chat = (model, content = 'hi') => ({ model, messages: [{ role: 'user', content }] });

function hookServer() {
  const got = [];
  const srv = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => { body += d; });
    req.on('end', () => {
      got.push({ path: req.url, headers: req.headers, body });
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('ok');
    });
  });
  return new Promise((resolve) => srv.listen(0, '127.0.0.1', () => resolve({ srv, got, port: srv.address().port })));
}

// Enough SMTP for libcurl: 220 greeting, 250 to EHLO/MAIL/RCPT, 354 to DATA,
// the message up to CRLF.CRLF, 250, 221 to QUIT.
function smtpSink() {
  const messages = [];
  const srv = net.createServer((sock) => {
    let buf = '', inData = false, cur = null;
    sock.write('220 sink.test ESMTP\r\n');
    sock.on('error', () => {});
    sock.on('data', (d) => {
      buf += d.toString('utf8');
      for (;;) {
        if (inData) {
          const end = buf.indexOf('\r\n.\r\n');
          if (end < 0) return;
          cur.data = buf.slice(0, end);
          buf = buf.slice(end + 5);
          inData = false;
          messages.push(cur);
          sock.write('250 2.0.0 queued\r\n');
          continue;
        }
        const nl = buf.indexOf('\r\n');
        if (nl < 0) return;
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 2);
        const cmd = line.slice(0, 4).toUpperCase();
        if (cmd === 'EHLO' || cmd === 'HELO') sock.write('250 sink.test\r\n');
        else if (cmd === 'MAIL') { cur = { from: line, rcpt: [] }; sock.write('250 2.1.0 ok\r\n'); }
        else if (cmd === 'RCPT') { cur.rcpt.push(line); sock.write('250 2.1.5 ok\r\n'); }
        else if (cmd === 'DATA') { inData = true; sock.write('354 end with <CRLF>.<CRLF>\r\n'); }
        else if (cmd === 'QUIT') sock.end('221 2.0.0 bye\r\n');
        else if (cmd === 'RSET' || cmd === 'NOOP') sock.write('250 ok\r\n');
        else sock.write('502 5.5.2 not implemented\r\n');
      }
    });
  });
  return new Promise((resolve) => srv.listen(0, '127.0.0.1', () => resolve({ srv, messages, port: srv.address().port })));
}

async function until(what, fn, ms = 10000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await fn()) return;
    await sleep(50);
  }
  throw new Error(`timed out waiting for ${what}`);
}

function withOutput(e, gw) {
  e.message += `\n--- gateway output:\n${gw.proc.output.slice(-6000)}`;
  return e;
}

async function requireEngine(gw) {
  const r = await admin(gw, 'GET', '/api/alerts');
  assert.equal(r.status, 200, `the alerts engine is not wired into this gateway (GET /api/alerts: ${r.status} ${r.text})`);
  return r.json;
}

const PROVIDERS = `{ name = "mock", format = "mock", mock = { speed = 0 }, models = { "gpt-4o", "gpt-4o-mini" } },`;

test('a latency rule fires once within its cooldown, notifies webhook and e-mail, then resolves', async () => {
  const hook = await hookServer();
  const smtp = await smtpSink();
  const alertsLua = `return {
  alerts = {
    slow = { metric = "p95_latency", window = 4, op = ">", threshold = 200, min_samples = 3,
             cooldown = 3600, severity = "critical",
             channels = { { type = "webhook", url = "http://127.0.0.1:${hook.port}/hook", secret = "${SECRET}" }, "mail" } },
  },
}
`;
  const gw = await startGateway({ providers: PROVIDERS, policies: { 'alerts.lua': alertsLua } });
  try {
    await requireEngine(gw);
    let r = await admin(gw, 'POST', '/api/alerts/channels', {
      name: 'mail', type: 'email', url: `smtp://127.0.0.1:${smtp.port}`,
      from: 'gateway@test.local', to: ['ops@test.local'], retries: 0, timeout: 5,
    });
    assert.equal(r.status, 201, r.text);
    const listed = await admin(gw, 'GET', '/api/alerts/channels');
    assert.ok(listed.json.channels.some((c) => c.name === 'mail' && c.type === 'email'));

    // The test notification goes through the same SMTP path.
    r = await admin(gw, 'POST', '/api/alerts/test', { channel: 'mail' });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.ok, true);
    assert.equal(smtp.messages.length, 1);
    assert.match(smtp.messages[0].data, /Subject: \[moongate\] moongate test notification/);
    assert.match(smtp.messages[0].rcpt[0], /<ops@test\.local>/);

    // Slow traffic: 400 ms each.
    for (let i = 0; i < 5; i++) {
      const res = await post(`${gw.url}/v1/chat/completions`, chat('gpt-4o'), { 'x-mock-ttft-ms': '400' });
      assert.equal(res.status, 200, res.text);
    }
    r = await admin(gw, 'POST', '/api/alerts/evaluate');
    assert.equal(r.status, 200, r.text);
    await until('the alert webhook', () => hook.got.length >= 1);
    // More passes inside the cooldown: no second notification.
    for (let i = 0; i < 3; i++) await admin(gw, 'POST', '/api/alerts/evaluate');
    const active = await admin(gw, 'GET', '/api/alerts/active');
    assert.equal(active.json.active.length, 1);
    assert.equal(active.json.active[0].rule, 'slow');
    await until('the alert e-mail', () => smtp.messages.length >= 2);
    await sleep(300);
    assert.equal(hook.got.length, 1, 'one webhook within the cooldown');
    assert.equal(smtp.messages.length, 2, 'one e-mail within the cooldown');

    const fired = hook.got[0];
    const expect = 'sha256=' + crypto.createHmac('sha256', SECRET).update(fired.body).digest('hex');
    assert.equal(fired.headers['x-moongate-signature'], expect);
    assert.equal(fired.headers['x-moongate-event'], 'alert_triggered');
    const ev = JSON.parse(fired.body);
    assert.equal(ev.event, 'alert_triggered');
    assert.equal(ev.severity, 'critical');
    assert.equal(ev.alert.rule, 'slow');
    assert.ok(ev.alert.value >= 400 && ev.alert.value < 2000, `p95 ${ev.alert.value}`);
    assert.ok(ev.alert.samples >= 3);
    assert.match(smtp.messages[1].data, /Subject: \[moongate\] \[critical\] slow firing/);

    // Latency drops: once the slow requests leave the 4 s window, fast ones clear it.
    await sleep(4500);
    for (let i = 0; i < 5; i++) {
      const res = await post(`${gw.url}/v1/chat/completions`, chat('gpt-4o-mini'), { 'x-mock-ttft-ms': '0' });
      assert.equal(res.status, 200);
    }
    await admin(gw, 'POST', '/api/alerts/evaluate');
    await until('the resolution webhook', () => hook.got.length >= 2);
    const resolved = JSON.parse(hook.got[1].body);
    assert.equal(resolved.event, 'alert_resolved');
    assert.equal(resolved.alert.state, 'resolved');
    assert.equal((await admin(gw, 'GET', '/api/alerts/active')).json.active.length, 0);

    await until('the history rows', async () => {
      const h = await admin(gw, 'GET', '/api/alerts/history?rule=slow');
      return h.json.history.length >= 2;
    });
    const h = (await admin(gw, 'GET', '/api/alerts/history?rule=slow')).json.history;
    assert.deepEqual(h.map((x) => x.state), ['resolved', 'fired']);
    assert.ok(h[1].value >= 400 && h[1].notified === true && h[1].threshold === 200);
    assert.equal(hook.got.length, 2, 'nothing else was sent');
  } catch (e) {
    throw withOutput(e, gw);
  } finally {
    await stop(gw.proc);
    hook.srv.close();
    smtp.srv.close();
  }
});

test('API rules: validation, create, patch, delete; a dead channel answers, never hangs', async () => {
  const gw = await startGateway({ providers: PROVIDERS });
  try {
    await requireEngine(gw);
    let r = await admin(gw, 'POST', '/api/alerts/rules', { name: 'x', metric: 'error_rte' });
    assert.equal(r.status, 400);
    assert.match(r.json.error.message, /error_rte/);
    r = await admin(gw, 'POST', '/api/alerts/rules', { name: 'x', metric: 'error_rate', channels: ['nope'] });
    assert.equal(r.status, 400);
    r = await admin(gw, 'POST', '/api/alerts/rules', { name: 'errors', metric: 'error_rate', window: '10m', threshold: 0.1, group_by: 'provider' });
    assert.equal(r.status, 201, r.text);
    assert.equal(r.json.window, 600);
    r = await admin(gw, 'POST', '/api/alerts/rules', { name: 'errors', metric: 'cost' });
    assert.equal(r.status, 409);
    r = await admin(gw, 'PATCH', '/api/alerts/rules/errors', { threshold: 0.25 });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.threshold, 0.25);
    r = await admin(gw, 'GET', '/api/alerts/rules');
    assert.ok(r.json.rules.some((x) => x.name === 'errors' && x.source === 'api'));
    r = await admin(gw, 'DELETE', '/api/alerts/rules/errors');
    assert.equal(r.status, 200);
    r = await admin(gw, 'GET', '/api/alerts/rules/errors');
    assert.equal(r.status, 404);
    const t0 = Date.now();
    r = await admin(gw, 'POST', '/api/alerts/test', { channel: { type: 'slack', url: 'http://127.0.0.1:9/x', retries: 1, timeout: 2 } });
    assert.equal(r.status, 502);
    assert.equal(r.json.ok, false);
    assert.equal(r.json.attempts, 2);
    assert.ok(Date.now() - t0 < 9000);
  } catch (e) {
    throw withOutput(e, gw);
  } finally {
    await stop(gw.proc);
  }
});

// ---- seeded history: insights and what-if ------------------------------------

const DAY = 86400000;

// 200 small gpt-4o requests over the last 10 days: 800 input and 200 output
// tokens each, recorded at gpt-4o's price (2.50 / 10.00 per million):
//   (800 * 2.5 + 200 * 10) / 1e6 = 0.004 USD each, 0.8 in all.
// At gpt-4o-mini (0.15 / 0.60): (800 * 0.15 + 200 * 0.6) / 1e6 = 0.00024 each, 0.048 in all.
// 50 large requests (5000 in, 500 out): (5000 * 2.5 + 500 * 10) / 1e6 = 0.0175 each, 0.875.
function seed(db, now) {
  const cols = 'id, ts_ms, endpoint, client_format, provider_format, provider, model_requested, model_routed, ' +
    'status, http_status, upstream_status, stream, tokens_input, tokens_output, tokens_reasoning, ' +
    'tokens_cached_read, tokens_cache_write, tokens_total, cost, original_cost, savings, duration_ms, attempts';
  const sql = `
WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 199)
INSERT INTO requests (${cols})
SELECT printf('seed-small-%03d', i), ${now - 10 * DAY} + i * 3600000, '/v1/chat/completions', 'openai', 'mock',
  'mock', 'gpt-4o', 'gpt-4o', 'success', 200, 200, 0, 800, 200, 0, 0, 0, 1000, 0.004, 0.004, 0, 500, 1 FROM n;
WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 49)
INSERT INTO requests (${cols})
SELECT printf('seed-large-%03d', i), ${now - 5 * DAY} + i * 3600000, '/v1/chat/completions', 'openai', 'mock',
  'mock', 'gpt-4o', 'gpt-4o', 'success', 200, 200, 0, 5000, 500, 0, 0, 0, 5500, 0.0175, 0.0175, 0, 900, 1 FROM n;
`;
  execFileSync('sqlite3', ['-cmd', '.timeout 5000', db, sql]);
}

const CHEAP_SMALL = `return {
  route = function(req)
    if (req.tokens_in or 0) < 1000 then return "gpt-4o-mini" end
    return nil
  end,
}
`;

test('an insight over a seeded history matches the hand-computed saving; what-if too', async () => {
  // The routing policy reads the flag the insight's "apply" sets.
  const routing = `return {
  route = function(req)
    if mg.shared.dict("routing"):get("cheap_small") and req.model == "gpt-4o" then return "gpt-4o-mini" end
    return nil
  end,
}
`;
  const gw = await startGateway({ providers: PROVIDERS, policies: { 'routing.lua': routing } });
  try {
    await requireEngine(gw);
    const now = Date.now();
    seed(gw.db, now);

    // Insight: saving 0.8 - 0.048 = 0.752 over 10 days → 0.752 * 30 / 10 = 2.256 → 2.26 a month.
    let r = await admin(gw, 'POST', '/api/insights/generate');
    assert.equal(r.status, 200, r.text);
    const ins = r.json.insights.find((x) => x.generator === 'expensive_small');
    assert.ok(ins, JSON.stringify(r.json));
    assert.equal(ins.monthly_saving, 2.26);
    assert.match(ins.title, /gpt-4o-mini/);
    assert.match(ins.explanation, /200 of 250 gpt-4o requests/);
    assert.match(ins.explanation, /\$0\.75 saved/);
    assert.deepEqual(ins.actions.map((a) => a.action), ['apply', 'snooze', 'dismiss']);

    // What-if over the same rows (API): 200 of 250 move, saving 0.752.
    r = await admin(gw, 'POST', '/api/whatif', { policy: CHEAP_SMALL, since: '30d' });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.requests, 250);
    assert.equal(r.json.moved, 200);
    assert.ok(Math.abs(r.json.share_moved - 0.8) < 1e-9);
    assert.ok(Math.abs(r.json.old_cost - 1.675) < 1e-9, `old ${r.json.old_cost}`);
    assert.ok(Math.abs(r.json.new_cost - 0.923) < 1e-9, `new ${r.json.new_cost}`);
    assert.ok(Math.abs(r.json.saving - 0.752) < 1e-9, `saving ${r.json.saving}`);
    const m = r.json.models.find((x) => x.model === 'gpt-4o');
    assert.equal(m.top_target, 'gpt-4o-mini');
    r = await admin(gw, 'POST', '/api/whatif', { policy: 'return { route = ', since: '30d' });
    assert.equal(r.status, 400, 'a broken policy is reported');

    // The same from the command line.
    const pol = path.join(gw.dir, 'cheap_small.lua');
    writeFileSync(pol, CHEAP_SMALL);
    const out = execFileSync(BIN, ['whatif', pol, '--since', '30d', '--db', gw.db, '-c', gw.cfgPath, '--json'],
      { env: { ...process.env, MOONGATE_HOME: HOME }, encoding: 'utf8' });
    const cli = JSON.parse(out);
    assert.equal(cli.moved, 200);
    assert.ok(Math.abs(cli.saving - 0.752) < 1e-9);
    const table = execFileSync(BIN, ['whatif', pol, '--since', '30d', '--db', gw.db, '-c', gw.cfgPath],
      { env: { ...process.env, MOONGATE_HOME: HOME }, encoding: 'utf8' });
    assert.match(table, /gpt-4o\s+250\s+200\s+80\.0%/);

    // Apply: the routing policy now sends gpt-4o to gpt-4o-mini.
    let res = await post(`${gw.url}/v1/chat/completions`, chat('gpt-4o'));
    assert.equal(res.json.model.startsWith('gpt-4o-mini'), false);
    r = await admin(gw, 'POST', '/api/insights/action', { id: ins.id, action: 'apply' });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.applied, 'routing.cheap_small');
    res = await post(`${gw.url}/v1/chat/completions`, chat('gpt-4o'));
    assert.ok(res.json.model.startsWith('gpt-4o-mini'), res.text);
    r = await admin(gw, 'GET', '/api/insights');
    assert.ok(!r.json.insights.some((x) => x.id === ins.id), 'applied insights leave the active list');
    r = await admin(gw, 'GET', '/api/insights?state=all');
    assert.equal(r.json.insights.find((x) => x.id === ins.id).state, 'applied');
    r = await admin(gw, 'POST', '/api/insights/action', { id: 'nope', action: 'dismiss' });
    assert.equal(r.status, 404);
  } catch (e) {
    throw withOutput(e, gw);
  } finally {
    await stop(gw.proc);
  }
});

test('a budget_usage rule fires once when the daily budget passes 80%', async () => {
  const hook = await hookServer();
  const alertsLua = `return {
  alerts = {
    budget = { metric = "budget_usage", op = ">=", threshold = 0.8, cooldown = 3600,
               channels = { { type = "webhook", url = "http://127.0.0.1:${hook.port}/budget" } } },
  },
}
`;
  // gpt-4o at 2.50 / 10.00 per million, 20 output tokens: about $0.0002 a
  // request, so some eight requests pass 80% of $0.002 (the keys part
  // reserves the worst case, so max_tokens stays small).
  const gw = await startGateway({ providers: PROVIDERS, policies: { 'alerts.lua': alertsLua },
                                  extra: 'budget = { daily_usd = 0.002 },' });
  try {
    await requireEngine(gw);
    for (let i = 0; i < 40 && hook.got.length === 0; i++) {
      const res = await post(`${gw.url}/v1/chat/completions`, { ...chat('gpt-4o', 'tell me a long story'), max_tokens: 20 });
      if (res.status !== 200) break; // refused at 100%: the warning came before
      await admin(gw, 'POST', '/api/alerts/evaluate');
    }
    await admin(gw, 'POST', '/api/alerts/evaluate');
    await until('the budget webhook', () => hook.got.length >= 1);
    for (let i = 0; i < 3; i++) await admin(gw, 'POST', '/api/alerts/evaluate');
    await sleep(200);
    assert.equal(hook.got.length, 1, 'once per cooldown');
    const ev = JSON.parse(hook.got[0].body);
    assert.equal(ev.alert.rule, 'budget');
    assert.equal(ev.alert.labels.budget, 'global/day');
    assert.ok(ev.alert.value >= 0.8, `usage ${ev.alert.value}`);
  } catch (e) {
    throw withOutput(e, gw);
  } finally {
    await stop(gw.proc);
    hook.srv.close();
  }
});
