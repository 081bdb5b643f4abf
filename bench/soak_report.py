#!/usr/bin/python3
"""Verdicts of bench/soak.sh: soak_report.py RUN_DIR OUT.md OUT.json; exit 1 when one fails.

RUN_DIR is the soak's scratch directory: params.json, events.tsv ("epoch_ms kind arg pid"),
observe.jsonl (bench/soak_observe.py), garbage.json (bench/soak_garbage.py), metrics/I-PID.prom
(each process' last scrape) and node-I.log (spored's log; every status change it makes is a line
"... member nX (id) inactive|dead|left|restarted|recovered").

A disturbance is a node down (SIGKILL, SIGTERM or a crash, until its restart) or a partition
(until the heal). It covers the pair (observer O, member X) when X is down, or when O and X are
on opposite sides of the partition. Disturbances of a pair that overlap are chained into one
block of unbroken silence (X restarted while O was still cut off from it: O cannot have heard
the restart), which starts with the first and ends with the last. O showing X
  - INACTIVE is justified by a block with start <= t <= end + grace;
  - DEAD by one with start + (dead - inactive) <= t <= end + grace (X must have been silent for
    about dead_after: the inactive threshold is the slack for its last datagrams before the
    disturbance), or, for a SIGTERM in the block, its start <= t (the LEAVE makes it DEAD at once);
  - DEAD with "left" (or a logged "left") only by a SIGTERM of X in the block, start <= t <= end + grace;
  - absent: O started less than grace before, or a covering disturbance as for INACTIVE.
Garbage: the refusals (every reason but stale, replayed, rate_limited_member, which peers cause) summed
over processes must be 0.85..1.15 x the datagrams within 508 bytes the running nodes should have
received (broadcasts x nodes + unicasts, less the loss, x the nodes' uptime fraction).
Anything else is false. Times are epoch ms of one clock (the machine's); `slack` absorbs the
~1 s between an action and its event line.
"""
import collections
import datetime
import glob
import json
import os
import re
import statistics
import sys

INF = float("inf")
# Refused garbage / expected deliveries must lie in this range: every datagram that reached a
# running node was decoded and refused (the spread is loss and timing noise).
GARBAGE_RATIO = (0.85, 1.15)
SLACK_MS = 1500
LOG_CHANGE = re.compile(r"^(\S+Z) \w (\S+): member n(\d+) \([0-9a-f]+\) (inactive|dead|left|restarted|recovered)$")
PROM = re.compile(r'^spore_datagrams_rejected_total\{reason="([a-z_]+)"\} (\d+)$')
GARBAGE_REASONS = {  # what each garbage kind is built to be refused as (docs/protocol.md §9)
    "random": "too_short, bad_magic; over 508 bytes: dropped unread by the socket",
    "short_header": "too_short",
    "too_long": "over 508 bytes: dropped unread by spored's socket, not in /metrics (`too_long` is the decoder's)",
    "bad_version": "bad_version",
    "unknown_type": "unknown_type",
    "bad_flags": "bad_flags",
    "zero_sender": "bad_sender",
    "truncated": "truncated_body",
    "trailing": "trailing_bytes",
    "tagged": "unexpected_auth",
    "bad_body": "bad_length, bad_string, bad_field",
}


class Dist:
    def __init__(self, kind, nodes, start, end=INF):
        self.kind, self.nodes, self.start, self.end = kind, set(nodes), start, end

    def covers(self, o, x):
        if self.kind == "part":
            return (o in self.nodes) != (x in self.nodes)
        return x in self.nodes


def load(run):
    p = json.load(open(os.path.join(run, "params.json")))
    events = []
    for line in open(os.path.join(run, "events.tsv")):
        ms, kind, arg, pid = (line.rstrip("\n").split("\t") + [""] * 4)[:4]
        events.append((int(ms), kind, arg, int(pid) if pid else None))
    obs = [json.loads(l) for l in open(os.path.join(run, "observe.jsonl")) if l.strip()]
    try:
        garbage = json.load(open(os.path.join(run, "garbage.json")))
    except (OSError, ValueError):
        garbage = {"sent": {}, "broadcast": 0, "unicast": 0, "errors": 0}
    return p, events, obs, garbage


