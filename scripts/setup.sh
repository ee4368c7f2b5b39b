#!/usr/bin/env bash
# nbstage setup: makes a checkout ready to run and test. Idempotent, and quick when there is
# nothing to do, so `npm test` can call it every time.
#   1. node_modules  `npm ci` when missing or older than package-lock.json
#   2. .venv         a Python virtual environment with kernels/requirements.txt
#                    (kernels/requirements-dev.txt with --dev), re-installed when that file
#                    changes (a hash stamp is kept inside .venv)
#                    .venv-eg with --dev: Jupyter Enterprise Gateway, whose pins (jupyter_server<2)
#                    cannot share .venv (kernels/requirements-enterprise-gateway.txt)
#   3. kernelspecs   the bash kernel installed into .venv (ipykernel brings python3)
#   4. dist/         `npm run build` when a TypeScript source or tsconfig changed
# --test first installs the Debian packages the tests run against (scripts/system-packages.sh):
# redis-server, groovy, chromium; it also implies --dev (the compatibility tests run nbclient)
# and fetches nbclient's and nbval's test notebooks (scripts/nbclient-notebooks.sh,
# scripts/nbval-notebooks.sh). `npm test` passes it.
# NBSTAGE_PYTHON, when set, is the interpreter the venv is created with (default: python3).
set -euo pipefail

usage() {
  echo "usage: scripts/setup.sh [--dev] [--test]"
  echo "  --dev   also the benchmark's nbclient and papermill, Kernel Gateway and Enterprise Gateway"
  echo "  --test  also the system packages the tests need (redis-server, groovy, chromium),"
  echo "          the --dev extras and nbclient's test notebooks"
}

DEV=0
TEST=0
for arg in "$@"; do
  case "$arg" in
    --dev) DEV=1 ;;
    --test)
      TEST=1
      DEV=1
      ;;
    -h | --help)
      usage
      exit 0
      ;;
    *)
      usage >&2
      exit 2
      ;;
  esac
done

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

say() { printf 'nbstage setup: %s\n' "$*" >&2; }
die() {
  printf 'nbstage setup: error: %s\n' "$*" >&2
  exit 1
}

# Two setups in one checkout at once (a test run and a shell) would trample on each other.
if command -v flock >/dev/null 2>&1; then
  exec 9<"$ROOT/scripts/setup.sh"
  flock 9
fi

now() { printf '%s' "${EPOCHREALTIME:-$SECONDS}"; }
STARTED="$(now)"
DID=()

sha256() {
  if command -v sha256sum >/dev/null 2>&1; then
    cat "$@" | sha256sum | cut -d' ' -f1
  else
    cat "$@" | shasum -a 256 | cut -d' ' -f1
  fi
}

# --- 0. system packages (tests only) -------------------------------------------------------
if [[ "$TEST" == 1 ]]; then
  bash "$ROOT/scripts/system-packages.sh" || exit 1
fi

# --- 1. node modules -----------------------------------------------------------------------
if [[ ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json ]]; then
  command -v npm >/dev/null 2>&1 || die "npm not found: install Node.js 20 or later"
  say "installing node modules (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error
  DID+=("node_modules")
fi

# --- 2. Python virtual environment ----------------------------------------------------------
VENV="$ROOT/.venv"
VPY="$VENV/bin/python"

if ! "$VPY" -c '' >/dev/null 2>&1; then
  BASE_PY="${NBSTAGE_PYTHON:-python3}"
  if ! command -v "$BASE_PY" >/dev/null 2>&1; then
    [[ -z "${NBSTAGE_PYTHON:-}" ]] || die "NBSTAGE_PYTHON=$BASE_PY: no such interpreter"
    die "python3 not found: install Python 3.11 or later (Debian/Ubuntu: apt-get install python3 python3-venv), or set NBSTAGE_PYTHON to one"
  fi
  "$BASE_PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' ||
    die "$BASE_PY is Python $("$BASE_PY" -c 'import platform; print(platform.python_version())'); nbstage needs 3.11 or later (set NBSTAGE_PYTHON to one)"
  # Debian and Ubuntu ship venv's pip bootstrap (ensurepip) in a separate package.
  "$BASE_PY" -c 'import venv, ensurepip' >/dev/null 2>&1 ||
    die "$BASE_PY cannot create virtual environments (no venv/ensurepip): on Debian/Ubuntu run apt-get install python3-venv"
  say "creating Python virtual environment .venv with $BASE_PY"
  # --clear: a broken .venv (its base interpreter gone) is rebuilt from scratch.
  "$BASE_PY" -m venv --clear "$VENV"
  DID+=(".venv")
