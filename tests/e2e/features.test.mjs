// features.test.mjs — the dashboard's Crosstalk, Alerts & budgets and
// Insights pages in a real browser (Debian's chromium through
// playwright-core) against a real gateway whose providers are the built-in
// mock (format = "mock", slowed down so a crosstalk turn takes about half
// a second):
//   - build a 3-participant ring/relay preset in the builder, run it, watch
//     the transcript grow in the monitor, stop it, find it in history as
//     stopped with its cost; step and resume a paused session;
//   - create an alert rule in the form, make traffic, "Evaluate now", see
//     it firing and in the history; edit it so it resolves; a policy rule
//     is read-only with its file; a key with a daily budget created in the
//     UI shows its secret once, turns amber past 80 %, and is revoked;
//   - Insights: "Generate now" and the page's state, snooze, what-if
//     figures equal to the API's;
// with a screenshot of each page in tests/e2e/screenshots/. Needs
// MOONGATE_BIN / MOONGATE_HOME (set by ctest).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { startGateway, stop, post, admin, HOME } from '../integration/lib.mjs';
import { launch, waitUntil, shot, go, login, overflowX, skipReason as skip } from './lib.mjs';

const SPEED = 0.8; // mock: ~0.16 s to the first token, then ~125 tokens/s
const ALERTS_POLICY = `return {
  alerts = {
    slow_answers = { metric = "p95_latency", window = "5m", op = ">", threshold = 60000,
                     min_samples = 10, group_by = "model_routed", cooldown = "1h",
                     description = "p95 above a minute" },
  },
}
`;

let gw, browser, page;
const until = (fn, arg, opts) => waitUntil(page, fn, arg, opts);

async function chat(model, { key, maxTokens, content = 'hello' } = {}) {
  const body = { model, messages: [{ role: 'user', content }] };
  if (maxTokens) body.max_tokens = maxTokens;
  return post(`${gw.url}/v1/chat/completions`, body, key ? { authorization: `Bearer ${key}` } : {});
}

async function apiGet(p) {
  const r = await admin(gw, 'GET', p);
  assert.equal(r.status, 200, `${p}: ${r.status} ${r.text}`);
  return r.json;
}

const textOf = (sel) => page.evaluate((s) => document.querySelector(s)?.textContent || '', sel);

before(async () => {
  if (skip) return;
  execFileSync('sh', [path.join(HOME, 'dashboard', 'build.sh')], { stdio: 'inherit' });
  const mock = (name, models) => `{ name = "${name}", format = "mock", mock = { speed = ${SPEED} }, models = { ${models.map((m) => `"${m}"`).join(', ')} } },`;
  gw = await startGateway({
    providers: [
      mock('mock-openai', ['gpt-4o-mini', 'gpt-4o', 'gpt-5-nano']),
      mock('mock-anthropic', ['claude-haiku-4-5', 'claude-opus-4-1']),
      mock('mock-gemini', ['gemini-2.5-flash', 'gemini-2.5-flash-lite']),
    ].join('\n'),
    extra: 'budget = { daily_usd = 5, monthly_usd = 50 },',
    policies: { 'alerts.lua': ALERTS_POLICY },
  });
  browser = await launch();
  page = browser.page;
  await login(page, gw.url, gw.token);
});

after(async () => {
  if (browser) await browser.close();
  if (gw) await stop(gw.proc);
});

