// The editor of one notebook cell: the bundled CodeMirror editor
// (../vendor/editor.js, built from frontend/editor) with Go highlighting
// for code cells, completion on Tab (complete_request) and inspection on
// Shift+Tab (inspect_request) through the cell's kernel. Jupyter counts
// cursor positions in Unicode code points, the editor in UTF-16 units:
// this module converts between them.

import {createEditor} from '../vendor/editor.js';
import {h} from './dom.js';
import {stripANSI} from './outputs.js';

/** codePoints is the number of code points in s (Jupyter's cursor unit). */
export function codePoints(s) {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) i++;
    n++;
  }
  return n;
}

/** utf16Offset is the UTF-16 offset in s of code point cp. */
export function utf16Offset(s, cp) {
  let i = 0;
  for (let n = 0; n < cp && i < s.length; n++) {
    const c = s.charCodeAt(i);
    i += c >= 0xd800 && c <= 0xdbff && i + 1 < s.length ? 2 : 1;
  }
  return i;
}

/**
 * cellEditor makes the editor of a cell in parent. opts: doc, label,
 * language ('go' or 'plain'), readOnly, onChange, keys (runAdvance,
 * runInPlace, runAll, save), kernel (a Kernel: completion and inspection
 * ask it), docPanel (the element inspection shows its text in).
 */
export function cellEditor(parent, opts) {
  const {kernel, docPanel} = opts;
  const complete = async (code, pos) => {
    if (!kernel) return null;
    const reply = await kernel.request('complete_request', {code, cursor_pos: codePoints(code.slice(0, pos))});
    const c = reply.content || {};
    if (c.status !== 'ok' || !Array.isArray(c.matches)) return null;
    const types = {};
    for (const t of (c.metadata && c.metadata._jupyter_types_experimental) || []) if (t.text && t.type) types[t.text] = t.type;
    return {from: utf16Offset(code, c.cursor_start), to: utf16Offset(code, c.cursor_end), matches: c.matches, types};
  };
  const inspect = async (code, pos) => {
    if (!kernel || !docPanel) return;
    const reply = await kernel.request('inspect_request', {code, cursor_pos: codePoints(code.slice(0, pos)), detail_level: 0});
    const c = reply.content || {};
    const doc = c.status === 'ok' && c.found && c.data && c.data['text/plain'];
    showDoc(docPanel, doc ? stripANSI(Array.isArray(doc) ? doc.join('') : doc) : null);
  };
  return createEditor(parent, {
    ...opts,
    complete,
    inspect,
    onEscape: () => { if (docPanel) showDoc(docPanel, undefined); },
  });
}

/**
 * lazyCellEditor is cellEditor built when first needed, so that a notebook
 * of many cells is interactive without building every editor first:
 * until then the cell's text shows in a focusable placeholder with the
 * same label, which becomes the editor (with the focus) when it is
 * focused or clicked, or when the page calls upgrade() (when idle).
 */
export function lazyCellEditor(parent, opts) {
  let ed = null;
  let text = opts.doc || '';
  let label = opts.label;
  let lang = opts.language;
  const ph = h('pre', {class: 'cell-placeholder', tabIndex: 0, role: 'textbox', 'aria-multiline': 'true', 'aria-label': label, 'aria-readonly': opts.readOnly ? 'true' : null}, text);
  parent.append(ph);
  const upgrade = (focus) => {
    if (!ed) {
      ph.remove();
      ed = cellEditor(parent, {...opts, doc: text, label, language: lang});
    }
    if (focus) ed.focus();
    return ed;
  };
  ph.addEventListener('focus', () => upgrade(true));
  ph.addEventListener('mousedown', (e) => { e.preventDefault(); upgrade(true); });
  return {
    dom: parent,
    get value() { return ed ? ed.value : text; },
    set value(s) { if (ed) ed.value = s; else { text = s; ph.textContent = s; } },
    focus() { upgrade(true); },
    upgrade() { upgrade(false); },
    setLanguage(l) { lang = l; if (ed) ed.setLanguage(l); },
    setLabel(s) { label = s; if (ed) ed.setLabel(s); else ph.setAttribute('aria-label', s); },
    destroy() { if (ed) ed.destroy(); },
  };
}

/**
 * showDoc shows inspection's text in panel: null says nothing was found,
 * undefined hides the panel.
 */
export function showDoc(panel, doc) {
  if (doc === undefined) { panel.hidden = true; panel.replaceChildren(); return; }
  panel.replaceChildren(
    h('pre', {class: 'doc-text'}, doc === null ? 'No documentation found for the name at the cursor.' : doc),
    h('p', {class: 'sub'}, 'Escape closes this.'));
  panel.hidden = false;
}
