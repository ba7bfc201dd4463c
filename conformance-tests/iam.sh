#!/usr/bin/env bash
# shellcheck disable=SC2016 # JMESPath literals and policy variables inside single quotes
# shellcheck disable=SC2030,SC2031 # credentials are switched in subshells on purpose
# IAM and STS conformance: drives the real aws-cli (`aws iam`, `aws sts`, `aws s3api`) against
# the endpoint in AWS_ENDPOINT_URL and prints "N passed, N failed" as its last line.
#
# Environment (the only configuration):
#   AWS_ENDPOINT_URL        endpoint, e.g. http://127.0.0.1:9000                      (required)
#   AWS_ACCESS_KEY_ID       the platform admin's or an account root's key             (required)
#   AWS_SECRET_ACCESS_KEY   its secret                                                 (required)
#   AWS_SESSION_TOKEN       session token, for temporary keys                          (optional)
#   AWS_DEFAULT_REGION      region for SigV4                                (default us-east-1)
#   IAM_CONFORMANCE_SKIP_S3 set to 1 to leave out the S3 checks (an IAM-only endpoint)
#   CONFORMANCE_KEEP_TMP    set to 1 to keep the temp dir for debugging
#
# Everything it creates is named after a random run id (users, a group, roles, a policy, a
# bucket) and deleted at the end in the order AWS requires (keys, policies and memberships
# before users; policies before roles; detached before deleted). Each check prints
# "PASS iam/<check>" or "FAIL iam/<check>: <reason>"; the exit status is non-zero if any failed.
# Checks that depend on a policy change retry for a few seconds (AWS is eventually consistent,
# and a gateway may cache key grants briefly).
set -euo pipefail

: "${AWS_ENDPOINT_URL:?set AWS_ENDPOINT_URL to the endpoint under test}"
: "${AWS_ACCESS_KEY_ID:?set AWS_ACCESS_KEY_ID}"
: "${AWS_SECRET_ACCESS_KEY:?set AWS_SECRET_ACCESS_KEY}"
export AWS_DEFAULT_REGION=${AWS_DEFAULT_REGION:-${AWS_REGION:-us-east-1}}
export AWS_REGION=$AWS_DEFAULT_REGION
AWS_ENDPOINT_URL=${AWS_ENDPOINT_URL%/}
export AWS_ENDPOINT_URL
SKIP_S3=${IAM_CONFORMANCE_SKIP_S3:-0}
EVENTUALLY_SECS=${IAM_CONFORMANCE_EVENTUALLY_SECS:-15}

# Hermetic client configuration, as run.sh: no profile files, path-style S3 addressing.
WORK=$(mktemp -d "${TMPDIR:-/tmp}/iam-conformance.XXXXXX")
printf '[default]\ns3 =\n    addressing_style = path\n' >"$WORK/aws-config"
: >"$WORK/aws-credentials"
export AWS_CONFIG_FILE="$WORK/aws-config" AWS_SHARED_CREDENTIALS_FILE="$WORK/aws-credentials"
unset AWS_PROFILE AWS_DEFAULT_PROFILE AWS_REQUEST_CHECKSUM_CALCULATION \
  AWS_RESPONSE_CHECKSUM_VALIDATION AWS_S3_ADDRESSING_STYLE
export PYTHONIOENCODING=utf-8 LC_ALL=C.UTF-8 LANG=C.UTF-8
export AWS_PAGER=""

RUN_ID=$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')
PASSED=0
FAILED=0
SUITE=iam

# Names of everything this run creates.
USER_PATH=/conformance/
U="cs-user-$RUN_ID"          # the IAM user under test (gets keys and policies)
U2="cs-bystander-$RUN_ID"    # a second user, named by the trust policy of ROLE2
G="cs-group-$RUN_ID"
ROLE="cs-role-$RUN_ID"       # trusts U
ROLE2="cs-role2-$RUN_ID"     # trusts U2 only
P="cs-policy-$RUN_ID"        # a customer-managed policy
B="iamconf-$RUN_ID"          # a bucket the admin / account root creates
SESSION=conformance

# ---------------------------------------------------------------- helpers (as run.sh's)

# shellcheck source=conformance-tests/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# State handed from one check to later ones (checks run in subshells).
save() { printf '%s' "$2" >"$WORK/state.$1"; }
load() {
  [[ -s "$WORK/state.$1" ]] || die "no $1 recorded (an earlier check failed)"
  cat "$WORK/state.$1"
}

awsx() { aws --endpoint-url "$AWS_ENDPOINT_URL" "$@"; }

