// The User Apps page: every app the user may read, with its state, owner,
// last run and schedules (all in GET /api/apps); create (blank or from an
// example), open, Save & Checkpoint, Stop, Run now, delete. Rows refresh in
// place every few seconds, so the keyboard focus stays where it was.

import {api, path} from './api.js';
import {h, field, errorBox, notify, confirmDialog, syncRows, poller, when} from './dom.js';
import {describeCron} from './cron.js';

/** stateText is how an app state reads on the page. */
export function stateText(state) {
  return state === 'running+checkpointed' ? 'running, checkpointed' : state;
}

/** stateBadge is a state as a coloured label. */
export function stateBadge(state) {
  return h('span', {class: `badge state-${state.replace('+', '-')}`}, stateText(state));
}

export async function render(main, _params, ctx) {
  ctx.title('User Apps');
  const canAct = ctx.user.role !== 'viewer';
  const tbody = h('tbody');
  const empty = h('p', {hidden: true}, 'No apps yet.');
  const pageErr = errorBox();
  main.append(
    h('h1', {}, 'User Apps'),
    canAct ? await createForm(ctx, () => refresh.now()) : null,
    pageErr,
    h('div', {class: 'scroll'},
      h('table', {class: 'list apps'},
        h('caption', {class: 'visually-hidden'}, 'Apps, their state and actions'),
        h('thead', {}, h('tr', {},
          h('th', {scope: 'col'}, 'App'), h('th', {scope: 'col'}, 'Owner'), h('th', {scope: 'col'}, 'Status'),
          h('th', {scope: 'col'}, 'Last run'), h('th', {scope: 'col'}, 'Schedule'), h('th', {scope: 'col'}, 'Actions'))),
        tbody)),
    empty);

  const refresh = poller(async () => {
    let apps;
    try {
      apps = await api('GET', '/api/apps');
      pageErr.show(null);
    } catch (e) {
      pageErr.show(e);
      return 10000;
    }
    // The list carries each app's last run and schedules: one request.
    const extra = apps.map((a) => ({app: a, lastRun: a.last_run || null, schedules: a.schedules || []}));
    empty.hidden = apps.length > 0;
    syncRows(tbody, extra, (x) => x.app.id, (x) => appRow(x, ctx, canAct, () => refresh.now()), updateRow);
    return 5000;
  }, 5000);
  return () => refresh.stop();
}

async function createForm(ctx, created) {
  const name = h('input', {name: 'name', maxlength: 120, autocomplete: 'off'});
  const example = h('select', {name: 'example'}, h('option', {value: ''}, 'Blank notebook'));
  try {
    for (const ex of await api('GET', '/api/examples')) example.append(h('option', {value: ex}, ex));
  } catch { /* a blank notebook only */ }
  const err = errorBox();
  const submit = h('button', {type: 'submit'}, 'Create app');
  return h('form', {class: 'inline create', 'aria-label': 'Create an app', onsubmit: async (e) => {
    e.preventDefault();
    err.show(null);
    const body = {name: name.value.trim()};
    if (example.value) body.example = example.value;
    if (!body.name && !body.example) {
      err.show(new Error('Give the app a name, or pick an example to start from (its name is used).'));
      name.focus();
      return;
    }
    submit.disabled = true;
    try {
      const app = await api('POST', '/api/apps', body);
      notify(`Created ${app.name}.`);
      name.value = '';
      created();
    } catch (e2) {
      err.show(e2);
    } finally {
      submit.disabled = false;
    }
  }},
  h('h2', {}, 'New app'),
  h('div', {class: 'row'},
    field('Name', name, 'Letters, digits, dot, dash, underscore and spaces; empty takes the example\'s name.'),
    field('Start from', example),
    submit),
  err);
}

