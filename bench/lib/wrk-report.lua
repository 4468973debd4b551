-- The bench's wrk script. With a cookie file (`-- <path>`: one Cookie header a
-- line) each request carries the next line's cookies, cycling, so the requests
-- of many users reach the server one after another; without one, no cookie.
-- Requests are formatted once, up front. At the end it prints wrk's totals as
-- one JSON line (latencies in microseconds) for the harness.
local requests = {}
local count = 0
local index = 0

function init(args)
  local path = args[1]
  if path ~= nil and path ~= '' then
    for line in io.lines(path) do
      if #line > 0 then
        count = count + 1
        requests[count] = wrk.format(nil, nil, { ['Cookie'] = line })
      end
    end
  end
  if count == 0 then
    count = 1
    requests[1] = wrk.format()
  end
end

function request()
  index = index % count + 1
  return requests[index]
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"p50_us":%.0f,"p99_us":%.0f,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect, e.read, e.write, e.status, e.timeout))
end
