#!/usr/bin/env python3
"""Browser POST uploads in a real browser (issue #13 item 3, ADR 0015): headless Chromium
loads a page from another origin (a small server on 127.0.0.1; the endpoint is reached as
`localhost`, so host and port differ) that uploads to a bucket with a POST-policy form signed by
boto3's generate_presigned_post (SigV4), and drops a file through an upload-only share link.
Run by run.sh as part of suite `browser` (or alone with the same environment).

- fetch() with FormData through CORS: with a rule for the page's origin the page reads the 201
  answer (AWS's PostResponse XML) and the exposed ETag, and the object is stored; with a rule
  for another origin only, the browser hides the answer from the page.
- A plain HTML form submitted by the browser (navigation, no CORS needed) with
  success_action_redirect back to the page's origin: the browser follows the 303 to the page
  with bucket, key and ETag in the query; the object is stored.
- A policy the form breaks (a key outside its starts-with): refused, nothing stored.
- A file drop: the upload page of an upload link renders in Chromium (a file input, no
  script); a browser form of another origin posts a file to the link and is answered with the
  "Uploaded" page; the file lands under the link's prefix.

Prints "PASS browser-post/<check>" or "FAIL browser-post/<check>: <why>" per check; exits
non-zero if any failed. Needs `chromium` (Debian's package) on PATH, or CHROMIUM set.
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
import urllib.request

import boto3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config

ENDPOINT = os.environ["AWS_ENDPOINT_URL"].rstrip("/")
REGION = os.environ.get("AWS_REGION") or "us-east-1"
PREFIX = os.environ.get("CONFORMANCE_BUCKET_PREFIX") or "conf"
RUN_ID = os.environ.get("CONFORMANCE_RUN_ID") or os.urandom(4).hex()
BUCKETS_FILE = os.environ.get("CONFORMANCE_BUCKETS_FILE")
CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")

FAILED = 0

# The page: `mode` fetch posts FormData and reports what it could read; `mode` form submits a
# real HTML form (the file set through DataTransfer, as a user's choice would), navigating away.
PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>post</title></head><body>
<form id="f" method="post" enctype="multipart/form-data"></form>
<script>
const p = new URLSearchParams(location.search);
const target = p.get('url');
const fields = JSON.parse(p.get('fields'));
const file = new File([p.get('content')], p.get('filename'), {type: 'text/plain'});
if (p.get('mode') === 'fetch') {
  (async () => {
    let out;
    try {
      const fd = new FormData();
      for (const [k, v] of Object.entries(fields)) fd.append(k, v);
      fd.append('file', file);
      const r = await fetch(target, {method: 'POST', body: fd});
      out = {ok: true, status: r.status, body: await r.text(), etag: r.headers.get('ETag')};
    } catch (e) {
      out = {ok: false, error: String(e)};
    }
    await fetch('/result', {method: 'POST', body: JSON.stringify({phase: p.get('phase'), result: out})});
  })();
} else {
  const f = document.getElementById('f');
  f.action = target;
  for (const [k, v] of Object.entries(fields)) {
    const i = document.createElement('input');
    i.type = 'hidden'; i.name = k; i.value = v; f.appendChild(i);
  }
  const i = document.createElement('input');
  i.type = 'file'; i.name = 'file'; f.appendChild(i);
  const dt = new DataTransfer();
  dt.items.add(file);
  i.files = dt.files;
  f.submit();
}
</script></body></html>
"""


def check(name, ok, why=""):
    global FAILED
    if ok:
        print(f"PASS browser-post/{name}", flush=True)
    else:
        FAILED += 1
        print(f"FAIL browser-post/{name}: {why}", flush=True)


class Page(http.server.BaseHTTPRequestHandler):
    results = {}
    arrived = threading.Condition()

    def log_message(self, *args):
        pass

    def do_GET(self):
        u = urllib.parse.urlsplit(self.path)
        if u.path == "/done":
            # Where success_action_redirect sends the browser.
            q = dict(urllib.parse.parse_qsl(u.query))
            with Page.arrived:
                Page.results[q.get("phase", "?")] = q
                Page.arrived.notify_all()
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
            Page.results[data.get("phase")] = data.get("result")
            Page.arrived.notify_all()


