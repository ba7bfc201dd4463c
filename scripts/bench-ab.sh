#!/usr/bin/env bash
# A/B of two cloudstore builds on the same backends: rounds that alternate A and B, each round a
# fresh `cloudstore serve` of one build on PostgreSQL + SeaweedFS, 4 KiB PUT then 4 KiB GET
# (cloudstore-loadgen, 32 clients). Prints one line per run and the B/A ratios per round, so a
# change's cost is measured side by side in one run on this noisy machine (docs/benchmarks.md).
#
#   A_BIN=old/cloudstore B_BIN=new/cloudstore [ROUNDS=4] [DURATION=10s] scripts/bench-ab.sh
#
# A_ENV / B_ENV add (or override) settings of one side's server (space-separated NAME=value),
# so one build can be compared with a setting on and off, or two builds whose schemas differ
# run on databases of their own (CLOUDSTORE_POSTGRES_URL=...), e.g. events:
#   A_BIN=$T/cloudstore B_BIN=$T/cloudstore A_ENV=CLOUDSTORE_EVENTS=off scripts/bench-ab.sh
#
# Needs the test stack's env (source "$(scripts/stack.sh start postgres s3)"; durable PostgreSQL
# with CLOUDSTORE_STACK_PG_DURABLE=1 for numbers you report) and LOADGEN (default: the release
# cloudstore-loadgen of $CARGO_TARGET_DIR).
set -euo pipefail
: "${A_BIN:?A_BIN: the first cloudstore binary}" "${B_BIN:?B_BIN: the second cloudstore binary}"
: "${CLOUDSTORE_TEST_POSTGRES_URL:?source the test stack env first}"
ROUNDS=${ROUNDS:-4}
DURATION=${DURATION:-10s}
LOADGEN=${LOADGEN:-${CARGO_TARGET_DIR:-/var/tmp/cloudstore/target}/release/cloudstore-loadgen}
[ -x "$LOADGEN" ] || { echo "bench-ab.sh: no loadgen at $LOADGEN (cargo build --release -p cloudstore-loadgen)" >&2; exit 2; }
ROOT_AK=benchroot
ROOT_SK=$(head -c 20 /dev/urandom | od -An -tx1 | tr -d ' \n')
PORT=${PORT:-19000}
RESULTS=${RESULTS:-/tmp/cloudstore-bench-ab-$(date +%Y%m%d-%H%M%S).jsonl}
: >"$RESULTS"
SERVER=""
trap '[ -z "$SERVER" ] || kill "$SERVER" 2>/dev/null || true' EXIT

# serve BIN [NAME=value ...]: a fresh server of BIN on $PORT (its own data dir and backend
# bucket) with the extra settings; sets SERVER.
serve() {
  local dir; dir=$(mktemp -d /tmp/cloudstore-ab.XXXX)
  local bin=$1; shift
  env CLOUDSTORE_POSTGRES_URL=$CLOUDSTORE_TEST_POSTGRES_URL CLOUDSTORE_S3_ENDPOINT=$CLOUDSTORE_TEST_S3_ENDPOINT \
    CLOUDSTORE_S3_ACCESS_KEY=$CLOUDSTORE_TEST_S3_ACCESS_KEY CLOUDSTORE_S3_SECRET_KEY=$CLOUDSTORE_TEST_S3_SECRET_KEY \
    CLOUDSTORE_S3_BUCKET=cloudstore-ab CLOUDSTORE_ROOT_ACCESS_KEY=$ROOT_AK CLOUDSTORE_ROOT_SECRET_KEY=$ROOT_SK \
    CLOUDSTORE_LISTEN=127.0.0.1:$PORT CLOUDSTORE_DATA_DIR=$dir "$@" "$bin" serve >"$dir/server.log" 2>&1 &
  SERVER=$!
  for _ in $(seq 1 100); do
    curl -sf "http://127.0.0.1:$PORT/health/ready" >/dev/null && return 0
    sleep 0.1
  done
  echo "bench-ab.sh: $bin did not become ready" >&2
  tail -20 "$dir/server.log" >&2
  exit 1
}

# one SIDE OP: a measured run; prints "ops/s µs-per-request" and appends the JSON.
one() {
  local side=$1 op=$2 out
  out=$(AWS_ACCESS_KEY_ID=$ROOT_AK AWS_SECRET_ACCESS_KEY=$ROOT_SK "$LOADGEN" --endpoint "http://127.0.0.1:$PORT" \
    --bucket lg-ab --op "$op" --size 4KiB --concurrency 32 --duration "$DURATION" --warmup 2s \
    --server-pid "$SERVER" --json 2>/dev/null)
  printf '%s\n' "$out" | python3 -c 'import json,sys; j=json.load(sys.stdin); j["side"]=sys.argv[1]; print(json.dumps(j))' "$side" >>"$RESULTS"
  printf '%s\n' "$out" | python3 -c '
import json, sys
j = json.load(sys.stdin)
cpu = j["server"][0]["cpu_us_per_op"] if j.get("server") else float("nan")
errors, rate = j.get("errors"), j["ops_per_s"]
if errors:
    sys.exit(f"bench-ab.sh: {errors} request errors")
print(f"{rate:.0f} {cpu:.0f}")'
}

printf 'round side  put/s  put-µs  get/s  get-µs\n'
declare -A PUT GET
for r in $(seq 1 "$ROUNDS"); do
  for side in A B; do
    bin=$A_BIN extra=${A_ENV:-}; [ "$side" = B ] && bin=$B_BIN extra=${B_ENV:-}
    # shellcheck disable=SC2086 # NAME=value words
    serve "$bin" $extra
    read -r put put_cpu < <(one "$side" put)
    read -r get get_cpu < <(one "$side" get)
    kill "$SERVER"; wait "$SERVER" 2>/dev/null || true; SERVER=""
    PUT[$r$side]=$put GET[$r$side]=$get
    printf '%5s %4s %6s %7s %6s %7s\n' "$r" "$side" "$put" "$put_cpu" "$get" "$get_cpu"
  done
  python3 -c "import sys; a,b,c,d=map(float,sys.argv[1:]); print(f'      B/A: PUT {b/a:.1%}  GET {d/c:.1%}')" \
    "${PUT[${r}A]}" "${PUT[${r}B]}" "${GET[${r}A]}" "${GET[${r}B]}"
done
echo "results: $RESULTS"
