// Drives the Data Platform page, the notebook's App Options panel and the
// User Apps page of flowlab's web UI in Debian's Chromium with
// playwright-core, against a `flowlab serve --demo` started by
// cmd/flowlab/serve_browser_lake_test.go. Each step prints one line
// "@step {json}" for the Go test; the first failure stops the script.
// Screenshots go to $OUT_DIR.
//
// Env: FLOWLAB_URL, FLOWLAB_TOKEN, CHROMIUM (the browser binary), OUT_DIR.
'use strict';
const {base, token, step, apiCall, check, launch, shot: shotOf, onFailure} = require('./lib.js');

/**
 * unlabelled lists the visible form controls inside the root matching
 * selector that have no accessible name: inputs, selects and textareas need
 * a <label>, aria-label or aria-labelledby; buttons and tree items need
 * text or aria-label.
 */
async function unlabelled(page, selector) {
  return page.evaluate((sel) => {
    const root = document.querySelector(sel);
    if (!root) return ['no element ' + sel];
    const visible = (el) => !!(el.offsetWidth || el.offsetHeight || el.getClientRects().length);
    return [...root.querySelectorAll('input, select, textarea, button, [role=treeitem], [role=tree], summary, a[href]')]
      .filter(visible)
      .filter((el) => {
        if (el.getAttribute('aria-label') && el.getAttribute('aria-label').trim()) return false;
        const by = el.getAttribute('aria-labelledby');
        if (by && by.split(/\s+/).every((id) => document.getElementById(id) && document.getElementById(id).textContent.trim())) return false;
        if (['INPUT', 'SELECT', 'TEXTAREA'].includes(el.tagName)) return !(el.labels && [...el.labels].some((l) => l.textContent.trim()));
        return !el.textContent.trim();
      })
      .map((el) => el.outerHTML.slice(0, 100));
  }, selector);
}

/** focusRing reports whether the focused element shows a visible focus indicator. */
async function focusRing(page) {
  return page.evaluate(() => {
    const el = document.activeElement;
    if (!el || el === document.body) return {ok: false, what: 'nothing focused (' + document.hasFocus() + ')'};
    const s = getComputedStyle(el);
    const outline = s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0;
    const shadow = s.boxShadow && s.boxShadow !== 'none';
    return {ok: outline || shadow, what: `${el.tagName} ${el.getAttribute('aria-label') || el.textContent.trim().slice(0, 40)}`};
  });
}

