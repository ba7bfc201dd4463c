#!/usr/bin/env python3
"""CORS in a real browser (issue #13 item 5): headless Chromium loads a page from another
origin (a small server on 127.0.0.1 here; the endpoint is reached as `localhost`, so the
page's origin differs in host and port) that fetches a presigned GET and sends a presigned PUT
to the endpoint. Run by run.sh as suite `browser` (or alone with the same environment).

- Without a CORS configuration on the bucket the browser blocks both (the GET's answer has no
  Access-Control-Allow-Origin; the PUT's preflight is refused 403) and nothing is stored.
- With a rule for the page's origin (GET and PUT, ETag exposed) both succeed: the page reads the
  object and the exposed ETag, and the PUT's bytes are stored.
- With a rule for another origin only, the browser blocks both again.

Prints "PASS browser/<check>" or "FAIL browser/<check>: <why>" per check; exits non-zero if any
failed. Needs `chromium` (Debian's package) on PATH, or CHROMIUM set.
"""

import http.server
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

import boto3
from botocore.config import Config

ENDPOINT = os.environ["AWS_ENDPOINT_URL"].rstrip("/")
REGION = os.environ.get("AWS_REGION") or "us-east-1"
PREFIX = os.environ.get("CONFORMANCE_BUCKET_PREFIX") or "conf"
RUN_ID = os.environ.get("CONFORMANCE_RUN_ID") or os.urandom(4).hex()
BUCKETS_FILE = os.environ.get("CONFORMANCE_BUCKETS_FILE")
CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")