function appRow(x, ctx, canAct, changed) {
  const a = () => row.app;
  const act = (label, fn, cls) => h('button', {type: 'button', class: cls || '', onclick: async (e) => {
    const btn = e.currentTarget;
    btn.disabled = true;
    try {
      await fn();
    } catch (err) {
      notify(`${label} ${a().name}: ${err.message}`);
    } finally {
      btn.disabled = false;
      changed();
    }
  }}, label);
  const notebookLink = h('a', {}, x.app.name);
  const buttons = {
    open: act('Open', async () => {
      if (!['running', 'running+checkpointed'].includes(a().state)) {
        await api('POST', path('api', 'apps', a().id, 'open'));
      }
      ctx.navigate(`/apps/${encodeURIComponent(a().id)}/notebook`);
    }),
    checkpoint: act('Save & Checkpoint', async () => {
      await api('POST', path('api', 'apps', a().id, 'checkpoint'));
      notify(`${a().name}: saved, checkpoint kept; the kernel keeps running.`);
    }),
    stop: act('Stop', async () => {
      const cp = a().checkpoint ? ' and its checkpoint is deleted' : ' (it has no checkpoint)';
      const ok = await confirmDialog(`Stop ${a().name}?`,
        `The kernel shuts down, its variables are lost${cp}. The saved notebook stays.`,
        a().checkpoint ? 'Stop and delete the checkpoint' : 'Stop');
      if (!ok) return;
      await api('POST', path('api', 'apps', a().id, 'stop'));
      notify(`${a().name} stopped.`);
    }, 'warn'),
    runNow: act('Run now', async () => {
      const run = await api('POST', path('api', 'apps', a().id, 'runs'), {});
      notify(`${a().name}: run ${run.id} queued.`);
    }),
    del: act('Delete', async () => {
      const ok = await confirmDialog(`Delete ${a().name}?`,
        'The app, its kernel, its schedules and its notebook are deleted. This cannot be undone.', 'Delete the app');
      if (!ok) return;
      await api('DELETE', path('api', 'apps', a().id));
      notify(`${a().name} deleted.`);
    }, 'danger'),
  };
  const links = {
    schedule: h('a', {class: 'button-link'}, 'Schedule'),
    runs: h('a', {class: 'button-link'}, 'Runs'),
  };
  const cells = {
    name: h('th', {scope: 'row'}, notebookLink, h('div', {class: 'sub'})),
    owner: h('td'),
    status: h('td'),
    lastRun: h('td'),
    schedule: h('td'),
    actions: h('td', {class: 'actions'}, canAct ? [buttons.open, buttons.checkpoint, buttons.stop, buttons.runNow] : null,
      links.schedule, links.runs, canAct ? buttons.del : null),
  };
  const row = h('tr', {}, Object.values(cells));
  Object.assign(row, {app: x.app, parts: cells, buttons, links, notebookLink});
  return row;
}

function updateRow(row, {app, lastRun, schedules}) {
  row.app = app;
  const {parts: cells, buttons, links, notebookLink} = row;
  const base = `/apps/${encodeURIComponent(app.id)}`;
  notebookLink.textContent = app.name;
  notebookLink.href = `${base}/notebook`;
  cells.name.querySelector('.sub').textContent = app.notebook;
  cells.owner.textContent = app.owner;
  const badge = stateBadge(app.state);
  cells.status.replaceChildren(badge);
  if (app.state === 'failed' && app.error) cells.status.append(h('div', {class: 'sub error-text'}, app.error));
  if (app.checkpoint) cells.status.append(h('div', {class: 'sub'}, `checkpoint ${when(app.checkpoint.created)}`));
  cells.lastRun.replaceChildren(lastRun
    ? h('a', {href: `${base}/runs/${encodeURIComponent(lastRun.id)}`}, h('span', {class: `badge run-${lastRun.status}`}, lastRun.status), ' ', when(lastRun.started || lastRun.created))
    : '—');
  cells.schedule.replaceChildren(...(schedules.length ? schedules.map((s) => h('div', {},
    h('code', {}, s.cron), ' ', s.time_zone, s.enabled ? '' : ' (disabled)',
    h('div', {class: 'sub'}, describeCron(s.cron)))) : ['—']));
  const up = app.state === 'running' || app.state === 'running+checkpointed';
  const busy = app.state === 'starting' || app.state === 'stopping';
  if (buttons.open) {
    buttons.open.hidden = busy;
    buttons.open.textContent = up ? 'Open' : 'Open (start kernel)';
    buttons.open.setAttribute('aria-label', `${up ? 'Open' : 'Start and open'} ${app.name}`);
    buttons.checkpoint.hidden = !up;
    buttons.checkpoint.setAttribute('aria-label', `Save & Checkpoint ${app.name}`);
    buttons.stop.hidden = !(up || app.state === 'failed');
    buttons.stop.setAttribute('aria-label', `Stop ${app.name}`);
    buttons.runNow.setAttribute('aria-label', `Run ${app.name} now`);
    buttons.del.setAttribute('aria-label', `Delete ${app.name}`);
  }
  links.schedule.href = `${base}/schedules`;
  links.schedule.setAttribute('aria-label', `Schedule ${app.name}`);
  links.runs.href = `${base}/runs`;
  links.runs.setAttribute('aria-label', `Runs of ${app.name}`);
}
