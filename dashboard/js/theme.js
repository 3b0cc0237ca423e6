// theme.js — light or dark. The CSS follows prefers-color-scheme on its own;
// the top-bar toggle forces the other theme and remembers it
// (html[data-theme]). Anything drawn on a canvas (charts) listens for the
// 'themechange' event on document to redraw with the new colours.

const KEY = 'mg.theme';
const media = window.matchMedia('(prefers-color-scheme: dark)');

function stored() {
  try { return localStorage.getItem(KEY); } catch { return null; }
}

export function effectiveTheme() {
  const forced = document.documentElement.dataset.theme;
  if (forced === 'light' || forced === 'dark') return forced;
  return media.matches ? 'dark' : 'light';
}

function announce(button) {
  const next = effectiveTheme() === 'dark' ? 'light' : 'dark';
  if (button) {
    button.setAttribute('aria-label', `Switch to ${next} theme`);
    button.title = `Switch to ${next} theme`;
  }
  document.dispatchEvent(new Event('themechange'));
}

export function initTheme(button) {
  const s = stored();
  if (s === 'light' || s === 'dark') document.documentElement.dataset.theme = s;
  announce(button);
  button.addEventListener('click', () => {
    const next = effectiveTheme() === 'dark' ? 'light' : 'dark';
    // Choosing what the system already says means "follow the system".
    const system = media.matches ? 'dark' : 'light';
    if (next === system) delete document.documentElement.dataset.theme;
    else document.documentElement.dataset.theme = next;
    try {
      if (next === system) localStorage.removeItem(KEY); else localStorage.setItem(KEY, next);
    } catch { /* private mode: the choice lasts this visit */ }
    announce(button);
  });
  media.addEventListener('change', () => announce(button));
}
