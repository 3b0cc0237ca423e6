// record.js — one request record shown in full: a headline, the waterfall
// of its phases (gateway → connect → wait → generation), the failover
// attempts parsed from attempts_json, and every field grouped by kind.
// Used by the Live feed (expanded row) and the Requests detail view. Any
// field the record gains later still shows, under "Other".

import { h, kvList, copyButton } from '../dom.js';
import { fmtMs, fmtCost, fmtInt, fmtDateTime, statusClass, modelOf, num } from '../format.js';

const GROUPS = [
  ['Request', ['id', 'ts_ms', 'endpoint', 'client_format', 'provider_format', 'provider', 'model_requested',
    'model_routed', 'status', 'http_status', 'upstream_status', 'stream', 'error', 'attempts', 'key_id', 'user_id',
    'environment', 'session_id', 'crosstalk_session', 'policy_generation', 'worker']],
  ['Tokens', ['tokens_input', 'tokens_output', 'tokens_reasoning', 'tokens_cached_read', 'tokens_cache_write',
    'tokens_tool_use', 'tokens_audio', 'tokens_total', 'tokens_estimated', 'tokens_per_second']],
  ['Cost', ['cost', 'original_cost', 'savings', 'cost_unknown']],
  ['Timing', ['duration_ms', 'gateway_ms', 'connect_ms', 'ttfb_ms', 'generation_ms', 'ttft_ms', 'pauses',
    'bytes_in', 'bytes_out']],
];
const SKIP = new Set(['attempts_json']);

