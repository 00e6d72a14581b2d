#!/usr/bin/env bash
# the sweep tests (tests/sweep/sweep-redis.test.ts) start their own
# redis-server: Debian's package, at /usr/bin/redis-server. CI runs as root on
# a Debian machine; where redis-server is already there this does nothing.
# (the package's own service is not needed: the tests run theirs on a free
# port, and `systemctl` may be missing in a container anyway.)
set -euo pipefail

if command -v redis-server >/dev/null 2>&1; then
  echo "redis-server: $(redis-server --version | head -n 1)"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "ci-redis: redis-server is missing and installing it needs root (apt-get install redis-server)" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends redis-server
echo "redis-server: $(redis-server --version | head -n 1)"
