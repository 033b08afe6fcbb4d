// The API client: every call the UI makes goes through api(), which sends
// the XSRF header the server wants on unsafe requests authenticated by
// cookie, and turns error answers into APIError with the server's message.

/** APIError is a failed call: the HTTP status and the server's message. */
export class APIError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

const listeners = new Set();

/** onUnauthenticated registers fn, called when a call answers 401. */
export function onUnauthenticated(fn) {
  listeners.add(fn);
}

/** xsrfToken is the _xsrf cookie's value, which unsafe requests repeat. */
export function xsrfToken() {
  const m = document.cookie.match(/(?:^|;\s*)_xsrf=([^;]*)/);
  return m ? decodeURIComponent(m[1]) : '';
}

/**
 * api calls the server: api('POST', '/api/apps', {name}) resolves to the
 * decoded JSON answer (null for 204) or rejects with an APIError. A string
 * or Blob body is sent as is, anything else as JSON.
 */
export async function api(method, path, body, {signal} = {}) {
  const headers = {Accept: 'application/json'};
  if (method !== 'GET' && method !== 'HEAD') headers['X-XSRFToken'] = xsrfToken();
  let payload;
  if (body !== undefined) {
    payload = typeof body === 'string' || body instanceof Blob ? body : JSON.stringify(body);
    headers['Content-Type'] = 'application/json';
  }
  let res;
  try {
    res = await fetch(path, {method, headers, body: payload, credentials: 'same-origin', signal});
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new APIError(0, `cannot reach the flowlab server (${e.message}): is it running?`);
  }
  if (res.status === 204) return null;
  const text = await res.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { /* not JSON */ }
  if (!res.ok) {
    const msg = (data && (data.message || data.error)) || text.trim() || `${res.status} ${res.statusText}`;
    if (res.status === 401) for (const fn of listeners) fn(msg);
    throw new APIError(res.status, msg);
  }
  return data === null && text ? text : data;
}

/** path builds an API path from segments, escaping each. */
export function path(...segments) {
  return '/' + segments.map((s) => String(s).split('/').map(encodeURIComponent).join('/')).join('/');
}
