#!/usr/bin/python3
"""Membership poller of bench/netns_bench.sh: reads the member lists of several systems at once.

Runs in the hub namespace of the test bed, where every node's HTTP endpoint is reachable. Each
system is a name, a kind (spore: spored's /api/cluster/members; memberlist: bench/memberlist's
/members) and one URL per observing node. Lists are mapped to one shape, {name: state} with
state alive | suspect | dead (INACTIVE is suspect; a member that left counts as dead).

  netns_poll.py until --t0-ms MS --converged n1,n2,... SYSTEM...
      ms from MS (epoch ms) until, in one poll of a system, every observer lists all those
      names alive and no other name alive (earlier victims may still be listed, not alive). One result per system; polling goes on until every system holds or
      --timeout-s passes (then that system's result is null).
  netns_poll.py until --t0-ms MS --target nK --stage suspect,dead --stage dead SYSTEM...
      the same, once per --stage: until every observer lists nK in one of that stage's states.
      Results are lists, one ms (or null) per condition.
  netns_poll.py watch --seconds S SYSTEM...
      samples every system for S seconds and counts, per system, the false alarms: an observer's
      view of a member going from alive to suspect, or to dead/absent (everyone is alive all along).

SYSTEM is NAME=KIND@URL1,URL2,...; output is one JSON object keyed by NAME. Python's standard
library only (Debian's python3). Every poll of a system fetches all its URLs concurrently.
"""
import argparse
import concurrent.futures
import json
import sys
import time
import urllib.request

SPORE_STATES = {"ACTIVE": "alive", "INACTIVE": "suspect", "DEAD": "dead"}


def now_ms():
    return time.time_ns() // 1_000_000


def normalise(kind, body):
    """{name: state} of one member list, or None when the body is not a member list."""
    try:
        members = json.loads(body)["members"]
        if kind == "spore":
            return {m["hostname"]: SPORE_STATES.get(m["status"], m["status"]) for m in members}
        return {m["name"]: ("dead" if m["state"] == "left" else m["state"]) for m in members}
    except (ValueError, KeyError, TypeError):
        return None


def fetch(url):
    try:
        with urllib.request.urlopen(url, timeout=1.5) as r:
            return r.read()
    except OSError:
        return None


class System:
    def __init__(self, spec):
        name, _, rest = spec.partition("=")
        kind, _, urls = rest.partition("@")
        if not name or kind not in ("spore", "memberlist") or not urls:
            raise SystemExit(f"netns_poll: bad SYSTEM {spec!r} (want NAME=spore|memberlist@URL,...)")
        self.name, self.kind, self.urls = name, kind, urls.split(",")

    def poll(self, pool):
        """One list per URL, in URL order (None for an observer that did not answer)."""
        bodies = pool.map(fetch, self.urls)
        return [None if b is None else normalise(self.kind, b) for b in bodies]


def until(args, systems, pool):
    """{system: [ms per condition]}: ms from --t0-ms until each condition first held."""
    if args.converged:
        want = set(args.converged.split(","))
        conds = [lambda lists: all(l is not None and {m for m, v in l.items() if v == "alive"} == want for l in lists)]
    else:
        conds = [
            (lambda states: lambda lists: all(l is not None and l.get(args.target) in states for l in lists))(set(st.split(",")))
            for st in args.stage
        ]
    result = {s.name: [None] * len(conds) for s in systems}
    deadline = time.monotonic() + args.timeout_s
    while time.monotonic() < deadline:
        pending = [s for s in systems if None in result[s.name]]
        if not pending:
            break
        for s in pending:
            lists = s.poll(pool)
            t = now_ms() - args.t0_ms
            for k, cond in enumerate(conds):
                if result[s.name][k] is None and cond(lists):
                    result[s.name][k] = t
        time.sleep(0.02)
    return result


def watch(args, systems, pool):
    result = {s.name: {"false_suspect": 0, "false_dead": 0, "samples": 0, "unanswered": 0} for s in systems}
    last = {s.name: {} for s in systems}  # (observer index, member) -> state
    end = time.monotonic() + args.seconds
    while time.monotonic() < end:
        for s in systems:
            r = result[s.name]
            r["samples"] += 1
            for i, lst in enumerate(s.poll(pool)):
                if lst is None:
                    r["unanswered"] += 1
                    continue
                prev_view = last[s.name]
                seen = set()
                for member, state in lst.items():
                    seen.add(member)
                    prev = prev_view.get((i, member))
                    if prev == "alive" and state == "suspect":
                        r["false_suspect"] += 1
                    elif prev in ("alive", "suspect") and state == "dead":
                        r["false_dead"] += 1
                    prev_view[(i, member)] = state
                for (obs, member), prev in list(prev_view.items()):
                    if obs == i and member not in seen:
                        if prev in ("alive", "suspect"):
                            r["false_dead"] += 1
                        del prev_view[(obs, member)]
        time.sleep(0.1)
    return result


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("mode", choices=("until", "watch"))
    p.add_argument("systems", nargs="+", metavar="SYSTEM")
    p.add_argument("--t0-ms", type=int, default=None)
    p.add_argument("--converged")
    p.add_argument("--target")
    p.add_argument("--stage", action="append", default=[], help="STATE,... (repeatable, with --target)")
    p.add_argument("--timeout-s", type=float, default=120)
    p.add_argument("--seconds", type=float, default=60)
    args = p.parse_args()
    if args.mode == "until" and (args.t0_ms is None or bool(args.converged) == bool(args.target)):
        p.error("until needs --t0-ms and exactly one of --converged / --target")
    if args.target and not args.stage:
        p.error("--target needs at least one --stage")
    systems = [System(s) for s in args.systems]
    with concurrent.futures.ThreadPoolExecutor(max_workers=64) as pool:
        out = until(args, systems, pool) if args.mode == "until" else watch(args, systems, pool)
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
