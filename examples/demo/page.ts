// The demo's one page, rendered on the server. Everything shown is escaped;
// the Set-Cookie panel is filled in after the session middleware has written
// the response's cookies (see app.ts), so it shows what the browser received.
import type { UserSession } from '../../src/index.js';

export const SET_COOKIE_SLOT = '<!--demo:set-cookie-->';
export const EXPIRY_SLOT = '<!--demo:expiry-->';

export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export interface PageModel {
  readonly storeKind: string;
  readonly storeLabel: string;
  readonly cookieName: string;
  readonly compareLabel: string;
  readonly handle: string;
  readonly views: number;
  readonly user: string | undefined;
  readonly loginFrom: string | undefined;
  readonly notice: string | undefined;
  readonly dataJson: string;
  /** The user's sessions, or why there are none to show; undefined when the store cannot list them (no panel then). */
  readonly devices: readonly UserSession[] | string | undefined;
  readonly serverSide: boolean;
}

function when(ms: number | null): string {
  return ms === null ? 'never' : `${new Date(ms).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

/** "Chrome 131 on Linux" from a User-Agent, or the start of it. */
function device(userAgent: string): string {
  const chromeLike = /(HeadlessChrome|Edg|Chrome|Firefox|curl)\/(\d+)/.exec(userAgent);
  const safari = /Version\/(\d+).*Safari\//.exec(userAgent);
  const browser = chromeLike === null ? (safari === null ? undefined : `Safari ${safari[1]}`) : `${chromeLike[1]} ${chromeLike[2]}`;
  const os = /(iPhone|iPad|Android|Windows|Mac OS X|Linux)/.exec(userAgent);
  if (browser === undefined) return userAgent.slice(0, 40) || 'unknown browser';
  return `${browser}${os === null ? '' : ` on ${os[1]}`}`;
}

function devicesPanel(devices: readonly UserSession[] | string): string {
  if (typeof devices === 'string') return `<p class="muted">${escapeHtml(devices)}</p>`;
  if (devices.length === 0) return '<p class="muted">No sessions listed yet.</p>';
  const rows = devices
    .map(
      (entry) => `<li class="device${entry.current ? ' current' : ''}">
  <div><strong>${escapeHtml(device(entry.userAgent))}</strong>${entry.current ? ' <span class="tag">this browser</span>' : ''}
  <div class="muted small">signed in ${escapeHtml(when(entry.createdAt))} · active ${escapeHtml(when(entry.lastActiveAt))}</div></div>
  <form method="post" action="/devices/revoke"><input type="hidden" name="handle" value="${escapeHtml(entry.handle)}"><button class="small-button">log out this device</button></form>
</li>`,
    )
    .join('\n');
  const others = devices.length > 1;
  return `<ul class="devices">${rows}</ul>
<form method="post" action="/devices/revoke-others"><button${others ? '' : ' disabled'}>log out other devices</button></form>`;
}

const STYLE = `
:root { --ink: #1d2433; --muted: #667085; --line: #e3e7ee; --accent: #3559e0; --ok: #137a4b; --bad: #b42318; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; color: var(--ink); background: #f4f6fa; }
header { background: #1d2433; color: #fff; padding: 18px 28px; display: flex; align-items: baseline; gap: 16px; flex-wrap: wrap; }
header h1 { margin: 0; font-size: 20px; font-weight: 650; }
header .store { background: #3559e0; padding: 2px 10px; border-radius: 999px; font-size: 13px; }
header .cookie-name { color: #b8c2d6; font-size: 13px; }
main { max-width: 1160px; margin: 0 auto; padding: 20px 24px 40px; display: grid; grid-template-columns: repeat(auto-fit, minmax(340px, 1fr)); gap: 16px; }
section { background: #fff; border: 1px solid var(--line); border-radius: 10px; padding: 16px 18px; min-width: 0; }
section.wide { grid-column: 1 / -1; }
h2 { margin: 0 0 10px; font-size: 13px; letter-spacing: .06em; text-transform: uppercase; color: var(--muted); }
.big { font-size: 40px; font-weight: 700; line-height: 1; }
.muted { color: var(--muted); }
.small { font-size: 13px; }
code, pre { font: 12.5px/1.45 ui-monospace, "DejaVu Sans Mono", Menlo, monospace; }
pre { margin: 0; background: #f6f8fb; border: 1px solid var(--line); border-radius: 6px; padding: 10px; white-space: pre-wrap; word-break: break-all; max-height: 330px; overflow: auto; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 4px 14px; margin: 0; }
dt { color: var(--muted); }
dd { margin: 0; min-width: 0; overflow-wrap: anywhere; }
button { font: inherit; font-size: 14px; padding: 6px 14px; border-radius: 6px; border: 1px solid var(--accent); background: var(--accent); color: #fff; cursor: pointer; }
button[disabled] { opacity: .45; cursor: default; }
button.secondary, .small-button { background: #fff; color: var(--accent); }
.small-button { font-size: 12.5px; padding: 3px 10px; white-space: nowrap; }
input[type=text] { font: inherit; padding: 5px 9px; border: 1px solid #c9d0dc; border-radius: 6px; width: 150px; }
form { display: inline; margin: 0; }
.row { display: flex; gap: 10px; align-items: center; flex-wrap: wrap; margin-top: 12px; }
.notice { grid-column: 1 / -1; background: #eef7f1; border: 1px solid #b7e0c8; color: var(--ok); border-radius: 8px; padding: 10px 14px; }
.cookie { border-top: 1px solid var(--line); padding-top: 8px; margin-top: 8px; }
.cookie:first-child { border-top: 0; margin-top: 0; padding-top: 0; }
.cookie .attrs { color: var(--muted); font-size: 12px; margin-top: 4px; }
.devices { list-style: none; margin: 0 0 12px; padding: 0; }
.device { display: flex; justify-content: space-between; align-items: center; gap: 10px; padding: 8px 0; border-bottom: 1px solid var(--line); }
.tag { white-space: nowrap; background: #e8edfc; color: var(--accent); font-size: 12px; border-radius: 999px; padding: 1px 8px; }
.results { display: grid; grid-template-columns: 1fr 1fr; gap: 12px; margin: 12px 0; }
.result { border: 1px solid var(--line); border-radius: 8px; padding: 10px 12px; }
.result .count { font-size: 28px; font-weight: 700; }
.result.good .count { color: var(--ok); }
.result.lossy .count { color: var(--bad); }
.error { background: #fef3f2; border: 1px solid #fecdca; color: var(--bad); border-radius: 8px; padding: 12px 14px; }
`;

export function layout(title: string, header: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title><style>${STYLE}</style></head>
<body><header>${header}</header>
<main>${body}</main></body></html>`;
}

function headerOf(model: Pick<PageModel, 'storeKind' | 'cookieName'>): string {
  return `<h1>koa-session-store demo</h1><span class="store" id="store-kind">${escapeHtml(model.storeKind)}</span><span class="cookie-name">cookie <code>${escapeHtml(model.cookieName)}</code></span>`;
}

export function renderPage(model: PageModel): string {
  const login = model.user === undefined
    ? `<form method="post" action="/login" class="row"><input type="text" name="name" placeholder="any name" maxlength="40" aria-label="name"><button id="login">log in</button></form>`
    : `<div class="row">Logged in as <strong id="user">${escapeHtml(model.user)}</strong><form method="post" action="/logout"><button id="logout" class="secondary">log out</button></form></div>`;
  const changed = model.loginFrom === undefined
    ? ''
    : `<p class="small" id="id-change">Logging in called <code>regenerateSession()</code>: the id changed from handle <code>${escapeHtml(model.loginFrom)}</code> to <code>${escapeHtml(model.handle)}</code>, so an id planted before the login is worthless.</p>`;
  const notice = model.notice === undefined ? '' : `<div class="notice" id="notice">${escapeHtml(model.notice)}</div>`;
  const lossExplained = model.serverSide
    ? 'This store receives only the keys each request changed (<code>patch</code>) and applies them atomically, so all 10 are kept. A cookie store cannot: each response carries a whole cookie and the browser keeps whichever arrived last.'
    : 'A cookie store keeps the whole session in the cookie: each response carries a whole cookie and the browser keeps whichever arrived last, so most of the 10 writes are lost. A server store receives only the keys each request changed (<code>patch</code>) and applies them atomically.';
  const tooBig = model.serverSide
    ? 'Here the data lives on the server, so the session may grow: the cookie still carries only the id.'
    : 'A browser silently drops a cookie over 4 KB, and the session with it. The middleware refuses to send one and fails the request with a clear 500 instead.';
  const body = `${notice}
<section>
  <h2>Store</h2>
  <dl>
    <dt>store</dt><dd id="store-label">${escapeHtml(model.storeLabel)}</dd>
    <dt>cookie</dt><dd><code>${escapeHtml(model.cookieName)}</code> <span class="muted small">(the port is in the name, so two demos on one machine do not collide)</span></dd>
  </dl>
</section>
<section>
  <h2>Session</h2>
  <div class="row" style="margin-top:0"><span class="big" id="views">${model.views}</span><span class="muted">view${model.views === 1 ? '' : 's'} in this session</span></div>
  <dl style="margin-top:12px">
    <dt>handle</dt><dd><code id="handle">${escapeHtml(model.handle)}</code> <span class="muted small">(SHA-256 of the id; the id is never shown)</span></dd>
    <dt>expires</dt><dd id="expires">${EXPIRY_SLOT}</dd>
  </dl>
  ${login}
  ${changed}
</section>
<section>
  <h2>Session data</h2>
  <pre id="data">${escapeHtml(model.dataJson)}</pre>
</section>
<section>
  <h2>Set-Cookie received</h2>
  <div id="set-cookie">${SET_COOKIE_SLOT}</div>
  <p class="small muted" style="margin-bottom:0">Page scripts see <code>document.cookie</code> = <code id="document-cookie">…</code> (the cookie is HttpOnly).</p>
</section>
${model.devices === undefined ? '' : `<section>
  <h2>Your devices</h2>
  ${devicesPanel(model.devices)}
</section>`}
<section>
  <h2>Too big for a cookie</h2>
  <p class="small">${tooBig}</p>
  <form method="post" action="/too-big"><button id="too-big" class="secondary">make the session too big</button></form>
</section>
<section class="wide">
  <h2>Ten writes at once</h2>
  <p class="small" style="margin-top:0">Fires 10 parallel <code>fetch</code> calls, each adding its own item to the session, then counts the items kept. ${lossExplained}</p>
  <div class="results">
    <div class="result" id="result-main"><div class="muted small">${escapeHtml(model.storeKind)} (this page's store)</div><div class="count">–</div></div>
    <div class="result" id="result-compare"><div class="muted small">${escapeHtml(model.compareLabel)}, same 10 writes</div><div class="count">–</div></div>
  </div>
  <button id="add-items">add 10 items at once</button>
</section>
<script>
document.getElementById('document-cookie').textContent = JSON.stringify(document.cookie);
async function tenWrites(base) {
  await fetch(base + 'items/reset', { method: 'POST' });
  await Promise.all(Array.from({ length: 10 }, (_, i) => fetch(base + 'items/' + (i + 1), { method: 'POST' })));
  return (await (await fetch(base + 'items')).json()).kept;
}
function show(id, kept) {
  const box = document.getElementById(id);
  box.className = 'result ' + (kept === 10 ? 'good' : 'lossy');
  box.querySelector('.count').textContent = kept + ' of 10 kept';
  box.dataset.kept = String(kept);
}
document.getElementById('add-items').addEventListener('click', async (event) => {
  event.target.disabled = true;
  const [main, compare] = await Promise.all([tenWrites('/'), tenWrites('/compare/')]);
  show('result-main', main);
  show('result-compare', compare);
  document.getElementById('data').textContent = JSON.stringify(await (await fetch('/data')).json(), null, 2);
  event.target.disabled = false;
  document.body.dataset.itemsDone = 'yes';
});
</script>`;
  return layout(`${model.views} views · koa-session-store demo (${model.storeKind})`, headerOf(model), body);
}

export function renderCookies(shown: ReadonlyArray<{ name: string; value: string; note: string; attributes: string }>): string {
  if (shown.length === 0) return '<p class="muted small">None in this response: the session did not change.</p>';
  return shown
    .map(
      (cookie) => `<div class="cookie"><code><strong>${escapeHtml(cookie.name)}</strong>=${escapeHtml(cookie.value)}</code>
<div class="attrs">${escapeHtml(cookie.attributes)}</div><div class="small muted">${escapeHtml(cookie.note)}</div></div>`,
    )
    .join('');
}

export function renderError(model: Pick<PageModel, 'storeKind' | 'cookieName'>, status: number, message: string): string {
  const body = `<section class="wide"><h2>${status}: the session was not saved</h2>
<div class="error" id="error">${escapeHtml(message)}</div>
<p class="small">Your browser still holds its previous cookie, so nothing was silently lost. <a href="/">Back to the demo</a></p></section>`;
  return layout(`${status} · koa-session-store demo`, headerOf(model), body);
}
