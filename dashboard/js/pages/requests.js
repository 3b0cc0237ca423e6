// requests.js — stored requests: a paged, filterable list from
// analytics/requests (range, provider, model, status, user, key; 50 a page)
// with a search box that opens a request by id or narrows the page by
// text, and a detail view (#/requests?id=…) showing every field, the
// phase waterfall and the failover attempts. The list's state lives in the
// address so Back returns to the same page and filters.

import { api, analytics, rangeParams, RANGES, listOf, pick, seenEnvironment } from '../api.js';
import { h, setText, clear } from '../dom.js';
import { fmtDateTime, fmtMs, fmtCost, fmtInt, statusClass } from '../format.js';
import { recordDetail } from '../components/record.js';

const PAGE = 50;
const STATUSES = ['success', 'error', 'refused', 'rate_limited', 'timeout', 'cancelled'];
const ID_RE = /^[0-9a-f]{16,64}$/i;

function selectField(label, options, value, onChange) {
  const sel = h('select', { onchange: () => onChange(sel.value) },
    h('option', { value: '' }, 'all'), options.map((o) => h('option', { value: o }, o)));
  if (value && !options.includes(value)) sel.append(h('option', { value }, value));
  sel.value = value || '';
  return { el: h('label', { class: 'field' }, label, sel), sel };
}

function textField(label, value, onChange, placeholder = '') {
  const input = h('input', { type: 'search', value, placeholder, spellcheck: 'false' });
  input.addEventListener('change', () => onChange(input.value.trim()));
  return { el: h('label', { class: 'field' }, label, input), input };
}

