#!/usr/bin/env bash
# The Debian packages nbstage's tests run against, installed when they are missing.
#   bash scripts/system-packages.sh           check; install what is missing when it can
#   bash scripts/system-packages.sh --check   check only: exit 1 naming the command to run
# It can install as root, or with sudo that needs no password, on a machine with apt-get.
# Otherwise it stops at once with the one command that installs everything missing.
# Called by `scripts/setup.sh --test`, so `npm test` works on a fresh machine.
set -euo pipefail

CHECK_ONLY=0
case "${1:-}" in
  '') ;;
  --check) CHECK_ONLY=1 ;;
  *)
    echo "usage: scripts/system-packages.sh [--check]" >&2
    exit 2
    ;;
esac

say() { printf 'nbstage setup: %s\n' "$*" >&2; }
has() { command -v "$1" >/dev/null 2>&1; }

# One line per package: `need PACKAGE TEST...` marks PACKAGE missing when TEST fails.
MISSING=()
need() {
  local package="$1"
  shift
  if ! "$@" >/dev/null 2>&1; then
    MISSING+=("$package")
  fi
}

# scripts/setup.sh creates .venv with NBSTAGE_PYTHON or python3; Debian ships ensurepip apart.
need python3-venv "${NBSTAGE_PYTHON:-python3}" -c 'import venv, ensurepip'
# The queue tests run a real redis-server.
need redis-server has redis-server
# The Groovy steps of jenkins-plugin-bridge/ run under Debian's groovy (2.4).
need groovy has groovy
# Kernels of serve and worker run in a bubblewrap sandbox each (tests run the sandboxed path).
need bubblewrap has bwrap
# The web page's end-to-end tests drive Debian's chromium through playwright-core.
need chromium has chromium
# The process-tree tests read the tree with ps (Debian's procps).
need procps has ps

((${#MISSING[@]})) || exit 0

COMMAND="apt-get update && apt-get install -y --no-install-recommends ${MISSING[*]}"
SUDO=()
if [[ "$(id -u)" != 0 ]]; then
  if has sudo && sudo -n true >/dev/null 2>&1; then
    SUDO=(sudo -n)
  else
    CHECK_ONLY=1
  fi
fi
if ! has apt-get; then
  say "missing system packages: ${MISSING[*]} (Debian names); install them with your package manager"
  exit 1
fi
if [[ "$CHECK_ONLY" == 1 ]]; then
  say "missing system packages: ${MISSING[*]}; install them with:"
  printf "  sudo sh -c '%s'\n" "$COMMAND" >&2
  exit 1
fi

say "installing system packages: ${MISSING[*]} (apt-get)"
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -qq
"${SUDO[@]}" apt-get install -y -qq -o Dpkg::Use-Pty=0 --no-install-recommends "${MISSING[@]}"
