#!/usr/bin/python3
"""Replaces one generated section of a Markdown document: doc_section.py DOC NAME FILE.

Everything between `<!-- NAME:begin -->` and `<!-- NAME:end -->` in DOC becomes FILE's text; the
rest of DOC (the hand-written reading around it) is kept. Both markers must be there, in order.
Used by the bench scripts' --update-docs (sim_sweep.sh, netns_bench.sh).
"""
import sys


def main():
    if len(sys.argv) != 4:
        sys.exit("usage: doc_section.py DOC NAME FILE")
    doc_path, name, section_path = sys.argv[1:]
    doc = open(doc_path, encoding="utf-8").read()
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    i, j = doc.find(begin), doc.find(end)
    if i < 0 or j < i:
        sys.exit(f"doc_section: {doc_path} lacks the markers {begin} ... {end}")
    section = open(section_path, encoding="utf-8").read().strip("\n")
    open(doc_path, "w", encoding="utf-8").write(doc[: i + len(begin)] + "\n" + section + "\n" + doc[j:])


if __name__ == "__main__":
    main()
