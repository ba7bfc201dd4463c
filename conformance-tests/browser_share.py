#!/usr/bin/env python3
"""Share links in a real browser (issue #13 items 1 and 6, ADR 0010): headless Chromium, driven
through the DevTools protocol over a pipe (`--remote-debugging-pipe`, no extra packages), opens
share links as a person would. Run by run.sh as part of suite `browser` (or alone with the same
environment).

- An image's link: the landing page renders (name, size, expiry, a Download link, no script)
  and its preview image loads (naturalWidth > 0); a page of another origin may show the preview
  as an <img> too; neither counts as a download.
- A password link: the browser gets the form; a wrong password shows the form again; the right
  one, typed into the form and submitted, lands on the landing page (303 + a SameSite=Strict
  cookie) whose preview loads; a form on another origin's page posting the right password is
  refused (403) and unlocks nothing.
- A folder link: the listing renders as a table of links; following a file's link opens its
  landing page.

Prints "PASS browser-share/<check>" or "FAIL browser-share/<check>: <why>" per check; exits
non-zero if any failed. Needs `chromium` (Debian's package) on PATH, or CHROMIUM set.
"""

import json
import os
import shutil
import struct
import sys
import tempfile
import time
import urllib.parse
import zlib

from browser import Bucket, Checks, Reports, chromium, profile_dir, serve, stop

check = Checks("browser-share")


def png(width, height):
    """A real PNG of one colour."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    raw = b"".join(b"\x00" + b"\x1f\x6f\xeb" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


class Browser:
    """Headless Chromium driven over the DevTools pipe (fd 3 in, fd 4 out, NUL-separated JSON)."""

    def __init__(self, profile):
        to_r, self.to_w = os.pipe()
        self.from_r, from_w = os.pipe()

        def fds():
            os.dup2(to_r, 3)
            os.dup2(from_w, 4)

        self.proc = chromium(["--remote-debugging-pipe", "about:blank"], profile, preexec_fn=fds, close_fds=False)
        os.close(to_r)
        os.close(from_w)
        self.buf = b""
        self.next_id = 0
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]

    def call(self, method, params=None, session=None):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self.to_w, json.dumps(msg).encode() + b"\0")
        deadline = time.time() + 60
        while time.time() < deadline:
            while b"\0" in self.buf:
                raw, self.buf = self.buf.split(b"\0", 1)
                got = json.loads(raw)
                if got.get("id") == self.next_id:
                    if "error" in got:
                        raise RuntimeError(f"{method}: {got['error']}")
                    return got.get("result", {})
            self.buf += os.read(self.from_r, 1 << 16)
        raise RuntimeError(f"{method}: no answer")

    def go(self, url):
        self.call("Page.navigate", {"url": url}, self.session)

    def js(self, expr):
        r = self.call("Runtime.evaluate", {"expression": expr, "returnByValue": True, "awaitPromise": True},
                      self.session)
        return r.get("result", {}).get("value")

    def wait(self, expr, timeout=20):
        """Polls `expr` until it is truthy; returns its last value."""
        deadline = time.time() + timeout
        value = None
        while time.time() < deadline:
            try:
                value = self.js(expr)
            except RuntimeError:
                value = None
            if value:
                return value
            time.sleep(0.3)
        return value

    def close(self):
        stop(self.proc)


class Page(Reports):
    """Another origin's page: `?img=URL` shows an image; `?post=URL&password=P` posts a form."""

    def page(self):
        q = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
        if "img" in q:
            return f'<!doctype html><img id="i" src="{q["img"][0]}">'
        if "post" not in q:
            return None
        return (f'<!doctype html><form id="f" method="post" action="{q["post"][0]}">'
                f'<input name="password" value="{q["password"][0]}"></form>'
                '<script>document.getElementById("f").submit()</script>')


