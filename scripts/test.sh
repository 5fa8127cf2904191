#!/usr/bin/env bash
# The test command: installs what the tests need, then runs every test of the workspace
# (unit, conformance on memory/SQLite/PostgreSQL, property, HTTP and end-to-end tests against the
# real registry).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-test-deps.sh
# A throwaway PostgreSQL cluster for the PostgreSQL store's conformance and scale-out tests.
pg_dir=$(mktemp -d /tmp/portus-test-pg.XXXXXX)
chmod 755 "$pg_dir"
# A throwaway MariaDB server: the Portus importer's tests read Portus databases from it.
maria_dir=$(mktemp -d /tmp/portus-test-mariadb.XXXXXX)
chmod 755 "$maria_dir"
trap './scripts/test-postgres.sh stop "$pg_dir"; ./scripts/test-mariadb.sh stop "$maria_dir"; rm -rf "$pg_dir" "$maria_dir"' EXIT
PORTUS_TEST_POSTGRES_URL=$(./scripts/test-postgres.sh start "$pg_dir")
export PORTUS_TEST_POSTGRES_URL
PORTUS_TEST_MARIADB_URL=$(./scripts/test-mariadb.sh start "$maria_dir")
export PORTUS_TEST_MARIADB_URL
cargo test --workspace --locked "$@"
