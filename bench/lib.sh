# shellcheck shell=bash
# shellcheck disable=SC2034  # BENCH_NORM_* are used by the scripts that source this
# Helpers shared by the bench/ scripts: wall-clock timing and one-shot polling of every observer.
#
# The polling helpers fetch every observer's member list with ONE curl and judge them with ONE jq,
# so a poll of 10 nodes costs a few ms instead of 20 process starts; the polling slack of a figure
# stays near the 50 ms sleep whatever N is. Member lists of different systems are first mapped to
# one shape, [{name, state}] with state alive | suspect | dead, by a "normaliser" (see below).

now_ms() { date +%s%3N; }

# time_until T0_MS COMMAND [ARGS...]: ms from T0_MS until COMMAND holds, polling every 50 ms.
# Gives up (prints a message, returns 1) after BENCH_WAIT_LIMIT_S seconds (default 300), so a
# run that never converges ends with a reason instead of running into the script's watchdog.
time_until() {
  local t0="$1" deadline=$((SECONDS + ${BENCH_WAIT_LIMIT_S:-300}))
  shift
  until "$@"; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "time_until: gave up after ${BENCH_WAIT_LIMIT_S:-300} s waiting for: $*" >&2
      return 1
    fi
    sleep 0.05
  done
  echo $(($(now_ms) - t0))
}

# Normalisers: jq filters from one member-list body to [{name, state}].
# spored's /api/cluster/members: ACTIVE / INACTIVE / DEAD, the seed's status model.
BENCH_NORM_SPORE='[.members[] | {name: .hostname,
  state: ({"ACTIVE": "alive", "INACTIVE": "suspect", "DEAD": "dead"}[.status] // .status)}]'
# bench/memberlist/peer.go's /members: memberlist's own states (a node that left is gone too).
BENCH_NORM_MEMBERLIST='[.members[] | {name, state: (if .state == "left" then "dead" else .state end)}]'

# cluster_holds NORMALISER CONDITION URL...: true when every URL answers and CONDITION (a jq
# expression over $lists, the normalised lists of all observers) is true. $n is the number of URLs.
cluster_holds() {
  local norm="$1" cond="$2"
  shift 2
  # curl goes on with the next URL when one fails; a missing body then fails the length check.
  curl -s --max-time 2 "$@" 2>/dev/null |
    jq -e -s --argjson n "$#" "map($norm) as \$lists | (\$lists | length) == \$n and ($cond)" >/dev/null 2>&1
}

# jq conditions for cluster_holds.
# Every observer lists exactly the names in $want (a JSON array), all alive.
bench_cond_converged() {
  printf '%s' "all(\$lists[]; (map(select(.state == \"alive\") | .name) | sort) == ($1 | sort) and length == ($1 | length))"
}
# Every observer lists NAME in one of the states of the JSON array STATES.
bench_cond_all_in() {
  printf '%s' "all(\$lists[]; [.[] | select(.name == \"$1\") | .state] as \$s | (\$s | length) == 1 and (\$s[0] | IN($2[])))"
}

# median of the integer or decimal arguments ("-" when there are none).
median() {
  [ "$#" -gt 0 ] || { echo "-"; return 0; }
  printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
