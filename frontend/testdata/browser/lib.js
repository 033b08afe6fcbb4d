// Helpers of the browser scripts (ui.js, lake-ui.js, notebook.js): steps reported as
// "@step {json}" lines for the Go test, the REST API with the token, the
// browser launched as issue 8 asks, screenshots, and a TCP proxy that can
// cut the network between the browser and the server.
'use strict';
const {chromium} = require('playwright-core');
const net = require('net');
const path = require('path');
const fs = require('fs');

const base = process.env.FLOWLAB_URL;
const token = process.env.FLOWLAB_TOKEN;
const out = process.env.OUT_DIR;
fs.mkdirSync(out, {recursive: true});

let failShot = null; // takes a screenshot of the page when a step fails

/** step runs fn and prints its result; the first failure throws. */
async function step(name, fn) {
  const t0 = performance.now();
  try {
    const detail = await fn();
    console.log('@step ' + JSON.stringify({step: name, ok: true, ms: performance.now() - t0, detail: detail || null}));
  } catch (e) {
    if (failShot) await failShot('failed-' + name.replace(/\W+/g, '-')).catch(() => {});
    console.log('@step ' + JSON.stringify({step: name, ok: false, ms: performance.now() - t0, error: String(e && e.stack || e)}));
    throw e;
  }
}

/** apiCall calls the REST API with the token, as a script would. */
async function apiCall(method, p, body) {
  const res = await fetch(base + p, {method, headers: {Authorization: 'token ' + token, 'Content-Type': 'application/json'}, body: body === undefined ? undefined : JSON.stringify(body)});
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${p}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

function check(cond, msg) { if (!cond) throw new Error(msg); }

/** launch starts Debian's Chromium headless with issue 8's flags. */
function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
}

/** shot saves a full-page screenshot as OUT_DIR/name.png. */
function shot(page, name) {
  return page.screenshot({path: path.join(out, name + '.png'), fullPage: true});
}

function onFailure(fn) { failShot = fn; }

/**
 * startProxy forwards TCP from a 127.0.0.1 port to the server. cut()
 * resets every connection and refuses new ones until restore(): a network
 * drop as the browser and the server see it.
 */
async function startProxy() {
  const target = new URL(base);
  const sockets = new Set();
  let down = false;
  const server = net.createServer((client) => {
    if (down) { client.resetAndDestroy(); return; }
    const upstream = net.connect(Number(target.port), target.hostname);
    sockets.add(client);
    sockets.add(upstream);
    const end = () => { sockets.delete(client); sockets.delete(upstream); client.destroy(); upstream.destroy(); };
    client.on('error', end);
    upstream.on('error', end);
    client.on('close', end);
    upstream.on('close', end);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    cut() {
      down = true;
      for (const s of sockets) s.resetAndDestroy();
      sockets.clear();
    },
    restore() { down = false; },
    close() { for (const s of sockets) s.destroy(); server.close(); },
  };
}

module.exports = {base, token, out, step, apiCall, check, launch, shot, onFailure, startProxy};
