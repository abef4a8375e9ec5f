"""The explorer in a real browser: JupyterLab on loopback, the distribution's Chromium through
Playwright. It opens notebooks/explorer.ipynb, runs it, changes head_dim and warps through
the widgets, and checks that the PTX and diff panes changed as the emitter says they must
(the shared-memory declaration, the diff's +/- counts and both configurations' names) and
that the run pane shows a pass on the simulator. Screenshots of every tab go to pytest's
tmp_path (their paths are printed)."""

from __future__ import annotations

import json
import time
import urllib.request
from pathlib import Path

import pytest

from explorer.app.diff import diff_counts
from explorer.app.render import emit
from explorer.app.state import Config

playwright = pytest.importorskip(
    "playwright.sync_api",
    reason="Python playwright is not installed (scripts/test.sh installs it: dev extra)",
)
PlaywrightTimeout = playwright.TimeoutError
expect = playwright.expect

NOTEBOOK = "lab/tree/notebooks/explorer.ipynb"
TIMEOUT_MS = 60_000
APP_TIMEOUT_MS = 20_000
TABS = ("PTX", "Diff", "Resources", "Run", "Warps", "Lanes")
WARPS_PLOTS = ".explorer-warps-grid .js-plotly-plot"
LANES_PLOT = ".explorer-lanes-figure .js-plotly-plot"
SHUFFLES_PTX = Path(__file__).resolve().parents[1] / "corpus" / "ptx" / "shuffles.ptx"


# In the page: note when Enter goes down in a control and when each pane first shows a text.
WATCH_JS = """([control, watches]) => {
    window.__explorerShown = {};
    document.querySelector(control).addEventListener("keydown", (e) => {
        if (e.key === "Enter") window.__explorerPressed = performance.now();
    }, {once: true});
    for (const [pane, text] of watches) {
        const el = document.querySelector(pane);
        new MutationObserver((changes, observer) => {
            if (el.textContent.includes(text)) {
                window.__explorerShown[pane] = performance.now();
                observer.disconnect();
            }
        }).observe(el, {childList: true, subtree: true, characterData: true});
    }
}"""
ROUND_TRIP_JS = """(pane) => window.__explorerShown[pane] - window.__explorerPressed"""


def shared_bytes(warps: int, head_dim: int) -> int:
    """The multi-warp kernel's shared memory (docs/kernels.md): (2W + 2 + W*head_dim) words."""
    return (2 * warps + 2 + warps * head_dim) * 4


def _kernel_connected(url: str) -> bool:
    """The notebook's kernel is idle and the page's websocket is connected to it (REST API)."""
    with urllib.request.urlopen(f"{url}/api/sessions", timeout=5) as reply:
        sessions = json.load(reply)
    return any(
        s["path"].endswith("explorer.ipynb") and s["kernel"]["execution_state"] == "idle"
        and s["kernel"].get("connections", 0) >= 1
        for s in sessions
    )


def _open_and_run_all(page, url: str, tmp_path) -> None:
    page.goto(f"{url}/{NOTEBOOK}")
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']",
                           timeout=TIMEOUT_MS)
    deadline = time.time() + TIMEOUT_MS / 1000
    while not _kernel_connected(url):  # Run All before the kernel is connected runs nothing
        assert time.time() < deadline, "the notebook's kernel did not connect"
        time.sleep(0.25)
    for attempt in range(1, 4):
        page.locator(".jp-NotebookPanel .jp-Cell").first.click()  # the notebook is current
        page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
        page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
        try:
            page.wait_for_selector(".explorer-app", timeout=APP_TIMEOUT_MS)
            break
        except PlaywrightTimeout:
            shot = tmp_path / f"no-app-{attempt}.png"
            page.screenshot(path=str(shot))
            print(f"run all cells: attempt {attempt} showed no app ({shot}); retrying")
    else:
        raise AssertionError("the app did not appear after three tries of Run All Cells")
    page.keyboard.press("Escape")
    _controls_fit_in_one_row(page, width=1280)  # with the file browser still open
    page.keyboard.press("Control+b")  # hide the file browser: a wider notebook


def _controls_fit_in_one_row(page, width: int) -> None:
    """At `width` px with JupyterLab's file browser open, the three control groups sit side
    by side (a wrapped group pushes the tabs down, below the fold)."""
    size = page.viewport_size
    page.set_viewport_size({"width": width, "height": size["height"]})
    try:
        groups = page.locator(".explorer-app .explorer-group")
        expect(groups).to_have_count(3, timeout=TIMEOUT_MS)
        assert page.locator("#filebrowser").is_visible(), "the file browser is not open"
        tops = [round(groups.nth(i).bounding_box()["y"]) for i in range(3)]
        widths = [round(groups.nth(i).bounding_box()["width"]) for i in range(3)]
        row = round(page.locator(".explorer-app").bounding_box()["width"])
        assert len(set(tops)) == 1, (f"control groups wrap at {width} px: tops {tops}, widths "
                                     f"{widths}, the app {row} px wide")
    finally:
        page.set_viewport_size(size)


