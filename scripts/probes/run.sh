#!/usr/bin/env bash
# The hardening probes of docs/benchmarks.md against one cloudstore binary, on the embedded
# backends, loopback only: whole-read bodies (bodies.py, SIZE_MIB=20 and 7) and 300 idle
# connections under `ulimit -n 256` (connections.py).
#
#   scripts/probes/run.sh path/to/cloudstore      (python3 with boto3 and requests)
set -euo pipefail
BIN=${1:?usage: scripts/probes/run.sh path/to/cloudstore}
HERE=$(cd "$(dirname "$0")" && pwd)
PY=${PYTHON:-python3}
AK=PROBEROOT$RANDOM SK=$(head -c 20 /dev/urandom | od -An -tx1 | tr -d ' \n')
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_ready() { for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$1/health/ready" >/dev/null && return 0; sleep 0.1; done; return 1; }
keys() { python3 -c 'import json,sys; k=json.load(sys.stdin)["access_key"]; print(k["access_key_id"], k["secret_access_key"])'; }

for size in 20 7; do
  dir=$(mktemp -d /tmp/cloudstore-probe.XXXX) p=$(port)
  CLOUDSTORE_DATA_DIR=$dir CLOUDSTORE_LISTEN=127.0.0.1:$p CLOUDSTORE_ROOT_ACCESS_KEY=$AK \
    CLOUDSTORE_ROOT_SECRET_KEY=$SK "$BIN" serve >"$dir/log" 2>&1 &
  pid=$!
  wait_ready "$p"
  admin() { CLOUDSTORE_ENDPOINT=http://127.0.0.1:$p CLOUDSTORE_ROOT_ACCESS_KEY=$AK CLOUDSTORE_ROOT_SECRET_KEY=$SK "$BIN" admin "$@"; }
  read -r oa os < <(admin account create "owner$RANDOM" | keys)
  read -r sa ss < <(admin account create "stranger$RANDOM" | keys)
  SIZE_MIB=$size "$PY" "$HERE/bodies.py" "http://127.0.0.1:$p" "$pid" "$oa" "$os" "$sa" "$ss"
  kill "$pid"; wait "$pid" 2>/dev/null || true
done

dir=$(mktemp -d /tmp/cloudstore-probe.XXXX) p=$(port)
(ulimit -n 256; CLOUDSTORE_DATA_DIR=$dir CLOUDSTORE_LISTEN=127.0.0.1:$p CLOUDSTORE_ROOT_ACCESS_KEY=$AK \
  CLOUDSTORE_ROOT_SECRET_KEY=$SK exec "$BIN" serve >"$dir/log" 2>&1) &
pid=$!
wait_ready "$p"
"$PY" "$HERE/connections.py" 127.0.0.1 "$p" "$dir/log"
kill "$pid"; wait "$pid" 2>/dev/null || true
