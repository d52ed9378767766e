#!/usr/bin/env bash
# Builds bench/xds (an xDS control plane: go-control-plane's ADS server
# over a snapshot cache, with gRPC server reflection) into $1 (default
# out/xds-server). It is a module of its own, so go-control-plane's
# dependencies never enter streambench's go.mod; the module proxy fills
# the module cache. scenarios/xds-ads.yaml runs it as a command target.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-$root/out/xds-server}
case "$out" in /*) ;; *) out="$PWD/$out" ;; esac
mkdir -p "$(dirname "$out")"
cd "$root/bench/xds"
go build -trimpath -o "$out" .
echo "$out (go-control-plane $(go list -m -f '{{.Version}}' github.com/envoyproxy/go-control-plane))"