def main():
    if not check.chromium_found():
        return 1
    b = Bucket("bshare")
    bucket = b.name

    def api(method, path, body=None):
        return b.rest(method, f"/shares{path}", body)

    def share(body):
        v = api("POST", "", body)
        return v["id"], v["url"].replace("127.0.0.1", "localhost")

    image = png(40, 30)
    b.put("pic.png", image, "image/png")
    b.put("folder/readme.txt", b"read me")
    b.put("folder/img/pic.png", image, "image/png")
    server, origin = serve(Page)
    profile = profile_dir("share")
    browser = None
    try:
        browser = Browser(profile)

        # 1. The landing page and its preview.
        sid, link = share({"bucket": bucket, "key": "pic.png", "expires_in": 600})
        browser.go(link)
        dom = browser.wait("document.querySelector('h1') && document.documentElement.outerHTML") or ""
        check("landing-page", "pic.png" in dom and "Available until" in dom and "?download=1" in dom
              and "<script" not in dom, dom[:600])
        width = browser.wait("(() => { const i = document.querySelector('img'); "
                             "return i && i.complete && i.naturalWidth; })()")
        check("landing-preview-loads", width == 40, f"naturalWidth {width!r}")
        browser.go(f"{origin}/?" + urllib.parse.urlencode({"img": link + "?preview=1"}))
        width = browser.wait("(() => { const i = document.getElementById('i'); "
                             "return i && i.complete && i.naturalWidth; })()")
        check("preview-from-another-origin", width == 40, f"naturalWidth {width!r}")
        check("preview-not-counted", api("GET", f"/{sid}")["downloads"] == 0, "the page or preview counted")

        # 2. The password form.
        pid, plink = share({"bucket": bucket, "key": "pic.png", "expires_in": 600, "password": "browser-pw-1"})
        browser.go(plink)
        has_form = browser.wait("!!document.querySelector('input[type=password]')")
        check("password-form-shown", has_form is True, browser.js("document.documentElement.outerHTML")[:600])
        check("password-form-hides-file", browser.js("document.querySelector('img') === null") is True,
              "an image before the password")
        fill = ("(() => { document.querySelector('input[name=password]').value = %s; "
                "document.querySelector('form').submit(); return true; })()")
        browser.js(fill % json.dumps("wrong-one"))
        wrong = browser.wait("document.body && document.body.innerText.includes('Wrong password')")
        check("password-form-wrong", wrong is True, browser.js("document.documentElement.outerHTML")[:600])
        browser.js(fill % json.dumps("browser-pw-1"))
        width = browser.wait("(() => { const i = document.querySelector('img'); "
                             "return i && i.complete && i.naturalWidth; })()")
        check("password-form-unlocks-page-and-preview", width == 40,
              browser.js("document.documentElement.outerHTML")[:600])
        check("password-form-url-has-no-password", "browser-pw-1" not in (browser.js("location.href") or "x"),
              browser.js("location.href"))

        # A form on another origin's page posting the right password: refused, nothing unlocked
        # (a fresh profile: no cookie of the link's).
        other_profile = tempfile.mkdtemp(prefix="share-chromium-csrf-")
        other = Browser(other_profile)
        try:
            _, clink = share({"bucket": bucket, "key": "pic.png", "expires_in": 600, "password": "browser-pw-2"})
            other.go(f"{origin}/?" + urllib.parse.urlencode({"post": clink, "password": "browser-pw-2"}))
            text = other.wait("location.href.startsWith('http://localhost') && document.body "
                              "&& document.body.innerText") or ""
            check("cross-site-form-refused", "Refused" in text, text[:300])
            other.go(clink)
            still = other.wait("!!document.querySelector('input[type=password]')")
            check("cross-site-form-unlocked-nothing", still is True, "the link opened without its password")
        finally:
            other.close()
            shutil.rmtree(other_profile, ignore_errors=True)

        # 3. A folder listing and a file's page.
        fid, flink = share({"bucket": bucket, "prefix": "folder/", "expires_in": 600})
        browser.go(flink)
        rows = browser.wait("(() => { const a = [...document.querySelectorAll('tbody tr td:first-child a')]; "
                            "return a.length && a.map(x => x.textContent); })()")
        check("folder-listing", rows == ["img/pic.png", "readme.txt"], f"{rows!r}")
        browser.js("document.querySelector('tbody tr td:first-child a').click()")
        width = browser.wait("(() => { const i = document.querySelector('img'); "
                             "return i && i.complete && i.naturalWidth; })()")
        check("folder-file-page-and-preview", width == 40 and "/img/pic.png" in (browser.js("location.href") or ""),
              f"{width!r} at {browser.js('location.href')}")
        check("folder-not-counted", api("GET", f"/{fid}")["downloads"] == 0, "a listing or page counted")
    finally:
        if browser:
            browser.close()
        server.shutdown()
        shutil.rmtree(profile, ignore_errors=True)
        b.close()
    return check.exit_code()


if __name__ == "__main__":
    sys.exit(main())