def _set_int_text(page, control: str, value: int) -> None:
    box = page.locator(f".explorer-control-{control} input")
    box.fill(str(value))
    box.press("Enter")


def _set_slider(page, control: str, value: int) -> None:
    readout = page.locator(f".explorer-control-{control} .widget-readout")
    readout.click()
    page.keyboard.press("Control+a")
    page.keyboard.type(str(value))
    page.keyboard.press("Enter")


def _expect_diff(page, old: Config, new: Config, names: tuple[str, str]) -> None:
    added, removed = diff_counts(emit(old), emit(new))
    diff = page.locator(".explorer-diff")
    for text in (f"+{added}", f"−{removed}", *names):
        expect(diff).to_contain_text(text, timeout=TIMEOUT_MS)


def _expect_pass_on_sim(page, warps: int) -> None:
    status = page.locator(".explorer-run-status")
    expect(status).to_contain_text("PASS on sim (backend: sim)", timeout=TIMEOUT_MS)
    expect(status).to_contain_text(f"{warps} warps", timeout=TIMEOUT_MS)
    run = page.locator(".explorer-run")
    expect(run).to_contain_text("PASS", timeout=TIMEOUT_MS)
    expect(run).to_contain_text("sim", timeout=TIMEOUT_MS)


def _screenshots(page, tmp_path) -> list:
    paths = []
    app = page.locator(".explorer-app")
    page.evaluate("document.activeElement && document.activeElement.blur()")
    for title in TABS:
        clicked = time.perf_counter()
        page.locator(".lm-TabBar-tab", has_text=title).last.click()
        if title == "Warps":  # the figures are built when the tab is first shown
            expect(app.locator(WARPS_PLOTS)).to_have_count(4, timeout=TIMEOUT_MS)
            print(f"Warps view: first opened after a run, to 4 figures: "
                  f"{(time.perf_counter() - clicked) * 1e3:.0f} ms")
        if title == "Lanes":  # the warp is traced when the tab is first shown
            expect(app.locator(LANES_PLOT)).to_have_count(1, timeout=TIMEOUT_MS)
        time.sleep(0.5)  # let plotly finish laying out
        path = tmp_path / f"explorer-{title.lower()}.png"
        app.screenshot(path=str(path))
        paths.append(path)
    return paths


def _ms_until(page, condition, timeout_s: float = 60) -> float:
    """Milliseconds until `condition()` holds (polled every 20 ms)."""
    started = time.perf_counter()
    while not condition():
        assert time.perf_counter() - started < timeout_s, "timed out"
        time.sleep(0.02)
    return (time.perf_counter() - started) * 1e3


def _warps_follow_changes(page) -> dict[str, float]:
    """On the Warps tab: the figures name the current configuration, follow the q-head slider
    and a head_dim change (marked stale meanwhile). Returns the latencies seen."""
    app = page.locator(".explorer-app")
    plots = app.locator(WARPS_PLOTS)
    note = app.locator(".explorer-warps-note")
    page.locator(".lm-TabBar-tab", has_text="PTX").last.click()
    page.locator(".lm-TabBar-tab", has_text="Warps").last.click()
    seen = {"tab opened after a run, to 4 figures": _ms_until(page, lambda: plots.count() == 4)}
    expect(note).to_contain_text("head_dim 64", timeout=TIMEOUT_MS)
    expect(note).to_contain_text("8 warps", timeout=TIMEOUT_MS)
    title = app.locator(f"{WARPS_PLOTS} .gtitle").first
    _set_slider(page, "warps-head", 2)
    seen["q head 0 -> 2, to the new titles"] = _ms_until(
        page, lambda: "Head 2" in title.text_content())
    _set_int_text(page, "head-dim", 96)
    stale = app.locator(".explorer-stale")
    seen["head_dim 64 -> 96, to the old figures marked stale"] = _ms_until(
        page, lambda: stale.count() == 1 or "head_dim 96" in note.text_content())
    seen["head_dim 64 -> 96, to figures of head_dim 96"] = _ms_until(
        page, lambda: "head_dim 96" in note.text_content() and stale.count() == 0)
    expect(plots).to_have_count(4)
    assert "head_dim 96" in title.text_content()
    return seen


