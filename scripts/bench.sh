#!/usr/bin/env bash
# The standard benchmark matrix: the same cloudstore-loadgen runs against cloudstore ("ours") and
# against the bare S3 backend ("base"), interleaved case by case, then one table side by side.
# How to start the servers and what the targets mean: docs/benchmarks.md.
set -euo pipefail

usage() {
  cat <<'EOF'
usage: scripts/bench.sh            (everything is configured by environment variables)

Endpoints (at least one side; a side without an endpoint is skipped and shows "-"):
  BASE_ENDPOINT, BASE_ACCESS_KEY, BASE_SECRET_KEY   the bare backend; default to
                       CLOUDSTORE_TEST_S3_ENDPOINT / _ACCESS_KEY / _SECRET_KEY from the env
                       file of scripts/stack.sh
  BASE_PID             backend process to watch; default $CLOUDSTORE_STACK_DIR/s3.pid
  OURS_ENDPOINT        cloudstore, e.g. http://127.0.0.1:9000
  OURS_ACCESS_KEY, OURS_SECRET_KEY   default CLOUDSTORE_ROOT_ACCESS_KEY / _SECRET_KEY
  OURS_PID             the cloudstore process (gateway CPU and RSS come from it)
Run shape:
  CASES           default "put-4k get-4k head-4k get-64m put-64m list-10k list-100k put-64m-c32"
  DURATION        small ops and LIST, default 15s     LARGE_DURATION  64 MiB ops, default 20s
  WARMUP          small ops, default 2s               SMALL_CONC 32, LARGE_CONC 4, LIST_CONC 1
  LARGE_OBJECTS   64 MiB objects seeded for GET, default 8
  BENCH_BUCKET    default lg-bench (created on each side if missing)
  SKIP_SEED=1     reuse objects seeded by an earlier run into the same bucket
  SETTLE          pause after seeding, so the backend's own compaction does not land on the
                  first case (SeaweedFS's filer after 100,000 inserts), default 15 (seconds)
  RESULTS         JSON lines file, default /tmp/cloudstore-bench-DATE.jsonl
  LOADGEN         the binary; default: build it with cargo build --release -p cloudstore-loadgen
EOF
}
case "${1:-}" in -h | --help) usage; exit 0 ;; "") ;; *) usage >&2; exit 2 ;; esac

ROOT=$(cd "$(dirname "$0")/.." && pwd)

BASE_ENDPOINT=${BASE_ENDPOINT:-${CLOUDSTORE_TEST_S3_ENDPOINT:-}}
BASE_ACCESS_KEY=${BASE_ACCESS_KEY:-${CLOUDSTORE_TEST_S3_ACCESS_KEY:-}}
BASE_SECRET_KEY=${BASE_SECRET_KEY:-${CLOUDSTORE_TEST_S3_SECRET_KEY:-}}
if [ -z "${BASE_PID:-}" ] && [ -n "${CLOUDSTORE_STACK_DIR:-}" ] && [ -f "$CLOUDSTORE_STACK_DIR/s3.pid" ]; then
  BASE_PID=$(cat "$CLOUDSTORE_STACK_DIR/s3.pid")
fi
BASE_PID=${BASE_PID:-}
OURS_ENDPOINT=${OURS_ENDPOINT:-}
OURS_ACCESS_KEY=${OURS_ACCESS_KEY:-${CLOUDSTORE_ROOT_ACCESS_KEY:-}}
OURS_SECRET_KEY=${OURS_SECRET_KEY:-${CLOUDSTORE_ROOT_SECRET_KEY:-}}
OURS_PID=${OURS_PID:-}