function fieldValue(key, v) {
  if (v === null || v === undefined) return h('span', { class: 'muted' }, 'null');
  if (key === 'ts_ms' || key.endsWith('_at_ms')) return `${fmtDateTime(v)} (${v})`;
  if (key.endsWith('_ms')) return `${fmtMs(v)}`;
  if (key === 'cost' || key === 'original_cost' || key === 'savings') return fmtCost(v);
  if (key.startsWith('tokens_') && key !== 'tokens_per_second' && key !== 'tokens_estimated') return fmtInt(v);
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

function fieldGroups(rec) {
  const used = new Set();
  const out = [];
  for (const [title, keys] of GROUPS) {
    const pairs = [];
    for (const k of keys) {
      if (!(k in rec)) continue;
      used.add(k);
      pairs.push([k, fieldValue(k, rec[k])]);
    }
    if (pairs.length) out.push([title, pairs]);
  }
  const rest = Object.keys(rec).filter((k) => !used.has(k) && !SKIP.has(k))
    .map((k) => [k, fieldValue(k, rec[k])]);
  if ('attempts_json' in rec) rest.push(['attempts_json', rec.attempts_json == null ? fieldValue('', null) : String(rec.attempts_json)]);
  if (rest.length) out.push(['Other', rest]);
  return out;
}

// attempts_json → [{provider, model, status, result, duration_ms, …}] or null.
export function parseAttempts(rec) {
  const raw = rec && rec.attempts_json;
  if (raw === null || raw === undefined || raw === '') return null;
  let v = raw;
  if (typeof raw === 'string') {
    try { v = JSON.parse(raw); } catch { return { invalid: String(raw) }; }
  }
  return Array.isArray(v) ? v : { invalid: typeof raw === 'string' ? raw : JSON.stringify(raw) };
}

function attemptsList(rec) {
  const list = parseAttempts(rec);
  if (!list) return h('p', { class: 'muted' }, 'No attempt list recorded.');
  if (list.invalid !== undefined) return h('pre', { class: 'error-msg' }, list.invalid);
  if (!list.length) return h('p', { class: 'muted' }, 'No upstream attempt (answered by the gateway).');
  return h('ol', { class: 'attempts' }, list.map((a, i) => {
    const ok = a && (a.result === 'success' || a.result === 'ok' || (num(a.status) && num(a.status) < 400 && !a.error));
    const last = i === list.length - 1;
    return h('li', null,
      h('span', { class: `st ${ok ? 'ok' : 'err'}` }, String(a.status ?? a.http_status ?? '–')), ' ',
      h('strong', null, `${a.provider ?? '?'} / ${a.model ?? '?'}`), ' ',
      h('span', { class: 'muted' }, [a.result, a.error].filter(Boolean).join(' — ') || ''), ' ',
      h('span', { class: 'num muted' }, a.duration_ms !== undefined ? fmtMs(a.duration_ms) : ''),
      last && list.length > 1 ? h('span', { class: 'pill' }, 'final') : null);
  }));
}

// Phases in order. ttfb is counted from the upstream call, so it includes
// connect; the "wait" bar is what remains of it after connecting. On a
// failover the failed attempts come before the final one; the host counts
// them inside gateway_ms (its clock for "gateway" stops when the final
// attempt starts), so they are taken out of it and shown on their own.
export function phases(rec) {
  const list = parseAttempts(rec);
  let earlier = 0;
  if (Array.isArray(list) && list.length > 1) {
    for (const a of list.slice(0, -1)) earlier += Math.max(0, num(a && a.duration_ms) || 0);
  }
  let g = Math.max(0, num(rec.gateway_ms) || 0);
  if (earlier && g >= earlier) g -= earlier;
  const c = Math.max(0, num(rec.connect_ms) || 0);
  const t = Math.max(0, num(rec.ttfb_ms) || 0);
  const gen = Math.max(0, num(rec.generation_ms) || 0);
  const wait = t >= c ? t - c : t;
  const out = [{ key: 'gateway', label: 'gateway', start: 0, ms: g, shown: earlier ? g : rec.gateway_ms }];
  if (earlier) out.push({ key: 'failed', label: 'failed attempts', start: g, ms: earlier, shown: earlier });
  const s0 = g + earlier;
  out.push(
    { key: 'connect', label: 'connect', start: s0, ms: c, shown: rec.connect_ms },
    { key: 'wait', label: 'wait (ttfb)', start: s0 + c, ms: wait, shown: rec.ttfb_ms },
    { key: 'generation', label: 'generation', start: s0 + c + wait, ms: gen, shown: rec.generation_ms });
  return out;
}

export function waterfall(rec) {
  const ph = phases(rec);
  const end = ph.reduce((m, p) => Math.max(m, p.start + p.ms), 0);
  const total = Math.max(num(rec.duration_ms) || 0, end, 0.001);
  const pct = (x) => `${Math.min(100, (x / total) * 100).toFixed(2)}%`;
  const rows = [];
  for (const p of ph) {
    rows.push(h('span', { class: 'muted' }, p.label),
      h('div', { class: 'track', role: 'img', 'aria-label': `${p.label} ${fmtMs(p.shown)}` },
        h('div', { class: `seg-bar ph-${p.key}`, style: { left: pct(p.start), width: pct(p.ms) } })),
      h('span', { class: 'num r' }, fmtMs(p.shown)));
  }
  rows.push(h('strong', null, 'total'),
    h('div', { class: 'track' }, h('div', { class: 'seg-bar ph-total', style: { left: '0', width: '100%' } })),
    h('strong', { class: 'num' }, fmtMs(rec.duration_ms)));
  const ttft = num(rec.ttft_ms);
  return h('div', null,
    h('div', { class: 'waterfall' }, rows),
    ttft ? h('p', { class: 'muted small' }, `Time to first token: ${fmtMs(ttft)}`) : null);
}

export function recordDetail(rec, { headline = true } = {}) {
  const cls = statusClass(rec);
  const groups = fieldGroups(rec).map(([title, pairs]) =>
    h('section', { class: 'section' }, h('h3', null, title), kvList(pairs)));
  return h('div', { class: 'record' },
    headline ? h('div', { class: 'page-head' },
      h('span', { class: `st ${cls}` }, `${rec.status ?? '?'} ${rec.http_status ?? ''}`),
      h('strong', null, `${rec.provider ?? '–'} / ${modelOf(rec)}`),
      rec.model_requested && rec.model_routed && rec.model_requested !== rec.model_routed
        ? h('span', { class: 'muted' }, `(asked for ${rec.model_requested})`) : null,
      h('span', { class: 'mono muted small' }, rec.id ?? ''),
      rec.id ? copyButton(String(rec.id), 'Copy id') : null) : null,
    rec.error ? h('div', { class: 'notice err' }, h('pre', { class: 'error-msg' }, String(rec.error))) : null,
    h('section', { class: 'section' }, h('h3', null, 'Phases'), waterfall(rec)),
    h('section', { class: 'section' }, h('h3', null, `Attempts${num(rec.attempts) > 1 ? ` (failover: ${rec.attempts})` : ''}`), attemptsList(rec)),
    groups);
}
