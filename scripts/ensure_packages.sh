#!/usr/bin/env bash
# Install the Debian packages the test suite needs when they are missing (make test calls this):
# postgresql (a throwaway server is started by the tests themselves), chromium and chromium-driver (the UI checks
# drive headless Chromium through Selenium and chromedriver), redis-server (the Celery broker of the
# CeleryExecutor test), curl (docker-compose.yaml's health checks, tests/deploy/test_compose_parity.py) and npm (make docs-assets
# vendors the Data Docs libraries from the npm registry).
set -euo pipefail
missing=()
ls /usr/lib/postgresql/*/bin/pg_ctl > /dev/null 2>&1 || command -v pg_ctl > /dev/null 2>&1 || missing+=(postgresql)
command -v chromium > /dev/null 2>&1 || missing+=(chromium)
command -v chromedriver > /dev/null 2>&1 || missing+=(chromium-driver)
command -v redis-server > /dev/null 2>&1 || missing+=(redis-server)
command -v curl > /dev/null 2>&1 || missing+=(curl)
command -v npm > /dev/null 2>&1 || missing+=(npm)  # make docs-assets: the Data Docs libraries (npm ci)
[ ${#missing[@]} -eq 0 ] && exit 0
echo "== installing Debian packages: ${missing[*]}"
SUDO=""
if [ "$(id -u)" != 0 ]; then
  command -v sudo > /dev/null || { echo "need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq > /dev/null
# The package's own cluster is not used (the tests start their own); don't let its service start fail the install.
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" > /tmp/ghl-pleo-apt.log 2>&1 \
  || { tail -n 30 /tmp/ghl-pleo-apt.log; exit 1; }
