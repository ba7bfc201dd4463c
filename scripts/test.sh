#!/usr/bin/env bash
# The whole test suite, as CI runs it: installs what is missing, starts the real backends the
# tests need (PostgreSQL, Redis, ClickHouse, the S3 backend and Kafka) on private ports, then runs
#   1. cargo fmt --check and clippy -D warnings,
#   2. every unit, store-conformance and integration test (both backend sets),
#   3. the client conformance suite (aws-cli, rclone, boto3, s3cmd, aws-sdk-rust) and the
#      IAM/STS suite (aws iam / aws sts, as an account created by `cloudstore admin`) against
#      `cloudstore serve` on the embedded backends and on PostgreSQL + Redis + S3, and the IAM/STS
#      suite again against `iam` + `s3-frontend` run apart (gRPC),
# and stops every service it started. Any failure fails the run; nothing is skipped.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/var/tmp/cloudstore/target}
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}
step() { printf '\n==> %s (%s)\n' "$*" "$(date +%T)"; }

step "installing clients"
scripts/install-clients.sh

step "starting PostgreSQL, Redis, ClickHouse, the S3 backend and Kafka (Tansu)"
# kafka: Tansu, built from source once per machine into the tools dir (scripts/stack.sh install
# kafka skips the build when the binary is there). The env file also names the Tansu binary
# (CLOUDSTORE_TEST_TANSU_BIN) for the notifier's fault tests, which start brokers of their own.
ENV_FILE=$(scripts/stack.sh start postgres redis clickhouse s3 kafka)
# shellcheck disable=SC1090
source "$ENV_FILE"
SERVER_PIDS=()
cleanup() {
  for p in "${SERVER_PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
  scripts/stack.sh stop "$CLOUDSTORE_STACK_DIR" >&2 || true
}
trap cleanup EXIT

step "format and lints"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings

step "unit, store conformance and integration tests"
if command -v cargo-nextest >/dev/null 2>&1; then
  cargo nextest run --workspace --locked --no-fail-fast --profile ci
else
  cargo test --workspace --locked --no-fail-fast
fi

step "client conformance"
cargo build --locked -p cloudstore -p conformance-tests -p s3-frontend -p cloudstore-iam
BIN="$CARGO_TARGET_DIR/debug"
export CONFORMANCE_BIN="$BIN/conformance-tests"
ROOT_AK="CSROOT$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n' | tr a-f A-F)"
ROOT_SK="$(od -An -N20 -tx1 /dev/urandom | tr -d ' \n')"

# Starts `cloudstore serve` with the given extra environment on a free port; sets SERVER_URL.
start_server() {
  local name=$1; shift
  local port; port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  local dir; dir=$(mktemp -d "/tmp/cloudstore-$name.XXXX")
  env "$@" CLOUDSTORE_LISTEN="127.0.0.1:$port" CLOUDSTORE_DATA_DIR="$dir" \
    CLOUDSTORE_ROOT_ACCESS_KEY="$ROOT_AK" CLOUDSTORE_ROOT_SECRET_KEY="$ROOT_SK" \
    "$BIN/cloudstore" serve >"$dir/server.log" 2>&1 &
  SERVER_PIDS+=($!)
  SERVER_URL="http://127.0.0.1:$port"
  for _ in $(seq 1 100); do
    curl -sf "$SERVER_URL/health/ready" >/dev/null && return 0
    sleep 0.1
  done
  echo "cloudstore ($name) did not become ready; log:" >&2
  tail -50 "$dir/server.log" >&2
  return 1
}

run_conformance() {
  local name=$1
  step "conformance: $name"
  AWS_ENDPOINT_URL=$SERVER_URL AWS_ACCESS_KEY_ID=$ROOT_AK AWS_SECRET_ACCESS_KEY=$ROOT_SK \
    CONFORMANCE_BUCKET_PREFIX="conf-$name" conformance-tests/run.sh
  run_iam_conformance "$name"
}

