#!/usr/bin/env bash
# The floor of one extra hop: 4 KiB PUT and GET at 32 clients against the bare backend
# ("base"), against cloudstore-floor-proxy in front of it ("floor": forwards verbatim, no
# auth, no metadata), against nginx as a reverse proxy ("nginx", when nginx is installed: the
# same hop in the most tuned C proxy) and, when OURS_ENDPOINT is set, against cloudstore
# ("ours"), ROUNDS times in turn. Prints ops/s and the CPU per request of the process in front of the backend.
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
  NGINX           the nginx binary; default: nginx on PATH, if any ("" leaves nginx out)
  NGINX_LISTEN    default 127.0.0.1:39200
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
NGINX=${NGINX-$(command -v nginx || true)}
NGINX_LISTEN=${NGINX_LISTEN:-127.0.0.1:39200}
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

# wait_up NAME ADDR PID: until ADDR answers HTTP; fails if PID has gone or it takes over 5 s.
wait_up() {
  for _ in $(seq 1 50); do
    curl -s -o /dev/null "http://$2/" && return 0
    kill -0 "$3" 2>/dev/null || break
    sleep 0.1
  done
  die "$1 did not start"
}

PIDS_TO_STOP=()
WORK=$(mktemp -d "${TMPDIR:-/tmp}/bench-floor.XXXX")
trap 'kill "${PIDS_TO_STOP[@]}" 2>/dev/null || true; rm -rf "$WORK"' EXIT

"$BIN_DIR/cloudstore-floor-proxy" --listen "$FLOOR_LISTEN" --backend "$BASE_ENDPOINT" 2>/dev/null &
FLOOR_PID=$!
PIDS_TO_STOP+=("$FLOOR_PID")
wait_up "the floor proxy" "$FLOOR_LISTEN" "$FLOOR_PID"
SIDES=(base floor)

# nginx as a plain reverse proxy, set up as one would for S3 in production: one worker (the
# gateway's runtime is one thread too), keep-alive to the backend, bodies not buffered in
# either direction, no access log, the client's Host passed on so its signature still holds.
if [ -n "$NGINX" ]; then
  mkdir -p "$WORK/nginx"
  cat >"$WORK/nginx/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $WORK/nginx/body;
  proxy_temp_path $WORK/nginx/proxy;
  tcp_nodelay on;
  keepalive_requests 1000000;
  client_max_body_size 0;
  upstream backend { server ${BASE_ENDPOINT#http://}; keepalive 64; keepalive_requests 1000000; }
  server {
    listen $NGINX_LISTEN;
    location / {
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host \$http_host;
      proxy_request_buffering off;
      proxy_buffering off;
    }
  }
}
EOF
  "$NGINX" -c "$WORK/nginx/nginx.conf" -e "$WORK/nginx/error.log" 2>/dev/null &
  NGINX_MASTER=$!
  PIDS_TO_STOP+=("$NGINX_MASTER")
  wait_up nginx "$NGINX_LISTEN" "$NGINX_MASTER"
  # The worker does the work; the master only watches it.
  NGINX_WORKER=$(pgrep -P "$NGINX_MASTER" | head -n 1)
  [ -n "$NGINX_WORKER" ] || die "nginx has no worker process"
  SIDES+=(nginx)
else
  log "no nginx on PATH: leaving it out (apt-get install nginx-light to include it)"
fi
[ -n "$OURS_ENDPOINT" ] && SIDES+=(ours)

# loadgen SIDE ARGS...: the floor and nginx are reached with the backend's own keys (they
# forward the client's signature); the first watched pid is the process in front of the backend.
loadgen() {
  local side=$1
  shift
  local ep=$BASE_ENDPOINT ak=$BASE_ACCESS_KEY sk=$BASE_SECRET_KEY pids=()
  case $side in
    floor) ep=http://$FLOOR_LISTEN pids=(--server-pid "$FLOOR_PID") ;;
    nginx) ep=http://$NGINX_LISTEN pids=(--server-pid "$NGINX_WORKER") ;;
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
