"""The README's commands work as written: the start script brings JupyterLab up on the
explorer notebook, and the notebook runs top to bottom headless on a machine without a GPU."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_notebook_runs_headless():
    nbclient = pytest.importorskip("nbclient", reason="nbclient is in the dev extra")
    nbformat = pytest.importorskip("nbformat", reason="nbformat is in the dev extra")
    nb = nbformat.read(ROOT / "notebooks" / "explorer.ipynb", as_version=4)
    nbclient.NotebookClient(nb, timeout=300, resources={"metadata": {"path": str(ROOT)}}).execute()
    text = "".join(
        out.get("text", "") for cell in nb.cells for out in cell.get("outputs", [])
    )
    assert ".entry multi_warp_attention(" in text


@pytest.mark.skipif(not (ROOT / ".venv").exists(), reason="the start script uses .venv, made by "
                    "scripts/test.sh; run the suite through it")
def test_start_script_serves_jupyterlab():
    port = _free_port()
    proc = subprocess.Popen(
        [str(ROOT / "scripts" / "start.sh"), "--no-browser", f"--port={port}",
         "--IdentityProvider.token=", "--ServerApp.password="],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
    )
    try:
        deadline = time.time() + 180
        while time.time() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api", timeout=2) as r:
                    assert r.status == 200
                    break
            except OSError:
                assert proc.poll() is None, proc.stdout.read().decode()[-2000:]
                time.sleep(1)
        else:
            pytest.fail("JupyterLab did not answer within 180 s")
        url = f"http://127.0.0.1:{port}/lab/tree/notebooks/explorer.ipynb"
        with urllib.request.urlopen(url, timeout=10) as r:
            assert r.status == 200
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)