def chromium(args, profile, phase):
    return subprocess.Popen(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--no-first-run", f"--user-data-dir={profile}/{phase}", *args],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)


def browse(origin, phase, params, profile, wait_for=None):
    """Loads the page with `params`; returns what it reported (or None), or, with `wait_for`,
    polls that function until it returns something truthy."""
    q = urllib.parse.urlencode({"phase": phase, **params})
    proc = chromium([f"{origin}/?{q}"], profile, phase)
    try:
        deadline = time.time() + 60
        if wait_for:
            while time.time() < deadline:
                got = wait_for()
                if got:
                    return got
                time.sleep(0.5)
            return None
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
    u = urllib.parse.urlsplit(ENDPOINT)
    endpoint = urllib.parse.urlunsplit((u.scheme, f"localhost:{u.port}", "", "", "")) if u.port else ENDPOINT
    session = boto3.Session()
    s3 = session.client("s3", endpoint_url=endpoint, region_name=REGION,
                        config=Config(s3={"addressing_style": "path"}, signature_version="s3v4"))
    bucket = f"{PREFIX}-browser-post-{RUN_ID}"
    if BUCKETS_FILE:
        with open(BUCKETS_FILE, "a") as f:
            f.write(bucket + "\n")
    s3.create_bucket(Bucket=bucket)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Page)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    origin = f"http://127.0.0.1:{server.server_address[1]}"
    profile = tempfile.mkdtemp(prefix="post-chromium-")

    def stored(key):
        try:
            return s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode()
        except s3.exceptions.NoSuchKey:
            return None

    def presigned_post(key_prefix, extra_fields, extra_conditions):
        post = s3.generate_presigned_post(
            Bucket=bucket, Key=key_prefix + "${filename}", Fields=extra_fields,
            Conditions=[["starts-with", "$key", key_prefix], ["content-length-range", 0, 10000],
                        *extra_conditions],
            ExpiresIn=600)
        return post["url"], post["fields"]

    keys = []
    try:
        # 1. fetch() with FormData through CORS, a rule for the page's origin: the answer is
        # readable (201 XML, ETag exposed), the object stored.
        s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": [
            {"AllowedOrigins": [origin], "AllowedMethods": ["POST"], "AllowedHeaders": ["*"],
             "ExposeHeaders": ["ETag"], "MaxAgeSeconds": 0}]})
        url, fields = presigned_post("fetch/", {"success_action_status": "201"}, [{"success_action_status": "201"}])
        r = browse(origin, "fetch", {"mode": "fetch", "url": url, "fields": json.dumps(fields),
                                     "filename": "a.txt", "content": "posted by fetch"}, profile)
        keys.append("fetch/a.txt")
        check("fetch-reported", r is not None, "the page reported nothing within 60 s")
        if r:
            check("fetch-allowed", r.get("ok") and r.get("status") == 201, f"{r}")
            check("fetch-xml", "<Key>fetch/a.txt</Key>" in (r.get("body") or ""), f"{r}")
            check("fetch-etag-exposed", bool(r.get("etag")), f"{r}")
        got = stored("fetch/a.txt")
        check("fetch-stored", got == "posted by fetch", f"stored {got!r}")

        # 2. A rule for another origin only: the browser hides the answer.
        s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": [
            {"AllowedOrigins": ["https://elsewhere.example"], "AllowedMethods": ["POST"]}]})
        url, fields = presigned_post("hidden/", {}, [])
        r = browse(origin, "hidden", {"mode": "fetch", "url": url, "fields": json.dumps(fields),
                                      "filename": "b.txt", "content": "x"}, profile)
        keys.append("hidden/b.txt")
        check("other-origin-reported", r is not None, "the page reported nothing within 60 s")
        if r:
            check("other-origin-answer-hidden", not r.get("ok"), f"the page read the answer: {r}")

        # 3. A real HTML form, redirected back to the page's origin.
        done = f"{origin}/done?phase=form"
        url, fields = presigned_post("form/", {"success_action_redirect": done},
                                     [{"success_action_redirect": done}])
        r = browse(origin, "form", {"mode": "form", "url": url, "fields": json.dumps(fields),
                                    "filename": "c.txt", "content": "posted by a form"}, profile)
        keys.append("form/c.txt")
        check("form-redirected", r is not None, "the browser never reached the redirect target")
        if r:
            check("form-redirect-query", r.get("bucket") == bucket and r.get("key") == "form/c.txt"
                  and (r.get("etag") or "").startswith('"'), f"{r}")
        got = stored("form/c.txt")
        check("form-stored", got == "posted by a form", f"stored {got!r}")

        # 4. A form that breaks its policy (key outside the prefix): refused, nothing stored.
        url, fields = presigned_post("form/", {}, [])
        fields["key"] = "elsewhere/${filename}"
        browse(origin, "broken", {"mode": "form", "url": url, "fields": json.dumps(fields),
                                  "filename": "d.txt", "content": "x"}, profile,
               wait_for=lambda: time.sleep(5) or True)
        keys.append("elsewhere/d.txt")
        check("broken-policy-refused", stored("elsewhere/d.txt") is None, "a form breaking its policy was stored")

        # 5. A file drop: an upload link made through the REST API (SigV4-signed).
        creds = session.get_credentials().get_frozen_credentials()
        body = json.dumps({"bucket": bucket, "kind": "upload", "prefix": "drop/", "expires_in": 600,
                           "max_bytes": 10000, "content_types": ["text/plain"]})
        req = AWSRequest(method="POST", url=f"{endpoint}/_api/v1/shares", data=body,
                         headers={"Content-Type": "application/json"})
        SigV4Auth(creds, "s3", REGION).add_auth(req)
        with urllib.request.urlopen(urllib.request.Request(req.url, data=body.encode(), method="POST",
                                                           headers=dict(req.headers.items()))) as resp:
            link = json.loads(resp.read())["url"]
        link = link.replace("127.0.0.1", "localhost")
        page = chromium(["--dump-dom", link], profile, "page")
        dom = page.communicate(timeout=60)[0].decode(errors="replace")
        check("drop-page-rendered", 'type="file"' in dom and 'name="file"' in dom and "<script" not in dom,
              dom[:500])
        got = browse(origin, "drop", {"mode": "form", "url": link, "fields": "{}", "filename": "dropped.txt",
                                      "content": "dropped by a browser"}, profile,
                     wait_for=lambda: stored("drop/dropped.txt"))
        keys.append("drop/dropped.txt")
        check("drop-stored", got == "dropped by a browser", f"stored {got!r}")
    finally:
        server.shutdown()
        shutil.rmtree(profile, ignore_errors=True)
        for key in keys:
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
