// Drives a Jupyter server through @jupyterlab/services, the client library
// JupyterLab itself uses, and reports every step as one line on stdout:
//
//   @step {"step":"kernelspecs","ok":true,"ms":12.3,"detail":{...}}
//   @step {"step":"execute/v1","ok":false,"error":"..."}
//
// cmd/flowlab/serve_node_test.go runs it against `flowlab serve` and turns
// each line into a subtest. Steps run in order; a step that needs what an
// earlier one failed to make fails too, with a message saying so.
//
// Usage: JUPYTER_URL=http://127.0.0.1:PORT/ JUPYTER_TOKEN=T \
//        NOTEBOOK_PATH=admin/node.ipynb node acceptance.js
'use strict';

const WebSocket = require('ws');
const {
  ServerConnection,
  KernelSpecManager,
  KernelManager,
  SessionManager,
  ContentsManager,
  KernelAPI,
  SessionAPI
} = require('@jupyterlab/services');

const baseUrl = required('JUPYTER_URL');
const token = required('JUPYTER_TOKEN');
const nbPath = process.env.NOTEBOOK_PATH || 'admin/node-acceptance.ipynb';
const stepTimeoutMs = Number(process.env.STEP_TIMEOUT_MS || 30000);

// The services log every websocket (re)connection on the console; the
// results are the @step lines only.
console.debug = () => {};
console.log = (...args) => process.stderr.write(args.join(' ') + '\n');
console.warn = console.log;

function required(name) {
  const v = process.env[name];
  if (!v) {
    process.stderr.write(`acceptance.js: set ${name}\n`);
    process.exit(2);
  }
  return v;
}

// Sockets remembers every websocket the services open, so the steps can
// check which subprotocol the server selected and which frames came back.
const sockets = [];

// V1Socket is ws as a browser's WebSocket: it offers the subprotocols the
// services ask for (v1.kernel.websocket.jupyter.org).
class V1Socket extends WebSocket {
  constructor(url, protocols) {
    super(url, protocols);
    track(this, 'v1');
  }
}

// JSONSocket offers no subprotocol, as clients that predate
// v1.kernel.websocket.jupyter.org do, so the server must speak the default
// JSON protocol; the services' serializer handles either.
class JSONSocket extends WebSocket {
  constructor(url, _protocols) {
    super(url);
    track(this, 'json');
  }
}

function track(ws, offered) {
  const rec = { offered, ws, text: 0, binary: 0 };
  sockets.push(rec);
  ws.on('message', (_data, isBinary) => {
    if (isBinary) rec.binary++;
    else rec.text++;
  });
}

function settings(WS) {
  return ServerConnection.makeSettings({
    baseUrl,
    wsUrl: 'ws' + baseUrl.slice('http'.length),
    token,
    appendToken: true,
    WebSocket: WS,
    fetch: globalThis.fetch,
    Request: globalThis.Request,
    Headers: globalThis.Headers
  });
}

const v1Settings = settings(V1Socket);
const jsonSettings = settings(JSONSocket);

function report(rec) {
  process.stdout.write('@step ' + JSON.stringify(rec) + '\n');
}

function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer in ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

let failures = 0;

async function step(name, fn) {
  const start = process.hrtime.bigint();
  try {
    const detail = await withTimeout(Promise.resolve().then(fn), stepTimeoutMs, name);
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    report({ step: name, ok: true, ms, detail: detail === undefined ? null : detail });
  } catch (err) {
    failures++;
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    report({ step: name, ok: false, ms, error: String((err && err.stack) || err) });
  }
}

function check(cond, msg) {
  if (!cond) throw new Error(msg);
}

function need(value, what) {
  if (value === undefined || value === null) {
    throw new Error(`needs ${what}, which an earlier step did not make`);
  }
  return value;
}

// execute runs code on a kernel connection and collects its replies:
// the execute_reply content, stdout and stderr text, execute_result and
// error contents.
async function execute(kernel, code) {
  const future = kernel.requestExecute({ code, stop_on_error: false });
  const out = { stdout: '', stderr: '', results: [], errors: [], statuses: [] };
  future.onIOPub = msg => {
    switch (msg.header.msg_type) {
      case 'stream':
        out[msg.content.name] += msg.content.text;
        break;
      case 'execute_result':
        out.results.push(msg.content);
        break;
      case 'error':
        out.errors.push(msg.content);
        break;
      case 'status':
        out.statuses.push(msg.content.execution_state);
        break;
    }
  };
  const reply = await future.done;
  out.reply = reply.content;
  return out;
}

