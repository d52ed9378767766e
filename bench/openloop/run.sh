#!/usr/bin/env bash
# Open loop against its anchor: Math/Pow streams of 10 messages against the
# builtin reference server. First the closed-loop capacity (CLIENTS clients
# looping, streams completed per second), then open-loop arrival rates at
# 50/80/95/110% of it with the same CLIENTS as the most in flight, each for
# DURATION with the default queue (CLIENTS slots), and 110% again for
# 3×DURATION; then 110% with queue 0 (k6's model) and with an unbounded
# queue (wrk2's) for DURATION and 3×DURATION: raw and corrected p50/p99, the
# corrected p99 of the first and last second, scheduled, dropped, late and
# unstarted slots.
#
#   bench/openloop/run.sh                 # DURATION=10s CLIENTS=50
#   DURATION=20s CLIENTS=100 bench/openloop/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
DURATION=${DURATION:-10s}
CLIENTS=${CLIENTS:-50}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/sb" ./cmd/streambench

scenario() { # name duration arrival-line
	cat >"$tmp/$1.yaml" <<EOF
name: $1
seed: 1
duration: $2
graceful_stop: 5s
groups:
  - name: pow
    rpc: Math/Pow
    clients: $CLIENTS
    messages: 10
$3
assert:
  - errors == 0
EOF
}

run() { # name: runs it (bounded), prints nothing
	timeout 300 "$tmp/sb" run --no-progress --out "$tmp/out-$1" "$tmp/$1.yaml" >/dev/null 2>"$tmp/$1.err" || {
		rc=$?
		# 1 = an assertion failed: the figures still count.
		if [ "$rc" -ne 1 ]; then echo "run $1: exit $rc: $(tail -3 "$tmp/$1.err")" >&2; exit 1; fi
	}
}

scenario closed "$DURATION" ""
run closed
capacity=$(python3 -c '
import json,sys
r=json.load(open(sys.argv[1]))
g=r["groups"][0]
print(round(g["ends"].get("complete",0)/r["elapsed_seconds"]))' "$tmp/out-closed/report.json")
echo "closed loop: $CLIENTS clients, $capacity streams/s (Pow/10), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| rate | % of capacity | queue | duration | streams/s done | raw p50 / p99 ms | corrected p50 / p99 ms | corrected p99 1st s → last s | scheduled | started | dropped | late | unstarted | start delay p99 ms |"
echo "|---:|---:|---|---|---:|---|---|---|---:|---:|---:|---:|---:|---:|"
long=$(python3 -c "import re,sys; m=re.fullmatch(r'(\d+)s', sys.argv[1]); print(str(3*int(m.group(1)))+'s')" "$DURATION")
for spec in "50 $DURATION -" "80 $DURATION -" "95 $DURATION -" "110 $DURATION -" "110 $long -" \
	"110 $DURATION 0" "110 $DURATION unbounded" "110 $long unbounded"; do
	# shellcheck disable=SC2086 # spec is three words on purpose
	set -- $spec
	pct=$1 dur=$2 queue=$3
	rate=$((capacity * pct / 100))
	name="open-$pct-$dur-$queue"
	if [ "$queue" = - ]; then
		scenario "$name" "$dur" "    arrival: {rate: $rate/s}"
	else
		scenario "$name" "$dur" "    arrival: {rate: $rate/s, queue: $queue}"
	fi
	run "$name"
	python3 -c '
import json,sys
r=json.load(open(sys.argv[1])); g=r["groups"][0]; a=g["arrival"]
done=g["ends"].get("complete",0)/r["elapsed_seconds"]
win=[w["latency_corrected"]["p99_ms"] for w in r["windows"]
     if w["group"]==g["name"] and "latency_corrected" in w and w["offset_seconds"] <= float(sys.argv[4][:-1])]
fmt=lambda v: "%.1f ms" % v if v < 1000 else "%.2f s" % (v/1000)
trend="%s → %s" % (fmt(win[0]), fmt(win[-1])) if len(win) > 1 else ""
queue={"-": "%s (clients)" % sys.argv[6]}.get(sys.argv[5], sys.argv[5])
print("| %s/s | %s%% | %s | %s | %.0f | %.1f / %.1f | %.1f / %.1f | %s | %d | %d | %d | %d | %d | %.1f |" % (
  sys.argv[2], sys.argv[3], queue, sys.argv[4], done,
  g["latency"]["p50_ms"], g["latency"]["p99_ms"],
  g["latency_corrected"]["p50_ms"], g["latency_corrected"]["p99_ms"], trend,
  a["scheduled"], a["started"], a["dropped"], a["late"], a.get("unstarted",0), a["start_delay"]["p99_ms"]))' \
		"$tmp/out-$name/report.json" "$rate" "$pct" "$dur" "$queue" "$CLIENTS"
done
echo
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
