# shellcheck shell=bash
# The project's .env (the seed's "project root" file): which one is read, and one KEY's value in it.
# The spore CLI reads API_NODE from it (tools/ctl/cli.sh), build and flash read the WiFi and MQTT
# settings (tools/ctl/firmware.sh), demo and the firmware build the cluster key (tools/cluster_key.py).

# The .env of the seed ("project root"): $SPORE_ENV_FILE when set, else the caller's ./.env, else
# this repository's .env; empty when there is none. The spore CLI reads API_NODE from it,
# build/flash read WIFI_SSID / WIFI_PASSWORD from it.
dotenv_file() {
  if [ -n "${SPORE_ENV_FILE:-}" ]; then
    printf '%s' "$SPORE_ENV_FILE"
  elif [ -f "$CALLER_PWD/.env" ]; then
    printf '%s' "$CALLER_PWD/.env"
  elif [ -f "$ROOT/.env" ]; then
    printf '%s' "$ROOT/.env"
  fi
}

# The .env a new setting is written to (the cluster key, tools/cluster_key.py): dotenv_file's,
# else this repository's .env (created then; .gitignore keeps it out of commits).
dotenv_target() {
  local envf
  envf="$(dotenv_file)"
  printf '%s' "${envf:-$ROOT/.env}"
}

# dotenv_get FILE KEY: prints KEY's value in FILE and succeeds, or fails when KEY is not assigned.
# The same format as the spore CLI's reader (apps/spore/cli_logic.h, parse_env_value): lines
# KEY=value or export KEY=value, blank lines and # comments, values optionally in single or double
# quotes, an unquoted value ends at " #", the last assignment wins. Read as text, never run by a
# shell: no expansion, no command substitution.
dotenv_get() {
  local file="$1" key="$2" line name value found=0 result="" i
  [ -n "$file" ] && [ -f "$file" ] || return 1
  while IFS= read -r line || [ -n "$line" ]; do
    line="${line#"${line%%[![:space:]]*}"}"
    line="${line%"${line##*[![:space:]]}"}"
    [ -z "$line" ] || [ "${line:0:1}" = "#" ] && continue
    if [[ "$line" =~ ^export[[:space:]] ]]; then
      line="${line:6}"
      line="${line#"${line%%[![:space:]]*}"}"
    fi
    [[ "$line" == *=* ]] || continue
    name="${line%%=*}"
    name="${name%"${name##*[![:space:]]}"}"
    [ "$name" = "$key" ] || continue
    value="${line#*=}"
    value="${value#"${value%%[![:space:]]*}"}"
    if [ "${value:0:1}" = '"' ] || [ "${value:0:1}" = "'" ]; then
      local quote="${value:0:1}" rest="${value:1}"
      result="${rest%%"$quote"*}"
    else
      result="$value"
      for ((i = 0; i < ${#value}; i++)); do
        if [ "${value:i:1}" = "#" ] && { [ "$i" -eq 0 ] || [[ "${value:i-1:1}" =~ [[:space:]] ]]; }; then
          result="${value:0:i}"
          break
        fi
      done
      result="${result%"${result##*[![:space:]]}"}"
    fi
    found=1
  done <"$file"
  [ "$found" -eq 1 ] || return 1
  printf '%s' "$result"
}
