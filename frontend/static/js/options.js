// The App Options panel of the notebook page, as Tetration's: pick a
// dataset in the lake browser, a format and a time range, and get the
// IO.Read call to copy or insert as a new cell; below, the other calls a
// cell makes (SQL, RegisterTempTable, Persist, Frame methods, IO.List,
// DataTaps.SendMessage, display.*) with short examples. The notebook page
// mounts it with optionsButton (one button in its toolbar).

import {h, clear, field, errorBox, notify} from './dom.js';
import {catalog, lakeTree, lakeGet, hourText, rows} from './lake.js';

/** goString quotes s as a Go string literal. */
export function goString(s) {
  return JSON.stringify(s); // JSON's escapes are valid Go escapes for these strings
}

/**
 * readCall builds the IO.Read call for a dataset, a format and a time range
 * as the panel's choices give them: range is {kind, n, hour, start, end}.
 */
export function readCall(path, format, range) {
  let tr;
  switch (range.kind) {
    case 'LASTHOUR': case 'LASTDAY': case 'ALL': tr = range.kind; break;
    case 'LASTN': tr = `LAST ${range.n} HOURS`; break;
    case 'HOUR': tr = range.hour; break;
    case 'SPAN': tr = `${range.start}-${range.end}`; break;
    default: throw new Error(`unknown time range kind ${range.kind}`);
  }
  return `IO.Read(${goString(path)}, ${goString(format)}, ${goString(tr)})`;
}

// The other calls, each with a short example (Go, as a cell writes it).
const reference = [
  ['IO.Read', 'A lazy frame over a dataset\'s hour partitions.', 'flows := IO.Read("/tetration/flows", "PARQUET", "LASTHOUR")\nflows'],
  ['IO.List', 'The hours of a dataset that hold data, oldest first.', 'hours := IO.List("/appdata/datasink/DEVWKS-2612")\nIO.Read("/appdata/datasink/DEVWKS-2612", "JSON", hours[len(hours)-1])'],
  ['RegisterTempTable', 'Name a frame so SQL can read it.', 'IO.Read("/tetration/flows", "PARQUET", "LASTHOUR").RegisterTempTable("flows")'],
  ['SQL', 'A query over registered frames (and ? arguments).', 'SQL(`SELECT src_address, count(*) AS n FROM flows\n     WHERE dst_port = ? GROUP BY 1 ORDER BY n DESC`, 22)'],
  ['Persist', 'Compute a frame once and keep its rows for the next queries.', 'syns := SQL(`SELECT * FROM flows WHERE fwd_syn_count = 1`).Persist()'],
  ['Filter', 'Keep the rows matching a SQL condition.', 'flows.Filter("dst_port = ? AND fwd_pkts = 1", 22)'],
  ['DropDuplicates', 'One row per distinct value of the columns.', 'flows.DropDuplicates("src_address", "dst_address", "dst_port")'],
  ['GroupBy / Count', 'Rows per group, as a column "count".', 'flows.GroupBy("src_address").Count().Filter("count > ?", 10)'],
  ['IO.Write', 'Publish a frame into the current hour of an /appdata dataset.', 'IO.Write(scans, "/appdata/portscan/scanners", "PARQUET")'],
  ['DataTaps.SendMessage', 'Send a message to a tap (Kafka); the Data Taps page shows it.', 'DataTaps.SendMessage("portscan from 10.0.0.7", "Alerts")'],
  ['display.Markdown / HTML / JSON', 'Rich output: a cell\'s last value, or shown now with display.Show.', 'display.Markdown("**3** scanners found")'],
  ['display.Show / Update', 'Show a value now and replace it in place later by its id.', 'id := display.Show(display.Text("starting…"))\ndisplay.Update(id, display.Text("done"))'],
];

/**
 * optionsButton returns the toolbar button that opens the App Options
 * panel beside the notebook. insert(source) adds a code cell holding
 * source (the notebook page's own function); without it (a viewer's page)
 * the calls can be copied but not inserted.
 */
