#!/usr/bin/env bash
# The seed's REST contract, field by field with types: GET /api/node/status and
# GET /api/cluster/members (seed fields plus the documented extras), JSON errors, and the
# spore CLI printing exactly the REST body.
source "$(dirname "$0")/lib.sh"
it_init 105

start_node 1
start_node 2
wait_until "2 nodes converge" 60 converged 1 2
# Wait until node 1 knows node 2's details (resources and API list arrive after the first ANNOUNCE).
wait_until "node 1 has n2's API list" 30 bash -c "[ \"\$(curl -sf '$(it_url 1)/api/cluster/members' | jq '[.members[] | select(.hostname == \"n2\") | .api | length][0]')\" -gt 0 ]"

check() { # check DESCRIPTION JQ_BOOLEAN_EXPR JSON
  jq -e "$2" >/dev/null <<<"$3" || it_fail "$1: $(jq -c . <<<"$3" | head -c 600)"
}

# ---- GET /api/node/status
status="$(curl -sf "$(it_url 1)/api/node/status")" || it_fail "GET /api/node/status failed"
check "status: seed fields with their types" '
  (.freeHeap | type == "number") and (.chipId | type == "number") and (.sdkVersion | type == "string")
  and (.cpuFreqMHz | type == "number") and (.flashChipSize | type == "number")
  and (.api | type == "array") and (.api | length > 0)
  and all(.api[]; (.uri | type == "string") and (.method | type == "string"))' "$status"
check "status: api lists the seed endpoints" '
  ([.api[] | "\(.method) \(.uri)"]) as $a
  | (["GET /api/node/status", "GET /api/cluster/members", "POST /api/node/restart"] - $a) == []' "$status"
check "status: extras with their types (clusterAuth: these nodes have no cluster key)" '
  (.hostname == "n1") and (.nodeId | type == "number") and (.incarnation | type == "number")
  and (.safeMode | type == "boolean") and (.otaTrial | type == "boolean") and (.settingsReadOnly | type == "boolean")
  and (.clusterAuth == "open")' "$status"
ct="$(curl -s -o /dev/null -w '%{content_type}' "$(it_url 1)/api/node/status")"
[[ "$ct" == application/json* ]] || it_fail "status Content-Type is '$ct'"

# ---- GET /api/cluster/members
members="$(members_of 1)" || it_fail "GET /api/cluster/members failed"
check "members: {members: [...]}, 2 entries" '(.members | type == "array") and (.members | length == 2)' "$members"
check "members: seed fields with their types" '
  all(.members[];
    (.hostname | type == "string") and (.ip | type == "string") and (.ip | test("^[0-9]+(\\.[0-9]+){3}$"))
    and (.lastSeen | type == "number") and (.latency | type == "number")
    and (.status | IN("ACTIVE", "INACTIVE", "DEAD"))
    and (.resources | type == "object")
    and (.resources.freeHeap | type == "number") and (.resources.chipId | type == "number")
    and (.resources.sdkVersion | type == "string") and (.resources.cpuFreqMHz | type == "number")
    and (.resources.flashChipSize | type == "number")
    and (.api | type == "array")
    and all(.api[]; (.uri | type == "string") and (.method | type == "string")))' "$members"
check "members: extras nodeId, incarnation, httpPort" '
  all(.members[]; (.nodeId | type == "number") and (.incarnation | type == "number") and (.httpPort | type == "number"))' "$members"
check "members: the answering node first, self=true, only it" '
  (.members[0].self == true) and (.members[0].hostname == "n1") and ([.members[1:][] | select(.self == true)] | length == 0)' "$members"
check "members: other members carry lastSeenAgoMs (number) and left (boolean)" '
  all(.members[1:][]; (.lastSeenAgoMs | type == "number") and (.left | type == "boolean"))' "$members"
# One shape (docs/api.md): the same keys in the same order in every entry and in every resources
# object; this node's values for the peer-only facts, a peer's unknown firmware version null.
check "members: self and peer entries have the same keys, in the same order" '
  ([.members[] | keys_unsorted] | unique | length == 1) and ([.members[].resources | keys_unsorted] | unique | length == 1)' "$members"