export function mount(root, ctx) {
  let params = ctx.params;
  let view = null; // 'list' | 'detail'
  let listHash = '#/requests'; // where "← Requests" returns to

  function show(p) {
    params = p;
    const id = p.get('id');
    clear(root);
    if (id) { view = 'detail'; detail(id); } else { view = 'list'; list(); }
    if (!id) listHash = location.hash || '#/requests';
  }

  // ---- detail ----
  async function detail(id) {
    const back = h('button', { type: 'button', onclick: () => ctx.navigate(listHash) }, '← Requests');
    const body = h('div', null, h('p', { class: 'muted' }, 'Loading…'));
    root.append(h('div', { class: 'page-head' }, back, h('h1', null, 'Request')), body);
    try {
      const rec = await api(`/api/analytics/request?id=${encodeURIComponent(id)}`, { signal: ctx.signal });
      clear(body);
      body.append(h('div', { class: 'panel' }, recordDetail(rec && rec.record ? rec.record : rec)));
    } catch (e) {
      if (ctx.signal.aborted) return;
      clear(body);
      body.append(h('div', { class: 'notice warn' }, e.status === 404
        ? `No stored request with id ${id}. It may not be written yet, or retention removed it.`
        : `Could not load the request: ${e.message}`));
    }
  }

  // ---- list ----
  function list() {
    const f = {
      range: RANGES[params.get('range')] ? params.get('range') : '24h',
      provider: params.get('provider') || '',
      model: params.get('model') || '',
      status: params.get('status') || '',
      user: params.get('user') || '',
      key: params.get('key') || '',
      q: params.get('q') || '',
      page: Math.max(0, parseInt(params.get('page') || '0', 10) || 0),
    };
    const set = (patch) => {
      Object.assign(f, patch);
      if (!('page' in patch)) f.page = 0;
      ctx.setParams({ ...f, range: f.range === '24h' ? '' : f.range, page: f.page || '' });
      listHash = location.hash;
      load();
    };

    const search = h('input', { type: 'search', value: f.q, placeholder: 'request id, model, error text…', 'aria-label': 'Search requests', spellcheck: 'false' });
    const searchForm = h('form', { class: 'field', role: 'search' }, h('label', { class: 'field' }, 'Search', search));
    searchForm.addEventListener('submit', (e) => {
      e.preventDefault();
      const q = search.value.trim();
      if (ID_RE.test(q)) { ctx.navigate(`#/requests?id=${encodeURIComponent(q)}`); return; }
      f.q = q;
      ctx.setParams({ ...f, range: f.range === '24h' ? '' : f.range, page: f.page || '' });
      listHash = location.hash;
      render();
    });
    search.addEventListener('input', () => { if (!search.value) { f.q = ''; render(); } });

    const rangeSel = h('select', { onchange: () => set({ range: rangeSel.value }) },
      Object.keys(RANGES).map((r) => h('option', { value: r }, `last ${r}`)));
    rangeSel.value = f.range;
    const providerSel = selectField('Provider', [], f.provider, (v) => set({ provider: v }));
    const modelSel = selectField('Model', [], f.model, (v) => set({ model: v }));
    const statusSel = selectField('Status', STATUSES, f.status, (v) => set({ status: v }));
    const user = textField('User', f.user, (v) => set({ user: v }));
    const key = textField('Key id', f.key, (v) => set({ key: v }));
    api('/api/providers', { signal: ctx.signal }).then((j) => {
      const ps = listOf(j, 'providers');
      const add = (sel, values) => {
        const have = new Set([...sel.options].map((o) => o.value));
        for (const v of values) if (v && !have.has(v)) { sel.append(h('option', { value: v }, v)); have.add(v); }
      };
      add(providerSel.sel, ps.map((p) => p.name));
      add(modelSel.sel, ps.flatMap((p) => (Array.isArray(p.models) ? p.models : [])));
    }).catch(() => {});

    const tbody = h('tbody');
    const status = h('p', { class: 'muted small', role: 'status', 'aria-live': 'polite' });
    const prev = h('button', { type: 'button', onclick: () => set({ page: f.page - 1 }) }, '← Newer');
    const next = h('button', { type: 'button', onclick: () => set({ page: f.page + 1 }) }, 'Older →');
    const pos = h('span', { class: 'num muted' });

    root.append(
      h('div', { class: 'page-head' }, h('h1', null, 'Requests')),
      h('div', { class: 'toolbar' }, searchForm, h('label', { class: 'field' }, 'Range', rangeSel),
        providerSel.el, modelSel.el, statusSel.el, user.el, key.el),
      h('div', { class: 'table-wrap' }, h('table', null,
        h('thead', null, h('tr', null, h('th', null, 'Time'), h('th', null, 'Status'), h('th', { class: 'hide-sm' }, 'Provider'),
          h('th', null, 'Model'), h('th', { class: 'r hide-sm' }, 'Tokens'), h('th', { class: 'r hide-sm' }, 'Cost'),
          h('th', { class: 'r' }, 'Latency'), h('th', { class: 'r hide-sm' }, 'TTFT'))),
        tbody)),
      h('div', { class: 'pager' }, prev, pos, next),
      status);

    let rows = [];
    let total = null;
    let hasMore = false;

    function matches(r) {
      if (!f.q) return true;
      const q = f.q.toLowerCase();
      return ['id', 'provider', 'model_requested', 'model_routed', 'status', 'http_status', 'error', 'endpoint', 'user_id', 'key_id', 'environment', 'session_id']
        .some((k) => r[k] !== null && r[k] !== undefined && String(r[k]).toLowerCase().includes(q));
    }

    function render() {
      clear(tbody);
      const shown = rows.filter(matches);
      for (const r of shown) {
        const open = () => ctx.navigate(`#/requests?id=${encodeURIComponent(r.id)}`);
        const model = r.model_routed || r.model_requested || '–';
        tbody.append(h('tr', { class: 'clickable', onclick: open },
          h('td', { class: 'num' }, h('a', { href: `#/requests?id=${encodeURIComponent(r.id)}`, onclick: (e) => e.stopPropagation() }, fmtDateTime(r.ts_ms))),
          h('td', null, h('span', { class: `st ${statusClass(r)}` }, `${r.status ?? '?'} ${r.http_status ?? ''}`)),
          h('td', { class: 'hide-sm' }, r.provider ?? '–'),
          h('td', null, model),
          h('td', { class: 'r num hide-sm' }, fmtInt(r.tokens_total)),
          h('td', { class: 'r num hide-sm' }, fmtCost(r.cost)),
          h('td', { class: 'r num' }, fmtMs(r.duration_ms)),
          h('td', { class: 'r num hide-sm' }, fmtMs(r.ttft_ms || null))));
      }
      if (!shown.length) {
        tbody.append(h('tr', null, h('td', { colspan: 8, class: 'muted' },
          rows.length ? 'No request on this page matches the search.' : 'No requests match these filters.')));
      }
      const first = f.page * PAGE;
      setText(pos, rows.length ? `${fmtInt(first + 1)}–${fmtInt(first + rows.length)}${total !== null ? ` of ${fmtInt(total)}` : ''}` : '');
      prev.disabled = f.page === 0;
      next.disabled = !hasMore;
      setText(status, f.q && rows.length ? `Search narrows this page of ${rows.length}; an exact request id opens it.` : '');
    }

    let seq = 0;
    async function load() {
      const my = ++seq;
      setText(status, 'loading…');
      try {
        const j = await analytics('requests', {
          ...rangeParams(f.range), provider: f.provider, model: f.model, status: f.status,
          user: f.user, key: f.key, limit: PAGE, offset: f.page * PAGE,
        }, { signal: ctx.signal });
        if (my !== seq) return;
        rows = listOf(j, 'requests', 'rows');
        for (const env of new Set(rows.map((r) => r.environment))) seenEnvironment(env);
        total = pick(j, 'total') ?? null;
        const more = pick(j, 'has_more');
        hasMore = more !== undefined ? !!more : total !== null ? (f.page + 1) * PAGE < total : rows.length === PAGE;
        render();
      } catch (e) {
        if (ctx.signal.aborted || my !== seq) return;
        rows = [];
        clear(tbody);
        tbody.append(h('tr', null, h('td', { colspan: 8, class: 'na' },
          e.notAvailable ? 'Request history: not available on this gateway.' : `Could not load requests: ${e.message}`)));
        setText(status, '');
      }
    }
    load();
  }

  ctx.onEnv(() => { if (view === 'list') show(params); });
  show(params);
  return { update: show };
}
