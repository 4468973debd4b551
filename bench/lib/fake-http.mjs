// Drives a Koa app's request handler in-process with real node:http request and
// response objects on a socket that discards what is written: the whole Koa and
// middleware path runs, minus the kernel and the HTTP parser.
import http from 'node:http';
import net from 'node:net';
import { cookieHeader } from './cookies.mjs';

// An unconnected net.Socket whose write() completes at once. (A stream.Duplex
// stand-in would be simpler, but node:http keeps such sockets reachable after
// the response, which turns a memory check into a leak of the harness.)
function nullSocket(capture) {
  const socket = new net.Socket();
  socket.written = capture ? '' : null;
  socket.write = function write(chunk, encoding, callback) {
    if (this.written !== null && chunk) this.written += typeof chunk === 'string' ? chunk : chunk.toString();
    const done = typeof encoding === 'function' ? encoding : callback;
    if (done) process.nextTick(done);
    return true;
  };
  return socket;
}

function makeRequest(cookie, capture) {
  const socket = nullSocket(capture);
  const req = new http.IncomingMessage(socket);
  req.method = 'GET';
  req.url = '/';
  req.httpVersionMajor = 1;
  req.httpVersionMinor = 1;
  req.httpVersion = '1.1';
  req.headers = cookie ? { host: 'bench.local', cookie } : { host: 'bench.local' };
  const res = new http.ServerResponse(req);
  res.assignSocket(socket);
  return { req, res, socket };
}

const turn = () => new Promise((resolve) => setImmediate(resolve));

/**
 * Returns `{ send(cookie), hit(cookie), loop(cookies, n), rewind() }` for `app`:
 * - `send` resolves to { status, body, cookie } (for setting up a session);
 * - `hit` is one request, nothing inspected, resolving when Koa has responded;
 * - `loop` is the measured path (see below);
 * - `rewind` makes the next `loop` start at the first cookie: after a fresh
 *   pool of sessions, for a workload whose requests use them up (login).
 */
export function fakeClient(app) {
  const handle = app.callback();
  let cursor = 0;
  return {
    async send(cookie) {
      const { req, res, socket } = makeRequest(cookie, true);
      await handle(req, res);
      await new Promise((resolve) => setImmediate(resolve));
      const raw = socket.written ?? '';
      const body = raw.slice(raw.indexOf('\r\n\r\n') + 4);
      const setCookie = res.getHeader('set-cookie');
      return { status: res.statusCode, body, cookie: cookieHeader(Array.isArray(setCookie) ? setCookie : setCookie ? [String(setCookie)] : []) };
    },
    rewind() {
      cursor = 0;
    },
    hit(cookie) {
      const { req, res } = makeRequest(cookie, false);
      return handle(req, res);
    },
    /**
     * `n` requests one after another, each carrying the next Cookie header of
     * `cookies` (cycling, continuing where the previous loop stopped; [] for
     * none). Every 64 requests (and at the end) the event loop gets a turn: Koa
     * finishes each response in a setImmediate (on-finished), and a loop of bare
     * awaits would pile those up unmeasured and keep every request's objects
     * alive until it stops. Resolves to how many answers were not 2xx.
     */
    async loop(cookies, n) {
      const count = cookies.length;
      let failed = 0;
      for (let i = 1; i <= n; i += 1) {
        let cookie = '';
        if (count > 0) {
          cookie = cookies[cursor % count];
          cursor = (cursor + 1) % count;
        }
        const { req, res } = makeRequest(cookie, false);
        await handle(req, res);
        if (res.statusCode >= 300) failed += 1;
        if ((i & 63) === 0) await turn();
      }
      await turn();
      return failed;
    },
  };
}
