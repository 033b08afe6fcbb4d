// The live monitor of one tap: its messages in arrival order, streamed as
// server-sent events (GET /api/taps/{tap}/events), with the sender app of
// each. The proctor view (/taps/{tap}/proctor) is the same stream for the
// big screen: full window, large type, newest on top.

import {h, field, when} from './dom.js';

const keep = 500; // messages kept on the page

export async function render(main, [tap], ctx, url) {
  const proctor = url.pathname.replace(/\/$/, '').endsWith('/proctor');
  ctx.title(proctor ? `${tap} · proctor` : `Monitor · ${tap}`);
  document.body.classList.toggle('proctor', proctor);
  const state = h('span', {class: 'conn', role: 'status'}, 'connecting…');
  const count = h('span', {class: 'count'}, '0 messages');
  const list = h('ol', {class: proctor ? 'messages big' : 'messages', 'aria-live': proctor ? 'off' : 'polite', 'aria-relevant': 'additions'});
  const from = h('select', {name: 'from'}, h('option', {value: 'newest'}, 'new messages'), h('option', {value: 'oldest'}, 'everything in the topic'));
  from.value = url.searchParams.get('from') === 'oldest' ? 'oldest' : 'newest';
  const base = `/taps/${encodeURIComponent(tap)}`;
  if (proctor) {
    main.append(h('div', {class: 'proctor-head'},
      h('h1', {}, tap), state, count,
      h('a', {class: 'button-link quiet', href: base + (from.value === 'oldest' ? '?from=oldest' : '')}, 'Leave proctor view')), list);
  } else {
    main.append(
      h('p', {class: 'crumbs'}, h('a', {href: '/taps'}, 'Data Taps'), ' › ', tap),
      h('h1', {}, `Monitor of ${tap}`),
      h('div', {class: 'row toolbar'}, field('Show', from), state, count,
        h('a', {class: 'button-link', href: `${base}/proctor${from.value === 'oldest' ? '?from=oldest' : ''}`}, 'Proctor view (full screen)')),
      list);
    from.addEventListener('change', () => ctx.navigate(`${base}${from.value === 'oldest' ? '?from=oldest' : ''}`, {replace: true}));
  }
  let n = 0;
  const es = new EventSource(`/api/taps/${encodeURIComponent(tap)}/events?from=${from.value}`);
  es.addEventListener('open', () => { state.textContent = 'live'; state.className = 'conn live'; });
  es.addEventListener('message', (e) => {
    let m;
    try { m = JSON.parse(e.data); } catch { return; }
    n++;
    count.textContent = `${n} message${n === 1 ? '' : 's'}`;
    const item = messageItem(m);
    // Arrival order: the monitor reads down, the proctor view has the newest on top.
    if (proctor) list.prepend(item); else list.append(item);
    while (list.children.length > keep) (proctor ? list.lastElementChild : list.firstElementChild).remove();
  });
  es.addEventListener('error', (e) => {
    if (e.data) { // the server's error event: the stream ended
      let msg = e.data;
      try { msg = JSON.parse(e.data).error; } catch { /* as is */ }
      state.textContent = `stopped: ${msg}`;
      state.className = 'conn bad';
      es.close();
      return;
    }
    if (es.readyState === EventSource.CLOSED) {
      state.textContent = 'cannot connect: the tap may not exist, or you were logged out (reload to retry)';
      state.className = 'conn bad';
    } else {
      state.textContent = 'reconnecting…';
      state.className = 'conn';
    }
  });
  return () => { es.close(); document.body.classList.remove('proctor'); };
}

function pretty(value) {
  try {
    const v = JSON.parse(value);
    if (v && typeof v === 'object') return JSON.stringify(v, null, 1);
  } catch { /* plain text */ }
  return value;
}

function messageItem(m) {
  return h('li', {class: 'message'},
    h('div', {class: 'meta'},
      h('span', {class: 'sender'}, m.app ? m.app : 'external sender'),
      m.run ? h('span', {class: 'sub'}, ` run ${m.run}`) : null,
      h('time', {datetime: m.time}, when(m.time)),
      h('span', {class: 'sub'}, `#${m.offset}`)),
    h('pre', {class: 'value'}, pretty(m.value)));
}
