#!/usr/bin/env bash
# Load test of GET /v2/token against `portus serve` on 127.0.0.1 with a realistic store
# (10,000 users, 1,000 teams, 10,000 namespaces), driven by wrk. For ES256 and RS256 keys, with
# the credential cache on (repeated docker logins) and off (every request pays bcrypt), it
# reports tokens/s, p50/p99 latency, idle and peak RSS of the server, and the raw signing rate
# of the same key on the same machine (the ratio endpoint/raw is what travels across machines).
#
# A second table sweeps the number of connections for cached ES256: latency is queueing, so the
# same server shows its p99 at several loads (SWEEP="" skips it).
#
# The first table (ONE_CORE=0 skips it) is the one that travels across machines: the server is
# pinned to one core (`taskset`), wrk to another, and each figure is a ratio to that core's limit
# measured in the same run: one token signature (the same key, claims and encoding, on the same
# core) plus the server's cheapest route (an anonymous `GET /v2/`, refused at once, through the
# same HTTP stack and layers). limit = 1 / (1/signatures + 1/pings) per second.
#
# STORE=postgres runs the same on a throw-away PostgreSQL cluster (scripts/test-postgres.sh);
# KEYS and CACHES narrow the first table (e.g. KEYS=es256 CACHES=60: cached ES256 only).
#
#   scripts/bench-token.sh            # DURATION=10 CONNECTIONS=32 THREADS=2 SWEEP="8 16 32 64"
#   ONE_CORE_ONLY=1 scripts/bench-token.sh   # the one-core table alone
#   GUEST_HALT_POLL_NS=200000 ONE_CORE_ONLY=1 scripts/bench-token.sh
#
# GUEST_HALT_POLL_NS (root, virtual machines with the cpuidle haltpoll driver): how long an idle
# virtual CPU polls before halting, set for the run and restored after. The limit's pings keep
# wrk busy, but during the token run wrk's core idles between answers; with polling off (0, as
# some VMs boot) every answer the server writes pays an inter-processor interrupt and a VM exit
# to wake wrk, which the limit never pays. Linux's own default for this driver is 200000.
#   STORE=postgres KEYS=es256 CACHES=60 SWEEP="" scripts/bench-token.sh
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-32}
THREADS=${THREADS:-2}
SWEEP=${SWEEP-"8 16 32 64"}
ONE_CORE=${ONE_CORE:-1}
ONE_CORE_ONLY=${ONE_CORE_ONLY:-0}
ONE_CORE_CONNECTIONS=${ONE_CORE_CONNECTIONS:-"16 64"}
STORE=${STORE:-sqlite}
KEYS=${KEYS:-"es256 rs256"}
CACHES=${CACHES:-"60 0"}
case "$STORE" in sqlite | postgres) ;; *) echo "bench-token: STORE must be sqlite or postgres" >&2; exit 2 ;; esac

command -v wrk >/dev/null || {
  echo "bench-token: installing wrk"
  ${SUDO:-$( [ "$(id -u)" -eq 0 ] || echo sudo )} apt-get install -y -qq wrk >/dev/null
}
command -v openssl >/dev/null || { echo "bench-token: needs openssl" >&2; exit 1; }
cargo build --release --quiet --bin portus --example token_load
target=${CARGO_TARGET_DIR:-target}
bin=$target/release/portus
load=$target/release/examples/token_load

work=$(mktemp -d /tmp/portus-bench-token.XXXXXX)
server=""
pg_dir=""
halt_poll=/sys/module/haltpoll/parameters/guest_halt_poll_ns
halt_poll_before=""
if [ -n "${GUEST_HALT_POLL_NS:-}" ]; then
  [ -w "$halt_poll" ] || { echo "bench-token: GUEST_HALT_POLL_NS needs root and the haltpoll driver ($halt_poll)" >&2; exit 1; }
  halt_poll_before=$(cat "$halt_poll")
  echo "$GUEST_HALT_POLL_NS" > "$halt_poll"
fi
cleanup() {
  [ -n "$halt_poll_before" ] && echo "$halt_poll_before" > "$halt_poll"
  [ -n "$server" ] && kill "$server" 2>/dev/null
  wait 2>/dev/null || true
  [ -n "$pg_dir" ] && ./scripts/test-postgres.sh stop "$pg_dir" >/dev/null 2>&1
  rm -rf "$work"
  [ -n "$pg_dir" ] && rm -rf "$pg_dir"
  true
}
trap cleanup EXIT

