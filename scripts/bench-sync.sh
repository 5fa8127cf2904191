#!/usr/bin/env bash
# Times `portus sync` of a registry with REPOS x TAGS tags (default 1000 x 10) served by the real
# Distribution registry on 127.0.0.1, and the registry's own manifest-serving capacity with wrk for
# comparison. Usage: scripts/bench-sync.sh   (REPOS=.. TAGS=.. CONCURRENCY=.. to change)
set -euo pipefail
cd "$(dirname "$0")/.."
REPOS=${REPOS:-1000} TAGS=${TAGS:-10} CONCURRENCY=${CONCURRENCY:-16}
./scripts/install-test-deps.sh > /dev/null
command -v wrk > /dev/null || { apt-get install -y -qq --no-install-recommends wrk > /dev/null; }
cargo build --release --quiet --bin portus
PORTUS=$PWD/target/release/portus
work=$(mktemp -d)
cleanup() { [ -n "${registry_pid:-}" ] && kill "$registry_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$1) 2>/dev/null && return 0; sleep 0.1; done; return 1; }
now() { python3 -c 'import time; print(time.monotonic())'; }
elapsed() { python3 -c "print(f'{$(now) - $1:.2f}')"; }

python3 scripts/gen-registry-storage.py "$work/storage" "$REPOS" "$TAGS"
reg_port=$(free_port); portus_port=$(free_port)
cat > "$work/portus.toml" <<TOML
listen = "127.0.0.1:$portus_port"
[token]
service = "registry.bench"
[registry]
url = "http://127.0.0.1:$reg_port"
[sync]
concurrency = $CONCURRENCY
TOML
P() { "$PORTUS" --data-dir "$work/data" --config "$work/portus.toml" "$@"; }
{
  printf 'version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: %s\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:%s\n' "$work/storage" "$reg_port"
  P config registry
} > "$work/registry.yml"
docker-registry serve "$work/registry.yml" > "$work/registry.log" 2>&1 &
registry_pid=$!
wait_port "$reg_port"

t=$(now); P sync --dry-run > "$work/plan.txt"; dry=$(elapsed "$t")
t=$(now); first_out=$(P sync); first=$(elapsed "$t")
t=$(now); second_out=$(P sync); second=$(elapsed "$t")
recorded=$(P tag list | tail -n +2 | wc -l)   # without the table header
requests=$(( 1 + REPOS + REPOS * TAGS ))

# The registry alone: GET of one manifest with a valid token, same concurrency, 5 s.
token=$(P user create bench-admin --admin > /dev/null; P token create bench-admin --name bench | tail -1)
P serve > "$work/serve.log" 2>&1 & serve_pid=$!
wait_port "$portus_port"
jwt=$(curl -s -u "bench-admin:$token" "http://127.0.0.1:$portus_port/v2/token?service=registry.bench&scope=repository:ns000/app0:pull" | python3 -c 'import sys,json; print(json.load(sys.stdin)["token"])')
kill "$serve_pid"
# wrk cannot do HEAD (it waits for a body after Content-Length); GET does the same storage work.
wrk_out=$(wrk -t2 -c"$CONCURRENCY" -d5s -H "Authorization: Bearer $jwt" \
  -H "Accept: application/vnd.oci.image.manifest.v1+json" "http://127.0.0.1:$reg_port/v2/ns000/app0/manifests/v0" \
  2>&1) || true
rate=$(printf '%s\n' "$wrk_out" | awk '/Requests\/sec/ {print $2}')
[ -n "$rate" ] || { echo "wrk failed: $wrk_out" >&2; exit 1; }
floor=$(python3 -c "print(f'{$requests / $rate:.2f}')")

echo
echo "registry: $REPOS repositories x $TAGS tags = $(( REPOS * TAGS )) tags; concurrency $CONCURRENCY"
echo "registry requests per sync: about $requests (catalog pages, $REPOS tag lists, $(( REPOS * TAGS )) manifest HEADs)"
echo "registry alone (wrk, GET manifest): $rate requests/s -> $floor s for $requests requests"
echo "portus sync --dry-run (listing only):      ${dry} s"
echo "portus sync, first run (records all tags): ${first} s  [$first_out]"
echo "portus sync, second run (nothing new):     ${second} s"
echo "tags recorded: $recorded"
