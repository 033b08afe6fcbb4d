// The notebook page's keyboard shortcuts: one list, shown by the "?" key
// (outside an editor) and the toolbar's "Keyboard shortcuts" button, and
// documented in docs/ui.md.

import {h} from './dom.js';

/** shortcuts are [keys, what they do] pairs, in the order shown. */
export const shortcuts = [
  ['Shift+Enter', 'Run the cell and move to the next one (a new cell at the end)'],
  ['Ctrl+Enter', 'Run the cell and stay in it'],
  ['Ctrl+Shift+Enter', 'Run all cells from the top (stops at the first error)'],
  ['Ctrl+S', 'Save & Checkpoint'],
  ['Tab', 'In a code cell after a name: complete it through the kernel (↑/↓ choose, Enter or Tab accepts, Escape closes); elsewhere: indent'],
  ['Shift+Tab', 'In a code cell: show the documentation of the name at the cursor (Escape closes it)'],
  ['Escape, then Tab', 'Leave the cell editor (Tab and Shift+Tab then move the focus)'],
  ['Enter', 'On a rendered Markdown cell: edit it'],
  ['Ctrl+Z, Ctrl+Shift+Z', 'Undo and redo in a cell'],
  ['?', 'This list (when the focus is not in a cell editor or a form field)'],
];

/** showShortcuts opens the list in a modal dialog; Escape or Close ends it. */
export function showShortcuts() {
  const close = h('button', {type: 'submit', value: 'close'}, 'Close');
  const dlg = h('dialog', {class: 'shortcuts', 'aria-labelledby': 'keys-title'},
    h('form', {method: 'dialog'},
      h('h2', {id: 'keys-title'}, 'Keyboard shortcuts'),
      h('table', {}, h('thead', {}, h('tr', {}, h('th', {scope: 'col'}, 'Keys'), h('th', {scope: 'col'}, 'Action'))),
        h('tbody', {}, shortcuts.map(([k, what]) => h('tr', {}, h('th', {scope: 'row'}, h('kbd', {}, k)), h('td', {}, what))))),
      h('div', {class: 'actions'}, close)));
  const back = document.activeElement;
  dlg.addEventListener('close', () => { dlg.remove(); if (back && back.focus) back.focus(); });
  document.body.append(dlg);
  dlg.showModal();
  close.focus();
  return dlg;
}

/** typingInto says whether a key event goes to text entry (so "?" types). */
export function typingInto(el) {
  if (!el) return false;
  if (el.isContentEditable) return true;
  return ['INPUT', 'TEXTAREA', 'SELECT'].includes(el.tagName);
}
