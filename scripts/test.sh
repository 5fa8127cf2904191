#!/usr/bin/env bash
# The test command: installs what the tests need, then runs every test of the workspace
# (unit, conformance, property, HTTP and end-to-end tests against the real registry).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-test-deps.sh
cargo test --workspace --locked "$@"
