#!/usr/bin/env bash
# Fetches nbclient's own test notebooks (tests/files of its source distribution, the version
# pinned in kernels/requirements-dev.txt) into .cache/nbclient-<version>/files, once. The
# compatibility test runs them under nbclient and nbstage. Prints the folder.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VERSION="$(sed -n 's/^nbclient==\([^ ]*\).*/\1/p' "$ROOT/kernels/requirements-dev.txt")"
[[ -n "$VERSION" ]] || {
  echo "nbclient-notebooks: no nbclient==VERSION in kernels/requirements-dev.txt" >&2
  exit 1
}
DEST="$ROOT/.cache/nbclient-$VERSION/files"
if [[ ! -d "$DEST" ]]; then
  PY="$ROOT/.venv/bin/python"
  [[ -x "$PY" ]] || PY=python3
  WORK="$(mktemp -d)"
  trap 'rm -rf "$WORK"' EXIT
  echo "nbclient-notebooks: downloading nbclient $VERSION's source distribution (pip download)" >&2
  "$PY" -m pip download --disable-pip-version-check --no-input --quiet --no-deps \
    --no-binary :all: "nbclient==$VERSION" -d "$WORK" ||
    {
      echo "nbclient-notebooks: pip could not download nbclient $VERSION's sdist (see above)" >&2
      exit 1
    }
  tar -xzf "$WORK"/nbclient-"$VERSION".tar.gz -C "$WORK" "nbclient-$VERSION/tests/files"
  mkdir -p "$(dirname "$DEST")"
  mv "$WORK/nbclient-$VERSION/tests/files" "$DEST"
fi
printf '%s\n' "$DEST"
