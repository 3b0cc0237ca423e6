// confirm.js — a two-step button for destructive actions: the first click
// arms it ("Really revoke?"), a second within 4 s acts. Tables that hold
// these buttons re-render on a timer and on live events; the armed state
// is kept by `key` (the row's identity) so a refresh in between does not
// silently disarm the button under the user's pointer.

import { h, setText } from '../dom.js';

const ARM_MS = 4000;
const armedUntil = new Map(); // key -> time the arming lapses

export function confirmButton(label, confirmLabel, action, { key = null, attrs = {} } = {}) {
  let timer = 0;
  const b = h('button', { type: 'button', class: 'danger', ...attrs }, label);
  const disarm = () => {
    clearTimeout(timer);
    timer = 0;
    if (key !== null) armedUntil.delete(key);
    setText(b, label);
  };
  const arm = (ms) => {
    setText(b, confirmLabel);
    timer = setTimeout(disarm, ms);
  };
  const left = key !== null ? (armedUntil.get(key) || 0) - Date.now() : 0;
  if (left > 0) arm(left);
  b.addEventListener('click', () => {
    if (!timer) {
      if (key !== null) armedUntil.set(key, Date.now() + ARM_MS);
      arm(ARM_MS);
      return;
    }
    disarm();
    action(b);
  });
  return b;
}
