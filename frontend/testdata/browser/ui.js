// Drives flowlab's web UI in Debian's Chromium with playwright-core, as
// issue 8's acceptance asks, against a `flowlab serve --demo` started by
// cmd/flowlab/serve_browser_test.go. Each step prints one line
// "@step {json}" (step, ok, ms, error, detail) for the Go test; the first
// failure stops the script. Screenshots go to $OUT_DIR.
//
// Env: FLOWLAB_URL, FLOWLAB_TOKEN, CHROMIUM (the browser binary), OUT_DIR.
'use strict';
const {base, token, step, apiCall, check, launch, shot, onFailure} = require('./lib.js');

(async () => {
  const browser = await launch();
  const context = await browser.newContext({viewport: {width: 1400, height: 900}});
  const page = await context.newPage();
  const consoleErrors = [];
  page.on('pageerror', (e) => consoleErrors.push(String(e)));
  // Error statuses the UI answers on the page (401 before login, 400 for
  // bad input) are logged by Chromium as failed loads: not script errors.
  page.on('console', (m) => { if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) consoleErrors.push(m.text()); });
  onFailure((name) => shot(page, name));
  const suffix = Date.now().toString(36);
  const appName = 'ui-' + suffix;
  let appID;

  try {
    await step('login/form', async () => {
      await page.goto(base + '/apps');
      await page.getByRole('heading', {name: 'Log in to flowlab'}).waitFor();
      await page.getByLabel('Token').fill('not-the-token');
      await page.getByRole('button', {name: 'Log in'}).click();
      await page.getByRole('alert').filter({hasText: 'not valid'}).waitFor();
      await shot(page, 'login');
      await page.getByLabel('Token').fill(token);
      await page.getByRole('button', {name: 'Log in'}).click();
      await page.getByRole('heading', {name: 'User Apps'}).waitFor();
      check(new URL(page.url()).pathname === '/apps', 'after login the page is ' + page.url());
      await page.getByRole('button', {name: 'Log out'}).click();
      await page.getByRole('heading', {name: 'Log in to flowlab'}).waitFor();
    });

    await step('login/token-link', async () => {
      await page.goto(base + '/?token=' + encodeURIComponent(token));
      await page.getByRole('heading', {name: 'User Apps'}).waitFor();
      check(!page.url().includes('token='), 'the token stays in the address bar: ' + page.url());
    });

    await step('apps/list', async () => {
      const apps = await apiCall('GET', '/api/apps');
      check(apps.length >= 5, `${apps.length} demo apps`);
      for (const a of apps) {
        await page.getByRole('rowheader', {name: new RegExp(a.name)}).waitFor();
      }
      const rows = await page.locator('table.apps tbody tr').count();
      check(rows === apps.length, `${rows} rows for ${apps.length} apps`);
      await shot(page, 'apps');
      return {apps: apps.map((a) => a.name)};
    });

    await step('apps/labels', async () => {
      const unlabelled = await page.evaluate(() => [...document.querySelectorAll('input, select, textarea, button')]
        .filter((el) => !el.hidden && !(el.labels && el.labels.length) && !el.getAttribute('aria-label') && !el.textContent.trim())
        .map((el) => el.outerHTML.slice(0, 80)));
      check(unlabelled.length === 0, 'controls without a label: ' + unlabelled.join(' | '));
    });

    await step('apps/create-by-keyboard', async () => {
      // Keyboard only: Tab to the name field, type, Tab to the example, Tab to Create, Enter.
      await page.locator('body').focus();
      let found = false;
      for (let i = 0; i < 30 && !found; i++) {
        await page.keyboard.press('Tab');
        found = await page.evaluate(() => document.activeElement && document.activeElement.name === 'name');
      }
      check(found, 'Tab never reached the Name field');
      await page.keyboard.type(appName);
      await page.keyboard.press('Tab'); // Start from: Blank notebook
      await page.keyboard.press('Tab'); // Create app
      const focused = await page.evaluate(() => document.activeElement.textContent);
      check(focused === 'Create app', 'Tab after the form fields is on ' + focused);
      await page.keyboard.press('Enter');
      await page.getByRole('rowheader', {name: new RegExp(appName)}).waitFor();
      const apps = await apiCall('GET', '/api/apps');
      appID = apps.find((a) => a.name === appName).id;
      return {app: appName, id: appID};
    });

    await step('apps/bad-input', async () => {
      await page.getByLabel('Name').fill('../bad');
      await page.getByRole('button', {name: 'Create app'}).click();
      const alert = page.locator('form.create [role=alert]');
      await alert.waitFor();
      const msg = await alert.textContent();
      check(msg.length > 10, 'error message: ' + msg);
      await page.getByLabel('Name').fill('');
      return {message: msg};
    });

    const row = () => page.locator('table.apps tbody tr', {has: page.getByRole('rowheader', {name: new RegExp(appName)})});

    await step('notebook/open', async () => {
      const t0 = Date.now();
      await row().getByRole('button', {name: `Start and open ${appName}`}).click();
      await page.waitForURL(`**/apps/${appID}/notebook`);
      await page.locator('.kstatus[data-state=idle]').waitFor();
      return {click_to_kernel_idle_ms: Date.now() - t0};
    });

    await step('notebook/reload-interactive', async () => {
      // Issue 8: the notebook page is interactive within 1 s of load.
      const t0 = Date.now();
      await page.reload();
      await page.getByRole('textbox', {name: 'cell 1 source (code)'}).waitFor();
      const editable = Date.now() - t0;
      await page.locator('.kstatus[data-state=idle]').waitFor();
      const idle = Date.now() - t0;
      check(idle < 1000, `the notebook page took ${idle} ms to be interactive with its kernel idle (want < 1 s)`);
      return {editable_ms: editable, kernel_idle_ms: idle};
    });

    await step('notebook/run-by-keyboard', async () => {
      const editor = page.getByRole('textbox', {name: 'cell 1 source (code)'});
      await editor.focus();
      await page.keyboard.type('x := 40');
      await page.keyboard.press('Shift+Enter'); // runs, and adds and focuses cell 2
      await page.keyboard.type('x + 2');
      await page.keyboard.press('Control+Enter');
      await page.locator('.cell').nth(1).locator('.outputs').getByText('42').waitFor();
      const prompts = await page.locator('.cell .prompt').allTextContents();
      check(prompts[0] === '[1]' && prompts[1] === '[2]', 'prompts ' + prompts.join(' '));
      // An error shows its name and message.
      await page.keyboard.press('Shift+Enter');
      await page.keyboard.type('undefinedName + 1');
      await page.keyboard.press('Control+Enter');
      await page.locator('.cell').nth(2).locator('.error-output').waitFor();
      await shot(page, 'notebook');
      return {prompts};
    });

    await step('notebook/tap-monitor', async () => {
      // The monitor in a second tab; a cell sends to the Alerts tap.
      const monitor = await context.newPage();
      monitor.on('pageerror', (e) => consoleErrors.push(String(e)));
      await monitor.goto(base + '/taps');
      await monitor.getByRole('link', {name: 'Monitor Alerts'}).click();
      await monitor.locator('.conn.live').waitFor();
      const text = 'portscan from 10.9.9.' + (Date.now() % 250);
      const cells = await page.locator('.cell').count();
      const editor = page.getByRole('textbox', {name: `cell ${cells} source (code)`});
      await editor.focus();
      await page.keyboard.press('Shift+Enter'); // a new cell
      await page.keyboard.type(`DataTaps.SendMessage("${text}", "Alerts")`);
      const sent = Date.now();
      await page.keyboard.press('Control+Enter');
      const msg = monitor.locator('.message', {hasText: text});
      await msg.waitFor({timeout: 10000});
      const seen = Date.now();
      await page.locator(`.cell >> nth=${cells} >> .prompt`).filter({hasNotText: '*'}).waitFor();
      const done = Date.now();
      const sender = await msg.locator('.sender').textContent();
      check(sender === appName, `sender shown as ${sender}, want ${appName}`);
      check(seen - done < 1000, `shown ${seen - done} ms after the cell finished`);
      await shot(monitor, 'monitor');
      await monitor.goto(base + '/taps/Alerts/proctor?from=oldest');
      await monitor.locator('ol.messages.big .message', {hasText: text}).waitFor();
      const size = await monitor.locator('ol.messages.big pre.value').first().evaluate((el) => parseFloat(getComputedStyle(el).fontSize));
      check(size >= 24, `proctor type ${size}px`);
      await shot(monitor, 'proctor');
      await monitor.goto(base + '/taps');
      await shot(monitor, 'taps');
      await monitor.close();
      return {keypress_to_monitor_ms: seen - sent, cell_done_to_monitor_ms: seen - done, sender};
    });

    await step('apps/checkpoint-then-stop', async () => {
      await page.getByRole('button', {name: 'Save & Checkpoint'}).click();
      await page.getByRole('status').filter({hasText: 'Saved and checkpointed'}).waitFor();
      await page.getByRole('link', {name: 'User Apps'}).first().click();
      await row().locator('.badge', {hasText: 'running, checkpointed'}).waitFor();
      await row().getByRole('button', {name: `Stop ${appName}`}).click();
      const dialog = page.getByRole('dialog');
      const text = await dialog.textContent();
      check(/checkpoint is deleted/.test(text), 'the Stop dialog says: ' + text);
      await shot(page, 'stop-dialog');
      await dialog.getByRole('button', {name: 'Stop and delete the checkpoint'}).click();
      await row().locator('.badge', {hasText: /^stopped$/}).waitFor();
      const a = await apiCall('GET', `/api/apps/${appID}`);
      check(a.state === 'stopped' && !a.checkpoint, `app is ${a.state} with checkpoint ${JSON.stringify(a.checkpoint)}`);
      return {dialog: text};
    });

    await step('schedule/editor', async () => {
      await row().getByRole('link', {name: `Schedule ${appName}`}).click();
      await page.getByRole('heading', {name: `Schedules of ${appName}`}).waitFor();
      const cron = page.getByLabel('Cron expression');
      await cron.fill('61 * * * *');
      await page.locator('.preview.bad').waitFor();
      await cron.fill('*/30 6-18 * * 1-5');
      await page.getByLabel('Time zone').fill('Europe/Berlin');
      await page.locator('.preview:not(.bad)', {hasText: 'Next runs'}).waitFor();
      await page.getByLabel('When the previous run is still going').selectOption('queue');
      await page.getByLabel(/^Parameters/).fill('{"threshold": 3');
      await page.getByRole('button', {name: 'Add schedule'}).click();
      await page.locator('form.schedule [role=alert]', {hasText: 'JSON object'}).waitFor();
      await page.getByLabel(/^Parameters/).fill('{"threshold": 3}');
      await page.getByRole('button', {name: 'Add schedule'}).click();
      await page.getByRole('rowheader', {name: /\*\/30 6-18 \* \* 1-5/}).waitFor();
      await shot(page, 'schedules');
      const list = await apiCall('GET', `/api/apps/${appID}/schedules`);
      check(list.length === 1 && list[0].time_zone === 'Europe/Berlin' && list[0].overlap === 'queue' && list[0].parameters.threshold === 3,
        'saved schedule ' + JSON.stringify(list));
      return {preview: await page.locator('.preview').textContent()};
    });

    await step('runs/run-now', async () => {
      await page.getByRole('link', {name: 'runs page'}).click();
      await page.getByRole('heading', {name: `Runs of ${appName}`}).waitFor();
      await page.getByRole('button', {name: 'Run now'}).click();
      const r = page.locator('table.runs tbody tr').first();
      await r.waitFor();
      await r.locator('.badge', {hasText: /^(failed|succeeded)$/}).waitFor({timeout: 60000});
      const status = await r.locator('.badge').textContent();
      // The saved notebook has a cell with an undefined name: the run fails at it.
      check(status === 'failed', 'run status ' + status);
      const error = await r.locator('td.error-text').textContent();
      check(/cell/.test(error), 'run error column: ' + error);
      await shot(page, 'runs');
      await r.getByRole('link', {name: /Notebook of the run/}).click();
      await page.getByRole('heading', {name: `Run of ${appName}`}).waitFor();
      await page.locator('.notebook.readonly .outputs', {hasText: '42'}).waitFor();
      await shot(page, 'run');
      return {status, error};
    });

    await step('runs/cancel', async () => {
      // A notebook that sleeps, run now, cancelled from the page.
      const slow = await apiCall('POST', '/api/apps', {name: 'ui-slow-' + suffix});
      await apiCall('PUT', '/api/contents/' + slow.notebook, {type: 'notebook', format: 'json', content: {
        nbformat: 4, nbformat_minor: 5, metadata: {},
        cells: [{cell_type: 'code', id: 'a1', metadata: {}, execution_count: null, outputs: [], source: 'import "time"\ntime.Sleep(120 * time.Second)'}]}});
      await page.goto(`${base}/apps/${slow.id}/runs`);
      await page.getByRole('button', {name: 'Run now'}).click();
      const r = page.locator('table.runs tbody tr').first();
      await r.locator('.badge', {hasText: /^(queued|running)$/}).waitFor();
      await r.getByRole('button', {name: /Cancel the run/}).click();
      await r.locator('.badge', {hasText: /^cancelled$/}).waitFor({timeout: 30000});
      await apiCall('DELETE', '/api/apps/' + slow.id);
    });

    await step('console', async () => {
      check(consoleErrors.length === 0, 'browser errors: ' + consoleErrors.join(' | '));
    });
  } finally {
    await browser.close();
  }
})().catch(() => { process.exitCode = 1; });
