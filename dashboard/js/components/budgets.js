// budgets.js — spend against budgets and the virtual keys that carry them.
// Usage bars for today and this month (the gateway's global budget from
// GET /api/budget/status, and each key's from GET /api/keys), amber from
// the first warning threshold (80 % by default) and red at 100 %; the
// effective budget configuration with pause / resume of enforcement; the
// key list with create (the secret is shown once, here) and revoke.

import { api, post } from '../api.js';
import { h, setText, toast, copyButton } from '../dom.js';
import { confirmButton } from './confirm.js';
import { fmtCost, fmtPct, fmtInt, num } from '../format.js';

// One bar: spent of budget, classed by the warning threshold.
export function usageBar(label, spent, budget, warnAt = 0.8) {
  const s = num(spent) || 0;
  const b = num(budget) || 0;
  const ratio = b > 0 ? s / b : null;
  const level = ratio === null ? 'none' : ratio >= 1 ? 'err' : ratio >= warnAt ? 'warn' : 'ok';
  const fill = h('div', { class: `fill ${level}` });
  fill.style.width = `${ratio === null ? 0 : Math.min(100, ratio * 100).toFixed(1)}%`;
  return h('div', { class: 'usage', dataset: { level, label } },
    h('div', { class: 'usage-head' }, h('span', null, label),
      h('span', { class: 'num' }, b > 0 ? `${fmtCost(s)} of ${fmtCost(b)} · ${fmtPct(ratio)}` : `${fmtCost(s)} · no budget`)),
    h('div', { class: 'track', role: 'meter', 'aria-label': label, 'aria-valuemin': '0', 'aria-valuemax': String(b || 0), 'aria-valuenow': String(s) }, fill));
}

