// A minimal HTTP/1.1 client over real loopback sockets, for a bench server to
// make its sessions through its own listening port before it is measured.
// Making them in process (fake-http.mjs) ran 10,000 requests on stand-in
// sockets through Koa's and Node's HTTP code, whose inline caches then held
// two kinds of socket and response for the rest of the server's life: a
// contender that made its sessions that way measured 3–5 % slower than bare
// Koa and the floors, which make their cookies without a request. Over a real
// socket the server's code only ever sees what it sees under load.
//
// It speaks just enough HTTP for the bench's own server: GET /, an optional
// Cookie header, keep-alive, and answers with a Content-Length.
import net from 'node:net';
import { cookieHeader } from './cookies.mjs';

const HEAD_END = '\r\n\r\n';

/** One keep-alive connection; `request(cookie)` resolves to { status, body, setCookie }. */
function connection(port) {
  const socket = net.connect({ port, host: '127.0.0.1' });
  socket.setEncoding('latin1');
  socket.setNoDelay(true);
  let buffered = '';
  let pending = null;
  // Closed by either side (the server drops a connection idle for 5 s): never used again.
  let closed = false;
  const fail = (error) => {
    const waiting = pending;
    pending = null;
    waiting?.reject(error);
  };
  socket.on('error', fail);
  socket.on('close', () => {
    closed = true;
    fail(new Error('the bench server closed a connection in the middle of an answer'));
  });
  socket.on('data', (chunk) => {
    buffered += chunk;
    const end = buffered.indexOf(HEAD_END);
    if (end < 0 || pending === null) return;
    const lines = buffered.slice(0, end).split('\r\n');
    const status = Number(lines[0].split(' ')[1]);
    let length = 0;
    const setCookie = [];
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(':');
      const name = line.slice(0, colon).toLowerCase();
      const value = line.slice(colon + 1).trim();
      if (name === 'content-length') length = Number(value);
      else if (name === 'set-cookie') setCookie.push(value);
    }
    if (buffered.length < end + HEAD_END.length + length) return;
    const body = buffered.slice(end + HEAD_END.length, end + HEAD_END.length + length);
    buffered = buffered.slice(end + HEAD_END.length + length);
    const waiting = pending;
    pending = null;
    waiting.resolve({ status, body, setCookie });
  });
  return {
    socket,
    get closed() {
      return closed;
    },
    request(cookie) {
      return new Promise((resolve, reject) => {
        pending = { resolve, reject };
        socket.write(`GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n${cookie ? `Cookie: ${cookie}\r\n` : ''}\r\n`);
      });
    },
  };
}

/**
 * `{ send(cookie), close() }` for the server on `port`: `send` resolves to
 * { status, body, cookie } as fake-http's does, over a pool of keep-alive
 * connections (one per request in flight); `close` ends them all.
 */
export function socketClient(port) {
  const idle = [];
  const all = new Set();
  return {
    async send(cookie) {
      let conn = idle.pop();
      while (conn?.closed) conn = idle.pop();
      conn ??= connection(port);
      all.add(conn);
      try {
        const answer = await conn.request(cookie);
        idle.push(conn);
        return { status: answer.status, body: answer.body, cookie: cookieHeader(answer.setCookie) };
      } catch (error) {
        all.delete(conn);
        conn.socket.destroy();
        throw error;
      }
    },
    close() {
      for (const conn of all) conn.socket.destroy();
      all.clear();
      idle.length = 0;
    },
  };
}
