#!/usr/bin/python3
"""Markdown tables of bench/netns_bench.sh: netns_report.py RESULTS.json "COMMAND LINE".

RESULTS.json is the list of per-size results netns_bench.sh writes (build/bench/netns_bench.json).
Only the systems the run had are shown (netns_bench.sh -L adds the digest ones, issue 22).
"""
import json
import sys

SYSTEMS = [
    ("spore-fast", "SPORE `fast` broadcast", "INACTIVE after 1.5 s, DEAD after 6 s of silence; broadcast heartbeats (`--liveness broadcast`)"),
    ("spore-lan", "SPORE `lan` broadcast", "INACTIVE after 10 s, DEAD after 60 s (the seed's); broadcast heartbeats (`--liveness broadcast`)"),
    ("spore-fast-digest", "SPORE `fast` digest (default)", "as `fast`; liveness by DIGEST chain (`--liveness digest`, the hosts' default)"),
    ("spore-lan-digest", "SPORE `lan` digest (default)", "as `lan`; liveness by DIGEST chain (`--liveness digest`, the hosts' default)"),
    ("memberlist-lan", "memberlist LAN", "probe 1 s (timeout 0.5 s), suspect -> dead after 4 x max(1, log10 N) s, shortened by confirmations"),
]


def ms(v):
    return "-" if v is None else f"{v:,}"


def num(v, digits):
    return "-" if v is None else f"{v:,.{digits}f}"


