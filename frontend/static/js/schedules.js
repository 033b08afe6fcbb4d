// The schedule editor of one app: its schedules with their next runs, and
// a form to add or change one: a cron expression with a preview in words
// and the next fire times (the server's parser, GET /api/cron), the time
// zone, the overlap and catch-up policies, parameters, timeouts and the
// tap that hears about failures.

import {api, path} from './api.js';
import {h, clear, field, errorBox, notify, confirmDialog, when} from './dom.js';
import {describeCron} from './cron.js';

export async function render(main, [id], ctx) {
  const app = await api('GET', path('api', 'apps', id));
  ctx.title(`Schedules · ${app.name}`);
  const canEdit = ctx.user.role !== 'viewer';
  const listBox = h('div');
  const formBox = h('section', {'aria-labelledby': 'schedule-form-title'});
  let tapNames = [];
  try { tapNames = (await api('GET', '/api/taps')).map((t) => t.name); } catch { /* no taps */ }

  main.append(
    h('p', {class: 'crumbs'}, h('a', {href: '/apps'}, 'User Apps'), ' › ', app.name),
    h('h1', {}, `Schedules of ${app.name}`),
    h('p', {}, 'Each fire time starts a fresh kernel, runs every cell and keeps the executed notebook on the ',
      h('a', {href: `/apps/${encodeURIComponent(id)}/runs`}, 'runs page'), '.'),
    listBox, canEdit ? formBox : null);

  async function load() {
    const list = await api('GET', path('api', 'apps', id, 'schedules'));
    clear(listBox, list.length ? h('div', {class: 'scroll'}, h('table', {class: 'list'},
      h('thead', {}, h('tr', {}, ['Schedule', 'Time zone', 'Policies', 'Next runs', 'Actions'].map((t) => h('th', {scope: 'col'}, t)))),
      h('tbody', {}, list.map((s) => h('tr', {},
        h('th', {scope: 'row'}, h('code', {}, s.cron), h('div', {class: 'sub'}, describeCron(s.cron)), s.enabled ? null : h('span', {class: 'badge'}, 'disabled')),
        h('td', {}, s.time_zone),
        h('td', {}, `overlap: ${s.overlap}, catch-up: ${s.catch_up}`,
          Object.keys(s.parameters || {}).length ? h('div', {class: 'sub'}, 'parameters ', h('code', {}, JSON.stringify(s.parameters))) : null,
          s.alert_tap ? h('div', {class: 'sub'}, `${s.notify === 'always' ? 'every run' : 'failures'} → tap ${s.alert_tap}`) : null),
        h('td', {}, s.enabled ? h('ul', {class: 'plain'}, s.next_runs.slice(0, 3).map((t) => h('li', {}, when(t, s.time_zone)))) : '—'),
        h('td', {class: 'actions'}, canEdit ? [
          h('button', {type: 'button', 'aria-label': `Edit schedule ${s.cron}`, onclick: () => showForm(s)}, 'Edit'),
          h('button', {type: 'button', 'aria-label': `${s.enabled ? 'Disable' : 'Enable'} schedule ${s.cron}`, onclick: async () => {
            try { await api('PATCH', path('api', 'apps', id, 'schedules', s.id), {enabled: !s.enabled}); await load(); } catch (e) { notify(e.message); }
          }}, s.enabled ? 'Disable' : 'Enable'),
          h('button', {type: 'button', class: 'danger', 'aria-label': `Delete schedule ${s.cron}`, onclick: async () => {
            if (!await confirmDialog('Delete this schedule?', `${s.cron} (${s.time_zone}): its queued runs are cancelled; past runs stay.`, 'Delete the schedule')) return;
            try { await api('DELETE', path('api', 'apps', id, 'schedules', s.id)); notify('Schedule deleted.'); await load(); showForm(null); } catch (e) { notify(e.message); }
          }}, 'Delete')] : null)))))) : h('p', {}, 'No schedules yet.'));
  }

  function showForm(existing) {
    clear(formBox, scheduleForm({id, existing, tapNames, saved: async () => { await load(); showForm(null); }, cancel: () => showForm(null)}));
    if (existing) formBox.querySelector('input').focus();
  }

  await load();
  if (canEdit) showForm(null);
  return null;
}

/** zones lists the IANA time zones the browser knows, for the zone field's suggestions. */
function zones() {
  try { return ['UTC', ...Intl.supportedValuesOf('timeZone').filter((z) => z !== 'UTC')]; } catch { return ['UTC']; }
}