export function optionsButton({insert}) {
  let panel = null;
  const btn = h('button', {type: 'button', 'aria-expanded': 'false', 'aria-controls': 'app-options', onclick: () => {
    if (panel) { close(); return; }
    panel = optionsPanel({insert, close});
    document.body.append(panel);
    document.body.classList.add('with-options');
    btn.setAttribute('aria-expanded', 'true');
    panel.querySelector('h2').focus();
  }}, 'App Options');
  function close() {
    if (!panel) return;
    panel.remove();
    panel = null;
    document.body.classList.remove('with-options');
    btn.setAttribute('aria-expanded', 'false');
    if (btn.isConnected) btn.focus();
  }
  // The panel belongs to the notebook page: leaving the page closes it.
  const gone = new MutationObserver(() => { if (!btn.isConnected) { close(); gone.disconnect(); } });
  gone.observe(document.getElementById('main') || document.body, {childList: true, subtree: true});
  return btn;
}

/** copyText puts text on the clipboard, selecting it in el when the clipboard API is refused. */
async function copyText(text, el) {
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    const r = document.createRange();
    r.selectNodeContents(el);
    const sel = getSelection();
    sel.removeAllRanges();
    sel.addRange(r);
    if (!document.execCommand('copy')) throw new Error('the browser refused the clipboard: the text is selected, press Ctrl+C');
  }
}

function codeBlock(source, {insert, label}) {
  const pre = h('pre', {class: 'code mono'}, source);
  const copy = h('button', {type: 'button', class: 'small', 'aria-label': `Copy ${label}`, onclick: async () => {
    try { await copyText(source, pre); notify('Copied to the clipboard.'); } catch (e) { notify(e.message); }
  }}, 'Copy');
  const ins = insert ? h('button', {type: 'button', class: 'small', 'aria-label': `Insert ${label} as a new cell`, onclick: () => {
    insert(source);
    notify('Inserted as a new cell.');
  }}, 'Insert as a new cell') : null;
  return h('div', {class: 'codeblock'}, pre, h('div', {class: 'actions'}, copy, ins));
}

