#!/usr/bin/env python3
"""boto3 conformance checks, run by run.sh (or alone with the same environment).

Uses boto3 with its default checksum behaviour (request_checksum_calculation and
response_checksum_validation = when_supported: a CRC32 on every upload, checksums validated on
download) and path-style addressing. Prints "PASS boto3/<check>" or "FAIL boto3/<check>: <why>"
per check and exits non-zero if any failed.

botocore sends its checksum as an aws-chunked trailer (STREAMING-UNSIGNED-PAYLOAD-TRAILER) only
over https and as a header over http. The *-trailer checks make it use the trailer whatever the
scheme (exactly what it sends over https), and verify on the wire that it did.
"""

import base64
import concurrent.futures
import datetime
import hashlib
import io
import os
import secrets
import shutil
import ssl
import sys
import tempfile
import time
import traceback
import urllib.error
import urllib.parse
import urllib.request

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import ClientError

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import helpers  # noqa: E402

ENDPOINT = os.environ["AWS_ENDPOINT_URL"].rstrip("/")
REGION = os.environ.get("AWS_REGION") or "us-east-1"
PREFIX = os.environ.get("CONFORMANCE_BUCKET_PREFIX") or "conf"
RUN_ID = os.environ.get("CONFORMANCE_RUN_ID") or secrets.token_hex(4)
BUCKETS_FILE = os.environ.get("CONFORMANCE_BUCKETS_FILE")
MIB = 1024 * 1024

# s3v4 also for presigned URLs (botocore would otherwise presign with SigV2 here).
CONFIG = Config(s3={"addressing_style": "path"}, signature_version="s3v4", max_pool_connections=20)
s3 = boto3.session.Session().client("s3", endpoint_url=ENDPOINT, region_name=REGION, config=CONFIG)

_seq = 0


def new_bucket_name(tag):
    global _seq
    _seq += 1
    name = f"{PREFIX}-boto3-{tag}-{RUN_ID}-{_seq}"
    if BUCKETS_FILE:
        with open(BUCKETS_FILE, "a") as f:
            f.write(name + "\n")
    return name


B = new_bucket_name("main")
TMP = tempfile.mkdtemp(prefix="conformance-boto3.")


# ---------------------------------------------------------------------------------------------
# helpers


def sha(data):
    return hashlib.sha256(data).hexdigest()


def md5_etag(data):
    return f'"{hashlib.md5(data).hexdigest()}"'


def eq(expected, actual, what):
    if expected != actual:
        raise AssertionError(f"{what}: expected {expected!r}, got {actual!r}")


def expect_error(fn, code, status=None, what="the call"):
    """Run fn; it must fail with S3 error `code` (and HTTP `status` if given)."""
    want = f"{code}" + (f" ({status})" if status else "")
    try:
        fn()
    except ClientError as e:
        got = e.response.get("Error", {}).get("Code")
        st = e.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if got != code or (status is not None and st != status):
            raise AssertionError(f"{what}: expected error {want}, got {got} ({st}): {e}") from None
        return e
    raise AssertionError(f"{what}: expected error {want}, but it succeeded")


def create_bucket(name):
    kwargs = {"Bucket": name}
    if REGION != "us-east-1":
        kwargs["CreateBucketConfiguration"] = {"LocationConstraint": REGION}
    s3.create_bucket(**kwargs)


def bucket_exists(name):
    try:
        s3.head_bucket(Bucket=name)
        return True
    except ClientError:
        return False


def empty_bucket(name):
    for page in s3.get_paginator("list_multipart_uploads").paginate(Bucket=name):
        for u in page.get("Uploads", []):
            s3.abort_multipart_upload(Bucket=name, Key=u["Key"], UploadId=u["UploadId"])
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=name):
        objs = [{"Key": o["Key"]} for o in page.get("Contents", [])]
        if objs:
            s3.delete_objects(Bucket=name, Delete={"Objects": objs, "Quiet": True})


class WireLog:
    """Records the headers of the requests a client sends (before-send)."""

    def __init__(self, client, event):
        self.headers = []
        client.meta.events.register(event, self._record)

    def _record(self, request, **_):
        self.headers.append(
            {k.lower(): v.decode() if isinstance(v, bytes) else v for k, v in request.headers.items()}
        )


def _force_trailer(params, **_):
    algorithm = params.get("context", {}).get("checksum", {}).get("request_algorithm")
    if isinstance(algorithm, dict) and algorithm.get("in") == "header":
        algorithm["in"] = "trailer"


