-- wrk script of scripts/bench-lists.sh: each request is a path picked at random from a file
-- (one path per line: every page of a list, or a sample of repository ids), so a run covers the
-- whole range of pages instead of hitting page 1 only. The random sequence depends only on the
-- thread number, so two runs of the same store ask for the same pages in the same order.
--
--   wrk ... -s scripts/bench-lists.lua http://127.0.0.1:PORT -- PATHS_FILE
--
-- Answers that are not 2xx are counted and printed as "bench-lists: non-2xx N (STATUS: N, ...)":
-- wrk's own "Non-2xx or 3xx responses" counts a redirect (an expired web session sends one to
-- /sign_in) as a success, and does not say which statuses.

local threads = {}
local paths = {}
local by_status = {}
failures = 0
-- "503=2,302=1": by_status as a string, which wrk can copy from the thread to done().
statuses = ""

function setup(thread)
  table.insert(threads, thread)
  thread:set("id", #threads)
end

function init(args)
  local file = args[1] or error("bench-lists.lua: give the paths file after --")
  for line in io.lines(file) do
    if line ~= "" then
      paths[#paths + 1] = line
    end
  end
  if #paths == 0 then
    error("bench-lists.lua: no paths in " .. file)
  end
  math.randomseed(id * 7919)
end

function request()
  return wrk.format(nil, paths[math.random(#paths)])
end

function response(status, headers, body)
  if status < 200 or status > 299 then
    failures = failures + 1
    by_status[status] = (by_status[status] or 0) + 1
    local parts = {}
    for code, n in pairs(by_status) do
      parts[#parts + 1] = code .. "=" .. n
    end
    statuses = table.concat(parts, ",")
  end
end

function done(summary, latency, requests)
  local total, merged, codes = 0, {}, {}
  for _, thread in ipairs(threads) do
    total = total + thread:get("failures")
    for code, n in string.gmatch(thread:get("statuses"), "(%d+)=(%d+)") do
      if not merged[code] then
        codes[#codes + 1] = code
      end
      merged[code] = (merged[code] or 0) + tonumber(n)
    end
  end
  table.sort(codes)
  local parts = {}
  for _, code in ipairs(codes) do
    parts[#parts + 1] = code .. ": " .. merged[code]
  end
  io.write(string.format("bench-lists: non-2xx %d (%s)\n", total, table.concat(parts, ", ")))
end
