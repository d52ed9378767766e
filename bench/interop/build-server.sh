#!/usr/bin/env bash
# Builds grpc-go's interop server (google.golang.org/grpc/interop/server) at
# the grpc version this module uses, from the module cache (the Go module
# proxy fills it), into $1 (default out/interop-server). It needs modules
# this repository does not (oauth2, xds), so it builds in a module of its
# own in a temporary folder. scenarios/interop.yaml runs it as a command
# target.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-$root/out/interop-server}
case "$out" in /*) ;; *) out="$PWD/$out" ;; esac
version=$(cd "$root" && go list -m -f '{{.Version}}' google.golang.org/grpc)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
printf 'module interopbuild\n\ngo 1.26\n' >go.mod
GOFLAGS=-mod=mod go get "google.golang.org/grpc@$version" >/dev/null 2>&1
mkdir -p "$(dirname "$out")"
GOFLAGS=-mod=mod go build -o "$out" google.golang.org/grpc/interop/server
echo "$out (grpc $version)"
