#!/usr/bin/env bash
# clang-tidy (profile: .clang-tidy) over the given sources, or every core source when none are
# given, with the dev build's compile_commands.json (configured here if missing). Prints the
# findings, then one line per check with its count and the total of distinct findings (a header
# included by several sources is counted once). Exit 0 whatever it finds: advice, not a gate.
#
# Usage: tools/tidy.sh [file.cpp ...]        JOBS=N (default 2) runs N clang-tidy at once.
# Needs the Debian package clang-tidy (docs/style.md).
set -euo pipefail
cd "$(dirname "$0")/.."

command -v clang-tidy >/dev/null || { echo "tidy: clang-tidy not found (apt-get install clang-tidy)" >&2; exit 2; }
DB=build/dev
if [[ ! -f $DB/compile_commands.json ]]; then
  cmake --preset dev >/dev/null
fi
files=("$@")
if [[ ${#files[@]} -eq 0 ]]; then
  mapfile -t files < <(ls core/spore/*/*.cpp)
fi

out=$(mktemp)
trap 'rm -f "$out"' EXIT
printf '%s\n' "${files[@]}" |
  xargs -P "${JOBS:-2}" -n 1 clang-tidy -p "$DB" --quiet 2>/dev/null >"$out" || true
# One finding = one "file:line:col: warning: text [check]" line, once however often it repeats.
grep -E '^[^ ]+:[0-9]+:[0-9]+: (warning|error):' "$out" | sort -u >"$out.findings" || true
cat "$out.findings"
echo "---- findings per check"
sed -E 's/.*\[([^]]+)\]$/\1/' "$out.findings" | sort | uniq -c | sort -rn
echo "tidy: $(wc -l <"$out.findings") distinct findings in ${#files[@]} sources (and the headers they include)"
rm -f "$out.findings"
