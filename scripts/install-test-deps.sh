#!/usr/bin/env bash
# Installs the real components the tests drive: Debian's Distribution registry, skopeo and
# podman (docs/quickstart.md builds its image with it; uidmap for runs as a non-root user),
# PostgreSQL, MariaDB (the Portus importer reads Portus databases from it), OpenLDAP's slapd and
# client tools (the LDAP authenticator tests start their own slapd), openssl for operator-style
# keys, curl (docs/migrating-from-portus.md uses it), Chromium with its WebDriver for the
# browser tests of the web pages, axe-core from the npm registry (the accessibility checker the
# browser tests run in each page), and Python with venv for schemathesis (installed from PyPI by
# scripts/schemathesis.sh), and aiosmtpd from PyPI (the SMTP server of the password-reset
# test). Idempotent; needs root (or sudo) on Debian/Ubuntu.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-test-deps: run as root (or install sudo)" >&2; exit 1; }
  SUDO="sudo"
fi

# Package postinst scripts must not start the packaged registry on :5000, the packaged slapd
# on :389 or nginx on :80 (no systemd here); the tests run their own instances.
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
  $SUDO chmod 755 /usr/sbin/policy-rc.d
fi

need=()
for package in docker-registry skopeo podman uidmap slapd ldap-utils mariadb-server mariadb-client openssl curl ca-certificates chromium chromium-driver python3 python3-venv nginx-light; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' || need+=("$package")
done
# PostgreSQL: any installed major version will do (the machine image may ship one already;
# installing the package would upgrade it for nothing).
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
if [ ${#need[@]} -gt 0 ]; then
  echo "install-test-deps: installing ${need[*]}"
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
if [ -d /run/systemd/system ]; then
  $SUDO systemctl disable --now docker-registry postgresql slapd mariadb nginx 2>/dev/null || true
fi
echo "install-test-deps: docker-registry $(dpkg-query -W -f='${Version}' docker-registry), skopeo $(dpkg-query -W -f='${Version}' skopeo), slapd $(dpkg-query -W -f='${Version}' slapd)"

# axe-core, pinned and checked against the npm registry's integrity digest, cached so a warm run
# downloads nothing; tests/it/e2e_accessibility.rs reads it from this path.
axe_version=4.10.3
axe_sha512=Xm7bpRXnDSX2YE2YFfBk2FnF0ep6tmG7xPh8iHee8MIcrgq762Nkce856dYtJYLkuIoYZvGfTs/PbZhideTcEg==
axe_dir="${PORTUS_TEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/portus-test}/axe-core-$axe_version"
if [ ! -s "$axe_dir/axe.min.js" ]; then
  mkdir -p "$axe_dir"
  tarball="$axe_dir/axe-core.tgz"
  curl -fsSL --retry 3 -o "$tarball" "https://registry.npmjs.org/axe-core/-/axe-core-$axe_version.tgz"
  if [ "$(openssl dgst -sha512 -binary "$tarball" | base64 -w0)" != "$axe_sha512" ]; then
    echo "install-test-deps: axe-core $axe_version does not match its integrity digest" >&2
    rm -f "$tarball"
    exit 1
  fi
  tar -xzf "$tarball" -C "$axe_dir" --strip-components=1 package/axe.min.js
  rm -f "$tarball"
fi
echo "install-test-deps: axe-core $axe_version in $axe_dir"

# aiosmtpd from PyPI, pinned, in a venv in the same cache: the real SMTP server the
# password-reset test (tests/it/e2e_password_reset.rs) mails its links through.
aiosmtpd_version=1.4.6
aiosmtpd_venv="${PORTUS_TEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/portus-test}/aiosmtpd-$aiosmtpd_version"
if ! "$aiosmtpd_venv/bin/python" -c 'import aiosmtpd' 2>/dev/null; then
  rm -rf "$aiosmtpd_venv"
  python3 -m venv "$aiosmtpd_venv"
  "$aiosmtpd_venv/bin/pip" install --quiet --disable-pip-version-check "aiosmtpd==$aiosmtpd_version"
fi
echo "install-test-deps: aiosmtpd $aiosmtpd_version in $aiosmtpd_venv"

# Third-party Go programs, built from their pinned modules through the Go module proxy into the
# same cache (go-tools/<name>-<version>/), so a warm run builds nothing; the tests find them as
# go-tools/bin/<name> (tests/it/harness.rs, go_tool):
# - Distribution 3's registry, run next to Debian's 2.8 by the end-to-end suites;
# - Clair v4 (server and clairctl, which imports vulnerability data offline);
# - Trivy, which tests/it/e2e_harbor.rs runs behind a Harbor scanner adapter, and the in-tree
#   tests/tools/trivy-db-fixture, which writes the tiny offline Trivy database it scans with
#   (go.etcd.io/bbolt, pinned by its go.sum; cached by a hash of its sources);
# - helm and oras, the real clients tests/it/e2e_artifacts.rs pushes a Helm chart, an arbitrary
#   OCI artifact and a signature-like referrer with.
# `go install module@version` cannot be used: the proxy refuses the version lists it reads for
# deprecation notices. The pinned version is downloaded and built in place instead (its own
# go.mod and go.sum, so the build is exactly the release's).
go_tools="${PORTUS_TEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/portus-test}/go-tools"
go_tool() {
  # An optional fifth argument is the GOEXPERIMENT the release is built with.
  local name=$1 module=$2 version=$3 package=$4 experiment=${5:-} dir="$go_tools/$1-$3" source
  if [ ! -x "$dir/$name" ]; then
    command -v go >/dev/null || { echo "install-test-deps: Go is needed to build $name ($module@$version)" >&2; exit 1; }
    echo "install-test-deps: building $name from $module@$version ($package)"
    source=$(go mod download -json "$module@$version" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
    [ -n "$source" ] || { echo "install-test-deps: $module@$version could not be downloaded" >&2; exit 1; }
    rm -rf "$dir.tmp"
    mkdir -p "$dir.tmp"
    (cd "$source" && GOEXPERIMENT="$experiment" GOFLAGS='-trimpath -mod=readonly' go build -ldflags='-s -w' -o "$dir.tmp/$name" "$package")
    rm -rf "$dir"
    mv "$dir.tmp" "$dir"
  fi
  mkdir -p "$go_tools/bin"
  ln -sfn "$dir/$name" "$go_tools/bin/$name"
}
go_tool registry-v3 github.com/distribution/distribution/v3 v3.1.1 ./cmd/registry
go_tool clair github.com/quay/clair/v4 v4.9.0 ./cmd/clair
go_tool clairctl github.com/quay/clair/v4 v4.9.0 ./cmd/clairctl
# Trivy's own build (magefiles/magefile.go) sets GOEXPERIMENT=jsonv2; it does not build without.
go_tool trivy github.com/aquasecurity/trivy v0.74.0 ./cmd/trivy jsonv2
go_tool helm helm.sh/helm/v3 v3.22.0 ./cmd/helm
go_tool oras oras.land/oras v1.3.6 ./cmd/oras
fixture_src="$(cd "$(dirname "$0")/.." && pwd)/tests/tools/trivy-db-fixture"
fixture_hash=$(cat "$fixture_src/go.mod" "$fixture_src/go.sum" "$fixture_src/main.go" | sha256sum | cut -c1-16)
fixture_dir="$go_tools/trivy-db-fixture-$fixture_hash"
if [ ! -x "$fixture_dir/trivy-db-fixture" ]; then
  echo "install-test-deps: building trivy-db-fixture from $fixture_src"
  rm -rf "$fixture_dir.tmp"
  mkdir -p "$fixture_dir.tmp"
  (cd "$fixture_src" && GOFLAGS='-trimpath -mod=readonly' go build -o "$fixture_dir.tmp/trivy-db-fixture" .)
  rm -rf "$fixture_dir"
  mv "$fixture_dir.tmp" "$fixture_dir"
fi
ln -sfn "$fixture_dir/trivy-db-fixture" "$go_tools/bin/trivy-db-fixture"
echo "install-test-deps: Go tools in $go_tools/bin: $(ls "$go_tools/bin" | tr '\n' ' ')"
