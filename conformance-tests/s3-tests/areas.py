"""pytest plugin for the public Ceph s3-tests suite (loaded by scripts/s3-tests.sh with -p areas).

It sorts every collected test into one area of the S3 surface and, as the run goes, writes one
JSON line per test outcome to $S3TESTS_RESULTS: {"test": name, "area": area, "outcome": ...}.
No test of the suite is changed or skipped by this plugin.

An area is decided by the first rule whose markers or name pattern match the test. Areas
marked `core` are the ones cloudstore implements (issue #11); the others belong to later work.
"""
import json
import os
import re

# (area, core?, markers, name pattern) — first match wins.
RULES = [
    ("logging", False, {"bucket_logging", "bucket_logging_cleanup"}, r"logging"),
    ("lifecycle", False, {"lifecycle", "lifecycle_expiration", "lifecycle_transition"}, r"lifecycle"),
    ("object-lock", False, set(), r"object_lock|retention|legal_hold"),
    ("encryption", False, {"encryption", "sse_s3", "bucket_encryption"}, r"sse|encrypt"),
    ("versioning", False, {"versioning", "delete_marker"}, r"version|_current_"),
    ("tagging", False, {"tagging"}, r"tag"),
    ("post-object", False, set(), r"post_object"),
    ("cors", False, set(), r"cors"),
    ("public-access", False, set(), r"block_public|public_block|public_access|get_public|put_public|nonpublic"),
    ("ownership", False, {"object_ownership"}, r"ownership"),
    ("policy", False, {"bucket_policy", "user_policy"}, r"policy"),
    ("acl", False, set(), r"acl|grant|_anon|access_bucket|object_raw|bucket_recreate_not_overriding"
                          r"|object_presigned|canned"),
    ("website", False, {"s3website"}, r"website"),
    ("auth", True, {"auth_aws2", "auth_aws4", "auth_common"}, r"_aws2|_aws4|signature|presign|auth"),
    ("checksum", True, {"checksum"}, r"checksum|attributes"),
    ("conditional", True, {"conditional_write"}, r"if_?match|if_?none|if_?modified|if_?unmodified|conditional"),
    ("multipart", True, set(), r"multipart|copy_part|upload_part|list_parts"),
    ("copy", True, {"copy"}, r"copy"),
    ("range", True, set(), r"range"),
    ("listing", True, {"list_objects_v2"}, r"bucket_list|listv2|list_objects|bucket_listv2|_list_"),
    ("bucket", True, set(), r"bucket"),
    ("object", True, set(), r""),
]
CORE = {area for area, core, _, _ in RULES if core}

# Tests whose names place them in a core area but whose setup or checks use ACL operations
# (PutBucketAcl, GetObjectAcl, PutObjectAcl with grants): they test ACL behaviour, the
# sharing work's area (#13).
ACL_TESTS = {
    "test_expected_bucket_owner",
    "test_bucket_list_return_data",
    "test_bucket_create_special_key_names",
    "test_object_copy_not_owned_object_bucket",
    "test_list_multipart_upload_owner",
    "test_100_continue",
}


def area_of(name, markers):
    if name in ACL_TESTS:
        return "acl"
    for area, _, marks, pattern in RULES:
        if marks & markers or re.search(pattern, name):
            return area
    return "object"


_areas = {}
_controller = False  # the xdist controller only relays its workers' reports: they write


def pytest_configure(config):
    global _controller
    workers = getattr(config.option, "numprocesses", None)
    _controller = bool(workers) and not hasattr(config, "workerinput")
    # Each worker runs as accounts of its own when the runner wrote a config per worker.
    own = os.environ.get("S3TEST_CONF_" + os.environ.get("PYTEST_XDIST_WORKER", "-"))
    if own:
        os.environ["S3TEST_CONF"] = own


def pytest_collection_modifyitems(session, config, items):
    for item in items:
        markers = {m.name for m in item.iter_markers()}
        _areas[item.nodeid] = area_of(item.name, markers)


def _write(record):
    path = os.environ.get("S3TESTS_RESULTS")
    if path:
        with open(path, "a") as f:
            f.write(json.dumps(record) + "\n")


def pytest_runtest_logreport(report):
    if _controller:
        return
    # one line per test: the call's outcome, or the setup's when setup failed or skipped it
    if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
        name = report.nodeid.split("::")[-1]
        outcome = "error" if report.when == "setup" and report.outcome == "failed" else report.outcome
        _write({"test": name, "area": _areas.get(report.nodeid, area_of(name, set())),
                "outcome": outcome})
