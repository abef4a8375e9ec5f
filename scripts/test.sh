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
# Python Playwright comes with the dev extra; the browser is the distribution's chromium, never
# `playwright install` (its browser download fails here). tests/e2e skips, saying why, without it.
if [[ ! -x /usr/bin/chromium ]]; then
    if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
    else
        echo "scripts/test.sh: /usr/bin/chromium is missing and we are not root:" \
             "the browser test will be skipped (apt-get install chromium)" >&2
    fi
fi
# ------------------------------------------------------------------------------------------------

"$PY" -m ruff check .

status=0
"$PY" -m pytest "$@" || status=$?
if [[ $status -eq 5 ]]; then
    echo "scripts/test.sh: pytest collected no tests (exit 5); treating that as a failure" >&2
    exit 1
fi
exit "$status"
