#!/usr/bin/env bash
# The authorization benchmark of issue #3: 4 KiB GETs at 32 concurrent clients through a running
# cloudstore, once signed by the platform admin's root key (no policy to evaluate) and once by an
# IAM user whose inline policy has 10 statements (the allowing one last), on the same bucket and
# objects, alternating ROUNDS times. Prints each run and the ratio of the means; the target is
# ops/s with policies ≥ 90% of ops/s with the root key.
#
# Environment: OURS_ENDPOINT (default http://127.0.0.1:9000), CLOUDSTORE_ROOT_ACCESS_KEY /
# CLOUDSTORE_ROOT_SECRET_KEY (the server's root key pair), OURS_PID (optional: gateway CPU),
# DURATION (15s), WARMUP (2s), ROUNDS (2), LOADGEN and CLOUDSTORE (binaries; default the release
# builds in $CARGO_TARGET_DIR).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
T=${CARGO_TARGET_DIR:-/var/tmp/cloudstore/target}
EP=${OURS_ENDPOINT:-http://127.0.0.1:9000}
LOADGEN=${LOADGEN:-$T/release/cloudstore-loadgen}
CLOUDSTORE=${CLOUDSTORE:-$T/release/cloudstore}
DURATION=${DURATION:-15s}
WARMUP=${WARMUP:-2s}
ROUNDS=${ROUNDS:-2}
: "${CLOUDSTORE_ROOT_ACCESS_KEY:?set the root key pair of the server}" "${CLOUDSTORE_ROOT_SECRET_KEY:?}"
log() { printf '[bench-iam] %s\n' "$*" >&2; }
json_field() { python3 -c "import json,sys; d=json.load(sys.stdin); print(d$1)"; }
xml_field() { python3 -c "import re,sys; print(re.search(r'<$1>([^<]*)</$1>', sys.stdin.read()).group(1))"; }

run_id=$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')
bucket="lg-iam-$run_id"
log "account bench-$run_id"
acct=$(CLOUDSTORE_ENDPOINT=$EP "$CLOUDSTORE" admin account create "bench-$run_id")
acct_ak=$(printf '%s' "$acct" | json_field '["access_key"]["access_key_id"]')
acct_sk=$(printf '%s' "$acct" | json_field '["access_key"]["secret_access_key"]')
as_acct() { CLOUDSTORE_ENDPOINT=$EP "$CLOUDSTORE" admin --access-key "$acct_ak" --secret-key "$acct_sk" iam "$@"; }

# Ten statements: nine that do not grant this request (other buckets, other prefixes, conditions,
# a Deny elsewhere), then the one that does.
policy=$(cat <<JSON
{"Version":"2012-10-17","Statement":[
 {"Sid":"s1","Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws:s3:::other-1"},
 {"Sid":"s2","Effect":"Allow","Action":["s3:PutObject","s3:DeleteObject"],"Resource":"arn:aws:s3:::other-2/*"},
 {"Sid":"s3","Effect":"Deny","Action":"s3:*","Resource":"arn:aws:s3:::secret-bucket/*"},
 {"Sid":"s4","Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::$bucket/private/*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}},
 {"Sid":"s5","Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::logs-*/\${aws:username}/*"},
 {"Sid":"s6","Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws:s3:::$bucket","Condition":{"StringLike":{"s3:prefix":["home/\${aws:username}/*"]}}},
 {"Sid":"s7","Effect":"Deny","Action":"s3:DeleteBucket","Resource":"*"},
 {"Sid":"s8","Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::archive/*","Condition":{"DateLessThan":{"aws:CurrentTime":"2020-01-01T00:00:00Z"}}},
 {"Sid":"s9","Effect":"Allow","Action":["s3:GetBucketLocation","s3:ListAllMyBuckets","s3:ListBucket"],"Resource":"*"},
 {"Sid":"s10","Effect":"Allow","Action":["s3:GetObject","s3:HeadObject"],"Resource":"arn:aws:s3:::$bucket/*"}
]}
JSON
)
as_acct CreateUser UserName=bench >/dev/null
as_acct PutUserPolicy UserName=bench PolicyName=ten-statements "PolicyDocument=$policy" >/dev/null
key_xml=$(as_acct CreateAccessKey UserName=bench)
user_ak=$(printf '%s' "$key_xml" | xml_field AccessKeyId)
user_sk=$(printf '%s' "$key_xml" | xml_field SecretAccessKey)

log "seeding $bucket as the account root"
AWS_ENDPOINT_URL=$EP AWS_ACCESS_KEY_ID=$acct_ak AWS_SECRET_ACCESS_KEY=$acct_sk \
  "$LOADGEN" --bucket "$bucket" --op get --size 4KiB --objects 256 --seed-only >/dev/null

pids=()
[ -n "${OURS_PID:-}" ] && pids=(--server-pid "$OURS_PID")
declare -A total=([root]=0 [policy]=0)
for round in $(seq 1 "$ROUNDS"); do
  for who in root policy; do
    if [ "$who" = root ]; then ak=$CLOUDSTORE_ROOT_ACCESS_KEY sk=$CLOUDSTORE_ROOT_SECRET_KEY; else ak=$user_ak sk=$user_sk; fi
    errlog=$(mktemp)
    out=$(AWS_ENDPOINT_URL=$EP AWS_ACCESS_KEY_ID=$ak AWS_SECRET_ACCESS_KEY=$sk "$LOADGEN" --bucket "$bucket" \
      --op get --size 4KiB --objects 256 --no-seed --concurrency 32 --duration "$DURATION" --warmup "$WARMUP" \
      --json "${pids[@]}" 2>"$errlog") || { log "loadgen failed ($who):"; cat "$errlog" >&2; exit 1; }
    rm -f "$errlog"
    ops=$(printf '%s' "$out" | json_field '["ops_per_s"]')
    errs=$(printf '%s' "$out" | json_field '.get("errors", 0)')
    cpu=$(printf '%s' "$out" | python3 -c 'import json,sys; d=json.load(sys.stdin); s=d.get("server") or []; print(round(s[0]["cpu_us_per_op"]) if s and s[0].get("cpu_us_per_op") is not None else "-")' 2>/dev/null || echo -)
    printf 'round %s  %-6s  %10.0f ops/s  errors %s  gateway CPU/op %s us\n' "$round" "$who" "$ops" "$errs" "$cpu"
    total[$who]=$(python3 -c "print(${total[$who]} + $ops)")
  done
done
python3 -c "r=${total[root]}/$ROUNDS; p=${total[policy]}/$ROUNDS; print(f'mean root {r:.0f} ops/s, with a 10-statement policy {p:.0f} ops/s: {100*p/r:.1f}% (target >= 90%)')"
