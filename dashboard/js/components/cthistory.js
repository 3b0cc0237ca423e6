// cthistory.js — crosstalk sessions, live and past (GET
// /api/crosstalk/sessions, filtered by state and paradigm), and what they
// add up to (GET /api/crosstalk/stats): totals, per paradigm and per
// model. A row opens the session in the monitor. Session starts, state
// changes and ends on the live stream refresh the list (at most every
// 1.5 s), and so does a finished round, whose cost the list shows.

import { api, qs } from '../api.js';
import { h, setText } from '../dom.js';
import { fmtCost, fmtInt, fmtMs, fmtDateTime, fmtTime, num } from '../format.js';
import { kpi } from './cards.js';
import { statePill, LIVE_STATES } from './ctmonitor.js';

const STATES = ['', 'running', 'paused', 'stepping', 'finished', 'stopped', 'failed', 'interrupted'];
const PARADIGMS = ['', 'relay', 'debate', 'memory', 'report'];
const REFRESH_MS = 1500;

function select(label, values, onchange) {
  const el = h('select', { onchange, 'aria-label': `Filter by ${label.toLowerCase()}` }, values.map((v) => h('option', { value: v }, v || 'any')));
  return { el, field: h('label', { class: 'field' }, label, el) };
}

function table(head, body) {
  return h('div', { class: 'table-wrap' }, h('table', null, h('thead', null, h('tr', null, head)), body));
}

