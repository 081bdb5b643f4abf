#!/usr/bin/python3
"""Counts what bench/hmac_cost/harness.cpp's cases executed, from QEMU's one-instruction trace.

Usage: count.py ELF TRACE CASES OUT_MD OUT_TXT [TOOL_PREFIX]

ELF is the harness, TRACE QEMU's `-singlestep -d exec,nochain` log (one "Trace" line per executed
instruction, its guest PC second in the brackets), CASES the harness's output ("case N LABEL SIZE"
lines, then "ok"). Each case ran twice between spore_bench_begin() and spore_bench_end(); a case's
count is the trace lines from the entry of the first marker to the entry of the second, less case
0's (which measures nothing, so the markers' own instructions cancel). Both runs must agree.
Writes OUT_MD (the Markdown of docs/benchmarks.md's section) and OUT_TXT (key=value).
"""
import bisect
import collections
import re
import subprocess
import sys

FREQS_MHZ = (80, 160)
# The ESP8266 Arduino core queues at most 5 datagrams (platform/esp8266/udp.h), so one loop pass
# tag-checks at most 5 whatever SPORE_UDP_DATAGRAMS_PER_PASS allows.
DATAGRAMS_PER_PASS_ESP = 5
FLOOD_RATES = (50, 100, 500, 1000)
LOADS = {"l32i", "l32i.n", "l32r", "l8ui", "l16ui", "l16si"}
STORES = {"s32i", "s32i.n", "s8i", "s16i"}


def die(msg):
    sys.exit(f"hmac_cost: {msg}")


def symbols(elf, prefix):
    """Function symbols: sorted (start, size, name)."""
    out = subprocess.run([prefix + "nm", "-S", "--defined-only", elf], check=True, capture_output=True, text=True)
    syms = []
    for line in out.stdout.splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[2] in "tTwW":
            syms.append((int(parts[0], 16), int(parts[1], 16), parts[3]))
    return sorted(syms)


