// ctmonitor.js — one crosstalk session, live: the topology diagram with
// the active speaker, round x/y, elapsed time, turns, cost so far and the
// estimated final cost, per-model tokens / cost / latency, the streaming
// transcript, and pause / step / resume / stop. It loads the session
// (GET /api/crosstalk/sessions/{id}) and then follows crosstalk_event for
// that id; a finished session is shown the same way, from the API only.
// With no id it picks the newest live session, and while it shows nothing
// live it switches to a session that starts.

import { api, post } from '../api.js';
import { h, setText, toast } from '../dom.js';
import { fmtCost, fmtCount, fmtInt, fmtMs, fmtDuration, num } from '../format.js';
import { kpi } from './cards.js';
import { topologyDiagram, specialOf } from './topology.js';
import { transcriptView } from './transcript.js';

export const LIVE_STATES = new Set(['running', 'paused', 'stepping']);
const STATE_CLASS = { running: 'ok', stepping: 'ok', paused: 'warn', finished: '', stopped: 'warn', failed: 'err', interrupted: 'err' };

export function statePill(state, reason) {
  return h('span', { class: `pill ${STATE_CLASS[state] ?? ''}`, title: reason || '' }, state || '?');
}

// Which buttons a state allows (the API answers 409 otherwise).
const ACTIONS = {
  running: ['pause', 'stop'],
  stepping: ['pause', 'stop'],
  paused: ['resume', 'step', 'stop'],
};