def _split_states_on_warps(page, tmp_path) -> None:
    """split-kv f16 on tensor cores: the Warps tab draws the splits' states (maxes, sums,
    merge weights) and the m16n8k16 fragment layout, named as the configuration they show."""
    app = page.locator(".explorer-app")
    page.locator(".lm-TabBar-tab", has_text="Warps").last.click()
    note = app.locator(".explorer-warps-note")
    expect(note).to_contain_text("split-kv", timeout=TIMEOUT_MS)
    expect(note).to_contain_text("f16", timeout=TIMEOUT_MS)
    expect(app.locator(WARPS_PLOTS)).to_have_count(4, timeout=TIMEOUT_MS)
    expect(app.locator(".explorer-stale")).to_have_count(0, timeout=TIMEOUT_MS)
    time.sleep(0.5)  # let plotly finish laying out
    path = tmp_path / "explorer-warps-split-kv.png"
    app.screenshot(path=str(path))
    print(f"screenshot: {path}")
    page.locator(".lm-TabBar-tab", has_text="PTX").last.click()


# In the page: when the Lanes tab is clicked, when its status line and lane table arrive and
# when plotly has drawn the heatmap of the lanes (its image is in the SVG).
LANES_WATCH_JS = """() => {
    const root = document.querySelector('.explorer-app'), seen = window.__lanes = {};
    const text = (css) => (root.querySelector(css) || {}).textContent || '';
    new MutationObserver(() => {
        const t = performance.now();
        if (!seen.status && text('.explorer-lanes-status').includes('traced')) seen.status = t;
        if (!seen.drawn && root.querySelector('.explorer-lanes-figure .heatmaplayer image'))
            seen.drawn = t;
    }).observe(root, {childList: true, subtree: true, characterData: true, attributes: true});
    for (const tab of document.querySelectorAll('.lm-TabBar-tab'))
        tab.addEventListener('click', () => { seen.click = seen.click || performance.now(); });
}"""
LANES_SEEN_JS = """() => { const s = window.__lanes;
    return {status: s.status - s.click, drawn: s.drawn - s.click}; }"""


def _lanes_of_the_default_kernel(page) -> dict[str, float]:
    """The Lanes tab first shown on the default configuration: its warp 0 traced and drawn.
    Returns the milliseconds from the click to the status line and to the drawn heatmap, as
    the page saw them, and the kernel's side from the status line."""
    app = page.locator(".explorer-app")
    page.evaluate(LANES_WATCH_JS)
    page.locator(".lm-TabBar-tab", has_text="Lanes").last.click()
    expect(app.locator(LANES_PLOT)).to_have_count(1, timeout=TIMEOUT_MS)
    page.wait_for_function("() => window.__lanes.drawn !== undefined", timeout=TIMEOUT_MS)
    seen = page.evaluate(LANES_SEEN_JS)
    print("Lanes view, the kernel's side:", app.locator(".explorer-lanes-status").text_content())
    expect(app.locator(".explorer-lanes-table")).to_contain_text("every shfl")
    expect(app.locator(".explorer-lanes-current-line")).to_have_count(1)
    page.locator(".lm-TabBar-tab", has_text="PTX").last.click()
    return seen


