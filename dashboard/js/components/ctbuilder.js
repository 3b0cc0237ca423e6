// ctbuilder.js — build a crosstalk preset in the browser: participants
// (model from /v1/models, template or system prompt, temperature, max
// tokens), topology (star: its centre), paradigm (debate: a judge; report:
// a synthesizer), rounds, prompt and budget. The preview draws the
// topology and lists round 1's turn order (who speaks, whom they hear) and
// the planned turns. Run posts the preset as JSON (POST
// /api/crosstalk/sessions {"preset": {...}}) and hands the new id to the
// monitor. Presets can be saved in this browser, downloaded as a Lua file
// for examples/crosstalk/ or `moongate crosstalk`, and the gateway's
// bundled presets can be run by name.

import { api, post } from '../api.js';
import { h, setText, clear, download, toast } from '../dom.js';
import { topologyDiagram, turnOrder, specialOf } from './topology.js';

export const TEMPLATES = ['philosopher', 'skeptic', 'scientist', 'optimist', 'critic', 'engineer', 'historian',
  'economist', 'poet', 'moderator', 'judge', 'synthesizer'];
const TOPOLOGIES = ['ring', 'chain', 'mesh', 'star'];
const PARADIGMS = ['relay', 'debate', 'memory', 'report'];
const CUSTOM = '(system prompt)';
const MAX_PARTICIPANTS = 16;
const SAVED_KEY = 'mg.crosstalk.presets';
const ID_RE = /^[A-Za-z0-9_-]{1,64}$/;

const DEFAULT = () => ({
  name: 'dashboard',
  prompt: 'What would a city designed for a hundred-year-old population look like?',
  participants: [
    { id: 'philosopher', model: 'gpt-4o-mini', template: 'philosopher', temperature: 0.7, max_tokens: 200 },
    { id: 'scientist', model: 'claude-haiku-4-5', template: 'scientist', temperature: 0.7, max_tokens: 200 },
    { id: 'poet', model: 'gemini-2.5-flash', template: 'poet', temperature: 1.0, max_tokens: 200 },
  ],
  topology: 'ring', center: '', paradigm: 'relay', special: '', rounds: 3, budget_usd: 0.05,
});

// ---- Lua output -------------------------------------------------------------

function luaString(v) {
  let out = '"';
  for (const ch of String(v)) {
    const c = ch.codePointAt(0);
    if (ch === '"' || ch === '\\') out += '\\' + ch;
    else if (ch === '\n') out += '\\n';
    else if (c < 32 || c === 127) out += '\\' + String(c).padStart(3, '0');
    else out += ch;
  }
  return out + '"';
}

function luaValue(v, indent) {
  if (v === null || v === undefined) return 'nil';
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (typeof v === 'string') return luaString(v);
  const pad = '  '.repeat(indent + 1);
  if (Array.isArray(v)) return `{\n${v.map((x) => pad + luaValue(x, indent + 1)).join(',\n')},\n${'  '.repeat(indent)}}`;
  const parts = [];
  if (v[0] !== undefined) parts.push(luaValue(v[0], indent + 1)); // { "star", center = "x" }
  for (const [k, x] of Object.entries(v)) {
    if (k === '0' || x === undefined || x === null) continue;
    parts.push(`${/^[A-Za-z_][A-Za-z0-9_]*$/.test(k) ? k : `[${luaString(k)}]`} = ${luaValue(x, indent + 1)}`);
  }
  if (parts.length <= 4 && parts.every((p) => !p.includes('\n')) && parts.join(', ').length < 90) return `{ ${parts.join(', ')} }`;
  return `{\n${parts.map((p) => pad + p).join(',\n')},\n${'  '.repeat(indent)}}`;
}

export function presetToLua(p) {
  const lua = { ...p };
  if (p.topology && typeof p.topology === 'object') lua.topology = { 0: p.topology.name, ...p.topology, name: undefined };
  if (p.paradigm && typeof p.paradigm === 'object') lua.paradigm = { 0: p.paradigm.name, ...p.paradigm, name: undefined };
  return `-- ${p.name}.lua — built in the moongate dashboard.\n--   moongate crosstalk ${p.name}.lua\nreturn ${luaValue(lua, 0)}\n`;
}