function scheduleForm({id, existing, tapNames, saved, cancel}) {
  const s = existing || {cron: '0 * * * *', time_zone: 'UTC', enabled: true, overlap: 'skip', catch_up: 'skip', parameters: {}, cell_timeout: '', run_timeout: '', alert_tap: '', notify: 'failure'};
  const cron = h('input', {name: 'cron', value: s.cron, required: true, autocomplete: 'off', spellcheck: false, class: 'mono'});
  const zoneList = h('datalist', {id: 'zones'}, zones().map((z) => h('option', {value: z})));
  const zone = h('input', {name: 'time_zone', value: s.time_zone, list: 'zones', required: true, autocomplete: 'off'});
  const enabled = h('input', {type: 'checkbox', id: 'sched-enabled', name: 'enabled', checked: s.enabled});
  const overlap = select('overlap', s.overlap, [['skip', 'Skip the tick (recorded as skipped)'], ['queue', 'Queue it after the running one']]);
  const catchUp = select('catch_up', s.catch_up, [['skip', 'Skip what was missed (one skipped record)'], ['once', 'Run once for the latest missed tick']]);
  const params = h('textarea', {name: 'parameters', rows: 3, class: 'mono', spellcheck: false}, JSON.stringify(s.parameters || {}, null, 1));
  const cellTimeout = h('input', {name: 'cell_timeout', value: s.cell_timeout, placeholder: 'no limit', autocomplete: 'off'});
  const runTimeout = h('input', {name: 'run_timeout', value: s.run_timeout, placeholder: 'no limit', autocomplete: 'off'});
  const tap = select('alert_tap', s.alert_tap, [['', 'No notices'], ...tapNames.map((n) => [n, n])]);
  const notifyWhen = select('notify', s.notify, [['failure', 'Failed, timed-out and cancelled runs'], ['always', 'Every run']]);
  const preview = h('div', {class: 'preview', 'aria-live': 'polite', id: 'cron-preview'});
  const err = errorBox();

  let seq = 0;
  let timer = null;
  const updatePreview = () => {
    clearTimeout(timer);
    timer = setTimeout(async () => {
      const n = ++seq;
      const words = describeCron(cron.value);
      try {
        const q = new URLSearchParams({cron: cron.value, time_zone: zone.value.trim() || 'UTC'});
        const p = await api('GET', '/api/cron?' + q);
        if (n !== seq) return;
        clear(preview, words ? h('p', {}, h('strong', {}, words), ` (${p.time_zone})`) : null,
          h('p', {}, 'Next runs: ', p.next_runs.map((t) => when(t, p.time_zone)).join(' · ')));
        preview.classList.remove('bad');
      } catch (e) {
        if (n !== seq) return;
        clear(preview, h('p', {}, e.message));
        preview.classList.add('bad');
      }
    }, 200);
  };
  cron.addEventListener('input', updatePreview);
  zone.addEventListener('input', updatePreview);
  updatePreview();
  cron.setAttribute('aria-describedby', 'cron-preview');

  const form = h('form', {class: 'schedule', onsubmit: async (e) => {
    e.preventDefault();
    err.show(null);
    let parameters;
    try {
      parameters = params.value.trim() ? JSON.parse(params.value) : {};
      if (typeof parameters !== 'object' || parameters === null || Array.isArray(parameters)) throw new Error('not an object');
    } catch (e2) {
      err.show(new Error(`Parameters must be a JSON object such as {"threshold": 10} (${e2.message}).`));
      params.focus();
      return;
    }
    const body = {cron: cron.value.trim(), time_zone: zone.value.trim() || 'UTC', enabled: enabled.checked, overlap: overlap.value,
      catch_up: catchUp.value, parameters, cell_timeout: cellTimeout.value.trim(), run_timeout: runTimeout.value.trim(),
      alert_tap: tap.value, notify: notifyWhen.value};
    try {
      if (existing) await api('PATCH', path('api', 'apps', id, 'schedules', existing.id), body);
      else await api('POST', path('api', 'apps', id, 'schedules'), body);
      notify(existing ? 'Schedule saved.' : 'Schedule added.');
      await saved();
    } catch (e2) {
      err.show(e2);
    }
  }},
  h('h2', {id: 'schedule-form-title'}, existing ? `Edit schedule ${existing.cron}` : 'Add a schedule'),
  h('div', {class: 'grid'},
    field('Cron expression', cron, 'minute hour day-of-month month day-of-week, e.g. 0 * * * * (hourly) or 30 6 * * 1-5; or @hourly, @daily, @weekly'),
    field('Time zone', zone, 'An IANA zone such as UTC or Europe/Berlin: times follow its wall clock, daylight saving included.')),
  preview, zoneList,
  h('div', {class: 'grid'},
    field('When the previous run is still going', overlap),
    field('Ticks missed while the server was down', catchUp),
    field('Cell timeout', cellTimeout, 'A Go duration: 90s, 10m, 1h30m; empty for none.'),
    field('Run timeout', runTimeout, 'A Go duration; empty for none (the server\'s --max-run-time still applies).'),
    field('Send notices to tap', tap),
    field('Notify on', notifyWhen)),
  field('Parameters (JSON object, injected after the parameters cell)', params),
  h('div', {class: 'check'}, enabled, h('label', {for: 'sched-enabled'}, 'Enabled')),
  err,
  h('div', {class: 'actions'}, h('button', {type: 'submit'}, existing ? 'Save schedule' : 'Add schedule'),
    existing ? h('button', {type: 'button', class: 'quiet', onclick: cancel}, 'Cancel') : null));
  return form;
}

function select(name, value, options) {
  return h('select', {name}, options.map(([v, label]) => h('option', {value: v, selected: v === value}, label)));
}