test('Crosstalk: build a ring relay, watch it stream, stop it, find it in history', { skip }, async (t) => {
  await go(page, '#/crosstalk?view=builder');
  await page.waitForSelector('[data-pane="builder"]:not([hidden]) .ct-part');
  await until(() => document.querySelectorAll('#ct-models option').length > 0, null, { what: 'models from /v1/models' });
  const models = await page.evaluate(() => [...document.querySelectorAll('#ct-models option')].map((o) => o.value));
  assert.ok(models.includes('claude-haiku-4-5') && !models.includes('text-embedding-3-small'), models.join());

  // Add and remove a participant, then set the three explicitly.
  await page.click('button:has-text("+ Add participant")');
  assert.equal(await page.locator('.ct-part').count(), 4);
  await until(() => document.querySelectorAll('[data-pane="builder"] .topo .node').length === 4, null, { what: 'the preview follows' });
  await page.click('button[aria-label="Remove participant 4"]');
  assert.equal(await page.locator('.ct-part').count(), 3);
  const parts = [['host', 'gpt-4o-mini', 'moderator'], ['doubter', 'claude-haiku-4-5', 'skeptic'], ['bard', 'gemini-2.5-flash', 'poet']];
  for (const [i, [id, model, tpl]] of parts.entries()) {
    await page.fill(`input[aria-label="Participant ${i + 1} id"]`, id);
    await page.fill(`input[aria-label="Participant ${i + 1} model"]`, model);
    await page.selectOption(`select[aria-label="Participant ${i + 1} template"]`, tpl);
    await page.fill(`input[aria-label="Participant ${i + 1} max tokens"]`, '64');
  }
  await page.fill('input[aria-label="Preset name"]', 'e2e-relay');
  await page.selectOption('select[aria-label="Topology"]', 'ring');
  await page.selectOption('select[aria-label="Paradigm"]', 'relay');
  await page.fill('input[aria-label="Rounds"]', '3');
  await page.fill('input[aria-label="Budget (USD)"]', '0.5');
  await page.fill('textarea[aria-label="Prompt"]', 'How should a city look after for its oldest people?');

  // The preview: ring order, each hearing the one before (the first, the last).
  await until(() => document.querySelectorAll('.ct-order li').length === 3);
  const order = await page.$$eval('.ct-order li', (lis) => lis.map((li) => li.textContent));
  assert.match(order[0], /^host.*hears bard/);
  assert.match(order[1], /^doubter.*hears host/);
  assert.match(order[2], /^bard.*hears doubter/);
  assert.match(await textOf('.ct-builder .ct-side'), /9 turns planned/);
  assert.equal(await page.locator('[data-pane="builder"] .topo .edge').count(), 3, 'a ring of three has three edges');
  await shot(page, 'crosstalk-builder');

  // Run: the monitor takes over and streams.
  await page.click('[data-pane="builder"] button:has-text("Run")');
  await until(() => /view=monitor&id=[0-9a-f]{32}/.test(location.hash), null, { what: 'the monitor with the new id' });
  const id = await page.evaluate(() => new URLSearchParams(location.hash.split('?')[1]).get('id'));
  await page.waitForSelector('[data-pane="monitor"]:not([hidden]) .tx-turn');
  await until(() => document.querySelector('[data-pane="monitor"] .topo .node.active') !== null, null, { what: 'an active speaker' });
  // A turn's text grows while it is spoken (token batches), then more turns come.
  const [key, partial] = await until(() => {
    const b = document.querySelector('[data-pane="monitor"] .tx-turn.speaking');
    const n = b ? b.querySelector('.tx-text').textContent.length : 0;
    return n > 0 && !b.classList.contains('done') ? [b.dataset.key, n] : false;
  }, null, { what: 'a turn with part of its text' });
  await until(([k, n]) => document.querySelector(`[data-pane="monitor"] .tx-turn[data-key="${k}"] .tx-text`).textContent.length > n, [key, partial],
    { what: 'the turn\'s text grows' });
  await until(() => document.querySelectorAll('[data-pane="monitor"] .tx-turn.done').length >= 2, null, { what: 'two finished turns' });
  const full = await page.evaluate((k) => document.querySelector(`[data-pane="monitor"] .tx-turn[data-key="${k}"] .tx-text`).textContent.length, key);
  t.diagnostic(`turn ${key} streamed: ${partial} → ${full} characters`);
  assert.ok(full > partial);
  assert.match(await textOf('[data-kpi="ct-round"]'), /^[12] \/ 3$/);
  assert.ok(Number((await textOf('[data-kpi="ct-cost"]')).replace(/[^0-9.]/g, '')) > 0, 'cost so far');
  assert.ok(await page.locator('.ct-models tbody tr[data-model]').count() >= 2, 'per-model figures');
  assert.equal(await page.isDisabled('button[data-action="pause"]'), false);
  await shot(page, 'crosstalk-monitor');

  await page.click('button[data-action="stop"]');
  await until(() => document.querySelector('.ct-title .pill')?.textContent === 'stopped', null, { what: 'state stopped' });
  assert.equal(await page.isDisabled('button[data-action="stop"]'), true);
  const api = await apiGet(`/api/crosstalk/sessions/${id}`);
  assert.equal(api.state, 'stopped');
  assert.ok(api.cost > 0);
  assert.ok(api.turns_done >= 2 && api.turns_done < 9, `${api.turns_done} turns`);

  // History: the row, stopped, with its cost; the analysis lists relay.
  await page.click('.seg button[data-view="history"]');
  const row = page.locator(`tr[data-session="${id}"]`);
  await row.waitFor();
  await until((sid) => document.querySelector(`tr[data-session="${sid}"]`)?.dataset.state === 'stopped', id);
  const cost = Number(await row.locator('td[data-cost]').getAttribute('data-cost'));
  assert.ok(cost > 0, `history cost ${cost}`);
  assert.match(await row.textContent(), /e2e-relay.*relay.*ring.*stopped/);
  await until(() => /relay/.test(document.querySelector('.ct-history .grid-2')?.textContent || ''));
  assert.ok(Number((await textOf('[data-kpi="ct-sessions"]')).replace(/[^0-9]/g, '')) >= 1);
  await shot(page, 'crosstalk-history');

  // Opening the row shows the stored session in the monitor.
  await row.locator('td').first().click();
  await until((sid) => location.hash.includes(sid) && document.querySelectorAll('[data-pane="monitor"]:not([hidden]) .tx-turn.done').length >= 2, id);
});