# as_user CMD...: aws-cli signed with the IAM user's long-term key.
as_user() {
  local key secret
  key=$(load user.key)
  secret=$(load user.secret)
  (
    unset AWS_SESSION_TOKEN
    export AWS_ACCESS_KEY_ID=$key AWS_SECRET_ACCESS_KEY=$secret
    awsx "$@"
  )
}

# as_temp PREFIX CMD...: aws-cli signed with temporary credentials saved under PREFIX.
as_temp() {
  local prefix=$1 key secret token
  shift
  key=$(load "$prefix.key")
  secret=$(load "$prefix.secret")
  token=$(load "$prefix.token")
  (
    export AWS_ACCESS_KEY_ID=$key AWS_SECRET_ACCESS_KEY=$secret AWS_SESSION_TOKEN=$token
    awsx "$@"
  )
}

# expect_error CODE CMD...: CMD must fail with the AWS error CODE (an extended regex) as
# aws-cli reports it on stderr: "An error occurred (CODE) when calling ...".
expect_error() {
  local code=$1 err="$WORK/expect_error.err" rc=0
  shift
  "$@" >/dev/null 2>"$err" || rc=$?
  [[ $rc != 0 ]] || die "expected $code, but '$*' succeeded"
  grep -qE "\($code\)" "$err" || die "expected $code from '$*', got: $(tr '\n' ' ' <"$err" | cut -c1-300)"
}

# eventually CMD...: retry CMD until it succeeds (printing its output then) or EVENTUALLY_SECS
# pass; then once more, for its error.
eventually() {
  local deadline=$((SECONDS + EVENTUALLY_SECS)) out="$WORK/eventually.out"
  while ((SECONDS < deadline)); do
    if ("$@") >"$out" 2>/dev/null; then
      cat "$out"
      return 0
    fi
    sleep 1
  done
  "$@"
}

policy_doc() { # ACTION RESOURCE: an identity policy allowing one action on one resource
  printf '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"%s","Resource":"%s"}]}' "$1" "$2"
}

# ---------------------------------------------------------------- cleanup

# Best-effort removal of whatever a failed run left behind (the cleanup checks do it properly).
cleanup() {
  set +e
  if command -v aws >/dev/null 2>&1 && [[ -n ${ACCOUNT:-} || -s "$WORK/state.account" ]]; then
    local account key
    account=${ACCOUNT:-$(cat "$WORK/state.account")}
    {
      if [[ $SKIP_S3 != 1 ]]; then
        awsx s3 rb --force "s3://$B"
      fi
      awsx iam remove-user-from-group --group-name "$G" --user-name "$U"
      awsx iam delete-group-policy --group-name "$G" --policy-name group-inline
      awsx iam delete-group --group-name "$G"
      for r in "$ROLE" "$ROLE2"; do
        awsx iam delete-role-policy --role-name "$r" --policy-name role-inline
        awsx iam delete-role --role-name "$r"
      done
      awsx iam detach-user-policy --user-name "$U" --policy-arn "arn:aws:iam::$account:policy$USER_PATH$P"
      awsx iam delete-policy --policy-arn "arn:aws:iam::$account:policy$USER_PATH$P"
      for pn in self-read s3-objects; do
        awsx iam delete-user-policy --user-name "$U" --policy-name "$pn"
      done
      for key in $(awsx iam list-access-keys --user-name "$U" --query 'AccessKeyMetadata[].AccessKeyId' --output text); do
        awsx iam delete-access-key --user-name "$U" --access-key-id "$key"
      done
      awsx iam delete-user --user-name "$U"
      awsx iam delete-user --user-name "$U2"
    } >/dev/null 2>&1
  fi
  if [[ ${CONFORMANCE_KEEP_TMP:-0} == 1 ]]; then
    echo "kept temp dir $WORK" >&2
  else
    rm -rf "$WORK"
  fi
}
trap cleanup EXIT

# ---------------------------------------------------------------- checks: identity

iam_caller_identity() {
  local out account arn
  out=$(awsx sts get-caller-identity --query '[Account,Arn]' --output text)
  read -r account arn <<<"$out"
  assert_match '^[0-9]{12}$' "$account" "Account"
  assert_match "^arn:aws:(iam|sts)::$account:" "$arn" "Arn"
  save account "$account"
}

# ---------------------------------------------------------------- checks: users and keys

