#!/usr/bin/env bash
# Every cargo feature of every crate builds alone (cargo check, no default features), so a
# backend behind a feature never leans on another one by accident. Also the documentation
# builds without warnings (broken links included).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never
check() {
  local package=$1 features=$2
  echo "check-features: $package --no-default-features --features '$features'"
  cargo check --quiet --locked -p "$package" --no-default-features --features "$features"
}
features_of() {
  # The features a crate declares, "default" left out.
  cargo metadata --format-version 1 --no-deps | python3 -c '
import json, sys
for p in json.load(sys.stdin)["packages"]:
    if p["name"] == sys.argv[1]:
        print(" ".join(f for f in p["features"] if f != "default"))' "$1"
}
for package in portus-core portus-auth portus-scan portus-http portus-import portus; do
  check "$package" ""
  for feature in $(features_of "$package"); do
    check "$package" "$feature"
  done
done
# The program with exactly one scanner, as the README shows it.
echo "check-features: portus --bin portus --no-default-features --features 'cli sqlite clair-v4'"
cargo check --quiet --locked -p portus --bin portus --no-default-features --features "cli sqlite clair-v4"
echo "check-features: cargo doc"
RUSTDOCFLAGS="-D warnings" cargo doc --quiet --locked --workspace --no-deps --all-features
echo "check-features: ok"
