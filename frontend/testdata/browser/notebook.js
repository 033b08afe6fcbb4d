// Drives the notebook page of flowlab's web UI in Debian's Chromium with
// playwright-core (issue 8's notebook acceptance), against a `flowlab
// serve --demo` started by cmd/flowlab/serve_notebook_browser_test.go:
// the editor (Go highlighting, completion on Tab, inspection on
// Shift+Tab), update-in-place displays, a 100,000-row table, a network
// drop while a cell prints, the Portscan detector lab run by keyboard
// only, labels, focus order and the shortcuts help. Each step prints one
// "@step {json}" line; the first failure stops the script. Screenshots go
// to $OUT_DIR (notebook-*.png).
//
// Env: FLOWLAB_URL, FLOWLAB_TOKEN, CHROMIUM (the browser binary), OUT_DIR.
'use strict';
const {base, token, step, apiCall, check, launch, shot, onFailure, startProxy} = require('./lib.js');

// The sources of the demo lake's planted scans (datalake/demo/plan.go).
const scanners = ['10.1.200.66', '10.1.201.99', '198.51.100.23', '203.0.113.77'];

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

(async () => {
  const browser = await launch();
  const context = await browser.newContext({viewport: {width: 1400, height: 900}});
  const consoleErrors = [];
  const watch = (p) => {
    p.on('pageerror', (e) => consoleErrors.push(String(e)));
    p.on('console', (m) => {
      // A websocket cut by the proxy is logged by Chromium as a failed connection: not a script error.
      if (m.type() === 'error' && !/^Failed to load resource|WebSocket connection to/.test(m.text())) consoleErrors.push(m.text());
    });
    // Leaving a notebook with unsaved cells asks first: the test leaves.
    p.on('dialog', (d) => d.accept());
  };
  const page = await context.newPage();
  watch(page);
  onFailure((name) => shot(page, name));
  const suffix = Date.now().toString(36);
  let proxy = null;

  const editor = (p, i, type = 'code') => p.getByRole('textbox', {name: `cell ${i} source (${type})`});
  const cell = (p, i) => p.locator('.notebook > .cell').nth(i - 1);
  const outputsText = (p, i) => cell(p, i).locator('.outputs').innerText();
  // waitRun waits until cell i has finished running ([n], not [*] or [ ]).
  const waitRun = (p, i, timeout = 60000) => cell(p, i).locator('.prompt').filter({hasText: /^\[\d+\]$/}).waitFor({timeout});
  // (A cell's editor is built when the page is idle; until then its text is in a placeholder.)
  const editorText = (p, i, type = 'code') => editor(p, i, type).evaluate((el) => el.querySelector('.cm-line') ? [...el.querySelectorAll('.cm-line')].map((l) => l.textContent).join('\n') : el.textContent);

  try {
    let app;
    await step('notebook/setup', async () => {
      await page.goto(base + '/?token=' + encodeURIComponent(token));
      await page.getByRole('heading', {name: 'User Apps'}).waitFor();
      app = await apiCall('POST', '/api/apps', {name: 'nb-' + suffix});
      await apiCall('POST', `/api/apps/${app.id}/open`);
      await page.goto(`${base}/apps/${app.id}/notebook`);
      await page.locator('.kstatus[data-state=idle]').waitFor();
      return {app: app.name};
    });

    await step('notebook/interactive', async () => {
      // Issue 8: the notebook page is interactive within 1 s of load
      // (now with the editor bundle): the first cell editable, the kernel idle.
      const editable = [];
      const idle = [];
      for (let i = 0; i < 5; i++) {
        const t0 = Date.now();
        await page.reload();
        await editor(page, 1).waitFor();
        editable.push(Date.now() - t0);
        await page.locator('.kstatus[data-state=idle]').waitFor();
        idle.push(Date.now() - t0);
      }
      // The median of five loads: one load can stall on a busy machine (2 cores shared with other jobs).
      check(median(idle) < 1000, `the notebook page took ${idle.join(", ")} ms to be interactive with its kernel idle (editable after ${editable.join(", ")} ms; want < 1 s)`);
      const bundle = await page.evaluate(() => performance.getEntriesByType('resource').filter((e) => e.name.includes('/vendor/editor.js')).map((e) => ({bytes: e.encodedBodySize || e.transferSize, ms: Math.round(e.duration)})));
      return {editable_ms: editable, kernel_idle_ms: idle, median_idle_ms: median(idle), editor_bundle: bundle};
    });

    await step('notebook/highlight', async () => {
      await editor(page, 1).focus();
      await page.keyboard.insertText('import "fmt"\n// doubles a number\nfunc double(n int) int { return 2 * n }\nfmt.Println(double(21), "answer")');
      const keyword = await cell(page, 1).locator('.cm-hl-keyword').allInnerTexts();
      const strings = await cell(page, 1).locator('.cm-hl-string').allInnerTexts();
      const comments = await cell(page, 1).locator('.cm-hl-comment').allInnerTexts();
      check(keyword.includes('func') && keyword.includes('import') && keyword.includes('return'), 'keywords highlighted: ' + keyword.join(' '));
      check(strings.includes('"answer"') && strings.includes('"fmt"'), 'strings highlighted: ' + strings.join(' '));
      check(comments.some((c) => c.includes('doubles a number')), 'comments highlighted: ' + comments.join(' '));
      const colour = await cell(page, 1).locator('.cm-hl-keyword').first().evaluate((el) => getComputedStyle(el).color);
      const plain = await editor(page, 1).evaluate((el) => getComputedStyle(el).color);
      check(colour !== plain, `keywords are coloured like plain text (${colour})`);
      await page.keyboard.press('Shift+Enter'); // runs, adds and focuses cell 2
      await waitRun(page, 1);
      check((await outputsText(page, 1)).includes('42 answer'), 'output of cell 1: ' + await outputsText(page, 1));
      const focused = await page.evaluate(() => document.activeElement.getAttribute('aria-label'));
      check(focused === 'cell 2 source (code)', 'after Shift+Enter the focus is on ' + focused);
      await shot(page, 'notebook-editor');
      return {keywords: keyword, keyword_colour: colour};
    });

    await step('notebook/complete', async () => {
      // Several candidates: the arrows move the selection, Escape closes the list.
      await page.keyboard.type('fmt.Sp');
      await page.keyboard.press('Tab');
      const many = page.getByRole('listbox');
      await many.waitFor();
      // CodeMirror ignores Enter and the arrows for 75 ms after a list opens
      // (against accidental picks); a person is slower than that.
      await page.waitForTimeout(150);
      const fmtOptions = (await many.getByRole('option').allInnerTexts()).map((o) => o.trim());
      check(['Sprint', 'Sprintf', 'Sprintln'].every((o) => fmtOptions.includes(o)), 'completions of fmt.Sp: ' + fmtOptions.join(', '));
      const sel = async () => (await many.locator('[role=option][aria-selected=true]').innerText()).trim();
      const first = await sel();
      await page.keyboard.press('ArrowDown');
      const second = await sel();
      check(second !== first && fmtOptions.indexOf(second) === fmtOptions.indexOf(first) + 1, `ArrowDown moved the selection from ${first} to ${second}`);
      await page.keyboard.press('Enter');
      await many.waitFor({state: 'detached'});
      check(await editorText(page, 2) === 'fmt.' + second, 'accepted ' + await editorText(page, 2));
      await page.keyboard.press('Control+a');
      await page.keyboard.press('Backspace');
      // The acceptance's case: a cell-API name.
      await page.keyboard.type('IO.Re');
      await page.keyboard.press('Tab');
      const list = page.getByRole('listbox');
      await list.waitFor();
      await page.waitForTimeout(150);
      const options = await list.getByRole('option').allInnerTexts();
      check(options.map((o) => o.trim()).includes('Read'), 'completions offered: ' + options.join(', '));
      const selected = async () => (await list.locator('[role=option][aria-selected=true]').innerText()).trim();
      const idx = options.findIndex((o) => o.trim() === 'Read');
      for (let i = 0; i < idx; i++) await page.keyboard.press('ArrowDown');
      check(await selected() === 'Read', 'selected ' + await selected());
      await shot(page, 'notebook-complete');
      await page.keyboard.press('Enter');
      await list.waitFor({state: 'detached'});
      const text = await editorText(page, 2);
      check(text === 'IO.Read', 'after accepting the completion the cell is ' + JSON.stringify(text));
      // The accepted name runs.
      await page.keyboard.type('("/tetration/flows", "PARQUET", "LASTHOUR").Count()');
      await page.keyboard.press('Control+Enter');
      await waitRun(page, 2);
      const out = (await outputsText(page, 2)).trim();
      const m = /^\((\d+), <nil>\)$/.exec(out); // Count returns (rows, error)
      check(m && Number(m[1]) > 0, 'IO.Read(...).Count() gave ' + out);
      return {fmt_sp: fmtOptions, io_re: options, rows_last_hour: Number(m[1])};
    });

    await step('notebook/inspect', async () => {
      await page.keyboard.press('Home');
      await page.keyboard.press('Control+Home');
      for (let i = 0; i < 5; i++) await page.keyboard.press('ArrowRight'); // IO.Re|ad
      await page.keyboard.press('Shift+Tab');
      const panel = cell(page, 2).getByRole('region', {name: 'documentation'});
      await panel.waitFor();
      const doc = await panel.innerText();
      check(doc.includes('func (io *LakeIO) Read(') && doc.includes('Read returns a lazy Frame'), 'Shift+Tab on IO.Read shows: ' + doc);
      await shot(page, 'notebook-inspect');
      await page.keyboard.press('Escape');
      await panel.waitFor({state: 'hidden'});
      return {doc: doc.slice(0, 200)};
    });

    // A new cell at the end, focused (the toolbar's Add code cell adds below the last focused cell).
    const newCell = async (p) => {
      const n = await p.locator('.notebook > .cell').count();
      await editor(p, n).focus();
      await p.getByRole('button', {name: 'Add code cell'}).click();
      await editor(p, n + 1).focus();
      return n + 1;
    };

    await step('notebook/display-update', async () => {
      const i = await newCell(page);
      await page.keyboard.insertText('import "time"\nid := display.Show(display.Text("first value"))\ntime.Sleep(700 * time.Millisecond)\ndisplay.Update(id, display.Text("final value"))');
      await page.keyboard.press('Control+Enter');
      await cell(page, i).locator('.outputs', {hasText: 'first value'}).waitFor();
      await waitRun(page, i);
      const outs = await cell(page, i).locator('.outputs > *').allInnerTexts();
      check(outs.length === 1 && outs[0].trim() === 'final value', 'outputs after display.Update: ' + JSON.stringify(outs));
      return {outputs: outs};
    });

    await step('notebook/restart-elsewhere', async () => {
      // A restart the page did not ask for (another tab, the API) ends the
      // running cell: its reply never comes, so the page must clear its [*].
      const i = await newCell(page);
      await page.keyboard.insertText('import "time"\ntime.Sleep(60 * time.Second)');
      await page.keyboard.press('Control+Enter');
      await cell(page, i).locator('.prompt', {hasText: '[*]'}).waitFor();
      await page.locator('.kstatus[data-state=busy]').waitFor();
      const t0 = Date.now();
      const {kernel_id: kid} = await apiCall('GET', `/api/apps/${app.id}`);
      await apiCall('POST', `/api/kernels/${kid}/restart`);
      await page.waitForFunction((k) => document.querySelectorAll('.notebook > .cell .prompt')[k].textContent !== '[*]', i - 1, {timeout: 10000});
      const cleared = Date.now() - t0;
      await page.locator('.kstatus[data-state=idle]').waitFor({timeout: 30000});
      // The kernel runs cells again after the restart.
      const j = await newCell(page);
      await page.keyboard.insertText('import "fmt"\nfmt.Println("after restart")');
      await page.keyboard.press('Control+Enter');
      await waitRun(page, j);
      check((await outputsText(page, j)).includes('after restart'), 'after the restart: ' + await outputsText(page, j));
      return {prompt_cleared_ms: cleared, prompt: await cell(page, i).locator('.prompt').innerText()};
    });

    await step('notebook/big-table', async () => {
      // A frame of 100,000 rows: the kernel sends its first rows and the total.
      let i = await newCell(page);
      await page.keyboard.insertText('SQL("SELECT range AS n, range * range AS square FROM range(100000)")');
      await page.keyboard.press('Control+Enter');
      await waitRun(page, i);
      const frame = await outputsText(page, i);
      check(/100,000 rows/.test(frame), 'the frame output does not show its total: ' + frame.slice(0, 300));
      const frameRows = await cell(page, i).locator('.outputs tr').count();
      // The same size as HTML a cell builds itself: the page keeps the first rows and says how many there are.
      i = await newCell(page);
      await page.keyboard.insertText('import ("strconv"; "strings")\nvar b strings.Builder\nb.WriteString("<table><thead><tr><th>n</th><th>square</th></tr></thead><tbody>")\n' +
        'for i := 0; i < 100000; i++ { b.WriteString("<tr><td>" + strconv.Itoa(i) + "</td><td>" + strconv.Itoa(i*i) + "</td></tr>") }\nb.WriteString("</tbody></table>")\ndisplay.HTML(b.String())');
      const t0 = Date.now();
      await page.keyboard.press('Control+Enter');
      await cell(page, i).getByRole('note').filter({hasText: 'Showing the first 1,000 of 100,000 rows'}).waitFor();
      const shown = Date.now() - t0;
      await waitRun(page, i);
      const domRows = await cell(page, i).locator('.outputs tbody tr').count();
      check(domRows === 1000, `${domRows} table rows in the page`);
      const last = await cell(page, i).locator('.outputs tbody tr').last().innerText();
      check(/^999\s+998001$/.test(last.trim()), 'last row shown: ' + last);
      // The page answers: a script round trip, then a new cell runs.
      const rt = [];
      for (let k = 0; k < 5; k++) {
        const s = Date.now();
        await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => r())));
        rt.push(Date.now() - s);
      }
      // And 100,000 lines printed: the stream keeps its last 200,000 characters.
      i = await newCell(page);
      const t2 = Date.now();
      await page.keyboard.insertText('for i := 0; i < 100000; i++ { fmt.Println("line", i) }');
      await page.keyboard.press('Control+Enter');
      await waitRun(page, i);
      await cell(page, i).locator('pre.stream', {hasText: 'line 99999'}).waitFor();
      const printed = Date.now() - t2;
      const streamChars = (await outputsText(page, i)).length;
      check(streamChars <= 200100 && /earlier output dropped/.test(await outputsText(page, i)), `stream of 100,000 lines kept ${streamChars} characters`);
      // And JSON: an array of 100,000 items.
      i = await newCell(page);
      await page.keyboard.insertText('display.JSON(make([]int, 100000))');
      await page.keyboard.press('Control+Enter');
      await cell(page, i).getByRole('note').filter({hasText: 'Showing the first 1,000 of 100,000 items'}).waitFor();
      i = await newCell(page);
      const t1 = Date.now();
      await page.keyboard.type('1 + 1');
      await page.keyboard.press('Control+Enter');
      await waitRun(page, i);
      const next = Date.now() - t1;
      check((await outputsText(page, i)).trim() === '2', 'the next cell gave ' + await outputsText(page, i));
      check(Math.max(...rt) < 500, `animation-frame round trips ${rt.join(', ')} ms after the big table (want < 500)`);
      check(next < 3000, `the next cell took ${next} ms`);
      await shot(page, 'notebook-big-table');
      return {frame_rows_in_page: frameRows, html_rows_in_page: domRows, cell_to_table_shown_ms: shown, frame_roundtrip_ms: rt, print_100k_lines_ms: printed, next_cell_ms: next};
    });

    await step('notebook/reconnect', async () => {
      // The page through a proxy whose network the test cuts while a cell prints.
      proxy = await startProxy();
      const p = await context.newPage();
      watch(p);
      onFailure((name) => shot(p, name));
      await p.goto(`${proxy.url}/apps/${app.id}/notebook`);
      await p.locator('.kstatus[data-state=idle]').waitFor();
      const i = await newCell(p);
      const ticks = 12;
      await p.keyboard.insertText(`import "time"\nfor i := 0; i < ${ticks}; i++ { fmt.Printf("tick %d\\n", i); time.Sleep(400 * time.Millisecond) }`);
      await p.keyboard.press('Control+Enter');
      await cell(p, i).locator('.outputs', {hasText: 'tick 1'}).waitFor();
      proxy.cut();
      await p.locator('.kstatus:is([data-state=disconnected], [data-state=connecting])').waitFor();
      await p.waitForTimeout(100); // the page shows streamed text within 40 ms of its arrival
      const atCut = await outputsText(p, i);
      await p.waitForTimeout(2500); // the cell prints on, the browser cannot hear it
      const whileDown = await outputsText(p, i);
      proxy.restore();
      await p.locator('.kstatus[data-reconnects="1"]').waitFor({timeout: 15000});
      await waitRun(p, i);
      const final = (await outputsText(p, i)).trim();
      const want = Array.from({length: ticks}, (_, k) => `tick ${k}`).join('\n');
      check(final === want, `output after the reconnect:\n${final}\nwant\n${want}`);
      check(whileDown === atCut, 'output arrived while the network was down');
      const statusText = await p.locator('.kstatus').innerText();
      check(/reconnected/.test(statusText), 'status after the reconnect: ' + statusText);
      await shot(p, 'notebook-reconnect');
      await p.close();
      onFailure((name) => shot(page, name));
      return {lines_before_cut: atCut.trim().split('\n').length, lines_after: ticks, status: statusText};
    });

    await step('notebook/labels', async () => {
      const unlabelled = await page.evaluate(() => {
        const name = (el) => (el.getAttribute('aria-label') || '').trim() ||
          (el.getAttribute('aria-labelledby') || '').split(/\s+/).map((id) => document.getElementById(id)).filter(Boolean).map((l) => l.textContent.trim()).join(' ') ||
          (el.labels && [...el.labels].map((l) => l.textContent.trim()).join(' ')) ||
          (['BUTTON', 'A'].includes(el.tagName) ? el.textContent.trim() : '') || (el.title || '').trim();
        return [...document.querySelectorAll('input, select, textarea, button, a[href], [role=textbox], [contenteditable=true], [tabindex]:not([tabindex="-1"])')]
          .filter((el) => el.getClientRects().length && !name(el))
          .map((el) => el.outerHTML.slice(0, 100));
      });
      check(unlabelled.length === 0, 'controls without an accessible name: ' + unlabelled.join(' | '));
      return {checked: await page.locator('input, select, textarea, button, [role=textbox]').count()};
    });

    await step('notebook/shortcuts-help', async () => {
      await page.getByRole('button', {name: 'Run all'}).focus();
      await page.keyboard.press('?');
      const dlg = page.getByRole('dialog', {name: 'Keyboard shortcuts'});
      await dlg.waitFor();
      const text = await dlg.innerText();
      for (const k of ['Shift+Enter', 'Ctrl+Enter', 'Ctrl+Shift+Enter', 'Ctrl+S', 'Shift+Tab', 'Escape, then Tab']) check(text.includes(k), `the shortcuts help lacks ${k}`);
      await shot(page, 'notebook-shortcuts');
      await page.keyboard.press('Escape');
      await dlg.waitFor({state: 'detached'});
      const back = await page.evaluate(() => document.activeElement.textContent);
      check(back === 'Run all', 'focus after closing the help: ' + back);
      // In a cell editor "?" is typed, not a shortcut.
      const n = await newCell(page);
      await page.keyboard.type('?');
      check(await page.getByRole('dialog').count() === 0 && await editorText(page, n) === '?', 'a "?" typed in a cell opened the help');
      await page.keyboard.press('Backspace');
    });

    await step('notebook/markdown-cell', async () => {
      // In a Markdown cell Tab indents (no kernel completion); Shift+Enter renders it.
      const n = await page.locator('.notebook > .cell').count();
      await editor(page, n).focus();
      await page.getByRole('button', {name: 'Add Markdown cell'}).click();
      const md = editor(page, n + 1, 'markdown');
      await md.waitFor();
      check(await page.evaluate(() => document.activeElement.getAttribute('aria-label')) === `cell ${n + 1} source (markdown)`, 'the new Markdown cell has not the focus');
      await page.keyboard.type('IO.Re');
      await page.keyboard.press('Tab');
      await page.waitForTimeout(300);
      check(await page.getByRole('listbox').count() === 0, 'Tab in a Markdown cell asked for completions');
      const mdText = await editorText(page, n + 1, 'markdown');
      check(mdText === 'IO.Re\t', 'Tab in a Markdown cell gave ' + JSON.stringify(mdText));
      await page.keyboard.press('Backspace');
      await page.keyboard.insertText(' *is* read');
      await page.keyboard.press('Shift+Enter');
      await cell(page, n + 1).locator('.rendered em', {hasText: 'is'}).waitFor();
    });

    await step('notebook/portscan-by-keyboard', async () => {
      const apps = await apiCall('GET', '/api/apps');
      const lab = apps.find((a) => /portscan/i.test(a.name));
      check(lab, 'no Portscan detector app in ' + apps.map((a) => a.name).join(', '));
      await page.goto(base + '/apps');
      await page.getByRole('rowheader', {name: new RegExp(lab.name)}).waitFor();
      // Keyboard only from here: Tab to the lab's Open button, Enter.
      await page.locator('body').focus();
      let found = false;
      for (let k = 0; k < 120 && !found; k++) {
        await page.keyboard.press('Tab');
        found = await page.evaluate((n) => /^(Start and open|Open) /.test(document.activeElement.getAttribute('aria-label') || '') && document.activeElement.getAttribute('aria-label').endsWith(n), lab.name);
      }
      check(found, `Tab never reached the Open button of ${lab.name}`);
      await page.keyboard.press('Enter');
      await page.waitForURL(`**/apps/${lab.id}/notebook`);
      await page.locator('.kstatus[data-state=idle]').waitFor({timeout: 30000});
      // Tab through the page to the first cell, checking the focus is visible all the way.
      const order = [];
      const invisible = [];
      await page.locator('main').focus();
      for (let k = 0; k < 40; k++) {
        await page.keyboard.press('Tab');
        const f = await page.evaluate(() => {
          const el = document.activeElement;
          const ring = el.closest('.cm-editor') || el;
          const cs = getComputedStyle(ring);
          const visible = cs.outlineStyle !== 'none' && parseFloat(cs.outlineWidth) > 0;
          const cellEl = el.closest('.notebook > .cell');
          return {name: el.getAttribute('aria-label') || el.textContent.trim().slice(0, 30), visible, inCell: cellEl ? [...cellEl.parentNode.children].indexOf(cellEl) + 1 : 0};
        });
        order.push(f.name);
        if (!f.visible) invisible.push(f.name);
        if (f.inCell === 1 && !/^(Run|Move|Add|Delete|cell type)/.test(f.name)) break;
      }
      check(invisible.length === 0, 'focus not visible on: ' + invisible.join(' | '));
      const runAll = order.indexOf('Run all');
      check(runAll >= 0 && runAll < order.length - 1, 'Tab order from the top: ' + order.join(' → '));
      // Shift+Enter through every cell.
      const cells = await page.locator('.notebook > .cell').count();
      const t0 = Date.now();
      for (let k = 0; k < cells; k++) await page.keyboard.press('Shift+Enter');
      let codeCells = 0; // with a source
      for (let k = 1; k <= cells; k++) {
        if (await cell(page, k).evaluate((el) => el.classList.contains('code-cell')) && (await editorText(page, k)).trim()) {
          codeCells++;
          await waitRun(page, k, 120000);
        }
      }
      const ran = Date.now() - t0;
      const errors = await page.locator('.error-output').allInnerTexts();
      check(errors.length === 0, 'errors: ' + errors.join(' | '));
      const text = await page.locator('.notebook').innerText();
      const missing = scanners.filter((a) => !text.includes(a));
      check(missing.length === 0, 'scanners not shown: ' + missing.join(', '));
      // The scanners table: the scans result lists the vertical scanners in a table.
      const tableText = await page.locator('.notebook .outputs table').allInnerTexts();
      check(tableText.some((t) => t.includes('10.1.200.66') && t.includes('198.51.100.23')), 'no table with the vertical scanners');
      await shot(page, 'notebook-portscan');
      // Ctrl+Shift+Enter runs them all again.
      const before = await page.locator('.notebook > .cell .prompt').allInnerTexts();
      await page.keyboard.press('Control+Shift+Enter');
      await page.getByRole('button', {name: 'Run all'}).and(page.locator(':enabled')).waitFor({timeout: 120000});
      await page.waitForFunction(() => ![...document.querySelectorAll('.notebook > .cell .prompt')].some((p) => p.textContent === '[*]'));
      const after = await page.locator('.notebook > .cell .prompt').allInnerTexts();
      const rerun = after.filter((p, k) => /\d/.test(p) && p !== before[k]).length;
      check(rerun === codeCells, `Ctrl+Shift+Enter reran ${rerun} of ${codeCells} code cells: ${before.join(' ')} → ${after.join(' ')}`);
      return {tab_order: order, cells, code_cells: codeCells, shift_enter_all_ms: ran, rerun};
    });

    await step('notebook/console', async () => {
      check(consoleErrors.length === 0, 'browser errors: ' + consoleErrors.join(' | '));
    });
  } finally {
    if (proxy) proxy.close();
    await browser.close();
  }
})().catch(() => { process.exitCode = 1; });