fi
"$VPY" -m pip --version >/dev/null 2>&1 ||
  die ".venv has no pip: remove .venv and run again (Debian/Ubuntu: apt-get install python3-venv)"

# Installs a requirements file into a venv (default .venv) unless the stamp says this exact
# content is installed there already.
install_requirements() {
  local file="$1" hash stamp venv="${INTO:-$VENV}"
  shift
  hash="$(sha256 "$@")"
  stamp="$venv/.nbstage-$(basename "$file").sha256"
  if [[ -f "$stamp" && "$(cat "$stamp")" == "$hash" ]]; then
    return 0
  fi
  say "installing $file into $(basename "$venv") (pip)"
  "$venv/bin/python" -m pip install --disable-pip-version-check --no-input --quiet -r "$file" ||
    die "pip could not install $file (see above)"
  printf '%s\n' "$hash" >"$stamp"
  DID+=("$file")
}
install_requirements kernels/requirements.txt kernels/requirements.txt
if [[ "$DEV" == 1 ]]; then
  install_requirements kernels/requirements-dev.txt kernels/requirements.txt kernels/requirements-dev.txt
  EG_VENV="$ROOT/.venv-eg"
  if ! "$EG_VENV/bin/python" -m pip --version >/dev/null 2>&1; then
    say "creating Python virtual environment .venv-eg (Enterprise Gateway) with ${NBSTAGE_PYTHON:-python3}"
    "${NBSTAGE_PYTHON:-python3}" -m venv --clear "$EG_VENV"
    DID+=(".venv-eg")
  fi
  INTO="$EG_VENV" install_requirements kernels/requirements-enterprise-gateway.txt \
    kernels/requirements-enterprise-gateway.txt
fi

# --- 3. kernelspecs -------------------------------------------------------------------------
# bash_kernel writes the interpreter's absolute path into kernel.json: re-install it when the
# checkout moved or when it is missing.
BASH_SPEC="$VENV/share/jupyter/kernels/bash/kernel.json"
if [[ ! -f "$BASH_SPEC" ]] || ! grep -qF "\"$VPY\"" "$BASH_SPEC"; then
  say "installing the bash kernelspec into .venv"
  "$VPY" -m bash_kernel.install --sys-prefix >/dev/null
  DID+=("bash kernelspec")
fi

# --- 4. TypeScript build --------------------------------------------------------------------
# dist/ is rebuilt when the list of sources changed (added, removed, renamed) or any source or
# build setting is newer than the last successful build.
SOURCES_STAMP="dist/.nbstage-sources"
SOURCE_DIRS=()
for dir in kernels pipelines server jenkins-plugin-bridge scripts; do
  if [[ -d "$dir" ]]; then SOURCE_DIRS+=("$dir"); fi
done
BUILD_FILES=(tsconfig.json tsconfig.build.json package-lock.json)
SOURCES="$(
  find "${SOURCE_DIRS[@]}" \( -name '*.ts' -o -name '*.json' \) -type f | LC_ALL=C sort
  printf '%s\n' "${BUILD_FILES[@]}"
)"
build_needed() {
  [[ -f "$SOURCES_STAMP" && "$SOURCES" == "$(cat "$SOURCES_STAMP")" ]] || return 0
  [[ -n "$(find "${SOURCE_DIRS[@]}" "${BUILD_FILES[@]}" \( -name '*.ts' -o -name '*.json' \) \
    -type f -newer "$SOURCES_STAMP" -print -quit)" ]]
}
if build_needed; then
  say "compiling TypeScript into dist/ (npm run build)"
  npm run --silent build || die "the TypeScript build failed (see above)"
  printf '%s\n' "$SOURCES" >"$SOURCES_STAMP"
  DID+=("dist")
fi

# --- 5. nbclient's and nbval's test notebooks (tests only) ---------------------------------
if [[ "$TEST" == 1 ]]; then
  bash "$ROOT/scripts/nbclient-notebooks.sh" >/dev/null || exit 1
  bash "$ROOT/scripts/nbval-notebooks.sh" >/dev/null || exit 1
fi

# --- done -----------------------------------------------------------------------------------
if ((${#DID[@]})); then
  ELAPSED="$(awk -v a="$STARTED" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }')"
  UPDATED="$(printf ', %s' "${DID[@]}")"
  say "ready: ${UPDATED:2} updated in ${ELAPSED} s"
fi
