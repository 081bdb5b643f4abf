#!/usr/bin/env bash
# The Python peers' wire module (tests/integration/spore_wire.py) speaks DIGEST as core does
# (docs/protocol.md §4.14): its self-test encodes the golden datagram of
# WireCodec.DigestLayoutIsAsDocumented, decodes and re-encodes what the C++ encoder wrote (the
# wire fuzz target's DIGEST seeds), and refuses every malformed body with the C++ decoder's reason.
# No nodes are started.
source "$(dirname "$0")/lib.sh"
it_init 380 30

out="$(python3 "$IT_ROOT/tests/integration/spore_wire.py" 2>&1)" || it_fail "spore_wire.py self-test: $out"
[ "$out" = "spore_wire self-test ok" ] || it_fail "unexpected self-test output: $out"
log "PASS: $out"
