#!/usr/bin/env bash
# Assemble the Arduino IDE library package of SPORE.
#
# Usage: tools/arduino-package.sh [--out DIR] [--no-zip]      (./ctl.sh package runs it)
#
# The Arduino IDE / arduino-cli compile a library's src/ tree only (recursively, with src/ on the
# include path), so the IDE package is assembled from this repository rather than shipped as is:
#
#   DIR/SPORE/library.properties   this repository's, checked against the library specification
#   DIR/SPORE/src/SPORE.h          generated umbrella header (see below)
#   DIR/SPORE/src/spore/<module>/  = core/spore/<module>/*.h|*.cpp ("spore/<module>/x.h" resolves from src/)
#   DIR/SPORE/src/spore/hal.h      = core/spore/*.h (the list of ports)
#   DIR/SPORE/src/esp8266/         = platform/esp8266/*.h|*.cpp   ("esp8266/x.h" likewise)
#   DIR/SPORE/examples/            = examples/ (each sketch gets #include <SPORE.h>, see below)
#   DIR/SPORE/README.md            this repository's README.md
#   DIR/SPORE-<version>.zip        the same folder zipped (Sketch > Include Library > Add .ZIP Library)
#
# Why SPORE.h: arduino-cli picks the library for a missing #include by the header's name among the
# headers directly in each library's src/ (librariesresolver.ScanLibrary / Library.SourceHeaders,
# not recursive), so "esp8266/node.h" alone never selects SPORE. A sketch includes <SPORE.h> first
# (library.properties `includes=SPORE.h`); src/ is then on the include path and "esp8266/node.h"
# resolves. Sketches in examples/ that lack the line get it inserted in the package copy.
#
# Checks (exit 1 on failure): the required library.properties fields (name, version, author,
# maintainer, sentence, paragraph, category, url, architectures) and their formats, version equal
# to library.json's, architectures covering esp8266, `includes` files present, and every quoted
# #include (and every <spore/...> / <esp8266/...> one) in src/ and examples/ resolving inside the
# package. Exit 2 on a bad command line. Needs bash, python3 (json, zipfile); no network.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="$ROOT/build/arduino"
ZIP=1

usage() { sed -n '2,30p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }
die() { printf 'arduino-package: %s\n' "$*" >&2; exit 1; }
usage_die() { printf 'arduino-package: %s (--help for usage)\n' "$*" >&2; exit 2; }

while [ $# -gt 0 ]; do
  case "$1" in
    -h | --help) usage; exit 0 ;;
    --out)
      if [ $# -lt 2 ] || [ -z "$2" ]; then usage_die "--out needs a directory"; fi
      OUT="$2"; shift 2 ;;
    --out=*) OUT="${1#--out=}"; [ -n "$OUT" ] || usage_die "--out needs a directory"; shift ;;
    --no-zip) ZIP=0; shift ;;
    *) usage_die "unknown argument '$1'" ;;
  esac
done
command -v python3 >/dev/null || die "python3 is required (./ctl.sh deps installs it)"
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"

# ---- library.properties ----------------------------------------------------------------------
PROPS="$ROOT/library.properties"
[ -f "$PROPS" ] || die "no library.properties at the repository root"
declare -A P=()
while IFS= read -r line || [ -n "$line" ]; do
  line="${line%$'\r'}"
  [[ -z "${line//[[:space:]]/}" || "$line" =~ ^[[:space:]]*# ]] && continue
  [[ "$line" == *=* ]] || die "library.properties: not a key=value line: $line"
  P["${line%%=*}"]="${line#*=}"
done <"$PROPS"

problems=()
for key in name version author maintainer sentence paragraph category url architectures; do
  [ -n "${P[$key]:-}" ] || problems+=("missing or empty field '$key'")
done
name="${P[name]:-}"
version="${P[version]:-}"
# The specification's name rule (letters, digits, space, _ . -; a letter first, or digits then a
# letter; at most 63 characters).
if [ -n "$name" ]; then
  [[ "$name" =~ ^([a-zA-Z][a-zA-Z0-9\ _.-]*|[0-9][a-zA-Z0-9\ _.-]*[a-zA-Z][a-zA-Z0-9\ _.-]*)$ ]] &&
    [ "${#name}" -le 63 ] || problems+=("name '$name' breaks the specification's name rule")
  [[ "$name" =~ ^[Aa][Rr][Dd][Uu][Ii][Nn][Oo] ]] && problems+=("name must not start with 'Arduino'")
fi
if [ -n "$version" ]; then
  [[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$ ]] ||
    problems+=("version '$version' is not semver (MAJOR.MINOR.PATCH)")
  json_version="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["version"])' "$ROOT/library.json")"
  [ "$json_version" = "$version" ] ||
    problems+=("version $version differs from library.json's $json_version")
fi
case "${P[category]:-}" in
  "" | Display | Communication | "Signal Input/Output" | Sensors | "Device Control" | Timing | \
    "Data Storage" | "Data Processing" | Other) ;;
  *) problems+=("category '${P[category]}' is not one of the specification's categories") ;;
