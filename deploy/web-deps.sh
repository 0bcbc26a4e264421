#!/usr/bin/env bash
# web-deps.sh: installs the dashboard's JavaScript dependencies from npm into build/web-deps/
# (never committed): uPlot, served by the analytics worker as a static file, and playwright-core,
# which drives Debian's chromium in the browser test. Idempotent; quiet when already installed.
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DEST=${SHOPSTREAM_WEB_DEPS:-$REPO/build/web-deps}
UPLOT_VERSION=1.6.32
PLAYWRIGHT_VERSION=1.49.1
mkdir -p "$DEST"
have() { [ -f "$DEST/node_modules/$1/package.json" ] && grep -q "\"version\": \"$2\"" "$DEST/node_modules/$1/package.json"; }
if have uplot "$UPLOT_VERSION" && have playwright-core "$PLAYWRIGHT_VERSION"; then
  echo "web-deps: uplot $UPLOT_VERSION and playwright-core $PLAYWRIGHT_VERSION present in $DEST"
  exit 0
fi
command -v npm >/dev/null || { echo "web-deps: npm is missing (apt-get install nodejs npm)" >&2; exit 1; }
[ -f "$DEST/package.json" ] || echo '{"name":"shopstream-web-deps","private":true}' >"$DEST/package.json"
# playwright-core ships no browser; PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD keeps any install hook offline.
PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm install --prefix "$DEST" --no-audit --no-fund --silent \
  "uplot@$UPLOT_VERSION" "playwright-core@$PLAYWRIGHT_VERSION"
echo "web-deps: installed uplot $UPLOT_VERSION and playwright-core $PLAYWRIGHT_VERSION into $DEST"
