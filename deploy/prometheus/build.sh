#!/bin/sh
# build.sh installs the Prometheus server used by the metrics proof test
# (harness/metrics/prometheus_test.go) into a folder of its own, so the
# module's go.mod and GOPATH stay untouched.
#
#   deploy/prometheus/build.sh [GOBIN]      (default GOBIN: ./prom-bin)
#
# A cold build downloads and compiles Prometheus: about ten minutes on two
# cores. Then run the proof with
#
#   STREAMBENCH_PROMETHEUS=$GOBIN/prometheus STREAMBENCH_REQUIRE_PROMETHEUS=1 \
#     go test -run Prometheus ./harness/metrics/
set -eu
version=v0.316.0
gobin=${1:-$PWD/prom-bin}
mkdir -p "$gobin"
gobin=$(cd "$gobin" && pwd)
# A GOPATH of its own keeps Prometheus's module cache away from the project's;
# GOFLAGS is cleared so a caller's -mod=vendor or similar cannot break the build.
gopath=${STREAMBENCH_PROMETHEUS_GOPATH:-$gobin/.gopath}
GOFLAGS='' GOPATH=$gopath GOBIN=$gobin go install "github.com/prometheus/prometheus/cmd/prometheus@$version"
"$gobin/prometheus" --version
