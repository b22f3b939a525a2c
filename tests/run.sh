#!/usr/bin/env bash
# The whole test suite on a fresh machine: makes .venv with the pinned packages (scripts/python-env.sh; on a
# fresh Debian/Ubuntu it first installs python3 and python3-venv), installs, when missing, Debian's chromium and
# chromium-driver (browser tests, image export), libreoffice-impress (a test converts an exported .pptx to PDF)
# and poppler-utils (pdfinfo, pdftotext, pdftoppm), then runs pytest with headless Chromium.
# Extra arguments go to pytest, e.g. `bash tests/run.sh tests/data_access -k unit`.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/python-env.sh
missing=""
command -v chromium >/dev/null 2>&1 || missing="$missing chromium"
command -v chromedriver >/dev/null 2>&1 || missing="$missing chromium-driver"
command -v soffice >/dev/null 2>&1 || missing="$missing libreoffice-impress"
command -v pdfinfo >/dev/null 2>&1 || missing="$missing poppler-utils"
if [ -n "$missing" ]; then
  _cartscope_apt_install $missing
fi
ensure_venv requirements-dev.txt
"$VENV_PYTHON" -m pytest --headless -p no:logging "$@"