(async () => {
  const browser = await launch();
  const context = await browser.newContext({viewport: {width: 1500, height: 950}});
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], {origin: base});
  const page = await context.newPage();
  const consoleErrors = [];
  page.on('pageerror', (e) => consoleErrors.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) consoleErrors.push(m.text()); });
  const shot = (name) => shotOf(page, name);
  onFailure(shot);
  const suffix = Date.now().toString(36);
  const appName = 'lake-ui-' + suffix;
  let app;
  const row = () => page.locator('table.apps tbody tr', {has: page.getByRole('rowheader', {name: new RegExp(appName)})});

  try {
    await step('login', async () => {
      app = await apiCall('POST', '/api/apps', {name: appName});
      await apiCall('PUT', '/api/contents/' + app.notebook, {type: 'notebook', format: 'json', content: {
        nbformat: 4, nbformat_minor: 5, metadata: {},
        cells: [{cell_type: 'code', id: 'c1', metadata: {}, execution_count: null, outputs: [], source: 'x := 40\nx + 2'}]}});
      await page.goto(base + '/?token=' + encodeURIComponent(token));
      await page.getByRole('heading', {name: 'User Apps'}).waitFor();
    });

    await step('apps/one-request', async () => {
      const seen = [];
      const listen = (r) => { if (new URL(r.url()).pathname.startsWith('/api/')) seen.push(r.method() + ' ' + new URL(r.url()).pathname); };
      page.on('request', listen);
      await page.waitForTimeout(5600); // one refresh (every 5 s)
      page.off('request', listen);
      const lists = seen.filter((s) => s === 'GET /api/apps').length;
      const others = seen.filter((s) => s !== 'GET /api/apps');
      check(lists >= 1, 'no refresh in 5.6 s: ' + seen.join(', '));
      check(others.length === 0, 'the refresh made more requests than GET /api/apps: ' + others.join(', '));
      await row().waitFor();
      const lastRun = await row().locator('td').nth(2).textContent();
      check(lastRun.trim() === '—', 'a new app shows last run ' + lastRun);
      return {requests: seen};
    });

    await step('apps/keyboard', async () => {
      // Keyboard only: Tab from the app's name link through its row.
      await row().getByRole('link', {name: appName, exact: true}).focus();
      const order = [];
      for (let i = 0; i < 5; i++) { // its last row: after Delete the focus leaves the page
        await page.keyboard.press('Tab');
        const ring = await focusRing(page);
        check(ring.ok, `no visible focus on ${ring.what} after ${order.join(' → ') || 'the app link'}`);
        order.push(ring.what);
      }
      const want = [`Start and open ${appName}`, `Run ${appName} now`, `Schedule ${appName}`, `Runs of ${appName}`, `Delete ${appName}`];
      const got = order.map((x) => want.find((w) => x.endsWith(w)) || x);
      check(JSON.stringify(got) === JSON.stringify(want), 'Tab order in the row: ' + order.join(' → '));
      // Space on "Run now" queues a run; its row shows it as the last run.
      await row().getByRole('button', {name: `Run ${appName} now`}).focus();
      await page.keyboard.press('Space');
      await page.getByRole('status').filter({hasText: 'queued'}).waitFor();
      await row().locator('td').nth(2).locator('.badge', {hasText: /^(succeeded|failed)$/}).waitFor({timeout: 60000});
      const status = await row().locator('td').nth(2).locator('.badge').textContent();
      check(status === 'succeeded', 'the run now of a notebook computing 42: ' + status);
      // Enter on the Runs link follows it.
      await row().getByRole('link', {name: `Runs of ${appName}`}).focus();
      await page.keyboard.press('Enter');
      await page.getByRole('heading', {name: `Runs of ${appName}`}).waitFor();
      await page.goBack();
      await page.getByRole('heading', {name: 'User Apps'}).waitFor();
      return {order, status};
    });

    await step('apps/schedule-run', async () => {
      const sched = await apiCall('POST', `/api/apps/${app.id}/schedules`, {cron: '* * * * *', time_zone: 'UTC'});
      const cell = row().locator('td').nth(3);
      await cell.getByText('* * * * *').waitFor({timeout: 10000});
      const before = (await apiCall('GET', `/api/apps/${app.id}/runs`)).length;
      let scheduled = null;
      const t0 = Date.now();
      while (!scheduled && Date.now() - t0 < 90000) {
        await page.waitForTimeout(2000);
        const runs = await apiCall('GET', `/api/apps/${app.id}/runs`);
        scheduled = runs.find((r) => r.trigger === 'schedule');
      }
      check(scheduled, 'no scheduled run within 90 s');
      await apiCall('DELETE', `/api/apps/${app.id}/schedules/${sched.id}`);
      // The page shows it (or a newer run) as the last run, linked.
      await row().locator(`td a[href$="/runs/${scheduled.id}"]`).waitFor({timeout: 15000}).catch(async () => {
        const runs = await apiCall('GET', `/api/apps/${app.id}/runs?limit=1`);
        await row().locator(`td a[href$="/runs/${runs[0].id}"]`).waitFor({timeout: 10000});
      });
      await cell.getByText('—').waitFor({timeout: 10000}); // the schedule deleted
      await shot('apps-scheduled-run');
      return {runs_before: before, scheduled: scheduled.id, scheduled_for: scheduled.scheduled};
    });

    await step('apps/labels', async () => {
      const bad = await unlabelled(page, 'main');
      check(bad.length === 0, 'controls without an accessible name: ' + bad.join(' | '));
    });

    await step('data/page', async () => {
      await page.getByRole('link', {name: 'Data Platform'}).click();
      await page.getByRole('heading', {name: 'Data Platform', level: 1}).waitFor();
      const flows = page.getByRole('treeitem', {name: /^flows/});
      await flows.waitFor();
      check(await flows.getAttribute('aria-selected') === 'true', '/tetration/flows is not chosen at first');
      await page.getByRole('heading', {name: '/tetration/flows'}).waitFor();
      const hours = page.locator('table.hours tbody tr');
      await hours.first().waitFor();
      const n = await hours.count();
      check(n >= 20, `${n} hours of flows`);
      const first = await hours.first().locator('td').allTextContents();
      check(/^\d[\d,]*$/.test(first[3]) && Number(first[3].replace(/,/g, '')) > 0, 'rows of the newest hour: ' + first[3]);
      check(/(KiB|MiB|B)$/.test(first[2]), 'size of the newest hour: ' + first[2]);
      const cols = await page.locator('table.schema tbody tr td:first-child').allTextContents();
      for (const c of ['src_address', 'dst_address', 'dst_port', 'fwd_syn_count']) check(cols.includes(c), `schema lacks ${c}: ${cols.join(',')}`);
      const previewRows = await page.locator('table.preview tbody tr').count();
      check(previewRows === 20, `${previewRows} preview rows`);
      const sink = page.locator('table.sinks tbody tr', {hasText: 'DEVWKS-2612'});
      const sinkCells = await sink.locator('td').allTextContents();
      check(/UTC$/.test(sinkCells[1]), 'datasink newest hour: ' + sinkCells.join(' | '));
      // Another hour in the preview.
      const second = await page.getByLabel('Hour').locator('option').nth(1).getAttribute('value');
      await page.getByLabel('Hour').selectOption(second);
      await page.locator('.lake-detail p.sub', {hasText: `${second.slice(0, 4)}-${second.slice(4, 6)}-${second.slice(6, 8)} ${second.slice(8, 10)}:00 UTC`}).waitFor();
      await shot('data-platform');
      return {hours: n, newest: first, columns: cols.length, datasink: sinkCells};
    });

    await step('data/keyboard-tree', async () => {
      const tree = page.getByRole('tree', {name: 'Lake datasets'});
      await page.getByRole('treeitem', {name: /^flows/}).focus();
      await page.keyboard.press('Home');
      let focused = await page.evaluate(() => document.activeElement.dataset.path);
      check(focused === '/appdata', 'Home went to ' + focused);
      await page.keyboard.press('ArrowLeft'); // closes /appdata
      check(await page.locator('[data-path="/appdata"]').getAttribute('aria-expanded') === 'false', 'Left did not close /appdata');
      await page.keyboard.press('ArrowDown'); // /tetration (appdata's children hidden)
      focused = await page.evaluate(() => document.activeElement.dataset.path);
      check(focused === '/tetration', 'Down from a closed folder went to ' + focused);
      await page.keyboard.press('ArrowUp');
      await page.keyboard.press('ArrowRight'); // opens /appdata
      await page.keyboard.press('ArrowRight'); // into its first child
      focused = await page.evaluate(() => document.activeElement.dataset.path);
      check(focused === '/appdata/datasink', 'Right, Right went to ' + focused);
      await page.keyboard.press('ArrowRight');
      await page.keyboard.press('ArrowRight');
      focused = await page.evaluate(() => document.activeElement.dataset.path);
      check(focused === '/appdata/datasink/DEVWKS-2612', 'then to ' + focused);
      await page.keyboard.press('Enter');
      await page.getByRole('heading', {name: '/appdata/datasink/DEVWKS-2612'}).waitFor();
      await page.locator('table.preview tbody tr').first().waitFor();
      check(new URL(page.url()).searchParams.get('path') === '/appdata/datasink/DEVWKS-2612', 'the address keeps the dataset: ' + page.url());
      const hourRow = await page.locator('table.hours tbody tr').first().locator('td').allTextContents();
      check(/^\d+$/.test(hourRow[3]), 'JSON lines are counted: ' + hourRow.join(' | '));
      await page.keyboard.press('End');
      focused = await page.evaluate(() => document.activeElement.dataset.path);
      check(focused === '/tetration/packets' || focused === '/tetration/flows', 'End went to ' + focused);
      await page.keyboard.press(' ');
      await page.getByRole('heading', {name: focused}).waitFor();
      const tabbable = await tree.locator('[role=treeitem][tabindex="0"]').count();
      check(tabbable === 1, `${tabbable} tree items in the tab order, want 1`);
      return {datasink_newest_hour: hourRow};
    });

    await step('data/labels', async () => {
      const bad = await unlabelled(page, 'main');
      check(bad.length === 0, 'controls without an accessible name: ' + bad.join(' | '));
    });

    await step('data/traversal', async () => {
      const r = await page.evaluate(async () => {
        const res = await fetch('/api/lake/dataset?path=' + encodeURIComponent('/tetration/../../etc/passwd'));
        return {status: res.status, body: await res.json()};
      });
      check(r.status === 400 && /not allowed/.test(r.body.message), 'traversal: ' + JSON.stringify(r));
      const anon = await fetch(base + '/api/lake/datasets');
      check(anon.status === 401, 'without credentials: ' + anon.status);
      return r;
    });

    await step('options/build-read', async () => {
      await page.goto(`${base}/apps`);
      await row().getByRole('button', {name: `Start and open ${appName}`}).click();
      await page.waitForURL(`**/apps/${app.id}/notebook`);
      await page.locator('.kstatus[data-state=idle]').waitFor();
      await page.getByRole('button', {name: 'App Options'}).click();
      const panel = page.getByRole('complementary', {name: 'App Options'});
      await panel.waitFor();
      // Keyboard: into the tree, to flows, Enter.
      const flows = panel.getByRole('treeitem', {name: /^flows/});
      await panel.getByRole('treeitem').first().focus();
      for (let i = 0; i < 10 && await page.evaluate(() => document.activeElement.dataset.path) !== '/tetration/flows'; i++) {
        await page.keyboard.press('ArrowDown');
      }
      await page.keyboard.press('Enter');
      check(await flows.getAttribute('aria-selected') === 'true', 'flows not chosen');
      const code = panel.locator('.generated pre.code');
      await code.waitFor();
      check(await code.textContent() === 'IO.Read("/tetration/flows", "PARQUET", "LASTHOUR")', 'default call: ' + await code.textContent());
      const info = await apiCall('GET', '/api/lake/dataset?path=/tetration/flows');
      const hours = info.hour_list.map((h) => h.hour);
      const calls = {};
      await panel.getByLabel('Time range').selectOption('LASTN');
      await panel.getByLabel('Number of hours').fill('3');
      calls.lastn = await code.textContent();
      check(calls.lastn === 'IO.Read("/tetration/flows", "PARQUET", "LAST 3 HOURS")', 'LAST n: ' + calls.lastn);
      await panel.getByLabel('Time range').selectOption('HOUR');
      await panel.getByLabel('Hour', {exact: true}).selectOption(hours[hours.length - 2]);
      calls.hour = await code.textContent();
      check(calls.hour === `IO.Read("/tetration/flows", "PARQUET", "${hours[hours.length - 2]}")`, 'one hour: ' + calls.hour);
      await panel.getByLabel('Time range').selectOption('SPAN');
      await panel.getByLabel('Start hour').selectOption(hours[hours.length - 4]);
      await panel.getByLabel('End hour').selectOption(hours[hours.length - 2]);
      calls.span = await code.textContent();
      check(calls.span === `IO.Read("/tetration/flows", "PARQUET", "${hours[hours.length - 4]}-${hours[hours.length - 2]}")`, 'span: ' + calls.span);
      await panel.getByLabel('End hour').selectOption(hours[hours.length - 6]);
      await panel.getByRole('alert').filter({hasText: 'before the start'}).waitFor();
      await panel.getByLabel('Time range').selectOption('ALL');
      calls.all = await code.textContent();
      check(calls.all.endsWith('"ALL")'), 'all: ' + calls.all);
      await panel.getByLabel('Format').selectOption('JSON');
      await panel.getByText('This dataset holds PARQUET').waitFor();
      await panel.getByLabel('Format').selectOption('PARQUET');
      await panel.getByLabel('Time range').selectOption('LASTDAY');
      calls.lastday = await code.textContent();
      check(calls.lastday === 'IO.Read("/tetration/flows", "PARQUET", "LASTDAY")', 'last day: ' + calls.lastday);
      // The reference of the other calls.
      for (const name of ['RegisterTempTable', 'SQL', 'Persist', 'DropDuplicates', 'GroupBy / Count', 'Filter', 'IO.List', 'DataTaps.SendMessage', 'display.Show / Update']) {
        await panel.locator('details.ref summary', {hasText: name}).first().waitFor();
      }
      await panel.locator('details.ref summary', {hasText: 'RegisterTempTable'}).click();
      await shot('app-options');
      return calls;
    });

    await step('options/labels', async () => {
      const bad = await unlabelled(page, '#app-options');
      check(bad.length === 0, 'controls without an accessible name: ' + bad.join(' | '));
    });

    await step('options/insert-and-run', async () => {
      // A cell's source: the CodeMirror editor's lines (or its placeholder's text before the editor is built).
      const sourceOf = (loc) => loc.evaluate((el) => el.querySelector('.cm-line') ? [...el.querySelectorAll('.cm-line')].map((l) => l.textContent).join('\n') : el.textContent);
      const panel = page.getByRole('complementary', {name: 'App Options'});
      const call = await panel.locator('.generated pre.code').textContent();
      // Copy, then paste into a new cell by keyboard.
      await panel.getByRole('button', {name: 'Copy the IO.Read call'}).click();
      const clip = await page.evaluate(() => navigator.clipboard.readText());
      check(clip === call, 'clipboard holds ' + clip);
      // Insert as a new cell, and run it.
      const before = await page.locator('.cell').count();
      await panel.getByRole('button', {name: 'Insert the IO.Read call as a new cell'}).click();
      await page.locator('.cell').nth(before).waitFor();
      const editor = page.getByRole('textbox', {name: `cell ${before + 1} source (code)`});
      check(await sourceOf(editor) === call, 'inserted cell holds ' + await sourceOf(editor));
      await editor.focus();
      await page.keyboard.press('Control+Enter');
      const cell = page.locator('.cell').nth(before);
      await cell.locator('.outputs table').first().waitFor({timeout: 60000});
      check(await cell.locator('.error-output').count() === 0, 'the IO.Read cell failed: ' + await cell.locator('.outputs').textContent());
      const inserted = await cell.locator('.outputs').textContent();
      check(/src_address/.test(inserted), 'the table lacks src_address: ' + inserted.slice(0, 300));
      // The copied call, pasted into a fresh cell, with LASTHOUR.
      await panel.getByLabel('Time range').selectOption('LASTHOUR');
      await panel.getByRole('button', {name: 'Copy the IO.Read call'}).click();
      await page.getByRole('button', {name: 'Add code cell'}).click();
      const pasteEditor = page.getByRole('textbox', {name: `cell ${before + 2} source (code)`});
      await pasteEditor.focus();
      await page.keyboard.press('Control+V');
      check(await sourceOf(pasteEditor) === 'IO.Read("/tetration/flows", "PARQUET", "LASTHOUR")', 'pasted ' + await sourceOf(pasteEditor));
      await page.keyboard.press('Control+Enter');
      const pasted = page.locator('.cell').nth(before + 1);
      await pasted.locator('.outputs table').first().waitFor({timeout: 60000});
      check(await pasted.locator('.error-output').count() === 0, 'the pasted cell failed: ' + await pasted.locator('.outputs').textContent());
      await shot('app-options-ran');
      // Escape closes the panel and gives the focus back to its button.
      await panel.getByRole('button', {name: 'Copy the IO.Read call'}).focus();
      await page.keyboard.press('Escape');
      await panel.waitFor({state: 'detached'});
      const focused = await page.evaluate(() => document.activeElement.textContent);
      check(focused === 'App Options', 'after Escape the focus is on ' + focused);
      return {call, rows_text: inserted.slice(0, 120)};
    });

    await step('options/viewer', async () => {
      // A viewer gets the panel to copy calls, without Insert.
      const viewer = await apiCall('POST', '/api/users', {name: 'viewer-' + suffix, role: 'viewer'});
      const vctx = await browser.newContext({viewport: {width: 1500, height: 950}});
      const vpage = await vctx.newPage();
      vpage.on('pageerror', (e) => consoleErrors.push(String(e)));
      try {
        await vpage.goto(base + '/?token=' + encodeURIComponent(viewer.token));
        await vpage.getByRole('heading', {name: 'User Apps'}).waitFor();
        await vpage.goto(`${base}/apps/${app.id}/notebook`);
        await vpage.getByRole('button', {name: 'App Options'}).click();
        const panel = vpage.getByRole('complementary', {name: 'App Options'});
        await panel.getByRole('treeitem', {name: /^flows/}).click();
        await panel.locator('.generated pre.code', {hasText: 'IO.Read("/tetration/flows", "PARQUET", "LASTHOUR")'}).waitFor();
        check(await panel.getByRole('button', {name: 'Copy the IO.Read call'}).count() === 1, 'no Copy for the viewer');
        const inserts = await panel.getByRole('button', {name: /as a new cell/}).count();
        check(inserts === 0, `${inserts} Insert buttons for a viewer`);
        const bad = await unlabelled(vpage, '#app-options');
        check(bad.length === 0, 'controls without an accessible name: ' + bad.join(' | '));
      } finally {
        await vctx.close();
      }
      await apiCall('POST', `/api/apps/${app.id}/stop`);
    });

    await step('console', async () => {
      check(consoleErrors.length === 0, 'browser errors: ' + consoleErrors.join(' | '));
    });
  } finally {
    await browser.close();
  }
})().catch(() => { process.exitCode = 1; });
