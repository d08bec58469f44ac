#!/usr/bin/env bash
# Chromium for the browser test of the officer's web page (tests/test_browser.py).
# Playwright for Python drives Debian's own Chromium (`executable_path=/usr/bin/chromium`):
# nothing is downloaded besides Debian packages (`playwright install` is never run).
# Does nothing when a Chromium is already installed; otherwise installs Debian's
# `chromium` with apt-get (needs root, as on the project's machines and CI).
# Override the binary the test uses with RISKENGINE_CHROMIUM=/path/to/chromium.
set -euo pipefail

find_chromium() {
    for c in "${RISKENGINE_CHROMIUM:-}" /usr/bin/chromium /usr/bin/chromium-browser; do
        if [ -n "$c" ] && [ -x "$c" ]; then echo "$c"; return 0; fi
    done
    return 1
}

if bin=$(find_chromium); then
    echo "install_browser: $("$bin" --version 2>/dev/null || echo "$bin") already installed"
    exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "install_browser: no Chromium and no apt-get; install Chromium by hand and set" \
         "RISKENGINE_CHROMIUM to its path" >&2
    exit 1
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# fonts-liberation: metric-compatible fonts so that screenshots read well
$SUDO apt-get install -y -qq --no-install-recommends chromium fonts-liberation
bin=$(find_chromium) || { echo "install_browser: chromium installed but not found" >&2; exit 1; }
echo "install_browser: installed $("$bin" --version 2>/dev/null || echo "$bin")"