check "members: self entry heard now, not left, its own apiDigest, complete, its firmwareVersion" "
  .members[0] | (.lastSeenAgoMs == 0) and (.left == false) and (.apiDigest == $(jq .apiDigest <<<"$status"))
  and (.detailsTruncated == false) and (.firmwareVersion == $(jq .firmwareVersion <<<"$status"))" "$members"
check "members: a peer's firmwareVersion is null (not on the wire), self false, detailsTruncated boolean" '
  all(.members[1:][]; (.firmwareVersion == null) and (.self == false) and (.detailsTruncated | type == "boolean")
                      and (.apiDigest | type == "number"))' "$members"
# freeHeap is MemAvailable in bytes, 64-bit (this host may have more than the 4294967295 a uint32
# holds): the node's own and its peer's view (the ANNOUNCE's code, exact to 1 KiB) are within a
# factor of 2 of what /proc/meminfo says now (memory moves; its order does not).
avail=$(( $(awk '/^MemAvailable:/ {print $2}' /proc/meminfo) * 1024 ))
check "status: freeHeap is MemAvailable's order ($avail B now)" "(.freeHeap * 2 > $avail) and (.freeHeap < $avail * 2)" "$status"
check "members: n2's freeHeap as n1 holds it is MemAvailable's order too" "
  [.members[] | select(.hostname == \"n2\") | .resources.freeHeap][0] as \$h | (\$h * 2 > $avail) and (\$h < $avail * 2)" "$members"
n2="$(jq -c '.members[] | select(.hostname == "n2")' <<<"$members")"
check "members: n2 entry" "(.ip == \"$(it_ip 2)\") and (.httpPort == $IT_HTTP_PORT) and (.status == \"ACTIVE\") and (.left == false)" "$n2"
check "members: n2's api list as n2 itself publishes it" "([.api[] | \"\\(.method) \\(.uri)\"] | sort) == ($(jq -c '[.api[] | "\(.method) \(.uri)"] | sort' <<<"$(curl -sf "$(it_url 2)/api/node/status")"))" "$n2"

# ---- errors are JSON {error, code} with the right status
code="$(curl -s -o "$IT_TMP/err.json" -w '%{http_code}' "$(it_url 1)/api/no/such/path")"
[ "$code" = 404 ] || it_fail "unknown path answered $code, expected 404"
check "404 body" '(.error | type == "string") and (.code | type == "string")' "$(cat "$IT_TMP/err.json")"
code="$(curl -s -o "$IT_TMP/err.json" -w '%{http_code}' -X DELETE "$(it_url 1)/api/cluster/members")"
[ "$code" = 405 ] || it_fail "DELETE /api/cluster/members answered $code, expected 405"
check "405 body" '(.error | type == "string") and (.code | type == "string")' "$(cat "$IT_TMP/err.json")"

# ---- the CLI prints the REST body unchanged (volatile fields removed before comparing)
volatile='del(.members[].lastSeen, .members[].lastSeenAgoMs, .members[].latency, .members[].resources.freeHeap)'
cli="$("$SPORE" --node "$(it_ip 1):$IT_HTTP_PORT" cluster members --json)" || it_fail "spore cluster members --json failed"
rest="$(members_of 1)"
[ "$(jq -S "$volatile" <<<"$cli")" = "$(jq -S "$volatile" <<<"$rest")" ] ||
  it_fail "spore cluster members --json differs from the REST body: $(diff <(jq -S "$volatile" <<<"$cli") <(jq -S "$volatile" <<<"$rest") | head -20)"
# Key order is the node's too (the CLI does not re-serialise).
[ "$(jq -c '.members[0] | keys_unsorted' <<<"$cli")" = "$(jq -c '.members[0] | keys_unsorted' <<<"$rest")" ] ||
  it_fail "spore cluster members --json reorders keys"
cli="$("$SPORE" --node "$(it_ip 1):$IT_HTTP_PORT" node status --json)" || it_fail "spore node status --json failed"
vs='del(.freeHeap, .uptimeMs, .maxTaskRunMs)'
[ "$(jq -S "$vs" <<<"$cli")" = "$(jq -S "$vs" <<<"$(curl -sf "$(it_url 1)/api/node/status")")" ] ||
  it_fail "spore node status --json differs from the REST body"
log "REST shapes and CLI --json output as specified"
