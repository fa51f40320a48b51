-- wrk script: POST one recorded, signed webhook delivery.
-- BENCH_REQUEST  a Lua file returning {path=, headers={}, body=} (written by bench/load.py)
-- BENCH_VARY=1   add ?n=<thread>.<count> to each request, so every list row differs
-- BENCH_DELAY_MS wait uniform(0, 2*ms) before each request on a connection (a paced load)
-- done() prints one line "BENCH_JSON {...}" for bench/load.py to parse.

local spec = dofile(os.getenv("BENCH_REQUEST"))
wrk.method = "POST"
wrk.path = spec.path
wrk.body = spec.body
for name, value in pairs(spec.headers) do
   wrk.headers[name] = value
end

local threads = 0
function setup(thread)
   threads = threads + 1
   thread:set("tid", threads)
end

if os.getenv("BENCH_VARY") == "1" then
   local count = 0
   request = function()
      count = count + 1
      return wrk.format(nil, spec.path .. "?n=" .. (tid or 0) .. "." .. count)
   end
end

local delay_ms = tonumber(os.getenv("BENCH_DELAY_MS") or "")
if delay_ms then
   math.randomseed(os.time())
   delay = function()
      return math.random(0, 2 * delay_ms)
   end
end

function done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      'BENCH_JSON {"duration_us":%d,"requests":%d,"bytes":%d,"connect":%d,"read":%d,' ..
      '"write":%d,"status":%d,"timeout":%d,"lat_min_us":%d,"lat_mean_us":%.1f,' ..
      '"lat_max_us":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"p999_us":%d}\n',
      summary.duration, summary.requests, summary.bytes, e.connect, e.read, e.write,
      e.status, e.timeout, latency.min, latency.mean, latency.max,
      latency:percentile(50), latency:percentile(90), latency:percentile(99),
      latency:percentile(99.9)))
end
