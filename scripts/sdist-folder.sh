#!/usr/bin/env bash
# Usage: sdist-folder.sh PACKAGE VERSION FOLDER DEST
# Fetches FOLDER (a path inside the source distribution, e.g. tests/files) of PACKAGE==VERSION
# from PyPI (pip download) into DEST, once: an existing DEST is kept. Prints DEST. The test
# notebooks of nbclient and nbval come this way (nbclient-notebooks.sh, nbval-notebooks.sh).
set -euo pipefail

[[ $# -eq 4 ]] || {
  echo "usage: sdist-folder.sh PACKAGE VERSION FOLDER DEST" >&2
  exit 2
}
PACKAGE="$1" VERSION="$2" FOLDER="$3" DEST="$4"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [[ ! -d "$DEST" ]]; then
  PY="$ROOT/.venv/bin/python"
  [[ -x "$PY" ]] || PY=python3
  WORK="$(mktemp -d)"
  trap 'rm -rf "$WORK"' EXIT
  echo "$PACKAGE: downloading $PACKAGE $VERSION's source distribution (pip download)" >&2
  "$PY" -m pip download --disable-pip-version-check --no-input --quiet --no-deps \
    --no-binary :all: "$PACKAGE==$VERSION" -d "$WORK" ||
    {
      echo "$PACKAGE: pip could not download $PACKAGE $VERSION's sdist (see above)" >&2
      exit 1
    }
  tar -xzf "$WORK/$PACKAGE-$VERSION.tar.gz" -C "$WORK" "$PACKAGE-$VERSION/$FOLDER"
  mkdir -p "$(dirname "$DEST")"
  mv "$WORK/$PACKAGE-$VERSION/$FOLDER" "$DEST"
fi
printf '%s\n' "$DEST"
