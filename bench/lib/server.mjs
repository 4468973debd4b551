// One contender as an HTTP server on 127.0.0.1 (a free port), started by the
// harness as its own process (pinned to a core with taskset). argv[2] is JSON:
// { contender, workload, env, sessions }. Once it listens, and before it says
// it is ready, it creates the sessions the workload needs through its own port
// (real loopback sockets: see socket-client.mjs for why not in process) and
// writes their Cookie headers, one a line, to env.cookieFile. It talks to the
// harness over IPC:
//   -> { type: 'ready', port, cookieFile, cookies }   once listening (cookieFile null when no cookie is sent)
//   -> { type: 'failed', reason }        when it cannot start
//   <- { type: 'cpu' }  -> { type: 'cpu', micros, errors, firstError }
//   <- { type: 'refill', sessions } -> { type: 'refilled', cookies }   a fresh pool of
//        `sessions` sessions in the same cookie file, for a workload that consumes them
//        (login); cookies null from bare Koa and the floors, whose cookies are not used up
//   <- { type: 'stop' } closes everything and exits
import { writeFileSync } from 'node:fs';
import http from 'node:http';
import { buildApp } from './app.mjs';
import { BY_NAME } from './contenders.mjs';
import { socketClient } from './socket-client.mjs';

async function main() {
  const { contender: name, workload, env, sessions } = JSON.parse(process.argv[2]);
  const built = await buildApp({ contender: BY_NAME.get(name), workload, env: { ...env, sessions } });
  const server = http.createServer(built.app.callback());
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  /** The sessions made through the server's own port, on connections closed before it is measured. */
  const prepared = async (count) => {
    const client = socketClient(port);
    try {
      return await built.prepare(client.send, count);
    } finally {
      client.close();
    }
  };
  const cookies = await prepared(sessions);
  let cookieFile = null;
  if (cookies.length > 0) {
    cookieFile = env.cookieFile;
    writeFileSync(cookieFile, `${cookies.join('\n')}\n`);
  }

  process.on('message', async (message) => {
    if (message.type === 'cpu') {
      const usage = process.cpuUsage();
      process.send({ type: 'cpu', micros: usage.user + usage.system, errors: built.stats.errors, firstError: built.stats.firstError });
    } else if (message.type === 'refill') {
      // Between runs, while no load comes: the load generator reads the file when it starts.
      try {
        // Bare Koa has no session to use up: it keeps its cookies (and answers null).
        if (built.bare) {
          process.send({ type: 'refilled', cookies: null });
          return;
        }
        const fresh = await prepared(message.sessions);
        writeFileSync(cookieFile, `${fresh.join('\n')}\n`);
        process.send({ type: 'refilled', cookies: fresh.length });
      } catch (error) {
        process.send({ type: 'failed', reason: `refilling the sessions: ${String(error?.message ?? error).slice(0, 400)}` });
      }
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
  process.send({ type: 'ready', port, cookieFile, cookies: cookies.length });
}

process.on('disconnect', () => process.exit(0));
main().catch((error) => {
  process.send?.({ type: 'failed', reason: String(error?.message ?? error).slice(0, 500) }, () => process.exit(1));
});