function optionsPanel({insert, close}) {
  const err = errorBox();
  const treeBox = h('div', {class: 'options-tree'}, h('p', {class: 'loading'}, 'Loading the lake…'));
  const chosen = h('p', {class: 'chosen'}, 'No dataset chosen: pick one in the tree.');
  const format = h('select', {name: 'format'}, ['PARQUET', 'JSON', 'CSV'].map((f) => h('option', {value: f}, f)));
  const kind = h('select', {name: 'range'},
    h('option', {value: 'LASTHOUR'}, 'LASTHOUR — the newest hour with data'),
    h('option', {value: 'LASTDAY'}, 'LASTDAY — the 24 hours ending there'),
    h('option', {value: 'LASTN'}, 'LAST n HOURS'),
    h('option', {value: 'HOUR'}, 'One hour of the dataset'),
    h('option', {value: 'SPAN'}, 'START-END — a range of hours'),
    h('option', {value: 'ALL'}, 'ALL — every hour'));
  const n = h('input', {type: 'number', name: 'hours', min: 1, max: 8760, value: 6, required: true});
  const hour = h('select', {name: 'hour'});
  const start = h('select', {name: 'start'});
  const end = h('select', {name: 'end'});
  const nField = field('Number of hours', n);
  const hourField = field('Hour', hour);
  const spanFields = h('div', {class: 'row'}, field('Start hour', start), field('End hour', end));
  const formatNote = h('p', {class: 'sub'});
  const generated = h('div', {class: 'generated', 'aria-live': 'polite'});
  let dataset = null; // the chosen dataset's description

  const update = () => {
    nField.hidden = kind.value !== 'LASTN';
    hourField.hidden = kind.value !== 'HOUR';
    spanFields.hidden = kind.value !== 'SPAN';
    err.show(null);
    if (!dataset) { clear(generated); return; }
    const has = dataset.formats;
    formatNote.textContent = has.includes(format.value) ? '' : `This dataset holds ${has.join(', ') || 'no files'}: a ${format.value} read finds nothing.`;
    const range = {kind: kind.value, n: Number(n.value), hour: hour.value, start: start.value, end: end.value};
    if (range.kind === 'LASTN' && !(Number.isInteger(range.n) && range.n >= 1)) {
      err.show(new Error('The number of hours is a whole number from 1 up.'));
      clear(generated);
      return;
    }
    if (range.kind === 'SPAN' && range.end < range.start) {
      err.show(new Error('The end hour is before the start hour: pick an end at or after the start.'));
      clear(generated);
      return;
    }
    clear(generated, h('h3', {}, 'Your IO.Read'), codeBlock(readCall(dataset.path, format.value, range), {insert, label: 'the IO.Read call'}));
  };
  for (const el of [format, kind, n, hour, start, end]) el.addEventListener(el.tagName === 'INPUT' ? 'input' : 'change', update);

  // asked numbers the choices: an answer for a choice made before the last
  // one is dropped, so a slow older answer cannot replace the dataset the
  // user picked since (and Insert write the wrong IO.Read).
  let asked = 0;
  const choose = async (path) => {
    const me = ++asked;
    chosen.textContent = `Loading ${path}…`;
    // Until the answer comes, nothing stale can be inserted.
    dataset = null;
    update();
    try {
      const info = await lakeGet('dataset', path);
      if (me !== asked) return;
      dataset = info;
      chosen.textContent = `${path}: ${info.hours} hours, ${rows(info.rows)} rows (${info.formats.join(', ')})`;
      if (info.formats.length && !info.formats.includes(format.value)) format.value = info.formats[0];
      const opts = () => [...info.hour_list].reverse().map((x) => h('option', {value: x.hour}, `${hourText(x.hour)} — ${rows(x.rows)} rows`));
      hour.replaceChildren(...opts());
      start.replaceChildren(...opts());
      end.replaceChildren(...opts());
      if (info.hour_list.length) start.value = info.hour_list[Math.max(0, info.hour_list.length - 6)].hour;
      update();
    } catch (e) {
      if (me !== asked) return;
      dataset = null;
      chosen.textContent = 'No dataset chosen.';
      err.show(e);
      update();
    }
  };

  (async () => {
    try {
      const cat = await catalog();
      if (!cat.datasets.length) { clear(treeBox, h('p', {}, 'The lake has no datasets yet.')); return; }
      const tree = lakeTree(cat.datasets, (p) => { tree.select(p); choose(p); }, 'Datasets to read');
      clear(treeBox, tree);
    } catch (e) {
      clear(treeBox);
      err.show(e);
    }
  })();

  const heading = h('h2', {id: 'app-options-h', tabIndex: -1}, 'App Options');
  const panel = h('aside', {id: 'app-options', class: 'options-panel', 'aria-labelledby': 'app-options-h'},
    h('div', {class: 'options-head'}, heading,
      h('button', {type: 'button', class: 'quiet', 'aria-label': 'Close App Options', onclick: close}, 'Close')),
    h('h3', {}, '1. Dataset'), treeBox, chosen,
    h('h3', {}, '2. Format and time range'),
    field('Format', format), formatNote,
    field('Time range', kind), nField, hourField, spanFields,
    err, generated,
    h('h3', {}, 'Other calls'),
    reference.map(([name, what, example]) => h('details', {class: 'ref'},
      h('summary', {}, h('code', {}, name), ' — ', what),
      codeBlock(example, {insert, label: `the ${name} example`}))));
  panel.addEventListener('keydown', (e) => { if (e.key === 'Escape' && !e.defaultPrevented && !e.target.closest('select')) { e.preventDefault(); close(); } });
  update();
  return panel;
}
