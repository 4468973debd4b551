// CommonJS users find fromExpressStore on the factory too.
import session = require('koa-session-store');
import expressSession = require('express-session');

const store: session.SessionStore = session.fromExpressStore(new expressSession.MemoryStore());
const options: session.ExpressStoreOptions = { touch: false };
const shape: session.ExpressSessionStore = new expressSession.MemoryStore();
void store;
void options;
void shape;
