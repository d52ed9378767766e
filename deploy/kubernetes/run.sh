#!/bin/sh
# Runs a sharded streambench run on Kubernetes and exits with its verdict:
# applies the manifests of this folder into a namespace (created if absent),
# with the storage class of the reports volume and the image as parameters,
# deletes a previous run's Jobs first (Jobs are immutable), waits for the
# shards' Job to complete or fail, runs the merge Job, prints its report
# and the verdict, and exits with the merge's exit code:
#   0 every assertion passed, 1 one failed, 2 the reports do not belong to
#   one run, 3 a shard or the merge broke, or a wait ran out of time.
# POSIX sh; no GNU-only flags, so it runs on Linux and macOS alike.
# Usage: deploy/kubernetes/run.sh -h
set -eu

usage() {
	cat <<'USAGE'
usage: run.sh [flags]
  -n NAMESPACE      namespace to run in, created if absent ($NAMESPACE; default streambench)
  -s STORAGECLASS   storage class of the reports volume: it must offer ReadWriteMany
                    (NFS, CephFS, EFS, Filestore...) ($STORAGE_CLASS; default: the cluster's
                    default class, which often does not)
  -i IMAGE          streambench image ($IMAGE; default ghcr.io/streambench/streambench:latest)
  -t HOST:PORT      the service the shards load ($TARGET; default the reference target of
                    target.yaml in the namespace, streambench-target.NAMESPACE.svc.cluster.local:7070)
  -f SCENARIO.yaml  the scenario every shard runs ($SCENARIO; default configmap.yaml's)
  -r                also deploy target.yaml (streambench's reference servers) and wait for it
  -d SECONDS        start barrier this far ahead of applying the shards ($START_DELAY; default 120)
  -w SECONDS        how long to wait for the shards, then for the merge ($WAIT; default 1200)
  -o DIR            render the manifests into DIR and exit, without kubectl (to review them)
The shard count is the Job's: completions, parallelism and SHARDS in job.yaml,
and one report per shard in merge-job.yaml (README.md says how).
USAGE
}

here=$(cd "$(dirname "$0")" && pwd)
NAMESPACE=${NAMESPACE:-streambench}
STORAGE_CLASS=${STORAGE_CLASS:-}
IMAGE=${IMAGE:-ghcr.io/streambench/streambench:latest}
TARGET=${TARGET:-}
SCENARIO=${SCENARIO:-}
START_DELAY=${START_DELAY:-120}
WAIT=${WAIT:-1200}
POLL=${POLL:-5}
KUBECTL=${KUBECTL:-kubectl}
with_target=false
render_only=""

while getopts n:s:i:t:f:rd:w:o:h opt; do
	case $opt in
	n) NAMESPACE=$OPTARG ;;
	s) STORAGE_CLASS=$OPTARG ;;
	i) IMAGE=$OPTARG ;;
	t) TARGET=$OPTARG ;;
	f) SCENARIO=$OPTARG ;;
	r) with_target=true ;;
	d) START_DELAY=$OPTARG ;;
	w) WAIT=$OPTARG ;;
	o) render_only=$OPTARG ;;
	h) usage; exit 0 ;;
	*) usage >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
if [ $# -ne 0 ]; then
	echo "run.sh: unexpected argument $1" >&2; usage >&2; exit 2
fi

fail() { # fail CODE MESSAGE: says why and exits with CODE
	code=$1; shift
	echo "run.sh: $*" >&2
	exit "$code"
}

case $NAMESPACE in
'' | *[!a-z0-9-]* | -* | *-) fail 2 "-n $NAMESPACE: a namespace is lower-case letters, digits and '-' (RFC 1123 label)" ;;
esac
case $STORAGE_CLASS in
*[!a-z0-9.-]*) fail 2 "-s $STORAGE_CLASS: a storage class name is lower-case letters, digits, '-' and '.'" ;;
esac
for n in "$START_DELAY" "$WAIT" "$POLL"; do
	case $n in '' | *[!0-9]*) fail 2 "'$n' is not a whole number of seconds (-d, -w)" ;; esac
done
if [ "$START_DELAY" -gt 3000 ]; then
	fail 2 "-d $START_DELAY: streambench refuses a start barrier more than an hour away; at most 3000"
