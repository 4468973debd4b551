// `npm run demo`: a small page counting your views, on http://127.0.0.1:3000.
// The session lives in a signed cookie by default; STORE=memory keeps it server-side.
// Log in and out to see regenerateSession() and ctx.session = null at work.
import Koa from 'koa';
import { MemoryStore, session } from '../src/index.js';

declare module '../src/index.js' {
  interface SessionData {
    views: number;
    user: string;
  }
}

const port = Number(process.env.PORT ?? 3000);
const app = new Koa();
// A real app reads its keys from the environment or a secrets manager, never from the source.
app.keys = [process.env.SESSION_KEY ?? 'demo key: replace me in production'];

app.use(
  session({
    store: process.env.STORE === 'memory' ? new MemoryStore() : 'cookie',
    cookie: { maxAge: 24 * 60 * 60 * 1000 },
    rolling: true,
  }),
);

app.use(async (ctx) => {
  if (ctx.path === '/login' && ctx.method === 'POST') {
    await ctx.regenerateSession(); // a new id on every privilege change (session fixation)
    ctx.session.user = 'demo user';
    ctx.redirect('/');
    return;
  }
  if (ctx.path === '/logout' && ctx.method === 'POST') {
    ctx.session = null;
    ctx.redirect('/');
    return;
  }
  if (ctx.path !== '/') {
    ctx.status = 404;
    return;
  }
  const views = (ctx.session.views ?? 0) + 1;
  ctx.session.views = views;
  const user = ctx.session.user;
  ctx.type = 'html';
  ctx.body = `<!doctype html><title>koa-session-store demo</title>
<h1>${views} view${views === 1 ? '' : 's'}</h1>
<p>${user ? `Logged in as ${user}.` : 'Not logged in.'}</p>
<form method="post" action="${user ? '/logout' : '/login'}"><button>${user ? 'Log out' : 'Log in'}</button></form>`;
});

app.listen(port, '127.0.0.1', () => {
  console.log(`koa-session-store demo on http://127.0.0.1:${port} (store: ${process.env.STORE === 'memory' ? 'memory' : 'cookie'})`);
});