def build(p, events):
    """Disturbances, process lives {pid: [node, start, end]}, node starts {node: [ms]}, churn stats."""
    dists, procs, starts = [], {}, collections.defaultdict(list)
    down, part = {}, None
    churn = collections.defaultdict(list)
    t0 = t_end = None
    for ms, kind, arg, pid in events:
        if kind == "soak_start":
            t0 = ms
        elif kind == "soak_end":
            t_end = ms
        elif kind == "start":
            i = int(arg)
            procs[pid] = [i, ms, INF]
            starts[i].append(ms)
            if i in down:
                k, s = down.pop(i)
                dists.append(Dist(k, [i], s, ms))
                churn[k].append(ms - s)
        elif kind in ("kill", "term", "crash"):
            i = int(arg)
            down[i] = (kind, ms - (2000 if kind == "crash" else 0))
            if pid in procs:
                procs[pid][2] = ms
        elif kind == "part":
            part = ([int(x) for x in arg.split(",")], ms)
        elif kind == "heal" and part:
            dists.append(Dist("part", part[0], part[1], ms))
            churn["part"].append(ms - part[1])
            churn["part_size"].append(len(part[0]))
            part = None
    for i, (k, s) in down.items():
        dists.append(Dist(k, [i], s))
    if part:
        dists.append(Dist("part", part[0], part[1]))
    return dists, procs, starts, churn, t0, t_end


def judge(p, dists, starts):
    grace = p["grace_s"] * 1000
    gap = p["dead_ms"] - p["inactive_ms"]
    blocks = {}

    def pair_blocks(o, x):
        """The pair's disturbances chained into blocks of unbroken silence: one that starts
        before the previous ends (X restarts while O is still cut off from it, ...) continues
        it. Each block: [start, end, earliest DEAD, earliest left]."""
        if (o, x) not in blocks:
            out = []
            for d in sorted((d for d in dists if d.covers(o, x)), key=lambda d: d.start):
                dead_lo = d.start if d.kind == "term" else d.start + gap
                left_lo = d.start if d.kind == "term" else INF
                if out and d.start <= out[-1][1] + SLACK_MS:
                    b = out[-1]
                    b[1] = max(b[1], d.end)
                    b[2] = min(b[2], dead_lo)
                    b[3] = min(b[3], left_lo)
                else:
                    out.append([d.start, d.end, dead_lo, left_lo])
            blocks[(o, x)] = out
        return blocks[(o, x)]

    def justified(o, x, t, what):
        for start, end, dead_lo, left_lo in pair_blocks(o, x):
            if t > end + grace:
                continue
            lo = {"left": left_lo, "dead": dead_lo}.get(what, start)  # inactive, absent: from the start
            if t >= lo - SLACK_MS:
                return True
        if what == "absent":
            return any(s <= t <= s + grace for s in starts.get(o, []))
        return False

    return justified


def log_changes(run):
    """[(epoch ms, observer, member, change)] from every node's log."""
    out = []
    for path in glob.glob(os.path.join(run, "node-*.log")):
        o = int(re.search(r"node-(\d+)\.log$", path).group(1))
        for line in open(path, errors="replace"):
            m = LOG_CHANGE.match(line.rstrip("\n"))
            if m:
                ts = datetime.datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc)
                out.append((int(ts.timestamp() * 1000), o, int(m.group(3)), m.group(4)))
    return sorted(out)


def fmt_s(ms):
    return f"{ms / 1000:.0f}"


def spread(values_ms):
    if not values_ms:
        return "-"
    v = sorted(values_ms)
    return f"{fmt_s(v[0])} / {fmt_s(statistics.median(v))} / {fmt_s(v[-1])}"


