// lib.mjs — browser helpers for the dashboard's end-to-end tests: launch
// Debian's chromium through playwright-core with the settings
// dashboard.test.mjs uses (headless, --no-sandbox, a fresh profile per
// run), collect page errors, poll the page without eval (the dashboard's
// CSP has no 'unsafe-eval', so page.waitForFunction is refused), save
// screenshots, and log in. Not a test file itself (no .test.mjs suffix).
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
export const SHOTS = path.join(path.dirname(fileURLToPath(import.meta.url)), 'screenshots');
export const skipReason = existsSync(CHROMIUM) ? false : `no chromium at ${CHROMIUM}`;

// { context, page, errors, close() }. errors collects uncaught exceptions
// and console errors, except the 401s of the login screen.
export async function launch({ width = 1280, height = 860 } = {}) {
  mkdirSync(SHOTS, { recursive: true });
  const userDir = mkdtempSync(path.join(os.tmpdir(), 'mg-chromium-'));
  const context = await chromium.launchPersistentContext(userDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width, height },
    colorScheme: 'light',
  });
  const page = context.pages()[0] || await context.newPage();
  page.setDefaultTimeout(15000);
  const errors = [];
  page.on('pageerror', (e) => { errors.push(e.message); });
  page.on('console', (m) => {
    if (m.type() === 'error' && !/Failed to load resource: the server responded with a status of 401/.test(m.text())) errors.push(m.text());
  });
  return {
    context, page, errors,
    async close() {
      await context.close();
      rmSync(userDir, { recursive: true, force: true });
    },
  };
}

// Poll fn (run in the page through the debugger protocol) until truthy.
export async function waitUntil(page, fn, arg, { timeout = process.env.ASAN_OPTIONS ? 45000 : 15000, what = fn.toString().slice(0, 140) } = {}) {
  const end = Date.now() + timeout;
  for (;;) {
    let ok = false;
    try { ok = await page.evaluate(fn, arg); } catch (e) { if (!/navigat|context was destroyed/i.test(e.message)) throw e; }
    if (ok) return ok;
    if (Date.now() > end) throw new Error(`timed out after ${timeout} ms waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function shot(page, name) {
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
}

export async function go(page, hash) {
  await page.evaluate((h) => { location.hash = h; }, hash);
}

export async function login(page, url, token) {
  await page.goto(`${url}/dashboard/`);
  await page.waitForSelector('#login:not([hidden])');
  await page.fill('#login-token', token);
  await page.click('#login-form button[type=submit]');
  await page.waitForSelector('#app:not([hidden])');
  await waitUntil(page, () => document.getElementById('conn').dataset.state === 'connected');
}

// How many pixels the document is wider than the window (0 when it fits).
export const overflowX = (page) => page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