def trailer_client():
    """A client that sends upload checksums as aws-chunked trailers, as botocore does over https."""
    client = boto3.session.Session().client("s3", endpoint_url=ENDPOINT, region_name=REGION, config=CONFIG)
    for op in ("PutObject", "UploadPart"):
        client.meta.events.register(f"before-call.s3.{op}", _force_trailer)
    return client


def assert_trailer_used(log, op_hint):
    if not log.headers:
        raise AssertionError(f"no {op_hint} request was recorded")
    for h in log.headers:
        if "aws-chunked" not in h.get("content-encoding", "") or "x-amz-trailer" not in h:
            raise AssertionError(f"{op_hint} was not sent aws-chunked with a trailer: {h}")
        eq("STREAMING-UNSIGNED-PAYLOAD-TRAILER", h.get("x-amz-content-sha256"), "x-amz-content-sha256")


def http(method, url, data=None):
    """Plain urllib request; returns (status, body)."""
    ctx = None
    if url.startswith("https:"):
        ctx = ssl.create_default_context(cafile=os.environ.get("AWS_CA_BUNDLE") or None)
    req = urllib.request.Request(url, data=data, method=method)
    try:
        with urllib.request.urlopen(req, context=ctx, timeout=60) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


# ---------------------------------------------------------------------------------------------
# checks, run in order

CHECKS = []


def check(fn):
    CHECKS.append(fn)
    return fn


@check
def create_bucket_():
    create_bucket(B)
    s3.head_bucket(Bucket=B)


@check
def create_existing_own_bucket():
    s3.put_object(Bucket=B, Key="keep.txt", Body=b"keep me")
    try:
        create_bucket(B)
        # AWS answers 200 here only in us-east-1 (legacy behaviour); elsewhere it is an error.
        if REGION != "us-east-1":
            raise AssertionError("re-creating an owned bucket succeeded outside us-east-1")
    except ClientError as e:
        eq("BucketAlreadyOwnedByYou", e.response["Error"]["Code"], "error code")
        eq(409, e.response["ResponseMetadata"]["HTTPStatusCode"], "HTTP status")
    eq(b"keep me", s3.get_object(Bucket=B, Key="keep.txt")["Body"].read(), "object after re-create")


DATA = helpers.gen_bytes(200_000, 31)


@check
def put_get_head():
    r = s3.put_object(
        Bucket=B, Key="obj.bin", Body=DATA, ContentType="application/x-test",
        Metadata={"color": "blue", "Mixed-Case": "Value"},
    )
    eq(md5_etag(DATA), r["ETag"], "PutObject ETag")
    g = s3.get_object(Bucket=B, Key="obj.bin")
    eq(sha(DATA), sha(g["Body"].read()), "sha256 of the body")
    eq(len(DATA), g["ContentLength"], "GetObject ContentLength")
    h = s3.head_object(Bucket=B, Key="obj.bin")
    eq(len(DATA), h["ContentLength"], "HeadObject ContentLength")
    eq(md5_etag(DATA), h["ETag"], "HeadObject ETag")
    eq("application/x-test", h["ContentType"], "ContentType")
    eq({"color": "blue", "mixed-case": "Value"}, h["Metadata"], "Metadata")


@check
def default_checksum_crc32():
    want = helpers.checksum_bytes("crc32", DATA)
    r = s3.put_object(Bucket=B, Key="crc.bin", Body=DATA)
    eq(want, r.get("ChecksumCRC32"), "ChecksumCRC32 in the PutObject response")
    g = s3.get_object(Bucket=B, Key="crc.bin", ChecksumMode="ENABLED")
    eq(want, g.get("ChecksumCRC32"), "ChecksumCRC32 in the GetObject response")
    eq(sha(DATA), sha(g["Body"].read()), "sha256 of the body")