CASES=${CASES:-"put-4k get-4k head-4k get-64m put-64m list-10k list-100k put-64m-c32"}
DURATION=${DURATION:-15s}
LARGE_DURATION=${LARGE_DURATION:-20s}
WARMUP=${WARMUP:-2s}
SMALL_CONC=${SMALL_CONC:-32}
LARGE_CONC=${LARGE_CONC:-4}
LIST_CONC=${LIST_CONC:-1}
LARGE_OBJECTS=${LARGE_OBJECTS:-8}
BUCKET=${BENCH_BUCKET:-lg-bench}
SKIP_SEED=${SKIP_SEED:-0}
SETTLE=${SETTLE:-15}
RESULTS=${RESULTS:-/tmp/cloudstore-bench-$(date +%Y%m%d-%H%M%S).jsonl}

log() { echo "bench: $*" >&2; }
die() { echo "bench: error: $*" >&2; exit 1; }

command -v python3 >/dev/null || die "python3 is needed to print the table"

SIDES=()
if [ -n "$BASE_ENDPOINT" ]; then
  [ -n "$BASE_ACCESS_KEY" ] && [ -n "$BASE_SECRET_KEY" ] || die "BASE_ACCESS_KEY and BASE_SECRET_KEY are needed"
  SIDES+=(base)
fi
if [ -n "$OURS_ENDPOINT" ]; then
  [ -n "$OURS_ACCESS_KEY" ] && [ -n "$OURS_SECRET_KEY" ] || die "OURS_ACCESS_KEY and OURS_SECRET_KEY are needed"
  SIDES+=(ours)
