#!/usr/bin/env bash
# Builds bench/etcd (a single-member etcd, go.etcd.io/etcd/server/v3's
# embed, with gRPC server reflection) into $1 (default out/etcd-server).
# It is a module of its own, so etcd's dependencies never enter
# streambench's go.mod; the module proxy fills the module cache.
# scenarios/etcd-watch.yaml runs it as a command target.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-$root/out/etcd-server}
case "$out" in /*) ;; *) out="$PWD/$out" ;; esac
mkdir -p "$(dirname "$out")"
cd "$root/bench/etcd"
go build -trimpath -o "$out" .
echo "$out (etcd $(go list -m -f '{{.Version}}' go.etcd.io/etcd/server/v3))"