@check
def put_aws_chunked_trailer():
    client = trailer_client()
    log = WireLog(client, "before-send.s3.PutObject")
    body = helpers.gen_bytes(MIB + 12345, 32)
    r = client.put_object(Bucket=B, Key="trailer-crc32.bin", Body=io.BytesIO(body))
    eq(helpers.checksum_bytes("crc32", body), r.get("ChecksumCRC32"), "ChecksumCRC32 (default algorithm)")
    r = client.put_object(Bucket=B, Key="trailer-crc32c.bin", Body=io.BytesIO(body), ChecksumAlgorithm="CRC32C")
    eq(helpers.checksum_bytes("crc32c", body), r.get("ChecksumCRC32C"), "ChecksumCRC32C")
    assert_trailer_used(log, "PutObject")
    for key in ("trailer-crc32.bin", "trailer-crc32c.bin"):
        h = s3.head_object(Bucket=B, Key=key)
        eq(len(body), h["ContentLength"], f"ContentLength of {key}")
        eq(md5_etag(body), h["ETag"], f"ETag of {key}")
        eq(sha(body), sha(s3.get_object(Bucket=B, Key=key)["Body"].read()), f"sha256 of {key}")


@check
def put_bad_checksum_rejected():
    wrong = base64.b64encode(b"\0" * 32).decode()
    expect_error(
        lambda: s3.put_object(Bucket=B, Key="bad-sha.bin", Body=DATA, ChecksumSHA256=wrong), "BadDigest", 400
    )
    expect_error(lambda: s3.head_object(Bucket=B, Key="bad-sha.bin"), "404")


MANY = 1100


@check
def list_v2_paginated_1100():
    keys = [f"many/{i:05d}" for i in range(MANY)]
    with concurrent.futures.ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(lambda k: s3.put_object(Bucket=B, Key=k, Body=k.encode()), keys))
    pages = list(s3.get_paginator("list_objects_v2").paginate(Bucket=B, Prefix="many/"))
    eq([1000, 100], [p["KeyCount"] for p in pages], "KeyCount per page")
    eq([True, False], [p["IsTruncated"] for p in pages], "IsTruncated per page")
    got = [(o["Key"], o["Size"]) for p in pages for o in p["Contents"]]
    eq([(k, len(k)) for k in keys], got, "keys and sizes, in order")
    pages = list(
        s3.get_paginator("list_objects_v2").paginate(Bucket=B, Prefix="many/", PaginationConfig={"PageSize": 250})
    )
    eq([250, 250, 250, 250, 100], [p["KeyCount"] for p in pages], "KeyCount per page of 250")
    eq(keys, [o["Key"] for p in pages for o in p["Contents"]], "keys over pages of 250")


@check
def list_v1_paginated_1100():
    pages = list(s3.get_paginator("list_objects").paginate(Bucket=B, Prefix="many/"))
    eq([1000, 100], [len(p["Contents"]) for p in pages], "objects per page")
    eq([f"many/{i:05d}" for i in range(MANY)], [o["Key"] for p in pages for o in p["Contents"]], "keys")


@check
def copy_object_copy_directive():
    s3.copy_object(Bucket=B, Key="copy.bin", CopySource={"Bucket": B, "Key": "obj.bin"})
    h = s3.head_object(Bucket=B, Key="copy.bin")
    eq({"color": "blue", "mixed-case": "Value"}, h["Metadata"], "copied Metadata")
    eq("application/x-test", h["ContentType"], "copied ContentType")
    eq(md5_etag(DATA), h["ETag"], "ETag of the copy")
    eq(sha(DATA), sha(s3.get_object(Bucket=B, Key="copy.bin")["Body"].read()), "sha256 of the copy")


@check
def copy_object_replace_directive():
    s3.copy_object(
        Bucket=B, Key="replaced.bin", CopySource={"Bucket": B, "Key": "obj.bin"},
        MetadataDirective="REPLACE", Metadata={"new": "yes"}, ContentType="text/x-new",
    )
    h = s3.head_object(Bucket=B, Key="replaced.bin")
    eq({"new": "yes"}, h["Metadata"], "replaced Metadata")
    eq("text/x-new", h["ContentType"], "replaced ContentType")
    eq(sha(DATA), sha(s3.get_object(Bucket=B, Key="replaced.bin")["Body"].read()), "sha256 of the copy")


@check
def copy_object_onto_itself():
    # Without REPLACE, copying an object onto itself changes nothing and is refused.
    expect_error(
        lambda: s3.copy_object(Bucket=B, Key="copy.bin", CopySource={"Bucket": B, "Key": "copy.bin"}),
        "InvalidRequest", 400,
    )
    s3.copy_object(
        Bucket=B, Key="copy.bin", CopySource={"Bucket": B, "Key": "copy.bin"},
        MetadataDirective="REPLACE", Metadata={"edited": "1"},
    )
    h = s3.head_object(Bucket=B, Key="copy.bin")
    eq({"edited": "1"}, h["Metadata"], "Metadata after an in-place REPLACE copy")
    eq(len(DATA), h["ContentLength"], "ContentLength after an in-place copy")