// ---- the builder ------------------------------------------------------------

export function ctBuilder(ctx, { started }) {
  let st = DEFAULT();
  let models = [];
  const modelList = h('datalist', { id: 'ct-models' });
  const partsBody = h('div', { class: 'ct-parts' });
  const addBtn = h('button', { type: 'button', onclick: () => { addParticipant(); } }, '+ Add participant');
  const errors = h('div', { class: 'notice err', hidden: true, role: 'alert' });
  const runBtn = h('button', { type: 'button', class: 'primary', onclick: () => run() }, 'Run');
  const runStatus = h('span', { class: 'muted small', role: 'status' });

  const field = (label, input, cls = '') => h('label', { class: `field ${cls}` }, label, input);
  const nameIn = h('input', { type: 'text', value: st.name, 'aria-label': 'Preset name', spellcheck: 'false' });
  const promptIn = h('textarea', { rows: 3, 'aria-label': 'Prompt' });
  const topoSel = h('select', { 'aria-label': 'Topology' }, TOPOLOGIES.map((t) => h('option', { value: t }, t)));
  const centerSel = h('select', { 'aria-label': 'Star centre' });
  const centerField = field('Centre', centerSel);
  const paraSel = h('select', { 'aria-label': 'Paradigm' }, PARADIGMS.map((t) => h('option', { value: t }, t)));
  const specialSel = h('select', { 'aria-label': 'Judge or synthesizer' });
  const specialLabel = h('span', null, 'Judge');
  const specialField = h('label', { class: 'field' }, specialLabel, specialSel);
  const roundsIn = h('input', { type: 'number', min: 1, max: 1000, step: 1, 'aria-label': 'Rounds', class: 'narrow' });
  const budgetIn = h('input', { type: 'number', min: 0, step: 0.01, 'aria-label': 'Budget (USD)', class: 'narrow', placeholder: 'none' });

  const diagram = topologyDiagram({ label: 'Preview of the topology' });
  const orderList = h('ol', { class: 'ct-order' });
  const planned = h('p', { class: 'muted small' });

  const savedSel = h('select', { 'aria-label': 'Saved presets' });
  const bundledSel = h('select', { 'aria-label': 'Bundled presets' });
  const bundledDesc = h('span', { class: 'muted small' });

  const el = h('div', { class: 'ct-builder' },
    modelList,
    h('div', { class: 'ct-grid' },
      h('div', { class: 'ct-main' },
        h('div', { class: 'panel' },
          h('div', { class: 'toolbar' }, field('Name', nameIn), field('Topology', topoSel), centerField, field('Paradigm', paraSel), specialField,
            field('Rounds', roundsIn), field('Budget (USD)', budgetIn)),
          h('label', { class: 'field wide' }, 'Prompt', promptIn),
          h('h3', { class: 'sub-h' }, 'Participants'),
          partsBody,
          h('div', { class: 'toolbar section' }, addBtn),
          errors,
          h('div', { class: 'toolbar' }, runBtn, h('button', { type: 'button', onclick: save }, 'Save in this browser'),
            h('button', { type: 'button', onclick: () => download(`${safeName()}.lua`, new Blob([presetToLua(preset())], { type: 'text/x-lua' })) }, 'Download .lua'),
            runStatus)),
        h('div', { class: 'panel section' },
          h('h3', { class: 'sub-h' }, 'Presets'),
          h('div', { class: 'toolbar' }, field('Saved here', savedSel),
            h('button', { type: 'button', onclick: loadSaved }, 'Load'), h('button', { type: 'button', class: 'danger', onclick: deleteSaved }, 'Delete')),
          h('div', { class: 'toolbar' }, field('Bundled (examples/crosstalk/)', bundledSel),
            h('button', { type: 'button', onclick: runBundled }, 'Run preset'), bundledDesc))),
      h('div', { class: 'ct-side' },
        h('div', { class: 'panel' }, h('h3', { class: 'sub-h' }, 'Preview'), diagram.el,
          h('h3', { class: 'sub-h' }, 'Round 1'), orderList, planned))));

  // ---- participants ----
  function participantRow(p, i) {
    const idIn = h('input', { type: 'text', value: p.id, 'aria-label': `Participant ${i + 1} id`, spellcheck: 'false', class: 'ct-id' });
    const modelIn = h('input', { type: 'text', value: p.model, list: 'ct-models', 'aria-label': `Participant ${i + 1} model`, spellcheck: 'false', autocomplete: 'off' });
    const tplSel = h('select', { 'aria-label': `Participant ${i + 1} template` }, [...TEMPLATES, CUSTOM].map((t) => h('option', { value: t }, t)));
    tplSel.value = p.system !== undefined && !p.template ? CUSTOM : (p.template || 'philosopher');
    const sysIn = h('input', { type: 'text', value: p.system || '', 'aria-label': `Participant ${i + 1} system prompt`, placeholder: 'You are…' });
    const tempIn = h('input', { type: 'number', min: 0, max: 2, step: 0.1, value: p.temperature ?? '', 'aria-label': `Participant ${i + 1} temperature`, class: 'narrow' });
    const maxIn = h('input', { type: 'number', min: 1, max: 32768, step: 1, value: p.max_tokens ?? '', 'aria-label': `Participant ${i + 1} max tokens`, class: 'narrow', placeholder: '400' });
    const sysField = field('System prompt', sysIn, 'grow');
    sysField.hidden = tplSel.value !== CUSTOM;
    const remove = h('button', { type: 'button', class: 'danger', 'aria-label': `Remove participant ${i + 1}`, disabled: st.participants.length <= 1 }, 'Remove');
    const sync = () => {
      p.id = idIn.value.trim();
      p.model = modelIn.value.trim();
      if (tplSel.value === CUSTOM) { delete p.template; p.system = sysIn.value; } else { p.template = tplSel.value; delete p.system; }
      sysField.hidden = tplSel.value !== CUSTOM;
      p.temperature = tempIn.value === '' ? undefined : Number(tempIn.value);
      p.max_tokens = maxIn.value === '' ? undefined : Number(maxIn.value);
      refreshChoices();
      preview();
    };
    for (const x of [idIn, modelIn, tplSel, sysIn, tempIn, maxIn]) x.addEventListener('input', sync);
    remove.addEventListener('click', () => { st.participants.splice(st.participants.indexOf(p), 1); renderParticipants(); });
    return h('div', { class: 'ct-part', dataset: { index: String(i) } },
      h('span', { class: 'ct-n num muted' }, String(i + 1)),
      field('Id', idIn), field('Model', modelIn, 'grow'), field('Template', tplSel), sysField,
      field('Temp.', tempIn), field('Max tokens', maxIn), remove);
  }

  function renderParticipants() {
    clear(partsBody);
    st.participants.forEach((p, i) => partsBody.append(participantRow(p, i)));
    addBtn.disabled = st.participants.length >= MAX_PARTICIPANTS;
    refreshChoices();
    preview();
  }

  function addParticipant() {
    const used = new Set(st.participants.map((p) => p.id));
    const tpl = TEMPLATES.find((t) => !used.has(t)) || 'critic';
    let id = tpl, n = 2;
    while (used.has(id)) id = `${tpl}${n++}`;
    const model = models[st.participants.length % Math.max(1, models.length)] || 'gpt-4o-mini';
    st.participants.push({ id, model, template: tpl, temperature: 0.7, max_tokens: 200 });
    renderParticipants();
  }

  // The centre and judge/synthesizer menus list the participants.
  function refreshChoices() {
    const ids = st.participants.map((p) => p.id).filter(Boolean);
    const fill = (sel, first, value) => {
      sel.replaceChildren(h('option', { value: '' }, first), ...ids.map((id) => h('option', { value: id }, id)));
      sel.value = ids.includes(value) ? value : '';
    };
    fill(centerSel, 'first participant', st.center);
    fill(specialSel, st.paradigm === 'debate' ? 'no judge' : 'last participant', st.special);
    centerField.hidden = st.topology !== 'star';
    specialField.hidden = st.paradigm !== 'debate' && st.paradigm !== 'report';
    setText(specialLabel, st.paradigm === 'report' ? 'Synthesizer' : 'Judge');
  }

  // ---- the preset ----
  function preset() {
    const p = { name: safeName(), prompt: st.prompt };
    p.participants = st.participants.map((x) => {
      const o = { id: x.id, model: x.model };
      if (x.system !== undefined && !x.template) o.system = x.system; else o.template = x.template;
      if (Number.isFinite(x.temperature)) o.temperature = x.temperature;
      if (Number.isFinite(x.max_tokens)) o.max_tokens = x.max_tokens;
      return o;
    });
    p.topology = st.topology === 'star' && st.center ? { name: 'star', center: st.center } : st.topology;
    if (st.paradigm === 'debate' && st.special) p.paradigm = { name: 'debate', judge: st.special };
    else if (st.paradigm === 'report' && st.special) p.paradigm = { name: 'report', synthesizer: st.special };
    else p.paradigm = st.paradigm;
    p.rounds = st.rounds;
    if (Number.isFinite(st.budget_usd) && st.budget_usd > 0) p.budget_usd = st.budget_usd;
    return p;
  }

  function safeName() {
    return (st.name || 'dashboard').replace(/[^A-Za-z0-9_-]+/g, '-').slice(0, 60) || 'dashboard';
  }

  function problems() {
    const out = [];
    const seen = new Set();
    st.participants.forEach((p, i) => {
      if (!ID_RE.test(p.id || '')) out.push(`participant ${i + 1}: the id takes letters, digits, _ and - only`);
      else if (seen.has(p.id)) out.push(`participant ${i + 1}: the id "${p.id}" is used twice`);
      seen.add(p.id);
      if (!p.model) out.push(`participant ${i + 1}: choose a model`);
      if (p.temperature !== undefined && !(p.temperature >= 0 && p.temperature <= 2)) out.push(`participant ${i + 1}: temperature is from 0 to 2`);
    });
    if (!st.prompt.trim()) out.push('write a prompt');
    if (!(Number.isInteger(st.rounds) && st.rounds >= 1)) out.push('rounds: a whole number from 1');
    return out;
  }

  // ---- preview ----
  let frame = 0;
  function preview() {
    if (frame) return;
    frame = requestAnimationFrame(drawPreview);
  }
  function drawPreview() {
    frame = 0;
    const p = preset();
    const special = st.paradigm === 'debate' ? (st.special || null) : st.paradigm === 'report' ? specialOf(p.paradigm, p.participants) : null;
    const speakers = p.participants.map((x) => x.id).filter((id) => id && id !== special);
    diagram.render({ participants: p.participants, speakers, topology: p.topology, paradigm: p.paradigm, special });
    const byId = new Map(p.participants.map((x) => [x.id, x]));
    orderList.replaceChildren();
    for (const t of turnOrder(p.topology, speakers)) {
      const who = byId.get(t.speaker) || {};
      const hears = st.paradigm === 'memory' ? 'the shared memory' : t.hears.length ? t.hears.join(', ') : 'the prompt only';
      orderList.append(h('li', { dataset: { speaker: t.speaker } }, h('strong', null, t.speaker), h('span', { class: 'muted small' }, ` ${who.model || ''}`), ` hears ${hears}`));
    }
    if (special) orderList.append(h('li', { class: 'muted' }, h('strong', null, special),
      st.paradigm === 'debate' ? ' gives the verdict after the last round' : ' writes the report after the last round'));
    const turns = speakers.length * (st.rounds || 0) + (special ? 1 : 0);
    setText(planned, `${turns} turn${turns === 1 ? '' : 's'} planned: ${st.rounds || 0} round${st.rounds === 1 ? '' : 's'} × ${speakers.length} speaker${speakers.length === 1 ? '' : 's'}${special ? ' + 1' : ''}${st.budget_usd > 0 ? ` · stops before a turn that could pass $${st.budget_usd}` : ''}`);
    const bad = problems();
    runBtn.disabled = bad.length > 0;
    runBtn.title = bad.join('\n');
  }

  function syncTop() {
    st.name = nameIn.value.trim();
    st.prompt = promptIn.value;
    st.topology = topoSel.value;
    st.center = centerSel.value;
    st.paradigm = paraSel.value;
    st.special = specialSel.value;
    st.rounds = roundsIn.value === '' ? NaN : Number(roundsIn.value);
    st.budget_usd = budgetIn.value === '' ? NaN : Number(budgetIn.value);
    refreshChoices();
    preview();
  }
  for (const x of [nameIn, promptIn, topoSel, centerSel, paraSel, specialSel, roundsIn, budgetIn]) x.addEventListener('input', syncTop);

  function fillForm() {
    nameIn.value = st.name;
    promptIn.value = st.prompt;
    topoSel.value = st.topology;
    paraSel.value = st.paradigm;
    roundsIn.value = Number.isFinite(st.rounds) ? String(st.rounds) : '';
    budgetIn.value = Number.isFinite(st.budget_usd) && st.budget_usd > 0 ? String(st.budget_usd) : '';
    renderParticipants();
  }

  // ---- run ----
  async function start(body, label) {
    runBtn.disabled = true;
    errors.hidden = true;
    setText(runStatus, `Starting ${label}…`);
    try {
      const r = await post('/api/crosstalk/sessions', body);
      setText(runStatus, `Started ${label}.`);
      started(r.id, r);
    } catch (e) {
      errors.hidden = false;
      setText(errors, e.notAvailable && e.status !== 404 ? 'Crosstalk: not available on this gateway.' : `The gateway refused the preset: ${e.message}`);
      setText(runStatus, '');
    } finally {
      preview();
    }
  }

  function run() {
    const bad = problems();
    if (bad.length) {
      errors.hidden = false;
      setText(errors, bad.join('; '));
      return;
    }
    start({ preset: preset() }, safeName());
  }

  function runBundled() {
    if (bundledSel.value) start({ preset: bundledSel.value }, bundledSel.value);
  }

  // ---- saved presets (this browser) ----
  function savedAll() {
    try { return JSON.parse(localStorage.getItem(SAVED_KEY) || '{}') || {}; } catch { return {}; }
  }
  function renderSaved() {
    const all = savedAll();
    const names = Object.keys(all).sort();
    savedSel.replaceChildren(...(names.length ? names.map((n) => h('option', { value: n }, n)) : [h('option', { value: '' }, 'none yet')]));
  }
  function save() {
    const all = savedAll();
    all[safeName()] = JSON.parse(JSON.stringify(st));
    try { localStorage.setItem(SAVED_KEY, JSON.stringify(all)); toast(`Saved "${safeName()}" in this browser`); } catch { toast('This browser refused to save'); }
    renderSaved();
    savedSel.value = safeName();
  }
  function loadSaved() {
    const x = savedAll()[savedSel.value];
    if (!x) return;
    st = { ...DEFAULT(), ...x, participants: (x.participants || []).slice(0, MAX_PARTICIPANTS) };
    fillForm();
  }
  function deleteSaved() {
    const all = savedAll();
    if (!all[savedSel.value]) return;
    delete all[savedSel.value];
    try { localStorage.setItem(SAVED_KEY, JSON.stringify(all)); } catch { /* nothing saved either way */ }
    renderSaved();
  }

  // ---- data from the gateway ----
  async function loadModels() {
    let ids = [];
    try {
      const r = await api('/v1/models', { signal: ctx.signal, quiet401: true });
      ids = ((r && r.data) || []).map((m) => m.id);
    } catch {
      // Keys required for /v1/models: the provider list has the same names.
      try {
        const r = await api('/api/providers', { signal: ctx.signal });
        ids = [...new Set(((r && r.providers) || []).flatMap((p) => p.models || []))];
      } catch { ids = []; }
    }
    models = ids.filter((m) => !/embedding/.test(m));
    modelList.replaceChildren(...models.map((m) => h('option', { value: m })));
  }

  async function loadBundled() {
    try {
      const r = await api('/api/crosstalk/presets', { signal: ctx.signal });
      const list = (r && r.presets) || [];
      bundledSel.replaceChildren(...list.map((p) => h('option', { value: p.name, title: p.description || '' }, p.name)));
      const describe = () => setText(bundledDesc, (list.find((p) => p.name === bundledSel.value) || {}).description || '');
      bundledSel.addEventListener('change', describe);
      describe();
    } catch (e) {
      if (!ctx.signal.aborted) bundledSel.replaceChildren(h('option', { value: '' }, e.notAvailable ? 'not available' : 'could not load'));
    }
  }

  fillForm();
  renderSaved();
  loadModels();
  loadBundled();
  ctx.signal.addEventListener('abort', () => cancelAnimationFrame(frame));
  return { el };
}
