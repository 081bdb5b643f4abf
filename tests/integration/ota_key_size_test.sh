#!/usr/bin/env bash
# RSA OTA keys under 2048 bits are refused (issue 18, finding 10): spored given a 512- or 1024-bit
# public key exits 2 at start with a sentence naming the file and the key's size (before, a 512-bit
# key was taken without a word), `spore sign` refuses such a private key, `spore keygen` no longer
# makes one; a 2048-bit key still works for both.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/ota_lib.sh"
it_init 223 60

for bits in 512 1024; do
  d="$IT_TMP/k$bits"
  mkdir -p "$d"
  openssl genrsa -out "$d/private.key" "$bits" 2>/dev/null || it_fail "openssl genrsa $bits failed"
  openssl rsa -in "$d/private.key" -pubout -out "$d/public.key" 2>/dev/null || it_fail "openssl rsa -pubout failed"
  rc=0
  spored_command prefix="timeout 20" bin="$SPORED" bind="$(it_ip 1)" http_port="$IT_HTTP_PORT" udp_port="$IT_UDP_PORT" \
    state_dir="$IT_TMP/state-$bits" key_file="$d/public.key"
  out="$("${SPAWN_CMD[@]}" 2>&1)" || rc=$?
  [ "$rc" -eq 2 ] || it_fail "spored with a $bits-bit key exited $rc, expected 2: $out"
  grep -q -- "$d/public.key" <<<"$out" && grep -q "RSA key of $bits bits; at least 2048" <<<"$out" ||
    it_fail "spored with a $bits-bit key said: $out"
  log "spored, $bits-bit key: exit 2: $out"
  rc=0
  out="$("$SPORE" sign "$SPORED" --key "$d/private.key" --out "$IT_TMP/signed-$bits" 2>&1)" || rc=$?
  [ "$rc" -eq 1 ] && grep -q "RSA key of $bits bits; at least 2048" <<<"$out" ||
    it_fail "spore sign with a $bits-bit key exited $rc: $out"
  [ ! -e "$IT_TMP/signed-$bits" ] || it_fail "spore sign wrote an image signed with a $bits-bit key"
  log "spore sign, $bits-bit key: exit 1: $out"
done
rc=0
out="$("$SPORE" keygen --out "$IT_TMP/k1024-cli" --bits 1024 2>&1)" || rc=$?
[ "$rc" -ne 0 ] && [ ! -e "$IT_TMP/k1024-cli/private.key" ] || it_fail "spore keygen --bits 1024 exited $rc: $out"

# RSA-2048 still works: sign, and a node starts with the public key.
make_keys "$IT_TMP/k2048"
"$SPORE" sign "$SPORED" --key "$IT_TMP/k2048/private.key" --out "$IT_TMP/signed-2048" >/dev/null 2>&1 ||
  it_fail "spore sign with a 2048-bit key failed"
start_node 1 --ota-public-key-file "$IT_TMP/k2048/public.key"
grep -q "updates: signed only" "$(node_log 1)" || it_fail "n1 does not take its 2048-bit key"
log "PASS"
