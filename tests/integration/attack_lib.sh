# shellcheck shell=bash
# shellcheck disable=SC2034  # ATK and EVE are used by the scripts
# Helpers for the issue-20 attack tests (replay_*_test.sh, spoof_flood_test.sh,
# amplification_test.sh), sourced after lib.sh's it_init: the attacker script, its own address
# (node slot 20 of the test's range, which no node uses) and a cluster key file.
ATK="$(dirname "${BASH_SOURCE[0]}")/lan_attacker.py"
EVE="$(it_ip 20)"

# attack_key_file: writes a cluster key to $IT_TMP/key (mode 600) and prints its path.
attack_key_file() {
  printf '%s\n' 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f >"$IT_TMP/key"
  chmod 600 "$IT_TMP/key"
  printf '%s' "$IT_TMP/key"
}