def _upload_file_check(client, key, size, seed, log=None):
    path = os.path.join(TMP, key)
    helpers.gen(path, size, seed)
    cfg = TransferConfig(multipart_threshold=5 * MIB, multipart_chunksize=5 * MIB, max_concurrency=4)
    client.upload_file(path, B, key, Config=cfg)
    if log is not None:
        assert_trailer_used(log, "UploadPart")
    h = s3.head_object(Bucket=B, Key=key, ChecksumMode="ENABLED")
    eq(size, h["ContentLength"], "ContentLength")
    eq(f'"{helpers.mpu_etag(5 * MIB, path)}"', h["ETag"], "multipart ETag (MD5 of part MD5s)")
    # s3transfer creates the upload with ChecksumAlgorithm=CRC32 and sends each part's CRC32.
    eq(helpers.composite("crc32", 5 * MIB, path), h.get("ChecksumCRC32"), "COMPOSITE ChecksumCRC32")
    eq("COMPOSITE", h.get("ChecksumType"), "ChecksumType")
    down = path + ".down"
    s3.download_file(B, key, down, Config=cfg)
    eq(helpers.file_digest("sha256", path).hexdigest(), helpers.file_digest("sha256", down).hexdigest(), "sha256 of the download")
    os.remove(path)
    os.remove(down)


@check
def multipart_upload_file():
    _upload_file_check(s3, "mpu-23MiB.bin", 23 * MIB, 33)


@check
def multipart_upload_file_aws_chunked_trailer():
    client = trailer_client()
    log = WireLog(client, "before-send.s3.UploadPart")
    _upload_file_check(client, "mpu-trailer-12MiB.bin", 12 * MIB, 34, log)


@check
def conditional_put_if_none_match():
    s3.put_object(Bucket=B, Key="cond.txt", Body=b"first", IfNoneMatch="*")
    expect_error(lambda: s3.put_object(Bucket=B, Key="cond.txt", Body=b"second", IfNoneMatch="*"), "PreconditionFailed", 412)
    eq(b"first", s3.get_object(Bucket=B, Key="cond.txt")["Body"].read(), "body after the refused put")


@check
def conditional_put_if_match():
    etag = s3.head_object(Bucket=B, Key="cond.txt")["ETag"]
    expect_error(
        lambda: s3.put_object(Bucket=B, Key="cond.txt", Body=b"nope", IfMatch='"00000000000000000000000000000000"'),
        "PreconditionFailed", 412,
    )
    s3.put_object(Bucket=B, Key="cond.txt", Body=b"third", IfMatch=etag)
    eq(b"third", s3.get_object(Bucket=B, Key="cond.txt")["Body"].read(), "body after the matching put")


@check
def get_range():
    g = s3.get_object(Bucket=B, Key="obj.bin", Range="bytes=10-19")
    eq(206, g["ResponseMetadata"]["HTTPStatusCode"], "status")
    eq(f"bytes 10-19/{len(DATA)}", g["ContentRange"], "ContentRange")
    eq(DATA[10:20], g["Body"].read(), "bytes 10-19")
    g = s3.get_object(Bucket=B, Key="obj.bin", Range="bytes=-7")
    eq(f"bytes {len(DATA) - 7}-{len(DATA) - 1}/{len(DATA)}", g["ContentRange"], "ContentRange of -7")
    eq(DATA[-7:], g["Body"].read(), "last 7 bytes")
    g = s3.get_object(Bucket=B, Key="obj.bin", Range=f"bytes={len(DATA) - 3}-")
    eq(DATA[-3:], g["Body"].read(), "open-ended range")


@check
def get_if_match():
    etag = s3.head_object(Bucket=B, Key="obj.bin")["ETag"]
    eq(DATA, s3.get_object(Bucket=B, Key="obj.bin", IfMatch=etag)["Body"].read(), "body with a matching If-Match")
    expect_error(lambda: s3.get_object(Bucket=B, Key="obj.bin", IfMatch='"0123"'), "PreconditionFailed", 412)


