// dashboard.test.mjs — the bundled dashboard in a real browser (Debian's
// chromium driven by playwright-core) against a real gateway with a mock
// provider: login, Home counting live traffic, the Live feed (and its
// 200-row cap), Analytics agreeing with the summary API, Requests with
// the detail view, a broken policy's error with its line on Policies,
// System, logout. It prints the first-load time and bytes and the cost of
// one live update, and saves a screenshot of every page to
// tests/e2e/screenshots/. Needs MOONGATE_BIN / MOONGATE_HOME (set by ctest)
// and dashboard/vendor/ (this test runs dashboard/build.sh, idempotent).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { startGateway, startMock, stop, post, HOME } from '../integration/lib.mjs';

const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const HERE = path.dirname(fileURLToPath(import.meta.url));
const SHOTS = path.join(HERE, 'screenshots');
const LOAD_BUDGET_BYTES = 300 * 1024;
const skip = existsSync(CHROMIUM) ? false : `no chromium at ${CHROMIUM}`;

let mock, gw, context, page, userDir;
const report = {};
const pageErrors = [];

// Every response the page receives, with its size (headers + body), so the
// first load's bytes can be summed. The live stream never ends: left out.
const transfers = [];
function trackTransfers(p) {
  p.on('response', async (res) => {
    const url = res.url();
    if (url.includes('/api/events')) return;
    const entry = { url, status: res.status(), bytes: 0 };
    transfers.push(entry);
    try {
      const s = await res.request().sizes();
      entry.bytes = s.responseBodySize + s.responseHeadersSize;
    } catch { /* page closed */ }
  });
}

async function shot(name) {
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
}

async function kpiNumber(id) {
  const text = await page.textContent(`[data-kpi="${id}"]`);
  const n = Number(String(text).replace(/[^0-9.]/g, ''));
  return Number.isFinite(n) && /\d/.test(text) ? n : NaN;
}

async function chat(model, content = 'hello') {
  const r = await post(`${gw.url}/v1/chat/completions`, { model, messages: [{ role: 'user', content }] });
  assert.equal(r.status, 200, r.text);
  return r.headers.get('x-moongate-request-id');
}

async function traffic(n, models = ['gpt-4o-mini', 'claude-haiku-4-5']) {
  const ids = [];
  for (let i = 0; i < n; i += 10) {
    const batch = [];
    for (let j = i; j < Math.min(n, i + 10); j++) batch.push(chat(models[j % models.length], `message ${j}`));
    ids.push(...(await Promise.all(batch)));
  }
  return ids;
}

async function adminGet(p) {
  const res = await fetch(gw.url + p, { headers: { authorization: `Bearer ${gw.token}` }, signal: AbortSignal.timeout(10000) });
  assert.equal(res.status, 200, `${p}: ${res.status}`);
  return res.json();
}

