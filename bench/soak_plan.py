#!/usr/bin/python3
"""Churn schedule of bench/soak.sh, the same for the same arguments (seed included).

  soak_plan.py --seed S --nodes N --duration D [options]   (see --help)

Prints one action per line, sorted by time, seconds from the start of the soak:

  AT kill I      SIGKILL node I (a crash: no LEAVE)
  AT term I      SIGTERM node I (graceful: LEAVE, peers show it DEAD with "left": true)
  AT start I     start node I again from its state directory (a larger incarnation)
  AT part I,J,.. cut nodes I,J,.. off from every other node (nftables, both directions)
  AT heal        remove the partition

Rules: every disturbance ends at least --settle seconds before the end, so the run can require
the whole cluster ACTIVE everywhere at the end; at most --max-disturbed nodes are down or
partitioned at once (so the cluster keeps a majority that sees itself); one partition at a time
(tests/cluster/netns.sh heals all at once); nodes 1..--keep are never disturbed (their processes
live through the whole run: the RSS baseline and observers that never restart). The first three
actions are one kill, one term and one partition in a seed-shuffled order, so even a short run
has each kind; later ones are drawn with the weights below.
"""
import argparse
import random


def plan(a):
    rng = random.Random(a.seed)
    last_end = a.duration - a.settle
    busy = {}  # node -> second it is undisturbed again
    part_until = 0.0
    out = []
    forced = ["kill", "term", "part"]
    rng.shuffle(forced)
    t = float(a.first)
    candidates = list(range(a.keep + 1, a.nodes + 1))
    while t < last_end:
        free = [i for i in candidates if busy.get(i, 0) <= t]
        budget = a.max_disturbed - sum(1 for i in candidates if busy.get(i, 0) > t)
        kind = forced[0] if forced else rng.choices(["kill", "term", "part"], [a.w_kill, a.w_term, a.w_part])[0]
        done = False
        if budget >= 1 and free:
            if kind == "part":
                if part_until <= t:
                    k = rng.randint(1, min(a.part_size, budget, len(free)))
                    dur = rng.uniform(a.part_min, a.part_max)
                    if t + dur <= last_end:
                        nodes = sorted(rng.sample(free, k))
                        out.append((t, "part", ",".join(map(str, nodes))))
                        out.append((t + dur, "heal", ""))
                        for i in nodes:
                            busy[i] = t + dur
                        part_until = t + dur
                        done = True
            else:
                dur = min(rng.uniform(a.down_min, a.down_max), last_end - t)
                if dur >= a.down_min:
                    i = rng.choice(free)
                    out.append((t, kind, str(i)))
                    out.append((t + dur, "start", str(i)))
                    busy[i] = t + dur
                    done = True
        if done and forced:
            forced.pop(0)
        t += rng.uniform(0.5, 1.5) * a.every
    out.sort(key=lambda x: (x[0], x[1] != "heal" and x[1] != "start"))
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--nodes", type=int, required=True)
    p.add_argument("--duration", type=float, required=True, help="seconds of soak")
    p.add_argument("--settle", type=float, default=90, help="no disturbance in the last S seconds")
    p.add_argument("--first", type=float, default=20, help="second of the first action")
    p.add_argument("--every", type=float, default=30, help="mean seconds between actions")
    p.add_argument("--max-disturbed", type=int, default=3)
    p.add_argument("--keep", type=int, default=2, help="nodes 1..K are never disturbed")
    p.add_argument("--down-min", type=float, default=3)
    p.add_argument("--down-max", type=float, default=120)
    p.add_argument("--part-size", type=int, default=3, help="largest cut-off group")
    p.add_argument("--part-min", type=float, default=75)
    p.add_argument("--part-max", type=float, default=150)
    p.add_argument("--w-kill", type=float, default=4)
    p.add_argument("--w-term", type=float, default=3)
    p.add_argument("--w-part", type=float, default=3)
    a = p.parse_args()
    if a.nodes - a.keep < 1 or a.max_disturbed < 1:
        p.error("need at least one node that may be disturbed and --max-disturbed >= 1")
    for t, kind, arg in plan(a):
        print(f"{t:.1f} {kind} {arg}".rstrip())


if __name__ == "__main__":
    main()
