"""16 DeleteObjects requests at once, each with a SIZE_MIB MiB body (default 20), first from a
stranger (an account with no rights on the bucket), then from the bucket's owner; prints the
answers and the server's RSS before and at its peak.

usage: bodies.py ENDPOINT SERVER_PID OWNER_AK OWNER_SK STRANGER_AK STRANGER_SK
"""
import hashlib
import os
import sys
import threading
import time
from collections import Counter

import boto3
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

SIZE = int(os.environ.get("SIZE_MIB", "20"))
endpoint, pid = sys.argv[1], int(sys.argv[2])
owner, stranger = (sys.argv[3], sys.argv[4]), (sys.argv[5], sys.argv[6])


def rss_mib():
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS"):
                return int(line.split()[1]) / 1024
    return 0.0


s3 = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=owner[0],
                  aws_secret_access_key=owner[1], region_name="us-east-1")
s3.create_bucket(Bucket="probe-bodies")
body = b"<Delete>" + b" " * (SIZE * 1024 * 1024) + b"</Delete>"
sha = hashlib.sha256(body).hexdigest()


def send(creds, results, i):
    req = AWSRequest(method="POST", url=f"{endpoint}/probe-bodies?delete", data=body,
                     headers={"x-amz-content-sha256": sha})
    SigV4Auth(Credentials(*creds), "s3", "us-east-1").add_auth(req)
    try:
        results[i] = requests.post(req.url, data=body, headers=dict(req.headers), timeout=120).status_code
    except requests.RequestException as e:
        results[i] = type(e).__name__


for who, creds in (("stranger", stranger), ("owner", owner)):
    before = peak = rss_mib()
    stop = threading.Event()

    def watch():
        global peak
        while not stop.is_set():
            peak = max(peak, rss_mib())
            time.sleep(0.05)

    watcher = threading.Thread(target=watch)
    watcher.start()
    results = [None] * 16
    threads = [threading.Thread(target=send, args=(creds, results, i)) for i in range(16)]
    started = time.time()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stop.set()
    watcher.join()
    print(f"{who}: 16 x {SIZE} MiB DeleteObjects in {time.time() - started:.1f}s, "
          f"statuses {dict(Counter(results))}, RSS {before:.1f} -> peak {peak:.1f} MiB")
