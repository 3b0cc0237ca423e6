// chart.js — time charts and sparklines on uPlot. uPlot (vendor/, copied
// from npm by build.sh) is loaded the first time a page draws a chart, so
// Home and the login view do not pay for it. Charts take their colours
// from the CSS theme variables and are rebuilt on 'themechange'; they
// follow their container's width through one shared ResizeObserver.
// A live chart updates with setData only: no DOM rebuilt per tick.

import { h, download } from './dom.js';

let loading = null;
export function loadUplot() {
  if (window.uPlot) return Promise.resolve(window.uPlot);
  if (!loading) {
    loading = new Promise((resolve, reject) => {
      document.head.append(h('link', { rel: 'stylesheet', href: '/dashboard/vendor/uPlot.min.css' }));
      const s = h('script', { src: '/dashboard/vendor/uPlot.iife.min.js' });
      s.onload = () => (window.uPlot ? resolve(window.uPlot) : reject(new Error('uPlot did not load')));
      s.onerror = () => { loading = null; reject(new Error('charts unavailable: /dashboard/vendor/uPlot.iife.min.js did not load (run dashboard/build.sh)')); };
      document.head.append(s);
    });
  }
  return loading;
}

function cssVar(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || '#888';
}

function withAlpha(color, a) {
  const m = /^#([0-9a-f]{6})$/i.exec(color);
  if (!m) return color;
  const n = parseInt(m[1], 16);
  return `rgba(${n >> 16},${(n >> 8) & 255},${n & 255},${a})`;
}

const live = new Set();
const resizer = new ResizeObserver((entries) => {
  for (const e of entries) if (e.target.__mgChart) e.target.__mgChart.resize();
});
document.addEventListener('themechange', () => { for (const c of live) c.rebuild(); });

class Chart {
  // cfg: { series: [{ label, color: '--chart-1', fmt, bars, fill }], height,
  //        yFmt, spark, title }
  constructor(uPlot, el, cfg) {
    this.uPlot = uPlot;
    this.el = el;
    this.cfg = cfg;
    this.height = cfg.height || (cfg.spark ? 56 : 220);
    this.data = [[], ...cfg.series.map(() => [])];
    this.u = null;
    this.width = 0;
    el.__mgChart = this;
    this.build();
    resizer.observe(el);
    live.add(this);
  }

  options() {
    const { uPlot, cfg } = this;
    const muted = cssVar('--muted');
    const grid = cssVar('--grid');
    const font = '11px system-ui, sans-serif';
    const yFmt = cfg.yFmt || ((v) => String(v));
    const series = [{ label: 'time', value: (u, v) => (v == null ? '–' : new Date(v * 1000).toLocaleString()) }];
    for (const s of cfg.series) {
      const color = cssVar(s.color || '--chart-1');
      series.push({
        label: s.label,
        stroke: color,
        width: s.bars ? 0 : cfg.spark ? 1.25 : 1.5,
        fill: s.fill === false ? undefined : withAlpha(color, s.bars ? 0.75 : 0.12),
        paths: s.bars ? uPlot.paths.bars({ size: [0.7, 60], gap: 1 }) : undefined,
        points: { show: false },
        value: (u, v) => (v == null ? '–' : (s.fmt || yFmt)(v)),
        spanGaps: true,
      });
    }
    const axes = cfg.spark
      ? [{ show: false }, { show: false }]
      : [
          { stroke: muted, font, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 } },
          { stroke: muted, font, size: 64, grid: { stroke: grid, width: 1 }, ticks: { show: false },
            values: (u, vals) => vals.map((v) => yFmt(v)) },
        ];
    return {
      width: this.el.clientWidth || 600,
      height: this.height,
      padding: cfg.spark ? [2, 0, 2, 0] : [10, 10, 0, 0],
      legend: { show: !cfg.spark, live: true },
      cursor: cfg.spark ? { show: false } : { points: { size: 6 }, drag: { x: false, y: false } },
      select: { show: false },
      scales: {
        x: { time: true },
        y: { range: (u, min, max) => [0, max > 0 ? max * 1.12 : 1] },
      },
      axes,
      series,
    };
  }

  build() {
    this.width = this.el.clientWidth || 600;
    this.u = new this.uPlot(this.options(), this.data, this.el);
  }

  rebuild() {
    if (!this.u) return;
    this.u.destroy();
    this.build();
  }

  // xsMs: epoch ms; each ys: numbers (null for a gap).
  setData(xsMs, ...ys) {
    this.data = [xsMs.map((t) => t / 1000), ...ys];
    if (this.u) this.u.setData(this.data);
  }

  resize() {
    const w = this.el.clientWidth;
    if (!this.u || !w || w === this.width) return;
    this.width = w;
    this.u.setSize({ width: w, height: this.height });
  }

  destroy() {
    resizer.unobserve(this.el);
    live.delete(this);
    if (this.u) this.u.destroy();
    this.u = null;
    delete this.el.__mgChart;
  }

  // The plot as a PNG with its title and series names, on the theme's panel colour.
  toPNG(filename) {
    const src = this.u.ctx.canvas;
    const dpr = src.width / Math.max(1, this.u.width || src.width);
    const head = Math.round(34 * dpr);
    const out = document.createElement('canvas');
    out.width = src.width;
    out.height = src.height + head;
    const ctx = out.getContext('2d');
    ctx.fillStyle = cssVar('--panel');
    ctx.fillRect(0, 0, out.width, out.height);
    ctx.fillStyle = cssVar('--text');
    ctx.font = `600 ${Math.round(14 * dpr)}px system-ui, sans-serif`;
    ctx.textBaseline = 'middle';
    let x = Math.round(10 * dpr);
    const title = this.cfg.title || '';
    ctx.fillText(title, x, head / 2);
    x += ctx.measureText(title).width + 16 * dpr;
    ctx.font = `${Math.round(12 * dpr)}px system-ui, sans-serif`;
    for (const s of this.cfg.series) {
      ctx.fillStyle = cssVar(s.color || '--chart-1');
      ctx.fillRect(x, head / 2 - 5 * dpr, 10 * dpr, 10 * dpr);
      x += 14 * dpr;
      ctx.fillStyle = cssVar('--muted');
      ctx.fillText(s.label, x, head / 2);
      x += ctx.measureText(s.label).width + 14 * dpr;
    }
    ctx.drawImage(src, 0, head);
    const url = out.toDataURL('image/png');
    if (filename) download(filename, url);
    return url;
  }
}

export async function createChart(el, cfg) {
  const uPlot = await loadUplot();
  return new Chart(uPlot, el, cfg);
}
