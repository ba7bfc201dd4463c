#!/usr/bin/env bash
# Client conformance suite: drives aws-cli, rclone, boto3, s3cmd and aws-sdk-rust against the
# S3 endpoint in AWS_ENDPOINT_URL and prints "N passed, N failed" as its last line.
#
# Environment (the only configuration):
#   AWS_ENDPOINT_URL            endpoint, e.g. http://127.0.0.1:9000            (required)
#   AWS_ACCESS_KEY_ID           access key                                      (required)
#   AWS_SECRET_ACCESS_KEY       secret key                                      (required)
#   AWS_SESSION_TOKEN           session token for temporary keys                (optional)
#   AWS_REGION                  region for SigV4                           (default us-east-1)
#   CONFORMANCE_BUCKET_PREFIX   prefix of every bucket the suite creates        (default conf)
#   CONFORMANCE_SUITES          which suites to run      (default "awscli rclone boto3 s3cmd rust";
#                               also "browser": headless Chromium through CORS)
#   CONFORMANCE_BIN             prebuilt conformance-tests binary (default: cargo build it)
#   CONFORMANCE_KEEP_TMP        set to 1 to keep the temp dir for debugging
#
# Every check prints "PASS <suite>/<check>" or "FAIL <suite>/<check>: <reason>". A client that is
# missing counts as a failure: a suite that silently skips is a defect.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
HELPERS="$HERE/helpers.py"
PYTHON=${PYTHON:-python3}

: "${AWS_ENDPOINT_URL:?set AWS_ENDPOINT_URL to the S3 endpoint under test}"
: "${AWS_ACCESS_KEY_ID:?set AWS_ACCESS_KEY_ID}"
: "${AWS_SECRET_ACCESS_KEY:?set AWS_SECRET_ACCESS_KEY}"
export AWS_REGION=${AWS_REGION:-us-east-1}
export AWS_DEFAULT_REGION=$AWS_REGION
export CONFORMANCE_BUCKET_PREFIX=${CONFORMANCE_BUCKET_PREFIX:-conf}
SUITES=${CONFORMANCE_SUITES:-awscli rclone boto3 s3cmd rust}
AWS_ENDPOINT_URL=${AWS_ENDPOINT_URL%/}
export AWS_ENDPOINT_URL

# Hermetic client configuration: no profile files, the clients' default checksum behaviour,
# path-style addressing (as every client here is configured: works with any endpoint host).
WORK=$(mktemp -d "${TMPDIR:-/tmp}/conformance.XXXXXX")
printf '[default]\ns3 =\n    addressing_style = path\n' >"$WORK/aws-config"
: >"$WORK/aws-credentials"
export AWS_CONFIG_FILE="$WORK/aws-config" AWS_SHARED_CREDENTIALS_FILE="$WORK/aws-credentials"
unset AWS_PROFILE AWS_DEFAULT_PROFILE AWS_REQUEST_CHECKSUM_CALCULATION \
  AWS_RESPONSE_CHECKSUM_VALIDATION AWS_S3_ADDRESSING_STYLE
export PYTHONIOENCODING=utf-8 LC_ALL=C.UTF-8 LANG=C.UTF-8
export AWS_PAGER=""

RUN_ID=$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')
export CONFORMANCE_RUN_ID=$RUN_ID
PASSED=0
FAILED=0
SUITE=setup
BUCKETS_FILE="$WORK/buckets"
: >"$BUCKETS_FILE"
# boto3_suite.py and the Rust binary append the buckets they create here too.
export CONFORMANCE_BUCKETS_FILE=$BUCKETS_FILE

cleanup() {
  local b
  if command -v aws >/dev/null 2>&1; then
    while read -r b; do
      [[ -n $b ]] || continue
      if aws --endpoint-url "$AWS_ENDPOINT_URL" s3api head-bucket --bucket "$b" >/dev/null 2>&1; then
        echo "cleanup: removing leftover bucket $b" >&2
        aws --endpoint-url "$AWS_ENDPOINT_URL" s3 rb --force "s3://$b" >/dev/null 2>&1 ||
          echo "cleanup: could not remove bucket $b" >&2
      fi
    done <"$BUCKETS_FILE"
  fi
  if [[ ${CONFORMANCE_KEEP_TMP:-0} == 1 ]]; then
    echo "kept temp dir $WORK" >&2
  else
    rm -rf "$WORK"
  fi
}
trap cleanup EXIT

# shellcheck source=conformance-tests/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
sha() { sha256sum "$1" | cut -d' ' -f1; }
assert_same_file() { # EXPECTED_FILE ACTUAL_FILE
  [[ -f "$2" ]] || die "missing file $2"
  local a b
  a=$(sha "$1")
  b=$(sha "$2")
  [[ $a == "$b" ]] || die "sha256 of $2 ($b) differs from $1 ($a)"
}
# Manifest of a directory tree: "sha256  ./relative/path" per file, sorted.
tree_manifest() {
  (cd "$1" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum)
}
assert_same_tree() { # EXPECTED_DIR ACTUAL_DIR
  local d
  d=$(diff <(tree_manifest "$1") <(tree_manifest "$2")) || die "trees differ: $d"
}
gen() { "$PYTHON" "$HELPERS" gen "$@"; }
helper() { "$PYTHON" "$HELPERS" "$@"; }

