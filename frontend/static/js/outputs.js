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

// Limits of what one output puts in the page, so that a cell printing a
// huge table or text keeps the page responsive: the notebook (and its
// saved file) keeps the whole output, the page shows the start and says
// how much there is.
export const maxTableRows = 1000;
export const maxTextChars = 200000;

const trOpen = /<tr[\s>]/gi;

/**
 * capTableRows cuts the HTML of one table to its first max body rows,
 * before the browser parses it. It returns {html, shown, total}; shown
 * equals total when nothing was cut. HTML with several tables and too
 * many rows is not cut: html is null then (the caller shows text).
 */
export function capTableRows(html, max = maxTableRows) {
  const bodyStart = html.search(/<tbody[\s>]/i);
  const from = bodyStart < 0 ? 0 : bodyStart;
  trOpen.lastIndex = from;
  let total = 0;
  let cut = -1;
  while (trOpen.exec(html)) {
    total++;
    if (total === max + 1) cut = trOpen.lastIndex - 4;
  }
  if (total <= max) return {html, shown: total, total};
  const tables = html.match(/<table[\s>]/gi) || [];
  if (tables.length !== 1) return {html: null, shown: 0, total};
  // Keep what follows the rows (the end of the table, a caption or note).
  const lower = html.toLowerCase();
  let end = bodyStart < 0 ? -1 : lower.lastIndexOf('</tbody>');
  if (end < cut) end = lower.lastIndexOf('</table>');
  if (end < cut) end = html.length;
  while (cut > 0 && html[cut] !== '<') cut--;
  return {html: html.slice(0, cut) + html.slice(end), shown: max, total};
}

function truncatedNote(shown, total, what) {
  return h('p', {class: 'truncated', role: 'note'},
    `Showing the first ${shown.toLocaleString('en-US')} of ${total.toLocaleString('en-US')} ${what}: the page shows at most that many of one output (the saved notebook keeps them all).`);
}

/** capText cuts a long text output to maxTextChars, with a note. */
function capText(s, cls) {
  if (s.length <= maxTextChars) return h('pre', {class: cls}, s);
  return h('div', {}, h('pre', {class: cls}, s.slice(0, maxTextChars)), truncatedNote(maxTextChars, s.length, 'characters'));
}

/** renderData renders a MIME bundle, the richest type the page shows. */
export function renderData(data) {
  if (data['text/html'] !== undefined) {
    // Kernel HTML is shown as HTML; the page's Content-Security-Policy
    // keeps any script in it from running.
    const capped = capTableRows(text(data['text/html']));
    if (capped.html === null) {
      const plain = data['text/plain'] !== undefined ? stripANSI(text(data['text/plain'])) : '';
      return h('div', {class: 'display'}, truncatedNote(0, capped.total, 'table rows'), plain ? capText(plain, 'text-output') : null);
    }
    const div = h('div', {class: 'html-output scroll-x'});
    div.innerHTML = capped.html;
    for (const t of div.querySelectorAll('table')) t.classList.add('output-table');
    if (capped.shown < capped.total) return h('div', {}, truncatedNote(capped.shown, capped.total, 'rows'), div);
    return div;
  }
  for (const type of ['image/png', 'image/jpeg', 'image/gif']) {
    if (data[type] !== undefined) return h('img', {src: `data:${type};base64,${text(data[type]).replace(/\s/g, '')}`, alt: 'image output'});
  }
  if (data['image/svg+xml'] !== undefined) {
    return h('img', {src: 'data:image/svg+xml;charset=utf-8,' + encodeURIComponent(text(data['image/svg+xml'])), alt: 'SVG output'});
  }
  if (data['text/markdown'] !== undefined) return markdown(text(data['text/markdown']));
  if (data['application/json'] !== undefined) {
    const v = data['application/json'];
    if (Array.isArray(v) && v.length > maxTableRows) {
      return h('div', {}, truncatedNote(maxTableRows, v.length, 'items'), capText(JSON.stringify(v.slice(0, maxTableRows), null, 2), 'text-output'));
    }
    return capText(JSON.stringify(v, null, 2), 'text-output');
  }
  if (data['text/plain'] !== undefined) return capText(stripANSI(text(data['text/plain'])), 'text-output');
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
