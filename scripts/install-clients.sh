#!/usr/bin/env bash
# Installs (if missing) the S3 client tools the conformance tests drive: aws-cli v1 (pip
# awscli), boto3, botocore[crt] (CRC32C checksums), and Debian's rclone, s3cmd and chromium
# (headless, for the browser CORS suite).
# Idempotent: when everything is there it only checks (well under a second).
#
# NOTE for tests: this machine exports AWS_CA_BUNDLE, and rclone 1.60 then fails with
# LoadCustomCABundleError. Run rclone with that variable unset:  env -u AWS_CA_BUNDLE rclone ...
set -euo pipefail

usage() {
  cat <<'EOF'
usage: scripts/install-clients.sh [--check]

Installs what is missing of: aws-cli (pip awscli), boto3, botocore[crt] (into the machine's
python3 with `python3 -m pip`), rclone, s3cmd and chromium (apt). --check only reports, exit 1 if
something is missing. Must run as root for the apt part.
Tests must run rclone with AWS_CA_BUNDLE unset (rclone 1.60 fails with it set).
EOF
}

log() { echo "install-clients: $*" >&2; }
die() { echo "install-clients: error: $*" >&2; exit 1; }

CHECK_ONLY=
case "${1:-}" in
  "") ;;
  --check) CHECK_ONLY=1 ;;
  -h | --help) usage; exit 0 ;;
  *) usage >&2; exit 2 ;;
esac

command -v python3 >/dev/null || die "python3 not found"

# cheap checks (no imports of botocore, no `aws --version`: those take seconds)
py_ok() {
  python3 - <<'EOF' 2>/dev/null
from importlib.util import find_spec
assert all(find_spec(m) for m in ("awscli", "boto3", "botocore", "awscrt"))
EOF
}
aws_ok() { command -v aws >/dev/null; }

missing_apt=()
command -v rclone >/dev/null || missing_apt+=(rclone)
command -v s3cmd >/dev/null || missing_apt+=(s3cmd)
command -v chromium >/dev/null || missing_apt+=(chromium)
need_pip=
py_ok && aws_ok || need_pip=1

if [ -n "$CHECK_ONLY" ]; then
  [ -z "$need_pip" ] || log "missing: python awscli/boto3/botocore[crt] or the aws command"
  [ ${#missing_apt[@]} -eq 0 ] || log "missing: ${missing_apt[*]}"
  [ -z "$need_pip" ] && [ ${#missing_apt[@]} -eq 0 ] && log "all client tools present"
  exit $((${#missing_apt[@]} > 0 || ${#need_pip} > 0))
fi

if [ ${#missing_apt[@]} -gt 0 ]; then
  aptlog=$(mktemp /tmp/cloudstore-apt.XXXX.log)
  log "apt-get update; apt-get install ${missing_apt[*]}"
  { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
      --no-install-recommends "${missing_apt[@]}"; } >"$aptlog" 2>&1 ||
    { tail -n 30 "$aptlog" >&2; die "apt-get failed (log: $aptlog)"; }
  rm -f "$aptlog"
fi

if [ -n "$need_pip" ]; then
  # one resolver run, so awscli's exact botocore pin and botocore[crt]'s awscrt agree
  log "pip install awscli boto3 botocore[crt]"
  python3 -m pip install --quiet --disable-pip-version-check awscli boto3 'botocore[crt]' >&2
  # pyenv only sees new console scripts after a rehash
  if command -v pyenv >/dev/null; then pyenv rehash || true; fi
  py_ok || die "python packages installed but awscli/boto3/awscrt still not importable"
  aws --version >/dev/null 2>&1 || die "awscli installed but no working 'aws' on PATH (python3 -m awscli works as a fallback)"
fi

versions=$(python3 -c 'from importlib.metadata import version as v
print(", ".join(f"{p} {v(p)}" for p in ("awscli", "boto3", "botocore", "awscrt")))')
log "ok: $versions, $(rclone version 2>/dev/null | head -n 1), s3cmd $(s3cmd --version 2>&1 | awk '{print $3}')"
log "reminder: run rclone with AWS_CA_BUNDLE unset (env -u AWS_CA_BUNDLE rclone ...)"