export function ctMonitor(ctx, { onSession } = {}) {
  const title = h('h2', null, 'No session');
  const idEl = h('span', { class: 'muted small mono' });
  const stateSlot = h('span');
  const why = h('span', { class: 'muted small' });
  const buttons = {};
  for (const [action, label] of [['pause', 'Pause'], ['step', 'Step'], ['resume', 'Resume'], ['stop', 'Stop']]) {
    buttons[action] = h('button', { type: 'button', class: action === 'stop' ? 'danger' : '', disabled: true, dataset: { action }, onclick: () => control(action) }, label);
  }
  const cards = {
    round: kpi('Round', { id: 'ct-round' }),
    elapsed: kpi('Elapsed', { id: 'ct-elapsed' }),
    turns: kpi('Turns', { id: 'ct-turns' }),
    cost: kpi('Cost', { id: 'ct-cost' }),
    estimate: kpi('Est. final cost', { id: 'ct-estimate', title: 'cost per turn × planned turns, capped by the budget' }),
    tokens: kpi('Tokens', { id: 'ct-tokens' }),
  };
  const diagram = topologyDiagram();
  const modelsBody = h('tbody');
  const transcript = transcriptView();
  const speaking = h('p', { class: 'muted small', role: 'status', 'aria-live': 'polite' }, '\u00a0');
  const emptyNote = h('div', { class: 'notice section' }, 'No crosstalk session yet. Build one under ',
    h('a', { href: '#/crosstalk?view=builder' }, 'Builder'), ' or run a bundled preset there.');
  const body = h('div', { hidden: true },
    h('div', { class: 'cards section' }, Object.values(cards).map((c) => c.el)),
    h('div', { class: 'ct-grid section' },
      h('div', { class: 'ct-side' },
        h('div', { class: 'panel' }, diagram.el, speaking),
        h('div', { class: 'table-wrap section' }, h('table', { class: 'ct-models' },
          h('thead', null, h('tr', null, h('th', null, 'Model'), h('th', { class: 'r' }, 'Turns'), h('th', { class: 'r' }, 'Tokens in/out'),
            h('th', { class: 'r' }, 'Cost'), h('th', { class: 'r', title: 'average duration of a turn' }, 'Latency'))), modelsBody))),
      h('div', { class: 'ct-main' }, transcript.el)));
  const el = h('div', { class: 'ct-monitor' },
    h('div', { class: 'ct-head' }, h('div', { class: 'ct-title' }, title, stateSlot, idEl, why),
      h('div', { class: 'actions' }, buttons.pause, buttons.step, buttons.resume, buttons.stop)),
    emptyNote, body);

  // What the monitor knows of its session.
  let s = null;
  let seq = 0;

  function fresh(id) {
    return {
      id, state: null, live: false, name: '', rounds: null, roundsDone: 0, round: 0, turnsDone: 0, plannedTurns: null,
      cost: 0, estimate: null, budget: null, tokIn: 0, tokOut: 0, elapsed: 0, elapsedAt: performance.now(),
      models: new Map(), participants: [], speakers: [],
    };
  }

  function setState(state, reason, detail) {
    if (!s) return;
    s.state = state;
    s.live = LIVE_STATES.has(state);
    stateSlot.replaceChildren(statePill(state, detail || reason));
    setText(why, s.live ? '' : [reason, detail].filter(Boolean).join(': '));
    const allowed = new Set(ACTIONS[state] || []);
    for (const [action, b] of Object.entries(buttons)) b.disabled = !allowed.has(action);
    if (!s.live) { diagram.clearActive(); setText(speaking, '\u00a0'); }
  }

  function elapsedNow() {
    if (!s) return 0;
    return s.elapsed + (s.live ? (performance.now() - s.elapsedAt) / 1000 : 0);
  }

  function renderNumbers() {
    if (!s) return;
    const planned = s.plannedTurns;
    cards.round.set(`${fmtInt(s.round || s.roundsDone)} / ${s.rounds ? fmtInt(s.rounds) : '∞'}`, `${fmtInt(s.roundsDone)} done`);
    cards.turns.set(fmtInt(s.turnsDone), planned ? `of ${fmtInt(planned)} planned` : '');
    cards.cost.set(fmtCost(s.cost), s.budget ? `budget ${fmtCost(s.budget)}` : 'no budget');
    let est = s.estimate;
    if (est === null && s.turnsDone > 0 && planned) est = (s.cost / s.turnsDone) * planned;
    if (est !== null && s.budget) est = Math.min(est, s.budget);
    if (!s.live && s.state) est = s.cost;
    cards.estimate.set(fmtCost(est), s.live ? 'at this pace' : 'final');
    cards.tokens.set(fmtCount(s.tokIn + s.tokOut), `${fmtCount(s.tokIn)} in · ${fmtCount(s.tokOut)} out`);
    renderElapsed();
  }

  function renderElapsed() {
    if (s) cards.elapsed.set(fmtDuration(elapsedNow()), s.live ? (s.state === 'paused' ? 'paused' : 'live') : '');
  }

  function renderModels() {
    modelsBody.replaceChildren();
    const rows = [...s.models.entries()].sort((a, b) => b[1].cost - a[1].cost);
    for (const [model, m] of rows) {
      modelsBody.append(h('tr', { dataset: { model } },
        h('td', { class: 'mono small' }, model),
        h('td', { class: 'r num' }, fmtInt(m.turns)),
        h('td', { class: 'r num' }, `${fmtCount(m.tokIn)} / ${fmtCount(m.tokOut)}`),
        h('td', { class: 'r num' }, fmtCost(m.cost)),
        h('td', { class: 'r num' }, m.turns ? fmtMs(m.durSum / m.turns) : '–')));
    }
    if (!rows.length) modelsBody.append(h('tr', null, h('td', { colspan: 5, class: 'muted' }, 'No turn finished yet.')));
  }

  function totals(ev) {
    if (num(ev.cost_total) !== null) s.cost = num(ev.cost_total);
    if (num(ev.tokens_input_total) !== null) s.tokIn = num(ev.tokens_input_total);
    if (num(ev.tokens_output_total) !== null) s.tokOut = num(ev.tokens_output_total);
    if (num(ev.turns_done) !== null) s.turnsDone = num(ev.turns_done);
    if (num(ev.rounds_done) !== null) s.roundsDone = num(ev.rounds_done);
    if (num(ev.rounds) !== null) s.rounds = num(ev.rounds) || null;
    if (num(ev.planned_turns) !== null) s.plannedTurns = num(ev.planned_turns) || null;
    if (num(ev.estimated_cost) !== null) s.estimate = num(ev.estimated_cost);
    if (num(ev.elapsed_s) !== null) { s.elapsed = num(ev.elapsed_s); s.elapsedAt = performance.now(); }
  }

  function setConfig(participants, speakers, topology, paradigm) {
    s.participants = participants || [];
    s.speakers = speakers || [];
    transcript.setParticipants(s.participants);
    const special = (s.participants.find((p) => p.speaks_in_rotation === false) || {}).id
      || (s.speakers.length ? null : specialOf(paradigm, s.participants));
    diagram.render({ participants: s.participants, speakers: s.speakers, topology, paradigm, special });
  }

  function fromDetail(d) {
    s.name = d.preset || d.name || '';
    setText(title, s.name || 'session');
    setText(idEl, d.id);
    const cfg = d.config || {};
    setConfig(cfg.participants, cfg.speakers, cfg.topology || d.topology, cfg.paradigm || d.paradigm);
    s.rounds = num(d.rounds_planned) || null;
    s.roundsDone = num(d.rounds_done) || 0;
    s.turnsDone = num(d.turns_done) || 0;
    s.round = s.roundsDone + (LIVE_STATES.has(d.state) && s.rounds !== s.roundsDone ? 1 : 0);
    s.cost = num(d.cost) || 0;
    s.budget = num(d.budget_usd) || null;
    s.tokIn = num(d.tokens_input) || 0;
    s.tokOut = num(d.tokens_output) || 0;
    const rotation = (cfg.speakers || []).length;
    if (s.rounds && rotation) s.plannedTurns = s.rounds * rotation + ((cfg.participants || []).length > rotation ? 1 : 0);
    const end = num(d.ended_ms) || Date.now();
    s.elapsed = Math.max(0, (end - (num(d.started_ms) || num(d.created_ms) || end)) / 1000);
    s.elapsedAt = performance.now();
    s.models.clear();
    for (const m of d.by_model || []) {
      const turns = num(m.requests) || num(m.turns) || 0;
      s.models.set(m.model, { turns, tokIn: num(m.tokens_input) || 0, tokOut: num(m.tokens_output) || 0, cost: num(m.cost) || 0, durSum: (num(m.avg_duration_ms) || 0) * turns });
    }
    transcript.reset(d.transcript || []);
    setState(d.state, d.reason, d.detail);
    renderModels();
    renderNumbers();
  }

  // pinned: the user chose this session (a link, the builder); otherwise
  // the monitor follows whatever starts next once its session has ended.
  async function watch(id, { pinned = false } = {}) {
    const my = ++seq;
    transcript.stop();
    if (!id) {
      try {
        const list = await api('/api/crosstalk/sessions?limit=20', { signal: ctx.signal });
        const all = (list && list.sessions) || [];
        const pickd = all.find((x) => LIVE_STATES.has(x.state)) || all[0];
        id = pickd && pickd.id;
      } catch (e) {
        if (!ctx.signal.aborted) toast(`Could not list sessions: ${e.message}`);
      }
      if (my !== seq) return;
    }
    if (!id) {
      s = null;
      emptyNote.hidden = false;
      body.hidden = true;
      for (const b of Object.values(buttons)) b.disabled = true;
      return;
    }
    s = fresh(id);
    s.pinned = pinned;
    s.buffer = []; // events that arrive while the session loads
    emptyNote.hidden = true;
    body.hidden = false;
    setText(idEl, id);
    try {
      const d = await api(`/api/crosstalk/sessions/${encodeURIComponent(id)}`, { signal: ctx.signal });
      if (my !== seq || !s || s.id !== id) return;
      fromDetail(d);
      // Replay what arrived meanwhile, except turns the answer already holds.
      const done = new Set((d.transcript || []).map((e) => `${e.round}:${e.turn}`));
      const buffered = s.buffer;
      s.buffer = null;
      for (const ev of buffered) handle(ev, done);
      renderNumbers();
      if (onSession) onSession(id, d);
    } catch (e) {
      if (ctx.signal.aborted || my !== seq) return;
      if (s) s.buffer = null;
      setText(title, e.status === 404 ? 'Session not found' : 'Could not load the session');
      setText(why, e.message);
    }
  }

  async function control(action) {
    if (!s) return;
    const b = buttons[action];
    b.disabled = true;
    try {
      const r = await post(`/api/crosstalk/sessions/${encodeURIComponent(s.id)}/${action}`);
      if (r && r.state && s) setState(r.state, r.reason, null);
    } catch (e) {
      toast(`${action}: ${e.message}`, 5000);
      if (s) setState(s.state, null, null);
    }
  }

  function onEvent(ev) {
    if (!ev || !ev.session) return;
    if (!s || (!s.live && !s.pinned && s.id !== ev.session && !s.buffer)) {
      // Nothing live on screen: a session that starts takes the monitor.
      if (ev.type === 'session_start') watch(ev.session);
      return;
    }
    if (ev.session !== s.id) return;
    if (s.buffer) { if (s.buffer.length < 5000) s.buffer.push(ev); return; }
    if (handle(ev, null)) renderNumbers();
  }

  // One event of this session; done: "round:turn" keys already shown.
  // Returns whether the numbers changed.
  function handle(ev, done) {
    const old = done && done.has(`${ev.round}:${ev.turn}`);
    switch (ev.type) {
      case 'session_start':
        setConfig(ev.participants, s.speakers, ev.topology, ev.paradigm);
        transcript.setPrompt(ev.prompt);
        if (num(ev.budget_usd) !== null) s.budget = num(ev.budget_usd) || null;
        totals(ev);
        setState(ev.state, null, null);
        return true;
      case 'state':
        setState(ev.state, ev.reason, ev.detail);
        return true;
      case 'turn_start':
        if (old) return false;
        s.round = num(ev.round) || s.round;
        transcript.startTurn(ev);
        diagram.setActive(ev.speaker, ev.hears);
        setText(speaking, `${ev.name || ev.speaker} (${ev.model}) speaking${ev.hears && ev.hears.length ? `, hears ${ev.hears.join(', ')}` : ''}${ev.retry ? ' — retry' : ''}`);
        return true;
      case 'token':
        if (!old) transcript.append(ev);
        return false; // numbers unchanged: no re-render per token batch
      case 'turn_end': {
        totals(ev);
        if (old) return true;
        transcript.endTurn(ev);
        const model = ev.model_routed || ev.model || '?';
        const m = s.models.get(model) || { turns: 0, tokIn: 0, tokOut: 0, cost: 0, durSum: 0 };
        m.turns++; m.tokIn += num(ev.tokens_input) || 0; m.tokOut += num(ev.tokens_output) || 0;
        m.cost += num(ev.cost) || 0; m.durSum += num(ev.duration_ms) || 0;
        s.models.set(model, m);
        renderModels();
        return true;
      }
      case 'round_end':
        totals(ev);
        return true;
      case 'session_end': {
        totals(ev);
        setState(ev.state, ev.reason, ev.detail);
        // The stored figures include a cancelled turn's cost: reload them.
        const id = ev.session, pinned = s.pinned;
        setTimeout(() => { if (s && s.id === id && ctx.alive()) watch(id, { pinned }); }, 600);
        return true;
      }
      default:
        return false;
    }
  }

  ctx.on('crosstalk_event', onEvent);
  ctx.every(1000, () => { if (s && s.live) renderElapsed(); });
  ctx.signal.addEventListener('abort', () => transcript.stop());

  return { el, watch, current: () => (s ? s.id : null) };
}
