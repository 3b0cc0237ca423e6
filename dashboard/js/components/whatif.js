// whatif.js — "what if this routing policy had been in place?": a policy
// (pasted, or one of the samples), a period, Run (POST /api/whatif
// {policy, since}); the answer replays the recorded requests through the
// policy and reports, per model, the requests moved, the share moved, the
// old and new cost and the saving. Nothing is sent to any provider.

import { post } from '../api.js';
import { h, setText } from '../dom.js';
import { fmtCost, fmtInt, fmtPct, fmtDateTime, num } from '../format.js';
import { kpi } from './cards.js';

export const SAMPLES = [
  ['Short prompts to gpt-4o-mini', `-- Prompts under 2,000 estimated input tokens go to a small model.
return {
  route = function(req)
    if (req.tokens_in or 0) < 2000 then return "gpt-4o-mini" end
  end,
}`],
  ['Claude Sonnet and Opus to Haiku', `-- The large Claude models answer through Haiku instead.
return {
  route = function(req)
    if req.model and (req.model:find("sonnet") or req.model:find("opus")) then
      return "claude-haiku-4-5"
    end
  end,
}`],
  ['Everything to gemini-2.5-flash-lite', `-- The cheapest chat model for every request.
return {
  route = function(req) return "gemini-2.5-flash-lite" end,
}`],
  ['GPT-4o to GPT-4.1-mini', `return {
  route = function(req)
    if req.model == "gpt-4o" or req.model == "gpt-4.1" then return "gpt-4.1-mini" end
  end,
}`],
];
const SINCE = ['24h', '7d', '30d'];

export function whatIfPanel(ctx) {
  const sample = h('select', { 'aria-label': 'Sample policy' },
    h('option', { value: '' }, 'pick a sample…'), SAMPLES.map(([label], i) => h('option', { value: String(i) }, label)));
  const source = h('textarea', { rows: 9, class: 'mono', spellcheck: 'false', 'aria-label': 'Policy (Lua)', placeholder: 'return { route = function(req) ... end }' });
  const since = h('select', { 'aria-label': 'Since' }, SINCE.map((s) => h('option', { value: s }, `last ${s}`)));
  since.value = '7d';
  const runBtn = h('button', { type: 'button', class: 'primary' }, 'Run what-if');
  const status = h('span', { class: 'muted small', role: 'status', 'aria-live': 'polite' });
  const errBox = h('div', { class: 'notice err', hidden: true, role: 'alert' });
  const cards = {
    requests: kpi('Replayed', { id: 'wi-requests', title: 'recorded requests replayed through the policy' }),
    moved: kpi('Moved', { id: 'wi-moved' }),
    old: kpi('Recorded cost', { id: 'wi-old' }),
    fresh: kpi('Cost with policy', { id: 'wi-new' }),
    saving: kpi('Saving', { id: 'wi-saving' }),
  };
  const notes = h('p', { class: 'muted small' });
  const body = h('tbody');
  const result = h('div', { hidden: true, class: 'wi-result' },
    h('div', { class: 'cards section' }, Object.values(cards).map((c) => c.el)),
    notes,
    h('div', { class: 'table-wrap' }, h('table', null,
      h('thead', null, h('tr', null, h('th', null, 'Model'), h('th', { class: 'r' }, 'Requests'), h('th', { class: 'r' }, 'Moved'),
        h('th', null, 'Share moved'), h('th', { class: 'r' }, 'Old cost'), h('th', { class: 'r' }, 'New cost'), h('th', { class: 'r' }, 'Saving'),
        h('th', { class: 'hide-sm' }, 'Mostly to'))), body)));

  sample.addEventListener('change', () => {
    const s = SAMPLES[Number(sample.value)];
    if (s) source.value = s[1];
  });

  function render(r) {
    result.hidden = false;
    cards.requests.set(fmtInt(r.requests), `since ${fmtDateTime(r.from_ms).slice(5, 10)}`);
    cards.moved.set(fmtInt(r.moved), fmtPct(r.share_moved));
    cards.old.set(fmtCost(r.old_cost), '');
    cards.fresh.set(fmtCost(r.new_cost), '');
    const saving = num(r.saving) ?? ((num(r.old_cost) || 0) - (num(r.new_cost) || 0));
    cards.saving.set(fmtCost(saving), num(r.old_cost) ? `${fmtPct(saving / r.old_cost)} of it` : '');
    setText(notes, [
      `replayed in ${num(r.seconds) !== null ? Number(r.seconds).toFixed(3) : '–'} s`,
      r.refused ? `${fmtInt(r.refused)} refused by the policy (cost kept)` : null,
      r.errors ? `${fmtInt(r.errors)} hook errors${r.first_error ? `: ${r.first_error}` : ''}` : null,
      r.unpriced ? `${fmtInt(r.unpriced)} moved to a model without a price (cost kept)` : null,
    ].filter(Boolean).join(' · '));
    body.replaceChildren(...(r.models || []).map((m) => {
      const bar = h('span', { class: 'share' });
      bar.style.width = `${Math.round(Math.min(1, num(m.share_moved) || 0) * 80)}px`;
      return h('tr', { dataset: { model: m.model } },
        h('td', { class: 'mono small' }, m.model),
        h('td', { class: 'r num' }, fmtInt(m.requests)),
        h('td', { class: 'r num' }, fmtInt(m.moved)),
        h('td', { class: 'num' }, bar, ' ', fmtPct(m.share_moved)),
        h('td', { class: 'r num' }, fmtCost(m.old_cost)),
        h('td', { class: 'r num' }, fmtCost(m.new_cost)),
        h('td', { class: `r num ${num(m.saving) > 0 ? 'ok-text' : num(m.saving) < 0 ? 'err-text' : ''}` }, fmtCost(m.saving)),
        h('td', { class: 'mono small hide-sm' }, m.top_target || '–'));
    }));
    if (!(r.models || []).length) body.append(h('tr', null, h('td', { colspan: 8, class: 'muted' }, 'No recorded requests in this period.')));
  }

  async function run() {
    const policy = source.value.trim();
    if (!policy) { errBox.hidden = false; setText(errBox, 'Paste a policy or pick a sample first.'); return; }
    runBtn.disabled = true;
    errBox.hidden = true;
    setText(status, 'Replaying…');
    const t0 = performance.now();
    try {
      const r = await post('/api/whatif', { policy, since: since.value }, { signal: ctx.signal });
      render(r || {});
      setText(status, `Done in ${Math.round(performance.now() - t0)} ms.`);
    } catch (e) {
      if (ctx.signal.aborted) return;
      errBox.hidden = false;
      setText(errBox, e.notAvailable ? 'What-if: not available on this gateway.' : `The replay failed: ${e.message}`);
      setText(status, '');
    } finally {
      runBtn.disabled = false;
    }
  }
  runBtn.addEventListener('click', run);

  const el = h('div', { class: 'panel wi' },
    h('div', { class: 'toolbar' }, h('label', { class: 'field' }, 'Sample', sample), h('label', { class: 'field' }, 'Period', since), runBtn, status),
    source, errBox, result);

  // Fill in a policy (from an insight) and run it.
  function tryPolicy(text, label) {
    source.value = text;
    sample.value = '';
    setText(status, label ? `Policy from: ${label}` : '');
    el.scrollIntoView({ behavior: 'smooth', block: 'start' });
    run();
  }

  return { el, run, tryPolicy };
}
