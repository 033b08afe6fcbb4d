// The notebook page's code editor: CodeMirror 6 with Go highlighting,
// kernel completion (Tab) and inspection (Shift+Tab), bundled by build.sh
// into frontend/static/vendor/editor.js (one ES module, no imports), which
// frontend/static/js/cells.js imports. The page gives the keys that run
// cells and save; this file knows nothing of kernels or notebooks.

import {EditorView, keymap, drawSelection, highlightSpecialChars} from '@codemirror/view';
import {EditorState, Compartment, Prec} from '@codemirror/state';
import {defaultKeymap, history, historyKeymap, insertTab, indentLess} from '@codemirror/commands';
import {syntaxHighlighting, HighlightStyle, indentUnit, bracketMatching} from '@codemirror/language';
import {go} from '@codemirror/lang-go';
import {autocompletion, startCompletion, completionStatus, acceptCompletion, closeCompletion} from '@codemirror/autocomplete';
import {tags as t} from '@lezer/highlight';

// Colours are classes (cm-hl-*) defined in style.css, so the page's
// theme owns them.
const highlight = HighlightStyle.define([
  {tag: [t.keyword, t.controlKeyword, t.definitionKeyword, t.moduleKeyword, t.operatorKeyword], class: 'cm-hl-keyword'},
  {tag: [t.string, t.special(t.string), t.character], class: 'cm-hl-string'},
  {tag: [t.number, t.bool, t.null, t.atom], class: 'cm-hl-literal'},
  {tag: [t.comment, t.lineComment, t.blockComment], class: 'cm-hl-comment'},
  {tag: [t.typeName, t.standard(t.typeName)], class: 'cm-hl-type'},
  {tag: [t.function(t.variableName), t.function(t.propertyName), t.definition(t.function(t.variableName))], class: 'cm-hl-func'},
  {tag: [t.definition(t.variableName), t.definition(t.propertyName)], class: 'cm-hl-def'},
  {tag: [t.propertyName], class: 'cm-hl-prop'},
]);

// An identifier or a selector right before the cursor: Tab completes.
const beforeName = /[\w.]$/;

/**
 * createEditor makes an editor in parent.
 *
 * opts: doc, label (the textbox's accessible name), language ('go' or
 * 'plain'), readOnly, onChange(), keys {runAdvance, runInPlace, runAll, save}
 * (each gets no argument and returns nothing), complete(code, pos)
 * resolving to {from, to, matches} or null (pos and offsets in UTF-16
 * code units), inspect(code, pos) resolving to nothing (the page shows
 * the result), onEscape().
 */
export function createEditor(parent, opts) {
  const lang = new Compartment();
  const ro = new Compartment();
  let escaped = false; // Escape, then Tab / Shift+Tab move the focus
  let language = opts.language; // completion and inspection in Go only

  const kernelSource = async (ctx) => {
    if (!ctx.explicit || !opts.complete) return null;
    const code = ctx.state.doc.toString();
    const r = await opts.complete(code, ctx.pos);
    if (!r || !r.matches.length || ctx.aborted) return null;
    return {
      from: r.from,
      to: r.to,
      options: r.matches.map((m) => ({label: m, type: r.types && r.types[m] || undefined})),
      validFor: /^\w*$/,
    };
  };

  const keys = [
    {key: 'Shift-Enter', run: () => { opts.keys.runAdvance(); return true; }},
    {key: 'Mod-Enter', run: () => { opts.keys.runInPlace(); return true; }},
    {key: 'Mod-Shift-Enter', run: () => { opts.keys.runAll(); return true; }},
    {key: 'Mod-s', run: () => { opts.keys.save(); return true; }},
    {key: 'Escape', run: (view) => {
      if (completionStatus(view.state)) { closeCompletion(view); return true; }
      escaped = true;
      if (opts.onEscape) opts.onEscape();
      return false;
    }},
    {key: 'Tab', run: (view) => {
      if (escaped) return false;
      if (completionStatus(view.state) === 'active') return acceptCompletion(view);
      const sel = view.state.selection.main;
      const before = view.state.doc.sliceString(Math.max(0, sel.head - 1), sel.head);
      if (language === 'go' && sel.empty && beforeName.test(before) && opts.complete) return startCompletion(view);
      return insertTab(view);
    }},
    {key: 'Shift-Tab', run: (view) => {
      if (escaped) return false;
      const sel = view.state.selection.main;
      if (language === 'go' && sel.empty && opts.inspect) {
        opts.inspect(view.state.doc.toString(), sel.head);
        return true;
      }
      return indentLess(view);
    }},
  ];

  const view = new EditorView({
    parent,
    state: EditorState.create({
      doc: opts.doc || '',
      extensions: [
        Prec.highest(keymap.of(keys)),
        history(),
        drawSelection(),
        highlightSpecialChars(),
        bracketMatching(),
        syntaxHighlighting(highlight),
        indentUnit.of('\t'),
        EditorState.tabSize.of(4),
        autocompletion({override: [kernelSource], activateOnTyping: false, defaultKeymap: true, closeOnBlur: true, icons: false}),
        keymap.of([...historyKeymap, ...defaultKeymap]),
        lang.of(opts.language === 'go' ? go() : []),
        EditorView.contentAttributes.of({'aria-label': opts.label || 'editor'}),
        ro.of([EditorState.readOnly.of(!!opts.readOnly), EditorView.editable.of(!opts.readOnly)]),
        EditorView.updateListener.of((u) => {
          if (u.docChanged && opts.onChange) opts.onChange();
        }),
        EditorView.domEventHandlers({
          keydown: (e) => { if (e.key !== 'Escape' && e.key !== 'Tab' && e.key !== 'Shift') escaped = false; return false; },
          focus: () => { escaped = false; return false; },
        }),
      ],
    }),
  });

  return {
    view,
    dom: view.dom,
    /** value is the editor's text. */
    get value() { return view.state.doc.toString(); },
    set value(s) { view.dispatch({changes: {from: 0, to: view.state.doc.length, insert: s}}); },
    focus() { view.focus(); },
    setLanguage(name) { language = name; view.dispatch({effects: lang.reconfigure(name === 'go' ? go() : [])}); },
    // The label changes when cells move: set on the element, not by
    // reconfiguring the state (CodeMirror leaves attributes it did not set alone).
    setLabel(s) { view.contentDOM.setAttribute('aria-label', s); },
    /** cursor is the cursor's offset (UTF-16 code units). */
    get cursor() { return view.state.selection.main.head; },
    destroy() { view.destroy(); },
  };
}
