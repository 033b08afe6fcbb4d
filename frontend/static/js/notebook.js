// The notebook page of an app: code and Markdown cells over the app's
// kernel, edited in CodeMirror (codecell.js: Go highlighting, completion
// on Tab and inspection on Shift+Tab through the kernel). Shift+Enter
// runs a cell and moves on, Ctrl+Enter runs it in place, Ctrl+Shift+Enter
// runs all, Ctrl+S saves, "?" lists the shortcuts (shortcuts.js); run
// all, interrupt, restart, Save & Checkpoint;
// outputs stream in as the kernel sends them (text, HTML tables, images,
// Markdown, errors with tracebacks, displays updated in place), with the
// execution count of each cell and the kernel's status. Edits are kept
// in the page until Save & Checkpoint writes the notebook.

import {api, path} from './api.js';
import {h, clear, errorBox, notify, confirmDialog} from './dom.js';
import {renderData, renderOutput, text, executionCount, stripANSI} from './outputs.js';
import {markdown} from './markdown.js';
import {Kernel} from './kernel.js';
import {stateBadge} from './apps.js';
import {optionsButton} from './options.js';
import {showShortcuts, typingInto} from './shortcuts.js';

const maxStreamChars = 200000; // per stream output kept on the page

export async function render(main, [id], ctx) {
  // The editor (a large module) loads while the app, its notebook and
  // the kernel connection do.
  const editorModule = import('./codecell.js');
  editorModule.catch(() => {}); // a stopped app's page does not need it
  let app = await api('GET', path('api', 'apps', id));
  ctx.title(app.name);
  const canEdit = ctx.user.role !== 'viewer';
  const head = h('div', {class: 'nb-head'});
  const body = h('div', {class: 'notebook'});
  const err = errorBox();
  main.append(h('p', {class: 'crumbs'}, h('a', {href: '/apps'}, 'User Apps'), ' › ', app.name), head, err, body);

  const up = () => app.state === 'running' || app.state === 'running+checkpointed';
  if (!up()) {
    const start = h('button', {type: 'button', onclick: async () => {
      start.disabled = true;
      err.show(null);
      try {
        app = await api('POST', path('api', 'apps', id, 'open'));
        ctx.navigate(location.pathname, {replace: true});
      } catch (e) { err.show(e); start.disabled = false; }
    }}, 'Start the kernel');
    head.append(h('h1', {}, app.name), h('p', {}, 'This app is ', stateBadge(app.state), '. Start its kernel to run cells.', app.error ? ` (${app.error})` : ''));
    if (canEdit) head.append(start);
    const nb = await loadNotebook(app);
    body.append(...nb.cells.map((c) => staticCell(c)));
    return null;
  }

  const status = h('span', {class: 'kstatus', role: 'status'}, 'Kernel: connecting');
  let reconnected = '';
  const cells = []; // declared before the kernel: its status may end their runs
  let probing = false; // awaitRestarted is asking the kernel
  const kernel = new Kernel(app.kernel_id, {onStatus: (s) => {
    status.textContent = `Kernel: ${s}${reconnected}`;
    status.dataset.state = s;
    // A restart or death from anywhere (another tab, the API, a crash)
    // ends the running cells: their replies will never come.
    if (s === 'restarting' || s === 'dead') endRunning();
    if (s === 'restarting') awaitRestarted();
  }, onReconnect: (n) => {
    // The server replays what the kernel sent meanwhile: outputs go on.
    reconnected = ` · reconnected at ${new Date().toLocaleTimeString()}`;
    status.dataset.reconnects = String(n);
    status.textContent = `Kernel: ${status.dataset.state}${reconnected}`;
    notify('Reconnected to the kernel; output sent while the connection was down follows.');
  }});
  let nb, cellEditor, lazyCellEditor;
  try {
    [nb, {cellEditor, lazyCellEditor}] = await Promise.all([loadNotebook(app), editorModule]);
  } catch (e) { kernel.close(); throw e; }
  let dirty = false;
  const markDirty = () => { dirty = true; };
  const beforeUnload = (e) => { if (dirty) { e.preventDefault(); e.returnValue = ''; } };
  window.addEventListener('beforeunload', beforeUnload);

  let lastFocused = null;

  // ---- cells ----
  function makeCell(c, lazy = false) {
    const cell = {
      type: c.cell_type === 'markdown' ? 'markdown' : c.cell_type === 'raw' ? 'raw' : 'code',
      id: c.id || crypto.randomUUID().slice(0, 8),
      metadata: c.metadata || {},
      count: c.execution_count ?? null,
      displays: new Map(), // display_id → [{el, output}]
    };
    const editorBox = h('div', {class: 'source mono'});
    const docPanel = h('div', {class: 'doc-panel', role: 'region', 'aria-label': 'documentation', hidden: true});
    const editor = (lazy ? lazyCellEditor : cellEditor)(editorBox, {
      doc: text(c.source),
      label: 'cell source',
      language: cell.type === 'code' ? 'go' : 'plain',
      readOnly: !canEdit,
      onChange: markDirty,
      kernel,
      docPanel,
      keys: {runAdvance: () => runCell(cell, true), runInPlace: () => runCell(cell, false), runAll: () => runAll(), save: () => save()},
    });
    cell.lang = cell.type === 'code' ? 'go' : 'plain';
    const prompt = h('div', {class: 'prompt', 'aria-hidden': 'true'});
    const outputs = h('div', {class: 'outputs', 'aria-live': 'polite'});
    const rendered = h('div', {class: 'rendered', tabIndex: 0, title: 'Double-click or Enter to edit'});
    const typeSel = h('select', {'aria-label': 'cell type', onchange: () => { cell.type = typeSel.value; markDirty(); refreshCell(cell); }},
      h('option', {value: 'code'}, 'Code'), h('option', {value: 'markdown'}, 'Markdown'), h('option', {value: 'raw'}, 'Raw'));
    const tools = h('div', {class: 'cell-tools'},
      h('button', {type: 'button', class: 'small', onclick: () => runCell(cell, false)}, 'Run'),
      canEdit ? [typeSel,
        h('button', {type: 'button', class: 'small', onclick: () => moveCell(cell, -1)}, 'Move up'),
        h('button', {type: 'button', class: 'small', onclick: () => moveCell(cell, 1)}, 'Move down'),
        h('button', {type: 'button', class: 'small', onclick: () => insertCell(cell, 'code')}, 'Add below'),
        h('button', {type: 'button', class: 'small danger', onclick: () => deleteCell(cell)}, 'Delete')] : null);
    const el = h('section', {class: 'cell', tabIndex: -1}, prompt, h('div', {class: 'body'}, tools, editorBox, docPanel, rendered, outputs));
    Object.assign(cell, {el, editor, prompt, outputs, rendered, typeSel, docPanel, editing: false});
    editor.dom.addEventListener('focusin', () => { lastFocused = cell; });
    rendered.addEventListener('dblclick', () => editMarkdown(cell));
    rendered.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && !e.shiftKey && !e.ctrlKey) { e.preventDefault(); editMarkdown(cell); } else onEditorKey(e, cell);
    });
    rendered.addEventListener('focus', () => { lastFocused = cell; });
    for (const o of c.outputs || []) appendOutput(cell, o, false);
    refreshCell(cell);
    return cell;
  }

  function refreshCell(cell) {
    cell.typeSel.value = cell.type;
    cell.el.className = `cell ${cell.type}-cell`;
    const showRendered = cell.type === 'markdown' && !cell.editing;
    cell.rendered.hidden = !showRendered;
    cell.editor.dom.hidden = showRendered;
    if (showRendered) cell.docPanel.hidden = true;
    const lang = cell.type === 'code' ? 'go' : 'plain';
    if (cell.lang !== lang) { cell.lang = lang; cell.editor.setLanguage(lang); }
    cell.prompt.textContent = cell.type === 'code' ? executionCount(cell.count, cell.running) : '';
    cell.outputs.hidden = cell.type !== 'code';
    const pos = cells.indexOf(cell) + 1;
    cell.el.setAttribute('aria-label', `cell ${pos}, ${cell.type}${cell.type === 'code' ? ' ' + executionCount(cell.count, cell.running) : ''}`);
    const label = `cell ${pos} source (${cell.type})`;
    if (cell.label !== label) { cell.label = label; cell.editor.setLabel(label); }
    if (showRendered) clear(cell.rendered, cell.editor.value.trim() ? markdown(cell.editor.value) : h('p', {class: 'sub'}, 'Empty Markdown cell: Enter to edit.'));
  }

  function editMarkdown(cell) {
    if (!canEdit) return;
    cell.editing = true;
    refreshCell(cell);
    cell.editor.focus();
  }

  // Keys on a rendered Markdown cell (the editor has its own keymap).
  function onEditorKey(e, cell) {
    if (e.key === 'Enter' && e.shiftKey && (e.ctrlKey || e.metaKey)) { e.preventDefault(); runAll(); return; }
    if (e.key === 'Enter' && e.shiftKey) { e.preventDefault(); runCell(cell, true); return; }
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) { e.preventDefault(); runCell(cell, false); return; }
  }

  function focusCell(cell) {
    if (cell.type === 'markdown' && !cell.editing) cell.rendered.focus();
    else cell.editor.focus();
  }

  async function runCell(cell, advance) {
    const i = cells.indexOf(cell);
    if (advance) {
      const next = cells[i + 1] || (canEdit ? insertCell(cell, 'code', false) : null);
      if (next) focusCell(next);
    }
    return execute(cell);
  }

  /** execute runs one cell; it resolves to false when the run stopped on an error. */
  async function execute(cell) {
    if (cell.type === 'markdown') { cell.editing = false; refreshCell(cell); return true; }
    if (cell.type !== 'code') return true;
    const code = cell.editor.value;
    clearOutputs(cell);
    if (!code.trim()) { cell.count = null; refreshCell(cell); return true; }
    cell.running = true;
    refreshCell(cell);
    let clearPending = false;
    const reply = await kernel.execute(code, (msg) => {
      const t = msg.header.msg_type;
      const c = msg.content;
      if (t === 'execute_input') { cell.count = c.execution_count; return; }
      if (t === 'clear_output') { if (c.wait) clearPending = true; else clearOutputs(cell); return; }
      if (t === 'update_display_data') { updateDisplay(cell, c); return; }
      if (!['stream', 'display_data', 'execute_result', 'error'].includes(t)) return;
      if (clearPending) { clearOutputs(cell); clearPending = false; }
      const o = {output_type: t, ...c};
      delete o.transient;
      if (t === 'execute_result') o.metadata = o.metadata || {};
      appendOutput(cell, o, true, c.transient && c.transient.display_id);
      markDirty();
    });
    cell.running = false;
    if (reply.content.execution_count) cell.count = reply.content.execution_count;
    refreshCell(cell);
    return reply.content.status === 'ok';
  }

  function clearOutputs(cell) {
    cell.outputs.replaceChildren();
    cell.displays.clear();
    cellOutputs.set(cell, []);
  }

  const cellOutputs = new Map(); // cell → nbformat outputs
  const streamRedraw = new Map(); // stream element → its output, to show soon

  function appendOutput(cell, o, live, displayID) {
    const list = cellOutputs.get(cell) || [];
    cellOutputs.set(cell, list);
    const last = list[list.length - 1];
    if (o.output_type === 'stream' && last && last.output_type === 'stream' && last.name === o.name) {
      // Streams of the same name continue the same block, as in Jupyter.
      last.text = text(last.text) + text(o.text);
      if (last.text.length > maxStreamChars) last.text = '…(earlier output dropped)…\n' + last.text.slice(-maxStreamChars);
      // A cell printing many lines sends many messages: the page shows
      // their text at most every 40 ms, not once per message.
      const el = cell.outputs.lastElementChild;
      if (!streamRedraw.has(el)) setTimeout(() => { el.textContent = stripANSI(streamRedraw.get(el).text); streamRedraw.delete(el); }, 40);
      streamRedraw.set(el, last);
      return;
    }
    const stored = o.output_type === 'stream' ? {...o, text: text(o.text)} : o;
    list.push(stored);
    const el = renderOutput(stored);
    cell.outputs.append(el);
    if (displayID) {
      if (!cell.displays.has(displayID)) cell.displays.set(displayID, []);
      cell.displays.get(displayID).push({el, output: stored});
      displayIndex.set(displayID, cell);
    }
    if (live && el.scrollIntoView && cell.outputs.childElementCount === 1 && !isVisible(el)) el.scrollIntoView({block: 'nearest'});
  }

  const displayIndex = new Map(); // display_id → cell holding it

  function updateDisplay(_cell, c) {
    const id = c.transient && c.transient.display_id;
    const holder = id && displayIndex.get(id);
    if (!holder) return;
    for (const d of holder.displays.get(id) || []) {
      d.output.data = c.data;
      d.output.metadata = c.metadata || {};
      d.el.replaceChildren(renderData(c.data || {}));
    }
    markDirty();
  }

  function insertCell(after, type, focus = true) {
    const cell = makeCell({cell_type: type, source: ''});
    const i = after ? cells.indexOf(after) + 1 : cells.length;
    cells.splice(i, 0, cell);
    const anchor = cells[i + 1] ? cells[i + 1].el : null;
    body.insertBefore(cell.el, anchor);
    if (type === 'markdown') cell.editing = true;
    cells.forEach(refreshCell);
    markDirty();
    if (focus) cell.editor.focus();
    return cell;
  }

  function moveCell(cell, by) {
    const i = cells.indexOf(cell);
    const j = i + by;
    if (j < 0 || j >= cells.length) return;
    cells.splice(i, 1);
    cells.splice(j, 0, cell);
    body.insertBefore(cell.el, by < 0 ? cells[j + 1].el : (cells[j + 1] ? cells[j + 1].el : null));
    cells.forEach(refreshCell);
    markDirty();
    focusCell(cell);
  }

  async function deleteCell(cell) {
    const i = cells.indexOf(cell);
    cells.splice(i, 1);
    cell.el.remove();
    cell.editor.destroy();
    cellOutputs.delete(cell);
    cells.forEach(refreshCell);
    markDirty();
    notify(`Cell ${i + 1} deleted.`);
    const next = cells[i] || cells[i - 1];
    if (next) focusCell(next);
  }

  // ---- notebook actions ----
  function toNotebook() {
    return {
      ...nb.raw,
      cells: cells.map((c) => {
        const base = {id: c.id, cell_type: c.type, metadata: c.metadata, source: c.editor.value};
        if (c.type === 'code') return {...base, execution_count: c.count, outputs: cellOutputs.get(c) || []};
        return base;
      }),
    };
  }

  async function save() {
    err.show(null);
    try {
      app = await api('POST', path('api', 'apps', id, 'checkpoint'), toNotebook());
      dirty = false;
      notify(`Saved and checkpointed at ${new Date().toLocaleTimeString()}.`);
      stateBox.replaceChildren(stateBadge(app.state));
    } catch (e) { err.show(e); }
  }

  let runningAll = false;
  async function runAll() {
    if (runningAll) return;
    runningAll = true;
    runAllBtn.disabled = true;
    try {
      for (const c of cells.slice()) {
        if (!cells.includes(c)) continue;
        if (!await execute(c)) break;
      }
    } finally { runningAll = false; runAllBtn.disabled = false; }
  }

  async function interrupt() {
    try { await api('POST', path('api', 'kernels', app.kernel_id, 'interrupt')); notify('Interrupt sent.'); } catch (e) { err.show(e); }
  }

  /** endRunning gives up on every request in flight and clears the cells' [*]. */
  function endRunning() {
    kernel.forget();
    for (const c of cells) if (c.running) { c.running = false; refreshCell(c); }
  }

  /**
   * awaitRestarted asks the restarted kernel for its info until it answers:
   * a new kernel says it is idle only when asked (its first status may go
   * out before the server listens), as JupyterLab asks after a restart.
   */
  async function awaitRestarted() {
    if (probing) return;
    probing = true;
    try {
      for (let i = 0; i < 30 && status.dataset.state === 'restarting'; i++) {
        kernel.request('kernel_info_request', {}); // its status messages update the indicator
        await new Promise((r) => setTimeout(r, 1000));
      }
    } finally { probing = false; }
  }

  async function restart() {
    if (!await confirmDialog('Restart the kernel?', 'Every variable of the kernel is lost; the cells and their outputs stay on the page.', 'Restart')) return;
    try {
      await api('POST', path('api', 'kernels', app.kernel_id, 'restart'));
      endRunning();
      notify('Kernel restarted.');
    } catch (e) { err.show(e); }
  }

  // Anywhere on the page: Ctrl+S saves, Ctrl+Shift+Enter runs all, "?"
  // (outside text entry) lists the shortcuts.
  const pageKeys = (e) => {
    if (e.defaultPrevented) return;
    if (e.key === 's' && (e.ctrlKey || e.metaKey)) { e.preventDefault(); save(); return; }
    if (e.key === 'Enter' && e.shiftKey && (e.ctrlKey || e.metaKey)) { e.preventDefault(); runAll(); return; }
    if (e.key === '?' && !e.ctrlKey && !e.metaKey && !e.altKey && !typingInto(e.target) && !document.querySelector('dialog[open]')) { e.preventDefault(); showShortcuts(); }
  };
  document.addEventListener('keydown', pageKeys);

  const stateBox = h('span', {}, stateBadge(app.state));
  const runAllBtn = h('button', {type: 'button', onclick: runAll, title: 'Ctrl+Shift+Enter'}, 'Run all');
  head.append(
    h('div', {class: 'nb-title'}, h('h1', {}, app.name), stateBox, status),
    h('div', {class: 'toolbar', role: 'toolbar', 'aria-label': 'Notebook'},
      runAllBtn,
      h('button', {type: 'button', onclick: interrupt}, 'Interrupt'),
      h('button', {type: 'button', onclick: restart}, 'Restart'),
      canEdit ? [
        h('button', {type: 'button', onclick: save, title: 'Ctrl+S'}, 'Save & Checkpoint'),
        h('button', {type: 'button', onclick: () => insertCell(lastFocused, 'code')}, 'Add code cell'),
        h('button', {type: 'button', onclick: () => insertCell(lastFocused, 'markdown')}, 'Add Markdown cell')] : null,
      optionsButton({insert: canEdit ? (src) => { const c = insertCell(lastFocused, 'code'); c.editor.value = src; markDirty(); } : null})),
    h('p', {class: 'sub keys'}, 'Shift+Enter runs a cell and moves on, Ctrl+Enter runs it in place, Ctrl+Shift+Enter runs all, Ctrl+S saves. In a cell Tab completes or indents, Shift+Tab shows documentation; press Escape first to move on with Tab. ? lists every shortcut.'));
  head.querySelector('.toolbar').append(h('button', {type: 'button', class: 'quiet', onclick: showShortcuts, 'aria-keyshortcuts': '?'}, 'Keyboard shortcuts'));

  for (const c of nb.cells) {
    const cell = makeCell(c, true);
    cells.push(cell);
    body.append(cell.el);
  }
  cells.forEach(refreshCell);
  // The cells' editors are built after the first paint, a few at a time
  // while the page is idle (a focused or clicked cell gets its own at once).
  const pendingEditors = cells.slice();
  const idle = window.requestIdleCallback ? (f) => requestIdleCallback(f, {timeout: 100}) : (f) => setTimeout(f, 16);
  const buildEditors = () => {
    const t0 = performance.now();
    while (pendingEditors.length && performance.now() - t0 < 10) {
      const c = pendingEditors.shift();
      if (cells.includes(c)) c.editor.upgrade();
    }
    if (pendingEditors.length) idle(buildEditors);
  };
  idle(buildEditors);
  if (!cells.length && canEdit) insertCell(null, 'code');
  dirty = false;

  return () => {
    for (const c of cells) c.editor.destroy();
    kernel.close();
    window.removeEventListener('beforeunload', beforeUnload);
    document.removeEventListener('keydown', pageKeys);
  };
}

/** loadNotebook reads the app's notebook through the contents API. */
async function loadNotebook(app) {
  const model = await api('GET', path('api', 'contents', app.notebook) + '?type=notebook&content=1');
  const raw = model.content || {};
  return {raw: {metadata: raw.metadata || {}, nbformat: raw.nbformat || 4, nbformat_minor: raw.nbformat_minor ?? 5}, cells: raw.cells || []};
}

/** staticCell shows a cell while the kernel is down. */
function staticCell(c) {
  if (c.cell_type === 'markdown') return h('section', {class: 'cell markdown-cell'}, h('div', {class: 'body'}, markdown(text(c.source))));
  return h('section', {class: 'cell code-cell'}, h('div', {class: 'prompt'}, executionCount(c.execution_count)),
    h('div', {class: 'body'}, h('pre', {class: 'source'}, text(c.source)), h('div', {class: 'outputs'}, (c.outputs || []).map(renderOutput))));
}

function isVisible(el) {
  const r = el.getBoundingClientRect();
  return r.top >= 0 && r.bottom <= window.innerHeight;
}
