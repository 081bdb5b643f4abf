#!/usr/bin/python3
"""Writes `./ctl.sh firmware-link`'s output into docs/footprint.md: firmware-link-docs.py LOG.

LOG is the link's standard output, saved as it ran:

    ./ctl.sh firmware-link ARDUINO AWS ATCP NEWLIB MQTT | tee build/firmware-link/output.txt
    tools/firmware-link-docs.py build/firmware-link/output.txt

The text between `<!-- firmware-link:begin -->` and `<!-- firmware-link:end -->` becomes the
output (from its `env` table to `firmware-link: ok`) and the per-image table made from the same
lines, so the published figures are the script's, never copied by hand. The link must have
succeeded (exit 1 otherwise); the reading around the section stays hand-written.
"""
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: firmware-link-docs.py LOG (the saved output of ./ctl.sh firmware-link)")
    lines = open(sys.argv[1], encoding="utf-8").read().splitlines()
    start = next((i for i, l in enumerate(lines) if l.startswith("env ")), None)
    end = next((i for i, l in enumerate(lines) if l.startswith("firmware-link: ok")), None)
    if start is None or end is None or end < start:
        sys.exit(f"firmware-link-docs: {sys.argv[1]} is not the output of a successful ./ctl.sh firmware-link")
    block = "\n".join(lines[start : end + 1]).replace(ROOT + "/", "")
    rows = []
    for line in lines[start + 1 :]:
        fields = line.split()
        if len(fields) != 9 or not all(f.isdigit() for f in fields[1:]):
            break
        v = [f"{int(x):,}" for x in fields[1:]]
        rows.append(f"| `{fields[0]}` | **{v[0]}** | {' | '.join(v[1:7])} | **{v[7]}** |")
    table = ("| env | `.bin` | IROM (flash code) | IRAM code | DATA | RODATA | BSS | static DRAM | heap at boot |\n"
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n" + "\n".join(rows))
    section = os.path.join(ROOT, "build", "firmware-link", "docs-section.md")
    with open(section, "w", encoding="utf-8") as f:
        f.write("```\n" + block + "\n```\n\n" + table + "\n")
    subprocess.run([sys.executable, os.path.join(ROOT, "bench", "doc_section.py"),
                    os.path.join(ROOT, "docs", "footprint.md"), "firmware-link", section], check=True)


if __name__ == "__main__":
    main()
