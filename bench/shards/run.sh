#!/usr/bin/env bash
# The 100,000-subscriber fan-out (scenarios/fanout.yaml --client-scale 20)
# against one `streambench serve` process, run two ways in one go:
#   one: a single streambench process drives all 100,000 subscribers;
#   4x:  four shard processes of 25,000 each (--shard i/4, a common
#        --start-at barrier), then streambench merge.
# Prints, per way: when every subscriber was established (all_open), the
# fan-out lag p50/p99, and each process's peak heap and goroutines.
# Usage: bench/shards/run.sh [OUT_DIR]   (bounded: each run ends by itself)
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:-out/bench-shards}
mkdir -p "$out"
go build -o "$out/streambench" ./cmd/streambench
sb="$out/streambench"
scale=${SCALE:-20}

"$sb" serve --addr 127.0.0.1:0 --rate 1/s --payload 64B --ring 64 --queue 64 >"$out/serve.txt" 2>&1 &
serve=$!
trap 'kill -INT $serve 2>/dev/null; wait $serve 2>/dev/null || true' EXIT
for _ in $(seq 100); do grep -q 'listening on' "$out/serve.txt" && break; sleep 0.1; done
addr=$(grep -o '127\.0\.0\.1:[0-9]*' "$out/serve.txt")

echo "== one process, $scale x fanout.yaml against serve at $addr"
/usr/bin/time -v "$sb" run --no-progress --target "$addr" --insecure --client-scale "$scale" --out "$out/one" scenarios/fanout.yaml \
  >"$out/one.txt" 2>"$out/one.time" || true
sleep 5

echo "== four shards"
at=$(date -u -d '+10 sec' +%Y-%m-%dT%H:%M:%SZ)
pids=()
for i in 0 1 2 3; do
  /usr/bin/time -v "$sb" run --no-progress --target "$addr" --insecure --client-scale "$scale" --shard "$i/4" --start-at "$at" \
    --out "$out/shard$i" scenarios/fanout.yaml >"$out/shard$i.txt" 2>"$out/shard$i.time" &
  pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || true; done
"$sb" merge --out "$out/merged" "$out"/shard{0,1,2,3}/report.json >"$out/merged.txt" 2>&1 || true

summary() { # report.json, label, time file
  python3 - "$1" "$2" "$3" <<'PY'
import json, re, sys
rep, label, tf = json.load(open(sys.argv[1])), sys.argv[2], sys.argv[3]
g = rep["groups"][0]
rss = ""
if tf:
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", open(tf).read())
    rss = f", peak RSS {int(m.group(1))/1024/1024:.2f} GiB" if m else ""
res = rep.get("resources") or {}
print(f"{label}: {g['clients']} subscribers, all established after {g.get('all_open_seconds', 0):.2f}s, "
      f"lag p50 {g['latency']['p50_ms']:.0f}ms p99 {g['latency']['p99_ms']:.0f}ms, "
      f"ends {g['ends']}, heap peak {res.get('peak_heap_bytes', 0)/2**30:.2f} GiB, "
      f"{res.get('heap_per_stream_bytes', 0)/1024:.1f} KiB/stream, goroutines {res.get('peak_goroutines', 0)}{rss}")
PY
}
summary "$out/one/report.json" "one process" "$out/one.time"
for i in 0 1 2 3; do summary "$out/shard$i/report.json" "shard $i/4" "$out/shard$i.time"; done
summary "$out/merged/report.json" "merged" ""
grep -E '^(PASS|FAIL|WARNING|merged from)' "$out/merged.txt" || true
