#!/usr/bin/env bash
# what the tests need from Debian, installed where it is missing. CI runs as
# root on a Debian machine; where everything is there this does nothing but
# print the versions.
#   chromium      the page tests (tests/report/browser.test.ts) open the
#                 reports in headless Chromium, /usr/bin/chromium
#   redis-server  the sweep tests (tests/sweep/sweep-redis.test.ts) start their
#                 own on a free port (the package's service is not needed, and
#                 `systemctl` may be missing in a container anyway)
set -euo pipefail

packages=(chromium redis-server)
binaries=(/usr/bin/chromium redis-server)

missing=()
for i in "${!packages[@]}"; do
  command -v "${binaries[$i]}" >/dev/null 2>&1 || missing+=("${packages[$i]}")
done

if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "ci-packages: ${missing[*]} missing, and installing needs root (apt-get install ${missing[*]})" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update
  apt-get install -y "${missing[@]}"
fi

for i in "${!packages[@]}"; do
  echo "${packages[$i]}: $("${binaries[$i]}" --version 2>/dev/null | head -n 1)"
done
