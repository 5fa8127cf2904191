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
# docs/quickstart.md's install step (`cargo install`, a release build) runs as written; its
# build is cached with the other third-party builds, so only a cold cache pays the full build.
export QUICKSTART_INSTALL="${QUICKSTART_INSTALL:-1}"
export QUICKSTART_TARGET_DIR="${QUICKSTART_TARGET_DIR:-${PORTUS_TEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/portus-test}/quickstart-release}"
if [ "$QUICKSTART_INSTALL" = 1 ]; then
  # The same build first, alone: the test's own run of the command then finds it done instead
  # of competing for the CPU with tests that wait on servers.
  install_root=$(mktemp -d /tmp/portus-test-install.XXXXXX)
  CARGO_TARGET_DIR="$QUICKSTART_TARGET_DIR" cargo install --quiet --locked --path . --root "$install_root"
  rm -rf "$install_root"
fi
cargo test --workspace --locked "$@"
