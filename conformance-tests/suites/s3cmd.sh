# s3cmd checks; sourced by run.sh (uses its check/assert helpers, $WORK and new_bucket).
# shellcheck shell=bash disable=SC2034 # SUITE is read by run.sh
#
# A config file is generated in the temp dir: path-style (host_bucket without %(bucket)s),
# signature v4, https only when the endpoint is https.

s3c() { s3cmd --config "$WORK/s3cfg" "$@"; }

write_s3cfg() {
  local scheme=${AWS_ENDPOINT_URL%%://*} hostport=${AWS_ENDPOINT_URL#*://} https=False
  hostport=${hostport%%/*}
  [[ $scheme == https ]] && https=True
  cat >"$WORK/s3cfg" <<EOF
[default]
access_key = $AWS_ACCESS_KEY_ID
secret_key = $AWS_SECRET_ACCESS_KEY
access_token = ${AWS_SESSION_TOKEN:-}
host_base = $hostport
host_bucket = $hostport
use_https = $https
signature_v2 = False
bucket_location = $AWS_REGION
ca_certs_file = ${AWS_CA_BUNDLE:-}
EOF
}

s3cmd_mb() {
  local out
  out=$(s3c mb "s3://$B")
  assert_contains "Bucket 's3://$B/' created" "$out" "s3cmd mb output"
  out=$(s3c ls)
  assert_contains "s3://$B" "$out" "s3cmd ls (the bucket list)"
}

s3cmd_put() {
  gen "$D/small.bin" 123457 21
  printf 'spaces and unicode\n' >"$D/name.txt"
  s3c put "$D/small.bin" "s3://$B/small.bin"
  s3c put "$D/name.txt" "s3://$B/dir/file with spaces ü.txt"
}

# 20 MiB > s3cmd's 15 MiB multipart chunk: a 2-part upload (its debug log shows the parts; the
# plain output does not when stdout is not a terminal).
s3cmd_put_multipart() {
  gen "$D/big20.bin" $((20 * 1024 * 1024)) 22
  s3c --debug put "$D/big20.bin" "s3://$B/big20.bin" >"$D/put.log" 2>&1 || die "$(tail -n 3 "$D/put.log")"
  grep -q "MultiPart: Uploading .* in 2 parts" "$D/put.log" || die "s3cmd did not upload in 2 parts"
  local out
  out=$(s3c info "s3://$B/big20.bin")
  assert_match "File size: +20971520" "$out" "s3cmd info"
}

s3cmd_get() {
  s3c get "s3://$B/small.bin" "$D/small.down"
  assert_same_file "$D/small.bin" "$D/small.down"
  s3c get "s3://$B/big20.bin" "$D/big20.down"
  assert_same_file "$D/big20.bin" "$D/big20.down"
  s3c get "s3://$B/dir/file with spaces ü.txt" "$D/name.down"
  assert_same_file "$D/name.txt" "$D/name.down"
}

s3cmd_ls() {
  local got
  got=$(s3c ls "s3://$B/" | awk '{ if ($1 == "DIR") print "DIR", $2; else print $3, $4 }' | LC_ALL=C sort)
  assert_eq "123457 s3://$B/small.bin
20971520 s3://$B/big20.bin
DIR s3://$B/dir/" "$got" "s3cmd ls s3://$B/"
  got=$(s3c ls --recursive "s3://$B/" | sed -E 's/^[^ ]+ +[^ ]+ +([0-9]+) +/\1 /' | LC_ALL=C sort)
  assert_eq "123457 s3://$B/small.bin
19 s3://$B/dir/file with spaces ü.txt
20971520 s3://$B/big20.bin" "$got" "s3cmd ls --recursive"
}

s3cmd_del() {
  s3c del "s3://$B/small.bin"
  local got
  got=$(s3c ls --recursive "s3://$B/")
  [[ $got != *small.bin* ]] || die "small.bin still listed after del: $got"
  assert_contains big20.bin "$got" "listing after del"
}

s3cmd_rb_not_empty() {
  local out
  if out=$(s3c rb "s3://$B" 2>&1); then
    s3c mb "s3://$B" >/dev/null 2>&1 || true # so the next check tests rb on its own merit
    die "s3cmd rb of a non-empty bucket succeeded: $out"
  fi
  assert_contains BucketNotEmpty "$out" "s3cmd rb error"
}

s3cmd_rb() {
  s3c del --recursive --force "s3://$B/"
  local out
  out=$(s3c rb "s3://$B")
  assert_contains "Bucket 's3://$B/' removed" "$out" "s3cmd rb output"
  out=$(s3c ls)
  [[ $out != *"s3://$B"* ]] || die "bucket still listed after rb: $out"
}

suite_s3cmd() {
  SUITE=s3cmd
  need s3cmd || return 0
  local B D
  B=$(new_bucket s3cmd)
  D="$WORK/s3cmd"
  mkdir -p "$D"
  write_s3cfg
  check mb s3cmd_mb
  check put s3cmd_put
  check put-20MiB-multipart s3cmd_put_multipart
  check get s3cmd_get
  check ls s3cmd_ls
  check del s3cmd_del
  check rb-not-empty-fails s3cmd_rb_not_empty
  check rb s3cmd_rb
  rm -rf "$D"
}
