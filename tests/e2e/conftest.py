"""Fixtures of the browser tests: JupyterLab on loopback, serving a temporary copy of the
notebooks (so nothing the browser does can change the repository's files), and a headless
Chromium page driven through Playwright.

The browser is the distribution's `/usr/bin/chromium` (`executable_path=`); nothing is
downloaded (`playwright install` is never run). The tests are skipped, with the reason, when
Chromium, Playwright or JupyterLab is missing; scripts/test.sh installs all three.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-quic",
]
SERVER_START_S = 90
# JupyterLab settings for the test server: no news or update prompts over the app.
LAB_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false", "checkForUpdates": False,
    },
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _requirements() -> str | None:
    """Why the browser tests cannot run here, or None."""
    if not CHROMIUM.exists():
        return ("no /usr/bin/chromium (the distribution's chromium package; scripts/test.sh "
                "installs it)")
    for module, why in (("playwright", "Python playwright"), ("jupyterlab", "JupyterLab")):
        try:
            __import__(module)
        except ImportError:
            return f"{why} is not installed (scripts/test.sh installs it through the dev extra)"
    return None


def _write_settings(settings_dir: Path) -> None:
    for name, values in LAB_SETTINGS.items():
        path = settings_dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))


def _wait_for_server(url: str, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.time() + SERVER_START_S
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/api", timeout=2) as reply:
                if reply.status == 200:
                    return
        except OSError:
            if proc.poll() is not None:
                pytest.fail(f"JupyterLab exited: {log.read_text()[-2000:]}")
            time.sleep(0.5)
    pytest.fail(f"JupyterLab did not answer within {SERVER_START_S} s")


@pytest.fixture(scope="session")
def jupyter_lab():
    """The base URL of a JupyterLab serving a temporary copy of `notebooks/`."""
    reason = _requirements()
    if reason:
        pytest.skip(reason)
    tmp = Path(tempfile.mkdtemp(prefix="explorer-e2e-"))
    shutil.copytree(ROOT / "notebooks", tmp / "root" / "notebooks")
    _write_settings(tmp / "settings")
    port = _free_port()
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    log = tmp / "jupyter.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip", "127.0.0.1",
             f"--port={port}", "--IdentityProvider.token=", "--ServerApp.password=",
             "--allow-root", f"--ServerApp.root_dir={tmp / 'root'}",
             f"--LabApp.user_settings_dir={tmp / 'settings'}",
             f"--LabApp.workspaces_dir={tmp / 'workspaces'}"],
            cwd=tmp, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_for_server(url, proc, log)
        yield url
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture
def page(jupyter_lab, tmp_path):
    """A Playwright page in a fresh headless Chromium profile."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=str(CHROMIUM), headless=True,
            args=CHROMIUM_ARGS, viewport={"width": 1440, "height": 2200},
        )
        try:
            yield context.pages[0] if context.pages else context.new_page()
        finally:
            context.close()