FAILED = 0

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>cors</title></head><body>
<script>
const p = new URLSearchParams(location.search);
async function attempt(f) {
  try { return await f(); } catch (e) { return {ok: false, error: String(e)}; }
}
(async () => {
  const get = await attempt(async () => {
    const r = await fetch(p.get('get'));
    return {ok: true, status: r.status, body: await r.text(), etag: r.headers.get('ETag')};
  });
  const put = await attempt(async () => {
    const r = await fetch(p.get('put'), {method: 'PUT', body: 'written by ' + p.get('phase')});
    return {ok: true, status: r.status};
  });
  // XMLHttpRequest too: a presigned GET, as older upload widgets do it.
  const xhr = await new Promise((resolve) => {
    const x = new XMLHttpRequest();
    x.open('GET', p.get('get'));
    x.onload = () => resolve({ok: true, status: x.status, body: x.responseText});
    x.onerror = () => resolve({ok: false, error: 'xhr network error'});
    x.send();
  });
  await fetch('/result', {method: 'POST', body: JSON.stringify({phase: p.get('phase'), get, put, xhr})});
})();
</script></body></html>
"""


def check(name, ok, why=""):
    global FAILED
    if ok:
        print(f"PASS browser/{name}", flush=True)
    else:
        FAILED += 1
        print(f"FAIL browser/{name}: {why}", flush=True)


class Page(http.server.BaseHTTPRequestHandler):
    results = {}
    arrived = threading.Condition()

    def log_message(self, *args):
        pass

    def do_GET(self):
        body = PAGE.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        data = json.loads(self.rfile.read(n) or b"{}")
        self.send_response(204)
        self.end_headers()
        with Page.arrived:
            Page.results[data.get("phase")] = data
            Page.arrived.notify_all()


def browse(page_origin, phase, get_url, put_url, profile):
    """Loads the page in headless Chromium; returns what it reported, or None."""
    q = urllib.parse.urlencode({"phase": phase, "get": get_url, "put": put_url})
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--no-first-run", f"--user-data-dir={profile}/{phase}", f"{page_origin}/?{q}"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 60
        with Page.arrived:
            while phase not in Page.results and time.time() < deadline:
                Page.arrived.wait(timeout=1)
        return Page.results.get(phase)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def main():
    if not CHROMIUM:
        check("installed", False, "chromium not found on PATH (apt-get install chromium)")
        return 1
    # The endpoint as `localhost`, the page on 127.0.0.1: two origins.
    u = urllib.parse.urlsplit(ENDPOINT)
    endpoint = urllib.parse.urlunsplit((u.scheme, f"localhost:{u.port}", "", "", "")) if u.port else ENDPOINT
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name=REGION,
                      config=Config(s3={"addressing_style": "path"}, signature_version="s3v4"))
    bucket = f"{PREFIX}-browser-{RUN_ID}"
    if BUCKETS_FILE:
        with open(BUCKETS_FILE, "a") as f:
            f.write(bucket + "\n")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="hello.txt", Body=b"hello from cloudstore", ContentType="text/plain")

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Page)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    origin = f"http://127.0.0.1:{server.server_address[1]}"
    profile = tempfile.mkdtemp(prefix="cors-chromium-")

    def urls(phase):
        get = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "hello.txt"}, ExpiresIn=600)
        put = s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": f"up-{phase}.txt"},
                                    ExpiresIn=600)
        return get, put

    def stored(key):
        try:
            return s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode()
        except s3.exceptions.NoSuchKey:
            return None

    try:
        # 1. No CORS configuration: blocked.
        r = browse(origin, "none", *urls("none"), profile)
        check("no-config-reported", r is not None, "the page reported nothing within 60 s")
        if r:
            check("no-config-get-blocked", not r["get"]["ok"], f"fetch succeeded: {r['get']}")
            check("no-config-xhr-blocked", not r["xhr"]["ok"], f"xhr succeeded: {r['xhr']}")
            check("no-config-put-blocked", not r["put"]["ok"], f"fetch succeeded: {r['put']}")
        check("no-config-nothing-stored", stored("up-none.txt") is None, "the blocked PUT stored an object")

        # 2. A rule for the page's origin: allowed, ETag readable.
        s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": [
            {"AllowedOrigins": [origin], "AllowedMethods": ["GET", "PUT"], "AllowedHeaders": ["*"],
             "ExposeHeaders": ["ETag"], "MaxAgeSeconds": 0}]})
        r = browse(origin, "allowed", *urls("allowed"), profile)
        check("rule-reported", r is not None, "the page reported nothing within 60 s")
        if r:
            g = r["get"]
            check("rule-get-allowed", g.get("ok") and g.get("status") == 200 and g.get("body") == "hello from cloudstore",
                  f"{g}")
            check("rule-etag-exposed", bool(g.get("etag")), f"ETag not readable: {g}")
            check("rule-xhr-allowed", r["xhr"].get("ok") and r["xhr"].get("status") == 200, f"{r['xhr']}")
            check("rule-put-allowed", r["put"].get("ok") and r["put"].get("status") == 200, f"{r['put']}")
        got = stored("up-allowed.txt")
        check("rule-put-stored", got == "written by allowed", f"stored {got!r}")

        # 3. A rule for another origin only: blocked again.
        s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": [
            {"AllowedOrigins": ["https://elsewhere.example"], "AllowedMethods": ["GET", "PUT"]}]})
        r = browse(origin, "other", *urls("other"), profile)
        check("other-origin-reported", r is not None, "the page reported nothing within 60 s")
        if r:
            check("other-origin-get-blocked", not r["get"]["ok"], f"fetch succeeded: {r['get']}")
            check("other-origin-put-blocked", not r["put"]["ok"], f"fetch succeeded: {r['put']}")
        check("other-origin-nothing-stored", stored("up-other.txt") is None, "the blocked PUT stored an object")
    finally:
        server.shutdown()
        shutil.rmtree(profile, ignore_errors=True)
        for key in ["hello.txt", "up-none.txt", "up-allowed.txt", "up-other.txt"]:
            try:
                s3.delete_object(Bucket=bucket, Key=key)
            except Exception:  # noqa: BLE001 - best-effort cleanup
                pass
        try:
            s3.delete_bucket(Bucket=bucket)
        except Exception:  # noqa: BLE001
            pass
    return 1 if FAILED else 0


if __name__ == "__main__":
    sys.exit(main())
