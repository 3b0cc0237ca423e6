// alertrules.js — alert rules: the list (rules made through the API can be
// edited, disabled, muted and deleted; rules from policy files are shown
// read-only, with their file when the gateway reports it), the
// create/edit form, and Test, which sends a test notice to each of the
// rule's named channels (POST /api/alerts/test) and shows what came back.
// Also the channel list, each with its own Test. Uses /api/alerts/rules,
// /api/alerts/channels, /api/alerts/mute, /api/policies (file names).

import { api, post } from '../api.js';
import { h, setText, toast } from '../dom.js';
import { confirmButton } from './confirm.js';
import { fmtDateTime, num } from '../format.js';

export const METRICS = ['error_rate', 'error_count', 'request_rate', 'request_count', 'p50_latency', 'p95_latency', 'p99_latency',
  'avg_latency', 'p95_ttft', 'cost', 'cost_per_hour', 'cost_per_day', 'token_rate', 'tokens', 'cache_hit_rate',
  'model_switch_rate', 'budget_usage'];
const OPS = ['>', '>=', '<', '<=', '==', '!='];
const SEVERITIES = ['info', 'warning', 'critical'];
const NAME_RE = /^[A-Za-z0-9_.-]{1,128}$/;
const SEV_CLASS = { info: '', warning: 'warn', critical: 'err' };

// 300 → "5m", 90 → "90s", 86400 → "1d".
export function fmtSeconds(v) {
  const n = num(v);
  if (n === null) return '–';
  if (n >= 86400 && n % 86400 === 0) return `${n / 86400}d`;
  if (n >= 3600 && n % 3600 === 0) return `${n / 3600}h`;
  if (n >= 60 && n % 60 === 0) return `${n / 60}m`;
  return `${+n.toFixed(3)}s`;
}

export function severityPill(sev) {
  return h('span', { class: `pill ${SEV_CLASS[sev] ?? ''}` }, sev || 'warning');
}

function condition(r) {
  const what = r.function ? 'function' : r.metric;
  return `${what} ${r.op} ${+Number(r.threshold).toPrecision(6)} over ${fmtSeconds(r.window)}${num(r.min_samples) > 1 ? `, ≥ ${r.min_samples} samples` : ''}`;
}

// "provider=openai, model_routed=gpt-4o" ⇄ { provider: "openai", ... }
function parseFilters(text) {
  const out = {};
  for (const part of String(text || '').split(/[,\n]/)) {
    const t = part.trim();
    if (!t) continue;
    const i = t.indexOf('=');
    if (i <= 0) throw new Error(`filter "${t}": write field=value`);
    out[t.slice(0, i).trim()] = t.slice(i + 1).trim();
  }
  return out;
}
const showFilters = (f) => Object.entries(f || {}).map(([k, v]) => `${k}=${v}`).join(', ');
const channelName = (c) => (typeof c === 'string' ? c : `${c.type || 'inline'} (inline)`);