echo "seeding the $STORE store (10,000 users, 1,000 teams, 10,000 namespaces)..."
mkdir -p "$work/data"
database=""
if [ "$STORE" = postgres ]; then
  pg_dir=$(mktemp -d /tmp/portus-bench-token-pg.XXXXXX)
  chmod 755 "$pg_dir"
  database=$(./scripts/test-postgres.sh start "$pg_dir")
  "$load" seed "$database" >/dev/null
else
  "$load" seed "$work/data/portus.db" >/dev/null
fi
openssl genrsa -out "$work/rsa.key" 2048 2>/dev/null
openssl req -new -x509 -key "$work/rsa.key" -out "$work/rsa.crt" -days 2 -subj "/CN=portus-bench" 2>/dev/null

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# user00011 is a contributor of team0001, which owns ns0001-0 .. ns0001-9.
auth="Authorization: Basic $(printf 'user00011:load-password' | base64)"
url="http://127.0.0.1:$port/v2/token?service=registry.load&scope=repository:ns0001-0/app:pull,push&scope=repository:ns0002-1/base:pull"

rss() { awk -v k="$2:" '$1 == k { print int($2 / 1024) }' "/proc/$1/status"; }

start_server() { # $1 = key algorithm (es256|rs256), $2 = credential cache seconds
  local key_lines=""
  if [ "$1" = rs256 ]; then key_lines="key = \"$work/rsa.key\"
certificate = \"$work/rsa.crt\""; fi
  cat > "$work/portus.toml" <<TOML
listen = "127.0.0.1:$port"
[token]
service = "registry.load"
issuer = "portus"
$key_lines
[auth]
credential_cache_secs = $2
lockout_attempts = 0
TOML
  if [ -n "$database" ]; then printf '[database]\nurl = "%s"\n' "$database" >> "$work/portus.toml"; fi
  ${PIN_SERVER:-} env PORTUS_LOG=warn "$bin" --config "$work/portus.toml" --data-dir "$work/data" serve >"$work/server.log" 2>&1 &
  server=$!
  for _ in $(seq 100); do
    curl -fsS -o /dev/null "http://127.0.0.1:$port/v2/" 2>/dev/null && break
    curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/v2/" 2>/dev/null | grep -q 401 && break
    sleep 0.1
  done
  sleep 0.5
}

stop_server() { kill "$server"; wait "$server" 2>/dev/null || true; server=""; }

# wrk's table row fields: rate, p50, p99 (and failure on any non-2xx answer unless $2 = any).
wrk_figures() { # $1 = wrk output, $2 = "any" to accept non-2xx answers
  local non2xx
  non2xx=$(awk '/Non-2xx/ { print $4 }' <<<"$1")
  if [ -n "$non2xx" ] && [ "${2:-}" != any ]; then
    echo "bench-token: $non2xx non-2xx answers" >&2; echo "$1" >&2; exit 1
  fi
  printf '%s %s %s' "$(awk '/Requests\/sec/ { printf "%.0f", $2 }' <<<"$1")" \
    "$(awk '$1 == "50%" { print $2 }' <<<"$1")" "$(awk '$1 == "99%" { print $2 }' <<<"$1")"
}

