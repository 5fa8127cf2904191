#!/usr/bin/env bash
# A throwaway PostgreSQL cluster on 127.0.0.1 for the tests.
#   test-postgres.sh start DIR   -> initdb in DIR, start on a free port, print the admin URL
#   test-postgres.sh stop DIR    -> stop it (DIR can then be removed)
#   test-postgres.sh resume DIR  -> start a stopped cluster again on the same port (fault tests)
# PostgreSQL refuses to run as root, so as root the cluster runs as the system user
# `portus-test` (created if missing).
set -euo pipefail
action=${1:?usage: test-postgres.sh start|stop DIR}
dir=${2:?usage: test-postgres.sh start|stop DIR}
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)
[ -x "$bin/initdb" ] || { echo "test-postgres: PostgreSQL not installed; run scripts/install-test-deps.sh" >&2; exit 1; }

as_owner() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u portus-test -- "$@"; else "$@"; fi
}

case "$action" in
  start)
    if [ "$(id -u)" -eq 0 ] && ! id portus-test >/dev/null 2>&1; then
      useradd --system --shell /usr/sbin/nologin --home-dir /nonexistent portus-test
    fi
    mkdir -p "$dir"
    [ "$(id -u)" -eq 0 ] && chown portus-test "$dir"
    password=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
    printf '%s\n' "$password" > "$dir/pwfile"
    [ "$(id -u)" -eq 0 ] && chown portus-test "$dir/pwfile"
    as_owner "$bin/initdb" -D "$dir/data" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
      --pwfile="$dir/pwfile" -E UTF8 --locale=C.UTF-8 --no-sync >"$dir/initdb.log" 2>&1 \
      || { cat "$dir/initdb.log" >&2; exit 1; }
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    echo "$port" > "$dir/port"
    "$0" resume "$dir"
    echo "postgres://postgres:${password}@127.0.0.1:${port}/postgres"
    ;;
  resume)
    port=$(cat "$dir/port")
    # Durability is pointless for a throwaway cluster; max_connections covers the parallel tests.
    as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -o "-k $dir -p $port \
      -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off \
      -c max_connections=300" start >/dev/null || { cat "$dir/server.log" >&2; exit 1; }
    ;;
  stop)
    [ -f "$dir/data/postmaster.pid" ] && as_owner "$bin/pg_ctl" -D "$dir/data" -m fast stop >/dev/null 2>&1 || true
    ;;
  *) echo "test-postgres: unknown action $action" >&2; exit 2 ;;
esac
