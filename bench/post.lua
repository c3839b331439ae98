-- wrk script for bench/run.py: POST /v1/data/{ns} with fresh ids on every request.
--
-- Parameters come from the environment (set by run.py):
--   VB_PATH    request path, e.g. /v1/data/products
--   VB_KEY     API key (sent as "Authorization: Bearer ...")
--   VB_BATCH   0 = one object as {"data": {...}}; N = an array of N objects {"data": [...]}
--   VB_PREFIX  prefix of every object id, unique per run (so every object is an insert and
--              the harness can count the rows this run stored)
-- Each object is ~336 bytes of JSON, the shape used in shared/research/perf-limits.md.
-- At the end one line "WRKJSON {...}" carries the counters and latency percentiles (µs).

local path = os.getenv("VB_PATH") or "/v1/data/products"
local key = os.getenv("VB_KEY") or ""
local batch = tonumber(os.getenv("VB_BATCH") or "0")
local prefix = os.getenv("VB_PREFIX") or "b"
local counter = 0
local threads = {}
tid = 1

local headers = {
  ["Content-Type"] = "application/json",
  ["Authorization"] = "Bearer " .. key,
}

local description = "Hand-thrown stoneware mug with a matte glaze, dishwasher and microwave safe, "
  .. "holds 350 ml; each piece varies slightly in colour and texture. Ships in 2 days."

local template = '{"id":"%s-%d-%d-%d","title":"Ceramic mug number %d","description":"%s",'
  .. '"images":["https://img.example.com/p/%d/front.jpg","https://img.example.com/p/%d/side.jpg"],'
  .. '"price":42.99}'

local function object(n, i)
  return string.format(template, prefix, tid, n, i, n, description, n, n)
end

function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end

function request()
  counter = counter + 1
  local body
  if batch == 0 then
    body = '{"data":' .. object(counter, 0) .. '}'
  else
    local parts = {}
    for i = 1, batch do
      parts[i] = object(counter, i)
    end
    body = '{"data":[' .. table.concat(parts, ",") .. ']}'
  end
  return wrk.format("POST", path, headers, body)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_us":%d,"bytes":%d,"connect":%d,"read":%d,"write":%d,'
      .. '"status":%d,"timeout":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"p999_us":%d,'
      .. '"mean_us":%.1f,"max_us":%d}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status,
    e.timeout, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9), latency.mean, latency.max))
end
