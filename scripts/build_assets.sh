#!/usr/bin/env bash
# Install the pinned browser assets (package-lock.json) from the npm registry and copy
# their distributed files into static/vendor/ (gitignored). Idempotent: does nothing
# when the lock file has not changed since the last run and the files are in place.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v npm >/dev/null 2>&1; then
  echo "npm is needed to install the editor (apt-get install npm)." >&2
  exit 1
fi
stamp="static/vendor/.installed-2-$(sha256sum package-lock.json | cut -c1-16)"
if [ -f "$stamp" ]; then
  exit 0
fi
npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
rm -rf static/vendor
mkdir -p static/vendor/trix
# The source map too: the minified file names it, and collectstatic's manifest storage
# refuses a reference to a missing file.
cp node_modules/trix/dist/trix.umd.min.js node_modules/trix/dist/trix.umd.min.js.map \
  node_modules/trix/dist/trix.css static/vendor/trix/
cp node_modules/trix/LICENSE static/vendor/trix/ 2>/dev/null || true
touch "$stamp"
