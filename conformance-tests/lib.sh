# Shared by the conformance scripts (run.sh, iam.sh): PASS/FAIL bookkeeping and assertions.
# Sourced, not run. The sourcing script sets SUITE, PASSED, FAILED and WORK (a temp dir).
# shellcheck shell=bash

pass() {
  echo "PASS $SUITE/$1"
  PASSED=$((PASSED + 1))
}
fail() {
  echo "FAIL $SUITE/$1: $2"
  FAILED=$((FAILED + 1))
}

# check NAME CMD [ARGS...]: run CMD in a subshell with errexit; pass iff it exits 0.
# On failure the last lines of its output are the reason. Works whether or not the caller runs
# with errexit.
check() {
  local name=$1 log="$WORK/check.log" rc errexit=0
  shift
  [[ $- == *e* ]] && errexit=1
  set +e
  (
    set -euo pipefail
    "$@"
  ) >"$log" 2>&1
  rc=$?
  [[ $errexit == 1 ]] && set -e
  if [[ $rc == 0 ]]; then
    pass "$name"
  else
    fail "$name" "$(grep -v '^\s*$' "$log" | tail -n 4 | tr '\n' ' ' | cut -c1-600)"
  fi
}

# Assertions for check bodies.
die() {
  echo "$*" >&2
  exit 1
}
assert_eq() { # EXPECTED ACTUAL WHAT
  [[ "$1" == "$2" ]] || die "${3:-value}: expected [$1], got [$2]"
}
assert_match() { # REGEX ACTUAL WHAT
  [[ "$2" =~ $1 ]] || die "${3:-value}: [$2] does not match /$1/"
}
assert_contains() { # NEEDLE HAYSTACK WHAT
  [[ "$2" == *"$1"* ]] || die "${3:-output}: expected to contain [$1], got [$2]"
}
assert_not_contains() { # NEEDLE HAYSTACK WHAT
  [[ "$2" != *"$1"* ]] || die "${3:-output}: expected not to contain [$1], got [$2]"
}