test('Crosstalk: step a paused session, resume it, stop it', { skip }, async () => {
  const r = await admin(gw, 'POST', '/api/crosstalk/sessions', { preset: 'relay', paused: true, rounds: 2 });
  assert.equal(r.status, 201, r.text);
  await go(page, `#/crosstalk?view=monitor&id=${r.json.id}`);
  await until(() => document.querySelector('.ct-title .pill')?.textContent === 'paused');
  assert.equal(await page.isDisabled('button[data-action="step"]'), false);
  await page.click('button[data-action="step"]');
  await until(() => document.querySelectorAll('[data-pane="monitor"] .tx-turn.done').length === 1, null, { what: 'one stepped turn' });
  await until(() => document.querySelector('.ct-title .pill')?.textContent === 'paused');
  await page.click('button[data-action="resume"]');
  await until(() => document.querySelectorAll('[data-pane="monitor"] .tx-turn').length >= 2, null, { what: 'running again' });
  await page.click('button[data-action="stop"]');
  await until(() => document.querySelector('.ct-title .pill')?.textContent === 'stopped');
});

test('Alerts: a rule made in the form fires on "Evaluate now", then resolves', { skip }, async () => {
  await go(page, '#/alerts');
  await page.waitForSelector('tr[data-rule="slow_answers"]');
  const policyRow = await page.textContent('tr[data-rule="slow_answers"]');
  assert.match(policyRow, /read-only · policies\/alerts\.lua/);
  assert.equal(await page.locator('tr[data-rule="slow_answers"] button:has-text("Edit")').count(), 0, 'policy rules cannot be edited here');

  await page.click('button:has-text("New rule")');
  await page.fill('input[aria-label="Rule name"]', 'e2e_traffic');
  await page.fill('input[aria-label="Metric"]', 'request_count');
  await page.selectOption('select[aria-label="Operator"]', '>');
  await page.fill('input[aria-label="Threshold"]', '0');
  await page.fill('input[aria-label="Window"]', '60s');
  await page.fill('input[aria-label="Cooldown"]', '5m');
  await page.selectOption('select[aria-label="Severity"]', 'info');
  await page.click('button:has-text("Create rule")');
  const rule = page.locator('tr[data-rule="e2e_traffic"][data-source="api"]');
  await rule.waitFor();
  assert.match(await rule.textContent(), /request_count > 0 over 1m/);
  const stored = (await apiGet('/api/alerts/rules')).rules.find((x) => x.name === 'e2e_traffic');
  assert.equal(stored.window, 60);
  assert.equal(stored.cooldown, 300);

  // The rule's channel answers a test.
  await rule.locator('button:has-text("Test")').click();
  await until(() => /in_app: ok/.test(document.querySelector('tr[data-rule="e2e_traffic"] .al-test')?.textContent || ''));

  for (let i = 0; i < 4; i++) assert.equal((await chat('gpt-4o-mini')).status, 200);
  await page.click('button:has-text("Evaluate now")');
  await until(() => /Evaluated \d+ rule/.test(document.querySelector('.page-head [role=status]').textContent));
  await page.waitForSelector('tr[data-rule="e2e_traffic"][data-state="fired"]');
  await page.waitForSelector('.al-firing[data-rule="e2e_traffic"]');
  await until(() => /firing/.test(document.querySelector('tr[data-rule="e2e_traffic"][data-source="api"]').textContent));
  await until(() => /e2e_traffic/.test(document.querySelector('.toast')?.textContent || ''), null, { what: 'the alert toast' });
  const hist = (await apiGet('/api/alerts/history?rule=e2e_traffic')).history;
  assert.ok(hist.some((x) => x.state === 'fired'));
  await shot(page, 'alerts');

  // Edit: an unreachable threshold; the next evaluation resolves it.
  await rule.locator('button:has-text("Edit")').click();
  assert.equal(await page.isDisabled('input[aria-label="Rule name"]'), true);
  await page.fill('input[aria-label="Threshold"]', '1000000');
  await page.click('button:has-text("Save changes")');
  await until(() => /request_count > 1000000/.test(document.querySelector('tr[data-rule="e2e_traffic"]')?.textContent || ''));
  await page.click('button:has-text("Evaluate now")');
  await page.waitForSelector('tr[data-rule="e2e_traffic"][data-state="resolved"]');
  await until(() => !document.querySelector('.al-firing[data-rule="e2e_traffic"]'));
});