if [ "$ONE_CORE" = 1 ]; then
  [ "$(nproc)" -ge 2 ] || { echo "bench-token: the one-core table needs two cores" >&2; exit 1; }
  printf '\n| key | connections | tokens/s | p50 | p99 | signatures/s (1 core) | pings/s (1 core) | one-core limit | tokens/limit |\n'
  printf '|---|---|---|---|---|---|---|---|---|\n'
  for algorithm in $KEYS; do
    PIN_SERVER="taskset -c 0" start_server "$algorithm" 60
    curl -fsS -o /dev/null -H "$auth" "$url"
    key_file="$work/data/token.key"; [ "$algorithm" = rs256 ] && key_file="$work/rsa.key"
    for connections in $ONE_CORE_CONNECTIONS; do
      # The limit is measured next to each load, so drift of the machine shows in both.
      read -r pings _ _ <<<"$(wrk_figures "$(taskset -c 1 wrk -t1 -c"$connections" -d"${DURATION}s" --latency \
        "http://127.0.0.1:$port/v2/")" any)"
      read -r rate p50 p99 <<<"$(wrk_figures "$(taskset -c 1 wrk -t1 -c"$connections" -d"${DURATION}s" --latency \
        -H "$auth" "$url")")"
      signatures=$(taskset -c 0 "$load" sign-rate "$key_file" 3)
      limit=$(awk -v s="$signatures" -v p="$pings" 'BEGIN { printf "%.0f", 1 / (1 / s + 1 / p) }')
      ratio=$(awk -v a="$rate" -v b="$limit" 'BEGIN { printf "%.0f%%", 100 * a / b }')
      printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "${algorithm^^}" "$connections" "$rate" "$p50" "$p99" \
        "$signatures" "$pings" "$limit" "$ratio"
    done
    stop_server
  done
  echo
  polling=$([ -r "$halt_poll" ] && echo ", guest halt polling $(cat "$halt_poll") ns" || true)
  echo "server pinned to core 0, wrk -t1 -d${DURATION}s pinned to core 1, cached password logins, 2 scopes per request, $STORE store$polling"
  [ "$ONE_CORE_ONLY" = 1 ] && exit 0
fi

printf '\n| key | credentials | tokens/s | p50 | p99 | raw signing/s | endpoint/raw | idle RSS | peak RSS |\n'
printf '|---|---|---|---|---|---|---|---|---|\n'
for algorithm in $KEYS; do
  for cache in $CACHES; do
    start_server "$algorithm" "$cache"
    idle=$(rss "$server" VmRSS)
    curl -fsS -o /dev/null -H "$auth" "$url"   # the first login fills the cache
    out=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency -H "$auth" "$url")
    peak=$(rss "$server" VmHWM)
    key_file="$work/data/token.key"; [ "$algorithm" = rs256 ] && key_file="$work/rsa.key"
    stop_server
    rate=$(awk '/Requests\/sec/ { printf "%.0f", $2 }' <<<"$out")
    p50=$(awk '$1 == "50%" { print $2 }' <<<"$out")
    p99=$(awk '$1 == "99%" { print $2 }' <<<"$out")
    non2xx=$(awk '/Non-2xx/ { print $4 }' <<<"$out")
    [ -n "$non2xx" ] && { echo "bench-token: $non2xx non-2xx answers" >&2; echo "$out" >&2; exit 1; }
    raw=$("$load" sign-rate "$key_file" 3)
    label=$([ "$cache" = 0 ] && echo "uncached (bcrypt each time)" || echo "cached")
    ratio=$(awk -v a="$rate" -v b="$raw" 'BEGIN { printf "%.0f%%", 100 * a / b }')
    printf '| %s | %s | %s | %s | %s | %s | %s | %s MiB | %s MiB |\n' \
      "${algorithm^^}" "$label" "$rate" "$p50" "$p99" "$raw" "$ratio" "$idle" "$peak"
  done
done
echo
echo "wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s, 2 scopes per request, $STORE store, server and load generator on the same machine ($(nproc) cores)"

if [ -n "$SWEEP" ]; then
  printf '\n| ES256, cached: connections | tokens/s | p50 | p90 | p99 |\n|---|---|---|---|---|\n'
  start_server es256 60
  curl -fsS -o /dev/null -H "$auth" "$url"
  for connections in $SWEEP; do
    threads=$(( connections < THREADS ? connections : THREADS ))
    out=$(wrk -t"$threads" -c"$connections" -d"${DURATION}s" --latency -H "$auth" "$url")
    non2xx=$(awk '/Non-2xx/ { print $4 }' <<<"$out")
    [ -n "$non2xx" ] && { echo "bench-token: $non2xx non-2xx answers" >&2; echo "$out" >&2; exit 1; }
    printf '| %s | %s | %s | %s | %s |\n' "$connections" "$(awk '/Requests\/sec/ { printf "%.0f", $2 }' <<<"$out")" \
      "$(awk '$1 == "50%" { print $2 }' <<<"$out")" "$(awk '$1 == "90%" { print $2 }' <<<"$out")" \
      "$(awk '$1 == "99%" { print $2 }' <<<"$out")"
  done
  stop_server
fi