// page.waitForFunction evaluates its predicate with eval inside the page,
// which the dashboard's Content-Security-Policy (no 'unsafe-eval') refuses;
// page.evaluate goes through the debugger protocol, so poll with it.
async function waitUntil(fn, arg, { timeout = 15000, what = fn.toString().slice(0, 120) } = {}) {
  const end = Date.now() + timeout;
  for (;;) {
    let ok = false;
    try { ok = await page.evaluate(fn, arg); } catch (e) { if (!/navigat|context was destroyed/i.test(e.message)) throw e; }
    if (ok) return ok;
    if (Date.now() > end) throw new Error(`timed out after ${timeout} ms waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

// Until no response has arrived for 500 ms ("networkidle" never comes: the
// live stream stays open).
async function quiet(ms = 500) {
  let n = -1;
  while (n !== transfers.length) {
    n = transfers.length;
    await new Promise((r) => setTimeout(r, ms));
  }
}

// Cost of the last n metrics_update handlers (window.__mgUpdateStats).
async function updateCost(n) {
  const xs = (await page.evaluate(() => window.__mgUpdateStats.recent.slice())).slice(-n).sort((a, b) => a - b);
  const r = (v) => +v.toFixed(3);
  return { samples: xs.length, medianMs: r(xs[Math.floor(xs.length / 2)] || 0), maxMs: r(xs[xs.length - 1] || 0) };
}

async function go(hash) {
  await page.evaluate((h) => { location.hash = h; }, hash);
}

before(async () => {
  if (skip) return;
  execFileSync('sh', [path.join(HOME, 'dashboard', 'build.sh')], { stdio: 'inherit' });
  mkdirSync(SHOTS, { recursive: true });
  mock = await startMock(['--speed', '0']);
  gw = await startGateway({
    // "flaky" answers 500 and comes first for gpt-4o: those requests fail
    // over to "openai", which the request detail shows as two attempts.
    providers: `
      { name = "flaky", format = "openai", base_url = "${mock.url}/v1", api_key = "sk-flaky-e2e", models = { "gpt-4o" }, headers = { ["x-mock-fault"] = "500" } },
      { name = "openai", format = "openai", base_url = "${mock.url}/v1", api_key = "sk-test-e2e", models = { "gpt-4o-mini", "gpt-4o" } },
      { name = "anthropic", format = "anthropic", base_url = "${mock.url}", api_key = "sk-ant-e2e", models = { "claude-haiku-4-5" } },`,
  });
  userDir = mkdtempSync(path.join(os.tmpdir(), 'mg-chromium-'));
  // Playwright takes the profile folder as an argument of its own (it
  // refuses --user-data-dir in args): a new, empty one per run.
  context = await chromium.launchPersistentContext(userDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1280, height: 860 },
    colorScheme: 'light',
  });
  page = context.pages()[0] || await context.newPage();
  page.setDefaultTimeout(15000);
  page.on('pageerror', (e) => { pageErrors.push(e.message); });
  page.on('console', (m) => {
    // A refused resource (the 401 before login, the 401 after logout) is
    // expected; anything else on the console (a CSP violation, an
    // exception) is a failure.
    if (m.type() === 'error' && !/Failed to load resource: the server responded with a status of 401/.test(m.text())) pageErrors.push(m.text());
  });
  trackTransfers(page);
});

after(async () => {
  if (context) await context.close();
  if (userDir) rmSync(userDir, { recursive: true, force: true });
  if (gw) await stop(gw.proc);
  if (mock) await stop(mock.proc);
  if (Object.keys(report).length) console.log('dashboard measurements:', JSON.stringify(report, null, 2));
});

test('log in with the admin token and see Home', { skip }, async (t) => {
  await page.goto(`${gw.url}/dashboard/`);
  await page.waitForSelector('#login:not([hidden])');
  const nav = await page.evaluate(() => {
    const n = performance.getEntriesByType('navigation')[0];
    return { domContentLoadedMs: Math.round(n.domContentLoadedEventEnd), loadMs: Math.round(n.loadEventEnd) };
  });
  await shot('login');

  await page.fill('#login-token', 'wrong-token-wrong-token');
  await page.click('#login-form button[type=submit]');
  await waitUntil(() => document.getElementById('login-error').textContent.includes('Wrong token'));

  await page.fill('#login-token', gw.token);
  const tLogin = Date.now();
  await page.click('#login-form button[type=submit]');
  await page.waitForSelector('#app:not([hidden])');
  await waitUntil(() => /\d/.test(document.querySelector('[data-kpi="requests"]')?.textContent || ''));
  await waitUntil(() => document.getElementById('conn').dataset.state === 'connected');
  const homeReadyMs = Date.now() - tLogin;
  await quiet();

  const bytes = transfers.reduce((a, x) => a + x.bytes, 0);
  report.firstLoad = {
    ...nav, loginToHomeMs: homeReadyMs, responses: transfers.length, bytes,
    largest: transfers.slice().sort((a, b) => b.bytes - a.bytes).slice(0, 3).map((x) => `${new URL(x.url).pathname} ${x.bytes}`),
  };
  t.diagnostic(`first load: ${JSON.stringify(report.firstLoad)}`);
  assert.ok(bytes < LOAD_BUDGET_BYTES, `first load transferred ${bytes} bytes (budget ${LOAD_BUDGET_BYTES})`);
  assert.ok(transfers.every((x) => x.url.startsWith(gw.url)), 'nothing loaded from another origin');

  // No request yet: the first-run panel is open and names this gateway.
  const firstRun = page.locator('details.firstrun');
  assert.equal(await firstRun.getAttribute('open'), '');
  const text = await firstRun.textContent();
  assert.ok(text.includes(`${gw.url}/v1`), 'OpenAI base URL shown');
  assert.ok(text.includes(`${gw.url}/v1/messages`), 'Anthropic curl example shown');
  assert.ok(text.includes('v1beta/models/'), 'Gemini example shown');
  assert.equal(await page.locator('tr[data-provider="openai"]').count(), 1, 'provider table lists openai');
  await shot('home-first-run');
});

test('traffic raises the request count on Home within seconds', { skip }, async (t) => {
  await go('#/home');
  await waitUntil(() => /\d/.test(document.querySelector('[data-kpi="requests"]')?.textContent || ''));
  const before = await kpiNumber('requests');
  await traffic(40);
  await waitUntil((want) => {
    const n = Number((document.querySelector('[data-kpi="requests"]').textContent || '').replace(/[^0-9]/g, ''));
    return n >= want;
  }, before + 40, { timeout: 5000 });
  await waitUntil(() => document.querySelector('.badge')?.dataset.level === 'healthy');
  // Steady state: metrics_update ticks on Home while traffic keeps coming.
  const stop = Date.now() + 5000;
  while (Date.now() < stop) await traffic(10);
  report.liveUpdate = { page: 'home', ...(await updateCost(5)) };
  t.diagnostic(`live update cost (Home): ${JSON.stringify(report.liveUpdate)}`);
  assert.ok(report.liveUpdate.samples > 0, 'metrics_update arrived');
  assert.ok(report.liveUpdate.medianMs < 4, 'a live update is a small part of a frame');
  // The first-run panel folds once the gateway has served requests.
  await waitUntil(() => !document.querySelector('details.firstrun')?.open);
  await shot('home');
});

test('Live shows request rows, expands one, and keeps at most 200', { skip }, async () => {
  await go('#/live');
  await page.waitForSelector('.feed-rows details');
  const id = await chat('gpt-4o', 'live row please');
  assert.ok(id, 'x-moongate-request-id header');
  const row = page.locator(`.feed-rows details[data-id="${id}"]`);
  await row.waitFor();
  await row.locator('summary').click();
  await page.waitForSelector(`.feed-rows details[data-id="${id}"] .detail .waterfall`);
  const detail = await row.textContent();
  assert.match(detail, /gpt-4o/);
  assert.match(detail, /failover: 2/, 'two attempts: flaky, then openai');
  assert.equal(await row.locator('.attempts li').count(), 2);
  assert.match(await row.locator('.attempts li').first().textContent(), /flaky/);
  assert.equal(await row.locator('.waterfall .ph-failed').count(), 1, 'the failed attempt is a phase');
  await shot('live');

  // Filter, then the cap: many more events than rows allowed.
  await page.fill('input[aria-label="Filter the feed"]', 'claude');
  await waitUntil(() => [...document.querySelectorAll('.feed-rows details')].every((d) => d.hidden || d.dataset.hay.includes('claude')));
  await page.fill('input[aria-label="Filter the feed"]', '');
  await traffic(230);
  await waitUntil(() => document.querySelectorAll('.feed-rows details').length >= 150, null, { timeout: 8000 });
  await page.waitForTimeout(1500);
  const rows = await page.locator('.feed-rows details').count();
  assert.ok(rows <= 200, `${rows} rows in the DOM`);
  // Live updates with the feed full and four sparklines drawing.
  await page.waitForTimeout(4000);
  report.liveUpdateOnLivePage = { ...(await updateCost(4)), feedRows: rows };
});

test('Analytics filtered by a model shows the count the summary API gives', { skip }, async (t) => {
  // One failure, so the errors panel has something to group.
  const bad = await post(`${gw.url}/v1/chat/completions`, { model: 'no-such-model', messages: [{ role: 'user', content: 'x' }] });
  assert.equal(bad.status, 404);
  await page.waitForTimeout(500); // let the store's writer flush the last records
  await go('#/analytics');
  await page.waitForSelector('button.link:has-text("gpt-4o-mini")');
  await waitUntil(() => /no-such-model/.test(document.body.textContent));
  await page.waitForSelector('.chart canvas');
  await shot('analytics');
  await page.click('button.link:has-text("gpt-4o-mini")');
  await waitUntil(() => location.hash.includes('model=gpt-4o-mini'));
  await waitUntil(() => /updated/.test(document.querySelector('.page-head [role=status]').textContent));
  const api = await adminGet('/api/analytics/summary?model=gpt-4o-mini');
  await waitUntil((want) => {
    const t = document.querySelector('[data-kpi="an-requests"]').textContent;
    return Number(t.replace(/[^0-9]/g, '')) === want;
  }, api.requests, { timeout: 5000 }).catch(() => {});
  const shown = await kpiNumber('an-requests');
  t.diagnostic(`analytics: page ${shown}, API ${api.requests}`);
  assert.ok(api.requests > 0);
  assert.equal(shown, api.requests);
  await page.waitForSelector('.chart canvas');
  const png = await page.evaluate(() => document.querySelector('.chart').__mgChart.toPNG());
  assert.match(png, /^data:image\/png;base64,/);
  const csv = await page.getAttribute('a:has-text("Export CSV")', 'href');
  assert.match(csv, /\/api\/analytics\/export\?.*format=csv.*model=gpt-4o-mini/);
  const download = await page.evaluate((u) => fetch(u).then(async (r) => ({ status: r.status, text: await r.text() })), csv);
  assert.equal(download.status, 200);
  assert.equal(download.text.trim().split('\n').length, api.requests + 1, 'CSV: a header and one line per request');

  // The top bar's environment reaches every analytics call.
  await page.fill('#env', 'no-such-environment');
  await page.press('#env', 'Enter');
  await waitUntil(() => document.querySelector('[data-kpi="an-requests"]').textContent.trim() === '0');
  await page.fill('#env', '');
  await page.press('#env', 'Enter');
  await waitUntil((want) => Number(document.querySelector('[data-kpi="an-requests"]').textContent.replace(/[^0-9]/g, '')) === want, api.requests);
  await quiet();
  const assets = transfers.filter((x) => new URL(x.url).pathname.startsWith('/dashboard/'));
  report.allDashboardAssets = { files: new Set(assets.map((x) => x.url)).size, bytes: assets.reduce((a, x) => a + x.bytes, 0) };
  await shot('analytics-model');
});

test('Requests lists stored requests and opens one with its phases', { skip }, async () => {
  await go('#/requests');
  await page.waitForSelector('tbody tr.clickable');
  await shot('requests');
  await page.click('tbody tr.clickable >> nth=0');
  await page.waitForSelector('.record .waterfall');
  const text = await page.textContent('.record');
  for (const field of ['gateway', 'generation', 'model_routed', 'attempts_json']) assert.ok(text.includes(field), field);
  await shot('request-detail');
});

test('Policies shows a broken policy file with its line number', { skip }, async () => {
  const bad = path.join(gw.polDir, '50_broken.lua');
  writeFileSync(bad, 'return { route = function( end }\n');
  try {
    await go('#/policies');
    await page.waitForSelector('button:has-text("Reload policies")');
    await page.click('button:has-text("Reload policies")');
    const err = page.locator('[data-policy-error]');
    await err.waitFor();
    const text = await err.textContent();
    assert.match(text, /50_broken\.lua line 1/);
    await shot('policies-error');
  } finally {
    unlinkSync(bad);
  }
  await page.click('button:has-text("Reload policies")');
  await waitUntil(() => /Reloaded/.test(document.querySelector('.page-head [role=status]').textContent));
  await shot('policies');
});

test('System shows the store counters', { skip }, async () => {
  await go('#/system');
  await waitUntil(() => /\d/.test(document.querySelector('[data-kpi="store-written"]')?.textContent || ''));
  assert.ok(await kpiNumber('store-written') > 0);
  await shot('system');
});

test('dark theme and phone width', { skip }, async () => {
  await page.setViewportSize({ width: 390, height: 844 });
  await page.click('#theme');
  assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), 'dark');
  await go('#/home');
  await waitUntil(() => /\d/.test(document.querySelector('[data-kpi="requests"]')?.textContent || ''));
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `page is ${overflow}px wider than a phone`);
  await shot('home-dark-phone');
  await go('#/live');
  await page.waitForSelector('.feed-rows details');
  await shot('live-dark-phone');
  for (const hash of ['#/analytics', '#/requests', '#/policies', '#/system']) {
    await go(hash);
    await quiet(300);
    const wide = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(wide <= 0, `${hash} is ${wide}px wider than a phone`);
  }
  await shot('system-dark-phone');
  await page.click('#theme');
  await page.setViewportSize({ width: 1280, height: 860 });
});

test('the connection state follows the live stream: reconnecting while the gateway stalls, then live', { skip }, async () => {
  await go('#/home');
  const state = () => document.getElementById('conn').dataset.state;
  await waitUntil(() => document.getElementById('conn').dataset.state === 'connected');
  process.kill(gw.proc.pid, 'SIGSTOP');
  try {
    await waitUntil(() => document.getElementById('conn').dataset.state === 'reconnecting', null, { timeout: 12000 });
    await shot('home-reconnecting');
  } finally {
    process.kill(gw.proc.pid, 'SIGCONT');
  }
  await waitUntil(() => document.getElementById('conn').dataset.state === 'connected', null, { timeout: 30000 });
  assert.equal(await page.evaluate(state), 'connected');
});

test('log out returns to the login view and ends the session', { skip }, async () => {
  await page.click('#logout');
  await page.waitForSelector('#login:not([hidden])');
  const status = await page.evaluate(() => fetch('/api/status').then((r) => r.status));
  assert.equal(status, 401);
});

test('no script error or console error on any page', { skip }, () => {
  assert.deepEqual(pageErrors, []);
});
