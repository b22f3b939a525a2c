#!/usr/bin/env bash
# The whole test suite on a fresh machine: installs the pinned Python packages and, when missing, Debian's
# chromium and chromium-driver (browser tests, image export), libreoffice-impress (a test converts an exported
# .pptx to PDF) and poppler-utils (pdfinfo), then runs pytest with headless Chromium.
# Extra arguments go to pytest, e.g. `bash tests/run.sh tests/data_access -k unit`.
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
missing=""
command -v chromium >/dev/null 2>&1 || missing="$missing chromium"
command -v chromedriver >/dev/null 2>&1 || missing="$missing chromium-driver"
command -v soffice >/dev/null 2>&1 || missing="$missing libreoffice-impress"
command -v pdfinfo >/dev/null 2>&1 || missing="$missing poppler-utils"
if [ -n "$missing" ]; then
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq $missing
fi
python -m pytest --headless -p no:logging "$@"
