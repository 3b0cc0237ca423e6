// providers.js — the provider health table on Home: breaker state,
// enabled/disabled, a Test button (POST /api/providers/{name}/test) and
// Disable/Enable. Rows are updated in place on refresh, so a keyboard
// user's focus stays on the button they were using.

import { api, post, analytics, listOf } from '../api.js';
import { h, setText, toast } from '../dom.js';
import { fmtMs, fmtInt, fmtPct, fmtAgo, num } from '../format.js';

const BREAKER = {
  closed: ['ok', 'closed'],
  open: ['err', 'open'],
  half_open: ['warn', 'half-open'],
};

function setPill(el, cls, label) {
  el.className = `pill ${cls}`;
  setText(el, label);
}

export function providersPanel(ctx) {
  const body = h('tbody');
  const table = h('table', null,
    h('thead', null, h('tr', null,
      h('th', null, 'Provider'), h('th', { class: 'hide-sm' }, 'Format'), h('th', { class: 'hide-sm' }, 'Models'),
      h('th', { class: 'hide-sm' }, 'Key'), h('th', null, 'Breaker'), h('th', null, 'State'),
      h('th', { class: 'hide-sm', title: 'Requests and error rate in the last hour (analytics)' }, 'Last hour'),
      h('th', null, 'Actions'), h('th', null, 'Last test'))),
    body);
  const status = h('p', { class: 'muted small', role: 'status' });
  const el = h('div', null, h('div', { class: 'table-wrap' }, table), status);
  const empty = h('tr', null, h('td', { colspan: 9, class: 'muted' }, 'No providers configured.'));
  const rows = new Map(); // name → { tr, breaker, state, toggle, test, result, provider }
  let last = [];

  async function test(row) {
    const name = row.provider.name;
    row.test.disabled = true;
    setText(row.test, 'Testing…');
    setPill(row.result, '', '…');
    try {
      const r = await post(`/api/providers/${encodeURIComponent(name)}/test`);
      const ok = r && r.ok;
      const parts = [ok ? 'ok' : 'failed'];
      if (r && r.status) parts.push(String(r.status));
      if (r && r.latency_ms !== undefined && r.latency_ms !== null) parts.push(fmtMs(r.latency_ms));
      setPill(row.result, ok ? 'ok' : 'err', parts.join(' · '));
      row.result.title = (r && r.error) || '';
      if (!ok && r && r.error) toast(`${name}: ${r.error}`, 6000);
    } catch (e) {
      setPill(row.result, e.notAvailable ? '' : 'err', e.notAvailable ? 'not available' : 'error');
      row.result.title = e.message;
    } finally {
      row.test.disabled = false;
      setText(row.test, 'Test');
    }
  }

  async function toggle(row) {
    const name = row.provider.name;
    const action = row.provider.disabled ? 'enable' : 'disable';
    row.toggle.disabled = true;
    try {
      await post(`/api/providers/${encodeURIComponent(name)}/${action}`);
      row.provider.disabled = action === 'disable';
      update(row, row.provider);
      toast(`${name} ${action}d`);
      refresh();
    } catch (e) {
      toast(e.notAvailable ? `${action}: not available on this gateway` : `${action} ${name} failed: ${e.message}`, 5000);
    } finally {
      row.toggle.disabled = false;
    }
  }

  function update(row, p) {
    row.provider = p;
    const [cls, label] = BREAKER[p.breaker] || ['', p.breaker ? String(p.breaker) : '–'];
    setPill(row.breaker, cls, label);
    if (p.disabled === undefined) setPill(row.state, '', '–');
    else setPill(row.state, p.disabled ? 'warn' : 'ok', p.disabled ? 'disabled' : 'enabled');
    setText(row.toggle, p.disabled ? 'Enable' : 'Disable');
    row.toggle.setAttribute('aria-label', `${p.disabled ? 'Enable' : 'Disable'} provider ${p.name}`);
    const models = Array.isArray(p.models) ? p.models : [];
    setText(row.models, models.length > 3 ? `${models.slice(0, 3).join(', ')} +${models.length - 3}` : models.join(', ') || '–');
    row.models.title = models.join('\n');
    setText(row.key, p.has_key ? 'set' : (p.format === 'mock' ? 'n/a' : 'missing'));
    setText(row.format, p.format || '–');
  }

  function makeRow(p) {
    const row = {
      provider: p,
      breaker: h('span', { class: 'pill' }),
      state: h('span', { class: 'pill' }),
      models: h('span'),
      key: h('span'),
      format: h('span'),
      result: h('span', { class: 'pill', title: '' }, '–'),
      hour: h('span', { class: 'num' }, '–'),
    };
    row.test = h('button', { type: 'button', 'aria-label': `Test provider ${p.name}`, onclick: () => test(row) }, 'Test');
    row.toggle = h('button', { type: 'button', onclick: () => toggle(row) }, 'Disable');
    row.tr = h('tr', { dataset: { provider: p.name } },
      h('td', null, h('strong', null, p.name), p.base_url ? h('div', { class: 'muted small mono' }, p.base_url) : null),
      h('td', { class: 'hide-sm' }, row.format), h('td', { class: 'hide-sm' }, row.models), h('td', { class: 'hide-sm' }, row.key),
      h('td', null, row.breaker), h('td', null, row.state), h('td', { class: 'hide-sm' }, row.hour),
      h('td', null, h('div', { class: 'actions' }, row.test, row.toggle)),
      h('td', null, row.result));
    update(row, p);
    return row;
  }

  // analytics/providers: last hour per provider, or null when not available.
  let health = null;
  function renderHealth(row) {
    const a = health && health.get(row.provider.name);
    if (!a) {
      setText(row.hour, health ? 'no requests' : '–');
      row.hour.title = '';
      row.hour.className = 'num muted';
      return;
    }
    const rate = num(a.error_rate);
    setText(row.hour, `${fmtInt(a.requests)} req · ${fmtPct(rate)} err`);
    row.hour.className = `num ${rate >= 0.25 ? 'st err' : rate >= 0.05 ? 'st warn' : ''}`;
    const parts = [];
    if (a.last_success_ms) parts.push(`last success ${fmtAgo(a.last_success_ms)}`);
    if (a.last_failure_ms) parts.push(`last failure ${fmtAgo(a.last_failure_ms)}${a.last_error ? `: ${a.last_error}` : ''}`);
    row.hour.title = parts.join('\n');
  }

  function render(list) {
    last = list;
    const names = new Set(list.map((p) => p.name));
    for (const [name, row] of rows) if (!names.has(name)) { row.tr.remove(); rows.delete(name); }
    for (const p of list) {
      let row = rows.get(p.name);
      if (!row) { row = makeRow(p); rows.set(p.name, row); }
      else update(row, p);
      body.append(row.tr); // keeps config order; moving a row keeps its focus
      renderHealth(row);
    }
    if (list.length) empty.remove();
    else body.append(empty);
  }

  async function refresh() {
    const hour = analytics('providers', {}, { signal: ctx.signal }).then(
      (j) => new Map(listOf(j, 'providers').map((a) => [a.provider, a])), () => null);
    try {
      const j = await api('/api/providers', { signal: ctx.signal });
      health = await hour;
      render(Array.isArray(j && j.providers) ? j.providers : []);
      setText(status, '');
    } catch (e) {
      if (ctx.signal.aborted) return;
      setText(status, e.notAvailable ? 'Provider list: not available on this gateway.' : `Could not load providers: ${e.message}`);
    }
    return last;
  }

  return { el, refresh, providers: () => last };
}
