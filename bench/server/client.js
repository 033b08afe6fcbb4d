// The client side of bench/server: @jupyterlab/services, as JupyterLab
// uses it, driven by commands from bench/server (one JSON object a line on
// stdin; one JSON answer a line on stdout):
//
//   {"cmd":"open","path":P}              session POST to first kernel_info_reply,
//                                        then the session is shut down (untimed)
//   {"cmd":"roundtrip","cells":N}        N trivial cells on this server's bench
//                                        session, each execute_request to its
//                                        execute_reply and idle status
//   {"cmd":"apps","n":N,"prefix":P}      N sessions opened and left running idle,
//                                        each with its websocket connected
//   {"cmd":"closeapps"}                  shut those sessions down
//   {"cmd":"closebench"}                 shut the round-trip session down
//
// Every answer is {"ok":true,...} or {"ok":false,"error":...}. One process
// talks to one server: JUPYTER_URL, JUPYTER_TOKEN, KERNEL_NAME, CELL_CODE,
// CELL_RESULT (the execute_result text/plain each cell must give).
// NODE_PATH names userapps/httpapi/testdata/node/node_modules.
'use strict';

const readline = require('readline');
const WebSocket = require('ws');
const { ServerConnection, KernelManager, SessionManager } = require('@jupyterlab/services');

const baseUrl = process.env.JUPYTER_URL;
const kernelName = process.env.KERNEL_NAME;
const code = process.env.CELL_CODE || '1 + 1';
const want = process.env.CELL_RESULT || '2';

console.debug = () => {};
console.log = console.warn = (...args) => process.stderr.write(args.join(' ') + '\n');

const serverSettings = ServerConnection.makeSettings({
  baseUrl,
  wsUrl: 'ws' + baseUrl.slice('http'.length),
  token: process.env.JUPYTER_TOKEN,
  appendToken: true,
  WebSocket,
  fetch: globalThis.fetch,
  Request: globalThis.Request,
  Headers: globalThis.Headers
});
const kernelManager = new KernelManager({ serverSettings });
const sessions = new SessionManager({ serverSettings, kernelManager });

let benchSession = null;
let apps = [];

async function openSession(path) {
  const t0 = process.hrtime.bigint();
  const session = await sessions.startNew({ path, name: path, type: 'notebook', kernel: { name: kernelName } });
  const info = await session.kernel.info;
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (info.status !== 'ok') throw new Error(`kernel_info_reply status ${info.status}`);
  return { session, ms };
}

async function cell(kernel) {
  const t0 = process.hrtime.bigint();
  const future = kernel.requestExecute({ code, silent: false, store_history: true });
  let result = null;
  future.onIOPub = msg => {
    if (msg.header.msg_type === 'execute_result') result = msg.content.data['text/plain'];
  };
  const reply = await future.done; // execute_reply and the idle status
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (reply.content.status !== 'ok') throw new Error(`cell replied ${reply.content.status}: ${reply.content.evalue}`);
  if (result !== want) throw new Error(`cell gave ${JSON.stringify(result)}, want ${JSON.stringify(want)}`);
  return ms;
}

const commands = {
  async open({ path }) {
    const { session, ms } = await openSession(path);
    await session.shutdown();
    return { ms };
  },
  async roundtrip({ cells }) {
    if (!benchSession) benchSession = (await openSession('bench-roundtrip.ipynb')).session;
    const ms = [];
    for (let i = 0; i < cells; i++) ms.push(await cell(benchSession.kernel));
    return { ms };
  },
  async apps({ n, prefix }) {
    // Eight at a time, as a class of attendees opening their labs. A
    // kernel that lost the race for its ports (another process took one
    // between allocation and bind) is retried once and counted: a known
    // weakness of port allocation, reported rather than hidden.
    const ms = [];
    const portRaces = [];
    let next = 0;
    const worker = async () => {
      while (next < n) {
        const i = next++;
        const path = `${prefix}${i}.ipynb`;
        let opened;
        try {
          opened = await openSession(path);
        } catch (err) {
          if (!/address already in use/.test(String(err))) throw err;
          portRaces.push(String(err.message).split('\n')[0]);
          opened = await openSession(path);
        }
        apps.push(opened.session);
        ms.push(opened.ms);
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));
    return { ms, running: apps.length, portRaces };
  },
  async closebench() {
    if (benchSession) await benchSession.shutdown();
    benchSession = null;
    return {};
  },
  async closeapps() {
    const n = apps.length;
    await Promise.all(apps.map(s => s.shutdown()));
    apps = [];
    return { closed: n };
  }
};

const rl = readline.createInterface({ input: process.stdin });
let chain = Promise.resolve();
rl.on('line', line => {
  chain = chain.then(async () => {
    let answer;
    try {
      const req = JSON.parse(line);
      const fn = commands[req.cmd];
      if (!fn) throw new Error(`unknown command ${req.cmd}`);
      answer = { ok: true, ...(await fn(req)) };
    } catch (err) {
      answer = { ok: false, error: String((err && err.stack) || err) };
    }
    process.stdout.write(JSON.stringify(answer) + '\n');
  });
});
rl.on('close', async () => {
  await chain;
  if (benchSession) await benchSession.shutdown().catch(() => {});
  sessions.dispose();
  kernelManager.dispose();
  process.exit(0);
});
