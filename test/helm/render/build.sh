#!/bin/sh
# Builds the chart renderer in GOPATH mode against Debian's Go packages
# (golang-go, golang-github-masterminds-sprig-dev, golang-gopkg-yaml.v2-dev).
# Usage: test/helm/render/build.sh [output]   (default: kubepulse-render beside this file)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/kubepulse-render}
if ! command -v go >/dev/null 2>&1; then
  echo "build.sh: the Go toolchain is missing: install golang-go and golang-github-masterminds-sprig-dev" >&2
  exit 2
fi
cd "$here"
GO111MODULE=off GOPATH=${KUBEPULSE_GOPATH:-/usr/share/gocode} GOFLAGS= GOCACHE=${GOCACHE:-${TMPDIR:-/tmp}/kubepulse-render-gocache} \
  go build -o "$out" .
