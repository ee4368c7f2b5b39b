#!/usr/bin/env bash
# Fetches nbval's own sample notebooks (tests/ipynb-test-samples of its source distribution, the
# version below) into .cache/nbval-<version>/ipynb-test-samples, once. Each sample's name says
# nbval's verdict (`-pass-` or `-fail-`); the compatibility test runs the ones that need only the
# standard library with `nbstage run --baseline stored`. Prints the folder.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VERSION=0.11.0
exec bash "$ROOT/scripts/sdist-folder.sh" nbval "$VERSION" tests/ipynb-test-samples \
  "$ROOT/.cache/nbval-$VERSION/ipynb-test-samples"
