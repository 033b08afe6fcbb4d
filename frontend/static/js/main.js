// The shell: who is logged in, the login form, the navigation and the
// client-side router. Each page module exports a function
// render(main, params, ctx) that fills <main> and may return a cleanup
// function, called when the page is left (to close streams and timers).

import {api, onUnauthenticated} from './api.js';
import {h, clear, field, errorBox, notify} from './dom.js';

const routes = [
  [/^\/(?:apps\/?)?$/, () => import('./apps.js'), 'apps'],
  [/^\/apps\/([^/]+)\/schedules\/?$/, () => import('./schedules.js'), 'apps'],
  [/^\/apps\/([^/]+)\/notebook\/?$/, () => import('./notebook.js'), 'apps'],
  [/^\/apps\/([^/]+)\/runs\/?$/, () => import('./runs.js'), 'runs'],
  [/^\/apps\/([^/]+)\/runs\/([^/]+)\/?$/, () => import('./run.js'), 'runs'],
  [/^\/runs\/?$/, () => import('./runs.js'), 'runs'],
  [/^\/data\/?$/, () => import('./lake.js'), 'data'],
  [/^\/taps\/?$/, () => import('./taps.js'), 'taps'],
  [/^\/taps\/([^/]+)\/?$/, () => import('./monitor.js'), 'taps'],
  [/^\/taps\/([^/]+)\/proctor\/?$/, () => import('./monitor.js'), 'taps'],
];

const main = document.getElementById('main');
const ctx = {user: null, navigate, title};
let cleanup = null;
let generation = 0;

/** title sets the document title from a page's name. */
function title(name) {
  document.title = name ? `${name} · flowlab` : 'flowlab';
}

/** navigate shows the page of url, adding it to the history unless replace. */
export function navigate(url, {replace = false} = {}) {
  if (replace) history.replaceState(null, '', url);
  else history.pushState(null, '', url);
  route();
}

async function route() {
  const gen = ++generation;
  if (cleanup) { try { cleanup(); } catch (e) { console.warn(e); } cleanup = null; }
  const url = new URL(location.href);
  if (!ctx.user) { showLogin(url.searchParams.get('login') === 'invalid'); return; }
  const p = url.pathname;
  if (p === '/login' || p === '/login/') { navigate('/apps', {replace: true}); return; }
  for (const [re, load, nav] of routes) {
    const m = p.match(re);
    if (!m) continue;
    for (const a of document.querySelectorAll('[data-nav]')) {
      if (a.dataset.nav === nav) a.setAttribute('aria-current', 'page');
      else a.removeAttribute('aria-current');
    }
    document.body.classList.remove('proctor');
    try {
      const mod = await load();
      if (gen !== generation) return;
      clear(main);
      const params = m.slice(1).map(decodeURIComponent);
      const done = await mod.render(main, params, ctx, url);
      if (gen !== generation) { if (typeof done === 'function') done(); return; }
      cleanup = typeof done === 'function' ? done : null;
    } catch (e) {
      if (gen !== generation) return;
      clear(main, h('h1', {}, 'Something went wrong'), h('p', {class: 'error', role: 'alert'}, e.message || String(e)),
        h('p', {}, h('a', {href: '/apps'}, 'Back to the apps')));
    }
    focusHeading();
    return;
  }
  title('Not found');
  clear(main, h('h1', {}, 'Not found'), h('p', {}, `There is no page at ${p}. `, h('a', {href: '/apps'}, 'Go to the apps.')));
  focusHeading();
}

/** focusHeading moves the focus to the new page's heading, for screen readers and keyboards. */
function focusHeading() {
  const h1 = main.querySelector('h1');
  if (!h1) return;
  h1.tabIndex = -1;
  h1.focus({preventScroll: true});
}

function showLogin(invalidLink) {
  document.querySelector('header.bar').hidden = true;
  title('Log in');
  const token = h('input', {type: 'password', name: 'token', autocomplete: 'current-password', required: true, spellcheck: false});
  const err = errorBox();
  if (invalidLink) err.show(new Error('The token in the link you opened is not valid. Enter a valid one.'));
  const form = h('form', {class: 'login', onsubmit: async (e) => {
    e.preventDefault();
    err.show(null);
    try {
      ctx.user = await api('POST', '/login', {token: token.value});
      const url = new URL(location.href);
      url.searchParams.delete('login');
      history.replaceState(null, '', url.pathname === '/login' ? '/apps' : url.pathname + url.search);
      start();
    } catch (e2) {
      err.show(e2);
      token.select();
    }
  }},
  h('h1', {}, 'Log in to flowlab'),
  h('p', {}, 'Open the address flowlab serve printed (it ends in ?token=…), or enter the server token or your user token here.'),
  field('Token', token),
  err,
  h('button', {type: 'submit'}, 'Log in'));
  clear(main, form);
  token.focus();
}

function start() {
  const bar = document.querySelector('header.bar');
  bar.hidden = false;
  document.getElementById('who').textContent = `${ctx.user.name} (${ctx.user.role})`;
  route();
}

document.getElementById('logout').addEventListener('click', async () => {
  try { await api('POST', '/logout'); } catch (e) { notify(e.message); return; }
  ctx.user = null;
  history.pushState(null, '', '/login');
  route();
});

// Links inside the app are followed by the router, without a page load.
document.addEventListener('click', (e) => {
  const a = e.target.closest('a[href]');
  if (!a || e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  if (a.target || a.hasAttribute('download')) return;
  const url = new URL(a.href, location.href);
  if (url.origin !== location.origin || url.pathname.startsWith('/api/') || url.pathname.startsWith('/static/')) return;
  e.preventDefault();
  if (url.href !== location.href) navigate(url.pathname + url.search);
});
window.addEventListener('popstate', route);

onUnauthenticated(() => {
  if (!ctx.user) return;
  ctx.user = null;
  notify('Your session ended: log in again.');
  route();
});

(async () => {
  try {
    ctx.user = await api('GET', '/api/users/me');
  } catch {
    ctx.user = null; // the login form says what to do
  }
  if (ctx.user) start();
  else route();
})();
