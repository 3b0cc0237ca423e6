// breakdowns.js — two Analytics panels fed by grouped endpoints: the most
// frequent errors (analytics/errors: provider, status, HTTP status, error
// text, count, last seen) and the top keys and users
// (analytics/leaderboard over the same range and filters). Each renders
// from a settled result ({ok, value} or {ok: false, error}) so a missing
// endpoint reads "not available" without touching the rest of the page.

import { h, clear } from '../dom.js';
import { fmtInt, fmtCost, fmtCount, fmtAgo } from '../format.js';
import { listOf } from '../api.js';

function failure(body, cols, what, r) {
  body.append(h('tr', null, h('td', { colspan: cols, class: 'na' },
    r.error.notAvailable ? `${what}: not available on this gateway.` : `${what} failed: ${r.error.message}`)));
}

function table(head, body) {
  return h('div', { class: 'table-wrap' }, h('table', null, h('thead', null, h('tr', null, head)), body));
}

export function errorsPanel() {
  const body = h('tbody');
  const el = h('div', { class: 'panel' }, h('h2', null, 'Top errors'),
    h('p', { class: 'muted small' }, 'Failed requests grouped by provider, status and message.'),
    table([h('th', { class: 'r' }, 'Count'), h('th', null, 'Provider'), h('th', null, 'Status'), h('th', null, 'Error'),
      h('th', { class: 'hide-sm' }, 'Last seen')], body));
  function render(r) {
    clear(body);
    if (!r.ok) return failure(body, 5, 'Errors', r);
    const groups = listOf(r.value, 'groups', 'errors').slice(0, 10);
    if (!groups.length) {
      body.append(h('tr', null, h('td', { colspan: 5, class: 'muted' }, 'No failed requests in this range.')));
      return;
    }
    for (const g of groups) {
      body.append(h('tr', null,
        h('td', { class: 'r num' }, fmtInt(g.count)),
        h('td', null, g.provider ?? '–'),
        h('td', null, h('span', { class: 'st err' }, `${g.status ?? ''} ${g.http_status ?? ''}`.trim() || '–')),
        h('td', { class: 'small', style: { wordBreak: 'break-word' } }, g.error ?? '–'),
        h('td', { class: 'num hide-sm' }, fmtAgo(g.last_ts_ms))));
    }
  }
  return { el, render };
}

export function leaderboardPanel() {
  const body = h('tbody');
  const el = h('div', { class: 'panel' }, h('h2', null, 'Top keys and users'),
    h('p', { class: 'muted small' }, 'By requests over the range.'),
    table([h('th', null, 'Who'), h('th', { class: 'r' }, 'Requests'), h('th', { class: 'r hide-sm' }, 'Tokens'), h('th', { class: 'r' }, 'Cost')], body));
  function render(r) {
    clear(body);
    if (!r.ok) return failure(body, 4, 'Leaderboard', r);
    const rows = [];
    for (const k of listOf(r.value, 'keys').slice(0, 5)) rows.push(['key', k.key ?? k.key_id, k]);
    for (const u of listOf(r.value, 'users').slice(0, 5)) rows.push(['user', u.user ?? u.user_id, u]);
    if (!rows.length) {
      body.append(h('tr', null, h('td', { colspan: 4, class: 'muted' }, 'No requests with a key or user in this range.')));
      return;
    }
    for (const [kind, name, x] of rows) {
      body.append(h('tr', null,
        h('td', null, h('span', { class: 'pill' }, kind), ' ', h('span', { class: 'mono small' }, name ?? '(none)')),
        h('td', { class: 'r num' }, fmtInt(x.requests)),
        h('td', { class: 'r num hide-sm' }, fmtCount(x.tokens)),
        h('td', { class: 'r num' }, fmtCost(x.cost))));
    }
  }
  return { el, render };
}
