#!/usr/bin/python3
"""Plot of bench/sim_sweep.sh: received bytes per node per second, and detection / join time, vs N.

Usage: plot_sweep.py build/bench/sim_sweep.json OUT.png
Needs Debian's python3-matplotlib (run with /usr/bin/python3). Configurations that were not run
(the seed model when spore-sim lacks `protocol seed`) are left out of the plot.
"""
import json
import sys

import matplotlib

matplotlib.use("Agg")  # no display
import matplotlib.pyplot as plt  # noqa: E402

data = json.load(open(sys.argv[1], encoding="utf-8"))
runs = data["runs"]
CONFIGS = [("spore", "lan", "SPORE lan (default)", "tab:blue"), ("spore", "fast", "SPORE fast", "tab:green"),
           ("seed", "lan", "seed model (broadcast + HTTP poll)", "tab:red")]


def pick(kind, proto, profile, **extra):
    """{n: run} of KIND for one configuration."""
    return {r["n"]: r for r in runs if (r["kind"], r["protocol"], r["profile"]) == (kind, proto, profile)
            and all(r.get(k) == v for k, v in extra.items())}


fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4), dpi=80)
for proto, profile, label, color in CONFIGS:
    # Steady-state received bytes: difference of the long and the short run's totals, per second.
    a, b = pick("steady", proto, profile, steady="short"), pick("steady", proto, profile, steady="long")
    ns = sorted(set(a) & set(b))

    def total(r):  # received bytes per node over the whole run
        return r["run"]["per_node_per_s"]["received_bytes"] * r["run"]["virtual_ms"] / 1000

    if ns:
        rx = [(total(b[n]) - total(a[n])) / ((b[n]["run"]["virtual_ms"] - a[n]["run"]["virtual_ms"]) / 1000) for n in ns]
        ax1.plot(ns, rx, "o-", color=color, label=label)
    crash = pick("crash", proto, profile)
    ns = sorted(n for n in crash if crash[n]["run"]["detect_max_ms"] is not None)
    if ns:
        ax2.plot(ns, [crash[n]["run"]["detect_max_ms"] / 1000 for n in ns], "o-", color=color, label=f"{label}: crash")
    join = pick("join", proto, profile)
    ns = sorted(n for n in join if join[n]["run"]["reconverge_max_ms"] is not None)
    if ns:
        ax2.plot(ns, [join[n]["run"]["reconverge_max_ms"] / 1000 for n in ns], "s--", color=color, label=f"{label}: join")

ax1.axhline(1024, color="gray", linestyle=":", label="budget at N=50: 1 KB/s")
ax1.set(xscale="log", yscale="log", xlabel="nodes N", ylabel="received bytes / node / s (steady state)",
        title="Traffic per node")
ax2.axhline(3, color="gray", linestyle=":", label="budget: crash, fast, 3 s")
ax2.set(xscale="log", yscale="log", xlabel="nodes N", ylabel="seconds (slowest peer)",
        title="Crash to INACTIVE; new node ACTIVE at all")
ax2.set_ylim(0.01, 30)  # room below the curves for the legend
for ax in (ax1, ax2):
    ax.set_xticks([5, 10, 20, 50, 100, 200], labels=["5", "10", "20", "50", "100", "200"])
    ax.grid(True, which="both", alpha=0.3)
ax1.legend(fontsize=7, loc="upper left")
ax2.legend(fontsize=6, loc="lower center", ncol=2)
wide = sorted({r["n"] for r in runs if r.get("build") == "sim255"})
note = f"; N >= {wide[0]}: SPORE_MAX_MEMBERS={data['builds']['sim255']['max_members']} build, full view" if wide else ""
fig.suptitle(f"spore-sim, virtual time ({data['date']}, {data['git']}{note})", fontsize=9)
fig.tight_layout()
fig.savefig(sys.argv[2])