function plain(result) {
  return result && result.data && result.data['text/plain'];
}

function notebook(cells) {
  return {
    nbformat: 4,
    nbformat_minor: 5,
    metadata: {
      kernelspec: { name: 'flowlab-go', display_name: 'Go (flowlab)', language: 'go' }
    },
    cells: cells.map((source, i) => ({
      cell_type: 'code',
      id: `cell-${i}`,
      metadata: {},
      execution_count: null,
      outputs: [],
      source
    }))
  };
}

function sources(nb) {
  return nb.cells.map(c => (Array.isArray(c.source) ? c.source.join('') : c.source));
}

function sameSources(got, want, what) {
  const g = JSON.stringify(got);
  const w = JSON.stringify(want);
  check(g === w, `${what}: cells ${g}, want ${w}`);
}

function waitFor(cond, ms, what) {
  return new Promise((resolve, reject) => {
    const deadline = Date.now() + ms;
    const poll = () => {
      if (cond()) return resolve();
      if (Date.now() > deadline) return reject(new Error(`timed out waiting for ${what}`));
      setTimeout(poll, 10);
    };
    poll();
  });
}

async function main() {
  const kernelManager = new KernelManager({ serverSettings: v1Settings });
  const jsonKernels = new KernelManager({ serverSettings: jsonSettings });
  const sessions = new SessionManager({ serverSettings: v1Settings, kernelManager });
  const contents = new ContentsManager({ serverSettings: v1Settings });
  const specs = new KernelSpecManager({ serverSettings: v1Settings });
  const state = {};

  const firstCells = ['import "fmt"\n\nx := 40', 'fmt.Println("hello from flowlab")', 'x + 2'];
  const laterCells = ['y := "changed"', 'y'];

  await step('kernelspecs', async () => {
    await specs.refreshSpecs();
    const s = need(specs.specs, 'kernelspecs');
    check(s.default, 'no default kernelspec');
    const spec = s.kernelspecs[s.default];
    check(spec, `default ${s.default} is not among ${Object.keys(s.kernelspecs)}`);
    check(spec.language && spec.display_name, `spec without language or display name: ${JSON.stringify(spec)}`);
    // The logo the launcher shows must be fetchable with the same settings.
    const logo = spec.resources['logo-64x64'];
    check(logo, `no logo-64x64 resource: ${JSON.stringify(spec.resources)}`);
    const res = await ServerConnection.makeRequest(new URL(logo, baseUrl).href, {}, v1Settings);
    check(res.status === 200, `GET ${logo}: ${res.status}`);
    const bytes = Buffer.from(await res.arrayBuffer());
    check(bytes.subarray(1, 4).toString() === 'PNG', `${logo} is not a PNG`);
    state.spec = s.default;
    return { default: s.default, names: Object.keys(s.kernelspecs), language: spec.language };
  });

  await step('contents/save', async () => {
    const model = await contents.save(nbPath, {
      type: 'notebook',
      format: 'json',
      content: notebook(firstCells)
    });
    check(model.path === nbPath, `saved as ${model.path}, want ${nbPath}`);
    check(model.type === 'notebook', `saved type ${model.type}`);
    state.saved = true;
    return { path: model.path, last_modified: model.last_modified };
  });

  await step('contents/load', async () => {
    need(state.saved, 'the saved notebook');
    const model = await contents.get(nbPath, { type: 'notebook', content: true });
    check(model.type === 'notebook' && model.format === 'json', `got ${model.type}/${model.format}`);
    check(model.content.nbformat === 4, `nbformat ${model.content.nbformat}`);
    sameSources(sources(model.content), firstCells, 'loaded');
    const dir = await contents.get(nbPath.slice(0, nbPath.lastIndexOf('/')) || '');
    check(dir.content.some(e => e.path === nbPath), `the folder listing lacks ${nbPath}`);
    return { cells: model.content.cells.length };
  });

  await step('session/start', async () => {
    const session = await sessions.startNew({
      path: nbPath,
      name: nbPath.split('/').pop(),
      type: 'notebook',
      kernel: { name: need(state.spec, 'a kernelspec') }
    });
    const kernel = need(session.kernel, 'the session kernel');
    const info = await kernel.info;
    check(info.status === 'ok', `kernel_info_reply status ${info.status}`);
    check(info.language_info && info.language_info.name, 'kernel_info_reply without language_info');
    const listed = await SessionAPI.listRunning(v1Settings);
    check(listed.some(s => s.id === session.id && s.kernel.id === kernel.id), 'GET /api/sessions does not list the session');
    state.session = session;
    state.kernel = kernel;
    return { session: session.id, kernel: kernel.id, language: info.language_info.name, implementation: info.implementation };
  });

  await step('execute/v1', async () => {
    const kernel = need(state.kernel, 'a running kernel');
    await waitFor(() => kernel.connectionStatus === 'connected', 10000, 'the websocket');
    const sock = sockets.find(s => s.offered === 'v1');
    check(sock, 'the services opened no websocket');
    check(sock.ws.protocol === 'v1.kernel.websocket.jupyter.org', `server selected subprotocol "${sock.ws.protocol}"`);
    const a = await execute(kernel, firstCells[0]);
    check(a.reply.status === 'ok', `${firstCells[0]}: ${JSON.stringify(a.reply)}`);
    const b = await execute(kernel, firstCells[1]);
    check(b.reply.status === 'ok', `${firstCells[1]}: ${JSON.stringify(b.reply)}`);
    check(b.stdout === 'hello from flowlab\n', `stdout ${JSON.stringify(b.stdout)}`);
    check(b.statuses.includes('busy') && b.statuses.includes('idle'), `statuses ${b.statuses}`);
    const c = await execute(kernel, firstCells[2]);
    check(c.reply.status === 'ok', `${firstCells[2]}: ${JSON.stringify(c.reply)}`);
    check(c.results.length === 1 && plain(c.results[0]) === '42', `execute_result ${JSON.stringify(c.results)}`);
    check(c.results[0].execution_count === c.reply.execution_count, 'execute_result and reply differ in execution_count');
    check(sock.binary > 0, `v1 framing: ${sock.binary} binary frames, ${sock.text} text`);
    return { protocol: sock.ws.protocol, frames: { binary: sock.binary, text: sock.text }, execution_count: c.reply.execution_count };
  });

  await step('execute/json', async () => {
    const kernel = need(state.kernel, 'a running kernel');
    const conn = jsonKernels.connectTo({ model: { id: kernel.id, name: kernel.name } });
    state.jsonConn = conn;
    await waitFor(() => conn.connectionStatus === 'connected', 10000, 'the websocket');
    const sock = sockets.find(s => s.offered === 'json');
    check(sock, 'no websocket without subprotocol was opened');
    check(sock.ws.protocol === '', `server selected subprotocol "${sock.ws.protocol}" that the client did not offer`);
    const info = await conn.requestKernelInfo();
    check(info && info.content.status === 'ok', 'kernel_info over the JSON protocol failed');
    // The same kernel: x is still defined.
    const r = await execute(conn, 'fmt.Println(x * 2)\nx + 1');
    check(r.reply.status === 'ok', `reply ${JSON.stringify(r.reply)}`);
    check(r.stdout === '80\n', `stdout ${JSON.stringify(r.stdout)}`);
    check(r.results.length === 1 && plain(r.results[0]) === '41', `execute_result ${JSON.stringify(r.results)}`);
    const e = await execute(conn, 'undefinedName + 1');
    check(e.reply.status === 'error', `an undefined name replied ${e.reply.status}`);
    check(e.errors.length === 1 && e.errors[0].ename, `error output ${JSON.stringify(e.errors)}`);
    check(sock.text > 0 && sock.binary === 0, `JSON framing: ${sock.text} text frames, ${sock.binary} binary`);
    return { protocol: 'default (JSON)', frames: { binary: sock.binary, text: sock.text }, error: e.errors[0].ename };
  });

  await step('checkpoint/create', async () => {
    need(state.saved, 'the saved notebook');
    const cp = await contents.createCheckpoint(nbPath);
    check(cp.id && cp.last_modified, `checkpoint ${JSON.stringify(cp)}`);
    const list = await contents.listCheckpoints(nbPath);
    check(list.some(c => c.id === cp.id), `listed ${JSON.stringify(list)}, want ${cp.id}`);
    state.checkpoint = cp.id;
    return { id: cp.id, listed: list.length };
  });

  await step('checkpoint/restore', async () => {
    const id = need(state.checkpoint, 'a checkpoint');
    await contents.save(nbPath, { type: 'notebook', format: 'json', content: notebook(laterCells) });
    const changed = await contents.get(nbPath, { content: true });
    sameSources(sources(changed.content), laterCells, 'saved over the checkpoint');
    await contents.restoreCheckpoint(nbPath, id);
    const restored = await contents.get(nbPath, { content: true });
    sameSources(sources(restored.content), firstCells, 'restored');
    await contents.deleteCheckpoint(nbPath, id);
    const left = await contents.listCheckpoints(nbPath);
    check(!left.some(c => c.id === id), 'the deleted checkpoint is still listed');
    return { restored_cells: restored.content.cells.length };
  });

  await step('interrupt', async () => {
    const kernel = need(state.kernel, 'a running kernel');
    const future = kernel.requestExecute({ code: 'for {\n}', stop_on_error: false });
    let sawBusy = false;
    future.onIOPub = msg => {
      if (msg.header.msg_type === 'status' && msg.content.execution_state === 'busy') sawBusy = true;
    };
    await waitFor(() => sawBusy, 10000, 'the loop to start');
    // The loop must still be running: the kernel does not answer on its own.
    const early = await Promise.race([future.done.then(() => 'done'), sleep(300).then(() => 'running')]);
    check(early === 'running', 'the endless loop finished by itself');
    const t0 = Date.now();
    await kernel.interrupt();
    const reply = await withTimeout(future.done, 10000, 'the interrupted cell');
    const ms = Date.now() - t0;
    check(reply.content.status === 'error' || reply.content.status === 'abort', `interrupted cell replied ${reply.content.status}`);
    // Still usable, with its state.
    const r = await execute(kernel, 'x');
    check(r.reply.status === 'ok' && plain(r.results[0]) === '40', `after the interrupt: ${JSON.stringify(r.reply)} ${JSON.stringify(r.results)}`);
    return { reply: reply.content.status, ename: reply.content.ename, interrupt_ms: ms };
  });

  await step('restart', async () => {
    const kernel = need(state.kernel, 'a running kernel');
    const before = await execute(kernel, 'x');
    check(plain(before.results[0]) === '40', 'x is not defined before the restart');
    await kernel.restart();
    await waitFor(() => kernel.connectionStatus === 'connected', 10000, 'the reconnected websocket');
    const info = await kernel.requestKernelInfo();
    check(info && info.content.status === 'ok', 'no kernel_info_reply after the restart');
    // A fresh interpreter: x is gone, new cells run.
    const gone = await execute(kernel, 'x');
    check(gone.reply.status === 'error', `x survived the restart: ${JSON.stringify(gone.results)}`);
    const r = await execute(kernel, 'z := 7\nz * 6');
    check(r.reply.status === 'ok' && plain(r.results[0]) === '42', `after the restart: ${JSON.stringify(r.reply)} ${JSON.stringify(r.results)}`);
    const model = await KernelAPI.getKernelModel(kernel.id, v1Settings);
    check(model && model.id === kernel.id, 'the kernel has a new id after the restart');
    return { execution_count: r.reply.execution_count };
  });

  await step('shutdown', async () => {
    const session = need(state.session, 'a session');
    const id = session.kernel.id;
    if (state.jsonConn) state.jsonConn.dispose();
    await session.shutdown();
    const model = await KernelAPI.getKernelModel(id, v1Settings);
    check(model === undefined, `the kernel is still there: ${JSON.stringify(model)}`);
    const running = await SessionAPI.listRunning(v1Settings);
    check(!running.some(s => s.id === session.id), 'the session is still listed');
    const kernels = await KernelAPI.listRunning(v1Settings);
    check(!kernels.some(k => k.id === id), 'the kernel is still listed');
    return { kernels_left: kernels.length };
  });

  sessions.dispose();
  kernelManager.dispose();
  jsonKernels.dispose();
  specs.dispose();
  contents.dispose();
}

function sleep(ms) {
  return new Promise(resolve => setTimeout(resolve, ms));
}

main().then(
  () => process.exit(failures ? 1 : 0),
  err => {
    process.stderr.write(`acceptance.js: ${err.stack || err}\n`);
    process.exit(2);
  }
);
