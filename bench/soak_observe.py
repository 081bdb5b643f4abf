#!/usr/bin/python3
"""Observer of bench/soak.sh: every node's member list, metrics, memory and file descriptors.

  soak_observe.py --nodes N --url http://10.231.0.{i}:8080 --pid-dir DIR --interval S --out FILE

Runs in the hub namespace of the test bed (every node's REST API is reachable there, partitions
and loss never hide it) until SIGTERM. Every S seconds it fetches GET /api/cluster/members and
GET /metrics of all N nodes at once and, for each node whose pid soak.sh wrote to DIR/<i>, reads
VmRSS from /proc/<pid>/status and counts /proc/<pid>/fd. One JSON line per round:

  {"t": epoch ms at the start of the round,
   "n": {"<i>": {"t": epoch ms when the member list arrived (null: no answer),
                 "m": {"<hostname>": [status, incarnation, left]} (member list),
                 "k": entries in the list (more than in "m": a hostname listed twice),
                 "rej": {reason: count}, "rx": datagrams received (metrics, null: no answer),
                 "pid": pid, "rss": KiB, "fds": count (null when unreadable)}}}

A node that does not answer within 2 s just has no "m" in that round. Python's standard library.
"""
import argparse
import concurrent.futures
import json
import os
import re
import signal
import threading
import time
import urllib.request

METRIC = re.compile(r'^spore_datagrams_rejected_total\{reason="([a-z_]+)"\} (\d+)$')


def fetch(url):
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.read(), time.time_ns() // 1_000_000
    except Exception:  # refused, timed out, reset: the node is down or slow; not a verdict here
        return None, None


def members(body):
    """({hostname: [status, incarnation, left]}, number of entries), or (None, 0) for garbage."""
    try:
        ms = json.loads(body)["members"]
        return {m["hostname"]: [m["status"], m.get("incarnation"), bool(m.get("left", False))] for m in ms}, len(ms)
    except (ValueError, KeyError, TypeError):
        return None, 0


def metrics(body):
    rej, rx = {}, None
    for line in body.decode("utf-8", "replace").splitlines():
        m = METRIC.match(line)
        if m:
            rej[m.group(1)] = int(m.group(2))
        elif line.startswith("spore_datagrams_received_total "):
            rx = int(line.split()[1])
    return rej, rx


def proc(pid):
    rss = fds = None
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1])
        fds = len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        pass
    return rss, fds


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--nodes", type=int, required=True)
    p.add_argument("--url", required=True, help="base URL with {i} for the node number")
    p.add_argument("--pid-dir", required=True)
    p.add_argument("--interval", type=float, default=5)
    p.add_argument("--out", required=True)
    a = p.parse_args()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    nodes = [str(i) for i in range(1, a.nodes + 1)]
    with concurrent.futures.ThreadPoolExecutor(max_workers=2 * a.nodes) as pool, open(a.out, "a") as out:
        while not stop.is_set():
            t0 = time.time_ns() // 1_000_000
            futs = {i: (pool.submit(fetch, a.url.format(i=i) + "/api/cluster/members"),
                        pool.submit(fetch, a.url.format(i=i) + "/metrics")) for i in nodes}
            rec = {}
            for i in nodes:
                r = {}
                try:
                    with open(os.path.join(a.pid_dir, i)) as f:
                        r["pid"] = int(f.read().strip())
                    r["rss"], r["fds"] = proc(r["pid"])
                except (OSError, ValueError):
                    pass
                body, t = futs[i][0].result()
                m, k = members(body) if body is not None else (None, 0)
                if m is not None:
                    r["t"], r["m"], r["k"] = t, m, k
                body, _ = futs[i][1].result()
                if body is not None:
                    r["rej"], r["rx"] = metrics(body)
                rec[i] = r
            out.write(json.dumps({"t": t0, "n": rec}, separators=(",", ":")) + "\n")
            out.flush()
            stop.wait(max(0.0, a.interval - (time.time_ns() // 1_000_000 - t0) / 1000))


if __name__ == "__main__":
    main()
