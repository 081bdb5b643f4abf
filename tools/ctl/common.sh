# shellcheck shell=bash
# Messages and exits shared by every tools/ctl/*.sh file. Sourced by ctl.sh, which sets ROOT (the
# repository) and CALLER_PWD (the directory it was run from) first.

log() { printf '\n==> %s\n' "$*"; }
die() { printf 'ctl.sh: %s\n' "$*" >&2; exit 1; }

# A bad command line: the message, exit status 2.
usage_die() {
  printf 'ctl.sh: %s\n' "$*" >&2
  exit 2
}

# A path relative to the repository when it is inside it, for shorter messages.
rel_path() {
  case "$1" in
    "$ROOT"/*) printf '%s' "${1#"$ROOT"/}" ;;
    *) printf '%s' "$1" ;;
  esac
}
