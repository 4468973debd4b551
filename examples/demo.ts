// `npm run demo`: every side of a session on one page, on http://127.0.0.1:3000.
//
//   SESSION_STORE=cookie|sealed|memory|sqlite|redis|postgres|mysql   (default cookie: no server needed)
//   PORT=3000   SESSION_KEYS=newest,older   SESSION_MAX_AGE=ms (0: a browser-session cookie)
//   REDIS_URL, DATABASE_URL, MYSQL_URL (loopback defaults), SQLITE_PATH (default examples/.data/)
import type { Server } from 'node:http';
import { createDemoApp } from './demo/app.js';
import { openStore, settingsFromEnv, storeKind } from './demo/stores.js';

// A real app reads its keys from the environment or a secrets manager, never from the source.
const DEMO_KEY = 'demo key, public, replace me in production: 4f1c9a';

const port = Number(process.env.PORT ?? 3000);
const kind = storeKind(process.env.SESSION_STORE ?? process.env.STORE);
const keys = process.env.SESSION_KEYS?.split(',').filter(Boolean) ?? [DEMO_KEY];
const maxAgeSetting = process.env.SESSION_MAX_AGE === undefined ? undefined : Number(process.env.SESSION_MAX_AGE);

const opened = await openStore(kind, settingsFromEnv(process.env)).catch((error: unknown) => {
  console.error(`demo: could not open the ${kind} store: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
const demo = createDemoApp({ ...opened, keys, port, maxAge: maxAgeSetting === 0 ? null : maxAgeSetting });
// The page shows the error; the console gets one line instead of Koa's stack trace.
demo.app.on('error', (error: Error & { status?: number }) => console.error(`demo: ${error.status ?? 500} ${error.message}`));

const server: Server = demo.app.listen(port, '127.0.0.1', () => {
  console.log(`koa-session-store demo on http://127.0.0.1:${port}`);
  console.log(`store: ${opened.label}; cookie: ${demo.cookieName}`);
  if (keys[0] === DEMO_KEY) console.log('(signed with the demo key from the source: set SESSION_KEYS in anything but a demo)');
  console.log('Ctrl-C to stop');
});

let stopping = false;
async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  console.log('\nstopping: closing the server and the store');
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  demo.close();
  await opened.close();
  console.log('stopped');
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    stop().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error('demo: stopping failed:', error);
        process.exit(1);
      },
    );
  });
}