fi
[ ${#SIDES[@]} -gt 0 ] || { usage >&2; die "set BASE_ENDPOINT and/or OURS_ENDPOINT"; }
for pid in $BASE_PID $OURS_PID; do
  [ -r "/proc/$pid/stat" ] || die "pid $pid is not running"
done

if [ -z "${LOADGEN:-}" ]; then
  log "building cloudstore-loadgen (release)"
  (cd "$ROOT" && cargo build --release -q -p cloudstore-loadgen) || die "build failed"
  LOADGEN=${CARGO_TARGET_DIR:-$ROOT/target}/release/cloudstore-loadgen
fi
[ -x "$LOADGEN" ] || die "no loadgen binary at $LOADGEN"

: >"$RESULTS"
log "results: $RESULTS; sides: ${SIDES[*]}; cases: $CASES"

# loadgen SIDE ARGS...: runs the load generator against one side with its credentials in the
# environment (not on the command line) and its server pids (ours: gateway first, then backend).
loadgen() {
  local side=$1
  shift
  local pids=() ep ak sk
  if [ "$side" = ours ]; then
    ep=$OURS_ENDPOINT ak=$OURS_ACCESS_KEY sk=$OURS_SECRET_KEY
    [ -n "$OURS_PID" ] && pids+=(--server-pid "$OURS_PID")
  else
    ep=$BASE_ENDPOINT ak=$BASE_ACCESS_KEY sk=$BASE_SECRET_KEY
  fi
  # ours: the backend only after the gateway, so the first pid is always "the server" of that side
  if [ -n "$BASE_PID" ] && { [ "$side" = base ] || [ -n "$OURS_PID" ]; }; then pids+=(--server-pid "$BASE_PID"); fi
  AWS_ENDPOINT_URL=$ep AWS_ACCESS_KEY_ID=$ak AWS_SECRET_ACCESS_KEY=$sk \
    "$LOADGEN" --bucket "$BUCKET" --json "${pids[@]}" "$@"
}

# run CASE SIDE ARGS...: one measured run, appended to $RESULTS. Request errors are recorded (the
# table shows them); a run that could not start at all stops the script.
run() {
  local case=$1 side=$2 out rc=0
  shift 2
  log "$case on $side"
  out=$(loadgen "$side" "$@" 2> >(sed 's/^/    /' >&2)) || rc=$?
  [ "$rc" -le 1 ] && [ -n "$out" ] || die "$case on $side failed (exit $rc)"
  printf '{"case":"%s","side":"%s","result":%s}\n' "$case" "$side" "$out" >>"$RESULTS"
}

seed() {
  local side=$1
  shift
  [ "$SKIP_SEED" = 1 ] && return 0
  loadgen "$side" --seed-only "$@" >/dev/null 2> >(sed 's/^/    /' >&2) || die "seeding on $side failed"
}

has_case() { case " $CASES " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }

# idle RSS of our server before any load
if [ -n "$OURS_PID" ]; then
  idle_kib=$(awk '/^VmRSS:/ { print $2 }' "/proc/$OURS_PID/status")
  printf '{"case":"idle","side":"ours","result":{"rss_kib":%s}}\n' "$idle_kib" >>"$RESULTS"
fi

# seed once per side what the read cases need
for side in "${SIDES[@]}"; do
  if has_case get-4k || has_case head-4k; then seed "$side" --op get --size 4KiB --objects 256; fi
  if has_case get-64m; then seed "$side" --op get --size 64MiB --objects "$LARGE_OBJECTS"; fi
  if has_case list-10k; then seed "$side" --op list --objects 10000; fi
  if has_case list-100k; then seed "$side" --op list --objects 100000 --seed-concurrency 128; fi
done
if [ "$SKIP_SEED" != 1 ]; then
  log "seeded; settling for ${SETTLE}s"
  sleep "$SETTLE"
fi

SMALL=(--size 4KiB --concurrency "$SMALL_CONC" --duration "$DURATION" --warmup "$WARMUP")
for case in $CASES; do
  for side in "${SIDES[@]}"; do
    case $case in
      put-4k) run "$case" "$side" --op put "${SMALL[@]}" --cleanup ;;
      get-4k) run "$case" "$side" --op get "${SMALL[@]}" --objects 256 --no-seed --verify ;;
      head-4k) run "$case" "$side" --op head "${SMALL[@]}" --objects 256 --no-seed ;;
      get-64m)
        run "$case" "$side" --op get --size 64MiB --objects "$LARGE_OBJECTS" --no-seed --verify \
          --concurrency "$LARGE_CONC" --duration "$LARGE_DURATION" ;;
      put-64m)
        run "$case" "$side" --op put --size 64MiB --concurrency "$LARGE_CONC" --duration "$LARGE_DURATION" --cleanup ;;
      put-64m-c32)
        # 32 clients each upload one 64 MiB object (the run ends when they finish): peak RSS
        run "$case" "$side" --op put --size 64MiB --concurrency 32 --duration 1s --cleanup ;;
      list-10k) run "$case" "$side" --op list --objects 10000 --no-seed --verify --concurrency "$LIST_CONC" --duration "$DURATION" ;;
      list-100k) run "$case" "$side" --op list --objects 100000 --no-seed --verify --concurrency "$LIST_CONC" --duration "$DURATION" ;;
      *) die "unknown case $case" ;;
    esac
  done
done

python3 - "$RESULTS" <<'PY'
import json, sys

res = {}
for line in open(sys.argv[1]):
    r = json.loads(line)
    res[(r["case"], r["side"])] = r["result"]

def get(case, side):
    return res.get((case, side))

def srv(r):
    """The first watched server: the gateway on 'ours', the backend on 'base'."""
    return (r.get("server") or [None])[0] if r else None

def f(v, digits=1):
    return "-" if v is None else f"{v:,.{digits}f}"

# case: (metric, key, min ratio ours/base, gateway CPU limit (key, limit, unit))
TARGETS = {
    "put-4k": ("ops/s", "ops_per_s", 0.60, ("cpu_us_per_op", 150, "µs/op")),
    "get-4k": ("ops/s", "ops_per_s", 0.70, ("cpu_us_per_op", 150, "µs/op")),
    "head-4k": ("ops/s", "ops_per_s", 1.00, ("cpu_us_per_op", 150, "µs/op")),
    "get-64m": ("MiB/s", "mib_per_s", 0.75, ("cpu_ms_per_mib", 1.0, "ms/MiB")),
    "put-64m": ("MiB/s", "mib_per_s", 0.70, ("cpu_ms_per_mib", 3.0, "ms/MiB")),
    "list-10k": ("pages/s", "ops_per_s", None, None),
    "list-100k": ("pages/s", "ops_per_s", None, None),
    "put-64m-c32": ("MiB/s", "mib_per_s", None, None),
}
cases = []
for (c, _s) in res:
    if c not in cases and c != "idle":
        cases.append(c)

