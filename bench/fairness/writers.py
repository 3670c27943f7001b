#!/usr/bin/env python3
"""Who commits after whom on one contended key, sampled while a run goes.

    bench/fairness/writers.py PORT PREFIX SECONDS

Every 50 ms for SECONDS, reads the first key starting with PREFIX in
casmemd's workspace "bench" (GET /workspaces/bench/memory?prefix=P&limit=1);
its value is casmem-bench's (or cas_agent.lua's) {"counter", "agents"},
the last 16 writers, newest last. Consecutive entries of one sample are
consecutive commits (a sample is used only when the counter moved by at
least 16 since the last, so no pair is counted twice). Prints the repeat
rate: the fraction of those commits made by the agent that made the
commit just before. It is about 1/agents when the turn passes around, and
near 1 when whoever just won wins again. Standard library only.
"""
import json
import sys
import time
import urllib.parse
import urllib.request


def main():
    port, prefix, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
    q = urllib.parse.urlencode({"prefix": prefix, "limit": 1})
    url = f"http://127.0.0.1:{port}/workspaces/bench/memory?{q}"
    pairs = repeats = 0
    writers = set()
    last_counter = None
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        time.sleep(0.05)
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                page = json.load(r)
        except OSError:
            continue
        if not page or not isinstance(page[0].get("value"), dict):
            continue
        value = page[0]["value"]
        agents, counter = value.get("agents") or [], value.get("counter", 0)
        if last_counter is not None and counter - last_counter < len(agents):
            continue
        last_counter = counter
        writers.update(agents)
        pairs += len(agents) - 1
        repeats += sum(1 for a, b in zip(agents, agents[1:]) if a == b)
    if pairs == 0:
        print("no samples")
        return
    print(f"repeat rate {repeats / pairs:.3f} over {pairs} commit pairs, {len(writers)} writers seen")


if __name__ == "__main__":
    main()