def disassembly(elf, prefix):
    """PC -> (mnemonic, size in bytes) for every instruction of the ELF."""
    out = subprocess.run([prefix + "objdump", "-d", elf], check=True, capture_output=True, text=True)
    insns = {}
    for m in re.finditer(r"^\s*([0-9a-f]{8}):\s+([0-9a-f]+)\s+(\S+)", out.stdout, re.M):
        insns[int(m.group(1), 16)] = (m.group(3), len(m.group(2)) // 2)
    return insns


def read_trace(path):
    pc_re = re.compile(r"^Trace \d+: \S+ \[[0-9a-f]+/([0-9a-f]+)/")
    with open(path, encoding="ascii", errors="replace") as f:
        return [int(m.group(1), 16) for m in map(pc_re.match, f) if m]


def read_cases(path):
    cases, ok = [], False
    for line in open(path, encoding="ascii", errors="replace"):
        parts = line.split()
        if parts[:1] == ["case"] and len(parts) == 4:
            cases.append((parts[2], int(parts[3])))
        elif parts == ["ok"]:
            ok = True
        elif parts[:1] == ["FAIL"]:
            die("the harness failed: " + line.strip())
    if not ok or not cases or cases[0][0] != "baseline":
        die(f"{path}: the harness did not finish (no baseline case or no final 'ok')")
    return cases


def sha256_blocks(signed_bytes):
    """Compression calls of one HMAC-SHA256 with precomputed pads: the inner hash over the data
    plus its padding (9 bytes at least), then the outer hash over 32 bytes (one block)."""
    return (signed_bytes + 9 + 63) // 64 + 1


def main():
    if len(sys.argv) not in (6, 7):
        die("usage: count.py ELF TRACE CASES OUT_MD OUT_TXT [TOOL_PREFIX]")
    elf, trace_path, cases_path, out_md, out_txt = sys.argv[1:6]
    prefix = sys.argv[6] if len(sys.argv) == 7 else "xtensa-lx106-elf-"
    syms = symbols(elf, prefix)
    by_name = {name: start for start, _, name in syms}
    for marker in ("spore_bench_begin", "spore_bench_end", "br_sha2small_round"):
        if marker not in by_name:
            die(f"{elf} has no symbol {marker}")
    starts = [s for s, _, _ in syms]

    def function_of(pc):
        i = bisect.bisect_right(starts, pc) - 1
        return syms[i][2] if i >= 0 and pc < syms[i][0] + max(syms[i][1], 1) else "?"

    pcs = read_trace(trace_path)
    cases = read_cases(cases_path)
    begins = [i for i, pc in enumerate(pcs) if pc == by_name["spore_bench_begin"]]
    ends = [i for i, pc in enumerate(pcs) if pc == by_name["spore_bench_end"]]
    if len(begins) != 2 * len(cases) or len(ends) != len(begins):
        die(f"trace has {len(begins)} begin and {len(ends)} end markers for {len(cases)} cases x 2 runs")
    spans = list(zip(begins, ends))
    raw = [e - b for b, e in spans]
    for n in range(len(cases)):
        if raw[2 * n] != raw[2 * n + 1]:
            die(f"case {n} ({cases[n][0]}): the two runs executed {raw[2 * n]} and {raw[2 * n + 1]} instructions")
    baseline = raw[0]
    counts = {(label, size): raw[2 * n] - baseline for n, (label, size) in enumerate(cases) if n > 0}

    # The compression function: instructions per call and how often each of its instructions ran
    # in one call (its two loops show as the counts 48 and 8), against its objdump listing.
    insns = disassembly(elf, prefix)
    round_start = by_name["br_sha2small_round"]
    round_size = next(size for start, size, name in syms if name == "br_sha2small_round")
    round_listing = sorted(pc for pc in insns if round_start <= pc < round_start + round_size)
    first_b, first_e = spans[2]  # case 1, first run: the smallest forged datagram
    calls = [i for i in range(first_b, first_e) if pcs[i] == round_start]
    if len(calls) < 2:
        die("the smallest forged datagram did not call br_sha2small_round twice")
    # Its own instructions from one entry to the next (callees such as br_range_dec32be lie outside).
    per_pc = collections.Counter(pc for pc in pcs[calls[0]:calls[1]] if round_start <= pc < round_start + round_size)
    round_dynamic = sum(per_pc.values())
    histogram = collections.Counter(per_pc.values())
    never = len(round_listing) - len(per_pc)

    # Where the largest forged datagram's instructions go, and its instruction mix.
    big = max(size for label, size in counts if label == "decode_forged")
    n_big = next(n for n, c in enumerate(cases) if c == ("decode_forged", big))
    b, e = spans[2 * n_big]
    window = pcs[b:e]
    per_function = collections.Counter(function_of(pc) for pc in window)
    loads = sum(1 for pc in window if insns.get(pc, ("?", 0))[0] in LOADS)
    stores = sum(1 for pc in window if insns.get(pc, ("?", 0))[0] in STORES)
    taken = sum(1 for a, c in zip(window, window[1:]) if c != a + insns.get(a, ("?", 0))[1])
    touched = sorted({function_of(pc) for pc in window} - {"?", "spore_bench_begin", "spore_bench_end"})
    touched_bytes = sum(size for _, size, name in syms if name in touched)

    md = []
    md.append("| datagram bytes | SHA-256 blocks | forged: `decode()` to bad_tag | `hmac_sha256()` alone | "
              "µs at 80 MHz | µs at 160 MHz |")
    md.append("| ---: | ---: | ---: | ---: | ---: | ---: |")
    for label, size in cases[1:]:
        if label != "decode_forged":
            continue
        n = counts[(label, size)]
        md.append(f"| {size} | {sha256_blocks(size - 16)} | {n:,} | {counts[('hmac_sha256', size)]:,} | "
                  f"{n / 80:,.0f} | {n / 160:,.0f} |")
    md.append("")
    md.append("| valid GOSSIP, bytes (entries) | `decode()` instructions, tag and body | µs at 80 MHz |")
    md.append("| ---: | ---: | ---: |")
    for label, size in cases[1:]:
        if label == "decode_valid":
            n = counts[(label, size)]
            md.append(f"| {size} ({(size - 40) // 17}) | {n:,} | {n / 80:,.0f} |")
    md.append("")
    md.append(f"Forged {big}-byte datagrams per second against the CPU share their tag checks take "
              "(at 1 instruction per cycle, a lower bound, and at 2 cycles per instruction):")
    md.append("")
    md.append("| forged datagrams/s | " + " | ".join(f"{f} MHz | {f} MHz, 2 cycles/instruction" for f in FREQS_MHZ) + " |")
    md.append("| ---: | " + " | ".join("---: | ---:" for _ in FREQS_MHZ) + " |")
    worst = counts[("decode_forged", big)]
    for rate in FLOOD_RATES:
        cells = []
        for f in FREQS_MHZ:
            share = rate * worst / (f * 1e6)
            cells += [f"{100 * share:.1f} %", f"{200 * share:.1f} %"]
        md.append(f"| {rate:,} | " + " | ".join(cells) + " |")
    md.append("| whole CPU | " + " | ".join(f"{f * 1e6 / worst:,.0f} | {f * 1e6 / worst / 2:,.0f}"
                                            for f in FREQS_MHZ) + " |")
    md.append("")
    top = ", ".join(f"{name} {cnt:,}" for name, cnt in per_function.most_common(6))
    md.append(f"Where the {big}-byte forged datagram's {e - b:,} traced instructions go (markers included): {top}. "
              f"Mix: {loads:,} loads, {stores:,} stores, {taken:,} taken branches, jumps, calls and returns. "
              f"Code it runs: {len(touched)} functions, {touched_bytes:,} bytes.")
    md.append("")
    classes = ", ".join(f"{cnt} x {times}" for times, cnt in sorted(histogram.items(), key=lambda t: -t[0]))
    md.append(f"`br_sha2small_round` (one SHA-256 compression): {round_dynamic:,} instructions per call; its "
              f"objdump listing has {len(round_listing)} instructions, of which per call ran (instructions x times): "
              f"{classes}; {never} never.")
    open(out_md, "w", encoding="utf-8").write("\n".join(md) + "\n")

    with open(out_txt, "w", encoding="utf-8") as f:
        f.write(f"baseline_instructions={baseline}\n")
        for (label, size), n in counts.items():
            f.write(f"{label}_{size}_instructions={n}\n")
        f.write(f"sha2small_round_instructions={round_dynamic}\n")
        f.write(f"forged_{big}_loads={loads}\nforged_{big}_stores={stores}\nforged_{big}_taken_transfers={taken}\n")
        f.write(f"forged_{big}_code_bytes={touched_bytes}\n")
        pass_instr = DATAGRAMS_PER_PASS_ESP * worst
        for freq in FREQS_MHZ:
            f.write(f"loop_pass_{DATAGRAMS_PER_PASS_ESP}x{big}_us_at_{freq}mhz={pass_instr / freq:.0f}\n")
    sys.stdout.write("\n".join(md) + "\n")


if __name__ == "__main__":
    main()