// Two clicks for anything that cannot be undone, without a modal.
export function alertRules(ctx, { changed }) {
  const body = h('tbody');
  const status = h('span', { class: 'muted small', role: 'status' });
  const newBtn = h('button', { type: 'button', class: 'primary', onclick: () => openForm(null) }, 'New rule');
  const chanBody = h('tbody');
  let rules = [];
  let channels = [];
  let firing = new Set();
  let policyFiles = [];

  // ---- form ----
  const f = {
    name: h('input', { type: 'text', 'aria-label': 'Rule name', spellcheck: 'false', placeholder: 'errors_high' }),
    metric: h('input', { type: 'text', list: 'al-metrics', 'aria-label': 'Metric', spellcheck: 'false', value: 'error_rate' }),
    op: h('select', { 'aria-label': 'Operator' }, OPS.map((o) => h('option', { value: o }, o))),
    threshold: h('input', { type: 'number', step: 'any', 'aria-label': 'Threshold', class: 'narrow', value: '0.05' }),
    window: h('input', { type: 'text', 'aria-label': 'Window', class: 'narrow', value: '5m', title: 'seconds, or 30s, 5m, 2h, 1d' }),
    min: h('input', { type: 'number', min: 0, step: 1, 'aria-label': 'Minimum samples', class: 'narrow', value: '1' }),
    severity: h('select', { 'aria-label': 'Severity' }, SEVERITIES.map((s) => h('option', { value: s }, s))),
    cooldown: h('input', { type: 'text', 'aria-label': 'Cooldown', class: 'narrow', value: '10m', title: 'seconds, or 30s, 5m, 2h, 1d' }),
    filters: h('input', { type: 'text', 'aria-label': 'Filters', placeholder: 'provider=openai, model_routed=gpt-4o', spellcheck: 'false' }),
    group: h('input', { type: 'text', 'aria-label': 'Group by', placeholder: 'provider', spellcheck: 'false' }),
    description: h('input', { type: 'text', 'aria-label': 'Description', placeholder: 'what to do when it fires' }),
    enabled: h('input', { type: 'checkbox', checked: true, 'aria-label': 'Enabled' }),
  };
  f.severity.value = 'warning';
  const chanBoxes = h('div', { class: 'actions' });
  const formTitle = h('h3', { class: 'sub-h' }, 'New rule');
  const formErr = h('p', { class: 'error-msg err-text', role: 'alert' });
  const saveBtn = h('button', { type: 'submit', class: 'primary' }, 'Create rule');
  const field = (label, input, cls = '') => h('label', { class: `field ${cls}` }, label, input);
  const form = h('form', { class: 'panel section al-form', hidden: true, autocomplete: 'off' },
    formTitle,
    h('datalist', { id: 'al-metrics' }, METRICS.map((m) => h('option', { value: m }))),
    h('div', { class: 'toolbar' }, field('Name', f.name), field('Metric', f.metric), field('Op', f.op), field('Threshold', f.threshold),
      field('Window', f.window), field('Min samples', f.min), field('Severity', f.severity), field('Cooldown', f.cooldown)),
    h('div', { class: 'toolbar' }, field('Filters', f.filters, 'grow'), field('Group by', f.group), field('Description', f.description, 'grow')),
    h('div', { class: 'toolbar' }, h('span', { class: 'muted small' }, 'Channels:'), chanBoxes,
      h('label', { class: 'check' }, f.enabled, ' enabled')),
    formErr,
    h('div', { class: 'toolbar' }, saveBtn, h('button', { type: 'button', onclick: () => { form.hidden = true; } }, 'Cancel')));
  let editing = null; // the rule being edited, or null for a new one

  function openForm(r) {
    editing = r;
    setText(formTitle, r ? `Edit ${r.name}` : 'New rule');
    setText(saveBtn, r ? 'Save changes' : 'Create rule');
    setText(formErr, '');
    f.name.value = r ? r.name : '';
    f.name.disabled = !!r;
    f.metric.value = r ? r.metric || '' : 'error_rate';
    f.op.value = r ? r.op : '>';
    f.threshold.value = r ? String(r.threshold) : '0.05';
    f.window.value = r ? fmtSeconds(r.window) : '5m';
    f.min.value = r ? String(r.min_samples ?? 1) : '1';
    f.severity.value = r ? r.severity || 'warning' : 'warning';
    f.cooldown.value = r ? fmtSeconds(r.cooldown) : '10m';
    f.filters.value = r ? showFilters(r.filters) : '';
    f.group.value = r ? (r.group_by || []).join(', ') : '';
    f.description.value = r ? r.description || '' : '';
    f.enabled.checked = r ? r.enabled !== false : true;
    const chosen = new Set(r ? (r.channels || []).filter((c) => typeof c === 'string') : ['in_app']);
    chanBoxes.replaceChildren(...channels.map((c) => h('label', { class: 'check' },
      h('input', { type: 'checkbox', value: c.name, checked: chosen.has(c.name), 'aria-label': `Channel ${c.name}` }), ` ${c.name}`)));
    form.hidden = false;
    (r ? f.metric : f.name).focus();
  }

  function formBody() {
    const name = f.name.value.trim();
    if (!editing && !NAME_RE.test(name)) throw new Error('name: 1 to 128 of A-Z a-z 0-9 _ - .');
    const threshold = Number(f.threshold.value);
    if (f.threshold.value === '' || !Number.isFinite(threshold)) throw new Error('threshold: a number');
    const dur = (v) => (/^\d+(\.\d+)?$/.test(v.trim()) ? Number(v) : v.trim());
    const b = {
      metric: f.metric.value.trim(), op: f.op.value, threshold, window: dur(f.window.value),
      min_samples: Number(f.min.value || 0), severity: f.severity.value, cooldown: dur(f.cooldown.value),
      filters: parseFilters(f.filters.value),
      group_by: f.group.value.split(',').map((x) => x.trim()).filter(Boolean),
      channels: [...chanBoxes.querySelectorAll('input:checked')].map((x) => x.value),
      enabled: f.enabled.checked,
    };
    if (!b.channels.length) b.channels = ['in_app'];
    if (f.description.value.trim() || (editing && editing.description)) b.description = f.description.value.trim();
    if (!editing) b.name = name;
    return b;
  }

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    let b;
    try { b = formBody(); } catch (e) { setText(formErr, e.message); return; }
    saveBtn.disabled = true;
    try {
      if (editing) await api(`/api/alerts/rules/${encodeURIComponent(editing.name)}`, { method: 'PATCH', body: b });
      else await post('/api/alerts/rules', b);
      form.hidden = true;
      toast(editing ? `Rule ${editing.name} saved` : `Rule ${b.name} created`);
      await load();
      changed();
    } catch (e) {
      setText(formErr, e.message);
    } finally {
      saveBtn.disabled = false;
    }
  });

  // ---- actions ----
  async function act(label, fn) {
    try { await fn(); await load(); changed(); } catch (e) { toast(`${label}: ${e.message}`, 6000); }
  }

  async function testChannels(list, out) {
    const named = (list && list.length ? list : ['in_app']);
    setText(out, 'testing…');
    const results = [];
    for (const c of named) {
      if (typeof c !== 'string') { results.push(`${channelName(c)}: test it from its policy file`); continue; }
      try {
        const r = await post('/api/alerts/test', { channel: c });
        results.push(`${c}: ${r.ok ? 'ok' : 'failed'}${r.status ? ` ${r.status}` : ''}${r.error ? ` (${r.error})` : ''}`);
      } catch (e) {
        results.push(`${c}: ${e.message}`);
      }
    }
    setText(out, results.join(' · '));
    out.className = `small al-test ${results.every((x) => /: ok/.test(x)) ? 'ok-text' : 'err-text'}`;
  }

  function fileOf(r) {
    const file = r.file || r.source_file || r.path;
    if (file) return String(file);
    if (policyFiles.length === 1) return `policies/${policyFiles[0]}`;
    return 'a policy file';
  }

  function row(r) {
    const api_ = r.source === 'api';
    const testOut = h('span', { class: 'small al-test', role: 'status' });
    const muted = num(r.mute_until) && num(r.mute_until) > Date.now();
    const state = [];
    if (firing.has(r.name)) state.push(h('span', { class: 'pill err' }, 'firing'));
    if (r.enabled === false) state.push(h('span', { class: 'pill' }, 'disabled'));
    if (muted) state.push(h('span', { class: 'pill warn', title: `until ${fmtDateTime(r.mute_until)}` }, 'muted'));
    if (r.shadowed_by_policy) state.push(h('span', { class: 'pill warn', title: 'a policy rule has the same name and wins' }, 'shadowed'));
    if (!state.length) state.push(h('span', { class: 'pill ok' }, 'ok'));
    const actions = [h('button', { type: 'button', onclick: () => testChannels(r.channels, testOut) }, 'Test')];
    if (!muted) actions.push(h('button', { type: 'button', title: 'No notices for an hour', onclick: () => act('mute', () => post('/api/alerts/mute', { rule: r.name, seconds: 3600 })) }, 'Mute 1 h'));
    if (api_) {
      actions.push(
        h('button', { type: 'button', onclick: () => openForm(r) }, 'Edit'),
        h('button', { type: 'button', onclick: () => act('update', () => api(`/api/alerts/rules/${encodeURIComponent(r.name)}`, { method: 'PATCH', body: { enabled: r.enabled === false } })) }, r.enabled === false ? 'Enable' : 'Disable'),
        confirmButton('Delete', 'Really delete?', () => act('delete', () => api(`/api/alerts/rules/${encodeURIComponent(r.name)}`, { method: 'DELETE' })), { key: `rule:${r.name}` }));
    }
    return h('tr', { dataset: { rule: r.name, source: r.source } },
      h('td', null, h('strong', null, r.name), r.description ? h('div', { class: 'muted small' }, r.description) : null),
      h('td', null, api_ ? h('span', { class: 'pill' }, 'API') : h('span', { title: 'Defined in a policy file: edit the file; it reloads by itself' },
        h('span', { class: 'pill' }, 'policy'), h('div', { class: 'muted small mono' }, `read-only · ${fileOf(r)}`))),
      h('td', { class: 'mono small' }, condition(r),
        Object.keys(r.filters || {}).length ? h('div', { class: 'muted' }, showFilters(r.filters)) : null,
        (r.group_by || []).length ? h('div', { class: 'muted' }, `per ${r.group_by.join(', ')}`) : null),
      h('td', null, severityPill(r.severity)),
      h('td', { class: 'num hide-sm' }, fmtSeconds(r.cooldown)),
      h('td', { class: 'small hide-sm' }, (r.channels || []).map(channelName).join(', ')),
      h('td', null, state),
      h('td', null, h('div', { class: 'actions' }, actions), testOut));
  }

  function render() {
    body.replaceChildren(...rules.map(row));
    if (!rules.length) body.append(h('tr', null, h('td', { colspan: 8, class: 'muted' }, 'No rules yet. Create one here, or add `alerts = { ... }` to a policy file.')));
    chanBody.replaceChildren(...channels.map((c) => {
      const out = h('span', { class: 'small al-test', role: 'status' });
      return h('tr', { dataset: { channel: c.name } }, h('td', null, h('strong', null, c.name)), h('td', null, c.type || '–'),
        h('td', { class: 'mono small hide-sm' }, c.url || (Array.isArray(c.to) ? c.to.join(', ') : '') || '–'),
        h('td', null, h('button', { type: 'button', onclick: () => testChannels([c.name], out) }, 'Test'), ' ', out));
    }));
  }

  async function load() {
    try {
      const [r, c, p] = await Promise.all([
        api('/api/alerts/rules', { signal: ctx.signal }),
        api('/api/alerts/channels', { signal: ctx.signal }).catch(() => ({ channels: [{ name: 'in_app', type: 'in_app' }] })),
        api('/api/policies', { signal: ctx.signal }).catch(() => null),
      ]);
      rules = (r && r.rules) || [];
      channels = (c && c.channels) || [];
      policyFiles = ((p && p.files) || []).map((x) => x.name).filter(Boolean);
      render();
      setText(status, r && r.last_eval_ms ? `${r.evaluations ?? '–'} evaluations · last ${fmtDateTime(r.last_eval_ms)}` : '');
    } catch (e) {
      if (!ctx.signal.aborted) setText(status, e.notAvailable ? 'Alerts: not available on this gateway.' : `Could not load rules: ${e.message}`);
    }
  }

  function setFiring(names) {
    firing = new Set(names);
    render();
  }

  const el = h('div', null,
    h('div', { class: 'toolbar' }, newBtn, status),
    form,
    h('div', { class: 'table-wrap' }, h('table', { class: 'al-rules' },
      h('thead', null, h('tr', null, h('th', null, 'Rule'), h('th', null, 'Source'), h('th', null, 'Condition'), h('th', null, 'Severity'),
        h('th', { class: 'hide-sm' }, 'Cooldown'), h('th', { class: 'hide-sm' }, 'Channels'), h('th', null, 'State'), h('th', null, 'Actions'))),
      body)),
    h('details', { class: 'section' }, h('summary', null, 'Channels'),
      h('p', { class: 'muted small' }, 'Named channels are created through the API (POST /api/alerts/channels; see examples/alerts/api.sh). The dashboard (in_app) always hears about alerts.'),
      h('div', { class: 'table-wrap' }, h('table', null,
        h('thead', null, h('tr', null, h('th', null, 'Name'), h('th', null, 'Type'), h('th', { class: 'hide-sm' }, 'Target'), h('th', null, 'Test'))), chanBody))));

  return { el, load, setFiring };
}
