#!/usr/bin/env bash
# SSE-S3 against no encryption, in the same run (issue #14 item 5's speed target, ADR 0014):
# one `cloudstore serve` (the release build of $CARGO_TARGET_DIR, or CLOUDSTORE_BIN) on
# PostgreSQL + SeaweedFS of the test stack (or the embedded backends), two buckets, one plain and one with default SSE-S3
# encryption; rounds that alternate the two, each 64 MiB GET (4 clients, verified) then 64 MiB
# PUT (4 clients), with cloudstore-loadgen. Prints one line per run and the SSE/plain ratios.
#
#   source "$(scripts/stack.sh start postgres s3)"   # or the dev stack's env
#   [ROUNDS=2] [DURATION=20s] scripts/bench-sse.sh
set -euo pipefail
# BACKEND=embedded: SQLite + local files instead (when the S3 backend is busy or throttling).
BACKEND=${BACKEND:-postgres-s3}
if [ "$BACKEND" = postgres-s3 ]; then
  : "${CLOUDSTORE_TEST_POSTGRES_URL:?source the test stack env first}"
  BACKEND_ENV=(CLOUDSTORE_POSTGRES_URL=$CLOUDSTORE_TEST_POSTGRES_URL CLOUDSTORE_S3_ENDPOINT=$CLOUDSTORE_TEST_S3_ENDPOINT
    CLOUDSTORE_S3_ACCESS_KEY=$CLOUDSTORE_TEST_S3_ACCESS_KEY CLOUDSTORE_S3_SECRET_KEY=$CLOUDSTORE_TEST_S3_SECRET_KEY
    CLOUDSTORE_S3_BUCKET=cloudstore-bench-sse)
else
  BACKEND_ENV=()
fi
T=${CARGO_TARGET_DIR:-/var/tmp/cloudstore/target}
BIN=${CLOUDSTORE_BIN:-$T/release/cloudstore}
LOADGEN=${LOADGEN:-$T/release/cloudstore-loadgen}
ROUNDS=${ROUNDS:-2}
DURATION=${DURATION:-20s}
PORT=${PORT:-19100}
for b in "$BIN" "$LOADGEN"; do [ -x "$b" ] || { echo "bench-sse.sh: build $b (cargo build --release -p cloudstore -p cloudstore-loadgen)" >&2; exit 2; }; done
export AWS_ACCESS_KEY_ID=benchroot AWS_SECRET_ACCESS_KEY=$(head -c 20 /dev/urandom | od -An -tx1 | tr -d ' \n')
export AWS_ENDPOINT_URL=http://127.0.0.1:$PORT AWS_DEFAULT_REGION=us-east-1
DIR=$(mktemp -d /tmp/cloudstore-bench-sse.XXXX)
env "${BACKEND_ENV[@]}" CLOUDSTORE_ROOT_ACCESS_KEY=$AWS_ACCESS_KEY_ID \
  CLOUDSTORE_ROOT_SECRET_KEY=$AWS_SECRET_ACCESS_KEY CLOUDSTORE_LISTEN=127.0.0.1:$PORT CLOUDSTORE_DATA_DIR=$DIR \
  "$BIN" serve >"$DIR/server.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true; rm -rf "$DIR/blobs" "$DIR/metadata.sqlite"*' EXIT
for _ in $(seq 1 100); do curl -sf "$AWS_ENDPOINT_URL/health/ready" >/dev/null && break; sleep 0.1; done
TAG=$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')
PLAIN=lg-plain-$TAG SSE=lg-sse-$TAG
aws s3api create-bucket --bucket "$PLAIN" >/dev/null
aws s3api create-bucket --bucket "$SSE" >/dev/null
aws s3api put-bucket-encryption --bucket "$SSE" \
  --server-side-encryption-configuration '{"Rules":[{"ApplyServerSideEncryptionByDefault":{"SSEAlgorithm":"AES256"}}]}'
for b in "$PLAIN" "$SSE"; do
  "$LOADGEN" --bucket "$b" --op get --size 64MiB --objects 8 --seed-only >/dev/null
done
# The seeded objects of the SSE bucket are encrypted (the default applied to them).
aws s3api head-object --bucket "$SSE" --key lg/obj-64MiB/00000000 --query ServerSideEncryption --output text |
  grep -q AES256 || { echo "bench-sse.sh: the SSE bucket's objects are not encrypted" >&2; exit 1; }
one() { # BUCKET OP -> MiB/s
  "$LOADGEN" --bucket "$1" --op "$2" --size 64MiB --concurrency 4 --duration "$DURATION" --warmup 2s \
    $([ "$2" = get ] && echo "--objects 8 --no-seed --verify" || echo "--cleanup") --server-pid "$SERVER" --json |
    python3 -c 'import json,sys; j=json.load(sys.stdin); s=(j.get("server") or [{}])[0]; print(round(j["mib_per_s"], 1), s.get("cpu_ms_per_mib", 0), j["errors"])'
}
for r in $(seq 1 "$ROUNDS"); do
  for op in get put; do
    p=$(one "$PLAIN" $op); s=$(one "$SSE" $op)
    read -r pm pc pe <<<"$p"; read -r sm sc se <<<"$s"
    ratio=$(python3 -c "print(round(100*$sm/max($pm,0.001)))")
    echo "round $r 64MiB $op: plain $pm MiB/s ($pc ms server CPU/MiB, $pe errors), sse-s3 $sm MiB/s ($sc ms server CPU/MiB, $se errors): sse-s3 at ${ratio}%"
  done
done
