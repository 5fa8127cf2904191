#!/usr/bin/env bash
# Coverage-guided fuzzing (cargo-fuzz, libFuzzer) of the parsers that read what clients, the
# registry and the scanners send: token scopes, Basic credentials, notification envelopes and
# the three scanner reports. Each target runs for a bounded time from the committed seeds
# (fuzz/seeds/<target>); a crash, panic or broken invariant fails the script and leaves the
# input in fuzz/artifacts/<target>/ (replay it with `cargo fuzz run -s none <target> <file>`
# from fuzz/).
#
#   ./scripts/fuzz.sh               # every target, 30 s each
#   ./scripts/fuzz.sh 300 scope     # one target, 5 minutes
#
# Runs on stable Rust: no sanitizer (`-s none`); the code under test has no `unsafe`, so
# libFuzzer's coverage, Rust's panics and debug assertions (overflow checks on) are the oracle.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-30}
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(scope basic_auth notification clair_v4_report clair_legacy_report zypper_report)
fi
# libfuzzer-sys compiles libFuzzer (C++).
if ! command -v c++ >/dev/null; then
    sudo=""; [ "$(id -u)" -ne 0 ] && sudo=sudo
    $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq g++ >/dev/null
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked --version 0.13.2
fi
target_dir="${CARGO_TARGET_DIR:-$PWD/target}/fuzz"
cd fuzz
cargo fuzz build -s none --target-dir "$target_dir"
for target in "${targets[@]}"; do
    corpus=$(mktemp -d "/tmp/portus-fuzz-$target.XXXXXX")
    echo "fuzz: $target for ${seconds} s"
    # New inputs go to the throwaway corpus (first directory); the seeds stay as committed.
    if ! cargo fuzz run -s none --target-dir "$target_dir" "$target" "$corpus" "seeds/$target" -- \
        -max_total_time="$seconds" -max_len=8192 -print_final_stats=1 >"$corpus.log" 2>&1; then
        tail -n 40 "$corpus.log"
        echo "fuzz: $target FAILED; the input is in fuzz/artifacts/$target/" >&2
        exit 1
    fi
    grep -E 'DONE|stat::peak_rss_mb' "$corpus.log" | sed "s/^/fuzz: $target: /"
    rm -rf "$corpus" "$corpus.log"
done
echo "fuzz: ${#targets[@]} targets, ${seconds} s each, no failure"
