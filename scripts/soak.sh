#!/usr/bin/env bash
# Soak test: `portus serve` on 127.0.0.1 under mixed load for DURATION seconds (default 600):
# token requests with Basic credentials, registry notifications (push events of new tags),
# REST API reads (health, search). Pushes go to a public namespace, so the anonymous search at
# the end sees whether they were recorded. Passes when there was no 5xx at all and the
# server's RSS at the end is within 20 % (+5 MiB) of its RSS after the first minute.
#
#   scripts/soak.sh                 # DURATION=60 for a quick run
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-600}
command -v wrk >/dev/null || { echo "soak: needs wrk (apt-get install wrk)" >&2; exit 1; }
cargo build --release --quiet --bin portus --example token_load
bin=target/release/portus

work=$(mktemp -d /tmp/portus-soak.XXXXXX)
server=""
cleanup() { [ -n "$server" ] && kill "$server" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

mkdir -p "$work/data"
target/release/examples/token_load seed "$work/data/portus.db" >/dev/null
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat > "$work/portus.toml" <<TOML
listen = "127.0.0.1:$port"
[token]
service = "registry.soak"
[auth]
lockout_attempts = 0
[sync]
interval_secs = 0
TOML
PORTUS_LOG=warn "$bin" --config "$work/portus.toml" --data-dir "$work/data" serve >"$work/server.log" 2>&1 &
server=$!
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$port/v2/" && break; sleep 0.1; done
secret=$(cat "$work/data/webhook.secret")
basic=$(printf 'user00011:load-password' | base64)

cat > "$work/mixed.lua" <<LUA
local counter = 0
local thread_id = 0
fivexx = 0
local threads = {}
function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end
function init(args)
  thread_id = id
end
request = function()
  counter = counter + 1
  local kind = counter % 10
  if kind < 6 then
    return wrk.format("GET", "/v2/token?service=registry.soak&scope=repository:ns0001-0/app:pull,push",
      {["Authorization"] = "Basic $basic"})
  elseif kind < 8 then
    local tag = string.format("t%d-%d", thread_id, counter)
    local body = string.format([[{"events":[{"id":"soak-%d-%d","action":"push","target":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%064d","repository":"ns0001-2/app","tag":"%s","size":100},"actor":{"name":"user00011"}}]}]], thread_id, counter, counter, tag)
    return wrk.format("POST", "/v2/webhooks/events",
      {["Authorization"] = "Bearer $secret", ["Content-Type"] = "application/vnd.docker.distribution.events.v1+json"}, body)
  elseif kind == 8 then
    return wrk.format("GET", "/api/v1/search?q=ns0001")
  else
    return wrk.format("GET", "/api/v1/health")
  end
end
response = function(status, headers, body)
  if status >= 500 then fivexx = fivexx + 1 end
end
function done(summary, latency, requests)
  local total = 0
  for _, thread in ipairs(threads) do total = total + thread:get("fivexx") end
  io.write(string.format("5xx: %d\n", total))
end
LUA

rss() { awk '$1 == "VmRSS:" { print int($2 / 1024) }' "/proc/$server/status"; }
echo "soak: $DURATION s of mixed load against 127.0.0.1:$port"
first=$(( DURATION < 60 ? DURATION / 2 : 60 ))
( sleep "$first"; rss > "$work/rss.early" ) &
sampler=$!
out=$(wrk -t2 -c16 -d"${DURATION}s" --latency -s "$work/mixed.lua" "http://127.0.0.1:$port")
wait "$sampler"
late=$(rss); early=$(cat "$work/rss.early")
echo "$out" | grep -E "Requests/sec|Latency|99%|Non-2xx|Socket errors" || true
fivexx=$(awk '/^5xx:/ { print $2 }' <<<"$out")
tags=$(curl -s "http://127.0.0.1:$port/api/v1/search?q=t0-" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["tags"]))' || echo "?")
echo "soak: 5xx answers: $fivexx; RSS after ${first}s: ${early} MiB, at the end: ${late} MiB; tags recorded (search sample): $tags"
[ "$fivexx" = 0 ] || { echo "soak: FAILED: server errors" >&2; tail -20 "$work/server.log" >&2; exit 1; }
limit=$(( early * 12 / 10 + 5 ))
[ "$late" -le "$limit" ] || { echo "soak: FAILED: RSS grew from $early to $late MiB" >&2; exit 1; }
echo "soak: passed"