@check
def get_if_none_match_304():
    etag = s3.head_object(Bucket=B, Key="obj.bin")["ETag"]
    expect_error(lambda: s3.get_object(Bucket=B, Key="obj.bin", IfNoneMatch=etag), "304", 304)
    expect_error(lambda: s3.head_object(Bucket=B, Key="obj.bin", IfNoneMatch=etag), "304", 304)
    eq(DATA, s3.get_object(Bucket=B, Key="obj.bin", IfNoneMatch='"0123"')["Body"].read(), "body with another ETag")


@check
def get_if_modified_since():
    lm = s3.head_object(Bucket=B, Key="obj.bin")["LastModified"]
    day = datetime.timedelta(days=1)
    expect_error(lambda: s3.get_object(Bucket=B, Key="obj.bin", IfModifiedSince=lm + day), "304", 304)
    eq(DATA, s3.get_object(Bucket=B, Key="obj.bin", IfModifiedSince=lm - day)["Body"].read(), "body modified since")
    expect_error(lambda: s3.get_object(Bucket=B, Key="obj.bin", IfUnmodifiedSince=lm - day), "PreconditionFailed", 412)


@check
def presigned_get():
    url = s3.generate_presigned_url("get_object", Params={"Bucket": B, "Key": "obj.bin"}, ExpiresIn=300)
    status, body = http("GET", url)
    eq(200, status, "status")
    eq(sha(DATA), sha(body), "sha256 of the body")
    sig_at = url.index("X-Amz-Signature=") + len("X-Amz-Signature=")
    bad = url[:sig_at] + ("0" if url[sig_at] != "0" else "1") + url[sig_at + 1 :]
    status, body = http("GET", bad)
    eq(403, status, "status with a tampered signature")
    if b"SignatureDoesNotMatch" not in body:
        raise AssertionError(f"tampered signature: expected SignatureDoesNotMatch, got {body[:300]!r}")


@check
def presigned_get_expired():
    url = s3.generate_presigned_url("get_object", Params={"Bucket": B, "Key": "obj.bin"}, ExpiresIn=1)
    time.sleep(2.5)
    status, body = http("GET", url)
    eq(403, status, "status of an expired URL")
    if b"AccessDenied" not in body:
        raise AssertionError(f"expired URL: expected AccessDenied, got {body[:300]!r}")


@check
def presigned_put():
    url = s3.generate_presigned_url("put_object", Params={"Bucket": B, "Key": "presigned-put.bin"}, ExpiresIn=300)
    body = helpers.gen_bytes(54321, 35)
    status, resp = http("PUT", url, data=body)
    eq(200, status, f"status ({resp[:200]!r})")
    eq(sha(body), sha(s3.get_object(Bucket=B, Key="presigned-put.bin")["Body"].read()), "sha256 of the object")


@check
def delete_objects():
    r = s3.delete_objects(
        Bucket=B,
        Delete={"Objects": [{"Key": "copy.bin"}, {"Key": "replaced.bin"}, {"Key": "never-existed"}]},
    )
    eq(["copy.bin", "never-existed", "replaced.bin"], sorted(d["Key"] for d in r.get("Deleted", [])), "Deleted")
    eq([], r.get("Errors", []), "Errors")
    expect_error(lambda: s3.head_object(Bucket=B, Key="copy.bin"), "404", 404)
    # 1100 keys take two requests (at most 1000 keys each).
    keys = [{"Key": f"many/{i:05d}"} for i in range(MANY)]
    for i in range(0, MANY, 1000):
        r = s3.delete_objects(Bucket=B, Delete={"Objects": keys[i : i + 1000], "Quiet": True})
        eq([], r.get("Errors", []), "Errors")
    eq(0, s3.list_objects_v2(Bucket=B, Prefix="many/")["KeyCount"], "keys left under many/")


@check
def delete_object():
    s3.delete_object(Bucket=B, Key="crc.bin")
    expect_error(lambda: s3.head_object(Bucket=B, Key="crc.bin"), "404", 404)
    # Deleting a missing key succeeds (204), as in AWS.
    eq(204, s3.delete_object(Bucket=B, Key="crc.bin")["ResponseMetadata"]["HTTPStatusCode"], "status")


@check
def error_no_such_key():
    expect_error(lambda: s3.get_object(Bucket=B, Key="no/such/key"), "NoSuchKey", 404)