def median(values):
    v = sorted(x for x in values if x is not None)
    if not v:
        return None
    return v[len(v) // 2] if len(v) % 2 else (v[len(v) // 2 - 1] + v[len(v) // 2]) // 2


def spread(values):
    """Median, with the range when there is more than one value: "1,520 (1,490-1,610)"."""
    v = [x for x in values if x is not None]
    missing = len(values) - len(v)
    text = ms(median(v))
    if len(v) > 1:
        text += f" ({min(v):,}-{max(v):,})"
    return text + (f" [{missing} timed out]" if missing else "")


def ratio(a, b):
    return "-" if not a or not b else f"{a / b:.2f}x"


def systems_of(results):
    """The SYSTEMS entries some size of the run measured, in SYSTEMS' order."""
    ran = {k for r in results for k in r["join"]}
    return [s for s in SYSTEMS if s[0] in ran]


def ratio_line(r, fast, lan, suffix):
    """One size's SPORE / memberlist ratios for the `fast` and `lan` systems of one liveness mode."""
    s, ml = r["steady"].get(fast, {}), r["steady"].get("memberlist-lan", {})
    lan_st = r["steady"].get(lan, {})
    cf, cm = ([median([c[stage] for c in r["crash"].get(k, [])]) for stage in (0, 1)] for k in (fast, "memberlist-lan"))
    return (f"- N={r['n']}: `lan`{suffix} sends {ratio(lan_st.get('sent_Bps'), ml.get('sent_Bps'))} and receives "
            f"{ratio(lan_st.get('recv_Bps'), ml.get('recv_Bps'))} memberlist's bytes, uses "
            f"{ratio(lan_st.get('cpu_ms_per_node_s'), ml.get('cpu_ms_per_node_s'))} its CPU and "
            f"{ratio(lan_st.get('rss_kib'), ml.get('rss_kib'))} its memory; `fast`{suffix} sends "
            f"{ratio(s.get('sent_Bps'), ml.get('sent_Bps'))}, receives {ratio(s.get('recv_Bps'), ml.get('recv_Bps'))}, "
            f"and its median INACTIVE comes in {ratio(cf[0], cm[0])} the time of memberlist's suspect, "
            f"its DEAD in {ratio(cf[1], cm[1])} the time of memberlist's dead.")


def main():
    results = sorted(json.load(open(sys.argv[1])), key=lambda r: r["n"])
    cmd = sys.argv[2]
    systems = systems_of(results)
    count = {3: "three", 4: "four", 5: "five"}.get(len(systems), str(len(systems)))
    out = []
    w = out.append
    w(f"Real processes, one network namespace and one address per node on a bridge, the {count} systems")
    w("running side by side in the same namespaces at the same time (so the same kernel, bridge, loss")
    w("and CPU contention). spored is the Release build (`cmake --preset release`), the memberlist peer")
    w("is built by Go from Debian's sources. Join and crash figures: median of the rounds (a new node")
    w("each round), range in brackets. Reproduce with (root; about 20 minutes):")
    w("")
    w("```bash")
    w(cmd)
    w("```")
    w("")
    w("| N | system | detection settings | new node alive at all N (ms) | killed node suspect/INACTIVE at all N-1 (ms) | dead/DEAD at all N-1 (ms) | sent per node (packets/s) | sent per node (B/s) | received per node (packets/s) | received per node (B/s) | CPU per node-second (ms) | resident memory per node (KiB, median) |")
    w("| ---: | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in results:
        for key, label, settings in systems:
            st = r["steady"].get(key, {})
            crash = r["crash"].get(key, [])
            w(f"| {r['n']} | {label} | {settings} | {spread(r['join'].get(key, []))} | "
              f"{spread([c[0] for c in crash])} | {spread([c[1] for c in crash])} | "
              f"{num(st.get('sent_pps'), 1)} | {num(st.get('sent_Bps'), 0)} | {num(st.get('recv_pps'), 1)} | "
              f"{num(st.get('recv_Bps'), 0)} | {num(st.get('cpu_ms_per_node_s'), 3)} | {ms(st.get('rss_kib'))} |")
    w("")
    w("Bytes are IP bytes (headers included) counted by nftables on each node's `eth0`; a node's own")
    w("broadcasts looped back to it are not counted as received. CPU is the run time of the processes")
    w("(all threads, from `/proc/PID/task/*/schedstat`) over the same window, divided by N and by the")
    w(f"window; the {count} systems share 2 cores with each other and with nothing else.")
    w("")
    loss_s = results[0]["loss_s"] if results else 0
    levels = sorted({int(p) for r in results for p in r["alarms"]})
    samples = [a["samples"] for r in results for lvl in r["alarms"].values() for a in lvl.values()]
    period = f"{loss_s / max(samples):.2f}-{loss_s / min(samples):.2f} s" if samples else "-"
    w(f"False alarms while nobody crashes: each loss level runs {loss_s} s; every observer's view of every")
    w(f"member is sampled every {period} (measured). Cells: false suspect/INACTIVE and false dead/DEAD changes per")
    w("node-hour (counts in brackets). Loss drops that share of all IP packets a node receives from its")
    w("peers (nftables `numgen random`), TCP included.")
    w("")
    w("| N | system | " + " | ".join(f"{p} % loss" for p in levels) + " |")
    w("| ---: | --- | " + " | ".join("---:" for _ in levels) + " |")
    for r in results:
        node_hours = r["n"] * r["loss_s"] / 3600
        for key, label, _ in systems:
            cells = []
            for p in levels:
                a = r["alarms"].get(str(p), {}).get(key)
                if a is None:
                    cells.append("-")
                    continue
                cells.append(f"{a['false_suspect'] / node_hours:.0f} / {a['false_dead'] / node_hours:.0f} "
                             f"({a['false_suspect']} / {a['false_dead']})")
            w(f"| {r['n']} | {label} | " + " | ".join(cells) + " |")
    w("")
    w("Ratios (SPORE / memberlist, same run):")
    w("")
    keys = {k for k, _, _ in systems}
    for r in results:
        if "spore-fast" in keys:
            w(ratio_line(r, "spore-fast", "spore-lan", " broadcast"))
        if "spore-fast-digest" in keys:
            w(ratio_line(r, "spore-fast-digest", "spore-lan-digest", " digest"))
    print("\n".join(out))


if __name__ == "__main__":
    main()
