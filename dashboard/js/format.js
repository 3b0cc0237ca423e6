// format.js — how numbers, money, durations, sizes and times read on every
// page. Each function takes anything (the API may send null, a string or
// nothing) and returns a string; a missing value reads "–".

const DASH = '–';
const intFmt = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
const compactFmt = new Intl.NumberFormat('en-US', { notation: 'compact', maximumFractionDigits: 1 });
const dec1 = new Intl.NumberFormat('en-US', { minimumFractionDigits: 1, maximumFractionDigits: 1 });

export function num(v) {
  const n = typeof v === 'number' ? v : Number(v);
  return v === null || v === undefined || v === '' || !Number.isFinite(n) ? null : n;
}

export function fmtInt(v) {
  const n = num(v);
  return n === null ? DASH : intFmt.format(Math.round(n));
}

// 1234 → "1,234"; 1234567 → "1.2M" (for tight cards).
export function fmtCount(v) {
  const n = num(v);
  if (n === null) return DASH;
  return Math.abs(n) < 100000 ? intFmt.format(Math.round(n)) : compactFmt.format(n);
}

export function fmtCost(v) {
  const n = num(v);
  if (n === null) return DASH;
  const a = Math.abs(n);
  const digits = a === 0 ? 2 : a < 0.01 ? 5 : a < 1 ? 4 : 2;
  return '$' + n.toFixed(digits);
}

export function fmtRate(v, digits = 1) {
  const n = num(v);
  if (n === null) return DASH;
  return n >= 1000 ? compactFmt.format(n) : n.toFixed(n >= 100 ? 0 : digits);
}

export function fmtPct(v) {
  const n = num(v);
  if (n === null) return DASH;
  const p = n * 100;
  return (p > 0 && p < 0.1 ? '<0.1' : dec1.format(p)) + '%';
}

export function fmtMs(v) {
  const n = num(v);
  if (n === null) return DASH;
  if (n < 1) return n.toFixed(2) + ' ms';
  if (n < 1000) return (n < 10 ? n.toFixed(1) : Math.round(n)) + ' ms';
  if (n < 60000) return (n / 1000).toFixed(n < 10000 ? 2 : 1) + ' s';
  return fmtDuration(n / 1000);
}

// Seconds → "3d 4h", "2h 05m", "4m 09s", "12s".
export function fmtDuration(v) {
  const n = num(v);
  if (n === null) return DASH;
  let s = Math.max(0, Math.floor(n));
  const d = Math.floor(s / 86400); s -= d * 86400;
  const hh = Math.floor(s / 3600); s -= hh * 3600;
  const m = Math.floor(s / 60); s -= m * 60;
  const p2 = (x) => String(x).padStart(2, '0');
  if (d) return `${d}d ${hh}h`;
  if (hh) return `${hh}h ${p2(m)}m`;
  if (m) return `${m}m ${p2(s)}s`;
  return `${s}s`;
}

export function fmtBytes(v) {
  const n = num(v);
  if (n === null) return DASH;
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let x = n, i = 0;
  while (x >= 1024 && i < units.length - 1) { x /= 1024; i++; }
  return (i === 0 ? String(Math.round(x)) : x.toFixed(x < 10 ? 2 : 1)) + ' ' + units[i];
}

export function fmtTime(ms) {
  const n = num(ms);
  if (n === null) return DASH;
  const d = new Date(n);
  const p2 = (x) => String(x).padStart(2, '0');
  return `${p2(d.getHours())}:${p2(d.getMinutes())}:${p2(d.getSeconds())}`;
}

export function fmtDateTime(ms) {
  const n = num(ms);
  if (n === null || n <= 0) return DASH;
  const d = new Date(n);
  const p2 = (x) => String(x).padStart(2, '0');
  return `${d.getFullYear()}-${p2(d.getMonth() + 1)}-${p2(d.getDate())} ${fmtTime(n)}`;
}

export function fmtAgo(ms, now = Date.now()) {
  const n = num(ms);
  if (n === null || n <= 0) return DASH;
  const s = Math.round((now - n) / 1000);
  if (s < 5) return 'just now';
  return fmtDuration(s) + ' ago';
}

// A record's status → the colour class used by pills and the live feed.
export function statusClass(rec) {
  const st = rec && rec.status;
  const http = num(rec && rec.http_status) || 0;
  if (st === 'success' && http < 400) return 'ok';
  if (st === 'rate_limited' || st === 'cancelled' || st === 'refused' || http === 429) return 'warn';
  if (!st && http && http < 400) return 'ok';
  return 'err';
}

export function modelOf(rec) {
  return rec.model_routed || rec.model_requested || rec.model || DASH;
}
