// A client of one kernel over the Jupyter websocket
// (/api/kernels/{id}/channels, the default JSON framing): execute
// requests, with each reply and iopub message routed to the request it
// answers; the kernel's status; reconnection with backoff after a drop.
// It reconnects with the same session id, so the server replays what the
// kernel sent while the websocket was down (userapps/httpapi's
// ReconnectBuffers) and the waiting requests get their output and replies.

function uuid() {
  return crypto.randomUUID ? crypto.randomUUID() : Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * Kernel connects to a kernel. onStatus(state) hears 'connecting', 'idle',
 * 'busy', 'starting', 'restarting', 'dead' and 'disconnected';
 * onReconnect(drops) hears each reconnection after a drop.
 */
export class Kernel {
  constructor(id, {onStatus, onReconnect} = {}) {
    this.id = id;
    this.session = uuid();
    this.onStatus = onStatus || (() => {});
    this.onReconnect = onReconnect || (() => {});
    this.drops = 0; // connections lost (not closed by close())
    this.dropped = false; // lost, not yet reconnected
    this.pending = new Map(); // msg_id → handlers
    this.queue = []; // messages sent while disconnected
    this.closed = false;
    this.retry = 0;
    this.connect();
  }

  connect() {
    if (this.closed) return;
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const ws = new WebSocket(`${proto}//${location.host}/api/kernels/${encodeURIComponent(this.id)}/channels?session_id=${this.session}`);
    this.ws = ws;
    this.onStatus('connecting');
    ws.onopen = () => {
      this.retry = 0;
      ws.opened = true;
      if (this.dropped) { this.dropped = false; this.onReconnect(this.drops); }
      for (const m of this.queue.splice(0)) ws.send(JSON.stringify(m));
      // kernel_info_reply tells us the kernel answers; its status follows.
      this.request('kernel_info_request', {}, {});
    };
    ws.onmessage = (e) => {
      if (typeof e.data !== 'string') return; // binary buffers: not used by these outputs
      let msg;
      try { msg = JSON.parse(e.data); } catch { return; }
      this.dispatch(msg);
    };
    ws.onclose = () => {
      if (this.ws !== ws) return;
      this.onStatus('disconnected');
      if (this.closed) return;
      if (ws.opened && !this.dropped) { this.dropped = true; this.drops++; }
      const delay = Math.min(5000, 250 * 2 ** this.retry++);
      setTimeout(() => this.connect(), delay);
    };
  }

  dispatch(msg) {
    const type = msg.header && msg.header.msg_type;
    if (type === 'status' && msg.channel === 'iopub') {
      const state = msg.content.execution_state;
      // The kernel's own status (any parent), restarts and deaths from the server.
      this.onStatus(state);
    }
    const parent = msg.parent_header && msg.parent_header.msg_id;
    const handlers = parent && this.pending.get(parent);
    if (!handlers) return;
    if (msg.channel === 'iopub') {
      if (handlers.iopub) handlers.iopub(msg);
      if (type === 'status' && msg.content.execution_state === 'idle') handlers.idle = true;
    } else if (msg.channel === 'shell' || msg.channel === 'control') {
      handlers.reply = msg;
    }
    if (handlers.reply && (handlers.idle || !handlers.waitIdle)) {
      this.pending.delete(parent);
      handlers.resolve(handlers.reply);
    }
  }

  /**
   * request sends a shell message and resolves to its reply, after the
   * kernel's idle status for it (so every output has arrived). iopub
   * messages it causes go to handlers.iopub.
   */
  request(type, content, {iopub, channel = 'shell'} = {}) {
    const msg = {
      header: {msg_id: uuid(), username: 'flowlab-ui', session: this.session, msg_type: type, version: '5.3', date: new Date().toISOString()},
      parent_header: {}, metadata: {}, content, buffers: [], channel,
    };
    return new Promise((resolve) => {
      this.pending.set(msg.header.msg_id, {iopub, resolve, waitIdle: channel === 'shell'});
      if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(msg));
      else this.queue.push(msg);
    });
  }

  /** execute runs code; onOutput hears its iopub messages. Resolves to the execute_reply. */
  execute(code, onOutput) {
    return this.request('execute_request', {code, silent: false, store_history: true, user_expressions: {}, allow_stdin: false, stop_on_error: true}, {iopub: onOutput});
  }

  /** forget drops the waiting requests (after an interrupt or restart their replies may never come). */
  forget() {
    const reply = {content: {status: 'aborted'}};
    for (const [, hd] of this.pending) hd.resolve(reply);
    this.pending.clear();
  }

  close() {
    this.closed = true;
    this.forget();
    if (this.ws) this.ws.close();
  }
}
