#!/usr/bin/env python3
"""Share-link downloads against presigned GETs of the same objects, side by side in one run
(issue #13's speed targets, ADR 0010); driven by scripts/bench-share.sh, which starts the
server. Needs boto3 (AWS_* env: endpoint, root credentials) and SERVER_PID.

- 64 MiB: ROUNDS rounds, each LARGE_N downloads (LARGE_CONC at a time) through a presigned URL,
  then the same through a share link; MiB/s per side and the share/presigned ratio.
- 4 KiB: ROUNDS rounds, each SMALL_N GETs (SMALL_CONC keep-alive clients) of each side; the
  server process's CPU time (utime + stime from /proc/PID/stat) per request, and the ratio.

Every body is read in full and its length checked; a wrong status or length is an error.
"""

import http.client
import json
import os
import sys
import threading
import time
import urllib.parse
import urllib.request

import boto3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config

ENDPOINT = os.environ["AWS_ENDPOINT_URL"].rstrip("/")
REGION = os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
PID = int(os.environ["SERVER_PID"])
ROUNDS = int(os.environ.get("ROUNDS", "3"))
LARGE_N = int(os.environ.get("LARGE_N", "8"))
LARGE_CONC = int(os.environ.get("LARGE_CONC", "2"))
SMALL_N = int(os.environ.get("SMALL_N", "3000"))
SMALL_CONC = int(os.environ.get("SMALL_CONC", "8"))
TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds():
    with open(f"/proc/{PID}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def run(urls, n, conc, expect):
    """GETs the URLs round-robin, n in all, conc keep-alive clients; returns (seconds, bytes, errors)."""
    u = urllib.parse.urlsplit(urls[0])
    lock = threading.Lock()
    state = {"next": 0, "bytes": 0, "errors": 0}

    def worker():
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=300)
        while True:
            with lock:
                i = state["next"]
                if i >= n:
                    break
                state["next"] += 1
            target = urllib.parse.urlsplit(urls[i % len(urls)])
            path = target.path + ("?" + target.query if target.query else "")
            try:
                conn.request("GET", path, headers={"Accept": "*/*"})
                r = conn.getresponse()
                got = 0
                while True:
                    chunk = r.read(1 << 20)
                    if not chunk:
                        break
                    got += len(chunk)
                ok = r.status == 200 and got == expect
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection(u.hostname, u.port, timeout=300)
                ok, got = False, 0
            with lock:
                state["bytes"] += got
                if not ok:
                    state["errors"] += 1
        conn.close()

    threads = [threading.Thread(target=worker) for _ in range(conc)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - start, state["bytes"], state["errors"]


def main():
    session = boto3.session.Session()
    s3 = session.client("s3", endpoint_url=ENDPOINT, region_name=REGION,
                        config=Config(s3={"addressing_style": "path"}, signature_version="s3v4"))
    creds = session.get_credentials().get_frozen_credentials()
    bucket = "bench-share-" + os.urandom(3).hex()
    s3.create_bucket(Bucket=bucket)
    large = os.urandom(64 << 20)
    s3.put_object(Bucket=bucket, Key="large.bin", Body=large)
    del large
    for i in range(16):
        s3.put_object(Bucket=bucket, Key=f"small/{i:02}.bin", Body=os.urandom(4096))

    def share(key):
        body = json.dumps({"bucket": bucket, "key": key, "expires_in": 7 * 24 * 3600})
        req = AWSRequest(method="POST", url=f"{ENDPOINT}/_api/v1/shares", data=body,
                         headers={"Content-Type": "application/json"})
        SigV4Auth(creds, "s3", REGION).add_auth(req)
        r = urllib.request.Request(req.url, data=body.encode(), method="POST", headers=dict(req.headers.items()))
        with urllib.request.urlopen(r) as resp:
            return json.loads(resp.read())["url"]

    def presign(key):
        return s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=7 * 24 * 3600)

    large_urls = {"presigned": [presign("large.bin")], "share": [share("large.bin")]}
    small_urls = {"presigned": [presign(f"small/{i:02}.bin") for i in range(16)],
                  "share": [share(f"small/{i:02}.bin") for i in range(16)]}
    # Warm both paths (connections, caches).
    for side in ("presigned", "share"):
        run(small_urls[side], 200, SMALL_CONC, 4096)
        run(large_urls[side], 1, 1, 64 << 20)

    totals = {"large": {"presigned": [0.0, 0], "share": [0.0, 0]},
              "small": {"presigned": [0.0, 0], "share": [0.0, 0]}}
    errors = 0
    for r in range(1, ROUNDS + 1):
        line = []
        for side in ("presigned", "share"):
            secs, got, err = run(large_urls[side], LARGE_N, LARGE_CONC, 64 << 20)
            errors += err
            totals["large"][side][0] += secs
            totals["large"][side][1] += got
            line.append(f"{side} {got / secs / (1 << 20):.1f} MiB/s")
        print(f"round {r} 64MiB GET x{LARGE_N} (c{LARGE_CONC}): " + ", ".join(line), flush=True)
        line = []
        for side in ("presigned", "share"):
            before = cpu_seconds()
            secs, _, err = run(small_urls[side], SMALL_N, SMALL_CONC, 4096)
            cpu = cpu_seconds() - before
            errors += err
            totals["small"][side][0] += cpu
            totals["small"][side][1] += SMALL_N
            line.append(f"{side} {SMALL_N / secs:.0f} req/s, {cpu / SMALL_N * 1e6:.0f} µs server CPU/req")
        print(f"round {r} 4KiB GET x{SMALL_N} (c{SMALL_CONC}): " + ", ".join(line), flush=True)

    lp = totals["large"]["presigned"][1] / totals["large"]["presigned"][0]
    ls = totals["large"]["share"][1] / totals["large"]["share"][0]
    cp = totals["small"]["presigned"][0] / totals["small"]["presigned"][1]
    cs = totals["small"]["share"][0] / totals["small"]["share"][1]
    print(f"64MiB: presigned {lp / (1 << 20):.1f} MiB/s, share {ls / (1 << 20):.1f} MiB/s: "
          f"share at {100 * ls / lp:.0f}% (target >= 90%) {'ok' if ls >= 0.9 * lp else 'MISS'}")
    print(f"4KiB: presigned {cp * 1e6:.0f} µs, share {cs * 1e6:.0f} µs server CPU/req: "
          f"share costs {100 * (cs / cp - 1):+.0f}% (target <= +20%) {'ok' if cs <= 1.2 * cp else 'MISS'}")
    print(f"errors: {errors}")
    for i in range(16):
        s3.delete_object(Bucket=bucket, Key=f"small/{i:02}.bin")
    s3.delete_object(Bucket=bucket, Key="large.bin")
    s3.delete_bucket(Bucket=bucket)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
