// One server of the replica-wait figure, started by bench/replica-wait.mjs as
// its own process. argv[2] is JSON: { topology: 'single' | 'cluster', nodes,
// wait: boolean }. A Koa app with this package's session middleware on a
// RedisStore (ioredis) whose every request adds one to a counter in its
// session, so each request after the first is one session write.
//   -> { type: 'ready', port }   once listening
//   -> { type: 'failed', reason }
//   <- { type: 'stop' }          closes everything and exits
import http from 'node:http';
import Koa from 'koa';
import { Cluster, Redis } from 'ioredis';
import { loadEntry } from './package.mjs';

async function main() {
  const { topology, nodes, wait } = JSON.parse(process.argv[2]);
  const [{ session }, { RedisStore }] = await Promise.all([loadEntry('index'), loadEntry('redis')]);
  const client = topology === 'cluster' ? new Cluster(nodes) : new Redis(nodes[0].port, nodes[0].host);
  await client.ping();
  const store = new RedisStore({ client, prefix: `ksbench:wait:${process.pid}:`, ...(wait ? { waitForReplicas: { replicas: 1 } } : {}) });
  const app = new Koa();
  app.keys = ['bench key: the first of two, long enough'];
  app.silent = true;
  app.use(session({ store }));
  app.use((ctx) => {
    ctx.session.n = (ctx.session.n ?? 0) + 1;
    ctx.body = 'ok';
  });
  const server = http.createServer(app.callback());
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  process.on('message', (message) => {
    if (message.type !== 'stop') return;
    server.close();
    server.closeAllConnections();
    client.disconnect();
    process.exit(0);
  });
  process.send({ type: 'ready', port: server.address().port });
}

process.on('disconnect', () => process.exit(0));
main().catch((error) => {
  process.send?.({ type: 'failed', reason: String(error?.message ?? error).slice(0, 500) }, () => process.exit(1));
});
