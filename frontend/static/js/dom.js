// DOM helpers: elements are built with h(), never from HTML strings, so
// names and messages from the server are always text.

/**
 * h builds an element: h('button', {class: 'x', onclick: fn}, 'Save').
 * Attributes starting with "on" become listeners; false/null/undefined
 * attributes are left out; children may be strings, nodes, arrays or null.
 */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === false || v === null || v === undefined) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k in el && typeof v !== 'string') el[k] = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : String(c));
  }
}

/** clear empties el and appends children. */
export function clear(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

let fieldSeq = 0;

/**
 * field is a labelled form control: field('Name', h('input', {...}), 'hint').
 * The label is tied to the control by id; a hint is its description.
 */
export function field(label, control, hint) {
  const id = control.id || (control.id = 'f' + (++fieldSeq));
  const parts = [h('label', {for: id}, label), control];
  if (hint) {
    const hid = id + '-hint';
    control.setAttribute('aria-describedby', hid);
    parts.push(h('small', {id: hid, class: 'hint'}, hint));
  }
  return h('div', {class: 'field'}, parts);
}

/** errorBox is an alert region that shows an error message, or nothing. */
export function errorBox() {
  const el = h('p', {class: 'error', role: 'alert', hidden: true});
  el.show = (err) => {
    const msg = err ? (err.message || String(err)) : '';
    el.textContent = msg;
    el.hidden = !msg;
  };
  return el;
}

/** notify shows a short message in the page's status region. */
export function notify(msg) {
  const el = document.getElementById('notice');
  el.textContent = msg;
  el.hidden = !msg;
  clearTimeout(notify.timer);
  if (msg) notify.timer = setTimeout(() => { el.hidden = true; el.textContent = ''; }, 6000);
}

/**
 * confirmDialog asks a question in a modal <dialog> (focus stays in it,
 * Escape cancels) and resolves to true when the action is confirmed.
 */
export function confirmDialog(title, text, action) {
  return new Promise((resolve) => {
    const ok = h('button', {type: 'submit', value: 'ok', class: 'danger'}, action);
    const cancel = h('button', {type: 'submit', value: 'cancel', class: 'quiet'}, 'Cancel');
    const dlg = h('dialog', {'aria-labelledby': 'dlg-title', 'aria-describedby': 'dlg-text'},
      h('form', {method: 'dialog'},
        h('h2', {id: 'dlg-title'}, title),
        h('p', {id: 'dlg-text'}, text),
        h('div', {class: 'actions'}, cancel, ok)));
    dlg.addEventListener('close', () => { dlg.remove(); resolve(dlg.returnValue === 'ok'); });
    document.body.append(dlg);
    dlg.showModal();
    cancel.focus(); // the safe choice has the focus
  });
}

const dateFmt = new Intl.DateTimeFormat(undefined, {dateStyle: 'medium', timeStyle: 'medium'});

/** when formats an ISO time for people, in the browser's zone; '—' if absent. */
export function when(iso, zone) {
  if (!iso) return '—';
  const d = new Date(iso);
  if (isNaN(d)) return iso;
  if (zone) {
    try {
      return new Intl.DateTimeFormat(undefined, {dateStyle: 'medium', timeStyle: 'short', timeZone: zone, timeZoneName: 'short'}).format(d);
    } catch { /* an unknown zone: the browser's */ }
  }
  return dateFmt.format(d);
}

/** duration formats milliseconds as "850 ms", "12.3 s", "4 min 05 s", "2 h 03 min". */
export function duration(ms) {
  if (ms === null || ms === undefined) return '—';
  if (ms < 1000) return `${ms} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${String(Math.floor(s % 60)).padStart(2, '0')} s`;
  return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, '0')} min`;
}

/**
 * syncRows keeps tbody's rows in the order of items, one per key, creating
 * rows with create(item) and refreshing them with update(row, item): rows
 * that stay are not rebuilt, so the keyboard focus inside them survives a
 * refresh.
 */
export function syncRows(tbody, items, key, create, update) {
  const old = new Map([...tbody.rows].map((r) => [r.dataset.key, r]));
  let prev = null;
  for (const item of items) {
    const k = key(item);
    let row = old.get(k);
    if (row) old.delete(k);
    else { row = create(item); row.dataset.key = k; }
    update(row, item);
    const want = prev ? prev.nextSibling : tbody.firstChild;
    if (want !== row) tbody.insertBefore(row, want);
    prev = row;
  }
  for (const r of old.values()) r.remove();
}

/**
 * poller calls fn now and every ms milliseconds (fn may return another
 * interval) while the page is visible; now() calls it at once, stop() ends
 * it. Calls never overlap.
 */
export function poller(fn, ms) {
  let timer = null;
  let stopped = false;
  let running = false;
  let again = false;
  const tick = async () => {
    clearTimeout(timer);
    timer = null;
    if (stopped) return;
    if (running) { again = true; return; }
    running = true;
    let next = ms;
    try {
      if (!document.hidden) next = (await fn()) || ms;
    } catch (e) {
      console.error(e);
    } finally {
      running = false;
    }
    if (stopped) return;
    if (again) { again = false; tick(); return; }
    timer = setTimeout(tick, next);
  };
  tick();
  return {stop() { stopped = true; clearTimeout(timer); }, now: tick};
}