# new_bucket SUITE: a fresh, unique, valid bucket name, recorded for the final cleanup.
BUCKET_SEQ=0
new_bucket() {
  BUCKET_SEQ=$((BUCKET_SEQ + 1))
  local b="${CONFORMANCE_BUCKET_PREFIX}-$1-${RUN_ID}-${BUCKET_SEQ}"
  echo "$b" >>"$BUCKETS_FILE"
  echo "$b"
}

# need TOOL: true if TOOL is installed; otherwise records a failure for the suite.
need() {
  if command -v "$1" >/dev/null 2>&1; then
    return 0
  fi
  fail "installed" "$1 not found on PATH (scripts/install-clients.sh installs it)"
  return 1
}

# make_tree DIR: the directory tree used by the sync/copy checks (nested dirs, spaces, unicode,
# characters that need URL-encoding, an empty file).
make_tree() {
  local d=$1
  mkdir -p "$d/a/b/c" "$d/with space" "$d/ünïcödé" "$d/special"
  printf 'top level file\n' >"$d/top.txt"
  gen "$d/a/one.bin" 3000 11
  gen "$d/a/b/two.bin" 70000 12
  gen "$d/a/b/c/deep.bin" 1048577 13
  printf 'spaces in the name\n' >"$d/with space/file with spaces.txt"
  printf 'unicode name\n' >"$d/ünïcödé/файл-日本語-é.txt"
  printf 'plus equals ampersand\n' >"$d/special/a+b=c&d.txt"
  : >"$d/empty.dat"
}

# run_external SUITE CMD...: run a program that prints PASS/FAIL lines itself, echo and count
# them. A crash (non-zero exit with no FAIL line) or a run with no checks counts as a failure.
run_external() {
  local name=$1 out="$WORK/$1.out" rc p f
  shift
  SUITE=$name
  "$@" 2>"$WORK/$name.err" | tee "$out"
  rc=${PIPESTATUS[0]}
  p=$(grep -c '^PASS ' "$out")
  f=$(grep -c '^FAIL ' "$out")
  PASSED=$((PASSED + p))
  FAILED=$((FAILED + f))
  if [[ $rc != 0 && $f == 0 ]] || [[ $((p + f)) == 0 ]]; then
    fail "run" "exited $rc after $p checks: $(tail -n 5 "$WORK/$name.err" | tr '\n' ' ' | cut -c1-600)"
  elif [[ $rc == 0 && $f != 0 ]]; then
    fail "run" "exited 0 despite $f failed checks"
  fi
}

# shellcheck source=suites/awscli.sh
source "$HERE/suites/awscli.sh"
# shellcheck source=suites/rclone.sh
source "$HERE/suites/rclone.sh"
# shellcheck source=suites/s3cmd.sh
source "$HERE/suites/s3cmd.sh"

suite_boto3() {
  SUITE=boto3
  need "$PYTHON" || return 0
  run_external boto3 "$PYTHON" "$HERE/boto3_suite.py"
}

# Headless Chromium on a page of another origin using presigned URLs and POST forms through
# CORS, a file drop, and share links' pages (issue #13).
suite_browser() {
  SUITE=browser
  need chromium || return 0
  run_external browser "$PYTHON" "$HERE/browser_cors.py"
  # POST-policy forms and a file drop (ADR 0015).
  run_external browser-post "$PYTHON" "$HERE/browser_post.py"
  # Share links: landing page, preview, password form, folder listing (ADR 0010).
  run_external browser-share "$PYTHON" "$HERE/browser_share.py"
}

suite_rust() {
  SUITE=rust
  local bin=${CONFORMANCE_BIN:-}
  if [[ -z $bin ]]; then
    need cargo || return 0
    local target
    if ! (cd "$HERE" && cargo build -q -p conformance-tests) >"$WORK/cargo.log" 2>&1; then
      fail "build" "cargo build -p conformance-tests failed: $(tail -n 5 "$WORK/cargo.log" | tr '\n' ' ')"
      return 0
    fi
    target=$(cd "$HERE" && cargo metadata --format-version 1 --no-deps |
      "$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
    bin="$target/debug/conformance-tests"
  fi
  if [[ ! -x $bin ]]; then
    fail "build" "no executable at $bin"
    return 0
  fi
  run_external rust "$bin"
}

echo "conformance: endpoint $AWS_ENDPOINT_URL, region $AWS_REGION, run $RUN_ID, suites: $SUITES"
for s in $SUITES; do
  case $s in
  awscli | rclone | boto3 | s3cmd | rust | browser)
    started=$SECONDS
    echo "--- $s"
    "suite_$s"
    echo "--- $s took $((SECONDS - started))s"
    ;;
  *)
    SUITE=setup
    fail "suites" "unknown suite '$s' in CONFORMANCE_SUITES"
    ;;
  esac
done

echo "$PASSED passed, $FAILED failed"
[[ $FAILED == 0 ]]