def main():
    if len(sys.argv) != 4:
        sys.exit("usage: soak_report.py RUN_DIR OUT.md OUT.json")
    run, out_md, out_json = sys.argv[1:]
    p, events, obs, garbage = load(run)
    n = p["nodes"]
    dists, procs, starts, churn, t0, t_end = build(p, events)
    justified = judge(p, dists, starts)

    # ---- status changes, from the logs (complete) ----
    # The end of the run: its final check (or, for a run cut short, its last observation).
    t_final = max((e[0] for e in events if e[1] == "final"), default=t_end or (obs[-1]["t"] if obs else None))
    changes = collections.Counter()
    false_log = collections.defaultdict(list)
    for t, o, x, ch in log_changes(run):
        if t0 is None or t < t0 or (t_final is not None and t > t_final):
            continue  # convergence before the soak, the nodes' LEAVEs at cleanup after it
        changes[ch] += 1
        if ch in ("inactive", "dead", "left") and not justified(o, x, t, ch):
            false_log[ch].append((t - t0, o, x))

    # ---- member lists, from the observer (sampled) ----
    polls = collections.Counter()
    false_poll = collections.defaultdict(list)
    for rec in obs:
        for si, r in rec["n"].items():
            o = int(si)
            if "m" not in r:
                continue
            t = r["t"]
            polls["lists"] += 1
            if r.get("k", len(r["m"])) != len(r["m"]):
                false_poll["duplicate"].append((t - t0, o, None))
            seen = set()
            for host, (status, _inc, left) in r["m"].items():
                m = re.fullmatch(r"n(\d+)", host)
                if not m or not 1 <= int(m.group(1)) <= n:
                    false_poll["stranger"].append((t - t0, o, host))
                    continue
                x = int(m.group(1))
                seen.add(x)
                if x == o:
                    continue
                polls[status] += 1
                what = "left" if status == "DEAD" and left else status.lower()
                if status != "ACTIVE" and not justified(o, x, t, what):
                    false_poll[what].append((t - t0, o, x))
            for x in range(1, n + 1):
                if x != o and x not in seen:
                    polls["absent"] += 1
                    if not justified(o, x, t, "absent"):
                        false_poll["absent"].append((t - t0, o, x))

    # ---- memory and fds per process ----
    samples = collections.defaultdict(list)
    rej_obs = {}
    for rec in obs:
        for si, r in rec["n"].items():
            pid = r.get("pid")
            if pid is None:
                continue
            if r.get("rss") is not None:
                samples[pid].append((rec["t"], r["rss"], r.get("fds")))
            if "rej" in r:
                rej_obs[(int(si), pid)] = r["rej"]
    warm = p["warmup_s"] * 1000
    rows = []
    for pid, (node, start, _end) in procs.items():
        s = [x for x in samples.get(pid, []) if x[0] >= start + warm]
        if not s:
            continue
        first, last = s[0], s[-1]
        fds = [x[2] for x in s if x[2] is not None]
        rows.append({"node": node, "pid": pid, "life_s": (last[0] - first[0]) / 1000, "first": first[1], "last": last[1],
                     "max": max(x[1] for x in s), "growth": last[1] - first[1],
                     "fd_first": fds[0] if fds else None, "fd_last": fds[-1] if fds else None,
                     "fd_max": max(fds) if fds else None})
    checked = [r for r in rows if r["life_s"] >= p["rss_min_life_s"]]
    bound = lambda r: max(p["rss_bound_kib"], r["first"] * p["rss_bound_pct"] / 100)
    worst = max(checked, key=lambda r: r["growth"] - bound(r), default=None)
    rss_ok = bool(checked) and all(r["growth"] <= bound(r) for r in checked)
    fd_checked = [r for r in checked if r["fd_first"] is not None]
    fd_worst = max(fd_checked, key=lambda r: r["fd_last"] - r["fd_first"], default=None)
    fd_ok = bool(fd_checked) and all(r["fd_last"] - r["fd_first"] <= 8 for r in fd_checked)

    # ---- garbage: rejections of every process, from its last scrape ----
    rej = dict(rej_obs)
    for path in glob.glob(os.path.join(run, "metrics", "*.prom")):
        node, pid = map(int, re.search(r"(\d+)-(\d+)\.prom$", path).group(1, 2))
        got = {}
        for line in open(path, errors="replace"):
            m = PROM.match(line.strip())
            if m:
                got[m.group(1)] = int(m.group(2))
        if got or (node, pid) not in rej:
            old = rej.get((node, pid), {})
            rej[(node, pid)] = {k: max(got.get(k, 0), old.get(k, 0)) for k in set(got) | set(old)}
    by_reason = collections.Counter()
    for counts in rej.values():
        by_reason.update(counts)
    legit_reasons = {"stale", "replayed", "rate_limited_member"}
    garbage_rejected = sum(v for k, v in by_reason.items() if k not in legit_reasons)
    sent = sum(garbage["sent"].values())
    # What the decoders should have seen: datagrams within 508 bytes (spored's socket drops larger
    # ones unread, outside these counters), to every node (broadcast) or one (unicast), less the
    # loss, times the fraction of the soak the nodes were running.
    up_ms = sum(max(0, min(e, t_final) - max(s, t0)) for _, s, e in procs.values())
    uptime = up_ms / (n * (t_final - t0)) if t0 and t_final and t_final > t0 else 0.0
    bcast = garbage["broadcast"] - garbage.get("oversize_broadcast", 0)
    uni = garbage["unicast"] - garbage.get("oversize_unicast", 0)
    oversize = garbage.get("oversize_broadcast", 0) + garbage.get("oversize_unicast", 0)
    deliveries = (bcast * n + uni) * (1 - p["loss_pct"] / 100) * uptime
    garbage_ratio = garbage_rejected / deliveries if deliveries else 0.0
    garbage_ok = sent > 0 and GARBAGE_RATIO[0] <= garbage_ratio <= GARBAGE_RATIO[1]

    # ---- verdicts ----
    crash_events = sum(1 for e in events if e[1] == "crash")
    hangs = sum(1 for e in events if e[1] == "hang")
    crashes = crash_events + p["cores"] + p["fatal_log_lines"] + hangs
    false_dead_log = len(false_log["dead"]) + len(false_log["left"])
    false_dead_poll = len(false_poll["dead"]) + len(false_poll["left"])
    anomalies = len(false_poll["stranger"]) + len(false_poll["duplicate"]) + len(false_poll["absent"])
    verdicts = [
        ("crashes", crashes == 0,
         f"{crashes} (nodes that exited by themselves {crash_events}, core dumps {p['cores']}, fatal log lines "
         f"{p['fatal_log_lines']}, SIGTERMs not obeyed within 15 s {hangs})"),
        ("false DEAD", false_dead_log == 0 and false_dead_poll == 0,
         f"{false_dead_log} logged status changes (dead or left; {changes['dead']} dead and {changes['left']} left logged "
         f"in all), {false_dead_poll} member-list observations (of {polls['DEAD']:,} DEAD seen)"),
        ("membership anomalies", anomalies == 0,
         f"{anomalies} (strangers {len(false_poll['stranger'])}, duplicates {len(false_poll['duplicate'])}, unexplained "
         f"absences {len(false_poll['absent'])}) in {polls['lists']:,} member lists"),
        ("memory flat", rss_ok,
         (f"worst VmRSS growth {worst['growth']:+,} KiB (node {worst['node']}, {worst['first']:,} -> {worst['last']:,} KiB "
          f"over {worst['life_s']:.0f} s; bound {bound(worst):,.0f} KiB) among {len(checked)} processes observed >= "
          f"{p['rss_min_life_s']} s after warm-up" if worst else "no process observed long enough")),
        ("fds flat", fd_ok,
         (f"worst open-fd growth {fd_worst['fd_last'] - fd_worst['fd_first']:+d} (node {fd_worst['node']}, "
          f"{fd_worst['fd_first']} -> {fd_worst['fd_last']}; bound +8)" if fd_worst else "no fd samples")),
        ("garbage refused", garbage_ok,
         f"{sent:,} garbage datagrams sent ({garbage['broadcast']:,} broadcast, {garbage['unicast']:,} unicast; "
         f"{oversize:,} of them over 508 bytes, dropped unread by the socket and not counted below); "
         f"{garbage_rejected:,} refused by the decoders = {garbage_ratio:.3f} x the {deliveries:,.0f} expected "
         f"(within 508 bytes, x nodes for broadcasts, x {1 - p['loss_pct'] / 100:g} for loss, x {uptime:.3f} node uptime); "
         f"bound {GARBAGE_RATIO[0]}..{GARBAGE_RATIO[1]}"),
        ("ACTIVE everywhere at the end", p["converged"],
         f"all {n} nodes list all {n} ACTIVE within {p['final_wait_s']} s after the run" if p["converged"]
         else f"not all {n} nodes listed all {n} ACTIVE within {p['final_wait_s']} s after the run"),
    ]
    ok = all(v[1] for v in verdicts)
    false_inactive_log = len(false_log["inactive"])
    false_inactive_poll = len(false_poll["inactive"])

    # ---- markdown ----
    md = []
    md.append(f"Run of {p['date']} (spored {p['rev']}, release build, binary sha256 {p.get('spored_sha256', '?')}...), "
              f"{p['cpus']} CPUs shared with other work "
              f"(load average {p['load_start']} at the start, {p['load_end']} at the end):")
    md.append("")
    md.append("```")
    md.append(p["cmd"])
    md.append("```")
    md.append("")
    md.append(f"{n} nodes, profile `{p['profile']}` (INACTIVE after {p['inactive_ms'] / 1000:g} s, DEAD after "
              f"{p['dead_ms'] / 1000:g} s), {p['loss_pct']} % of UDP datagrams dropped at every receiver, "
              f"{p['duration_s'] / 60:g} minutes, churn seed {p['seed']}; member lists, metrics, VmRSS and fds of every "
              f"node read every {p['interval_s']:g} s ({len(obs)} rounds); status changes from every node's log.")
    md.append("")
    md.append("| verdict | result | |")
    md.append("| --- | --- | --- |")
    for name, good, text in verdicts:
        md.append(f"| {name} | {text} | {'pass' if good else '**FAIL**'} |")
    md.append(f"| false INACTIVE (reported, no verdict) | {false_inactive_log} logged inactive changes "
              f"(of {changes['inactive']:,}), {false_inactive_poll} member-list observations (of {polls['INACTIVE']:,} INACTIVE seen) "
              f"without a disturbance to explain them | - |")
    md.append("")
    md.append("| churn | count | duration min / median / max, s |")
    md.append("| --- | ---: | --- |")
    md.append(f"| SIGKILL, restart after | {len(churn['kill'])} | {spread(churn['kill'])} |")
    md.append(f"| SIGTERM (LEAVE), restart after | {len(churn['term'])} | {spread(churn['term'])} |")
    sizes = collections.Counter(churn["part_size"])
    md.append(f"| partition of {', '.join(f'{k} node' + ('s' if k > 1 else '') + f' x{v}' for k, v in sorted(sizes.items())) or '-'} "
              f"from the rest, healed after | {len(churn['part'])} | {spread(churn['part'])} |")
    md.append(f"| crash (exited by itself), restarted | {len(churn['crash'])} | {spread(churn['crash'])} |")
    md.append("")
    md.append("Status changes logged by all nodes during the run: " +
              ", ".join(f"{k} {changes[k]}" for k in ("inactive", "dead", "left", "restarted", "recovered")) + ".")
    md.append("")
    md.append(f"Memory per node (VmRSS, KiB; the node's longest-lived process, samples from {p['warmup_s']} s after its "
              f"start; flat = growth <= max({p['rss_bound_kib']} KiB, {p['rss_bound_pct']} % of the first sample), checked "
              f"for processes observed >= {p['rss_min_life_s']} s):")
    md.append("")
    md.append("| node | processes | observed, s | first | last | max | growth | open fds first / last / max |")
    md.append("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    for node in range(1, n + 1):
        mine = [r for r in rows if r["node"] == node]
        nprocs = sum(1 for v in procs.values() if v[0] == node)
        if not mine:
            md.append(f"| {node} | {nprocs} | - | - | - | - | - | - |")
            continue
        r = max(mine, key=lambda r: r["life_s"])
        md.append(f"| {node} | {nprocs} | {r['life_s']:.0f} | {r['first']:,} | {r['last']:,} | {r['max']:,} | "
                  f"{r['growth']:+,} | {r['fd_first']} / {r['fd_last']} / {r['fd_max']} |")
    md.append("")
    md.append(f"Garbage ({p['garbage_rate']:g} datagrams/s from the hub namespace, {p['garbage_broadcast_pct']:g} % broadcast):")
    md.append("")
    md.append("| kind sent | datagrams | built to be refused as |")
    md.append("| --- | ---: | --- |")
    for k, v in sorted(garbage["sent"].items(), key=lambda kv: -kv[1]):
        md.append(f"| {k} | {v:,} | {GARBAGE_REASONS.get(k, '')} |")
    md.append("")
    md.append("| `spore_datagrams_rejected_total` reason, summed over nodes | count |")
    md.append("| --- | ---: |")
    for k, v in sorted(by_reason.items(), key=lambda kv: -kv[1]):
        md.append(f"| `{k}`{' (peer traffic, not garbage)' if k in legit_reasons else ''} | {v:,} |")
    md.append("")
    md.append(f"**{'Every verdict holds.' if ok else 'A verdict FAILED.'}**")
    examples = {k: v[:5] for k, v in list(false_log.items()) + [("poll_" + k, v) for k, v in false_poll.items()] if v}
    if examples:
        md.append("")
        md.append("First unexplained observations (seconds into the soak, observer, member): " +
                  "; ".join(f"{k}: " + ", ".join(f"{t / 1000:.0f} s n{o}->n{x}" for t, o, x in v[:5]) for k, v in examples.items()))
    open(out_md, "w").write("\n".join(md) + "\n")
    json.dump({"params": p, "ok": ok, "verdicts": [{"name": a, "ok": b, "text": c} for a, b, c in verdicts],
               "false_inactive": {"log": false_inactive_log, "poll": false_inactive_poll},
               "changes": changes, "polls": polls, "churn": {k: v for k, v in churn.items()},
               "processes": rows, "garbage": garbage, "rejected": by_reason,
               "unexplained": {k: v[:50] for k, v in list(false_log.items()) + [("poll_" + k, v) for k, v in false_poll.items()]}},
              open(out_json, "w"), indent=1, default=str)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
