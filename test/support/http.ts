// Real HTTP for the tests: every app listens on 127.0.0.1 on an ephemeral port.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after } from 'node:test';
import Koa from 'koa';
import Koa2 from 'koa2';
import request from 'supertest';
import type { Response } from 'supertest';

/** Both Koa majors the package supports; behaviour tests run on each. */
export const KOA_VERSIONS = [
  { label: 'Koa 3', Koa },
  { label: 'Koa 2', Koa: Koa2 },
] as const;

export type App = Koa;

/** Makes an app with keys set (unless `keys` is null) on the given Koa major. */
export function makeApp(KoaClass: typeof Koa = Koa, keys: string[] | null = ['test key one']): Koa {
  const app = new KoaClass();
  if (keys !== null) app.keys = keys;
  app.silent = true;
  return app;
}

export interface Running {
  readonly url: string;
  readonly server: http.Server;
  /** supertest bound to the running server's URL. */
  readonly agent: ReturnType<typeof request>;
  readonly errors: Error[];
  close(): Promise<void>;
}

/** Starts `app` on 127.0.0.1 and closes it after the current test file. */
export async function listen(app: Koa): Promise<Running> {
  const errors: Error[] = [];
  app.on('error', (error: Error) => errors.push(error));
  const server = http.createServer(app.callback());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  const close = (): Promise<void> =>
    new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  after(close);
  return { url, server, agent: request(url), errors, close };
}

/** The Set-Cookie headers of a response (always an array). */
export function setCookies(res: Response): string[] {
  const header = res.headers['set-cookie'] as unknown;
  if (header === undefined) return [];
  return Array.isArray(header) ? (header as string[]) : [String(header)];
}

/** `name=value` pairs of the response's Set-Cookie headers, ready to send back as a Cookie header. */
export function cookieHeader(res: Response): string {
  return setCookies(res)
    .map((entry) => entry.split(';')[0])
    .join('; ');
}

/** The value a response set for cookie `name`, or undefined. */
export function cookieValue(res: Response, name: string): string | undefined {
  for (const entry of setCookies(res)) {
    const pair = entry.split(';')[0] as string;
    const eq = pair.indexOf('=');
    if (pair.slice(0, eq) === name) return pair.slice(eq + 1);
  }
  return undefined;
}

/** Sleeps for real; expiry tests use small real lifetimes instead of fake clocks. */
export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
