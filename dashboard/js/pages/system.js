// system.js — the host itself: version, uptime, workers, policy
// generation, request and error counters (live from metrics_update), and
// the store: records submitted / written / dropped, writer queue depth and
// database size; plus the database details of /api/system/db when the
// gateway has that endpoint.

import { api } from '../api.js';
import { h, setText, clear, kvList } from '../dom.js';
import { fmtCount, fmtDuration, fmtBytes, fmtInt, fmtDateTime, fmtPct, num } from '../format.js';
import { kpi } from '../components/cards.js';
import { latestMetrics } from '../events.js';

export function mount(root, ctx) {
  const c = {
    uptime: kpi('Uptime', { id: 'sys-uptime' }),
    workers: kpi('Workers', { id: 'sys-workers' }),
    generation: kpi('Policy generation', { id: 'sys-generation' }),
    requests: kpi('Requests', { id: 'sys-requests' }),
    errors: kpi('Errors', { id: 'sys-errors' }),
    active: kpi('Active', { id: 'sys-active' }),
    pauses: kpi('Upstream pauses', { id: 'sys-pauses', title: 'Times an upstream was paused for a slow client' }),
  };
  const st = {
    submitted: kpi('Records submitted', { id: 'store-submitted' }),
    written: kpi('Records written', { id: 'store-written' }),
    dropped: kpi('Records dropped', { id: 'store-dropped', title: 'Dropped because the writer queue was full' }),
    queue: kpi('Writer queue', { id: 'store-queue' }),
    db: kpi('Database size', { id: 'store-db' }),
  };
  const dbSlot = h('div');
  const err = h('div', { class: 'notice err', hidden: true, role: 'alert' });

  root.append(
    h('div', { class: 'page-head' }, h('h1', null, 'System')),
    err,
    h('div', { class: 'cards' }, Object.values(c).map((k) => k.el)),
    h('section', { class: 'section' }, h('h2', null, 'Store'), h('div', { class: 'cards' }, Object.values(st).map((k) => k.el))),
    h('section', { class: 'section' }, h('h2', null, 'Database'), dbSlot),
  );

  let status = null;
  let statusAt = 0;

  function renderUptime() {
    if (!status) return;
    c.uptime.set(fmtDuration((num(status.uptime_s) || 0) + (performance.now() - statusAt) / 1000), `version ${status.version ?? '–'}`);
  }

  function renderCounters(m) {
    const s = status || {};
    const requests = num(m ? m.requests : s.requests);
    const errors = num(m ? m.errors : s.errors);
    c.requests.set(fmtCount(requests), m ? `${num(m.rps) || 0}/s` : '');
    c.errors.set(fmtCount(errors), requests ? fmtPct((errors || 0) / requests) : '');
    c.active.set(fmtInt(m ? m.active : s.active), '');
  }

  function render() {
    const s = status;
    renderUptime();
    c.workers.set(fmtInt(s.workers), '');
    c.generation.set(fmtInt(s.generation), '');
    c.pauses.set(fmtCount(s.upstream_pauses), '');
    renderCounters(latestMetrics());
    const store = s.store || {};
    st.submitted.set(fmtCount(store.submitted), '');
    st.written.set(fmtCount(store.written), '');
    const dropped = num(store.dropped) || 0;
    st.dropped.set(fmtCount(store.dropped), dropped > 0 ? 'queue was full' : 'none');
    st.dropped.value.style.color = dropped > 0 ? 'var(--err)' : '';
    st.queue.set(fmtInt(store.queue_depth), 'waiting for the writer');
    st.db.set(fmtBytes(store.db_bytes), '');
  }

  async function load() {
    try {
      status = await api('/api/status', { signal: ctx.signal });
      statusAt = performance.now();
      err.hidden = true;
      render();
    } catch (e) {
      if (ctx.signal.aborted) return;
      err.hidden = false;
      setText(err, `Could not read /api/status: ${e.message}`);
    }
  }

  async function loadDb() {
    try {
      const d = await api('/api/system/db', { signal: ctx.signal });
      clear(dbSlot);
      const pairs = [];
      const walk = (obj, prefix) => {
        for (const [k, v] of Object.entries(obj || {})) {
          const key = prefix ? `${prefix}.${k}` : k;
          if (v && typeof v === 'object' && !Array.isArray(v)) walk(v, key);
          else if (/bytes$/.test(k)) pairs.push([key, `${fmtBytes(v)} (${fmtInt(v)})`]);
          else if (/(_ms|_ts)$/.test(k) && num(v) > 1e11) pairs.push([key, fmtDateTime(v)]);
          else pairs.push([key, Array.isArray(v) ? JSON.stringify(v) : String(v)]);
        }
      };
      walk(d, '');
      dbSlot.append(h('div', { class: 'panel' }, kvList(pairs)));
    } catch (e) {
      if (ctx.signal.aborted) return;
      clear(dbSlot);
      dbSlot.append(h('p', { class: 'na' }, e.notAvailable ? 'Database details: not available on this gateway.' : `Database details failed: ${e.message}`));
    }
  }

  load();
  loadDb();
  ctx.on('metrics_update', renderCounters);
  ctx.every(1000, renderUptime);
  ctx.every(2000, load);
  ctx.every(30000, loadDb);
}
