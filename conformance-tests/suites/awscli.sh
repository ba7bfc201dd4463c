# aws-cli checks; sourced by run.sh (uses its check/assert helpers, $WORK and new_bucket).
# shellcheck shell=bash disable=SC2034 # SUITE is read by run.sh
# shellcheck disable=SC2016 # JMESPath literals in --query use backticks inside single quotes

awsx() { aws --endpoint-url "$AWS_ENDPOINT_URL" --region "$AWS_REGION" "$@"; }

# s3api OPERATION... --query Q: print one value as text ("None" when absent).
s3q() { awsx s3api "$@" --output text; }

MIB=$((1024 * 1024))

awscli_mb() {
  local out
  out=$(awsx s3 mb "s3://$B")
  assert_contains "make_bucket: $B" "$out" "aws s3 mb output"
  awsx s3api head-bucket --bucket "$B"
}

awscli_cp_small() {
  gen "$D/small.bin" 100000 1
  awsx s3 cp "$D/small.bin" "s3://$B/small.bin"
  awsx s3 cp "s3://$B/small.bin" "$D/small.down"
  assert_same_file "$D/small.bin" "$D/small.down"
}

# aws-cli computes a CRC32 for every upload by default; S3 stores it and returns it.
awscli_default_crc32_stored() {
  local got
  got=$(s3q head-object --bucket "$B" --key small.bin --checksum-mode ENABLED --query ChecksumCRC32)
  assert_eq "$(helper checksum crc32 "$D/small.bin")" "$got" "ChecksumCRC32 of the object aws s3 cp uploaded"
}

awscli_cp_stdin_stdout() {
  awsx s3 cp - "s3://$B/stdin.bin" <"$D/small.bin"
  awsx s3 cp "s3://$B/stdin.bin" - >"$D/stdout.down"
  assert_same_file "$D/small.bin" "$D/stdout.down"
}

# 20 MiB > the 8 MiB multipart_threshold: three 8 MiB-chunk parts.
awscli_cp_multipart_up() {
  gen "$D/big20.bin" $((20 * MIB)) 2
  awsx s3 cp "$D/big20.bin" "s3://$B/big20.bin"
  local etag
  etag=$(s3q head-object --bucket "$B" --key big20.bin --query ETag)
  assert_eq "\"$(helper mpu-etag $((8 * MIB)) "$D/big20.bin")\"" "$etag" \
    "ETag of the 3-part upload (MD5 of the part MD5s, -3)"
}

# s3transfer creates the upload with ChecksumAlgorithm=CRC32, so S3 keeps a COMPOSITE checksum.
awscli_cp_multipart_checksum() {
  local got
  got=$(s3q head-object --bucket "$B" --key big20.bin --checksum-mode ENABLED \
    --query '[ChecksumCRC32,ChecksumType]')
  assert_eq "$(helper composite crc32 $((8 * MIB)) "$D/big20.bin")	COMPOSITE" "$got" \
    "ChecksumCRC32 and ChecksumType of the multipart object"
}

awscli_cp_multipart_down() {
  awsx s3 cp "s3://$B/big20.bin" "$D/big20.down"
  assert_same_file "$D/big20.bin" "$D/big20.down"
}

awscli_sync_up_down() {
  make_tree "$D/tree"
  awsx s3 sync "$D/tree" "s3://$B/tree"
  awsx s3 sync "s3://$B/tree" "$D/tree.down"
  assert_same_tree "$D/tree" "$D/tree.down"
}

# Nothing changed: a second sync in either direction must transfer nothing.
awscli_sync_idempotent() {
  local out
  out=$(awsx s3 sync "$D/tree" "s3://$B/tree")
  assert_eq "" "$out" "output of a repeated upload sync"
  out=$(awsx s3 sync "s3://$B/tree" "$D/tree.down")
  assert_eq "" "$out" "output of a repeated download sync"
}

# Parse `aws s3 ls` lines into "PRE name/" and "size name".
parse_ls() {
  local line size name
  while IFS= read -r line; do
    if [[ $line =~ ^\ +PRE\ (.*)$ ]]; then
      echo "PRE ${BASH_REMATCH[1]}"
    else
      read -r _ _ size name <<<"$line"
      echo "$size $name"
    fi
  done | LC_ALL=C sort
}