def _pasted_ptx_on_lanes(page, tmp_path) -> None:
    """"PTX file": paste nvcc's shuffles module, pick its butterfly-sum entry, run it on the
    simulator from the derived form, then step through its shuffle tree on the Lanes tab:
    each step moves the highlighted PTX line to the step's shfl."""
    app = page.locator(".explorer-app")
    page.locator(".explorer-control-kernel select").select_option("PTX file")
    source = app.locator(".explorer-ptx-source")
    expect(source).to_be_visible(timeout=TIMEOUT_MS)
    source.locator(".explorer-ptx-paste textarea").fill(SHUFFLES_PTX.read_text())
    source.locator("button", has_text="Open pasted").click()
    entry = source.locator(".explorer-ptx-entry select")
    expect(entry.locator("option", has_text="warp_sum_scan")).to_have_count(1,
                                                                          timeout=TIMEOUT_MS)
    status = page.locator(".explorer-run-status")
    for attempt in range(3):  # a choice made while the dropdown is re-rendered can be lost
        entry.select_option("warp_sum_scan")
        try:
            expect(status).to_contain_text("warp_sum_scan", timeout=TIMEOUT_MS // 6)
            break
        except AssertionError:
            print(f"entry choice not taken (attempt {attempt + 1}); choosing again")
    page.locator(".lm-TabBar-tab", has_text="Run").last.click()
    expect(status).to_contain_text("warp_sum_scan", timeout=TIMEOUT_MS)
    expect(status).to_contain_text("on sim", timeout=TIMEOUT_MS)
    page.locator(".lm-TabBar-tab", has_text="Lanes").last.click()
    expect(app.locator(LANES_PLOT)).to_have_count(1, timeout=TIMEOUT_MS)
    table, current = app.locator(".explorer-lanes-table"), app.locator(
        ".explorer-lanes-current-line")
    expect(table).to_contain_text("step 1 of 10 (every shfl)", timeout=TIMEOUT_MS)
    lines = [current.get_attribute("data-line")]
    for step in range(2, 6):  # the five butterfly steps: offsets 16, 8, 4, 2, 1
        app.locator(".explorer-lanes-next").click()
        expect(table).to_contain_text(f"step {step} of 10", timeout=TIMEOUT_MS)
        expect(current).not_to_have_attribute("data-line", lines[-1], timeout=TIMEOUT_MS)
        lines.append(current.get_attribute("data-line"))
        expect(current).to_contain_text("shfl.sync.bfly")
    assert len(set(lines)) == 5, f"the highlighted PTX line did not move: {lines}"
    time.sleep(0.5)  # let plotly finish laying out
    path = tmp_path / "explorer-lanes-pasted-ptx.png"
    app.screenshot(path=str(path))
    print(f"screenshot: {path}")


def test_explorer_in_jupyterlab(jupyter_lab, page, tmp_path):
    started = time.perf_counter()
    _open_and_run_all(page, jupyter_lab, tmp_path)
    ptx = page.locator(".explorer-ptx")
    expect(ptx).to_contain_text(f"smem[{shared_bytes(4, 128)}]", timeout=TIMEOUT_MS)
    page.locator(".explorer-control-backend button", has_text="sim").click()
    _expect_pass_on_sim(page, warps=4)
    lanes_ms = _lanes_of_the_default_kernel(page)

    new_names = ("previous: multi-warp · head_dim 128", "current: multi-warp · head_dim 64")
    page.evaluate(WATCH_JS, [".explorer-control-head-dim input", [
        [".explorer-ptx", f"smem[{shared_bytes(4, 64)}]"], [".explorer-diff", new_names[1]]]])
    _set_int_text(page, "head-dim", 64)
    expect(ptx).to_contain_text(f"smem[{shared_bytes(4, 64)}]", timeout=TIMEOUT_MS)
    expect(ptx).not_to_contain_text(f"smem[{shared_bytes(4, 128)}]")
    _expect_diff(page, Config(), Config(head_dim=64), new_names)
    round_trips = [page.evaluate(ROUND_TRIP_JS, pane) for pane in (".explorer-ptx",
                                                                   ".explorer-diff")]

    _set_slider(page, "num-warps", 8)
    expect(ptx).to_contain_text(f"smem[{shared_bytes(8, 64)}]", timeout=TIMEOUT_MS)
    _expect_diff(page, Config(head_dim=64), Config(head_dim=64, num_warps=8),
                 ("4 warps", "8 warps"))
    _expect_pass_on_sim(page, warps=8)

    page.locator(".lm-TabBar-tab", has_text="Resources").last.click()
    expect(page.locator(".explorer-resources")).to_contain_text("Occupancy estimate",
                                                                timeout=TIMEOUT_MS)
    for path in _screenshots(page, tmp_path):
        print(f"screenshot: {path}")

    warps_latency = _warps_follow_changes(page)

    page.locator(".lm-TabBar-tab", has_text="PTX").last.click()
    page.locator(".explorer-control-kernel select").select_option("split-kv")
    page.locator(".explorer-control-dtype select").select_option("f16")
    expect(ptx).to_contain_text("mma.sync.aligned.m16n8k16", timeout=TIMEOUT_MS)
    _split_states_on_warps(page, tmp_path)
    page.locator(".explorer-control-mma select").select_option("off")  # CUDA cores
    expect(ptx).to_contain_text("cvt.f32.f16", timeout=TIMEOUT_MS)
    expect(ptx).not_to_contain_text("mma.sync")

    _set_int_text(page, "head-dim", 300)  # out of range: an inline message, no traceback
    expect(ptx).to_contain_text("head_dim=300 is outside the accepted range 1..256",
                                timeout=TIMEOUT_MS)
    status = page.locator(".explorer-run-status")  # a configuration that cannot run: not FAIL
    expect(status).to_contain_text("not run: head_dim=300 is outside", timeout=TIMEOUT_MS)
    expect(status).not_to_contain_text("FAIL")
    expect(page.locator(".jp-OutputArea-output[data-mime-type="
                        "'application/vnd.jupyter.stderr']")).to_have_count(0)
    _pasted_ptx_on_lanes(page, tmp_path)
    print(f"Lanes view: first opened on the default kernel, to its status line: "
          f"{lanes_ms['status']:.0f} ms; to its warp 0 drawn: {lanes_ms['drawn']:.0f} ms")
    print("browser round trip of head_dim 128 -> 64, from Enter to the new PTX shown: "
          f"{round_trips[0]:.0f} ms; to the new diff shown: {round_trips[1]:.0f} ms")
    for what, ms in warps_latency.items():
        print(f"Warps view: {what}: {ms:.0f} ms")
    print(f"browser test took {time.perf_counter() - started:.1f} s")