fi
case $IMAGE in '' | *[[:space:]\"\\]*) fail 2 "-i '$IMAGE' is not an image reference" ;; esac
TARGET=${TARGET:-streambench-target.$NAMESPACE.svc.cluster.local:7070}
case $TARGET in *:[0-9]*) ;; *) fail 2 "-t $TARGET: want host:port" ;; esac
case $TARGET in *[[:space:]\"\\]*) fail 2 "-t '$TARGET' is not a host:port" ;; esac
if [ -n "$SCENARIO" ] && [ ! -f "$SCENARIO" ]; then
	fail 2 "-f $SCENARIO: no such file"
fi

# rfc3339 EPOCH prints the UTC time EPOCH as 2006-01-02T15:04:05Z, with
# shell arithmetic only (BSD and GNU date disagree on how to format a time
# other than now). Civil-from-days after H. Hinnant's algorithm.
rfc3339() {
	s=$1
	days=$((s / 86400)); rem=$((s % 86400))
	z=$((days + 719468)); era=$((z / 146097)); doe=$((z - era * 146097))
	yoe=$(((doe - doe / 1460 + doe / 36524 - doe / 146096) / 365))
	y=$((yoe + era * 400)); doy=$((doe - (365 * yoe + yoe / 4 - yoe / 100)))
	mp=$(((5 * doy + 2) / 153)); d=$((doy - (153 * mp + 2) / 5 + 1))
	if [ "$mp" -lt 10 ]; then m=$((mp + 3)); else m=$((mp - 9)); fi
	if [ "$m" -le 2 ]; then y=$((y + 1)); fi
	printf '%04d-%02d-%02dT%02d:%02d:%02dZ\n' "$y" "$m" "$d" $((rem / 3600)) $((rem % 3600 / 60)) $((rem % 60))
}

# render FILE [START_AT] prints a manifest of this folder with the
# parameters substituted: the image, the target, the storage class and the
# start barrier. A line the substitution expects and does not find fails.
render() {
	awk -v image="$IMAGE" -v target="$TARGET" -v sc="$STORAGE_CLASS" -v start="${2:-}" -v file="$1" '
		/^ *image: streambench:dev$/ { sub(/streambench:dev/, image); seen["image"] = 1 }
		/^ *value: "streambench-target\.default\.svc\.cluster\.local:7070"$/ { sub(/"[^"]*"/, "\"" target "\""); seen["target"] = 1 }
		/^ *value: "2030-01-01T00:00:00Z"$/ && start != "" { sub(/"[^"]*"/, "\"" start "\""); seen["start"] = 1 }
		{ print }
		/^  accessModes: \["ReadWriteMany"\]$/ { seen["pvc"] = 1; if (sc != "") print "  storageClassName: \"" sc "\"" }
		END {
			if (file ~ /job\.yaml$|target\.yaml$/ && !seen["image"]) { print file ": no image: streambench:dev line to substitute" > "/dev/stderr"; exit 1 }
			if (file == "job.yaml" && !(seen["target"] && (start == "" || seen["start"]))) { print file ": no TARGET or START_AT value to substitute" > "/dev/stderr"; exit 1 }
			if (file ~ /pvc\.yaml$/ && !seen["pvc"]) { print file ": no accessModes line" > "/dev/stderr"; exit 1 }
		}' "$here/$1"
}

# render_all DIR [START_AT] renders every manifest into DIR.
render_all() {
	mkdir -p "$1"
	for f in configmap.yaml pvc.yaml target.yaml merge-job.yaml; do
		render "$f" >"$1/$f" || fail 2 "$f: the template changed: run.sh cannot substitute its parameters"
	done
	render job.yaml "${2:-}" >"$1/job.yaml" || fail 2 "job.yaml: the template changed: run.sh cannot substitute its parameters"
}

if [ -n "$render_only" ]; then
	render_all "$render_only" "$(rfc3339 $(($(date -u +%s) + START_DELAY)))"
	echo "rendered into $render_only (namespace $NAMESPACE: kubectl -n $NAMESPACE apply -f $render_only)"
	exit 0
fi

