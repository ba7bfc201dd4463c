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

import shutil
import sys
import urllib.parse

from browser import Bucket, Checks, Reports, chromium, profile_dir, serve, stop

check = Checks("browser")

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


class Page(Reports):
    def page(self):
        return PAGE


def browse(page_origin, phase, get_url, put_url, profile):
    """Loads the page in headless Chromium; returns what it reported, or None."""
    q = urllib.parse.urlencode({"phase": phase, "get": get_url, "put": put_url})
    proc = chromium([f"{page_origin}/?{q}"], f"{profile}/{phase}")
    try:
        return Page.wait(phase)
    finally:
        stop(proc)


def main():
    if not check.chromium_found():
        return 1
    b = Bucket("browser")
    s3, bucket = b.s3, b.name
    b.put("hello.txt", b"hello from cloudstore")
    b.keys += ["up-none.txt", "up-allowed.txt", "up-other.txt"]
    server, origin = serve(Page)
    profile = profile_dir("cors")
    stored = b.stored

    def urls(phase):
        get = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "hello.txt"}, ExpiresIn=600)
        put = s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": f"up-{phase}.txt"},
                                    ExpiresIn=600)
        return get, put

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
        b.close()
    return check.exit_code()


if __name__ == "__main__":
    sys.exit(main())
