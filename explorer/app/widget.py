"""`Explorer`: the ipywidgets app. One call in a notebook displays it.

Controls on top; tabs PTX, Diff, Resources, Run, Warps and Lanes below (`TAB_TITLES`, one page each
from `_pages`). The kernel list's last choice, "PTX file", opens any PTX instead of our kernels
(`ptx_mode.PtxFileMode`, a source row under the controls; `Explorer.from_ptx`). A change goes
through `AppState.update`, which names the views to redraw: PTX, highlighting and diff are
redrawn at once, on the kernel's thread (the live path, measured in docs/app.md); ptxas and
nvdisasm run on a worker thread and fill the Resources tab a moment later (cached per
configuration); runs go on another worker, debounced, with a progress bar. Every view catches
its own errors and shows them inline.
"""

from __future__ import annotations

import time
from pathlib import Path

import ipywidgets as w

from ..ptx import sass
from . import render, resources, runner, theme
from .controls import Controls, labelled
from .diff import MODES
from .foreign import LaunchValues
from .foreign_session import ForeignState
from .jobs import Lane
from .lanes_view import LanesView
from .ptx_mode import PtxFileMode
from .state import PTX_FILE, VIEWS, AppState, Config, build_kernel, describe, ptx_problems
from .warps import WarpsView

RUN_DEBOUNCE_S = 0.4
TAB_TITLES = ("PTX", "Diff", "Resources", "Run", "Warps", "Lanes")


def _html(css_class: str) -> w.HTML:
    view = w.HTML(layout=w.Layout(width="100%"))
    view.add_class(css_class)
    return view


def export_folder(path: str | Path) -> Path:
    """Where an export goes, absolute: a relative path is taken from the repository root when
    the package runs from a checkout (the notebook's kernel runs in notebooks/), else from the
    current folder."""
    path = Path(path).expanduser()
    if path.is_absolute():
        return path
    root = Path(__file__).resolve().parents[2]
    base = root if (root / "pyproject.toml").is_file() and (root / "explorer").is_dir() else (
        Path.cwd())
    return base / path