@check
def error_no_such_bucket():
    missing = new_bucket_name("missing")
    try:
        expect_error(lambda: s3.get_object(Bucket=missing, Key="k"), "NoSuchBucket", 404, "GetObject")
        expect_error(lambda: s3.list_objects_v2(Bucket=missing), "NoSuchBucket", 404, "ListObjectsV2")
        expect_error(lambda: s3.put_object(Bucket=missing, Key="k", Body=b"x"), "NoSuchBucket", 404, "PutObject")
    finally:
        if bucket_exists(missing):  # a server that creates buckets on PutObject
            empty_bucket(missing)
            s3.delete_bucket(Bucket=missing)


@check
def error_bucket_not_empty():
    try:
        expect_error(lambda: s3.delete_bucket(Bucket=B), "BucketNotEmpty", 409, "DeleteBucket of a non-empty bucket")
    finally:
        if not bucket_exists(B):  # wrongly deleted: restore so later checks test their own thing
            create_bucket(B)


@check
def error_invalid_bucket_name():
    # botocore's client-side check (^[a-zA-Z0-9.\-_]{1,255}$) lets these through to the server.
    for name in (f"{PREFIX}-Bad_Name-{RUN_ID}", f"{PREFIX}-too-long-{RUN_ID}-".ljust(64, "x")):
        try:
            expect_error(lambda: create_bucket(name), "InvalidBucketName", 400, f"CreateBucket {name}")
        finally:
            if bucket_exists(name):
                s3.delete_bucket(Bucket=name)


@check
def error_no_such_upload():
    expect_error(lambda: s3.list_parts(Bucket=B, Key="obj.bin", UploadId="no-such-upload"), "NoSuchUpload", 404)


@check
def error_invalid_part():
    uid = s3.create_multipart_upload(Bucket=B, Key="invalid-part.bin")["UploadId"]
    try:
        s3.upload_part(Bucket=B, Key="invalid-part.bin", UploadId=uid, PartNumber=1, Body=DATA)
        expect_error(
            lambda: s3.complete_multipart_upload(
                Bucket=B, Key="invalid-part.bin", UploadId=uid,
                MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": '"00000000000000000000000000000000"'}]},
            ),
            "InvalidPart", 400,
        )
    finally:
        s3.abort_multipart_upload(Bucket=B, Key="invalid-part.bin", UploadId=uid)


@check
def error_entity_too_small():
    uid = s3.create_multipart_upload(Bucket=B, Key="too-small.bin")["UploadId"]
    try:
        parts = []
        for n in (1, 2):
            r = s3.upload_part(Bucket=B, Key="too-small.bin", UploadId=uid, PartNumber=n, Body=DATA[:1024])
            parts.append({"PartNumber": n, "ETag": r["ETag"]})
        expect_error(
            lambda: s3.complete_multipart_upload(
                Bucket=B, Key="too-small.bin", UploadId=uid, MultipartUpload={"Parts": parts}
            ),
            "EntityTooSmall", 400,
        )
    finally:
        s3.abort_multipart_upload(Bucket=B, Key="too-small.bin", UploadId=uid)
    expect_error(lambda: s3.head_object(Bucket=B, Key="too-small.bin"), "404", 404)


def _to_endpoint(request, **_):
    """botocore addresses S3 Control as {account}.{endpoint host}, which needs a wildcard DNS
    name for the endpoint; here it is sent to the endpoint itself with the Host it signed."""
    url = urllib.parse.urlsplit(request.url)
    request.headers["Host"] = url.netloc
    request.url = urllib.parse.urlunsplit(url._replace(netloc=urllib.parse.urlsplit(ENDPOINT).netloc))


@check
def account_public_access_block_s3control():
    account = boto3.session.Session().client("sts", endpoint_url=ENDPOINT, region_name=REGION).get_caller_identity()["Account"]
    control = boto3.session.Session().client("s3control", endpoint_url=ENDPOINT, region_name=REGION)
    control.meta.events.register("before-send.s3-control.*", _to_endpoint)
    public = (
        '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject",'
        f'"Resource":"arn:aws:s3:::{B}/*"}}]}}'
    )
    expect_error(lambda: control.get_public_access_block(AccountId=account), "NoSuchPublicAccessBlockConfiguration", 404)
    try:
        control.put_public_access_block(
            AccountId=account,
            PublicAccessBlockConfiguration={"BlockPublicPolicy": True, "RestrictPublicBuckets": True},
        )
        got = control.get_public_access_block(AccountId=account)["PublicAccessBlockConfiguration"]
        eq(
            {"BlockPublicAcls": False, "IgnorePublicAcls": False, "BlockPublicPolicy": True, "RestrictPublicBuckets": True},
            got,
            "account settings",
        )
        # Every bucket of the account: a public policy is refused.
        expect_error(lambda: s3.put_bucket_policy(Bucket=B, Policy=public), "AccessDenied", 403)
    finally:
        control.delete_public_access_block(AccountId=account)
    expect_error(lambda: control.get_public_access_block(AccountId=account), "NoSuchPublicAccessBlockConfiguration", 404)
    s3.put_bucket_policy(Bucket=B, Policy=public)
    s3.delete_bucket_policy(Bucket=B)


