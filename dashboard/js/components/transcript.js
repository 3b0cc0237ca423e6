// transcript.js — a crosstalk conversation as it streams: one block per
// turn (speaker, model, round), its text growing as `token` batches
// arrive. The DOM stays bounded however long a session runs: at most
// MAX_TURNS blocks (the oldest leave, a line says how many) and at most
// MAX_CHARS characters per block (the start is cut). Text arriving within
// one frame is written once, with appendData on the block's text node.
// The view follows the newest text while the reader is at the bottom.

import { h, setText } from '../dom.js';
import { fmtCost, fmtInt, fmtMs } from '../format.js';

const MAX_TURNS = 60;
const MAX_CHARS = 16000;
const STICK_PX = 40;

export function transcriptView({ maxTurns = MAX_TURNS, maxChars = MAX_CHARS } = {}) {
  const hiddenNote = h('p', { class: 'muted small', hidden: true });
  const promptEl = h('div', { class: 'tx-prompt', hidden: true });
  const list = h('div', { class: 'tx-turns' });
  const empty = h('p', { class: 'muted tx-empty' }, 'No turns yet.');
  const el = h('div', { class: 'transcript', tabindex: '0', role: 'log', 'aria-label': 'Transcript', 'aria-live': 'off' },
    promptEl, hiddenNote, list, empty);
  const blocks = new Map(); // "round:turn" → block
  const pending = new Map(); // block → text not yet written
  let dropped = 0;
  let frame = 0;
  let names = new Map(); // participant id → display name

  const keyOf = (round, turn) => `${round}:${turn}`;
  const atBottom = () => el.scrollHeight - el.scrollTop - el.clientHeight < STICK_PX;

  function setParticipants(list_) {
    names = new Map((list_ || []).map((p) => [p.id, p.name || p.id]));
  }

  function trim() {
    while (list.children.length > maxTurns) {
      const first = list.firstElementChild;
      blocks.delete(first.dataset.key);
      pending.delete(first.__block);
      first.remove();
      dropped++;
    }
    hiddenNote.hidden = dropped === 0;
    if (dropped) setText(hiddenNote, `${fmtInt(dropped)} earlier turn${dropped === 1 ? '' : 's'} not shown here.`);
  }

  function block(round, turn, speaker, model) {
    const key = keyOf(round, turn);
    let b = blocks.get(key);
    if (b) return b;
    const text = document.createTextNode('');
    const meta = h('span', { class: 'tx-meta muted small num' });
    const who = h('span', { class: 'tx-who' }, names.get(speaker) || speaker || '?');
    const modelEl = h('span', { class: 'muted small mono' }, model || '');
    const body = h('div', { class: 'tx-text' }, text);
    const node = h('article', { class: 'tx-turn', dataset: { key, speaker: speaker || '' } },
      h('header', null, h('span', { class: 'tx-round muted small num' }, `R${round} · ${turn}`), who, modelEl, meta), body);
    b = { key, node, text, meta, modelEl, body, len: 0 };
    node.__block = b;
    blocks.set(key, b);
    list.append(node);
    empty.hidden = true;
    trim();
    return b;
  }

  function write(b, s) {
    if (!s) return;
    if (b.len + s.length > maxChars) {
      const all = (b.text.data + s);
      b.text.data = '…' + all.slice(all.length - maxChars + 1);
      b.len = b.text.data.length;
    } else {
      b.text.appendData(s);
      b.len += s.length;
    }
  }

  function flush() {
    frame = 0;
    const stick = atBottom();
    for (const [b, s] of pending) write(b, s);
    pending.clear();
    if (stick) el.scrollTop = el.scrollHeight;
  }

  // A stored transcript (GET /api/crosstalk/sessions/{id}): prompt first.
  function reset(entries) {
    list.replaceChildren();
    blocks.clear();
    pending.clear();
    dropped = 0;
    promptEl.hidden = true;
    const turns = [];
    for (const e of entries || []) {
      if (e.role === 'prompt' || e.round === 0) {
        promptEl.hidden = false;
        promptEl.replaceChildren(h('span', { class: 'muted small' }, 'Prompt'), h('div', null, String(e.content || '')));
      } else turns.push(e);
    }
    const skip = Math.max(0, turns.length - maxTurns);
    dropped = skip;
    for (const e of turns.slice(skip)) {
      const b = block(e.round, e.turn, e.speaker, e.model);
      write(b, String(e.content || ''));
      b.node.classList.add('done');
    }
    trim();
    empty.hidden = list.children.length > 0;
    el.scrollTop = el.scrollHeight;
  }

  function setPrompt(text) {
    if (!text || !promptEl.hidden) return;
    promptEl.hidden = false;
    promptEl.replaceChildren(h('span', { class: 'muted small' }, 'Prompt'), h('div', null, String(text)));
  }

  function startTurn(ev) {
    const b = block(ev.round, ev.turn, ev.speaker, ev.model);
    if (ev.retry) { // the retry starts the reply over
      b.text.data = '';
      b.len = 0;
      pending.delete(b);
      b.node.classList.add('retry');
    }
    b.node.classList.add('speaking');
    setText(b.meta, ev.retry ? 'retrying…' : 'speaking…');
    return b;
  }

  function append(ev) {
    const b = block(ev.round, ev.turn, ev.speaker, ev.model);
    b.node.classList.add('speaking');
    pending.set(b, (pending.get(b) || '') + String(ev.text || ''));
    if (!frame) frame = requestAnimationFrame(flush);
  }

  function endTurn(ev) {
    const b = block(ev.round, ev.turn, ev.speaker, ev.model_routed || ev.model);
    if (pending.has(b)) { write(b, pending.get(b)); pending.delete(b); }
    b.node.classList.remove('speaking');
    b.node.classList.add('done');
    if (ev.status && ev.status !== 'success') b.node.classList.add('failed');
    if (ev.model_routed && ev.model_routed !== ev.model) setText(b.modelEl, `${ev.model} → ${ev.model_routed}`);
    const parts = [];
    if (ev.status && ev.status !== 'success') parts.push(ev.status);
    parts.push(`${fmtInt(ev.tokens_output)} tok`, fmtCost(ev.cost), fmtMs(ev.duration_ms));
    setText(b.meta, parts.join(' · '));
    if (ev.error) b.node.title = String(ev.error);
  }

  function stop() {
    if (frame) cancelAnimationFrame(frame);
    frame = 0;
  }

  return { el, reset, setPrompt, setParticipants, startTurn, append, endTurn, stop, turns: () => list.children.length };
}
