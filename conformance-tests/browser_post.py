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

import json
import shutil
import subprocess
import sys
import time
import urllib.parse

from browser import Bucket, Checks, Reports, chromium, profile_dir, serve, stop

check = Checks("browser-post")

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


class Page(Reports):
    def page(self):
        u = urllib.parse.urlsplit(self.path)
        if u.path == "/done":
            # Where success_action_redirect sends the browser.
            q = dict(urllib.parse.parse_qsl(u.query))
            self.record(q.get("phase", "?"), q)
        return PAGE

    def report(self, data):
        self.record(data.get("phase"), data.get("result"))


def browse(origin, phase, params, profile, wait_for=None):
    """Loads the page with `params`; returns what it reported (or None), or, with `wait_for`,
    polls that function until it returns something truthy."""
    q = urllib.parse.urlencode({"phase": phase, **params})
    proc = chromium([f"{origin}/?{q}"], f"{profile}/{phase}")
    try:
        if not wait_for:
            return Page.wait(phase)
        deadline = time.time() + 60
        while time.time() < deadline:
            got = wait_for()
            if got:
                return got
            time.sleep(0.5)
        return None
    finally:
        stop(proc)


def main():
    if not check.chromium_found():
        return 1
    b = Bucket("browser-post")
    s3, bucket, stored, keys = b.s3, b.name, b.stored, b.keys
    server, origin = serve(Page)
    profile = profile_dir("post")

    def presigned_post(key_prefix, extra_fields, extra_conditions):
        post = s3.generate_presigned_post(
            Bucket=bucket, Key=key_prefix + "${filename}", Fields=extra_fields,
            Conditions=[["starts-with", "$key", key_prefix], ["content-length-range", 0, 10000],
                        *extra_conditions],
            ExpiresIn=600)
        return post["url"], post["fields"]

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
        link = b.rest("POST", "/shares", {"bucket": bucket, "kind": "upload", "prefix": "drop/", "expires_in": 600,
                                          "max_bytes": 10000, "content_types": ["text/plain"]})["url"]
        link = link.replace("127.0.0.1", "localhost")
        page = chromium(["--dump-dom", link], f"{profile}/page", stdout=subprocess.PIPE)
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
        b.close()
    return check.exit_code()


if __name__ == "__main__":
    sys.exit(main())