iam_create_user() {
  local account out
  account=$(load account)
  out=$(awsx iam create-user --user-name "$U" --path "$USER_PATH" --query 'User.[UserName,Path,Arn]' --output text)
  assert_eq "$U	$USER_PATH	arn:aws:iam::$account:user$USER_PATH$U" "$out" "create-user"
  out=$(awsx iam create-user --user-name "$U2" --query 'User.UserName' --output text)
  assert_eq "$U2" "$out" "create-user (second user)"
}

iam_create_user_duplicate() {
  expect_error EntityAlreadyExists awsx iam create-user --user-name "$U"
}

iam_get_user() {
  local account out
  account=$(load account)
  out=$(awsx iam get-user --user-name "$U" --query 'User.[UserName,Arn]' --output text)
  assert_eq "$U	arn:aws:iam::$account:user$USER_PATH$U" "$out" "get-user"
  out=$(awsx iam get-user --user-name "$U" --query 'User.UserId' --output text)
  assert_match '^AIDA[A-Z0-9]+$' "$out" "UserId"
  save user.id "$out"
}

iam_get_user_missing() {
  expect_error NoSuchEntity awsx iam get-user --user-name "cs-nobody-$RUN_ID"
}

iam_list_users() {
  local out
  out=$(awsx iam list-users --query "Users[?UserName=='$U'].UserName" --output text)
  assert_eq "$U" "$out" "list-users"
  out=$(awsx iam list-users --path-prefix "$USER_PATH" --query 'Users[].UserName' --output text)
  assert_contains "$U" "$out" "list-users --path-prefix $USER_PATH"
  assert_not_contains "$U2" "$out" "list-users --path-prefix $USER_PATH"
}

iam_create_access_key() {
  local out key secret status user
  out=$(awsx iam create-access-key --user-name "$U" \
    --query 'AccessKey.[AccessKeyId,SecretAccessKey,Status,UserName]' --output text)
  read -r key secret status user <<<"$out"
  assert_match '^AKIA[A-Z0-9]{16}$' "$key" "AccessKeyId"
  assert_eq 40 "${#secret}" "length of SecretAccessKey"
  assert_eq Active "$status" "Status"
  assert_eq "$U" "$user" "UserName"
  save user.key "$key"
  save user.secret "$secret"
}

iam_list_access_keys() {
  local out
  out=$(awsx iam list-access-keys --user-name "$U" --query 'AccessKeyMetadata[].[AccessKeyId,Status]' --output text)
  assert_eq "$(load user.key)	Active" "$out" "list-access-keys"
}

iam_user_identity() {
  local out
  out=$(eventually as_user sts get-caller-identity --query '[Account,Arn,UserId]' --output text)
  assert_eq "$(load account)	arn:aws:iam::$(load account):user$USER_PATH$U	$(load user.id)" "$out" \
    "get-caller-identity as the user"
}

iam_user_denied_without_policy() {
  expect_error AccessDenied as_user iam create-user --user-name "cs-intruder-$RUN_ID"
  expect_error AccessDenied as_user iam list-users
  expect_error AccessDenied as_user iam get-user
  # Nothing was created.
  expect_error NoSuchEntity awsx iam get-user --user-name "cs-intruder-$RUN_ID"
}

iam_update_access_key() {
  local key
  key=$(load user.key)
  awsx iam update-access-key --user-name "$U" --access-key-id "$key" --status Inactive
  assert_eq Inactive "$(awsx iam list-access-keys --user-name "$U" --query 'AccessKeyMetadata[0].Status' --output text)" \
    "Status after update-access-key"
  # A disabled key signs nothing.
  eventually expect_error InvalidClientTokenId as_user sts get-caller-identity
  awsx iam update-access-key --user-name "$U" --access-key-id "$key" --status Active
  eventually as_user sts get-caller-identity >/dev/null
}

# ---------------------------------------------------------------- checks: inline user policies

iam_put_user_policy() {
  awsx iam put-user-policy --user-name "$U" --policy-name self-read \
    --policy-document "$(policy_doc iam:GetUser 'arn:aws:iam::*:user/*/${aws:username}')"
}

iam_get_user_policy() {
  local out
  out=$(awsx iam get-user-policy --user-name "$U" --policy-name self-read \
    --query '[UserName,PolicyName,PolicyDocument.Statement[0].Action,PolicyDocument.Statement[0].Resource]' \
    --output text)
  assert_eq "$U	self-read	iam:GetUser	arn:aws:iam::*:user/*/\${aws:username}" "$out" \
    "get-user-policy (the document comes back URL-decoded by aws-cli)"
}