awscli_ls() {
  local got want x
  got=$(awsx s3 ls)
  assert_contains " $B" "$got" "aws s3 ls (the bucket list)"
  got=$(awsx s3 ls "s3://$B/tree/" | parse_ls)
  want=$(
    cd "$D/tree" || exit 1
    for x in */; do echo "PRE $x"; done
    for x in *; do if [[ -f $x ]]; then echo "$(stat -c %s "$x") $x"; fi; done
  )
  want=$(LC_ALL=C sort <<<"$want")
  assert_eq "$want" "$got" "aws s3 ls s3://$B/tree/"
}

awscli_ls_recursive() {
  local got want
  got=$(awsx s3 ls --recursive "s3://$B/tree/" | parse_ls)
  want=$(cd "$D/tree" && find . -type f -printf '%s tree/%P\n' | LC_ALL=C sort)
  assert_eq "$want" "$got" "aws s3 ls --recursive s3://$B/tree/"
}

awscli_sync_delete() {
  rm "$D/tree/a/one.bin"
  awsx s3 sync --delete "$D/tree" "s3://$B/tree"
  local n
  n=$(s3q list-objects-v2 --bucket "$B" --prefix tree/a/one.bin --query 'length(Contents || `[]`)')
  assert_eq 0 "$n" "keys left under tree/a/one.bin after sync --delete"
  n=$(s3q list-objects-v2 --bucket "$B" --prefix tree/ --query 'length(Contents || `[]`)')
  assert_eq "$(find "$D/tree" -type f | wc -l)" "$n" "keys under tree/ after sync --delete"
}

awscli_rm_recursive() {
  awsx s3 rm --recursive "s3://$B/tree/"
  local n
  n=$(s3q list-objects-v2 --bucket "$B" --prefix tree/ --query 'length(Contents || `[]`)')
  assert_eq 0 "$n" "keys left under tree/"
  # Objects outside the prefix are untouched.
  awsx s3api head-object --bucket "$B" --key small.bin >/dev/null
}

# --- multipart upload by hand, 100 MiB in 16 MiB parts (7 parts, the last 4 MiB) ---
MPU_PART=$((16 * MIB))

awscli_mpu_create() {
  gen "$D/big100.bin" $((100 * MIB)) 3
  (cd "$D" && split -b "$MPU_PART" -d -a 2 big100.bin part.)
  local uid
  uid=$(s3q create-multipart-upload --bucket "$B" --key big100.bin --query UploadId)
  [[ -n $uid && $uid != None ]] || die "no UploadId"
  echo "$uid" >"$D/mpu.id"
  local listed
  listed=$(s3q list-multipart-uploads --bucket "$B" --query "join(',', (Uploads || \`[]\`)[?UploadId=='$uid'].Key)")
  assert_eq big100.bin "$listed" "list-multipart-uploads entry for the new upload"
}

awscli_mpu_upload_parts() {
  local uid n=0 p etag
  uid=$(<"$D/mpu.id")
  : >"$D/mpu.parts"
  for p in "$D"/part.*; do
    n=$((n + 1))
    etag=$(s3q upload-part --bucket "$B" --key big100.bin --upload-id "$uid" \
      --part-number "$n" --body "$p" --query ETag)
    assert_eq "\"$(helper md5 "$p")\"" "$etag" "ETag of part $n"
    printf '%s\t%s\t%s\n' "$n" "$etag" "$(stat -c %s "$p")" >>"$D/mpu.parts"
  done
  assert_eq 7 "$n" "number of parts"
}

awscli_mpu_list_parts() {
  local uid got
  uid=$(<"$D/mpu.id")
  got=$(s3q list-parts --bucket "$B" --key big100.bin --upload-id "$uid" \
    --query 'Parts[].[PartNumber,ETag,Size]')
  assert_eq "$(cat "$D/mpu.parts")" "$got" "list-parts (number, ETag, size)"
}

