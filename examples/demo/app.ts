// The demo app: one page showing a session from every side (see page.ts), and
// the few routes its buttons use. A second, comparison session lives under
// /compare/ (a cookie store beside a server store, a MemoryStore beside a
// cookie store), so "add 10 items at once" shows both behaviours side by side.
import { randomBytes } from 'node:crypto';
import Koa, { type Context, type Middleware, type Next } from 'koa';
import { MemoryStore, SessionStoreError, SessionUsageError, session, type SessionStore, type UserSession } from '../../src/index.js';
import { displayHandle, showSetCookie, type CookieKind } from './cookies.js';
import { EXPIRY_SLOT, SET_COOKIE_SLOT, renderCookies, renderError, renderPage } from './page.js';
import { canIndex, type StoreKind } from './stores.js';

declare module '../../src/index.js' {
  interface SessionData {
    views: number;
    userId: string;
  }
}

export interface DemoAppOptions {
  readonly kind: StoreKind;
  readonly label: string;
  readonly store: 'cookie' | SessionStore;
  readonly encrypt: boolean;
  /** app.keys, newest first: they sign cookies (and derive the sealing keys of `sealed`). */
  readonly keys: readonly string[];
  /** Part of the cookie name, so demos on two ports keep apart. */
  readonly port: number;
  /** Session lifetime in ms; null for a cookie that ends with the browser session. @default one day */
  readonly maxAge?: number | null | undefined;
}

export interface DemoApp {
  readonly app: Koa;
  readonly cookieName: string;
  /** Closes what the app opened itself (the comparison MemoryStore); the main store is the caller's. */
  close(): void;
}

const ITEM = /^item\d+$/;
const HANDLE = /^[A-Za-z0-9_-]{1,32}$/;
const BIG_VALUE_BYTES = 6000;

function itemKeys(data: Record<string, unknown>): string[] {
  return Object.keys(data).filter((key) => ITEM.test(key));
}

/** A urlencoded form body of at most 2 KB; the demo needs no body parser dependency. */
async function formBody(ctx: Context): Promise<URLSearchParams> {
  let text = '';
  for await (const chunk of ctx.req) {
    text += String(chunk);
    if (text.length > 2048) ctx.throw(413, 'form too large');
  }
  return new URLSearchParams(text);
}

