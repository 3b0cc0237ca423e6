// cards.js — the number cards at the top of Home, Analytics, Live and
// System: a label, a big value and a sub-line. Values change through
// setText, so a live update rewrites two text nodes and nothing else.

import { h, setText } from '../dom.js';

export function kpi(label, { id, title } = {}) {
  const value = h('div', { class: 'value', dataset: id ? { kpi: id } : undefined }, '–');
  const sub = h('div', { class: 'sub' }, '\u00a0');
  const el = h('div', { class: 'card', title }, h('div', { class: 'label' }, label), value, sub);
  return {
    el, value, sub,
    set(v, s) {
      setText(value, v);
      if (s !== undefined) setText(sub, s || '\u00a0');
    },
  };
}