awscli_mpu_complete() {
  local uid etag
  uid=$(<"$D/mpu.id")
  "$PYTHON" - "$D/mpu.parts" >"$D/mpu.json" <<'EOF'
import json, sys
parts = [l.split("\t") for l in open(sys.argv[1]).read().splitlines()]
print(json.dumps({"Parts": [{"PartNumber": int(n), "ETag": e} for n, e, _ in parts]}))
EOF
  etag=$(s3q complete-multipart-upload --bucket "$B" --key big100.bin --upload-id "$uid" \
    --multipart-upload "file://$D/mpu.json" --query ETag)
  assert_eq "\"$(helper mpu-etag "$MPU_PART" "$D/big100.bin")\"" "$etag" "ETag of the completed upload"
  local listed
  listed=$(s3q list-multipart-uploads --bucket "$B" --query "join(',', (Uploads || \`[]\`)[?UploadId=='$uid'].Key)")
  assert_eq "" "$listed" "list-multipart-uploads entry after completion"
}

awscli_mpu_head() {
  local got
  got=$(s3q head-object --bucket "$B" --key big100.bin --query '[ContentLength,ETag]')
  assert_eq "$((100 * MIB))	\"$(helper mpu-etag "$MPU_PART" "$D/big100.bin")\"" "$got" \
    "head-object ContentLength and ETag"
}

awscli_mpu_download() {
  awsx s3api get-object --bucket "$B" --key big100.bin "$D/big100.down" >/dev/null
  assert_same_file "$D/big100.bin" "$D/big100.down"
}

awscli_mpu_abort() {
  local uid out
  uid=$(s3q create-multipart-upload --bucket "$B" --key aborted.bin --query UploadId)
  awsx s3api upload-part --bucket "$B" --key aborted.bin --upload-id "$uid" --part-number 1 \
    --body "$D/part.06" >/dev/null
  awsx s3api abort-multipart-upload --bucket "$B" --key aborted.bin --upload-id "$uid"
  if out=$(awsx s3api list-parts --bucket "$B" --key aborted.bin --upload-id "$uid" 2>&1); then
    die "list-parts of an aborted upload succeeded: $out"
  fi
  assert_contains NoSuchUpload "$out" "list-parts error after abort"
  if out=$(awsx s3api head-object --bucket "$B" --key aborted.bin 2>&1); then
    die "an aborted upload left an object: $out"
  fi
  assert_contains 404 "$out" "head-object error for the aborted key"
}

# range_check KEY LOCAL_FILE RANGE: body bytes, ContentRange and ContentLength of a ranged GET.
range_check() {
  local key=$1 file=$2 range=$3 size first last got
  size=$(stat -c %s "$file")
  read -r first last < <(helper range-bounds "$size" "$range")
  rm -f "$D/range.out"
  got=$(awsx s3api get-object --bucket "$B" --key "$key" --range "$range" "$D/range.out" \
    --query '[ContentRange,ContentLength]' --output text)
  assert_eq "bytes $first-$last/$size	$((last - first + 1))" "$got" "ContentRange and ContentLength for $range"
  assert_eq "$(helper sha256 "$file" "$range")" "$(sha "$D/range.out")" "sha256 of the bytes of $range"
}

awscli_range_start_end() { range_check big100.bin "$D/big100.bin" "bytes=16777000-16778999"; }
awscli_range_suffix() { range_check big100.bin "$D/big100.bin" "bytes=-1000"; }
awscli_range_open() { range_check big100.bin "$D/big100.bin" "bytes=104857000-"; }
awscli_range_first_byte() { range_check small.bin "$D/small.bin" "bytes=0-0"; }
awscli_range_end_beyond_size() { range_check small.bin "$D/small.bin" "bytes=99990-200000"; }

awscli_range_unsatisfiable() {
  local out
  if out=$(awsx s3api get-object --bucket "$B" --key small.bin --range bytes=200000- "$D/range.out" 2>&1); then
    die "a range past the end succeeded: $out"
  fi
  assert_contains InvalidRange "$out" "error for an unsatisfiable range"
}

