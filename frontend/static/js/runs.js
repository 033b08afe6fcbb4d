// The Runs page: one app's run history (status, trigger, times, duration,
// error), Run now, cancel a queued or running run, and links to each
// run's executed notebook. /runs without an app picks the first app.

import {api, path} from './api.js';
import {h, field, errorBox, notify, syncRows, poller, when, duration} from './dom.js';

const live = new Set(['queued', 'running']);

/** runError says where and why a run failed, or ''. */
export function runError(r) {
  const e = r.error;
  if (!e || (!e.ename && !e.evalue)) return '';
  const where = e.cell >= 0 ? `cell ${e.cell}: ` : '';
  return `${where}${e.ename}${e.evalue ? ': ' + e.evalue : ''}`;
}

export async function render(main, [id], ctx) {
  const apps = await api('GET', '/api/apps');
  if (!id) {
    if (!apps.length) {
      ctx.title('Runs');
      main.append(h('h1', {}, 'Runs'), h('p', {}, 'No apps yet: ', h('a', {href: '/apps'}, 'create one'), '.'));
      return null;
    }
    ctx.navigate(`/apps/${encodeURIComponent(apps[0].id)}/runs`, {replace: true});
    return null;
  }
  const app = apps.find((a) => a.id === id) || await api('GET', path('api', 'apps', id));
  ctx.title(`Runs · ${app.name}`);
  const canRun = ctx.user.role !== 'viewer';
  const picker = h('select', {onchange: () => ctx.navigate(`/apps/${encodeURIComponent(picker.value)}/runs`)},
    apps.map((a) => h('option', {value: a.id, selected: a.id === id}, `${a.name} (${a.owner})`)));
  const err = errorBox();
  const tbody = h('tbody');
  const empty = h('p', {hidden: true}, 'No runs yet. Run now, or ', h('a', {href: `/apps/${encodeURIComponent(id)}/schedules`}, 'add a schedule'), '.');
  const runNow = h('button', {type: 'button', onclick: async () => {
    runNow.disabled = true;
    try {
      const r = await api('POST', path('api', 'apps', id, 'runs'), {});
      notify(`Run ${r.id} queued.`);
      refresh.now();
    } catch (e) { err.show(e); } finally { runNow.disabled = false; }
  }}, 'Run now');

  main.append(
    h('p', {class: 'crumbs'}, h('a', {href: '/apps'}, 'User Apps'), ' › ', app.name),
    h('h1', {}, `Runs of ${app.name}`),
    h('div', {class: 'row toolbar'}, field('App', picker), canRun ? runNow : null,
      h('a', {class: 'button-link', href: `/apps/${encodeURIComponent(id)}/schedules`}, 'Schedules')),
    err,
    h('div', {class: 'scroll'}, h('table', {class: 'list runs'},
      h('thead', {}, h('tr', {}, ['Status', 'Trigger', 'Scheduled for', 'Started', 'Duration', 'Error', 'Actions'].map((t) => h('th', {scope: 'col'}, t)))),
      tbody)),
    empty);

  const refresh = poller(async () => {
    const runs = await api('GET', path('api', 'apps', id, 'runs') + '?limit=100').catch((e) => { err.show(e); return null; });
    if (!runs) return 10000;
    err.show(null);
    empty.hidden = runs.length > 0;
    syncRows(tbody, runs, (r) => r.id, (r) => runRow(r, id, canRun, () => refresh.now(), err), updateRunRow);
    return runs.some((r) => live.has(r.status)) ? 1000 : 5000;
  }, 5000);
  return () => refresh.stop();
}

function runRow(r, appID, canRun, changed, err) {
  const cells = [h('td'), h('td'), h('td'), h('td'), h('td'), h('td', {class: 'error-text'}), h('td', {class: 'actions'})];
  const view = h('a', {class: 'button-link'}, 'Notebook');
  const cancel = h('button', {type: 'button', class: 'warn', onclick: async () => {
    cancel.disabled = true;
    try {
      await api('POST', path('api', 'apps', appID, 'runs', row.run.id, 'cancel'));
      notify(`Run ${row.run.id} cancelled.`);
    } catch (e) { err.show(e); } finally { cancel.disabled = false; changed(); }
  }}, 'Cancel');
  cells[6].append(view, canRun ? cancel : '');
  const row = h('tr', {}, cells);
  Object.assign(row, {tds: cells, view, cancel});
  row.appID = appID;
  return row;
}

function updateRunRow(row, r) {
  row.run = r;
  const [status, trigger, scheduled, started, dur, error] = row.tds;
  status.replaceChildren(h('span', {class: `badge run-${r.status}`}, r.status));
  trigger.textContent = r.trigger;
  scheduled.textContent = when(r.scheduled || r.created);
  started.textContent = when(r.started);
  dur.textContent = duration(r.duration_ms);
  error.textContent = runError(r);
  row.view.href = `/apps/${encodeURIComponent(row.appID)}/runs/${encodeURIComponent(r.id)}`;
  row.view.setAttribute('aria-label', `Notebook of the run ${when(r.scheduled || r.created)}`);
  row.cancel.hidden = !live.has(r.status);
  row.cancel.setAttribute('aria-label', `Cancel the run ${when(r.scheduled || r.created)}`);
}
