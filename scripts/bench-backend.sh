# Sourced by the benchmark scripts: BACKEND_ENV, the server settings of the backend set named by
# BACKEND (postgres-s3, the default: PostgreSQL + SeaweedFS of the test stack, whose env must be
# sourced; embedded: SQLite + local files). $1: the S3 backend bucket the server keeps blobs in.
# shellcheck shell=bash
BACKEND=${BACKEND:-postgres-s3}
if [ "$BACKEND" = postgres-s3 ]; then
  : "${CLOUDSTORE_TEST_POSTGRES_URL:?source the test stack env first (or BACKEND=embedded)}"
  BACKEND_ENV=(CLOUDSTORE_POSTGRES_URL=$CLOUDSTORE_TEST_POSTGRES_URL CLOUDSTORE_S3_ENDPOINT=$CLOUDSTORE_TEST_S3_ENDPOINT
    CLOUDSTORE_S3_ACCESS_KEY=$CLOUDSTORE_TEST_S3_ACCESS_KEY CLOUDSTORE_S3_SECRET_KEY=$CLOUDSTORE_TEST_S3_SECRET_KEY
    CLOUDSTORE_S3_BUCKET=$1)
else
  BACKEND_ENV=()
fi
