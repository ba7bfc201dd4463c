"""Opens 300 idle connections to a server, then checks that a new client still gets answers
(health checks and an S3 request, with the time each took), how many idle connections are
still open, and how many log lines speak of the open-file limit.

usage: connections.py HOST PORT SERVER_LOG
"""
import socket
import sys
import time

import requests

host, port, log = sys.argv[1], int(sys.argv[2]), sys.argv[3]
idle = []
for i in range(300):
    try:
        idle.append(socket.create_connection((host, port), timeout=2))
    except OSError as e:
        print("connect", i, type(e).__name__)
        break
print("opened", len(idle), "idle connections")
time.sleep(1)
started = time.time()
answers = {}
for path in ("/health/live", "/health/ready", "/some-bucket"):
    try:
        answers[path] = (requests.get(f"http://{host}:{port}{path}", timeout=10).status_code,
                         round(time.time() - started, 2))
    except requests.RequestException as e:
        answers[path] = (type(e).__name__, round(time.time() - started, 2))
print("answers:", answers)
alive = 0
for s in idle:
    s.settimeout(0.01)
    try:
        alive += s.recv(1) != b""
    except socket.timeout:
        alive += 1
    except OSError:
        pass
print("idle connections still open:", alive)
with open(log, errors="replace") as f:
    print("log lines about the file limit:", sum("Too many open files" in line for line in f))
