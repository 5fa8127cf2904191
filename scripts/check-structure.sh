#!/usr/bin/env bash
# The architecture's rules, checked on the tree (docs/architecture.md explains them):
#  - portus-core without features has no I/O crates;
#  - portus-auth has no sqlx, portus-http no clap/indicatif/toml;
#  - no store role trait has more than 20 methods;
#  - routes/ and web/ of portus-http do not import each other;
#  - no production source file is over 600 lines before its inline tests;
#  - the embedding example is at most 30 non-blank lines.
set -euo pipefail
cd "$(dirname "$0")/.."
failed=0
fail() { echo "check-structure: $*" >&2; failed=1; }

core_deps=$(cargo tree -p portus-core --no-default-features -e normal --prefix none --format '{p}' | awk '{print $1}' | sort -u)
for crate in sqlx reqwest hyper axum tokio ldap3; do
  grep -qx "$crate" <<<"$core_deps" && fail "portus-core without features depends on $crate"
done
auth_deps=$(cargo tree -p portus-auth --all-features -e normal --prefix none --format '{p}' | awk '{print $1}' | sort -u)
grep -qx sqlx <<<"$auth_deps" && fail "portus-auth depends on sqlx"
http_deps=$(cargo tree -p portus-http --all-features -e normal --prefix none --format '{p}' | awk '{print $1}' | sort -u)
for crate in clap indicatif toml; do
  grep -qx "$crate" <<<"$http_deps" && fail "portus-http depends on $crate"
done

for role in portus-core/src/traits/policy_store/*.rs; do
  [ "$(basename "$role")" = mod.rs ] && continue
  # Methods of the trait itself: from `pub trait` to the first line that is only `}`.
  methods=$(awk '/^pub trait /{t=1} t && /^    (async )?fn /{n++} t && /^}/{exit} END{print n+0}' "$role")
  [ "$methods" -le 20 ] || fail "$role: $methods methods (at most 20 per store role)"
done

grep -rn 'crate::web\b' portus-http/src/routes && fail "portus-http routes/ imports web/"
grep -rn 'crate::routes\b' portus-http/src/web && fail "portus-http web/ imports routes/"

while read -r file; do
  lines=$(awk '/^#\[cfg\(test\)\]/{exit} {n++} END{print n+0}' "$file")
  [ "$lines" -le 600 ] || fail "$file: $lines lines before its tests (at most 600)"
done < <(git ls-files '*.rs' | grep -v -e '^tests/' -e '^fuzz/' -e '/tests/' -e 'tests\.rs$' -e '^benches/')

example=$(grep -cv '^[[:space:]]*$' examples/embed_token_auth.rs)
[ "$example" -le 30 ] || fail "examples/embed_token_auth.rs: $example non-blank lines (at most 30)"

[ "$failed" -eq 0 ] && echo "check-structure: ok"
exit "$failed"
