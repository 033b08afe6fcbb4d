// One run: its record (status, trigger, times, parameters, error) and its
// executed notebook, read-only; refreshed while the run goes on, with
// Cancel while it is queued or running.

import {api, path} from './api.js';
import {h, clear, errorBox, notify, poller, when, duration} from './dom.js';
import {renderNotebook} from './outputs.js';
import {runError} from './runs.js';

export async function render(main, [id, rid], ctx) {
  const app = await api('GET', path('api', 'apps', id));
  ctx.title(`Run · ${app.name}`);
  const summary = h('dl', {class: 'facts'});
  const nbBox = h('div', {'aria-live': 'off'});
  const err = errorBox();
  const base = `/apps/${encodeURIComponent(id)}/runs`;
  const cancel = h('button', {type: 'button', class: 'warn', hidden: true, onclick: async () => {
    try { await api('POST', path('api', 'apps', id, 'runs', rid, 'cancel')); notify('Run cancelled.'); refresh.now(); } catch (e) { err.show(e); }
  }}, 'Cancel run');
  const download = h('a', {class: 'button-link', href: path('api', 'apps', id, 'runs', rid, 'notebook') + '?download', download: `${app.name}-${rid}.ipynb`}, 'Download .ipynb');
  main.append(
    h('p', {class: 'crumbs'}, h('a', {href: '/apps'}, 'User Apps'), ' › ', h('a', {href: base}, `Runs of ${app.name}`), ' › ', rid),
    h('h1', {}, `Run of ${app.name}`),
    summary, h('div', {class: 'row toolbar'}, ctx.user.role !== 'viewer' ? cancel : null, download), err,
    h('h2', {}, 'Executed notebook'), nbBox);
  let lastNotebook = '';
  const refresh = poller(async () => {
    let r;
    try { r = await api('GET', path('api', 'apps', id, 'runs', rid)); } catch (e) { err.show(e); return 10000; }
    const going = r.status === 'queued' || r.status === 'running';
    cancel.hidden = !going;
    clear(summary,
      fact('Status', h('span', {class: `badge run-${r.status}`}, r.status)),
      fact('Trigger', r.trigger),
      fact('Scheduled for', when(r.scheduled)),
      fact('Started', when(r.started)),
      fact('Finished', when(r.finished)),
      fact('Duration', duration(r.duration_ms)),
      Object.keys(r.parameters || {}).length ? fact('Parameters', h('code', {}, JSON.stringify(r.parameters))) : null,
      runError(r) ? fact('Error', h('span', {class: 'error-text'}, runError(r))) : null);
    if (r.notebook_url) {
      try {
        const raw = await api('GET', r.notebook_url);
        const nb = typeof raw === 'string' ? JSON.parse(raw) : raw;
        const key = JSON.stringify(nb);
        if (key !== lastNotebook) { lastNotebook = key; clear(nbBox, renderNotebook(nb)); }
      } catch (e) { clear(nbBox, h('p', {class: 'error'}, `The executed notebook cannot be shown: ${e.message}`)); }
    } else if (!lastNotebook) {
      clear(nbBox, h('p', {}, going ? 'The run has not started a notebook yet.' : 'This run kept no notebook.'));
    }
    return going ? 1000 : 0x7fffffff;
  }, 1000);
  return () => refresh.stop();
}

function fact(name, value) {
  return [h('dt', {}, name), h('dd', {}, value)];
}
