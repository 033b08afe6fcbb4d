// The Data Platform page: the lake's datasets as a tree (keyboard
// navigable, as a WAI-ARIA tree view), and for the chosen dataset its hours
// with row counts and sizes, its schema and its first rows; the datasinks
// and their newest hour. Everything comes from the read-only catalog API
// (GET /api/lake/...). The tree is also the App Options panel's dataset
// picker (options.js).

import {api} from './api.js';
import {h, clear, field, errorBox} from './dom.js';

/** catalog reads the datasets and datasinks of the lake. */
export function catalog() {
  return api('GET', '/api/lake/datasets');
}

/** lakeGet calls a catalog route with ?path= and more query parameters. */
export function lakeGet(route, path, params = {}) {
  const q = new URLSearchParams({path, ...params});
  return api('GET', `/api/lake/${route}?${q}`);
}

/** bytes formats a size: "812 B", "4.2 KiB", "1.3 MiB". */
export function bytes(n) {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

/** rows formats a row count; null (not counted) reads "unknown". */
export function rows(n) {
  return n === null || n === undefined ? 'unknown' : n.toLocaleString('en-US');
}

/** hourText formats an hour stamp YYYYMMDDHH00 as "2026-11-23 14:00 UTC". */
export function hourText(stamp) {
  if (!stamp) return '—';
  return `${stamp.slice(0, 4)}-${stamp.slice(4, 6)}-${stamp.slice(6, 8)} ${stamp.slice(8, 10)}:00 UTC`;
}

/**
 * lakeTree shows dataset paths as a tree view: folders expand and
 * collapse, datasets are leaves. Keys: Up/Down move, Right opens a folder
 * or moves into it, Left closes it or moves to its parent, Home/End,
 * Enter/Space choose a dataset (onSelect(path)). One item is in the tab
 * order at a time. tree.select(path) marks a dataset chosen.
 */
export function lakeTree(datasets, onSelect, label = 'Lake datasets') {
  const root = {children: new Map()};
  for (const d of datasets) {
    let node = root;
    const segs = d.path.split('/').filter(Boolean);
    segs.forEach((s, i) => {
      if (!node.children.has(s)) node.children.set(s, {name: s, path: '/' + segs.slice(0, i + 1).join('/'), children: new Map()});
      node = node.children.get(s);
    });
    node.dataset = d;
  }
  const tree = h('ul', {role: 'tree', class: 'tree', 'aria-label': label});
  const items = []; // every treeitem, in document order
  const build = (node, ul, level) => {
    for (const child of [...node.children.values()].sort((a, b) => a.name.localeCompare(b.name))) {
      const isFolder = child.children.size > 0;
      const text = h('span', {class: 'label'}, child.name);
      const li = h('li', {role: 'treeitem', tabIndex: -1, 'aria-level': level, dataset: {path: child.path}},
        h('span', {class: 'twisty', 'aria-hidden': 'true'}), text);
      if (child.dataset) {
        li.dataset.dataset = '1';
        li.setAttribute('aria-selected', 'false');
        text.append(h('span', {class: 'sub'}, ` ${child.dataset.hours} h${child.dataset.formats.length ? ', ' + child.dataset.formats.join('/') : ''}`));
      }
      items.push(li);
      if (isFolder) {
        li.setAttribute('aria-expanded', 'true');
        const group = h('ul', {role: 'group'});
        li.append(group);
        build(child, group, level + 1);
      }
      ul.append(li);
    }
  };
  build(root, tree, 1);
  if (items.length) items[0].tabIndex = 0;

  const visible = () => items.filter((li) => !li.parentElement.closest('[aria-expanded="false"]'));
  const focusItem = (li) => {
    for (const x of items) x.tabIndex = -1;
    li.tabIndex = 0;
    li.focus();
  };
  const choose = (li) => {
    if (li.dataset.dataset) onSelect(li.dataset.path);
    else if (li.hasAttribute('aria-expanded')) li.setAttribute('aria-expanded', String(li.getAttribute('aria-expanded') !== 'true'));
  };
  tree.addEventListener('click', (e) => {
    const li = e.target.closest('[role=treeitem]');
    if (!li) return;
    e.stopPropagation();
    focusItem(li);
    choose(li);
  });
  tree.addEventListener('keydown', (e) => {
    const li = e.target.closest('[role=treeitem]');
    if (!li || e.altKey || e.ctrlKey || e.metaKey) return;
    const vis = visible();
    const i = vis.indexOf(li);
    const expanded = li.getAttribute('aria-expanded');
    let handled = true;
    switch (e.key) {
      case 'ArrowDown': if (vis[i + 1]) focusItem(vis[i + 1]); break;
      case 'ArrowUp': if (vis[i - 1]) focusItem(vis[i - 1]); break;
      case 'Home': focusItem(vis[0]); break;
      case 'End': focusItem(vis[vis.length - 1]); break;
      case 'ArrowRight':
        if (expanded === 'false') li.setAttribute('aria-expanded', 'true');
        else if (expanded === 'true' && vis[i + 1]) focusItem(vis[i + 1]);
        break;
      case 'ArrowLeft':
        if (expanded === 'true') li.setAttribute('aria-expanded', 'false');
        else {
          const parent = li.parentElement.closest('[role=treeitem]');
          if (parent) focusItem(parent);
        }
        break;
      case 'Enter': case ' ': choose(li); break;
      default: handled = false;
    }
    if (handled) e.preventDefault();
  });
  tree.select = (path) => {
    for (const li of items) {
      if (!li.dataset.dataset) continue;
      const on = li.dataset.path === path;
      li.setAttribute('aria-selected', String(on));
      if (on) { for (const x of items) x.tabIndex = -1; li.tabIndex = 0; }
    }
  };
  return tree;
}

/** dataTable is a plain table of columns and rows (values as text). */
export function dataTable(caption, columns, rowsList, cls = '') {
  return h('div', {class: 'scroll-x'},
    h('table', {class: `list data ${cls}`},
      h('caption', {class: 'visually-hidden'}, caption),
      h('thead', {}, h('tr', {}, columns.map((c) => h('th', {scope: 'col'}, c)))),
      h('tbody', {}, rowsList.map((r) => h('tr', {}, r.map((v) => h('td', {}, v === null ? 'NULL' : typeof v === 'object' ? JSON.stringify(v) : String(v))))))));
}

export async function render(main, _params, ctx, url) {
  ctx.title('Data Platform');
  const pageErr = errorBox();
  const left = h('div', {class: 'lake-nav'});
  const detail = h('section', {class: 'lake-detail', 'aria-live': 'polite', 'aria-label': 'Dataset'});
  main.append(h('h1', {}, 'Data Platform'),
    h('p', {class: 'sub'}, 'The lake, read-only: pick a dataset for its hours, schema and first rows. Cells read it with IO.Read (the App Options panel of a notebook writes the call).'),
    pageErr, h('div', {class: 'lake-page'}, left, detail));
  let cat;
  try {
    cat = await catalog();
  } catch (e) {
    pageErr.show(e);
    return null;
  }
  // shown numbers the datasets shown: an answer for one shown before the
  // last is dropped, errors too.
  let shown = 0;
  const tree = lakeTree(cat.datasets, (p) => show(p));
  left.append(h('h2', {id: 'lake-tree-h'}, 'Datasets'),
    cat.datasets.length ? tree : h('p', {}, 'The lake has no datasets yet.'),
    h('h2', {}, 'Datasinks'),
    cat.datasinks.length ? dataTable('Datasinks and their newest hour', ['Datasink', 'Newest hour', 'Hours'],
      cat.datasinks.map((s) => [s.name, s.newest ? hourText(s.newest) : 'no data yet', String(s.hours)]), 'sinks') : h('p', {class: 'sub'}, 'No datasinks.'));

  async function show(p, hour = '') {
    const me = ++shown;
    tree.select(p);
    const u = new URL(location.href);
    u.searchParams.set('path', p);
    history.replaceState(null, '', u.pathname + u.search);
    const err = errorBox();
    clear(detail, h('h2', {}, p), h('p', {class: 'loading'}, 'Loading…'));
    let info;
    try {
      info = await lakeGet('dataset', p);
    } catch (e) {
      if (me !== shown) return;
      clear(detail, h('h2', {}, p), err);
      err.show(e);
      return;
    }
    if (me !== shown) return;
    const hourSel = h('select', {name: 'preview-hour'},
      [...info.hour_list].reverse().map((x) => h('option', {value: x.hour}, hourText(x.hour))));
    if (hour) hourSel.value = hour;
    const fmtSel = h('select', {name: 'preview-format'}, info.formats.map((f) => h('option', {value: f}, f)));
    const schemaBox = h('div');
    const previewBox = h('div');
    // loads numbers the hour and format choices: only the answer to the
    // last one is shown, so a slow older one cannot replace it.
    let loads = 0;
    const load = async () => {
      const mine = ++loads;
      const current = () => mine === loads && me === shown;
      const q = {hour: hourSel.value, format: fmtSel.value};
      clear(previewBox, h('p', {class: 'loading'}, 'Loading…'));
      try {
        const [schema, pv] = await Promise.all([lakeGet('schema', p, q), lakeGet('preview', p, {...q, limit: 20})]);
        if (!current()) return;
        clear(schemaBox, dataTable(`Schema of ${p}`, ['Column', 'Type'], schema.columns.map((c) => [c.name, c.type]), 'schema'));
        clear(previewBox, h('p', {class: 'sub'}, `First ${pv.rows.length} rows of ${hourText(pv.hour)} (${pv.format}).`),
          dataTable(`First rows of ${p}`, pv.columns.map((c) => c.name), pv.rows, 'preview'));
      } catch (e) {
        if (!current()) return;
        const box = errorBox();
        box.show(e);
        clear(previewBox, box);
        schemaBox.replaceChildren();
      }
    };
    hourSel.addEventListener('change', load);
    fmtSel.addEventListener('change', load);
    const totals = `${info.hours} hour${info.hours === 1 ? '' : 's'}, ${info.files} file${info.files === 1 ? '' : 's'}, ${bytes(info.bytes)}, ${rows(info.rows)} rows`;
    clear(detail,
      h('h2', {}, p),
      h('p', {}, totals, info.hours ? ` — ${hourText(info.oldest)} to ${hourText(info.newest)}` : ''),
      h('h3', {}, 'Hours'),
      info.hour_list.length
        ? h('div', {class: 'hours-box'}, dataTable(`Hours of ${p}`, ['Hour (time range)', 'Files', 'Size', 'Rows', 'Formats'],
          [...info.hour_list].reverse().map((x) => [`${hourText(x.hour)} (${x.hour})`, String(x.files), bytes(x.bytes), rows(x.rows), x.formats.join(', ')]), 'hours'))
        : h('p', {}, 'No hour holds data yet.'),
      info.hour_list.length ? [
        h('h3', {}, 'Schema and first rows'),
        h('div', {class: 'row'}, field('Hour', hourSel), field('Format', fmtSel)),
        h('h4', {}, 'Schema'), h('div', {class: 'schema-box'}, schemaBox),
        h('h4', {}, 'First rows'), previewBox] : null);
    if (info.hour_list.length) await load();
  }

  const want = url && url.searchParams.get('path');
  const first = want || (cat.datasets.find((d) => d.path === '/tetration/flows') || cat.datasets[0] || {}).path;
  if (first) await show(first);
  return null;
}
