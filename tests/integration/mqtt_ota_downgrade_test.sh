#!/usr/bin/env bash
# Downgrade protection over MQTT cmd/ota (issue 18, finding 7; docs/ota.md §2a, docs/mqtt.md): a
# Linux node with an OTA public key running 0.2.0 is sent a URL to a validly signed 0.0.9. The
# command is accepted (the download starts), the image is refused at its end: the node publishes
# ota_failed with error "downgrade" on <base>/events/ota_failed and keeps 0.2.0 — also with the
# third word `allow_downgrade` while the image is not marked by the OTA key's holder, and for an
# image marked with `spore sign --allow-downgrade` sent without that word. The marked image with
# `allow_downgrade` installs. Before issue 18 the first command installed the 0.0.9; before the
# ota-fix round `allow_downgrade` alone (a token holder's word) installed it.
source "$(dirname "$0")/lib.sh"
it_init 225
source "$(dirname "$0")/ota_lib.sh"
source "$(dirname "$0")/mqtt_lib.sh"
CLUSTER=it225

keys="$IT_TMP/keys"
make_keys "$keys"
printf 'token-dg\n' >"$IT_TMP/token"
chmod 600 "$IT_TMP/token"
mkdir -p "$IT_TMP/exe-1" "$IT_TMP/www"
patch_version "$SPORED" "$(exe_of 1)" 0.2.0
patch_version "$SPORED" "$IT_TMP/old" 0.0.9
sign_image "$keys/private.key" "$IT_TMP/old" "$IT_TMP/www/old.signed"
"$SPORE" sign "$IT_TMP/old" --key "$keys/private.key" --allow-downgrade --out "$IT_TMP/www/marked.signed" >/dev/null ||
  it_fail "spore sign --allow-downgrade failed"
head -c -260 "$IT_TMP/www/marked.signed" >"$IT_TMP/marked"  # the image part (RSA-2048 signature + length off)
start_ota_node 1 --ota-public-key-file "$keys/public.key" --api-token-file "$IT_TMP/token" \
  --mqtt "mqtt://127.0.0.1:$PORT" --mqtt-cluster "$CLUSTER" --mqtt-keepalive-s 5
wait_until "node 1 online on MQTT" 20 retained_is "$(base 1)/status" online
before="$(snapshot 1)"
read -r pid inc0 _ <<<"$before"

ota_image_server "$IT_TMP/www"
url="http://$WWW_IP:$WWW_PORT/old.signed"

failures() { grep -c "^$(base 1)/events/ota_failed " "$STREAM" || true; }
# refused_downgrade URL [allow_downgrade]: the command is accepted, the image refused at its end
# (ota_failed "downgrade"), the node unchanged.
refused_downgrade() {
  local n0 nonce answer
  n0="$(failures)"
  nonce="$(mqtt_nonce 1)"
  answer="$(ota_command_answered "$(signed 1 token-dg ota "$@")")"
  jq -e '.status == "accepted"' <<<"$answer" >/dev/null || it_fail "cmd/ota $* was not accepted: $answer"
  wait_until "ota_failed for cmd/ota $*" 30 bash -c "[ \$(grep -c '^$(base 1)/events/ota_failed ' '$STREAM') -gt $n0 ]"
  grep "^$(base 1)/events/ota_failed " "$STREAM" | tail -1 | cut -d' ' -f2- | jq -r .data | jq -e '.error == "downgrade"' \
    >/dev/null || it_fail "cmd/ota $*: not refused as a downgrade: $(grep "^$(base 1)/events/ota_failed " "$STREAM" | tail -1)"
  log "refused over MQTT ($*): $(grep "^$(base 1)/events/ota_failed " "$STREAM" | tail -1)"
  expect_unchanged 1 "$before" "the refused downgrade over MQTT ($*)"
  wait_until "the nonce is renewed after the accepted command" 10 nonce_renewed 1 "$nonce"
}
refused_downgrade "$url"
refused_downgrade "$url" allow_downgrade  # the token holder alone
refused_downgrade "${url%/*}/marked.signed"  # the key holder alone (a replayed marked image)

answer="$(ota_command_answered "$(signed 1 token-dg ota "${url%/*}/marked.signed" allow_downgrade)")"
jq -e '.status == "accepted"' <<<"$answer" >/dev/null || it_fail "cmd/ota ... allow_downgrade was not accepted: $answer"
sha="$(sha_of "$IT_TMP/marked")"
wait_until "node 1 back running 0.0.9+downgrade" 60 back_with 1 0.0.9+downgrade "$sha" "$inc0"
[ "$(node_pid 1)" = "$pid" ] && node_alive 1 || it_fail "n1 is not the same process"
log "PASS"
