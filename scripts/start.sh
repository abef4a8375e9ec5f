#!/usr/bin/env bash
# Set up and start the explorer: a venv at .venv with the package, its runtime dependencies and
# NVIDIA's ptxas and nvdisasm wheels (registers, spills and SASS in the Resources tab, no GPU
# needed), then JupyterLab serving the repository root with notebooks/explorer.ipynb open.
# Prints the notebook's own URL and the backend the app will use (the GPU, or the CPU
# simulator). Extra arguments go to `jupyter lab`, e.g. ./scripts/start.sh --no-browser
# PORT=8899 ./scripts/start.sh picks the port (default: 8888, or the next free one).
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ ! -x .venv/bin/python ]]; then
    python3 -m venv .venv
fi
PY=.venv/bin/python
"$PY" -m pip install --quiet --upgrade pip
"$PY" -m pip install --quiet -e ".[tools]"

port=$("$PY" - "${PORT:-8888}" <<'PYTHON'
import socket, sys
first = int(sys.argv[1])
for port in range(first, first + 50):
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            continue
        print(port)
        break
else:
    sys.exit(f"start.sh: no free port in {first}..{first + 49}; set PORT=")
PYTHON
)
token=$("$PY" -c "import secrets; print(secrets.token_hex(24))")
notebook="notebooks/explorer.ipynb"
url="http://127.0.0.1:${port}/lab/tree/${notebook}?token=${token}"
backend=$("$PY" -c "
from explorer.runtime import gpu_probe
found, detail = gpu_probe()
print(f'the GPU ({detail})' if found else f'the CPU simulator (no GPU here: {detail})')")
tools=$("$PY" -c "
from explorer.ptx import ptxas
path = ptxas.find_ptxas()
print(f'ptxas at {path}' if path else 'no ptxas found: registers and SASS are not shown')")

cat <<MSG

  The explorer:  ${url}
  Runs use ${backend}.
  Resources: ${tools}
  The file browser shows the whole repository (docs/, notebooks/). Ctrl+C stops the server.

MSG
as_root=()
[[ $(id -u) -eq 0 ]] && as_root=(--allow-root)  # containers and CI machines run as root
exec "$PY" -m jupyterlab --ip 127.0.0.1 --port "$port" --ServerApp.port_retries=0 \
    --IdentityProvider.token="$token" --ServerApp.root_dir="$PWD" \
    --ServerApp.default_url="/lab/tree/${notebook}" "${as_root[@]}" "$@"
