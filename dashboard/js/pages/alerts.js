// alerts.js — alerts and budgets: what fires now (GET /api/alerts/active),
// "Evaluate now" (POST /api/alerts/evaluate), the rules with their form
// and tests, the history of fired and resolved alerts
// (GET /api/alerts/history), budget usage bars and the virtual keys.
// alert_triggered / alert_resolved on the live stream refresh the active
// list and the history (app.js shows the toast on every page);
// budget_warning refreshes the bars.

import { api, post, qs } from '../api.js';
import { h, setText } from '../dom.js';
import { fmtDateTime, fmtAgo } from '../format.js';
import { alertRules, severityPill, fmtSeconds } from '../components/alertrules.js';
import { budgetsPanel } from '../components/budgets.js';

const HISTORY_LIMIT = 100;

function value(v) {
  const n = Number(v);
  return Number.isFinite(n) ? String(+n.toPrecision(6)) : '–';
}

export function mount(root, ctx) {
  const evalBtn = h('button', { type: 'button', class: 'primary' }, 'Evaluate now');
  const evalOut = h('span', { class: 'muted small', role: 'status', 'aria-live': 'polite' });
  const activeList = h('div', { class: 'al-active' });
  const historyBody = h('tbody');
  const historyRule = h('input', { type: 'search', placeholder: 'rule', 'aria-label': 'Filter history by rule', class: 'narrow', spellcheck: 'false' });
  const historyStatus = h('span', { class: 'muted small' });
  const rules = alertRules(ctx, { changed: () => loadActive() });
  const budgets = budgetsPanel(ctx);

  root.append(
    h('div', { class: 'page-head' }, h('h1', null, 'Alerts & budgets'), evalOut, evalBtn),
    h('section', { class: 'section' }, h('h2', null, 'Firing now'), activeList),
    h('section', { class: 'section' }, h('h2', null, 'Rules'), rules.el),
    h('section', { class: 'section' }, h('h2', null, 'History'),
      h('div', { class: 'toolbar' }, historyRule, historyStatus),
      h('div', { class: 'table-wrap' }, h('table', { class: 'al-history' },
        h('thead', null, h('tr', null, h('th', null, 'Time'), h('th', null, 'Rule'), h('th', null, 'State'), h('th', null, 'Severity'),
          h('th', { class: 'r' }, 'Value'), h('th', { class: 'hide-sm' }, 'Condition'), h('th', { class: 'hide-sm' }, 'Message'))),
        historyBody))),
    h('section', { class: 'section' }, h('h2', null, 'Budgets'), budgets.budgetsEl),
    h('section', { class: 'section' }, h('h2', null, 'Keys'), budgets.keysEl),
  );

  async function loadActive() {
    try {
      const r = await api('/api/alerts/active', { signal: ctx.signal });
      const list = (r && r.active) || [];
      activeList.replaceChildren(...list.map((a) => h('div', { class: 'notice err al-firing', dataset: { rule: a.rule } },
        severityPill(a.severity), ' ', h('strong', null, a.key || a.rule),
        ` ${a.metric || 'value'} = ${value(a.value)} (${a.op || '>'} ${value(a.threshold)}) over ${fmtSeconds(a.window)}, ${a.samples ?? '–'} samples`,
        h('span', { class: 'muted small' }, ` · since ${fmtAgo(a.since_ms)}`),
        a.muted_until ? h('span', { class: 'pill warn' }, 'muted') : null)));
      if (!list.length) activeList.append(h('p', { class: 'muted', dataset: { empty: '' } }, 'Nothing is firing.'));
      rules.setFiring(list.map((a) => a.rule));
    } catch (e) {
      if (!ctx.signal.aborted) activeList.replaceChildren(h('p', { class: 'na' }, e.notAvailable ? 'Alerts: not available on this gateway.' : `Could not load active alerts: ${e.message}`));
    }
  }

  async function loadHistory() {
    try {
      const r = await api(`/api/alerts/history${qs({ limit: HISTORY_LIMIT, rule: historyRule.value.trim() })}`, { signal: ctx.signal });
      const list = (r && r.history) || [];
      historyBody.replaceChildren(...list.map((x) => h('tr', { dataset: { rule: x.rule, state: x.state } },
        h('td', { class: 'num' }, fmtDateTime(x.ts_ms)),
        h('td', null, h('strong', null, x.rule), x.key && x.key !== x.rule ? h('div', { class: 'muted small' }, x.key) : null),
        h('td', null, h('span', { class: `pill ${x.state === 'fired' ? 'err' : 'ok'}` }, x.state)),
        h('td', null, severityPill(x.severity)),
        h('td', { class: 'r num' }, value(x.value)),
        h('td', { class: 'mono small hide-sm' }, `${x.metric || ''} ${x.op || ''} ${value(x.threshold)} over ${fmtSeconds(x.window)}`),
        h('td', { class: 'small hide-sm' }, x.message || ''))));
      if (!list.length) historyBody.append(h('tr', null, h('td', { colspan: 7, class: 'muted' }, 'No alert has fired yet.')));
      setText(historyStatus, `${list.length} entr${list.length === 1 ? 'y' : 'ies'}`);
    } catch (e) {
      if (!ctx.signal.aborted) setText(historyStatus, e.notAvailable ? 'History: not available on this gateway.' : `Could not load history: ${e.message}`);
    }
  }

  // The history row is written by the engine's database thread just after
  // the transition: read again a moment later too.
  function refreshAlerts() {
    loadActive();
    loadHistory();
    setTimeout(() => { if (ctx.alive()) loadHistory(); }, 700);
  }

  evalBtn.addEventListener('click', async () => {
    evalBtn.disabled = true;
    setText(evalOut, 'Evaluating…');
    try {
      const r = await post('/api/alerts/evaluate');
      setText(evalOut, `Evaluated ${r.evaluated ?? '–'} rule(s): ${r.firing ?? 0} firing · ${fmtDateTime(r.ts_ms || Date.now())}`);
      refreshAlerts();
      rules.load();
    } catch (e) {
      setText(evalOut, `Evaluate failed: ${e.message}`);
    } finally {
      evalBtn.disabled = false;
    }
  });

  let filterTimer = 0;
  historyRule.addEventListener('input', () => { clearTimeout(filterTimer); filterTimer = setTimeout(loadHistory, 300); });

  ctx.on('alert_triggered', refreshAlerts);
  ctx.on('alert_resolved', refreshAlerts);
  ctx.on('budget_warning', () => budgets.load());
  ctx.every(15000, () => { loadActive(); budgets.load(); });
  ctx.signal.addEventListener('abort', () => clearTimeout(filterTimer));

  rules.load();
  refreshAlerts();
  budgets.load();
}
