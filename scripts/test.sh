#!/usr/bin/env bash
# The project's test command: venv at .venv, editable install with the dev extra, ruff, pytest.
# Extra arguments go to pytest, e.g. ./scripts/test.sh -k ptxas -x
set -euo pipefail

cd "$(dirname "$0")/.."

if [[ ! -x .venv/bin/python ]]; then
    python3 -m venv .venv
fi
PY=.venv/bin/python

"$PY" -m pip install --quiet --upgrade pip
"$PY" -m pip install --quiet -e ".[dev]"

# --- browser tests (Playwright + the distribution's /usr/bin/chromium) -----------------------
# Not wired in yet. When they are: install the distribution's chromium package and the Python
# Playwright package here (never `playwright install`: the browser download fails), and point
# the tests at /usr/bin/chromium.
# ------------------------------------------------------------------------------------------------

"$PY" -m ruff check .

status=0
"$PY" -m pytest "$@" || status=$?
if [[ $status -eq 5 ]]; then
    echo "scripts/test.sh: pytest collected no tests (exit 5); treating that as a failure" >&2
    exit 1
fi
exit "$status"
