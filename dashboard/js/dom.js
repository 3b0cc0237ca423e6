// dom.js — the small DOM toolkit every page uses: h() to build elements,
// setText() to change a number without touching the layout, copy/download
// helpers and a toast. Nothing here knows about the API.

// h('div', { class: 'card', onclick: fn, dataset: { id } }, 'text', child, [more])
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') el.className = v;
      else if (k === 'text') el.textContent = v;
      else if (k === 'dataset') Object.assign(el.dataset, v);
      else if (k === 'style' && typeof v === 'object') Object.assign(el.style, v);
      else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
      else if (k in el && typeof v !== 'string') el[k] = v;
      else el.setAttribute(k, v === true ? '' : String(v));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
  return el;
}

// Replace an element's text, reusing its text node: a live update then
// costs one character-data write and no relayout of siblings.
export function setText(el, s) {
  s = String(s);
  const t = el.firstChild;
  if (t && t.nodeType === 3 && !t.nextSibling) {
    if (t.data !== s) t.data = s;
  } else {
    el.textContent = s;
  }
}

export async function copyText(s) {
  if (navigator.clipboard && window.isSecureContext) {
    try { await navigator.clipboard.writeText(s); return true; } catch { /* fall through */ }
  }
  const ta = h('textarea', { style: { position: 'fixed', left: '-9999px' }, readonly: true });
  ta.value = s;
  document.body.append(ta);
  ta.select();
  let ok = false;
  try { ok = document.execCommand('copy'); } catch { ok = false; }
  ta.remove();
  return ok;
}

export function copyButton(getText, label = 'Copy') {
  const b = h('button', { type: 'button', class: 'copy', 'aria-label': `${label} to clipboard` }, label);
  b.addEventListener('click', async () => {
    const ok = await copyText(typeof getText === 'function' ? getText() : getText);
    setText(b, ok ? 'Copied' : 'Copy failed');
    setTimeout(() => setText(b, label), 1500);
  });
  return b;
}

export function codeBlock(code) {
  return h('div', { class: 'codeblock' }, h('pre', null, h('code', null, code)), copyButton(code));
}

// Save a Blob or a data: URL as a file.
export function download(filename, data) {
  const url = typeof data === 'string' ? data : URL.createObjectURL(data);
  const a = h('a', { href: url, download: filename, style: { display: 'none' } });
  document.body.append(a);
  a.click();
  a.remove();
  if (typeof data !== 'string') setTimeout(() => URL.revokeObjectURL(url), 10000);
}

let toastEl = null;
let toastTimer = 0;
export function toast(msg, ms = 3000) {
  if (!toastEl) {
    toastEl = h('div', { class: 'toast', role: 'status', 'aria-live': 'polite' });
    document.body.append(toastEl);
  }
  toastEl.hidden = false;
  setText(toastEl, msg);
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { toastEl.hidden = true; }, ms);
}

// A definition list of key → value rows.
export function kvList(pairs) {
  const dl = h('dl', { class: 'kv' });
  for (const [k, v] of pairs) dl.append(h('dt', null, k), h('dd', null, v));
  return dl;
}

export function notAvailable(what) {
  return h('p', { class: 'na' }, `${what}: not available on this gateway.`);
}
