// The "concurrent writers" figure (issue 6): one session, 50 concurrent requests,
// each setting its own key after a random 0-20 ms delay inside the handler; then
// count how many of the 50 keys the session kept.
import http from 'node:http';
import { cookieHeader } from './cookies.mjs';
import { startServer } from './processes.mjs';

function request(agent, port, path, cookie) {
  return new Promise((resolve, reject) => {
    const req = http.get({ agent, host: '127.0.0.1', port, path, headers: cookie ? { cookie } : {} }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode, body, setCookie: response.headers['set-cookie'] ?? [] }));
    });
    req.on('error', reject);
  });
}

/** Runs the figure once against one contender; resolves to { kept, failed }. */
export async function writersOnce({ contender, env, writers = 50 }) {
  const server = await startServer({ contender, workload: 'writers', env, core: null });
  const agent = new http.Agent({ keepAlive: true, maxSockets: writers });
  try {
    const created = await request(agent, server.port, '/create', '');
    const cookie = cookieHeader(created.setCookie);
    if (created.status !== 200 || cookie === '') throw new Error(`creating the session failed (status ${created.status})`);
    const answers = await Promise.all(Array.from({ length: writers }, (_, i) => request(agent, server.port, `/write?i=${i}`, cookie)));
    const failed = answers.filter((answer) => answer.status !== 200).length;
    const read = await request(agent, server.port, '/read', cookie);
    if (read.status !== 200) throw new Error(`reading the session back failed (status ${read.status})`);
    const keys = new Set(JSON.parse(read.body));
    let kept = 0;
    for (let i = 0; i < writers; i += 1) if (keys.has(`k${i}`)) kept += 1;
    return { kept, failed };
  } finally {
    agent.destroy();
    await server.stop();
  }
}
