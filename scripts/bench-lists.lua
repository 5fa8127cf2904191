-- wrk script of scripts/bench-lists.sh: each request is a path picked at random from a file
-- (one path per line: every page of a list, or a sample of repository ids), so a run covers the
-- whole range of pages instead of hitting page 1 only. The random sequence depends only on the
-- thread number, so two runs of the same store ask for the same pages in the same order.
--
--   wrk ... -s scripts/bench-lists.lua http://127.0.0.1:PORT -- PATHS_FILE
--
-- Answers that are not 2xx are counted and printed as "bench-lists: non-2xx N": wrk's own
-- "Non-2xx or 3xx responses" counts a redirect (an expired web session sends one to /sign_in)
-- as a success.

local threads = {}
local paths = {}
failures = 0

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
  end
end

function done(summary, latency, requests)
  local total = 0
  for _, thread in ipairs(threads) do
    total = total + thread:get("failures")
  end
  io.write(string.format("bench-lists: non-2xx %d\n", total))
end
