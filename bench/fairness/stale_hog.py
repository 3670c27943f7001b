#!/usr/bin/env python3
# A client that keeps resending a stale guarded write of a hot key beside
# one honest compare-and-set agent (GET, then POST with the version read),
# for 3 s: how many commits the honest agent still gets. Conflict turns
# must not let the stale client hold the key (a turn's holder whose write
# is not the retry its 409 invited loses its turn).
#   python3 bench/fairness/stale_hog.py PORT HOG_CONNECTIONS
# Against a casmemd on 127.0.0.1:PORT. One process: the hog threads share
# Python's interpreter lock with the honest agent, so compare runs of this
# script with each other, not with casmem-bench.
import http.client
import json
import sys
import threading
import time

port = int(sys.argv[1])
hogs = int(sys.argv[2])
seconds = 3.0
key = "hog%d_%d" % (hogs, int(time.time() * 1000))


def connect():
    return http.client.HTTPConnection("127.0.0.1", port)


def request(c, method, path, body=None):
    c.request(method, path, body=json.dumps(body) if body is not None else None,
              headers={"Content-Type": "application/json"})
    r = c.getresponse()
    return r.status, r.read()


honest = connect()
request(honest, "POST", "/memory", {"key": key, "value": 0})
request(honest, "POST", "/memory", {"key": key, "value": 1, "if_match_version": 1})
stop = time.time() + seconds
hog_requests = [0]


def hog():
    c = connect()
    while time.time() < stop:
        request(c, "POST", "/memory", {"key": key, "value": "x", "if_match_version": 1})
        hog_requests[0] += 1


threads = [threading.Thread(target=hog) for _ in range(hogs)]
for t in threads:
    t.start()
commits = conflicts = 0
latencies = []
while time.time() < stop:
    _, body = request(honest, "GET", "/memory/" + key)
    version = json.loads(body)["version"]
    t0 = time.time()
    status, _ = request(honest, "POST", "/memory", {"key": key, "value": commits, "if_match_version": version})
    latencies.append(time.time() - t0)
    if status == 200:
        commits += 1
    else:
        conflicts += 1
for t in threads:
    t.join()
latencies.sort()
print("hog connections %d: honest commits/s %.0f, 409s %d, write p50 %.2f ms, p99 %.2f ms, hog requests %d" % (
    hogs, commits / seconds, conflicts, 1000 * latencies[len(latencies) // 2],
    1000 * latencies[int(len(latencies) * 0.99)], hog_requests[0]))
