-- wrk: POST /services with a distinct host:port per request (thread id × counter), TTL 600 s.
-- `thread_id` is a global each thread gets from setup(); a local of that name would hide it.
local counter = 0
local next_id = 0
thread_id = 0
function setup(thread)
  thread:set("thread_id", next_id)
  next_id = next_id + 1
end
function request()
  counter = counter + 1
  local n = thread_id * 10000000 + counter
  local host = string.format("10.%d.%d.%d", math.floor(n / 65536) % 256, math.floor(n / 256) % 256, n % 256)
  local body = string.format('{"name":"wrk","host":"%s","port":%d,"ttl":600}', host, 1000 + (math.floor(n / 16777216) % 60000))
  return wrk.format("POST", "/services", {["Content-Type"] = "application/json"}, body)
end
