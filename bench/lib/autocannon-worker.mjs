// Runs autocannon in its own process (so it can be pinned to the load core) and
// prints its totals as one JSON line in the shape wrk-report.lua prints. With a
// cookie file (one Cookie header a line), each request carries the next line.
import { readFileSync } from 'node:fs';
import autocannon from 'autocannon';

const { url, connections, duration, cookieFile } = JSON.parse(process.argv[2]);
const cookies = cookieFile ? readFileSync(cookieFile, 'utf8').split('\n').filter(Boolean) : [];
let next = 0;
const requests = [
  {
    setupRequest(request) {
      if (cookies.length === 0) return request;
      const cookie = cookies[next];
      next = (next + 1) % cookies.length;
      return { ...request, headers: { ...request.headers, cookie } };
    },
  },
];
const result = await autocannon({ url, connections, duration, requests });
const line = {
  requests: result.requests.total,
  duration_us: Math.round(result.duration * 1e6),
  p50_us: Math.round(result.latency.p50 * 1000),
  p99_us: Math.round(result.latency.p99 * 1000),
  connect: 0,
  read: 0,
  write: 0,
  status: result.non2xx,
  timeout: result.timeouts,
  errors: result.errors,
};
process.stdout.write(`BENCH_JSON ${JSON.stringify(line)}\n`);