iam_list_user_policies() {
  assert_eq self-read "$(awsx iam list-user-policies --user-name "$U" --query 'PolicyNames' --output text)" \
    "list-user-policies"
}

iam_malformed_policy() {
  expect_error MalformedPolicyDocument awsx iam put-user-policy --user-name "$U" --policy-name bad \
    --policy-document '{"Version":"2012-10-17","Statement":[{"Effect":"Perhaps","Action":"*","Resource":"*"}]}'
}

iam_user_policy_takes_effect() {
  local out
  out=$(eventually as_user iam get-user --query 'User.UserName' --output text)
  assert_eq "$U" "$out" "get-user as the user (allowed on itself)"
  expect_error AccessDenied as_user iam get-user --user-name "$U2"
  expect_error AccessDenied as_user iam create-user --user-name "cs-intruder-$RUN_ID"
}

# ---------------------------------------------------------------- checks: managed policies

iam_create_policy() {
  local account out
  account=$(load account)
  out=$(awsx iam create-policy --policy-name "$P" --path "$USER_PATH" --description 'list users & roles' \
    --policy-document "$(policy_doc iam:ListUsers "arn:aws:iam::$account:user/*")" \
    --query 'Policy.[PolicyName,Arn,DefaultVersionId,IsAttachable,AttachmentCount]' --output text)
  assert_eq "$P	arn:aws:iam::$account:policy$USER_PATH$P	v1	True	0" "$out" "create-policy"
  save policy.arn "arn:aws:iam::$account:policy$USER_PATH$P"
}

iam_get_policy_version() {
  local arn out
  arn=$(load policy.arn)
  out=$(awsx iam get-policy --policy-arn "$arn" --query 'Policy.[PolicyName,Description]' --output text)
  assert_eq "$P	list users & roles" "$out" "get-policy"
  out=$(awsx iam get-policy-version --policy-arn "$arn" --version-id v1 \
    --query '[PolicyVersion.VersionId,PolicyVersion.IsDefaultVersion,PolicyVersion.Document.Statement[0].Action]' \
    --output text)
  assert_eq "v1	True	iam:ListUsers" "$out" "get-policy-version"
}

iam_attach_user_policy() {
  local arn out
  arn=$(load policy.arn)
  awsx iam attach-user-policy --user-name "$U" --policy-arn "$arn"
  out=$(awsx iam list-attached-user-policies --user-name "$U" --query 'AttachedPolicies[].[PolicyName,PolicyArn]' \
    --output text)
  assert_eq "$P	$arn" "$out" "list-attached-user-policies"
  assert_eq 1 "$(awsx iam get-policy --policy-arn "$arn" --query 'Policy.AttachmentCount' --output text)" \
    "AttachmentCount"
  out=$(awsx iam list-policies --scope Local --query "Policies[?PolicyName=='$P'].Arn" --output text)
  assert_eq "$arn" "$out" "list-policies --scope Local"
}

iam_attach_unknown_policy() {
  expect_error NoSuchEntity awsx iam attach-user-policy --user-name "$U" \
    --policy-arn "arn:aws:iam::$(load account):policy/cs-nonexistent-$RUN_ID"
}

iam_managed_policy_takes_effect() {
  local out
  out=$(eventually as_user iam list-users --query "Users[?UserName=='$U'].UserName" --output text)
  assert_eq "$U" "$out" "list-users as the user"
}

iam_delete_attached_policy_conflict() {
  expect_error DeleteConflict awsx iam delete-policy --policy-arn "$(load policy.arn)"
}

# ---------------------------------------------------------------- checks: groups

iam_create_group() {
  local account out
  account=$(load account)
  out=$(awsx iam create-group --group-name "$G" --query 'Group.[GroupName,Arn]' --output text)
  assert_eq "$G	arn:aws:iam::$account:group/$G" "$out" "create-group"
  awsx iam add-user-to-group --group-name "$G" --user-name "$U"
  out=$(awsx iam get-group --group-name "$G" --query 'Users[].UserName' --output text)
  assert_eq "$U" "$out" "get-group members"
  out=$(awsx iam list-groups-for-user --user-name "$U" --query 'Groups[].GroupName' --output text)
  assert_eq "$G" "$out" "list-groups-for-user"
  out=$(awsx iam list-groups --query "Groups[?GroupName=='$G'].GroupName" --output text)
  assert_eq "$G" "$out" "list-groups"
}

iam_group_policy() {
  local account out
  account=$(load account)
  expect_error AccessDenied as_user iam list-groups
  awsx iam put-group-policy --group-name "$G" --policy-name group-inline \
    --policy-document "$(policy_doc iam:ListGroups "arn:aws:iam::$account:group/*")"
  assert_eq group-inline "$(awsx iam list-group-policies --group-name "$G" --query PolicyNames --output text)" \
    "list-group-policies"
  out=$(awsx iam get-group-policy --group-name "$G" --policy-name group-inline \
    --query 'PolicyDocument.Statement[0].Action' --output text)
  assert_eq iam:ListGroups "$out" "get-group-policy"
  # Members get the group's policies.
  out=$(eventually as_user iam list-groups --query "Groups[?GroupName=='$G'].GroupName" --output text)
  assert_eq "$G" "$out" "list-groups as a member"
}

iam_delete_user_conflict() {
  # Keys, policies and group memberships must go first.
  expect_error DeleteConflict awsx iam delete-user --user-name "$U"
  expect_error DeleteConflict awsx iam delete-group --group-name "$G"
}

# ---------------------------------------------------------------- checks: roles and STS

trust_doc() { # PRINCIPAL_ARN
  printf '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"%s"},"Action":"sts:AssumeRole"}]}' "$1"
}

iam_create_role() {
  local account user_arn out principal role_id
  account=$(load account)
  user_arn="arn:aws:iam::$account:user$USER_PATH$U"
  out=$(awsx iam create-role --role-name "$ROLE" --assume-role-policy-document "$(trust_doc "$user_arn")" \
    --description 'conformance role' --query 'Role.[RoleName,Arn,MaxSessionDuration]' --output text)
  assert_eq "$ROLE	arn:aws:iam::$account:role/$ROLE	3600" "$out" "create-role"
  out=$(awsx iam get-role --role-name "$ROLE" --query 'Role.[AssumeRolePolicyDocument.Statement[0].Principal.AWS,RoleId]' \
    --output text)
  read -r principal role_id <<<"$out"
  assert_eq "$user_arn" "$principal" "the trust policy's principal"
  assert_match '^AROA[A-Z0-9]+$' "$role_id" "RoleId"
  save role.id "$role_id"
  awsx iam put-role-policy --role-name "$ROLE" --policy-name role-inline \
    --policy-document "$(policy_doc iam:ListRoles "arn:aws:iam::$account:role/*")"
  assert_eq role-inline "$(awsx iam list-role-policies --role-name "$ROLE" --query PolicyNames --output text)" \
    "list-role-policies"
  # A second role only the bystander may assume.
  awsx iam create-role --role-name "$ROLE2" \
    --assume-role-policy-document "$(trust_doc "arn:aws:iam::$account:user/$U2")" >/dev/null
  out=$(awsx iam list-roles --query "length(Roles[?RoleName=='$ROLE' || RoleName=='$ROLE2'])" --output text)
  assert_eq 2 "$out" "roles of this run in list-roles"
}

iam_create_role_bad_trust() {
  expect_error MalformedPolicyDocument awsx iam create-role --role-name "cs-badrole-$RUN_ID" \
    --assume-role-policy-document '{"Version":"2012-10-17","Statement":[{"Effect":"Allow"'
}

iam_assume_role() {
  local account out key secret token expiration arn role_user_id
  account=$(load account)
  out=$(eventually as_user sts assume-role --role-arn "arn:aws:iam::$account:role/$ROLE" \
    --role-session-name "$SESSION" --duration-seconds 900 \
    --query '[Credentials.AccessKeyId,Credentials.SecretAccessKey,Credentials.SessionToken,Credentials.Expiration,AssumedRoleUser.Arn,AssumedRoleUser.AssumedRoleId]' \
    --output text)
  read -r key secret token expiration arn role_user_id <<<"$out"
  assert_match '^ASIA[A-Z0-9]{16}$' "$key" "AccessKeyId"
  assert_eq 40 "${#secret}" "length of SecretAccessKey"
  [[ -n $token ]] || die "no SessionToken"
  assert_match '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}' "$expiration" "Expiration"
  assert_eq "arn:aws:sts::$account:assumed-role/$ROLE/$SESSION" "$arn" "AssumedRoleUser.Arn"
  assert_eq "$(load role.id):$SESSION" "$role_user_id" "AssumedRoleUser.AssumedRoleId"
  save role.key "$key"
  save role.secret "$secret"
  save role.token "$token"
}

iam_assumed_identity() {
  local account out
  account=$(load account)
  out=$(eventually as_temp role sts get-caller-identity --query '[Account,Arn,UserId]' --output text)
  assert_eq "$account	arn:aws:sts::$account:assumed-role/$ROLE/$SESSION	$(load role.id):$SESSION" "$out" \
    "get-caller-identity with the role's temporary credentials"
}

iam_assumed_role_policies() {
  local out
  out=$(eventually as_temp role iam list-roles --query "Roles[?RoleName=='$ROLE'].RoleName" --output text)
  assert_eq "$ROLE" "$out" "list-roles as the role (its policy allows it)"
  # The role's policies, not the user's.
  expect_error AccessDenied as_temp role iam list-users
  expect_error AccessDenied as_temp role iam create-user --user-name "cs-intruder-$RUN_ID"
}

iam_assume_role_denied() {
  local account
  account=$(load account)
  # ROLE2 trusts the bystander, not the user.
  expect_error AccessDenied as_user sts assume-role --role-arn "arn:aws:iam::$account:role/$ROLE2" \
    --role-session-name "$SESSION"
  # Longer than the role's MaxSessionDuration (3600).
  expect_error ValidationError as_user sts assume-role --role-arn "arn:aws:iam::$account:role/$ROLE" \
    --role-session-name "$SESSION" --duration-seconds 7200
}

iam_get_session_token() {
  local account out key secret token
  account=$(load account)
  out=$(as_user sts get-session-token --duration-seconds 900 \
    --query '[Credentials.AccessKeyId,Credentials.SecretAccessKey,Credentials.SessionToken]' --output text)
  read -r key secret token <<<"$out"
  assert_match '^ASIA[A-Z0-9]{16}$' "$key" "AccessKeyId"
  save session.key "$key"
  save session.secret "$secret"
  save session.token "$token"
  out=$(eventually as_temp session sts get-caller-identity --query Arn --output text)
  assert_eq "arn:aws:iam::$account:user$USER_PATH$U" "$out" "get-caller-identity with session credentials"
  # As on AWS (without MFA), GetSessionToken credentials may not call the IAM API: a leaked
  # temporary key cannot mint permanent ones.
  expect_error 'AccessDenied' as_temp session iam create-access-key --user-name "$U"
}

iam_session_token_required() {
  local key secret
  key=$(load session.key)
  secret=$(load session.secret)
  # Temporary keys without their session token are refused.
  (
    unset AWS_SESSION_TOKEN
    export AWS_ACCESS_KEY_ID=$key AWS_SECRET_ACCESS_KEY=$secret
    expect_error '[A-Za-z]+' awsx sts get-caller-identity
  )
}

# ---------------------------------------------------------------- checks: S3 with the user's keys

s3_setup_bucket() {
  printf 'written by the bucket owner\n' >"$WORK/owner.txt"
  awsx s3api create-bucket --bucket "$B" >/dev/null
  awsx s3api put-object --bucket "$B" --key owner.txt --body "$WORK/owner.txt" >/dev/null
}

s3_denied_without_policy() {
  printf 'from the user\n' >"$WORK/user.txt"
  expect_error AccessDenied as_user s3api put-object --bucket "$B" --key user.txt --body "$WORK/user.txt"
  expect_error AccessDenied as_user s3api get-object --bucket "$B" --key owner.txt "$WORK/denied.out"
  expect_error AccessDenied as_user s3api list-buckets
}

s3_allowed_by_policy() {
  local doc out
  doc=$(printf '{"Version":"2012-10-17","Statement":[%s,%s]}' \
    '{"Effect":"Allow","Action":"s3:ListAllMyBuckets","Resource":"*"}' \
    "{\"Effect\":\"Allow\",\"Action\":\"s3:*Object\",\"Resource\":\"arn:aws:s3:::$B/*\"}")
  awsx iam put-user-policy --user-name "$U" --policy-name s3-objects --policy-document "$doc"
  printf 'from the user\n' >"$WORK/user.txt"
  eventually as_user s3api put-object --bucket "$B" --key user.txt --body "$WORK/user.txt" >/dev/null
  as_user s3api get-object --bucket "$B" --key owner.txt "$WORK/owner.down" >/dev/null
  cmp "$WORK/owner.txt" "$WORK/owner.down" || die "get-object as the user returned other bytes"
  awsx s3api get-object --bucket "$B" --key user.txt "$WORK/user.down" >/dev/null
  cmp "$WORK/user.txt" "$WORK/user.down" || die "the owner reads other bytes than the user wrote"
  out=$(as_user s3api list-buckets --query "Buckets[?Name=='$B'].Name" --output text)
  assert_eq "$B" "$out" "list-buckets as the user"
  # Only what the policy names: no listing, no bucket deletion.
  expect_error AccessDenied as_user s3api list-objects-v2 --bucket "$B"
  expect_error AccessDenied as_user s3api delete-bucket --bucket "$B"
}

s3_presign_with_session_token() {
  local url status
  # aws-cli presigns with SigV2 against a custom endpoint; with temporary credentials the
  # session token rides in the URL as x-amz-security-token, signed as that header.
  url=$(as_temp session s3 presign "s3://$B/owner.txt" --expires-in 300)
  assert_match '[?&]Signature=.*[?&]?x-amz-security-token=' "$url" "a SigV2 presigned URL with the token"
  curl -fsS -o "$WORK/presigned.down" "$url" || die "a presigned URL made with session credentials was refused"
  cmp "$WORK/owner.txt" "$WORK/presigned.down" || die "the presigned URL returned other bytes"
  # The token is part of what was signed: without it the URL is refused.
  status=$(curl -s -o /dev/null -w '%{http_code}' "${url/x-amz-security-token=/x-dropped=}")
  assert_eq 403 "$status" "the presigned URL without its token"
}

# RevokePresignedUrls (ours, not AWS's; AWS can only rotate the key), called with curl's own
# SigV4 signer: every URL the user's key signed so far dies, the key itself keeps working.
s3_presign_revoked() {
  local v2 v4 fresh_v4 fresh_v2 status
  printf '[default]\ns3 =\n    addressing_style = path\n    signature_version = s3v4\n' >"$WORK/aws-config-v4"
  v2=$(as_user s3 presign "s3://$B/owner.txt" --expires-in 300)
  v4=$(AWS_CONFIG_FILE="$WORK/aws-config-v4" as_user s3 presign "s3://$B/owner.txt" --expires-in 300)
  assert_match 'X-Amz-Signature=' "$v4" "a SigV4 presigned URL"
  curl -fsS -o /dev/null "$v2" || die "the SigV2 presigned URL was refused before any revocation"
  curl -fsS -o /dev/null "$v4" || die "the SigV4 presigned URL was refused before any revocation"
  sleep 1 # the revocation covers URLs signed up to its second
  status=$(curl -s -o "$WORK/revoke.out" -w '%{http_code}' --aws-sigv4 "aws:amz:$AWS_DEFAULT_REGION:iam" \
    -u "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" ${AWS_SESSION_TOKEN:+-H "x-amz-security-token: $AWS_SESSION_TOKEN"} \
    -d "Action=RevokePresignedUrls&UserName=$U&AccessKeyId=$(load user.key)&Version=2010-05-08" "$AWS_ENDPOINT_URL/")
  assert_eq 200 "$status" "RevokePresignedUrls ($(cut -c1-200 "$WORK/revoke.out"))"
  eventually bash -c "[[ \$(curl -s -o /dev/null -w '%{http_code}' '$v4') == 403 ]]" >/dev/null
  status=$(curl -s -o /dev/null -w '%{http_code}' "$v2")
  assert_eq 403 "$status" "a SigV2 URL signed before the revocation"
  sleep 1
  fresh_v4=$(AWS_CONFIG_FILE="$WORK/aws-config-v4" as_user s3 presign "s3://$B/owner.txt" --expires-in 300)
  curl -fsS -o "$WORK/fresh.down" "$fresh_v4" || die "a SigV4 URL signed after the revocation was refused"
  cmp "$WORK/owner.txt" "$WORK/fresh.down" || die "the fresh presigned URL returned other bytes"
  # A SigV2 URL carries no signing time: one expiring within a week of the revocation is refused.
  fresh_v2=$(as_user s3 presign "s3://$B/owner.txt" --expires-in 300)
  status=$(curl -s -o /dev/null -w '%{http_code}' "$fresh_v2")
  assert_eq 403 "$status" "a SigV2 URL expiring within the week after a revocation"
  as_user s3api head-object --bucket "$B" --key owner.txt >/dev/null || die "the key itself stopped working"
}

s3_denied_after_policy_removed() {
  awsx iam delete-user-policy --user-name "$U" --policy-name s3-objects
  eventually expect_error AccessDenied as_user s3api get-object --bucket "$B" --key owner.txt "$WORK/denied.out"
}

s3_cleanup_bucket() {
  awsx s3api delete-object --bucket "$B" --key owner.txt
  awsx s3api delete-object --bucket "$B" --key user.txt
  awsx s3api delete-bucket --bucket "$B"
}

# ---------------------------------------------------------------- checks: deleting, in AWS order

iam_delete_all() {
  local arn key
  arn=$(load policy.arn)
  # Group: members and policies first.
  awsx iam remove-user-from-group --group-name "$G" --user-name "$U"
  awsx iam delete-group-policy --group-name "$G" --policy-name group-inline
  awsx iam delete-group --group-name "$G"
  # Roles: policies first.
  awsx iam delete-role-policy --role-name "$ROLE" --policy-name role-inline
  awsx iam delete-role --role-name "$ROLE"
  awsx iam delete-role --role-name "$ROLE2"
  # Managed policy: detached before deleted.
  awsx iam detach-user-policy --user-name "$U" --policy-arn "$arn"
  awsx iam delete-policy --policy-arn "$arn"
  # User: inline policies and keys, then the user.
  awsx iam delete-user-policy --user-name "$U" --policy-name self-read
  for key in $(awsx iam list-access-keys --user-name "$U" --query 'AccessKeyMetadata[].AccessKeyId' --output text); do
    awsx iam delete-access-key --user-name "$U" --access-key-id "$key"
  done
  awsx iam delete-user --user-name "$U"
  awsx iam delete-user --user-name "$U2"
}

iam_all_gone() {
  expect_error NoSuchEntity awsx iam get-user --user-name "$U"
  expect_error NoSuchEntity awsx iam get-user --user-name "$U2"
  expect_error NoSuchEntity awsx iam get-group --group-name "$G"
  expect_error NoSuchEntity awsx iam get-role --role-name "$ROLE"
  expect_error NoSuchEntity awsx iam get-policy --policy-arn "$(load policy.arn)"
  # The user's keys and the role's sessions died with them.
  eventually expect_error InvalidClientTokenId as_user sts get-caller-identity
  eventually expect_error '[A-Za-z]+' as_temp role sts get-caller-identity
}

# ---------------------------------------------------------------- run

echo "iam conformance: endpoint $AWS_ENDPOINT_URL, region $AWS_DEFAULT_REGION, run $RUN_ID"
if ! command -v aws >/dev/null 2>&1; then
  fail installed "aws not found on PATH (scripts/install-clients.sh installs it)"
  echo "$PASSED passed, $FAILED failed"
  exit 1
fi

check sts-get-caller-identity iam_caller_identity
ACCOUNT=$(cat "$WORK/state.account" 2>/dev/null || true)
check create-user iam_create_user
check create-user-duplicate iam_create_user_duplicate
check get-user iam_get_user
check get-user-missing iam_get_user_missing
check list-users iam_list_users
check create-access-key iam_create_access_key
check list-access-keys iam_list_access_keys
check user-get-caller-identity iam_user_identity
check user-denied-without-policy iam_user_denied_without_policy
check update-access-key iam_update_access_key
check put-user-policy iam_put_user_policy
check get-user-policy iam_get_user_policy
check list-user-policies iam_list_user_policies
check malformed-policy-document iam_malformed_policy
check user-policy-takes-effect iam_user_policy_takes_effect
check create-policy iam_create_policy
check get-policy-version iam_get_policy_version
check attach-user-policy iam_attach_user_policy
check attach-unknown-policy iam_attach_unknown_policy
check managed-policy-takes-effect iam_managed_policy_takes_effect
check delete-attached-policy-conflict iam_delete_attached_policy_conflict
check create-group iam_create_group
check group-policy iam_group_policy
check delete-user-conflict iam_delete_user_conflict
check create-role iam_create_role
check create-role-bad-trust iam_create_role_bad_trust
check assume-role iam_assume_role
check assumed-role-identity iam_assumed_identity
check assumed-role-policies iam_assumed_role_policies
check assume-role-denied iam_assume_role_denied
check get-session-token iam_get_session_token
check session-token-required iam_session_token_required
if [[ $SKIP_S3 != 1 ]]; then
  check s3-setup-bucket s3_setup_bucket
  check s3-denied-without-policy s3_denied_without_policy
  check s3-allowed-by-policy s3_allowed_by_policy
  check s3-presign-with-session-token s3_presign_with_session_token
  check s3-presign-revoked s3_presign_revoked
  check s3-denied-after-policy-removed s3_denied_after_policy_removed
  check s3-cleanup-bucket s3_cleanup_bucket
fi
check delete-in-aws-order iam_delete_all
check all-gone iam_all_gone

echo "$PASSED passed, $FAILED failed"
[[ $FAILED == 0 ]]