run_iam_conformance() {
  local name=$1
  step "IAM conformance: $name (an account made with \`cloudstore admin account create\`)"
  local account; account=$(CLOUDSTORE_ENDPOINT=$SERVER_URL CLOUDSTORE_ROOT_ACCESS_KEY=$ROOT_AK \
    CLOUDSTORE_ROOT_SECRET_KEY=$ROOT_SK "$BIN/cloudstore" admin account create "conf-$name-$RANDOM")
  local ak sk
  ak=$(printf '%s' "$account" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_key"]["access_key_id"])')
  sk=$(printf '%s' "$account" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_key"]["secret_access_key"])')
  AWS_ENDPOINT_URL=$SERVER_URL AWS_ACCESS_KEY_ID=$ak AWS_SECRET_ACCESS_KEY=$sk conformance-tests/iam.sh
}

start_server embedded
run_conformance embedded
start_server postgres-s3 \
  CLOUDSTORE_POSTGRES_URL="$CLOUDSTORE_TEST_POSTGRES_URL" \
  CLOUDSTORE_REDIS_URL="$CLOUDSTORE_TEST_REDIS_URL" \
  CLOUDSTORE_S3_ENDPOINT="$CLOUDSTORE_TEST_S3_ENDPOINT" \
  CLOUDSTORE_S3_ACCESS_KEY="$CLOUDSTORE_TEST_S3_ACCESS_KEY" \
  CLOUDSTORE_S3_SECRET_KEY="$CLOUDSTORE_TEST_S3_SECRET_KEY" \
  CLOUDSTORE_S3_BUCKET="cloudstore-conformance"
run_conformance postgres-s3

# The production topology: `iam` and `s3-frontend` as separate processes, talking gRPC with a
# service token (what compose/ deploys), on PostgreSQL + Redis + S3.
step "services apart: iam + s3-frontend over gRPC"
SERVICE_TOKEN=$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')
IAM_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
IAM_DIR=$(mktemp -d /tmp/cloudstore-iam.XXXX)
CLOUDSTORE_IAM_LISTEN="127.0.0.1:$IAM_PORT" CLOUDSTORE_DATA_DIR="$IAM_DIR" \
  CLOUDSTORE_POSTGRES_URL="$CLOUDSTORE_TEST_POSTGRES_URL" CLOUDSTORE_REDIS_URL="$CLOUDSTORE_TEST_REDIS_URL" \
  CLOUDSTORE_IAM_SERVICE_TOKEN="$SERVICE_TOKEN" "$BIN/iam" >"$IAM_DIR/iam.log" 2>&1 &
SERVER_PIDS+=($!)
FE_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
FE_DIR=$(mktemp -d /tmp/cloudstore-fe.XXXX)
CLOUDSTORE_LISTEN="127.0.0.1:$FE_PORT" CLOUDSTORE_DATA_DIR="$FE_DIR" \
  CLOUDSTORE_ROOT_ACCESS_KEY="$ROOT_AK" CLOUDSTORE_ROOT_SECRET_KEY="$ROOT_SK" \
  CLOUDSTORE_POSTGRES_URL="$CLOUDSTORE_TEST_POSTGRES_URL" \
  CLOUDSTORE_S3_ENDPOINT="$CLOUDSTORE_TEST_S3_ENDPOINT" CLOUDSTORE_S3_ACCESS_KEY="$CLOUDSTORE_TEST_S3_ACCESS_KEY" \
  CLOUDSTORE_S3_SECRET_KEY="$CLOUDSTORE_TEST_S3_SECRET_KEY" CLOUDSTORE_S3_BUCKET="cloudstore-conformance" \
  CLOUDSTORE_IAM_GRPC="http://127.0.0.1:$IAM_PORT" CLOUDSTORE_IAM_SERVICE_TOKEN="$SERVICE_TOKEN" \
  "$BIN/s3-frontend" >"$FE_DIR/server.log" 2>&1 &
SERVER_PIDS+=($!)
SERVER_URL="http://127.0.0.1:$FE_PORT"
ready=0
for _ in $(seq 1 150); do
  if curl -sf "$SERVER_URL/health/ready" >/dev/null; then ready=1; break; fi
  sleep 0.2
done
if [ "$ready" != 1 ]; then
  echo "s3-frontend + iam did not become ready; logs:" >&2
  tail -30 "$IAM_DIR/iam.log" "$FE_DIR/server.log" >&2
  exit 1
fi
run_iam_conformance services-apart

step "all tests passed"