print()
print(f"{'case':<12} {'metric':<8} {'base':>10} {'ours':>10} {'ours/base':>9}  target")
verdicts = []
for c in cases:
    metric, key, ratio, cpu = TARGETS.get(c, ("ops/s", "ops_per_s", None, None))
    b, o = get(c, "base"), get(c, "ours")
    bv, ov = (b or {}).get(key), (o or {}).get(key)
    rel = ov / bv if bv and ov is not None else None
    target, ok = "", None
    if ratio is not None:
        target = f">= {ratio:.0%} of base"
        ok = None if rel is None else rel >= ratio
    print(f"{c:<12} {metric:<8} {f(bv):>10} {f(ov):>10} {f(rel and rel * 100, 0) + '%' if rel is not None else '-':>9}  {target}"
          + ("" if ok is None else ("  ok" if ok else "  MISS")))

print()
print(f"{'case':<12} {'side':<5} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'errors':>6} {'srv µs/op':>9} {'srv ms/MiB':>10} {'srv RSS max':>11} {'loadgen cpu s':>13}")
for c in cases:
    for side in ("base", "ours"):
        r = get(c, side)
        if not r:
            continue
        lat = r["latency_us"]
        s = srv(r) or {}
        print(f"{c:<12} {side:<5} {lat['p50']/1000:>8.2f} {lat['p99']/1000:>8.2f} {lat['max']/1000:>8.1f} {r['errors']:>6} "
              f"{f(s.get('cpu_us_per_op'), 0):>9} {f(s.get('cpu_ms_per_mib'), 2) if r['bytes'] else '-':>10} "
              f"{f(s.get('rss_max_mib')) + ' MiB' if s else '-':>11} {r['client_cpu_s']:>13.2f}")
        for e in r.get("error_samples", [])[:3]:
            print(f"{'':<12} error: {e}")

# the targets that need our server's own numbers
print()
print("gateway targets (ours; 'srv' above is the gateway process on ours, the backend on base):")
def line(name, value, limit, unit, le=True):
    if value is None:
        print(f"  {name:<44} {'-':>10}  (target <= {limit} {unit})")
        return
    ok = value <= limit if le else value >= limit
    print(f"  {name:<44} {value:>10.2f}  (target <= {limit} {unit}) {'ok' if ok else 'MISS'}")
for c in cases:
    t = TARGETS.get(c)
    if t and t[3]:
        key, limit, unit = t[3]
        line(f"{c} gateway CPU {unit}", (srv(get(c, "ours")) or {}).get(key), limit, unit)
o10, o100 = get("list-10k", "ours"), get("list-100k", "ours")
if "list-10k" in cases:
    line("LIST page p50 over 10,000 keys, ms", o10 and o10["latency_us"]["p50"] / 1000, 30, "ms")
if "list-100k" in cases:
    line("LIST page p50 over 100,000 keys, ms", o100 and o100["latency_us"]["p50"] / 1000, 30, "ms (and close to 10k)")
if "put-64m-c32" in cases:
    line("RSS max while 32 clients upload 64 MiB, MiB", (srv(get("put-64m-c32", "ours")) or {}).get("rss_max_mib"), 256, "MiB")
idle = get("idle", "ours")
line("RSS idle, MiB", idle and idle["rss_kib"] / 1024, 64, "MiB")
PY
log "raw results: $RESULTS"
