# rclone checks; sourced by run.sh (uses its check/assert helpers, $WORK and new_bucket).
# shellcheck shell=bash disable=SC2034 # SUITE is read by run.sh
#
# The remote "cs:" is configured only through the environment, default settings otherwise.
# rclone 1.60 fails with LoadCustomCABundleError when AWS_CA_BUNDLE is set, so it is unset.

rc() {
  env -u AWS_CA_BUNDLE \
    RCLONE_CONFIG="$WORK/rclone.conf" \
    RCLONE_CONFIG_CS_TYPE=s3 \
    RCLONE_CONFIG_CS_PROVIDER=Other \
    RCLONE_CONFIG_CS_ENDPOINT="$AWS_ENDPOINT_URL" \
    RCLONE_CONFIG_CS_REGION="$AWS_REGION" \
    RCLONE_CONFIG_CS_ACCESS_KEY_ID="$AWS_ACCESS_KEY_ID" \
    RCLONE_CONFIG_CS_SECRET_ACCESS_KEY="$AWS_SECRET_ACCESS_KEY" \
    RCLONE_CONFIG_CS_SESSION_TOKEN="${AWS_SESSION_TOKEN:-}" \
    RCLONE_CONFIG_CS_FORCE_PATH_STYLE=true \
    rclone "$@"
}

# Local listing in `rclone lsf` form: recursive files as "path;size" (--format ps), one level as
# "name" and "dir/" (--format p; rclone's size of a directory is not an S3 property).
local_lsf() { # DIR [recursive]
  (
    cd "$1" || exit 1
    if [[ ${2:-} == recursive ]]; then
      find . -type f -printf '%P;%s\n'
    else
      find . -mindepth 1 -maxdepth 1 -type f -printf '%P\n'
      find . -mindepth 1 -maxdepth 1 -type d -printf '%P/\n'
    fi
  ) | LC_ALL=C sort
}

rclone_mkdir() {
  rc mkdir "cs:$B"
  local got
  got=$(rc lsd cs:)
  assert_contains " $B" "$got" "rclone lsd cs: (the bucket list)"
}

rclone_copy_up() {
  make_tree "$D/tree"
  rc copy "$D/tree" "cs:$B/tree"
  local got
  got=$(rc lsf -R --files-only --format ps "cs:$B/tree" | LC_ALL=C sort)
  assert_eq "$(local_lsf "$D/tree" recursive)" "$got" "rclone lsf -R after copy"
}

rclone_check() {
  rc check "$D/tree" "cs:$B/tree"
}

# Same size, different content: only a hash comparison finds it, so check must fail.
rclone_check_detects_difference() {
  cp -r "$D/tree" "$D/tree.changed"
  printf 'TOP LEVEL FILE\n' >"$D/tree.changed/top.txt"
  local out
  if out=$(rc check "$D/tree.changed" "cs:$B/tree" 2>&1); then
    die "rclone check passed although top.txt differs: $out"
  fi
  assert_contains "top.txt" "$out" "rclone check report"
  assert_contains "1 differences found" "$out" "rclone check report"
}

rclone_lsf() {
  local got
  got=$(rc lsf "cs:$B/tree" | LC_ALL=C sort)
  assert_eq "$(local_lsf "$D/tree")" "$got" "rclone lsf (one level)"
}

rclone_copy_down() {
  rc copy "cs:$B/tree" "$D/tree.down"
  assert_same_tree "$D/tree" "$D/tree.down"
}

rclone_sync() {
  mkdir -p "$D/tree/new dir"
  printf 'added after the first copy\n' >"$D/tree/new dir/added.txt"
  rm "$D/tree/a/b/two.bin"
  printf 'the top level file, changed and longer\n' >"$D/tree/top.txt"
  rc sync "$D/tree" "cs:$B/tree"
  local got
  got=$(rc lsf -R --files-only --format ps "cs:$B/tree" | LC_ALL=C sort)
  assert_eq "$(local_lsf "$D/tree" recursive)" "$got" "rclone lsf -R after sync"
  rc check "$D/tree" "cs:$B/tree"
  rc sync "cs:$B/tree" "$D/tree.down"
  assert_same_tree "$D/tree" "$D/tree.down"
}

rclone_delete() {
  rc delete --include '*.txt' "cs:$B/tree"
  local got want
  got=$(rc lsf -R --files-only --format ps "cs:$B/tree" | LC_ALL=C sort)
  want=$(local_lsf "$D/tree" recursive | grep -v '\.txt;')
  assert_eq "$want" "$got" "rclone lsf -R after deleting *.txt"
}

rclone_purge() {
  rc purge "cs:$B"
  local got
  got=$(rc lsd cs:)
  [[ $got != *" $B"* ]] || die "bucket $B still listed after purge: $got"
}

suite_rclone() {
  SUITE=rclone
  need rclone || return 0
  local B D
  B=$(new_bucket rclone)
  D="$WORK/rclone"
  mkdir -p "$D"
  : >"$WORK/rclone.conf"
  check mkdir rclone_mkdir
  check copy-up rclone_copy_up
  check check rclone_check
  check check-detects-difference rclone_check_detects_difference
  check lsf rclone_lsf
  check copy-down rclone_copy_down
  check sync rclone_sync
  check delete rclone_delete
  check purge rclone_purge
  rm -rf "$D"
}
