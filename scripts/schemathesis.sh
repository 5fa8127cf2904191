#!/usr/bin/env bash
# Property-based tests of the REST API from its own OpenAPI document: schemathesis (PyPI,
# pinned, in a venv under the CI cache) against a live `portus serve` on a throwaway data
# directory, seeded with users, teams, namespaces and tags through the API and the
# registry's notification endpoint. Every check of schemathesis runs; the run fails on any
# failure. Tuning for what a schema cannot say lives in scripts/schemathesis.toml, with reasons.
#
#   ./scripts/schemathesis.sh [extra schemathesis arguments]
#
# PORTUS_SCHEMATHESIS_EXAMPLES (default 25) bounds the examples per operation, and
# PORTUS_CI_CACHE the cache directory (default ~/.cache/portus-ci).
set -euo pipefail
cd "$(dirname "$0")/.."
version=4.32.5
cache=${PORTUS_CI_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/portus-ci}
venv=$cache/schemathesis-$version
if [ ! -x "$venv/bin/schemathesis" ]; then
  echo "schemathesis.sh: installing schemathesis $version into $venv"
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$version"
fi

cargo build --locked --quiet --bin portus
portus="${CARGO_TARGET_DIR:-target}/debug/portus"
data=$(mktemp -d /tmp/portus-schemathesis.XXXXXX)
port=$("$venv/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
server=""
cleanup() {
  if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
  rm -rf "$data"
}
trap cleanup EXIT
# No scanner: without a registry (this server has none) nothing could be scanned, which
# /api/v1/health rightly reports as a 503 that schemathesis would count as a server error.
export PORTUS_DATA_DIR="$data" PORTUS_LISTEN="127.0.0.1:$port"
export PORTUS_SYNC_INTERVAL_SECS=0 PORTUS_LOG=warn
echo 'root password, long enough' | "$portus" --init user create root --admin --password-stdin >/dev/null
bootstrap=$("$portus" token create root --name bootstrap | tail -1)
"$portus" serve >"$data/serve.log" 2>&1 &
server=$!
base="http://127.0.0.1:$port"
"$venv/bin/python" - "$base" <<'PY'
import sys, time, urllib.request
for _ in range(200):
    try:
        urllib.request.urlopen(sys.argv[1] + "/api/v1/_ping", timeout=1).read()
        break
    except OSError:
        time.sleep(0.1)
else:
    sys.exit("schemathesis.sh: portus serve did not start")
PY

# The seed prints the token schemathesis uses: an administrator's whose id is far from the
# small numbers generated paths favour, so the run does not revoke its own credentials early.
token=$("$venv/bin/python" scripts/schemathesis_seed.py "$base" "$bootstrap" "$(cat "$data/webhook.secret")")

status=0
"$venv/bin/schemathesis" --config-file scripts/schemathesis.toml run "$base/api/openapi.json" \
  --header "Authorization: Bearer $token" \
  --max-examples "${PORTUS_SCHEMATHESIS_EXAMPLES:-25}" --seed 20260101 --no-color "$@" || status=$?
if [ "$status" -ne 0 ]; then
  echo "schemathesis.sh: failures (server log: last lines)" >&2
  tail -n 40 "$data/serve.log" >&2
fi
exit "$status"