command -v "$KUBECTL" >/dev/null 2>&1 || fail 2 "$KUBECTL not found on PATH"
rendered=$(mktemp -d)
trap 'rm -rf "$rendered"' EXIT
render_all "$rendered"
k() { "$KUBECTL" --namespace "$NAMESPACE" "$@"; }

# job_state JOB prints Complete, Failed or nothing (still running), from
# the Job's conditions.
job_state() {
	conds=$(k get job "$1" -o 'jsonpath={range .status.conditions[?(@.status=="True")]}{.type}{" "}{end}') || return 1
	case " $conds " in
	*" Failed "* | *" FailureTarget "*) echo Failed ;;
	*" Complete "*) echo Complete ;;
	esac
}

# wait_job JOB SECONDS waits until JOB completed or failed and prints which;
# it returns 1 when SECONDS run out first.
wait_job() {
	deadline=$(($(date -u +%s) + $2))
	while :; do
		state=$(job_state "$1") || state=""
		if [ -n "$state" ]; then
			echo "$state"
			return 0
		fi
		if [ "$(date -u +%s)" -ge "$deadline" ]; then
			return 1
		fi
		sleep "$POLL"
	done
}

echo "== namespace $NAMESPACE"
if ! k get namespace "$NAMESPACE" >/dev/null 2>&1; then
	"$KUBECTL" create namespace "$NAMESPACE"
fi

echo "== a previous run's Jobs (Jobs are immutable: they are deleted, not updated)"
k delete job streambench-shards streambench-merge --ignore-not-found --wait=true --timeout=120s

echo "== the scenario, the reports volume${STORAGE_CLASS:+ (storage class $STORAGE_CLASS)}"
if [ -n "$SCENARIO" ]; then
	k create configmap streambench-scenario --from-file=scenario.yaml="$SCENARIO" --dry-run=client -o yaml | k apply -f -
else
	k apply -f "$rendered/configmap.yaml"
fi
if [ -z "$STORAGE_CLASS" ]; then
	echo "no -s: the reports volume uses the cluster's default storage class, which must offer ReadWriteMany"
fi
k apply -f "$rendered/pvc.yaml"

if [ "$with_target" = true ]; then
	echo "== the reference target"
	k apply -f "$rendered/target.yaml"
	k rollout status deployment/streambench-target --timeout="${WAIT}s" || fail 3 "the target did not become ready within ${WAIT}s"
fi

start=$(rfc3339 $(($(date -u +%s) + START_DELAY)))
echo "== the shards: start barrier $start, target $TARGET"
render job.yaml "$start" >"$rendered/job.yaml" || fail 2 "job.yaml: the template changed: run.sh cannot substitute its parameters"
k apply -f "$rendered/job.yaml"
if ! state=$(wait_job streambench-shards "$((START_DELAY + WAIT))"); then
	k get pods -l app.kubernetes.io/component=shard -o wide || true
	k describe pvc streambench-reports | tail -n 10 || true
	fail 3 "the shards neither completed nor failed within $((START_DELAY + WAIT))s (a Pending pod often means the volume found no ReadWriteMany storage class: -s)"
fi
if [ "$state" = Failed ]; then
	k logs -l app.kubernetes.io/component=shard --prefix --tail=20 || true
	echo "verdict: 3 (a shard broke: its logs are above)"
	exit 3
fi

echo "== the merge"
k apply -f "$rendered/merge-job.yaml"
if ! state=$(wait_job streambench-merge "$WAIT"); then
	fail 3 "the merge neither completed nor failed within ${WAIT}s"
fi
k logs job/streambench-merge || true
code=0
if [ "$state" = Failed ]; then
	code=$(k get pods -l job-name=streambench-merge -o 'jsonpath={.items[0].status.containerStatuses[0].state.terminated.exitCode}') || code=""
	case $code in '' | *[!0-9]* | 0) code=3 ;; esac
fi
case $code in
0) meaning="every assertion passed" ;;
1) meaning="an assertion failed" ;;
2) meaning="the reports do not belong to one run" ;;
*) meaning="a shard or the merge broke" ;;
esac
echo "verdict: $code ($meaning); the merged report is /reports/merged on the volume streambench-reports (README.md: read the HTML)"
exit "$code"
