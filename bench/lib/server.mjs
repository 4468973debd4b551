// One contender as an HTTP server on 127.0.0.1 (a free port), started by the
// harness as its own process (pinned to a core with taskset). argv[2] is JSON:
// { contender, workload, env }. It talks to the harness over IPC:
//   -> { type: 'ready', port, cookie }   once listening (cookie: a valid session's Cookie header, or '')
//   -> { type: 'failed', reason }        when it cannot start
//   <- { type: 'cpu' }  -> { type: 'cpu', micros, errors, firstError }
//   <- { type: 'stop' } closes everything and exits
import http from 'node:http';
import { buildApp } from './app.mjs';
import { BY_NAME } from './contenders.mjs';
import { cookieHeader } from './cookies.mjs';

/** One request to ourselves, the way the load generator will make them. */
function selfRequest(port, cookie) {
  return new Promise((resolve, reject) => {
    const request = http.get({ host: '127.0.0.1', port, path: '/', headers: cookie ? { cookie } : {} }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode, body, cookie: cookieHeader(response.headers['set-cookie']) }));
    });
    request.on('error', reject);
  });
}

async function main() {
  const { contender: name, workload, env } = JSON.parse(process.argv[2]);
  const built = await buildApp({ contender: BY_NAME.get(name), workload, env });
  const server = http.createServer(built.app.callback());
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  const cookie = await built.prepare((c) => selfRequest(port, c));

  process.on('message', async (message) => {
    if (message.type === 'cpu') {
      const usage = process.cpuUsage();
      process.send({ type: 'cpu', micros: usage.user + usage.system, errors: built.stats.errors, firstError: built.stats.firstError });
    } else if (message.type === 'stop') {
      server.close();
      server.closeAllConnections();
      try {
        await built.close?.();
      } finally {
        process.exit(0);
      }
    }
  });
  process.send({ type: 'ready', port, cookie });
}

process.on('disconnect', () => process.exit(0));
main().catch((error) => {
  process.send?.({ type: 'failed', reason: String(error?.message ?? error).slice(0, 500) }, () => process.exit(1));
});