esac
[ -z "${P[url]:-}" ] || [[ "${P[url]}" =~ ^https?:// ]] || problems+=("url must be an http(s) URL")
if [ -n "${P[architectures]:-}" ]; then
  arch_ok=0
  IFS=',' read -r -a archs <<<"${P[architectures]}"
  for a in "${archs[@]}"; do
    a="${a//[[:space:]]/}"
    [ "$a" = esp8266 ] || [ "$a" = '*' ] && arch_ok=1
  done
  [ "$arch_ok" -eq 1 ] || problems+=("architectures '${P[architectures]}' does not cover esp8266")
fi
# depends: comma-separated library names, each optionally followed by a (version constraint).
if [ -n "${P[depends]:-}" ]; then
  IFS=',' read -r -a deps <<<"${P[depends]}"
  for d in "${deps[@]}"; do
    d="$(sed -E 's/^[[:space:]]+|[[:space:]]+$//g' <<<"$d")"
    [[ "$d" =~ ^[A-Za-z0-9]([A-Za-z0-9\ _.-]*[A-Za-z0-9._-])?([[:space:]]*\([^()]*[0-9][^()]*\))?$ ]] ||
      problems+=("depends entry '$d' is not 'Name' or 'Name (constraint)', e.g. 'Name (>=1.2.0 && <2.0.0)'")
  done
fi
for msg in "${problems[@]+"${problems[@]}"}"; do echo "arduino-package: library.properties: $msg" >&2; done
[ ${#problems[@]} -eq 0 ] || die "library.properties has ${#problems[@]} problem(s); fix them and run again"
[[ "${P[url]}" == *.invalid* ]] &&
  echo "arduino-package: note: url=${P[url]} is a placeholder; set the project's real URL before publishing" >&2

# ---- assemble ----------------------------------------------------------------------------------
PKG="$OUT/$name"
rm -rf "$PKG"
mkdir -p "$PKG/src/spore" "$PKG/src/esp8266" "$PKG/examples"
shopt -s nullglob
core_files=("$ROOT"/core/spore/*/*.h "$ROOT"/core/spore/*/*.cpp)
esp_files=("$ROOT"/platform/esp8266/*.h "$ROOT"/platform/esp8266/*.cpp)
[ ${#core_files[@]} -gt 0 ] || die "no sources in core/spore"
[ ${#esp_files[@]} -gt 0 ] || die "no sources in platform/esp8266"
# Core's module folders stay folders: "spore/<module>/x.h" resolves from src/ (the Arduino IDE
# compiles src/ recursively, library specification 1.5).
for f in "${core_files[@]}"; do
  module="$(basename "$(dirname "$f")")"
  mkdir -p "$PKG/src/spore/$module"
  cp "$f" "$PKG/src/spore/$module/"
done
# Headers at the top of core/spore (hal.h, the list of ports) stay there: "spore/hal.h".
top_files=("$ROOT"/core/spore/*.h)
[ ${#top_files[@]} -eq 0 ] || cp "${top_files[@]}" "$PKG/src/spore/"
cp "${esp_files[@]}" "$PKG/src/esp8266/"
cp "$PROPS" "$PKG/library.properties"
cp "$ROOT/README.md" "$PKG/README.md"
[ -f "$ROOT/LICENSE" ] && cp "$ROOT/LICENSE" "$PKG/LICENSE"
cat >"$PKG/src/SPORE.h" <<'EOF'
// SPORE for the Arduino IDE: include this first in a sketch. It selects the library for the IDE's
// library discovery (which matches headers directly in src/) and brings in the ESP8266 node.
// Generated by tools/arduino-package.sh; PlatformIO projects include "esp8266/node.h" directly.
#pragma once
#include "esp8266/node.h"
EOF

for ex in "$ROOT"/examples/*/; do
  exname="$(basename "$ex")"
  cp -r "$ex" "$PKG/examples/$exname"
  for ino in "$PKG/examples/$exname"/*.ino; do
    grep -Eq '^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"]SPORE\.h[>"]' "$ino" && continue
    # Before the first SPORE include (or at the top when there is none).
    python3 - "$ino" <<'PY'
import re, sys
path = sys.argv[1]
lines = open(path, encoding="utf-8").read().splitlines(keepends=True)
pat = re.compile(r'^\s*#\s*include\s*[<"](spore|esp8266)/')
at = next((i for i, l in enumerate(lines) if pat.match(l)), 0)
lines.insert(at, "#include <SPORE.h>  // added by tools/arduino-package.sh: selects the library in the Arduino IDE\n")
open(path, "w", encoding="utf-8").write("".join(lines))
PY
  done
done

# ---- check: includes resolve inside the package ------------------------------------------------
for inc in ${P[includes]//,/ }; do
  [ -f "$PKG/src/$inc" ] || die "library.properties includes=$inc, which is not in the package's src/"
done
python3 - "$PKG" <<'PY' || die "the package's includes do not resolve (listed above)"
import os, re, sys
pkg = sys.argv[1]
src = os.path.join(pkg, "src")
inc_re = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]')
bad, checked = [], 0
for top in (src, os.path.join(pkg, "examples")):
    for d, _, files in os.walk(top):
        for f in files:
            if not f.endswith((".h", ".hpp", ".cpp", ".c", ".ino")):
                continue
            path = os.path.join(d, f)
            for n, line in enumerate(open(path, encoding="utf-8", errors="replace"), 1):
                m = inc_re.match(line)
                if not m:
                    continue
                kind, name = m.groups()
                ours = name.startswith(("spore/", "esp8266/")) or name == "SPORE.h"
                if kind == "<" and not ours:
                    continue  # the ESP8266 core's or another library's header
                checked += 1
                cands = [os.path.join(src, name)]
                if kind == '"':
                    cands.insert(0, os.path.join(d, name))
                if not any(os.path.isfile(c) for c in cands):
                    if kind == '"' and not ours and "/" not in name:
                        # a quoted include of another library's header (e.g. "ESPAsyncWebServer.h")
                        continue
                    bad.append(f"{os.path.relpath(path, pkg)}:{n}: #include {kind}{name} not found in the package")
for b in bad:
    print("arduino-package: " + b, file=sys.stderr)
print(f"arduino-package: {checked} SPORE includes checked, {len(bad)} unresolved", file=sys.stderr)
sys.exit(1 if bad else 0)
PY

echo "package: $PKG ($(find "$PKG/src" -type f | wc -l) source files, $(find "$PKG/examples" -name '*.ino' | wc -l) examples)"

if [ "$ZIP" -eq 1 ]; then
  zipf="$OUT/$name-$version.zip"
  rm -f "$zipf"
  # Stable order and timestamps, the folder at the top of the archive as the IDE expects.
  python3 - "$OUT" "$name" "$zipf" <<'PY'
import os, sys, zipfile
out, name, zipf = sys.argv[1:]
with zipfile.ZipFile(zipf, "w", zipfile.ZIP_DEFLATED) as z:
    for d, dirs, files in os.walk(os.path.join(out, name)):
        dirs.sort()
        for f in sorted(files):
            path = os.path.join(d, f)
            info = zipfile.ZipInfo(os.path.relpath(path, out), date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            with open(path, "rb") as fh:
                z.writestr(info, fh.read())
PY
  echo "zip:     $zipf ($(wc -c <"$zipf") bytes)"
fi
