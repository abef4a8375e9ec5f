#!/usr/bin/env bash
# Set up (venv at .venv, the package and its runtime dependencies) and start JupyterLab on
# notebooks/explorer.ipynb. Without a GPU everything but GPU runs works. Extra arguments go to
# `jupyter lab`, e.g. ./scripts/start.sh --port 8899 --no-browser
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ ! -x .venv/bin/python ]]; then
    python3 -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e .
as_root=()
[[ $(id -u) -eq 0 ]] && as_root=(--allow-root)  # containers and CI machines run as root
exec .venv/bin/python -m jupyterlab --ip 127.0.0.1 "${as_root[@]}" notebooks/explorer.ipynb "$@"
