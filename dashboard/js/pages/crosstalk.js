// crosstalk.js — several models in one conversation: the live monitor of
// a session, the history of sessions with their analysis, and the builder
// that previews a preset and runs it. One page, three views
// (#/crosstalk?view=monitor&id=…, ?view=history, ?view=builder); all three
// stay mounted while the page is open, so switching keeps the builder's
// form and the monitor's stream.

import { h } from '../dom.js';
import { ctMonitor } from '../components/ctmonitor.js';
import { ctHistory } from '../components/cthistory.js';
import { ctBuilder } from '../components/ctbuilder.js';

const VIEWS = [['monitor', 'Monitor'], ['history', 'History'], ['builder', 'Builder']];

export function mount(root, ctx) {
  let view = null;
  let id = ctx.params.get('id') || '';

  const monitor = ctMonitor(ctx, {
    onSession(sid) {
      if (view === 'monitor' && sid !== id) { id = sid; ctx.setParams({ view: 'monitor', id }); }
    },
  });
  const history = ctHistory(ctx, { open: (sid) => ctx.navigate(`#/crosstalk?view=monitor&id=${encodeURIComponent(sid)}`) });
  const builder = ctBuilder(ctx, {
    started: (sid) => ctx.navigate(`#/crosstalk?view=monitor&id=${encodeURIComponent(sid)}`),
  });
  const panes = { monitor: monitor.el, history: history.el, builder: builder.el };
  const tabs = {};
  for (const [name, label] of VIEWS) {
    tabs[name] = h('button', { type: 'button', 'aria-pressed': 'false', dataset: { view: name }, onclick: () => ctx.navigate(`#/crosstalk?view=${name}${name === 'monitor' && id ? `&id=${encodeURIComponent(id)}` : ''}`) }, label);
  }

  root.append(
    h('div', { class: 'page-head' }, h('h1', null, 'Crosstalk'), h('div', { class: 'seg', role: 'group', 'aria-label': 'View' }, Object.values(tabs))),
    ...Object.entries(panes).map(([name, el]) => { el.dataset.pane = name; el.hidden = true; return el; }),
  );

  function show(params) {
    const want = VIEWS.some(([n]) => n === params.get('view')) ? params.get('view') : 'monitor';
    const wantId = params.get('id') || '';
    for (const [name, el] of Object.entries(panes)) el.hidden = name !== want;
    for (const [name, b] of Object.entries(tabs)) b.setAttribute('aria-pressed', String(name === want));
    history.show(want === 'history');
    if (want === 'monitor') {
      if (wantId && wantId !== monitor.current()) monitor.watch(wantId, { pinned: true });
      else if (!wantId && !monitor.current()) monitor.watch('');
      if (wantId) id = wantId;
    }
    view = want;
  }

  show(ctx.params);
  return { update: show };
}
