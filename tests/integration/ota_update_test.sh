#!/usr/bin/env bash
# POST /api/node/update with good images: a copy of spored with another version in its version
# slot, uploaded as multipart (`curl -F firmware=@...`, as the seed's ctl.sh) and then as a raw
# application/octet-stream body. Each time: 200 with size and sha256, the node exec()s the new
# executable (same pid, larger incarnation), serves the new firmwareVersion and imageSha256, and
# its peer sees the new image digest in /api/cluster/members.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/ota_lib.sh"
it_init 120

start_ota_node 1
start_ota_node 2
wait_until "2 nodes converge" 60 converged 1 2
token="$(token_of 2)"
pid="$(node_pid 2)"
v0="$(status_of 2 | jq -r .firmwareVersion)"
sha0="$(status_of 2 | jq -r .imageSha256)"
[ "$sha0" = "$(sha_of "$(exe_of 2)")" ] || it_fail "imageSha256 $sha0 is not the hash of the executable"
[ "$(field_at 1 n2 .imageDigest)" = "\"${sha0:0:8}\"" ] || it_fail "node 1 does not see n2's image digest ${sha0:0:8}"
log "n2 runs version $v0, image ${sha0:0:12}, pid $pid"

mkdir -p "$IT_TMP/images"
peer_sees() { [ "$(status_at 1 n2)" = ACTIVE ] && [ "$(field_at 1 n2 .imageDigest)" = "\"$1\"" ]; }

# update_with MODE VERSION: builds the image, uploads it, checks everything.
update_with() {
  local mode="$1" version="$2" image sha inc args
  image="$IT_TMP/images/spored-$version"
  patch_version "$SPORED" "$image" "$version"
  sha="$(sha_of "$image")"
  inc="$(status_of 2 | jq -r .incarnation)"
  if [ "$mode" = multipart ]; then
    args=(-F "firmware=@$image")
  else
    args=(--data-binary "@$image" -H "Content-Type: application/octet-stream")
  fi
  upload 2 200 "" "$mode upload of version $version" -H "Authorization: Bearer $token" "${args[@]}"
  jq -e --arg s "$sha" --argjson n "$(stat -c %s "$image")" \
    '.status == "updated" and .size == $n and .sha256 == $s and .signed == false and (.restart | type == "string")' \
    "$IT_TMP/upload.json" >/dev/null || it_fail "unexpected 200 body: $(cat "$IT_TMP/upload.json")"
  wait_until "n2 back with version $version" 30 back_with 2 "$version" "$sha" "$inc"
  node_alive 2 || it_fail "n2's process $pid is gone: the update did not exec in place"
  [ "$(node_pid 2)" = "$pid" ] || it_fail "n2 has a new pid"
  [ "$(sha_of "/proc/$pid/exe")" = "$sha" ] || it_fail "process $pid does not run the new image"
  wait_until "the new image proves healthy and becomes n2's executable" 30 exe_is 2 "$sha"
  [ -z "$(find "$IT_TMP/exe-2" -name '.spored.update.*')" ] || it_fail "temporary file left beside the executable"
  [ "$(status_of 2 | jq -r '.api | map(.uri) | index("/api/node/update") != null')" = true ] ||
    it_fail "/api/node/update is not in n2's api list"
  wait_until "node 1 sees n2 ACTIVE with image digest ${sha:0:8}" 30 peer_sees "${sha:0:8}"
  local self_entry
  self_entry="$(members_of 2 | jq -c '.members[] | select(.self == true) | {imageDigest, firmwareVersion}')"
  [ "$self_entry" = "{\"imageDigest\":\"${sha:0:8}\",\"firmwareVersion\":\"$version\"}" ] ||
    it_fail "n2's own members entry says $self_entry"
  log "$mode: n2 runs $version (image ${sha:0:12}, incarnation $(status_of 2 | jq -r .incarnation), pid $pid)"
}

update_with multipart 9.0.1
update_with raw 9.0.2
grep -q "new firmware installed" "$(node_log 2)" || it_fail "n2's log does not say why it restarted"
[ "$(status_at 2 n1)" = ACTIVE ] || it_fail "n2 lost n1 after the updates"