@check
def object_lock():
    # ADR 0018: a bucket created with object lock, a GOVERNANCE retention that refuses a delete
    # of the version unless bypassed, a legal hold that refuses it even then.
    name = new_bucket_name("lock")
    kwargs = {"Bucket": name, "ObjectLockEnabledForBucket": True}
    if REGION != "us-east-1":
        kwargs["CreateBucketConfiguration"] = {"LocationConstraint": REGION}
    s3.create_bucket(**kwargs)
    try:
        eq("Enabled", s3.get_bucket_versioning(Bucket=name).get("Status"), "versioning of a lock bucket")
        conf = {"ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 1}}}
        s3.put_object_lock_configuration(Bucket=name, ObjectLockConfiguration=conf)
        eq(conf, s3.get_object_lock_configuration(Bucket=name)["ObjectLockConfiguration"], "lock configuration")
        vid = s3.put_object(Bucket=name, Key="k", Body=b"locked")["VersionId"]
        got = s3.get_object_retention(Bucket=name, Key="k", VersionId=vid)["Retention"]
        eq("GOVERNANCE", got["Mode"], "default retention mode")
        expect_error(lambda: s3.delete_object(Bucket=name, Key="k", VersionId=vid), "AccessDenied", 403, "delete of a retained version")
        s3.put_object_legal_hold(Bucket=name, Key="k", VersionId=vid, LegalHold={"Status": "ON"})
        head = s3.head_object(Bucket=name, Key="k", VersionId=vid)
        eq("ON", head.get("ObjectLockLegalHoldStatus"), "legal hold on HEAD")
        eq("GOVERNANCE", head.get("ObjectLockMode"), "lock mode on HEAD")
        expect_error(
            lambda: s3.delete_object(Bucket=name, Key="k", VersionId=vid, BypassGovernanceRetention=True),
            "AccessDenied",
            403,
            "delete of a version on legal hold",
        )
        s3.put_object_legal_hold(Bucket=name, Key="k", VersionId=vid, LegalHold={"Status": "OFF"})
        s3.delete_object(Bucket=name, Key="k", VersionId=vid, BypassGovernanceRetention=True)
    finally:
        for page in s3.get_paginator("list_object_versions").paginate(Bucket=name):
            for v in page.get("Versions", []) + page.get("DeleteMarkers", []):
                try:
                    s3.put_object_legal_hold(Bucket=name, Key=v["Key"], VersionId=v["VersionId"], LegalHold={"Status": "OFF"})
                except ClientError:
                    pass
                s3.delete_object(Bucket=name, Key=v["Key"], VersionId=v["VersionId"], BypassGovernanceRetention=True)
        s3.delete_bucket(Bucket=name)


@check
def delete_bucket():
    empty_bucket(B)
    s3.delete_bucket(Bucket=B)
    expect_error(lambda: s3.head_bucket(Bucket=B), "404", 404)


def main():
    failed = 0
    for fn in CHECKS:
        name = fn.__name__.rstrip("_").replace("_", "-")
        try:
            fn()
            print(f"PASS boto3/{name}", flush=True)
        except Exception as e:  # noqa: BLE001 - any exception is a failed check
            failed += 1
            reason = " ".join(f"{type(e).__name__}: {e}".split())[:600]
            print(f"FAIL boto3/{name}: {reason}", flush=True)
            traceback.print_exc(file=sys.stderr)
    try:
        if bucket_exists(B):
            empty_bucket(B)
            s3.delete_bucket(Bucket=B)
    except Exception:  # noqa: BLE001 - best effort; run.sh cleans up leftovers too
        traceback.print_exc(file=sys.stderr)
    shutil.rmtree(TMP, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