awscli_head_object() {
  printf 'object with metadata\n' >"$D/meta.txt"
  awsx s3api put-object --bucket "$B" --key meta.txt --body "$D/meta.txt" --content-type text/plain \
    --cache-control max-age=60 --metadata color=blue,Shape=Round >/dev/null
  local got
  got=$(s3q head-object --bucket "$B" --key meta.txt \
    --query '[ContentLength,ContentType,ETag,CacheControl,Metadata.color,Metadata.shape]')
  assert_eq "21	text/plain	\"$(helper md5 "$D/meta.txt")\"	max-age=60	blue	Round" "$got" \
    "head-object ContentLength, ContentType, ETag, CacheControl and metadata"
  local out
  if out=$(awsx s3api head-object --bucket "$B" --key no-such-key 2>&1); then
    die "head-object of a missing key succeeded: $out"
  fi
  assert_contains 404 "$out" "head-object error for a missing key"
}

# awscli_put_checksum ALGO: put with --checksum-algorithm, read back with --checksum-mode ENABLED.
awscli_put_checksum() {
  local algo=$1 lower want got
  lower=$(tr '[:upper:]' '[:lower:]' <<<"$algo")
  gen "$D/ck-$lower.bin" 300000 4
  want=$(helper checksum "$lower" "$D/ck-$lower.bin")
  got=$(s3q put-object --bucket "$B" --key "ck-$lower.bin" --body "$D/ck-$lower.bin" \
    --checksum-algorithm "$algo" --query "Checksum$algo")
  assert_eq "$want" "$got" "Checksum$algo in the PutObject response"
  rm -f "$D/ck.down"
  got=$(s3q get-object --bucket "$B" --key "ck-$lower.bin" --checksum-mode ENABLED "$D/ck.down" \
    --query "Checksum$algo")
  assert_eq "$want" "$got" "Checksum$algo in the GetObject response"
  assert_same_file "$D/ck-$lower.bin" "$D/ck.down"
}
awscli_put_checksum_crc32c() { awscli_put_checksum CRC32C; }
awscli_put_checksum_sha256() { awscli_put_checksum SHA256; }

# A wrong checksum or Content-MD5 is refused with BadDigest and stores nothing.
awscli_bad_digest_rejected() {
  local out
  if out=$(awsx s3api put-object --bucket "$B" --key bad-crc.bin --body "$D/small.bin" \
    --checksum-crc32-c AAAAAA== 2>&1); then
    die "a put with a wrong x-amz-checksum-crc32c succeeded: $out"
  fi
  assert_contains BadDigest "$out" "error for a wrong CRC32C"
  if out=$(awsx s3api put-object --bucket "$B" --key bad-md5.bin --body "$D/small.bin" \
    --content-md5 "$("$PYTHON" -c 'import base64, hashlib; print(base64.b64encode(hashlib.md5(b"x").digest()).decode())')" 2>&1); then
    die "a put with a wrong Content-MD5 succeeded: $out"
  fi
  assert_contains BadDigest "$out" "error for a wrong Content-MD5"
  local n
  n=$(s3q list-objects-v2 --bucket "$B" --prefix bad- --query 'length(Contents || `[]`)')
  assert_eq 0 "$n" "objects stored by rejected puts"
}

awscli_list_v2_delimiter() {
  local k got
  for k in lst/a/1 lst/a/2 lst/a/b/3 lst/c lst/d/4; do
    awsx s3api put-object --bucket "$B" --key "$k" --body "$D/meta.txt" >/dev/null
  done
  got=$(s3q list-objects-v2 --bucket "$B" --prefix lst/a/ --delimiter / \
    --query '[join(`,`, Contents[].Key), join(`,`, CommonPrefixes[].Prefix)]')
  assert_eq "lst/a/1,lst/a/2	lst/a/b/" "$got" "prefix lst/a/ delimiter /"
  got=$(s3q list-objects-v2 --bucket "$B" --prefix lst/ --delimiter / \
    --query '[join(`,`, Contents[].Key), join(`,`, CommonPrefixes[].Prefix)]')
  assert_eq "lst/c	lst/a/,lst/d/" "$got" "prefix lst/ delimiter /"
}

