#!/bin/sh
# Installs what the browser tests need, only when it is missing:
#   Debian's chromium (apt; sudo when not root), node and npm, and playwright-core from npm
#   into tests/browser/node_modules (pinned by package-lock.json). No browser is downloaded:
#   the tests drive /usr/bin/chromium.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; fi

missing=""
[ -x /usr/bin/chromium ] || missing="$missing chromium"
command -v node >/dev/null 2>&1 || missing="$missing nodejs"
command -v npm >/dev/null 2>&1 || missing="$missing npm"
if [ -n "$missing" ]; then
    echo "browser tests: installing$missing"
    if $SUDO apt-get update -qq && \
       DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing; then
        :
    else
        echo "browser tests: could not install$missing; the browser tests will be skipped" >&2
        exit 0
    fi
fi

if [ ! -f "$here/node_modules/playwright-core/package.json" ]; then
    echo "browser tests: npm install playwright-core"
    cd "$here"
    export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
    if [ -f package-lock.json ]; then
        npm ci --no-audit --no-fund --loglevel=error || npm install --no-audit --no-fund --loglevel=error || {
            echo "browser tests: npm install failed; the browser tests will be skipped" >&2; exit 0; }
    else
        npm install --no-audit --no-fund --loglevel=error || {
            echo "browser tests: npm install failed; the browser tests will be skipped" >&2; exit 0; }
    fi
fi
exit 0