export function ctHistory(ctx, { open }) {
  const stateSel = select('State', STATES, () => load());
  const paradigmSel = select('Paradigm', PARADIGMS, () => load());
  const status = h('span', { class: 'muted small', role: 'status' });
  const rows = h('tbody');
  const cards = {
    sessions: kpi('Sessions', { id: 'ct-sessions' }),
    cost: kpi('Total cost', { id: 'ct-total-cost' }),
    avg: kpi('Avg cost / session', { id: 'ct-avg-cost' }),
    rounds: kpi('Avg rounds', { id: 'ct-avg-rounds' }),
    turns: kpi('Turns', { id: 'ct-total-turns' }),
  };
  const byParadigm = h('tbody');
  const byModel = h('tbody');
  const byState = h('div', { class: 'actions' });

  const el = h('div', { class: 'ct-history' },
    h('div', { class: 'toolbar' }, stateSel.field, paradigmSel.field, status),
    table([h('th', null, 'Started'), h('th', null, 'Name'), h('th', null, 'Paradigm'), h('th', { class: 'hide-sm' }, 'Topology'),
      h('th', null, 'State'), h('th', { class: 'r' }, 'Rounds'), h('th', { class: 'r hide-sm' }, 'Turns'), h('th', { class: 'r' }, 'Cost'),
      h('th', { class: 'r hide-sm' }, 'Tokens')], rows),
    h('section', { class: 'section' }, h('h2', null, 'Analysis'),
      h('div', { class: 'cards' }, Object.values(cards).map((c) => c.el)),
      h('div', { class: 'section' }, byState),
      h('div', { class: 'grid-2 section' },
        h('div', null, h('h3', { class: 'sub-h' }, 'By paradigm'),
          table([h('th', null, 'Paradigm'), h('th', { class: 'r' }, 'Sessions'), h('th', { class: 'r' }, 'Cost'), h('th', { class: 'r' }, 'Avg cost'),
            h('th', { class: 'r' }, 'Avg rounds'), h('th', { class: 'r hide-sm' }, 'Tokens in/out')], byParadigm)),
        h('div', null, h('h3', { class: 'sub-h' }, 'By model'),
          table([h('th', null, 'Model'), h('th', { class: 'r' }, 'Sessions'), h('th', { class: 'r' }, 'Turns'), h('th', { class: 'r' }, 'Cost'),
            h('th', { class: 'r' }, 'Avg latency'), h('th', { class: 'r hide-sm' }, 'Tokens in/out')], byModel)))));

  function row(x) {
    const tr = h('tr', { class: 'clickable', tabindex: '0', dataset: { session: x.id, state: x.state || '' }, title: x.detail || '' },
      h('td', { class: 'num' }, fmtDateTime(x.started_ms || x.created_ms)),
      h('td', null, h('a', { href: `#/crosstalk?view=monitor&id=${encodeURIComponent(x.id)}` }, x.preset || x.id.slice(0, 8))),
      h('td', null, x.paradigm || '–'),
      h('td', { class: 'hide-sm' }, x.topology || '–'),
      h('td', null, statePill(x.state, x.detail || x.reason), x.reason && !LIVE_STATES.has(x.state) ? h('span', { class: 'muted small' }, ` ${x.reason}`) : null),
      h('td', { class: 'r num' }, `${fmtInt(x.rounds_done)} / ${x.rounds_planned ? fmtInt(x.rounds_planned) : '∞'}`),
      h('td', { class: 'r num hide-sm' }, fmtInt(x.turns_done)),
      h('td', { class: 'r num', dataset: { cost: String(num(x.cost) ?? '') } }, fmtCost(x.cost)),
      h('td', { class: 'r num hide-sm' }, `${fmtInt(x.tokens_input)} / ${fmtInt(x.tokens_output)}`));
    const go = () => open(x.id);
    tr.addEventListener('click', (e) => { if (!e.target.closest('a')) go(); });
    tr.addEventListener('keydown', (e) => { if (e.key === 'Enter') go(); });
    return tr;
  }

  function renderStats(st) {
    const n = num(st.sessions) || 0;
    cards.sessions.set(fmtInt(n), '');
    cards.cost.set(fmtCost(st.cost), `${fmtInt(st.tokens_input)} in / ${fmtInt(st.tokens_output)} out`);
    cards.avg.set(fmtCost(st.avg_cost), '');
    cards.rounds.set(num(st.avg_rounds) === null ? '–' : Number(st.avg_rounds).toFixed(1), '');
    cards.turns.set(fmtInt(st.turns), '');
    byState.replaceChildren(...(st.by_state || []).map((b) => h('span', { class: 'muted small' }, statePill(b.state), ` ${fmtInt(b.sessions)}`)));
    byParadigm.replaceChildren();
    for (const p of st.by_paradigm || []) {
      byParadigm.append(h('tr', null, h('td', null, p.paradigm), h('td', { class: 'r num' }, fmtInt(p.sessions)),
        h('td', { class: 'r num' }, fmtCost(p.cost)), h('td', { class: 'r num' }, fmtCost(p.sessions ? p.cost / p.sessions : null)),
        h('td', { class: 'r num' }, num(p.avg_rounds) === null ? '–' : Number(p.avg_rounds).toFixed(1)),
        h('td', { class: 'r num hide-sm' }, `${fmtInt(p.tokens_input)} / ${fmtInt(p.tokens_output)}`)));
    }
    if (!byParadigm.children.length) byParadigm.append(h('tr', null, h('td', { colspan: 6, class: 'muted' }, 'No sessions yet.')));
    byModel.replaceChildren();
    for (const m of st.by_model || []) {
      byModel.append(h('tr', null, h('td', { class: 'mono small' }, m.model), h('td', { class: 'r num' }, fmtInt(m.sessions)),
        h('td', { class: 'r num' }, fmtInt(m.turns ?? m.requests)), h('td', { class: 'r num' }, fmtCost(m.cost)),
        h('td', { class: 'r num' }, fmtMs(m.avg_duration_ms)),
        h('td', { class: 'r num hide-sm' }, `${fmtInt(m.tokens_input)} / ${fmtInt(m.tokens_output)}`)));
    }
    if (!byModel.children.length) byModel.append(h('tr', null, h('td', { colspan: 6, class: 'muted' }, 'No turns yet.')));
  }

  let loading = null;
  let again = false;
  async function load() {
    if (loading) { again = true; return loading; }
    loading = (async () => {
      try {
        const q = qs({ state: stateSel.el.value, paradigm: paradigmSel.el.value, limit: 100 });
        const [list, st] = await Promise.all([
          api(`/api/crosstalk/sessions${q}`, { signal: ctx.signal }),
          api('/api/crosstalk/stats', { signal: ctx.signal }),
        ]);
        const sessions = (list && list.sessions) || [];
        rows.replaceChildren(...sessions.map(row));
        if (!sessions.length) rows.append(h('tr', null, h('td', { colspan: 9, class: 'muted' }, 'No sessions match.')));
        renderStats(st || {});
        setText(status, `${fmtInt(sessions.length)} session${sessions.length === 1 ? '' : 's'} · updated ${fmtTime(Date.now())}`);
      } catch (e) {
        if (!ctx.signal.aborted) setText(status, e.notAvailable ? 'Crosstalk: not available on this gateway.' : `Could not load sessions: ${e.message}`);
      }
    })();
    await loading;
    loading = null;
    if (again) { again = false; return load(); }
    return null;
  }

  // Live: a debounced reload on anything that changes a row.
  let timer = 0;
  let visible = false;
  let dirty = true;
  function soon() {
    dirty = true;
    if (!visible || timer) return;
    timer = setTimeout(() => { timer = 0; dirty = false; load(); }, REFRESH_MS);
  }
  ctx.on('crosstalk_event', (ev) => {
    if (ev && (ev.type === 'session_start' || ev.type === 'state' || ev.type === 'session_end' || ev.type === 'round_end')) soon();
  });
  ctx.signal.addEventListener('abort', () => clearTimeout(timer));

  function show(on) {
    visible = on;
    if (on && dirty) { dirty = false; load(); }
  }

  return { el, load, show };
}
