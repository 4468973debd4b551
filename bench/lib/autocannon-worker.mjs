// Runs autocannon in its own process (so it can be pinned to the load core) and
// prints its totals as one JSON line in the shape wrk-report.lua prints.
import autocannon from 'autocannon';

const { url, connections, duration, cookie } = JSON.parse(process.argv[2]);
const result = await autocannon({ url, connections, duration, headers: cookie ? { cookie } : {} });
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