test('Budgets and keys: create a key (secret once), spend past 80 %, revoke', { skip }, async (t) => {
  await page.waitForSelector('.usage[data-label="Today"]');
  assert.match(await textOf('.usage[data-label="Today"]'), /of \$5\.00/);
  // A claude-haiku-4-5 answer of 50 tokens costs $0.00025: eight of them
  // are 80 % of this budget.
  const BUDGET = 0.0025;
  await page.fill('input[aria-label="Key name"]', 'e2e-key');
  await page.fill('input[aria-label="Daily budget (USD)"]', String(BUDGET));
  await page.click('button:has-text("Create key")');
  await page.waitForSelector('[data-secret] .key-secret');
  const secret = (await textOf('[data-secret] .key-secret')).trim();
  assert.match(secret, /^mg-[A-Za-z0-9]{43}$/);
  const keyRow = page.locator('tr[data-name="e2e-key"]');
  await keyRow.waitFor();
  assert.equal(await keyRow.getAttribute('data-status'), 'active');
  assert.ok(!(await keyRow.textContent()).includes(secret), 'the list never shows the secret');
  await page.click('button:has-text("I have stored it")');
  assert.equal(await page.locator('[data-secret]').count(), 0);

  // Half the budget at once (admitted together: each fits), then one by
  // one until 80 % is passed.
  for (const r of await Promise.all([1, 2, 3, 4, 5].map(() => chat('claude-haiku-4-5', { key: secret, maxTokens: 50 })))) assert.equal(r.status, 200, r.text);
  let spent = 0;
  for (let i = 0; i < 10 && spent < 0.8 * BUDGET; i++) {
    const r = await chat('claude-haiku-4-5', { key: secret, maxTokens: 50 });
    assert.equal(r.status, 200, r.text);
    spent = (await apiGet('/api/keys')).keys.find((x) => x.name === 'e2e-key').usage.spent_usd_day;
  }
  t.diagnostic(`key spent $${spent} of $${BUDGET}`);
  assert.ok(spent >= 0.8 * BUDGET && spent < BUDGET, `spent ${spent}`);
  await page.waitForSelector('.usage[data-label="e2e-key today"][data-level="warn"]', { timeout: 20000 });
  await until(() => /Budget: key e2e-key reached 80%/.test(document.querySelector('.toast')?.textContent || ''), null, { what: 'the budget toast' });
  await shot(page, 'alerts-budgets');

  await keyRow.locator('button:has-text("Revoke")').click();
  await keyRow.locator('button:has-text("Really revoke?")').click();
  await until(() => document.querySelector('tr[data-name="e2e-key"]')?.dataset.status === 'revoked');
  assert.equal((await chat('gpt-4o-mini', { key: secret })).status, 401);
});