export function createDemoApp(options: DemoAppOptions): DemoApp {
  const app = new Koa();
  app.keys = [...options.keys];
  const maxAge = options.maxAge === undefined ? 24 * 60 * 60 * 1000 : options.maxAge;
  const cookie = maxAge === null ? {} : { maxAge };
  const cookieName = `kss-demo-${options.port}`;
  const serverSide = options.store !== 'cookie';
  const indexed = canIndex(options.store);
  const cookieKind: CookieKind = serverSide ? 'server' : options.encrypt ? 'sealed' : 'signed';

  const main = session({
    name: cookieName,
    store: options.store,
    encrypt: options.encrypt,
    cookie,
    rolling: true,
    ...(indexed ? { indexBy: 'userId' } : {}),
  });
  // The other kind of store, for the side-by-side parallel writes.
  const compareStore = serverSide ? undefined : new MemoryStore();
  const compare = session({ name: `${cookieName}-compare`, store: compareStore ?? 'cookie', cookie: { path: '/compare' } });
  const compareLabel = serverSide ? 'signed cookie store' : 'MemoryStore';
  const pageHeader = { storeKind: options.kind, cookieName };

  // Outermost: a SessionUsageError (the size guard) or SessionStoreError becomes a page saying what happened.
  app.use(async function showErrors(ctx, next) {
    try {
      await next();
    } catch (error) {
      if (!(error instanceof SessionUsageError) && !(error instanceof SessionStoreError)) throw error;
      ctx.app.emit('error', error, ctx);
      ctx.status = error.status;
      ctx.type = 'html';
      ctx.body = renderError(pageHeader, error.status, error.message);
    }
  });

  // Fills the page's Set-Cookie panel once the session middleware has written this response's cookies.
  app.use(async function showSetCookies(ctx, next) {
    await next();
    if (typeof ctx.body !== 'string' || !ctx.body.includes(SET_COOKIE_SLOT)) return;
    const header = ctx.response.get('Set-Cookie') as unknown;
    const lines = Array.isArray(header) ? (header as string[]) : typeof header === 'string' && header !== '' ? [header] : [];
    const sid = (ctx.state as { sid?: string }).sid;
    const shown = lines.filter((line) => line.startsWith(`${cookieName}=`) || line.startsWith(`${cookieName}.sig=`)).map((line) => showSetCookie(line, cookieKind, sid));
    const expires = shown.find((entry) => entry.name === cookieName)?.expires;
    const expiry = maxAge === null ? 'when the browser closes (no maxAge: a browser-session cookie)' : expires === undefined ? 'unchanged' : `${expires} <span class="muted small">(rolling: each response moves it a day on)</span>`;
    ctx.body = ctx.body.replace(SET_COOKIE_SLOT, renderCookies(shown)).replace(EXPIRY_SLOT, expiry);
  });

  app.use(async function dispatch(ctx: Context, next: Next) {
    const isCompare = ctx.path.startsWith('/compare/');
    return (isCompare ? compare : main)(ctx, next);
  });

  const routes: Record<string, Middleware> = {
    'GET /': async (ctx) => {
      const views = (ctx.session.views ?? 0) + 1;
      ctx.session.views = views;
      (ctx.state as { sid?: string }).sid = ctx.sessionId;
      const user = ctx.session.userId;
      // The panel appears only when the store keeps a user index (indexBy needs listIndexed and co.).
      let devices: readonly UserSession[] | string | undefined;
      if (indexed) devices = user === undefined ? 'Log in (in several browsers, or a private window) to see each of your sessions here.' : await ctx.listSessions();
      const from = ctx.query.from;
      const revoked = ctx.query.revoked;
      const shownData = JSON.stringify(ctx.session, (key, value: unknown) => (typeof value === 'string' && value.length > 120 ? `${value.slice(0, 40)}… (${value.length} characters)` : value), 2);
      ctx.type = 'html';
      ctx.body = renderPage({
        storeKind: options.kind,
        storeLabel: options.label,
        cookieName,
        compareLabel,
        handle: displayHandle(ctx.sessionId),
        views,
        user,
        loginFrom: typeof from === 'string' && HANDLE.test(from) ? from : undefined,
        notice:
          typeof revoked === 'string' && /^\d+$/.test(revoked)
            ? `Logged out ${revoked} other device${revoked === '1' ? '' : 's'}.`
            : ctx.query.big === 'kept'
              ? `Stored ${BIG_VALUE_BYTES} bytes in the session: fine on a server store, the cookie still carries only the id.`
              : undefined,
        dataJson: shownData,
        devices,
        serverSide,
      });
    },
    'GET /data': (ctx) => {
      ctx.body = ctx.session;
    },
    'POST /login': async (ctx) => {
      const name = ((await formBody(ctx)).get('name') ?? '').trim().slice(0, 40) || 'guest';
      const before = displayHandle(ctx.sessionId);
      await ctx.regenerateSession(); // a new id on every privilege change (session fixation)
      ctx.session.userId = name;
      ctx.redirect(`/?from=${before}`);
    },
    'POST /logout': (ctx) => {
      // Only a logged-in session ends here: a request without one (a cross-site form, whose cookie SameSite=Lax
      // kept back) would otherwise answer with a removal cookie that logs the user out all the same.
      if (ctx.session.userId !== undefined) ctx.session = null;
      ctx.redirect('/');
    },
    'POST /devices/revoke': async (ctx) => {
      const handle = (await formBody(ctx)).get('handle') ?? '';
      if (indexed && ctx.session.userId !== undefined) await ctx.revokeSession(handle);
      ctx.redirect('/');
    },
    'POST /devices/revoke-others': async (ctx) => {
      const ended = indexed && ctx.session.userId !== undefined ? await ctx.revokeOtherSessions() : 0;
      ctx.redirect(`/?revoked=${ended}`);
    },
    'POST /too-big': (ctx) => {
      ctx.session.big = randomBytes((BIG_VALUE_BYTES * 3) / 4).toString('base64');
      ctx.redirect('/?big=kept');
    },
  };

  // The parallel-writes routes, the same on both sessions.
  const itemRoutes: Middleware = (ctx) => {
    const path = ctx.path.replace(/^\/compare\//, '/');
    const data = ctx.session as Record<string, unknown>;
    if (ctx.method === 'POST' && path === '/items/reset') {
      for (const key of itemKeys(data)) delete data[key];
      data.itemsReset = Date.now(); // makes sure the session exists before the parallel writes
      ctx.body = { ok: true };
    } else if (ctx.method === 'POST' && /^\/items\/\d{1,2}$/.test(path)) {
      const n = Number(path.slice('/items/'.length));
      data[`item${n}`] = `from fetch ${n}`;
      ctx.body = { ok: true };
    } else if (ctx.method === 'GET' && path === '/items') {
      ctx.body = { kept: itemKeys(data).length };
    } else {
      ctx.status = 404;
    }
  };

  app.use(async (ctx, next) => {
    if (ctx.path.startsWith('/compare/') || ctx.path.startsWith('/items')) return itemRoutes(ctx, next);
    const route = routes[`${ctx.method} ${ctx.path}`];
    if (route === undefined) {
      ctx.status = 404;
      return undefined;
    }
    return route(ctx, next);
  });

  return { app, cookieName, close: () => compareStore?.close() };
}
