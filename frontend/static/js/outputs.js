// Rendering of notebook cells' outputs (nbformat 4 and the kernel
// messages they come from): streams, rich displays (HTML tables in a
// horizontal scroll, images, SVG, Markdown, JSON, text) and errors with
// their tracebacks. Used by the notebook page and the read-only run view.

import {h} from './dom.js';
import {markdown} from './markdown.js';

/** text joins nbformat's multiline strings (a string or a list of lines). */
export function text(v) {
  return Array.isArray(v) ? v.join('') : (v || '');
}

/** stripANSI removes terminal colour codes from tracebacks and streams. */
export function stripANSI(s) {
  // eslint-disable-next-line no-control-regex
  return s.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '');
}

/** renderData renders a MIME bundle, the richest type the page shows. */
export function renderData(data) {
  if (data['text/html'] !== undefined) {
    // Kernel HTML is shown as HTML; the page's Content-Security-Policy
    // keeps any script in it from running.
    const div = h('div', {class: 'html-output scroll-x'});
    div.innerHTML = text(data['text/html']);
    for (const t of div.querySelectorAll('table')) t.classList.add('output-table');
    return div;
  }
  for (const type of ['image/png', 'image/jpeg', 'image/gif']) {
    if (data[type] !== undefined) return h('img', {src: `data:${type};base64,${text(data[type]).replace(/\s/g, '')}`, alt: 'image output'});
  }
  if (data['image/svg+xml'] !== undefined) {
    return h('img', {src: 'data:image/svg+xml;charset=utf-8,' + encodeURIComponent(text(data['image/svg+xml'])), alt: 'SVG output'});
  }
  if (data['text/markdown'] !== undefined) return markdown(text(data['text/markdown']));
  if (data['application/json'] !== undefined) return h('pre', {class: 'text-output'}, JSON.stringify(data['application/json'], null, 2));
  if (data['text/plain'] !== undefined) return h('pre', {class: 'text-output'}, stripANSI(text(data['text/plain'])));
  const types = Object.keys(data);
  return h('p', {class: 'sub'}, types.length ? `(output of type ${types.join(', ')} not shown)` : '(empty output)');
}

/**
 * renderOutput renders one nbformat output. Stream outputs are <pre>
 * elements the notebook page appends to as more text arrives.
 */
export function renderOutput(o) {
  switch (o.output_type) {
    case 'stream':
      return h('pre', {class: `stream ${o.name === 'stderr' ? 'stderr' : 'stdout'}`}, stripANSI(text(o.text)));
    case 'execute_result':
    case 'display_data':
      return h('div', {class: 'display'}, renderData(o.data || {}));
    case 'error':
      return h('div', {class: 'error-output', role: 'group', 'aria-label': 'error'},
        h('p', {class: 'ename'}, h('strong', {}, o.ename), o.evalue ? ': ' + stripANSI(o.evalue) : ''),
        (o.traceback || []).length ? h('pre', {class: 'traceback'}, stripANSI(o.traceback.join('\n'))) : null);
    default:
      return h('p', {class: 'sub'}, `(unknown output ${o.output_type})`);
  }
}

/** executionCount is a cell's prompt: [n], [ ] never run, [*] running. */
export function executionCount(n, running) {
  return running ? '[*]' : `[${n === null || n === undefined ? ' ' : n}]`;
}

/** renderNotebook shows a notebook read-only: cells, counts and outputs. */
export function renderNotebook(nb) {
  const cells = (nb.cells || []).map((c, i) => {
    if (c.cell_type === 'markdown') return h('section', {class: 'cell markdown-cell', 'aria-label': `cell ${i + 1}, Markdown`}, markdown(text(c.source)));
    if (c.cell_type === 'raw') return h('section', {class: 'cell raw-cell', 'aria-label': `cell ${i + 1}, raw`}, h('pre', {}, text(c.source)));
    return h('section', {class: 'cell code-cell', 'aria-label': `cell ${i + 1}, code`},
      h('div', {class: 'prompt'}, executionCount(c.execution_count)),
      h('div', {class: 'body'},
        h('pre', {class: 'source'}, h('code', {}, text(c.source))),
        h('div', {class: 'outputs'}, (c.outputs || []).map(renderOutput))));
  });
  return h('div', {class: 'notebook readonly'}, cells);
}
