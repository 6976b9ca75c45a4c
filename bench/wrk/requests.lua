-- Sends the requests listed in the file named by BENCH_REQUESTS, one per line:
--   METHOD<TAB>PATH[<TAB>JSON BODY]
-- Thread i of n sends lines i, i + n, i + 2n, ... and goes round: no two threads send the
-- same line until the list is used up (a booking is then refused, and counted as such).
-- Headers given with wrk's -H (Authorization) go with every request.
local requests = {}
local threads = {}

function setup(thread)
  thread:set("offset", #threads)
  table.insert(threads, thread)
end

function init(args)
  for line in io.lines(os.getenv("BENCH_REQUESTS")) do
    local method, path, body = line:match("^(%u+)\t([^\t]+)\t?(.*)$")
    local headers = {}
    for name, value in pairs(wrk.headers) do headers[name] = value end
    if body ~= "" then headers["Content-Type"] = "application/json" else body = nil end
    requests[#requests + 1] = wrk.format(method, path, headers, body)
  end
  step = tonumber(os.getenv("BENCH_THREADS"))
  position = offset
end

function request()
  local chosen = requests[position % #requests + 1]
  position = position + step
  return chosen
end
