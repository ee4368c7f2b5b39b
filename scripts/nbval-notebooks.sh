#!/usr/bin/env bash
# Fetches nbval's own sample notebooks (tests/ipynb-test-samples of its source distribution, the
# version below) into .cache/nbval-<version>/ipynb-test-samples, once. Each sample's name says
# nbval's verdict (`-pass-` or `-fail-`); the compatibility test runs the ones that need only the
# standard library with `nbstage run --baseline stored`. Prints the folder.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VERSION=0.11.0
DEST="$ROOT/.cache/nbval-$VERSION/ipynb-test-samples"
if [[ ! -d "$DEST" ]]; then
  PY="$ROOT/.venv/bin/python"
  [[ -x "$PY" ]] || PY=python3
  WORK="$(mktemp -d)"
  trap 'rm -rf "$WORK"' EXIT
  echo "nbval-notebooks: downloading nbval $VERSION's source distribution (pip download)" >&2
  "$PY" -m pip download --disable-pip-version-check --no-input --quiet --no-deps \
    --no-binary :all: "nbval==$VERSION" -d "$WORK" ||
    {
      echo "nbval-notebooks: pip could not download nbval $VERSION's sdist (see above)" >&2
      exit 1
    }
  tar -xzf "$WORK"/nbval-"$VERSION".tar.gz -C "$WORK" "nbval-$VERSION/tests/ipynb-test-samples"
  mkdir -p "$(dirname "$DEST")"
  mv "$WORK/nbval-$VERSION/tests/ipynb-test-samples" "$DEST"
fi
printf '%s\n' "$DEST"
