// CommonJS users: `require` returns the callable factory with its names on it.
import session = require('koa-session-store');

const middleware: session.SessionMiddleware = session({ name: 'sid' });
const same: typeof session.session = session.session;
const store: session.SessionStore = new session.MemoryStore();
void middleware;
void same;
void store;
// @ts-expect-error options are checked here too
session({ name: 42 });
