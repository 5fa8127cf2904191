#!/usr/bin/env bash
# A throwaway MariaDB server on 127.0.0.1 for the tests (the Portus importer reads from it).
#   test-mariadb.sh start DIR  -> create a data directory in DIR, start on a free port, print
#                                 the URL of an empty database `portus_production` whose user
#                                 may also create and drop databases and users (tests make
#                                 their own, and read-only users for them)
#   test-mariadb.sh stop DIR   -> stop it (DIR can then be removed)
# As root the server runs as the system user `portus-test` (created if missing), as
# scripts/test-postgres.sh does.
set -euo pipefail
action=${1:?usage: test-mariadb.sh start|stop DIR}
dir=${2:?usage: test-mariadb.sh start|stop DIR}
command -v mariadbd >/dev/null || [ -x /usr/sbin/mariadbd ] \
  || { echo "test-mariadb: MariaDB not installed; run scripts/install-test-deps.sh" >&2; exit 1; }

case "$action" in
  start)
    owner=$(id -un)
    if [ "$(id -u)" -eq 0 ]; then
      id portus-test >/dev/null 2>&1 || useradd --system --shell /usr/sbin/nologin --home-dir /nonexistent portus-test
      owner=portus-test
    fi
    mkdir -p "$dir/data"
    [ "$(id -u)" -eq 0 ] && chown -R portus-test "$dir"
    mariadb-install-db --no-defaults --user="$owner" --datadir="$dir/data" \
      --auth-root-authentication-method=normal --skip-test-db >"$dir/install.log" 2>&1 \
      || { cat "$dir/install.log" >&2; exit 1; }
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    echo "$port" > "$dir/port"
    # Durability is pointless for a throwaway server.
    /usr/sbin/mariadbd --no-defaults --user="$owner" --datadir="$dir/data" --socket="$dir/mysqld.sock" \
      --pid-file="$dir/mysqld.pid" --port="$port" --bind-address=127.0.0.1 --log-error="$dir/server.log" \
      --innodb-flush-log-at-trx-commit=0 --skip-log-bin --character-set-server=utf8mb3 \
      --collation-server=utf8mb3_general_ci >/dev/null 2>&1 &
    for _ in $(seq 1 100); do
      mariadb --no-defaults --socket="$dir/mysqld.sock" -uroot -e 'SELECT 1' >/dev/null 2>&1 && break
      sleep 0.2
    done
    password=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
    mariadb --no-defaults --socket="$dir/mysqld.sock" -uroot <<SQL \
      || { cat "$dir/server.log" >&2; exit 1; }
CREATE DATABASE portus_production CHARACTER SET utf8mb3;
CREATE USER 'portus'@'127.0.0.1' IDENTIFIED BY '$password';
GRANT ALL ON *.* TO 'portus'@'127.0.0.1' WITH GRANT OPTION;
SQL
    echo "mysql://portus:${password}@127.0.0.1:${port}/portus_production"
    ;;
  stop)
    if [ -f "$dir/mysqld.pid" ]; then
      kill "$(cat "$dir/mysqld.pid")" 2>/dev/null || true
      for _ in $(seq 1 50); do [ -f "$dir/mysqld.pid" ] || break; sleep 0.1; done
    fi
    ;;
  *) echo "test-mariadb: unknown action $action" >&2; exit 2 ;;
esac
