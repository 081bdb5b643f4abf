#!/usr/bin/python3
"""Liveness that scales (issue 22), in the simulator: the DIGEST chain against the broadcast
design and the seed's design, side by side on the same seeds, networks and N.

Usage: bench/liveness_sim.py [--update-docs] [--seeds K] [--loss-minutes M]

Runs spore-sim (build/release/spore-sim for N <= 64, build/sim255/spore-sim above; both must be
built, bench/liveness_sim.sh builds them) with generated scenario files in build/bench/liveness/:
  steady   N = 10, 20, 50, 100, 200, profiles fast and lan, liveness broadcast and digest, and
           protocol seed: traffic per node per second at steady state (the difference of a 30 s and
           a 90 s run of the same seeded scenario), received datagrams and IP bytes (headers and
           the cluster key's tag included; spore-sim's received_wire_bytes)
  crash    N = 20: a crash at 40 s, the time until it is INACTIVE at every peer (K seeds)
  loss     N = 20, 0/10/20/30 % loss for M virtual minutes: false INACTIVE / DEAD (K seeds)
Writes build/bench/liveness_sim.md; --update-docs puts it between <!-- liveness-sim:begin --> and
<!-- liveness-sim:end --> in docs/benchmarks.md.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SIM = os.path.join(ROOT, "build/release/spore-sim")
SIM_FULL = os.path.join(ROOT, "build/sim255/spore-sim")
OUT = os.path.join(ROOT, "build/bench/liveness")
SYSTEMS = [("broadcast", "spore", "broadcast"), ("digest", "spore", "digest"), ("seed design", "seed", None)]


def run(text, name, liveness, nodes):
    os.makedirs(OUT, exist_ok=True)
    path = os.path.join(OUT, name + ".scn")
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    cmd = [SIM_FULL if nodes > 64 else SIM, "--json", path]
    if liveness:
        cmd[1:1] = ["--liveness", liveness]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=3600, check=False)
    if res.returncode not in (0, 1):
        sys.exit(f"liveness_sim: {' '.join(cmd)} failed: {res.stderr.strip()}")
    return json.loads(res.stdout)["scenarios"][0]


def scenario(nodes, profile, protocol, seed, duration_s, extra=""):
    lines = [f"nodes {nodes}", f"profile {profile}", f"seed {seed}", f"duration {duration_s}s"]
    if protocol == "seed":
        lines.append("protocol seed")
    return "\n".join(lines) + "\n" + extra


def steady(nodes, profile, label, protocol, liveness):
    rates = {}
    for duration in (30, 90):
        name = f"steady_{label.replace(' ', '_')}_{profile}_{nodes}_{duration}"
        r = run(scenario(nodes, profile, protocol, 1, duration), name, liveness, nodes)
        rates[duration] = r["per_node_per_s"]
    diff = {k: (rates[90][k] * 90 - rates[30][k] * 30) / 60 for k in rates[90]}
    return diff


def crash_ms(profile, label, protocol, liveness, seeds):
    out = []
    for seed in range(1, seeds + 1):
        text = scenario(20, profile, protocol, seed, 120, "at 40s crash 7\n")
        r = run(text, f"crash_{label.replace(' ', '_')}_{profile}_{seed}", liveness, 20)
        if r.get("detect_max_ms") is not None:
            out.append(r["detect_max_ms"])
    return out


def false_alarms(profile, label, protocol, liveness, loss, seeds, minutes):
    fi = fd = 0
    for seed in range(1, seeds + 1):
        text = scenario(20, profile, protocol, 100 + seed, minutes * 60, "")
        text = text.replace("duration", f"loss {loss}%\ndelay 2ms\njitter 3ms\nduration")
        r = run(text, f"loss{loss}_{label.replace(' ', '_')}_{profile}_{seed}", liveness, 20)
        fi += r["false_inactive"]
        fd += r["false_dead"]
    return fi, fd


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--update-docs", action="store_true")
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--loss-minutes", type=int, default=10)
    args = ap.parse_args()
    command = "bench/liveness_sim.sh" + "".join(f" {a}" for a in sys.argv[1:])
    md = [f"Simulator (virtual time, deterministic; `{command}`). Per node, steady state, IP bytes"
          " with headers and the 16-byte tag (the simulated cluster is keyed):", ""]
    md.append("| profile | system | N=10 rx datagrams/s | N=20 | N=50 | N=100 | N=200 | max / min | "
              "rx B/s at N=20 | N=50 | N=200 | tx B/s at N=20 |")
    md.append("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for profile in ("fast", "lan"):
        for label, protocol, liveness in SYSTEMS:
            if protocol == "seed" and profile == "fast":
                continue
            rows = {n: steady(n, profile, label, protocol, liveness) for n in (10, 20, 50, 100, 200)}
            dg = [rows[n]["received_datagrams"] for n in (10, 20, 50, 100, 200)]
            ratio = max(dg) / min(dg) if min(dg) > 0 else float("inf")
            md.append(f"| {profile if protocol == 'spore' else 'seed'} | {label} | " +
                      " | ".join(f"{d:.1f}" for d in dg) + f" | {ratio:.2f}x | " +
                      " | ".join(f"{rows[n]['received_wire_bytes']:,.0f}" for n in (20, 50, 200)) +
                      f" | {rows[20]['sent_wire_bytes']:,.0f} |")
    md += ["", f"Crash at N=20, time until INACTIVE at all 19 peers ({args.seeds} seeds, median [range], ms);"
           f" false INACTIVE / DEAD at N=20 over {args.seeds} seeds x {args.loss_minutes} virtual minutes"
           " per loss level (delay 2 ms, jitter 3 ms):", ""]
    md.append("| profile | system | crash INACTIVE everywhere | 0 % loss | 10 % | 20 % | 30 % |")
    md.append("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
    for profile in ("fast", "lan"):
        for label, protocol, liveness in SYSTEMS:
            if protocol == "seed" and profile == "fast":
                continue
            c = crash_ms(profile, label, protocol, liveness, args.seeds)
            crash = f"{statistics.median(c):,.0f} [{min(c):,}-{max(c):,}]" if c else "n/a"
            cells = [false_alarms(profile, label, protocol, liveness, loss, args.seeds, args.loss_minutes)
                     for loss in (0, 10, 20, 30)]
            md.append(f"| {profile if protocol == 'spore' else 'seed'} | {label} | {crash} | " +
                      " | ".join(f"{a} / {b}" for a, b in cells) + " |")
    text = "\n".join(md) + "\n"
    os.makedirs(os.path.join(ROOT, "build/bench"), exist_ok=True)
    out = os.path.join(ROOT, "build/bench/liveness_sim.md")
    with open(out, "w", encoding="utf-8") as f:
        f.write(text)
    print(text)
    if args.update_docs:
        subprocess.run([sys.executable, os.path.join(ROOT, "bench/doc_section.py"),
                        os.path.join(ROOT, "docs/benchmarks.md"), "liveness-sim", out], check=True)


if __name__ == "__main__":
    main()
