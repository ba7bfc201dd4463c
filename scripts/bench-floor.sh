#!/usr/bin/env bash
# The floor of one extra hop: 4 KiB PUT and GET at 32 clients against the bare backend
# ("base"), against cloudstore-floor-proxy in front of it ("floor": forwards verbatim, no
# auth, no metadata) and, when OURS_ENDPOINT is set, against cloudstore ("ours"), ROUNDS times
# in turn. Prints ops/s and the CPU per request of the process in front of the backend.
# What it is for: docs/benchmarks.md, "The floor of one extra hop".
set -euo pipefail

usage() {
  cat <<'EOF'
usage: scripts/bench-floor.sh      (configured by environment variables, like scripts/bench.sh)

  BASE_ENDPOINT, BASE_ACCESS_KEY, BASE_SECRET_KEY   the bare backend; default to
                  CLOUDSTORE_TEST_S3_* from the env file of scripts/stack.sh
  BASE_PID        backend process; default $CLOUDSTORE_STACK_DIR/s3.pid
  OURS_ENDPOINT, OURS_ACCESS_KEY, OURS_SECRET_KEY, OURS_PID   cloudstore (optional)
  FLOOR_LISTEN    default 127.0.0.1:39100
  OPS             default "put get"     ROUNDS  default 2     DURATION  default 10s
  CONCURRENCY     default 32            BENCH_BUCKET  default lg-bench
  BIN_DIR         where cloudstore-loadgen and cloudstore-floor-proxy are; default: build
                  them with cargo build --release -p cloudstore-loadgen
EOF
}
case "${1:-}" in -h | --help) usage; exit 0 ;; "") ;; *) usage >&2; exit 2 ;; esac

ROOT=$(cd "$(dirname "$0")/.." && pwd)
log() { echo "bench-floor: $*" >&2; }
die() { echo "bench-floor: error: $*" >&2; exit 1; }

BASE_ENDPOINT=${BASE_ENDPOINT:-${CLOUDSTORE_TEST_S3_ENDPOINT:-}}
BASE_ACCESS_KEY=${BASE_ACCESS_KEY:-${CLOUDSTORE_TEST_S3_ACCESS_KEY:-}}
BASE_SECRET_KEY=${BASE_SECRET_KEY:-${CLOUDSTORE_TEST_S3_SECRET_KEY:-}}
if [ -z "${BASE_PID:-}" ] && [ -n "${CLOUDSTORE_STACK_DIR:-}" ] && [ -f "$CLOUDSTORE_STACK_DIR/s3.pid" ]; then
  BASE_PID=$(cat "$CLOUDSTORE_STACK_DIR/s3.pid")
fi
[ -n "$BASE_ENDPOINT" ] && [ -n "$BASE_ACCESS_KEY" ] && [ -n "$BASE_SECRET_KEY" ] && [ -n "${BASE_PID:-}" ] \
  || { usage >&2; die "the bare backend's endpoint, keys and pid are needed"; }
OURS_ENDPOINT=${OURS_ENDPOINT:-}
OURS_ACCESS_KEY=${OURS_ACCESS_KEY:-${CLOUDSTORE_ROOT_ACCESS_KEY:-}}
OURS_SECRET_KEY=${OURS_SECRET_KEY:-${CLOUDSTORE_ROOT_SECRET_KEY:-}}
OURS_PID=${OURS_PID:-}
if [ -n "$OURS_ENDPOINT" ]; then
  [ -n "$OURS_ACCESS_KEY" ] && [ -n "$OURS_SECRET_KEY" ] && [ -n "$OURS_PID" ] || die "OURS_* keys and OURS_PID are needed"
fi
FLOOR_LISTEN=${FLOOR_LISTEN:-127.0.0.1:39100}
OPS=${OPS:-"put get"}
ROUNDS=${ROUNDS:-2}
DURATION=${DURATION:-10s}
CONCURRENCY=${CONCURRENCY:-32}
BUCKET=${BENCH_BUCKET:-lg-bench}

if [ -z "${BIN_DIR:-}" ]; then
  log "building cloudstore-loadgen and cloudstore-floor-proxy (release)"
  (cd "$ROOT" && cargo build --release -q -p cloudstore-loadgen) || die "build failed"
  BIN_DIR=${CARGO_TARGET_DIR:-$ROOT/target}/release
fi
for b in cloudstore-loadgen cloudstore-floor-proxy; do [ -x "$BIN_DIR/$b" ] || die "no $b in $BIN_DIR"; done

"$BIN_DIR/cloudstore-floor-proxy" --listen "$FLOOR_LISTEN" --backend "$BASE_ENDPOINT" 2>/dev/null &
FLOOR_PID=$!
trap 'kill $FLOOR_PID 2>/dev/null || true' EXIT
for _ in $(seq 1 50); do
  curl -s -o /dev/null "http://$FLOOR_LISTEN/" && break
  sleep 0.1
done
kill -0 $FLOOR_PID 2>/dev/null || die "the floor proxy did not start"

SIDES=(base floor)
[ -n "$OURS_ENDPOINT" ] && SIDES+=(ours)

# loadgen SIDE ARGS...: the floor is reached with the backend's own keys (it forwards the
# client's signature); the first watched pid is the process in front of the backend.
loadgen() {
  local side=$1
  shift
  local ep=$BASE_ENDPOINT ak=$BASE_ACCESS_KEY sk=$BASE_SECRET_KEY pids=()
  case $side in
    floor) ep=http://$FLOOR_LISTEN pids=(--server-pid "$FLOOR_PID") ;;
    ours) ep=$OURS_ENDPOINT ak=$OURS_ACCESS_KEY sk=$OURS_SECRET_KEY pids=(--server-pid "$OURS_PID") ;;
  esac
  pids+=(--server-pid "$BASE_PID")
  AWS_ENDPOINT_URL=$ep AWS_ACCESS_KEY_ID=$ak AWS_SECRET_ACCESS_KEY=$sk \
    "$BIN_DIR/cloudstore-loadgen" --bucket "$BUCKET" --json "${pids[@]}" "$@"
}

printf '%-4s %-5s %5s %10s %16s %16s\n' op side round ops/s "front µs/op" "backend µs/op"
for op in $OPS; do
  extra=(--cleanup)
  if [ "$op" = get ]; then
    for side in "${SIDES[@]}"; do loadgen "$side" --seed-only --op get --size 4KiB --objects 256 >/dev/null 2>&1 || die "seeding on $side failed"; done
    extra=(--objects 256 --no-seed)
  fi
  for round in $(seq 1 "$ROUNDS"); do
    for side in "${SIDES[@]}"; do
      out=$(loadgen "$side" --op "$op" --size 4KiB --concurrency "$CONCURRENCY" --duration "$DURATION" \
        --warmup 1s "${extra[@]}" 2>/dev/null) || die "$op on $side failed"
      python3 -c '
import json, sys
r = json.loads(sys.argv[1]); s = r["server"]
front = "-" if sys.argv[3] == "base" else "%.0f" % s[0]["cpu_us_per_op"]
print("%-4s %-5s %5s %10.0f %16s %16.0f" % (sys.argv[2], sys.argv[3], sys.argv[4], r["ops_per_s"], front, s[-1]["cpu_us_per_op"]))
' "$out" "$op" "$side" "$round"
    done
  done
done
