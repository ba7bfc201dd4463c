"""What the browser checks (browser_cors.py, browser_post.py, browser_share.py) share: the
environment run.sh hands them, PASS/FAIL lines, headless Chromium, a page server of another
origin that collects what its page reports, and the test bucket's set-up and clean-up.

The endpoint is reached as `localhost` and the pages are served from 127.0.0.1, so the two are
different origins (host and port differ).
"""

import http.server
import json
import os
import shutil
import subprocess
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
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]


class Checks:
    """Prints "PASS area/name" or "FAIL area/name: why" and counts the failures."""

    def __init__(self, area):
        self.area = area
        self.failed = 0

    def __call__(self, name, ok, why=""):
        if ok:
            print(f"PASS {self.area}/{name}", flush=True)
        else:
            self.failed += 1
            print(f"FAIL {self.area}/{name}: {why}", flush=True)

    def chromium_found(self):
        if not CHROMIUM:
            self("installed", False, "chromium not found on PATH (apt-get install chromium)")
        return bool(CHROMIUM)

    def exit_code(self):
        return 1 if self.failed else 0


def chromium(args, profile, **popen):
    """Starts headless Chromium with its own profile folder."""
    popen.setdefault("stdout", subprocess.DEVNULL)
    popen.setdefault("stderr", subprocess.DEVNULL)
    return subprocess.Popen([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args], **popen)


def stop(proc):
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


class Reports(http.server.BaseHTTPRequestHandler):
    """A page server: GET answers `page(self)` (HTML, or None for 404); a page POSTs
    `{"phase": ..., ...}` to report, and `report` hands the rest to whoever waits in `wait`.
    Subclass it per script (each subclass gets its own results)."""

    results = None
    arrived = None

    def __init_subclass__(cls, **kw):
        super().__init_subclass__(**kw)
        cls.results = {}
        cls.arrived = threading.Condition()

    def log_message(self, *args):
        pass

    def page(self):
        raise NotImplementedError

    @classmethod
    def record(cls, phase, value):
        with cls.arrived:
            cls.results[phase] = value
            cls.arrived.notify_all()

    @classmethod
    def wait(cls, phase, timeout=60):
        deadline = time.time() + timeout
        with cls.arrived:
            while phase not in cls.results and time.time() < deadline:
                cls.arrived.wait(timeout=1)
        return cls.results.get(phase)

    def do_GET(self):
        body = self.page()
        if body is None:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        data = body.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        data = json.loads(self.rfile.read(n) or b"{}")
        self.send_response(204)
        self.end_headers()
        self.report(data)

    def report(self, data):
        self.record(data.get("phase"), data)


def serve(handler):
    """Serves `handler` on 127.0.0.1 in a thread; returns (server, origin)."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


class Bucket:
    """The endpoint as `localhost`, a boto3 S3 client on it, and one test bucket (listed in
    CONFORMANCE_BUCKETS_FILE for run.sh's clean-up, and emptied and removed by `close`)."""

    def __init__(self, label):
        u = urllib.parse.urlsplit(ENDPOINT)
        self.endpoint = urllib.parse.urlunsplit((u.scheme, f"localhost:{u.port}", "", "", "")) if u.port else ENDPOINT
        self.session = boto3.session.Session()
        self.s3 = self.session.client("s3", endpoint_url=self.endpoint, region_name=REGION,
                                      config=Config(s3={"addressing_style": "path"}, signature_version="s3v4"))
        self.name = f"{PREFIX}-{label}-{RUN_ID}"
        if BUCKETS_FILE:
            with open(BUCKETS_FILE, "a") as f:
                f.write(self.name + "\n")
        self.s3.create_bucket(Bucket=self.name)
        self.keys = []

    def put(self, key, body, content_type="text/plain"):
        self.keys.append(key)
        self.s3.put_object(Bucket=self.name, Key=key, Body=body, ContentType=content_type)

    def stored(self, key):
        """The object's text, or None."""
        try:
            return self.s3.get_object(Bucket=self.name, Key=key)["Body"].read().decode()
        except self.s3.exceptions.NoSuchKey:
            return None

    def rest(self, method, path, body=None):
        """A SigV4-signed call of the REST API (`/_api/v1{path}`); its JSON answer."""
        creds = self.session.get_credentials().get_frozen_credentials()
        data = json.dumps(body) if body is not None else None
        req = AWSRequest(method=method, url=f"{self.endpoint}/_api/v1{path}", data=data,
                         headers={"Content-Type": "application/json"} if data else {})
        SigV4Auth(creds, "s3", REGION).add_auth(req)
        r = urllib.request.Request(req.url, data=data.encode() if data else None, method=method,
                                   headers=dict(req.headers.items()))
        with urllib.request.urlopen(r) as resp:
            return json.loads(resp.read() or b"null")

    def close(self):
        """Best-effort clean-up of the keys used and the bucket."""
        for key in self.keys:
            try:
                self.s3.delete_object(Bucket=self.name, Key=key)
            except Exception:  # noqa: BLE001 - best-effort cleanup
                pass
        try:
            self.s3.delete_bucket(Bucket=self.name)
        except Exception:  # noqa: BLE001
            pass


def profile_dir(label):
    return tempfile.mkdtemp(prefix=f"{label}-chromium-")
