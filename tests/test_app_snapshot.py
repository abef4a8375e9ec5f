"""The design-review export: a self-contained HTML page (configuration, PTX, diff, resources,
error table, figures) and PNGs, from the app's state and from `python -m explorer snapshot`."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("plotly", reason="the snapshot's figures need plotly (not on the GPU machine)")

from explorer.app import runner, snapshot  # noqa: E402
from explorer.app.state import AppState, Config  # noqa: E402
from explorer.cli import main  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SMALL = Config(backend="sim", max_seq_len=64, seq_len=50, num_heads=8, gqa_ratio=2)


def _has_image_export() -> bool:
    try:
        import kaleido  # noqa: F401
    except ImportError:
        return False
    return shutil.which("chromium") is not None or Path("/usr/bin/chromium").exists()


def test_page_holds_every_section_and_no_external_resource(tmp_path, monkeypatch):
    monkeypatch.setattr(snapshot, "_figure_images",
                        lambda figs, out: ([], "<p>figures</p>"))  # no Chromium needed here
    state = AppState(SMALL)
    state.update(num_warps=2)
    written = snapshot.write(state, None, tmp_path)
    page = written[0].read_text()
    for section in ("Configuration", "PTX (excerpt)", "Diff (unified)", "Resources", "Run",
                    "Warps"):
        assert f">{section}</h2>" in page
    assert "previous: multi-warp" in page and "PASS" in page
    assert "<script src=" not in page and "<link" not in page
    assert "emitted by explorer/kernels/" in page  # the PTX's gutter, as the app shows it


def test_excerpt_stops_after_the_loop_starts():
    from explorer.app.render import emit

    ptx = emit(SMALL)
    last = snapshot.ptx_excerpt_lines(ptx)
    assert last < ptx.count("\n")
    assert "phase: chunk loop" in "\n".join(ptx.splitlines()[:last])


@pytest.mark.skipif(not _has_image_export(), reason="PNG export needs kaleido and Chromium")
def test_pngs_are_written_and_embedded(tmp_path):
    result = runner.run(SMALL)
    written = snapshot.write(AppState(SMALL), result, tmp_path)
    pngs = [p for p in written if p.suffix == ".png"]
    assert {p.stem for p in pngs} == {"warp_maxes", "warp_sums", "attention_weights",
                                      "merge_factors"}
    assert all(p.read_bytes()[:4] == b"\x89PNG" for p in pngs)
    assert written[0].read_text().count("data:image/png;base64,") == 4


def test_command_line_snapshot(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(snapshot, "_figure_images", lambda figs, out: ([], ""))
    argv = ["snapshot", "--max-seq-len", "64", "--num-heads", "8", "--num-kv-heads", "4",
            "--seq-len", "33", "--backend", "sim", "--against", "head_dim=64",
            "--target", "sm_90", "--out", str(tmp_path / "snap")]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "PASS on sim" in out and str(tmp_path / "snap" / "index.html") in out
    page = (tmp_path / "snap" / "index.html").read_text()
    assert "pinned: multi-warp · head_dim 64" in page


@pytest.mark.parametrize("argv, words", [
    (["--against", "warps=8"], "FIELD=VALUE"),
    (["--scale", "0.5"], "no control for scale"),
])
def test_command_line_snapshot_mistakes_are_one_line(tmp_path, argv, words):
    done = subprocess.run(
        [sys.executable, "-m", "explorer", "snapshot", "--max-seq-len", "64",
         "--out", str(tmp_path), *argv],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )
    assert done.returncode == 2
    assert words in done.stderr and "Traceback" not in done.stderr
