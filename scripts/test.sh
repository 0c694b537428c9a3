#!/usr/bin/env bash
# `npm test`: installs what the tests need on a fresh machine (npm packages; the Debian
# packages of the real peers the interop tests run), then type-checks, lints, builds and
# runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."

need_deb=()
command -v prometheus >/dev/null || need_deb+=(prometheus)
command -v promtool >/dev/null || need_deb+=(prometheus)
command -v prometheus-node-exporter >/dev/null || need_deb+=(prometheus-node-exporter)
command -v prometheus-alertmanager >/dev/null || need_deb+=(prometheus-alertmanager)
command -v go >/dev/null || need_deb+=(golang-go)
[ -d /usr/share/gocode/src/github.com/Masterminds/sprig ] || need_deb+=(golang-github-masterminds-sprig-dev)
command -v openssl >/dev/null || need_deb+=(openssl)
command -v unzip >/dev/null || need_deb+=(unzip)
if [ ${#need_deb[@]} -gt 0 ]; then
  echo "test: installing Debian packages: ${need_deb[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_deb[@]}" >/dev/null
fi

if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "test: installing npm packages (npm ci)"
  npm ci --no-audit --no-fund
fi

echo "test: type-check"
npx tsc -p tsconfig.json --noEmit
echo "test: lint"
npx eslint .
echo "test: build"
npx tsc -p tsconfig.build.json
echo "test: vitest"
npx vitest run "$@"
