#!/usr/bin/env bash
# Share-link downloads against presigned GETs of the same objects, in the same run (issue #13's
# speed targets, ADR 0010): one `cloudstore serve` (the release build of $CARGO_TARGET_DIR, or
# CLOUDSTORE_BIN) on PostgreSQL + SeaweedFS of the test stack (or BACKEND=embedded), then
# scripts/bench-share.py: 64 MiB downloads (MiB/s, share/presigned) and 4 KiB downloads (the
# server process's CPU time per request from /proc/PID/stat, share/presigned), alternating the
# two sides round by round. Prints one line per round and the two ratios against the targets.
#
#   source "$(scripts/stack.sh start postgres s3)"   # or the dev stack's env
#   [ROUNDS=3] [LARGE_N=8] [LARGE_CONC=2] [SMALL_N=3000] [SMALL_CONC=8] scripts/bench-share.sh
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=scripts/bench-backend.sh
source "$(dirname "$0")/bench-backend.sh" cloudstore-bench-share
T=${CARGO_TARGET_DIR:-/var/tmp/cloudstore/target}
BIN=${CLOUDSTORE_BIN:-$T/release/cloudstore}
PYTHON=${PYTHON:-python3}
PORT=${PORT:-19110}
[ -x "$BIN" ] || { echo "bench-share.sh: build $BIN (cargo build --release -p cloudstore)" >&2; exit 2; }
export AWS_ACCESS_KEY_ID=benchroot AWS_SECRET_ACCESS_KEY=$(head -c 20 /dev/urandom | od -An -tx1 | tr -d ' \n')
export AWS_ENDPOINT_URL=http://127.0.0.1:$PORT AWS_DEFAULT_REGION=us-east-1
DIR=$(mktemp -d /tmp/cloudstore-bench-share.XXXX)
env "${BACKEND_ENV[@]}" CLOUDSTORE_ROOT_ACCESS_KEY=$AWS_ACCESS_KEY_ID \
  CLOUDSTORE_ROOT_SECRET_KEY=$AWS_SECRET_ACCESS_KEY CLOUDSTORE_LISTEN=127.0.0.1:$PORT CLOUDSTORE_DATA_DIR=$DIR \
  "$BIN" serve >"$DIR/server.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true; rm -rf "$DIR/blobs" "$DIR/metadata.sqlite"*' EXIT
for _ in $(seq 1 100); do curl -sf "$AWS_ENDPOINT_URL/health/ready" >/dev/null && break; sleep 0.1; done
SERVER_PID=$SERVER "$PYTHON" "$HERE/bench-share.py"
