#!/usr/bin/env bash
# the page tests (tests/report/browser.test.ts) open the reports in headless
# Chromium: Debian's package, at /usr/bin/chromium. CI runs as root on a
# Debian machine; where chromium is already there this does nothing.
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
  echo "chromium: $(/usr/bin/chromium --version 2>/dev/null | head -n 1)"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "ci-browser: /usr/bin/chromium is missing and installing it needs root (apt-get install chromium)" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y chromium
echo "chromium: $(/usr/bin/chromium --version 2>/dev/null | head -n 1)"
