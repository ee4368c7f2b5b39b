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
exec bash "$ROOT/scripts/sdist-folder.sh" nbclient "$VERSION" tests/files \
  "$ROOT/.cache/nbclient-$VERSION/files"
