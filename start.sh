#!/usr/bin/env bash
# Install CARTscope into .venv (Python >= 3.11; see scripts/python-env.sh) and start it on the demo study at
# http://127.0.0.1:8050 (HOST and PORT override). Extra arguments go to app.py; `--install-only` installs and stops
# (a deployment then starts gunicorn itself: README.md, "Deploying for a team").
set -euo pipefail
cd "$(dirname "$0")"
source scripts/python-env.sh
ensure_venv requirements.txt
if [[ "${1:-}" == "--install-only" ]]; then
    echo "Installed into .venv"
    exit 0
fi
exec "$VENV_PYTHON" app.py "$@"
