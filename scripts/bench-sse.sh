#!/usr/bin/env bash
# A bucket feature on against off, in the same run, with cloudstore-loadgen against one
# `cloudstore serve` (the release build of $CARGO_TARGET_DIR, or CLOUDSTORE_BIN) on PostgreSQL +
# SeaweedFS of the test stack (or BACKEND=embedded): two buckets, one plain and one with the
# feature; rounds that alternate the two, each a GET run (verified) then a PUT run. Prints one
# line per run pair and the feature/plain ratio.
#
#   FEATURE=sse (default): default SSE-S3 encryption, 64 MiB objects, 4 clients
#                          (issue #14 item 5's speed target, ADR 0014);
#   FEATURE=versioning:    versioning Enabled, 4 KiB objects, 16 clients (issue #14's
#                          versioning target, ADR 0017).
#
#   source "$(scripts/stack.sh start postgres s3)"   # or the dev stack's env
#   [FEATURE=sse|versioning] [ROUNDS=2] [DURATION=20s] [SIZE=..] [CONCURRENCY=..] scripts/bench-sse.sh
set -euo pipefail
FEATURE=${FEATURE:-sse}
case $FEATURE in
  sse) SIZE=${SIZE:-64MiB} CONCURRENCY=${CONCURRENCY:-4} OBJECTS=8 ;;
  versioning) SIZE=${SIZE:-4KiB} CONCURRENCY=${CONCURRENCY:-16} OBJECTS=256 ;;
  *) echo "bench-sse.sh: FEATURE is sse or versioning" >&2; exit 2 ;;
esac
# BACKEND=embedded: SQLite + local files instead (when the S3 backend is busy or throttling).
# shellcheck source=scripts/bench-backend.sh
source "$(dirname "$0")/bench-backend.sh" cloudstore-bench-sse
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
PLAIN=lg-plain-$TAG ON=lg-$FEATURE-$TAG
aws s3api create-bucket --bucket "$PLAIN" >/dev/null
aws s3api create-bucket --bucket "$ON" >/dev/null
if [ "$FEATURE" = sse ]; then
  aws s3api put-bucket-encryption --bucket "$ON" \
    --server-side-encryption-configuration '{"Rules":[{"ApplyServerSideEncryptionByDefault":{"SSEAlgorithm":"AES256"}}]}'
else
  aws s3api put-bucket-versioning --bucket "$ON" --versioning-configuration Status=Enabled
fi
for b in "$PLAIN" "$ON"; do
  "$LOADGEN" --bucket "$b" --op get --size "$SIZE" --objects "$OBJECTS" --seed-only >/dev/null
done
# The seeded objects of the feature's bucket have it (the default applied to them).
if [ "$FEATURE" = sse ]; then
  aws s3api head-object --bucket "$ON" --key "lg/obj-$SIZE/00000000" --query ServerSideEncryption --output text |
    grep -q AES256 || { echo "bench-sse.sh: the SSE bucket's objects are not encrypted" >&2; exit 1; }
else
  aws s3api head-object --bucket "$ON" --key "lg/obj-$SIZE/00000000" --query VersionId --output text |
    grep -qv None || { echo "bench-sse.sh: the versioned bucket's objects have no version id" >&2; exit 1; }
fi
one() { # BUCKET OP -> MiB/s, ops/s, server CPU ms/MiB, server CPU µs/op, errors
  "$LOADGEN" --bucket "$1" --op "$2" --size "$SIZE" --concurrency "$CONCURRENCY" --duration "$DURATION" --warmup 2s \
    $([ "$2" = get ] && echo "--objects $OBJECTS --no-seed --verify" || echo "--cleanup") --server-pid "$SERVER" --json |
    python3 -c 'import json,sys; j=json.load(sys.stdin); s=(j.get("server") or [{}])[0]; print(round(j["mib_per_s"], 1), round(j.get("ops_per_s", 0)), s.get("cpu_ms_per_mib", 0), s.get("cpu_us_per_op", 0), j["errors"])'
}
for r in $(seq 1 "$ROUNDS"); do
  for op in get put; do
    p=$(one "$PLAIN" $op); s=$(one "$ON" $op)
    read -r pm po pc pu pe <<<"$p"; read -r sm so sc su se <<<"$s"
    ratio=$(python3 -c "print(round(100*$sm/max($pm,0.001)))")
    echo "round $r $SIZE $op: plain $pm MiB/s $po op/s ($pc ms CPU/MiB, $pu µs CPU/op, $pe errors), $FEATURE $sm MiB/s $so op/s ($sc ms CPU/MiB, $su µs CPU/op, $se errors): $FEATURE at ${ratio}%"
  done
done