awscli_list_v2_pagination() {
  local got trunc count keys token
  got=$(s3q list-objects-v2 --bucket "$B" --prefix lst/ --max-keys 2 --no-paginate \
    --query '[IsTruncated,KeyCount,join(`,`, Contents[].Key),NextContinuationToken]')
  read -r trunc count keys token <<<"$got"
  assert_eq "True 2 lst/a/1,lst/a/2" "$trunc $count $keys" "first page of 2"
  [[ -n $token && $token != None ]] || die "no NextContinuationToken"
  got=$(s3q list-objects-v2 --bucket "$B" --prefix lst/ --max-keys 2 --no-paginate \
    --continuation-token "$token" --query '[IsTruncated,join(`,`, Contents[].Key)]')
  assert_eq "True	lst/a/b/3,lst/c" "$got" "second page"
  got=$(s3q list-objects-v2 --bucket "$B" --prefix lst/ --start-after lst/c \
    --query 'join(`,`, Contents[].Key)')
  assert_eq "lst/d/4" "$got" "--start-after lst/c"
}

awscli_delete_objects() {
  local got
  got=$(s3q delete-objects --bucket "$B" \
    --delete '{"Objects":[{"Key":"lst/a/1"},{"Key":"lst/c"},{"Key":"lst/never-existed"}]}' \
    --query '[join(`,`, sort(Deleted[].Key)), length(Errors || `[]`)]')
  assert_eq "lst/a/1,lst/c,lst/never-existed	0" "$got" "Deleted keys and error count"
  got=$(s3q list-objects-v2 --bucket "$B" --prefix lst/ --query 'join(`,`, Contents[].Key)')
  assert_eq "lst/a/2,lst/a/b/3,lst/d/4" "$got" "keys left"
}

awscli_rb_not_empty() {
  local out
  if out=$(awsx s3 rb "s3://$B" 2>&1); then
    awsx s3 mb "s3://$B" >/dev/null 2>&1 || true # so the next check tests rb on its own merit
    die "removing a non-empty bucket succeeded: $out"
  fi
  assert_contains BucketNotEmpty "$out" "aws s3 rb error for a non-empty bucket"
}

awscli_rb() {
  awsx s3 rm --recursive "s3://$B" >/dev/null
  local out
  out=$(awsx s3 rb "s3://$B")
  assert_contains "remove_bucket: $B" "$out" "aws s3 rb output"
  if out=$(awsx s3api head-bucket --bucket "$B" 2>&1); then
    die "head-bucket after rb succeeded"
  fi
  assert_contains 404 "$out" "head-bucket error after rb"
}

suite_awscli() {
  SUITE=awscli
  need aws || return 0
  local B D
  B=$(new_bucket awscli)
  D="$WORK/awscli"
  mkdir -p "$D"
  check mb awscli_mb
  check cp-small-up-down awscli_cp_small
  check default-crc32-stored awscli_default_crc32_stored
  check cp-stdin-stdout awscli_cp_stdin_stdout
  check cp-20MiB-multipart-up awscli_cp_multipart_up
  check cp-20MiB-multipart-checksum awscli_cp_multipart_checksum
  check cp-20MiB-down awscli_cp_multipart_down
  check sync-tree-up-down awscli_sync_up_down
  check sync-idempotent awscli_sync_idempotent
  check ls awscli_ls
  check ls-recursive awscli_ls_recursive
  check sync-delete awscli_sync_delete
  check rm-recursive awscli_rm_recursive
  check s3api-mpu-create awscli_mpu_create
  check s3api-mpu-upload-part-x7 awscli_mpu_upload_parts
  check s3api-mpu-list-parts awscli_mpu_list_parts
  check s3api-mpu-complete awscli_mpu_complete
  check s3api-mpu-head awscli_mpu_head
  check s3api-mpu-download awscli_mpu_download
  check s3api-mpu-abort awscli_mpu_abort
  check range-start-end awscli_range_start_end
  check range-suffix awscli_range_suffix
  check range-open-ended awscli_range_open
  check range-first-byte awscli_range_first_byte
  check range-end-beyond-size awscli_range_end_beyond_size
  check range-unsatisfiable awscli_range_unsatisfiable
  check head-object awscli_head_object
  check put-checksum-crc32c awscli_put_checksum_crc32c
  check put-checksum-sha256 awscli_put_checksum_sha256
  check bad-digest-rejected awscli_bad_digest_rejected
  check list-v2-prefix-delimiter awscli_list_v2_delimiter
  check list-v2-pagination awscli_list_v2_pagination
  check delete-objects awscli_delete_objects
  check rb-not-empty-fails awscli_rb_not_empty
  check rb awscli_rb
  rm -rf "$D"
}
