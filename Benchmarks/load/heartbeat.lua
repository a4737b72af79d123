-- wrk: PUT /services/beat/{id}/heartbeat round-robin over the ids in ids.txt (one per line).
local ids = {}
for line in io.lines(os.getenv("ROSTER_IDS") or "ids.txt") do ids[#ids + 1] = line end
local i = 0
function request()
  i = i + 1
  return wrk.format("PUT", "/services/beat/" .. ids[(i % #ids) + 1] .. "/heartbeat", nil, "")
end
