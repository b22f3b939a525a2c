#!/usr/bin/env bash
# The whole test suite on a fresh machine: installs the pinned Python packages and Debian's chromium and
# chromium-driver (for the browser tests) when missing, then runs pytest with headless Chromium.
# Extra arguments go to pytest, e.g. `bash tests/run.sh tests/data_access -k unit`.
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium chromium-driver
fi
python -m pytest --headless -p no:logging "$@"
