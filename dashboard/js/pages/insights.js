// insights.js — what the gateway suggests: insights from the generators
// (GET /api/insights, highest priority first, each with its numbers and
// estimated monthly saving), their actions (POST /api/insights/action
// apply | snooze | dismiss), "Generate now" (POST /api/insights/generate)
// and the what-if panel, which an insight that suggests a route can fill
// in with its own policy.

import { api, post } from '../api.js';
import { h, setText, toast } from '../dom.js';
import { fmtCost, fmtDateTime, fmtAgo, fmtDuration, num } from '../format.js';
import { whatIfPanel } from '../components/whatif.js';

const PRIORITY = { 1: ['err', 'high'], 2: ['warn', 'medium'], 3: ['', 'low'] };
const DEFAULT_ACTIONS = [{ action: 'snooze', label: 'Remind me in a week', seconds: 7 * 86400 }, { action: 'dismiss', label: 'Dismiss' }];

// The routing policy an insight suggests, when it names one: "Route small
// X requests to Y" (expensive_small) → send X's short prompts to Y.
export function policyFor(insight) {
  const m = /^Route small (\S+) requests to (\S+)$/.exec(String(insight.title || ''));
  if (!m) return null;
  const [, from, to] = m;
  const limit = /under (\d+) input tokens/.exec(String(insight.explanation || ''));
  return `-- From the insight "${insight.title}".
return {
  route = function(req)
    if req.model == ${JSON.stringify(from)} and (req.tokens_in or 0) < ${limit ? limit[1] : 1000} then
      return ${JSON.stringify(to)}
    end
  end,
}`;
}

function buttonLabel(a) {
  if (a.action === 'apply') return 'Apply';
  if (a.action === 'snooze') {
    const secs = num(a.seconds) || 7 * 86400;
    return `Snooze ${secs % 86400 === 0 ? `${secs / 86400} d` : fmtDuration(secs)}`;
  }
  if (a.action === 'dismiss') return 'Dismiss';
  return a.label || a.action;
}

export function mount(root, ctx) {
  const genBtn = h('button', { type: 'button', class: 'primary' }, 'Generate now');
  const genOut = h('span', { class: 'muted small', role: 'status', 'aria-live': 'polite' });
  const showAll = h('input', { type: 'checkbox', 'aria-label': 'Show applied, snoozed and dismissed insights' });
  const total = h('p', { class: 'muted' });
  const errors = h('div', { class: 'notice warn', hidden: true });
  const list = h('div', { class: 'insights', 'aria-live': 'polite' });
  const whatif = whatIfPanel(ctx);

  root.append(
    h('div', { class: 'page-head' }, h('h1', null, 'Insights'), genOut, h('label', { class: 'check' }, showAll, ' show all'), genBtn),
    errors, total, list,
    h('section', { class: 'section' }, h('h2', null, 'What-if'),
      h('p', { class: 'muted small' }, 'Replays the recorded requests of a period through a routing policy and prices them at the new models. Nothing is sent anywhere.'),
      whatif.el),
  );

  async function act(insight, a, button) {
    button.disabled = true;
    try {
      const body = { id: insight.id, action: a.action };
      if (a.action === 'snooze' && num(a.seconds)) body.seconds = num(a.seconds);
      const r = await post('/api/insights/action', body);
      toast(`${insight.title}: ${r && r.state ? r.state : a.action}${r && r.applied ? ` (${r.applied} set)` : ''}`, 5000);
      await load();
    } catch (e) {
      button.disabled = false;
      toast(`${a.action}: ${e.message}`, 6000);
    }
  }

  function card(x) {
    const [cls, word] = PRIORITY[x.priority] || ['', `p${x.priority}`];
    const actions = Array.isArray(x.actions) && x.actions.length ? x.actions : DEFAULT_ACTIONS;
    const buttons = actions.map((a) => {
      const b = h('button', { type: 'button', class: a.action === 'apply' ? 'primary' : a.action === 'dismiss' ? 'danger' : '', title: a.label || '', dataset: { action: a.action } }, buttonLabel(a));
      b.addEventListener('click', () => act(x, a, b));
      return b;
    });
    const policy = policyFor(x);
    if (policy) buttons.push(h('button', { type: 'button', onclick: () => whatif.tryPolicy(policy, x.title) }, 'What-if'));
    const apply = actions.find((a) => a.action === 'apply');
    const saving = num(x.monthly_saving);
    return h('article', { class: 'panel insight', dataset: { id: x.id, generator: x.generator, state: x.state } },
      h('div', { class: 'insight-head' },
        h('span', { class: `pill ${cls}`, title: `priority ${x.priority}` }, `P${x.priority} ${word}`),
        h('h3', null, x.title),
        saving !== null ? h('span', { class: 'saving num', title: 'estimated saving per month' }, `≈ ${fmtCost(saving)} / month`) : null),
      h('p', null, x.explanation),
      apply && apply.label ? h('p', { class: 'muted small' }, `Apply: ${apply.label}`) : null,
      h('div', { class: 'insight-foot' },
        x.state === 'active' ? h('div', { class: 'actions' }, buttons) : h('span', { class: 'pill' }, x.state + (x.snooze_until_ms ? ` until ${fmtDateTime(x.snooze_until_ms)}` : '')),
        h('span', { class: 'muted small' }, `${x.generator} · ${fmtAgo(x.updated_ms || x.created_ms)}`)));
  }

  function render(items) {
    list.replaceChildren(...items.map(card));
    if (!items.length) {
      list.append(h('div', { class: 'notice', dataset: { empty: '' } },
        h('strong', null, showAll.checked ? 'No insights yet. ' : 'Nothing to act on. '),
        'Generators look at the recorded traffic (expensive models on small prompts, error spikes, slow providers, prompt caching, token growth…) and need some of it before they say anything. ',
        '"Generate now" runs them on the data so far; the gateway also runs them every hour.'));
    }
    const active = items.filter((x) => x.state === 'active');
    const sum = active.reduce((a, x) => a + (num(x.monthly_saving) || 0), 0);
    setText(total, active.length ? `${active.length} active insight${active.length === 1 ? '' : 's'} · about ${fmtCost(sum)} a month to save` : '');
  }

  async function load() {
    try {
      const r = await api(`/api/insights${showAll.checked ? '?state=all' : ''}`, { signal: ctx.signal });
      render((r && r.insights) || []);
    } catch (e) {
      if (!ctx.signal.aborted) list.replaceChildren(h('p', { class: 'na' }, e.notAvailable ? 'Insights: not available on this gateway.' : `Could not load insights: ${e.message}`));
    }
  }

  genBtn.addEventListener('click', async () => {
    genBtn.disabled = true;
    setText(genOut, 'Generating…');
    try {
      const r = await post('/api/insights/generate');
      const n = ((r && r.insights) || []).length;
      const errs = (r && r.errors) || [];
      errors.hidden = !errs.length;
      errors.replaceChildren(h('strong', null, 'Some generators failed: '), errs.map((e) => (typeof e === 'string' ? e : JSON.stringify(e))).join('; '));
      await load();
      setText(genOut, `Generated at ${fmtDateTime(r && r.generated_ms)}: ${n} insight${n === 1 ? '' : 's'}.`);
    } catch (e) {
      setText(genOut, `Generate failed: ${e.message}`);
    } finally {
      genBtn.disabled = false;
    }
  });
  showAll.addEventListener('change', load);
  ctx.every(60000, load);
  load();
}