test('Insights: "Generate now", snooze, and a what-if with the API\'s figures', { skip }, async (t) => {
  // Small prompts on an expensive model: what expensive_small looks for.
  const burst = [];
  for (let i = 0; i < 30; i++) burst.push(chat('claude-opus-4-1', { maxTokens: 50, content: `short ${i}` }));
  for (const r of await Promise.all(burst)) assert.equal(r.status, 200, r.text);
  await go(page, '#/insights');
  await page.waitForSelector('.insights > *');
  await page.click('button:has-text("Generate now")');
  await until(() => /Generated at/.test(document.querySelector('.page-head [role=status]').textContent), null, { timeout: 20000 });
  const cards = await page.locator('.insight').count();
  const empty = await page.locator('.insights [data-empty]').count();
  t.diagnostic(`insights shown: ${cards}`);
  assert.ok(cards > 0 || empty === 1, `either insights or the empty state: ${await textOf('.insights')}`);
  const listed = (await apiGet('/api/insights')).insights;
  assert.equal(cards, listed.length, 'every active insight is shown');
  await shot(page, 'insights');
  if (cards > 0) {
    const first = page.locator('.insight').first();
    const iid = await first.getAttribute('data-id');
    assert.match(await first.textContent(), /P\d/);
    await first.locator('button[data-action="snooze"]').click();
    await until((x) => !document.querySelector(`.insight[data-id="${x}"]`), iid, { what: 'the snoozed insight leaves' });
    const all = (await apiGet('/api/insights?state=all')).insights;
    assert.equal(all.find((x) => x.id === iid).state, 'snoozed');
  }

  await page.selectOption('select[aria-label="Sample policy"]', '0');
  const policy = await page.inputValue('textarea[aria-label="Policy (Lua)"]');
  await page.click('button:has-text("Run what-if")');
  await page.waitForSelector('.wi-result:not([hidden]) tbody tr[data-model]');
  const wi = await admin(gw, 'POST', '/api/whatif', { policy, since: '7d' });
  assert.equal(wi.status, 200, wi.text);
  assert.equal(Number((await textOf('[data-kpi="wi-requests"]')).replace(/[^0-9]/g, '')), wi.json.requests);
  assert.equal(Number((await textOf('[data-kpi="wi-moved"]')).replace(/[^0-9]/g, '')), wi.json.moved);
  const opus = wi.json.models.find((m) => m.model === 'claude-opus-4-1');
  assert.ok(opus && opus.moved > 0, 'short opus prompts move');
  assert.match(await textOf('tr[data-model="claude-opus-4-1"]'), /gpt-4o-mini/);
  await shot(page, 'insights-whatif');
});

test('the new pages fit a phone and the dark theme', { skip }, async () => {
  await page.setViewportSize({ width: 390, height: 844 });
  await page.click('#theme');
  for (const [hash, name] of [['#/crosstalk?view=builder', 'crosstalk-builder-dark-phone'], ['#/crosstalk?view=history', null],
    ['#/alerts', 'alerts-dark-phone'], ['#/insights', null]]) {
    await go(page, hash);
    await page.waitForTimeout(600);
    const wide = await overflowX(page);
    assert.ok(wide <= 0, `${hash} is ${wide}px wider than a phone`);
    if (name) await shot(page, name);
  }
  await page.click('#theme');
  await page.setViewportSize({ width: 1280, height: 860 });
});

test('no script error or console error on the new pages', { skip }, () => {
  assert.deepEqual(browser.errors, []);
});
