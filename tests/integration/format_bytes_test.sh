#!/usr/bin/env bash
# The one unit rule for people (docs/api.md, issue 21): the dashboard's formatBytes()
# (web/dashboard/app.js), run by node, prints what the CLI's format_bytes() prints for the same
# values (the table of tests/posix/spore_cli_test.cpp, CliFormat.BytesFollowTheOneUnitRule).
# No nodes are started. Needs node (./ctl.sh test installs it): skipped (77) without it, failed
# under CI (CI=true).
source "$(dirname "$0")/lib.sh"
it_init 310 30

if ! command -v node >/dev/null; then
  [ "${CI:-}" = true ] && it_fail "node is missing (./ctl.sh test installs it)"
  log "SKIPPED: node is not installed"
  exit 77
fi

# value<TAB>expected, one per line; the same cases as the C++ test.
cat >"$IT_TMP/cases.tsv" <<'CASES'
0	0 B
1023	1023 B
1024	1.0 KiB
1280	1.3 KiB
30208	29.5 KiB
40448	39.5 KiB
1048575	1024.0 KiB
1048576	1.0 MiB
3221225472	3.0 GiB
4294967295	4.0 GiB
25125558682	23.4 GiB
5497558138880	5.0 TiB
3377699720527872	3072.0 TiB
CASES

# The function is cut out of app.js by its own lines ("function formatBytes" to the next "}" at the
# line's start), so the page's other code (DOM, fetch) is not run.
node - "$IT_ROOT/web/dashboard/app.js" "$IT_TMP/cases.tsv" <<'JS' || it_fail "formatBytes differs from the CLI's rule (above)"
const fs = require('fs');
const src = fs.readFileSync(process.argv[2], 'utf8');
const m = src.match(/^function formatBytes\([\s\S]*?^}$/m);
if (!m) { console.error('no function formatBytes in app.js'); process.exit(1); }
const formatBytes = new Function(m[0] + '\nreturn formatBytes;')();
let bad = 0;
for (const line of fs.readFileSync(process.argv[3], 'utf8').trim().split('\n')) {
  const [value, want] = line.split('\t');
  const got = formatBytes(Number(value));
  if (got !== want) { console.error(`formatBytes(${value}) = "${got}", want "${want}"`); bad++; }
}
process.exit(bad ? 1 : 0);
JS
log "dashboard formatBytes() follows the one unit rule"