class Explorer(w.VBox):
    """The explorer app: controls, live PTX/diff/resources, runs and warp plots.

    `Explorer()` starts from the default configuration (multi-warp, head_dim 128, 32 q heads,
    GQA ratio 4, 4 warps, max_seq_len 512, sm_80: `explorer.schema`'s, which the command line
    shares); pass a `Config` to start elsewhere.
    `auto_run` runs the kernel after each change (debounced); `threads=False` does all work
    inline (tests, headless runs). `Explorer.from_ptx(...)` opens on a PTX file instead.
    """

    RUN_DEBOUNCE_S = RUN_DEBOUNCE_S

    def __init__(self, config: Config | None = None, *, auto_run: bool = True,
                 threads: bool = True, ptx_file: ForeignState | None = None) -> None:
        super().__init__()
        self.add_class("explorer-app")
        self.state = AppState(config or Config())
        self.last_update_ms: float | None = None
        self.last_result: runner.RunResult | None = None
        self._kernel_drawn = False
        self._ptxas_lane = Lane("ptxas", threads)
        self._run_lane = Lane("run", threads)
        self.controls = Controls(self.state.config)
        self.controls.on_change(self._on_control)
        self.ptx_file = PtxFileMode(self)
        self._build_views(auto_run)
        self.children = self._layout()
        self._show_backend()
        if ptx_file is not None:  # open on a PTX file; the kernel's views are drawn on return
            self.ptx_file.state = ptx_file
            self.show_ptx_file()
        else:
            self._refresh(frozenset(VIEWS))
            self._kernel_drawn = True

    @classmethod
    def from_ptx(cls, text_or_path: str | Path, entry: str | None = None, *,
                 config: Config | None = None, auto_run: bool = True, threads: bool = True,
                 **form) -> Explorer:
        """The app on PTX text or a .ptx path, at `entry` (default: the module's first), with
        the run form's fields given as `form`: `args` (one word per parameter, as `run-ptx
        --arg` takes them), or parameters by name (`n=500`, `x="f32:500:randn"`), `grid`,
        `block`, `shared_bytes`, `backend` (auto, sim, cuda, both), `seed`. `config` is the
        kernel configuration the kernel list returns to. Raises ValueError naming the
        problem (unreadable PTX, an unknown entry or parameter, a wrong number of `args`)."""
        state = ForeignState()
        state.open(text_or_path, entry, **form)  # before any widget: a clear ValueError
        return cls(config, auto_run=auto_run, threads=threads, ptx_file=state)

    def open_ptx(self, text_or_path: str | Path, entry: str | None = None, **form) -> None:
        """Open PTX text or a path in PTX-file mode (switching to it), with `form` as
        `from_ptx` takes it. Raises ValueError naming the problem; the PTX open before, if
        any, stays."""
        self.ptx_file.state.open(text_or_path, entry, **form)
        self.ptx_file.state.target = None
        if self.mode == "ptx":
            self.ptx_file.after_open()
        else:
            self.show_ptx_file()

    @property
    def mode(self) -> str:
        """"kernel" (our kernels, the controls' configuration) or "ptx" (a PTX file)."""
        return "ptx" if self.ptx_file.active else "kernel"

    # ------------------------------------------------------------------ layout

    def _build_views(self, auto_run: bool) -> None:
        self.notes = _html("explorer-notes")
        self.ptx_view = _html("explorer-ptx")
        self.diff_view = _html("explorer-diff")
        self.resources_view = _html("explorer-resources")
        self.run_view = _html("explorer-run")
        self.status = _html("explorer-status")
        self.baseline = w.ToggleButtons(options=["previous", "pinned"],
                                        style={"button_width": "80px"},
                                        layout=w.Layout(width="auto"),
                                        tooltips=["the configuration before the last change",
                                                  "a configuration you pinned"])
        self.pin_button = w.Button(description="Pin current", icon="thumb-tack",
                                   layout=w.Layout(width="130px", margin="0 24px 0 6px"))
        self.diff_mode = w.ToggleButtons(options=list(MODES), style={"button_width": "110px"},
                                         layout=w.Layout(width="auto"))
        self.run_button = w.Button(description="Run", icon="play", button_style="primary")
        self.auto_run = w.Checkbox(value=auto_run, description="run on every change",
                                   indent=False, layout=w.Layout(width="190px"))
        self.progress = w.IntProgress(min=0, max=100, layout=w.Layout(width="180px",
                                                                      visibility="hidden"))
        self.run_status = _html("explorer-run-status")
        self.run_status.layout = w.Layout(width="auto")
        self.export_dir = w.Text(value="snapshots/explorer", description="export to",
                                 layout=w.Layout(width="330px"))
        self.export_button = w.Button(description="Export snapshot", icon="download",
                                      tooltip="a self-contained HTML page and PNGs",
                                      layout=w.Layout(width="170px", min_width="170px"))
        self.export_status = _html("explorer-export-status")
        self.export_status.layout = w.Layout(width="auto")
        self.warps = WarpsView()
        self.lanes = LanesView(threads=self._run_lane.threads)
        self._lanes_form: tuple | None = None  # (PTX text, run form) the Lanes tab traces
        self.kernel_views = {"PTX": self.ptx_view, "Diff": self.diff_view,
                             "Resources": self.resources_view, "Run": self.run_view,
                             "Warps": self.warps.box}
        self.baseline.observe(self._on_baseline, names="value")
        self.diff_mode.observe(lambda change: self._refresh_diff(), names="value")
        self.pin_button.on_click(self._on_pin)
        self.run_button.on_click(lambda _: self.run())
        self.export_button.on_click(lambda _: self.export())

    def _layout(self) -> list[w.Widget]:
        header = w.HTML(
            f'<div style="font-family:{theme.SANS};margin:2px 0 8px">'
            f'<span style="font-size:18px;font-weight:700;color:{theme.INK}">explorer</span>'
            f'<span style="font-size:13px;color:{theme.MUTED}"> — GQA decode attention at the '
            "level of warps and PTX: move a control and watch the PTX, its diff, its cost and "
            "its warps respond.</span></div>"
        )
        pages = self._pages()
        self.tabs = w.Tab(children=[pages[t] for t in TAB_TITLES], titles=list(TAB_TITLES))
        self.tabs.observe(self._on_tab, names="selected_index")
        footer = w.HBox([self.export_dir, self.export_button, self.export_status, self.status],
                        layout=w.Layout(align_items="center", margin="8px 0 0"))
        self.layout = w.Layout(border=f"1px solid {theme.BORDER}", padding="10px 14px")
        return [header, self.controls.box(), self.ptx_file.row.box, self.notes, self.tabs,
                footer]

    def _pages(self) -> dict[str, w.Widget]:
        """Each tab's page by title: the kernel mode's view and the PTX-file mode's, one of
        them shown (a tab that serves both modes with one view adds its page here, and its
        title to TAB_TITLES)."""
        self.kernel_diff_bar = w.HBox([labelled("diff against", self.baseline, "90px"),
                                       self.pin_button], layout=w.Layout(align_items="center"))
        diff_bar = w.HBox([self.kernel_diff_bar, self.ptx_file.diff_bar, self.diff_mode],
                          layout=w.Layout(align_items="center", margin="0 0 6px"))
        run_bar = w.HBox([self.run_button, self.auto_run, self.progress, self.run_status],
                         layout=w.Layout(align_items="center"))
        bars = {"Diff": [diff_bar], "Run": [run_bar]}
        pages = {t: w.VBox([*bars.get(t, []), self.kernel_views[t], self.ptx_file.views[t]])
                 for t in self.kernel_views}
        return pages | {"Lanes": self.lanes.box}  # one view for both modes

    # ------------------------------------------------------------------ events

    def _on_control(self, name: str, value: object) -> None:
        try:
            if name == "kernel" and value == PTX_FILE:
                self.show_ptx_file()
            elif self.mode == "ptx" and name == "target":
                self.ptx_file.set_target(value)
            elif self.mode == "ptx" and name == "kernel":
                self.show_kernel(value)
            elif self.mode == "kernel":
                self.change(**{name: value})
        except Exception as err:  # the last guard: an inline message, never a traceback
            self.notes.value = theme.message(
                f"Could not apply {name}={value!r}: {type(err).__name__}: {err}", "error")

    def show_ptx_file(self) -> None:
        """Switch to the PTX-file mode (the kernel's views and configuration are kept)."""
        self._run_lane.new_generation()  # a kernel run in flight draws nothing now
        self._ptxas_lane.new_generation()
        self.ptx_file.show(True)
        for view in self.kernel_views.values():
            view.layout.display = "none"
        self.kernel_diff_bar.layout.display = "none"
        self.warps.show(False)
        self.notes.value = ""
        self.controls.show_ptx_file(self.ptx_file.target())
        if self.ptx_file.state.source is not None:
            self.ptx_file.after_open()
        else:
            self.ptx_file.refresh({"PTX", "Diff", "Resources", "Run"})

    def show_kernel(self, kernel: str | None = None) -> None:
        """Back to the kernel mode, as it was left; then to `kernel` if it is another one."""
        self.ptx_file.show(False)
        for view in self.kernel_views.values():
            view.layout.display = None
        self.kernel_diff_bar.layout.display = None
        self.controls.show(self.state.config)
        self._show_backend()
        self._on_tab({"new": self.tabs.selected_index})
        self.follow_lanes()
        if kernel is not None and kernel != self.state.config.kernel:
            self.change(kernel=kernel)
        elif not self._kernel_drawn:
            self._refresh(frozenset(VIEWS))
        else:  # what was dropped while away: cached ptxas, and a run if one was due
            self._refresh_resources()
            if self.last_result is None or self.last_result.config != self.state.config:
                self._config_changed_for_runs()
            else:
                self._set_run_status(f"{self.last_result.verdict} · "
                                     f"{describe(self.state.config)}")
        self._kernel_drawn = True

    def change(self, **changes) -> frozenset[str]:
        """Change controls programmatically (as the widgets do); returns the views redrawn.
        The live path: state update, then PTX, diff and the Resources placeholder."""
        started = time.perf_counter()
        update = self.state.update(**changes)
        if self.mode == "ptx":  # the kernel the PTX file is diffed against; drawn on return
            self._kernel_drawn = False
            self.ptx_file.refresh({"Diff"})
            return update.views
        self.controls.show(update.config)
        self.notes.value = "".join(theme.message(n, "warn") for n in update.notes)
        self._refresh(update.views)
        self.last_update_ms = (time.perf_counter() - started) * 1e3
        self.status.value = (f'<span style="{theme.NOTE}">live update '
                             f"{self.last_update_ms:.0f} ms</span>")
        if "backend" in changes:
            self._show_backend()
        return update.views

    def _refresh_diff(self) -> None:
        if self.mode == "ptx":
            self.ptx_file.refresh({"Diff"})
        else:
            self._refresh(frozenset({"diff"}))

    def _on_tab(self, change) -> None:
        self.warps.show(self.mode == "kernel" and change["new"] == TAB_TITLES.index("Warps"))
        shown = change["new"] == TAB_TITLES.index("Lanes")
        if shown:
            self.follow_lanes(shown=True)
        self.lanes.show(shown)

    def follow_lanes(self, shown: bool | None = None) -> None:
        """Point the Lanes tab at what runs now (it traces only while shown): the
        configuration's kernel, or the PTX file's launch as its run form makes it. The
        launch's arrays are made only while the tab is shown, once per source and form."""
        if self.mode == "kernel":
            self._lanes_form = None
            self.lanes.show_config(self.state.config)
            return
        state = self.ptx_file.state
        form = (state.source.text if state.source else None, state.form)
        if not (self.lanes.visible if shown is None else shown) or form == self._lanes_form:
            return  # a form change while the tab is hidden is picked up when it is shown
        self._lanes_form = form
        launch = self.ptx_file.current_launch()
        if launch is None:
            self.lanes.clear("Open a PTX and fill its run form to trace a warp: the Lanes "
                             "tab traces the launch the Run tab runs.")
        else:
            self.lanes.show_launch(*launch)

    def _on_baseline(self, change) -> None:
        if change["new"] == "pinned" and self.state.pinned is None:
            self.state.pin()
        else:
            self.state.set_baseline_mode(change["new"])
        self._refresh(frozenset({"diff"}))

    def _on_pin(self, _button=None) -> None:
        self.state.pin()
        self.baseline.value = "pinned"
        self._refresh(frozenset({"diff"}))

    def _show_backend(self) -> None:
        backend, why = runner.resolve_backend(self.state.config.backend)
        self.controls.set_backend_note(f"{backend}: {why}")

    # ------------------------------------------------------------------ views

    def _refresh(self, views: frozenset[str]) -> None:
        if "ptx" in views:
            self._safe(self.ptx_view, "PTX", lambda: render.ptx_pane(self.state.config))
        if "diff" in views:
            self._safe(self.diff_view, "Diff",
                       lambda: render.diff_pane(self.state, self.diff_mode.value))
        if "resources" in views:
            self._refresh_resources()
        if views & {"run", "warps"}:
            self._config_changed_for_runs()
            self.follow_lanes()

    @staticmethod
    def _safe(view: w.HTML, name: str, draw) -> None:
        try:
            view.value = draw()
        except Exception as err:  # an inline message, never a traceback
            view.value = theme.message(f"The {name} view failed: {type(err).__name__}: {err}",
                                       "error")

    def _refresh_resources(self) -> None:
        """ptxas' report on the worker (about 30 ms), then the SASS (nvdisasm, about 0.3 s):
        each drawn as it comes, unless the configuration changed meanwhile."""
        config = self.state.config
        problems = ptx_problems(config)
        if problems:
            self.resources_view.value = render.problems_html(problems)
            return
        kernel = build_kernel(config)
        ptx = render.emit(config)
        full = resources.cached(ptx, kernel.entry, config.target)
        if full is not None:
            self._safe(self.resources_view, "Resources", lambda: resources.render(full, kernel))
            return
        quick = resources.cached(ptx, kernel.entry, config.target, with_sass=False)
        self.resources_view.value = (resources.render(quick, kernel, sass_pending=True)
                                     if quick else resources.pending(config.target))
        generation = self._ptxas_lane.new_generation()

        def job() -> None:
            for with_sass in (False, True):
                if not self._ptxas_lane.is_current(generation):
                    return
                found = resources.collect(ptx, kernel.entry, config.target, with_sass)
                if self._ptxas_lane.is_current(generation):
                    pending = not with_sass and sass.find_nvdisasm() is not None
                    self._safe(self.resources_view, "Resources",
                               lambda found=found, pending=pending: resources.render(
                                   found, kernel, sass_pending=pending))

        self._ptxas_lane.submit(job)

    # ------------------------------------------------------------------ runs

    def _config_changed_for_runs(self) -> None:
        self._run_lane.new_generation()
        if self.auto_run.value:
            self.run_status.value = f'<span style="{theme.NOTE}">configuration changed…</span>'
            self.warps.pending(self.state.config)  # the figures on screen are now stale
            self._run_lane.debounce(RUN_DEBOUNCE_S, self._run_job)
        elif self.last_result is not None:
            self.run_status.value = (f'<span style="{theme.NOTE}">configuration changed: '
                                     "press Run</span>")

    def run(self) -> None:
        """Run the current configuration on its backend, or in PTX-file mode the run form
        (on the run worker)."""
        if self.mode == "ptx":
            self.ptx_file.run()
            return
        self._run_lane.new_generation()
        self._run_lane.submit(self._run_job)

    def _run_job(self) -> None:
        generation = self._run_lane.generation
        config = self.state.config
        backend, _ = runner.resolve_backend(config.backend)
        self.progress.layout.visibility = "visible"
        self.progress.value = 0
        self._set_run_status(f"running on {backend}…")
        self.warps.pending(config)
        try:
            result = runner.run(config, progress=self._progress)
        except Exception as err:  # runner reports errors itself; this is the last guard
            result = runner.RunResult(config, errors=[f"{type(err).__name__}: {err}"])
        if not self._run_lane.is_current(generation):
            return  # a newer configuration is queued; its run will draw
        self.last_result = result
        self._safe(self.run_view, "Run", lambda: render.run_pane(result))
        self.warps.update(result)
        self.progress.layout.visibility = "hidden"
        if result.not_run:
            self._set_run_status(f"not run: {result.not_run}")
        else:
            self._set_run_status(f"{result.verdict} on {result.backend or backend} (backend: "
                                 f"{config.backend}) in {result.seconds:.2f} s · "
                                 f"{describe(config)}")

    def _progress(self, step: str, fraction: float) -> None:
        self.progress.value = int(fraction * 100)
        self._set_run_status(step + "…" if fraction < 1 else step)

    def _set_run_status(self, text: str) -> None:
        self.run_status.value = f'<span style="{theme.NOTE}">{theme.esc(text)}</span>'

    # ------------------------------------------------------------------ export and text

    def export(self, out_dir: str | Path | None = None) -> None:
        """Write the snapshot (HTML page and PNGs) of the current state, on the run worker; in
        PTX-file mode the page of the PTX (form, PTX, diff, resources, run)."""
        target = export_folder(out_dir or self.export_dir.value or "snapshots/explorer")
        self.export_status.value = (f'<span style="{theme.NOTE}">exporting to '
                                    f"{theme.esc(str(target))}…</span>")

        def job() -> None:
            from . import snapshot

            try:
                if self.mode == "ptx":
                    written = snapshot.write_ptx_file(self.ptx_file.state, self.state.config,
                                                      target, self.diff_mode.value,
                                                      self.ptx_file.target())
                else:
                    written = snapshot.write(self.state, self.last_result, target,
                                             self.diff_mode.value)
                text = f"wrote {len(written)} files to {target}"
                self.export_status.value = f'<span style="{theme.NOTE}">{theme.esc(text)}</span>'
            except Exception as err:  # shown inline
                self.export_status.value = theme.message(
                    f"Export failed: {type(err).__name__}: {err}", "error")

        self._run_lane.submit(job)

    def current_launch(self) -> LaunchValues | None:
        """What runs now, with its argument values: in PTX-file mode the run form's launch
        (its arrays made from the form's seed), in kernel mode the configuration's first
        launch (random q, k, v as a run makes them); None where nothing can run (no PTX
        open, a field or control the launch cannot take)."""
        if self.mode == "ptx":
            return self.ptx_file.current_launch()
        try:
            return runner.kernel_launch(self.state.config)
        except ValueError:
            return None

    def summary(self) -> str:
        """The current configuration and its kernel's entry signature, as plain text."""
        config = self.state.config
        problems = ptx_problems(config)
        if problems:
            return describe(config) + "\n" + "\n".join(problems)
        ptx = render.emit(config)
        start = ptx.index(".visible .entry")
        signature = ptx[start:ptx.index(")", start) + 1]
        return f"{describe(config)}\n{signature}"

    def close(self) -> None:
        self._ptxas_lane.close()
        self._run_lane.close()
        self.lanes.close()
        super().close()
