"""The README's commands work as written: the start script brings JupyterLab up on the
explorer notebook, and the notebook runs top to bottom headless on a machine without a GPU."""

from __future__ import annotations

import json
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
def test_start_script_serves_the_notebook_from_the_repository_root():
    port = _free_port()
    proc = subprocess.Popen(
        [str(ROOT / "scripts" / "start.sh"), "--no-browser"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
        env={**os.environ, "PORT": str(port)}, text=True,
    )
    try:
        printed = []
        deadline = time.time() + 180
        while time.time() < deadline and not any("Runs use" in line for line in printed):
            line = proc.stdout.readline()
            assert line or proc.poll() is None, "".join(printed)[-2000:]
            printed.append(line)
        text = "".join(printed)
        url = next(w for w in text.split() if w.startswith("http://"))
        assert url.startswith(f"http://127.0.0.1:{port}/lab/tree/notebooks/explorer.ipynb?token=")
        assert "the CPU simulator" in text or "the GPU" in text
        token = url.split("token=")[1]
        while time.time() < deadline:
            try:
                with urllib.request.urlopen(url, timeout=2) as r:
                    assert r.status == 200
                    break
            except OSError:
                assert proc.poll() is None, text[-2000:]
                time.sleep(1)
        else:
            pytest.fail("JupyterLab did not answer within 180 s")
        api = f"http://127.0.0.1:{port}/api/contents?token={token}"
        with urllib.request.urlopen(api, timeout=10) as r:
            names = {item["name"] for item in json.load(r)["content"]}
        assert {"docs", "notebooks", "README.md"} <= names  # rooted at the repository
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)
