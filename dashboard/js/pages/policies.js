// policies.js — the policy generation in use: when and how fast it loaded,
// the files it was built from (with hashes), a "restart needed" notice,
// and the last reload error with its file and line shown first. Reload
// asks the host to rebuild (POST /api/policies/reload → 202), then waits
// for the outcome: a `reload` event on the live stream, or, if none comes,
// a change seen by polling /api/policies.

import { api, post } from '../api.js';
import { h, setText, clear, copyButton } from '../dom.js';
import { fmtDateTime, fmtAgo, fmtMs, fmtBytes, fmtInt, fmtTime } from '../format.js';
import { kpi } from '../components/cards.js';

const POLL_MS = 400;
const WAIT_MS = 15000;

// "policies/x.lua:12: unexpected symbol" → { file, line, message }
export function parseLuaError(text) {
  const m = /^(?:\S*?[/\\])?(?<path>[^\s:]+\.lua):(?<line>\d+):\s*(?<msg>[\s\S]*)$/.exec(String(text).trim());
  if (!m) {
    const inner = /(?<path>[^\s:"']+\.lua):(?<line>\d+):\s*(?<msg>[\s\S]*)$/.exec(String(text));
    if (!inner) return null;
    return { file: inner.groups.path, line: Number(inner.groups.line), message: inner.groups.msg };
  }
  return { file: m.groups.path, line: Number(m.groups.line), message: m.groups.msg };
}

function fileLabel(text) {
  // Keep the "policies/…" part of a path when there is one.
  const full = /(\S*\.lua):\d+:/.exec(String(text));
  if (!full) return null;
  const p = full[1];
  const i = p.lastIndexOf('policies/');
  return i >= 0 ? p.slice(i) : p;
}

export function mount(root, ctx) {
  const reloadBtn = h('button', { type: 'button', class: 'primary' }, 'Reload policies');
  const outcome = h('span', { class: 'muted', role: 'status', 'aria-live': 'polite' });
  const errorSlot = h('div', { 'aria-live': 'polite' });
  const restartSlot = h('div');
  const facts = {
    generation: kpi('Generation', { id: 'generation' }),
    loaded: kpi('Loaded at', { id: 'loaded-at' }),
    loadMs: kpi('Load time', { id: 'load-ms' }),
  };
  const filesBody = h('tbody');
  const loadErr = h('div', { class: 'notice err', hidden: true });

  root.append(
    h('div', { class: 'page-head' }, h('h1', null, 'Policies'), outcome, reloadBtn),
    loadErr,
    errorSlot,
    restartSlot,
    h('div', { class: 'cards section' }, facts.generation.el, facts.loaded.el, facts.loadMs.el),
    h('section', { class: 'section' }, h('h2', null, 'Files'),
      h('p', { class: 'muted small' }, 'Files in policies/ load in name order. Save a file and the gateway reloads by itself; a file that fails to load changes nothing.'),
      h('div', { class: 'table-wrap' }, h('table', null,
        h('thead', null, h('tr', null, h('th', null, 'File'), h('th', { class: 'r' }, 'Size'), h('th', null, 'SHA-256'))),
        filesBody))),
  );

  let last = null;

  function render(p) {
    last = p;
    facts.generation.set(fmtInt(p.generation), '');
    facts.loaded.set(p.loaded_at_ms ? fmtTime(p.loaded_at_ms) : '–', p.loaded_at_ms ? `${fmtDateTime(p.loaded_at_ms).slice(0, 10)} · ${fmtAgo(p.loaded_at_ms)}` : '');
    facts.loadMs.set(p.load_ms !== undefined && p.load_ms !== null ? fmtMs(p.load_ms) : '–', '');

    clear(errorSlot);
    if (p.last_error) {
      const loc = parseLuaError(p.last_error);
      const file = fileLabel(p.last_error) || (loc && loc.file);
      errorSlot.append(h('div', { class: 'notice err section', role: 'alert', dataset: { policyError: '' } },
        h('h2', null, 'Last reload failed — the previous generation is still in use'),
        loc ? h('div', { class: 'error-loc' }, `${file} line ${loc.line}`) : null,
        h('pre', { class: 'error-msg' }, String(p.last_error)),
        p.last_error_at_ms ? h('p', { class: 'muted small' }, `at ${fmtDateTime(p.last_error_at_ms)} (${fmtAgo(p.last_error_at_ms)})`) : null));
    }
    clear(restartSlot);
    if (p.restart_needed) {
      restartSlot.append(h('div', { class: 'notice warn section' },
        h('strong', null, 'Restart needed: '), `the config changed "${p.restart_needed}", which takes effect only after a restart.`));
    }

    clear(filesBody);
    const files = Array.isArray(p.files) ? p.files : [];
    for (const f of files) {
      const sha = f.sha256 ? String(f.sha256) : '';
      filesBody.append(h('tr', null,
        h('td', { class: 'mono' }, f.name ?? '?'),
        h('td', { class: 'r num' }, fmtBytes(f.size)),
        h('td', null, sha ? h('span', { class: 'mono small', title: sha }, `${sha.slice(0, 16)}…`) : '–', ' ', sha ? copyButton(sha) : null)));
    }
    if (!files.length) filesBody.append(h('tr', null, h('td', { colspan: 3, class: 'muted' }, 'No policy files: the gateway routes by itself.')));
  }

  async function load() {
    try {
      const p = await api('/api/policies', { signal: ctx.signal });
      loadErr.hidden = true;
      render(p || {});
      return p;
    } catch (e) {
      if (ctx.signal.aborted) return null;
      loadErr.hidden = false;
      setText(loadErr, e.notAvailable ? 'Policy status: not available on this gateway.' : `Could not read /api/policies: ${e.message}`);
      return null;
    }
  }

  const changed = (a, b) => !a || !b || a.generation !== b.generation || a.last_error_at_ms !== b.last_error_at_ms
    || a.loaded_at_ms !== b.loaded_at_ms || a.last_error !== b.last_error;

  let waiting = null; // resolves when a reload outcome is known
  async function reload() {
    const before = last;
    reloadBtn.disabled = true;
    setText(outcome, 'Reloading…');
    try {
      await post('/api/policies/reload');
    } catch (e) {
      reloadBtn.disabled = false;
      setText(outcome, e.notAvailable ? 'Reload: not available on this gateway.' : `Reload failed: ${e.message}`);
      return;
    }
    const end = performance.now() + WAIT_MS;
    let p = null;
    await new Promise((resolve) => {
      waiting = resolve;
      const tick = async () => {
        if (!ctx.alive() || waiting !== resolve) return resolve();
        p = await load();
        if (p && changed(before, p)) return resolve();
        if (performance.now() > end) return resolve();
        setTimeout(tick, POLL_MS);
      };
      setTimeout(tick, POLL_MS);
    });
    waiting = null;
    if (!ctx.alive()) return;
    reloadBtn.disabled = false;
    p = last;
    if (!p || !changed(before, p)) setText(outcome, 'No change reported yet.');
    else if (p.last_error && (!before || p.last_error_at_ms !== before.last_error_at_ms || p.last_error !== before.last_error) && p.generation === (before && before.generation))
      setText(outcome, 'Reload failed — see the error below.');
    else setText(outcome, `Reloaded: generation ${p.generation}.`);
  }

  reloadBtn.addEventListener('click', reload);
  ctx.on('reload', async () => {
    await load();
    if (waiting) waiting();
  });
  ctx.every(15000, load);
  load();
}