export function budgetsPanel(ctx) {
  const globalBars = h('div', { class: 'grid-2' });
  const config = h('p', { class: 'muted small' });
  const pauseBtn = h('button', { type: 'button' }, 'Pause enforcement');
  const keyBars = h('div', { class: 'key-bars' });
  const keysBody = h('tbody');
  const secretSlot = h('div');
  const status = h('span', { class: 'muted small', role: 'status' });
  let warnAt = 0.8;
  let paused = false;

  // ---- create form ----
  const k = {
    name: h('input', { type: 'text', 'aria-label': 'Key name', required: true, spellcheck: 'false', placeholder: 'team-a', class: 'mid' }),
    user: h('input', { type: 'text', 'aria-label': 'User id', spellcheck: 'false', class: 'mid' }),
    env: h('input', { type: 'text', 'aria-label': 'Key environment', spellcheck: 'false', class: 'narrow' }),
    models: h('input', { type: 'text', 'aria-label': 'Allowed models', placeholder: 'all', spellcheck: 'false', class: 'mid' }),
    rpm: h('input', { type: 'number', min: 0, step: 1, 'aria-label': 'Requests per minute', class: 'narrow' }),
    tpm: h('input', { type: 'number', min: 0, step: 1, 'aria-label': 'Tokens per minute', class: 'narrow' }),
    conc: h('input', { type: 'number', min: 0, step: 1, 'aria-label': 'Max concurrency', class: 'narrow' }),
    day: h('input', { type: 'number', min: 0, step: 'any', 'aria-label': 'Daily budget (USD)', class: 'narrow' }),
    month: h('input', { type: 'number', min: 0, step: 'any', 'aria-label': 'Monthly budget (USD)', class: 'narrow' }),
  };
  const formErr = h('p', { class: 'err-text small', role: 'alert' });
  const createBtn = h('button', { type: 'submit', class: 'primary' }, 'Create key');
  const field = (label, input) => h('label', { class: 'field' }, label, input);
  const form = h('form', { class: 'panel', autocomplete: 'off' },
    h('div', { class: 'toolbar' }, field('Name', k.name), field('User', k.user), field('Environment', k.env), field('Models (comma)', k.models),
      field('RPM', k.rpm), field('TPM', k.tpm), field('Concurrency', k.conc), field('$ / day', k.day), field('$ / month', k.month), createBtn),
    formErr);

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const body = { name: k.name.value.trim() };
    if (!body.name) { setText(formErr, 'name: required'); return; }
    if (k.user.value.trim()) body.user_id = k.user.value.trim();
    if (k.env.value.trim()) body.environment = k.env.value.trim();
    const models = k.models.value.split(',').map((x) => x.trim()).filter(Boolean);
    if (models.length) body.models = models;
    for (const [key, input] of [['rpm', k.rpm], ['tpm', k.tpm], ['max_concurrency', k.conc], ['budget_usd_day', k.day], ['budget_usd_month', k.month]]) {
      if (input.value !== '') body[key] = Number(input.value);
    }
    createBtn.disabled = true;
    setText(formErr, '');
    try {
      const r = await post('/api/keys', body);
      showSecret(r);
      form.reset();
      await load();
    } catch (e) {
      setText(formErr, e.message);
    } finally {
      createBtn.disabled = false;
    }
  });

  function showSecret(r) {
    const secret = r && r.secret;
    const name = r && r.key && r.key.name;
    secretSlot.replaceChildren(h('div', { class: 'notice ok section', role: 'alert', dataset: { secret: '' } },
      h('strong', null, `Key "${name}" created. `), 'Store the secret now: the gateway keeps only its hash and cannot show it again.',
      h('div', { class: 'codeblock' }, h('pre', null, h('code', { class: 'key-secret' }, secret || '?')), copyButton(secret || '')),
      h('button', { type: 'button', onclick: () => secretSlot.replaceChildren() }, 'I have stored it')));
  }

  function keyRow(x) {
    const u = x.usage || {};
    const revoked = x.status !== 'active';
    const limits = [x.rpm ? `${fmtInt(x.rpm)} rpm` : null, x.tpm ? `${fmtInt(x.tpm)} tpm` : null, x.max_concurrency ? `${fmtInt(x.max_concurrency)} conc.` : null].filter(Boolean);
    return h('tr', { dataset: { key: x.id, name: x.name, status: x.status } },
      h('td', null, h('strong', null, x.name), h('div', { class: 'muted small mono' }, x.prefix || '')),
      h('td', null, h('span', { class: `pill ${revoked ? 'err' : 'ok'}` }, x.status)),
      h('td', { class: 'small hide-sm' }, [x.user_id, x.environment].filter(Boolean).join(' · ') || '–'),
      h('td', { class: 'small hide-sm' }, Array.isArray(x.models) ? x.models.join(', ') : 'all'),
      h('td', { class: 'small' }, limits.join(' · ') || 'none'),
      h('td', { class: 'r num' }, `${fmtCost(u.spent_usd_day)}${x.budget_usd_day ? ` / ${fmtCost(x.budget_usd_day)}` : ''}`),
      h('td', { class: 'r num hide-sm' }, `${fmtCost(u.spent_usd_month)}${x.budget_usd_month ? ` / ${fmtCost(x.budget_usd_month)}` : ''}`),
      h('td', null, revoked ? h('span', { class: 'muted small' }, x.revoked_at || '') : confirmButton('Revoke', 'Really revoke?', async (b) => {
        b.disabled = true;
        try { await post(`/api/keys/${encodeURIComponent(x.id)}/revoke`); toast(`Key ${x.name} revoked`); await load(); } catch (e) { b.disabled = false; toast(`revoke: ${e.message}`, 6000); }
      }, { key: `key:${x.id}` })));
  }

  async function load() {
    try {
      const [st, cfg, keys] = await Promise.all([
        api('/api/budget/status', { signal: ctx.signal }),
        api('/api/budget/config', { signal: ctx.signal }).catch(() => null),
        api('/api/keys', { signal: ctx.signal }),
      ]);
      const g = (st && st.global) || {};
      const th = (g.thresholds || (cfg && cfg.thresholds) || [0.8]).map(Number).filter((x) => x > 0 && x < 1);
      warnAt = th.length ? th[0] : 0.8;
      paused = !!(st && st.paused);
      globalBars.replaceChildren(
        usageBar('Today', g.spent_usd_day, g.budget_usd_day, warnAt),
        usageBar('This month', g.spent_usd_month, g.budget_usd_month, warnAt));
      setText(config, [
        `Warnings at ${(g.thresholds || [0.8, 1]).map((x) => fmtPct(x)).join(', ')}`,
        num(g.reserved_usd) ? `${fmtCost(g.reserved_usd)} reserved by ${fmtInt(g.in_flight)} request(s) in flight` : null,
        g.day_resets_at ? `day resets ${g.day_resets_at}` : null,
        cfg && cfg.auth ? `auth: ${cfg.auth}` : null,
        paused ? 'enforcement PAUSED: budgets only warn' : null,
        'global budgets are set in the config (budget = { daily_usd, monthly_usd })',
      ].filter(Boolean).join(' · '));
      setText(pauseBtn, paused ? 'Resume enforcement' : 'Pause enforcement');
      const list = (keys && keys.keys) || [];
      keysBody.replaceChildren(...list.map(keyRow));
      if (!list.length) keysBody.append(h('tr', null, h('td', { colspan: 8, class: 'muted' }, `No keys. With auth "${(keys && keys.auth) || 'open'}" ${keys && keys.auth_required ? 'every request needs one' : 'clients need none'}.`)));
      keyBars.replaceChildren(...list.filter((x) => x.status === 'active' && (x.budget_usd_day || x.budget_usd_month)).map((x) =>
        h('div', { class: 'key-bar', dataset: { key: x.id } }, h('h3', { class: 'sub-h' }, x.name),
          h('div', { class: 'grid-2' },
            usageBar(`${x.name} today`, x.usage && x.usage.spent_usd_day, x.budget_usd_day, warnAt),
            usageBar(`${x.name} this month`, x.usage && x.usage.spent_usd_month, x.budget_usd_month, warnAt)))));
      setText(status, '');
    } catch (e) {
      if (!ctx.signal.aborted) setText(status, e.notAvailable ? 'Budgets and keys: not available on this gateway.' : `Could not load budgets: ${e.message}`);
    }
  }

  pauseBtn.addEventListener('click', async () => {
    pauseBtn.disabled = true;
    try { await post(`/api/budget/${paused ? 'resume' : 'pause'}`); await load(); } catch (e) { toast(e.message, 5000); } finally { pauseBtn.disabled = false; }
  });

  const budgetsEl = h('div', null,
    h('div', { class: 'toolbar' }, pauseBtn, status),
    globalBars, config,
    keyBars);
  const keysEl = h('div', null,
    form, secretSlot,
    h('div', { class: 'table-wrap section' }, h('table', { class: 'keys' },
      h('thead', null, h('tr', null, h('th', null, 'Key'), h('th', null, 'Status'), h('th', { class: 'hide-sm' }, 'User · env'),
        h('th', { class: 'hide-sm' }, 'Models'), h('th', null, 'Limits'), h('th', { class: 'r' }, 'Today'), h('th', { class: 'r hide-sm' }, 'Month'), h('th', null, ''))),
      keysBody)));

  return { budgetsEl, keysEl, load };
}
