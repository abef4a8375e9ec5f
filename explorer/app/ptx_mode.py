"""The app's "PTX file" mode: its views (one HTML pane per tab, shown instead of the kernel's),
its diff bar, the source row, and the work behind them: ptxas on the app's ptxas lane, runs on
its run lane with the same progress bar and status line as kernel runs.

`Explorer` owns one `PtxFileMode` and switches to it when "PTX file" is picked in the kernel
list; the kernel's views are left as they were, so switching back shows them unchanged. The
state is `foreign_session.ForeignState` (widget-free); the HTML is `foreign_panes`'.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import ipywidgets as w

from ..ptx import sass
from . import foreign_panes, foreign_session, resources, theme
from .foreign import LaunchValues
from .foreign_session import BASELINES, ForeignState
from .ptx_form import PtxSourceRow

if TYPE_CHECKING:
    from .widget import Explorer

TABS = ("PTX", "Diff", "Resources", "Run", "Warps")


def _html(css_class: str) -> w.HTML:
    view = w.HTML(layout=w.Layout(width="100%", display="none"))
    view.add_class(css_class)
    return view


class PtxFileMode:
    """The PTX-file mode of one `Explorer`: `views` by tab title, `diff_bar`, `row`."""

    def __init__(self, app: Explorer) -> None:
        self.app = app
        self.state = ForeignState()
        self.active = False
        self.row = PtxSourceRow()
        self.views = {t: _html(f"explorer-ptx-file-{t.lower()}") for t in TABS}
        self.baseline = w.ToggleButtons(options=list(BASELINES), style={"button_width": "100px"},
                                        layout=w.Layout(width="auto"),
                                        tooltips=["our kernel at the configuration of the "
                                                  "controls when you left kernel mode",
                                                  "a PTX you pinned"])
        self.pin_button = w.Button(description="Pin this PTX", icon="thumb-tack",
                                   tooltip="compare the next PTX you open against this one",
                                   layout=w.Layout(width="130px", margin="0 24px 0 6px"))
        self.diff_bar = w.HBox([self.baseline, self.pin_button],
                               layout=w.Layout(align_items="center", display="none"))
        self.baseline.observe(self._on_baseline, names="value")
        self.pin_button.on_click(lambda _: self.pin())
        self.row.on_open = self._on_open
        self.row.on_entry = self._on_entry
        self.row.on_form = self._on_form
        self.views["Warps"].value = foreign_panes.warps_pane()

    # ------------------------------------------------------------------ mode

    def show(self, shown: bool) -> None:
        """Show this mode's row, views and diff bar (or hide them)."""
        self.active = shown
        self.row.visible(shown)
        display = "flex" if shown else "none"
        self.diff_bar.layout.display = display
        for view in self.views.values():
            view.layout.display = "block" if shown else "none"

    def target(self) -> str:
        return self.state.target_for(self.app.state.config.target)

    # ------------------------------------------------------------------ events

    def open(self, text_or_path: str | Path) -> None:
        """Open PTX text or a path (ValueError naming the problem), then redraw."""
        self.state.open(text_or_path)
        self.state.target = None  # the new PTX's own .target, until one is chosen
        self.after_open()

    def after_open(self) -> None:
        source = self.state.source
        self.row.show(source, self.state.form)
        if self.active:
            self.app.controls.show_ptx_file(self.target())
        self.row.say(f'<span style="{theme.NOTE}">opened {theme.esc(source.name)}: '
                     f"{len(source.entries)} entr{'y' if len(source.entries) == 1 else 'ies'}"
                     "</span>")
        self.refresh(set(TABS))

    def _on_open(self, text: str) -> None:
        try:
            self.open(text)
        except ValueError as err:
            self.row.say(theme.message(str(err), "error"))
            self.refresh({"PTX"})

    def _on_entry(self, entry: str) -> None:
        self._guard(lambda: self.state.choose_entry(entry))
        self.row.show(self.state.source, self.state.form)
        self.refresh(set(TABS))

    def _on_form(self, form) -> None:
        self.state.form = form.replace(seed=self.state.form.seed if self.state.form else 0)
        problems = self.state.form.problems(self.state.source)
        self.row.say("".join(theme.message(p, "warn") for p in problems))
        self.refresh({"Resources", "Run"})

    def set_target(self, target: str) -> None:
        self.state.target = target
        self.refresh({"Resources"})

    def _on_baseline(self, change) -> None:
        self.state.baseline = change["new"]
        self.refresh({"Diff"})

    def pin(self) -> None:
        self._guard(self.state.pin)
        self.baseline.value = BASELINES[1]
        self.refresh({"Diff"})

    def _guard(self, action) -> None:
        try:
            action()
        except ValueError as err:  # an inline message, never a traceback
            self.row.say(theme.message(str(err), "error"))

    # ------------------------------------------------------------------ views

    def refresh(self, tabs: set[str]) -> None:
        safe = self.app._safe
        source, entry, problem = self.state.source, self.state.entry, self.state.problem
        if "PTX" in tabs:
            note = theme.message(problem, "error") if problem and source else ""
            safe(self.views["PTX"], "PTX", lambda: note + foreign_panes.ptx_pane(
                source, entry, "" if source else problem))
        if "Diff" in tabs:
            safe(self.views["Diff"], "Diff", self._diff_html)
        if "Resources" in tabs:
            self._refresh_resources()
        if "Run" in tabs:
            self._changed_for_runs()
            self.app.follow_lanes()  # the Lanes tab traces the launch the Run tab runs

    def _diff_html(self) -> str:
        return foreign_panes.state_diff(self.state, self.app.state.config,
                                        self.app.diff_mode.value)

    def _refresh_resources(self) -> None:
        view, source, form = self.views["Resources"], self.state.source, self.state.form
        if source is None or form is None:
            view.value = theme.message("No PTX open yet.", "info")
            return
        ptx, entry, target = source.text, form.entry, self.target()
        full = resources.cached(ptx, entry, target)
        if full is not None:
            self.app._safe(view, "Resources", lambda: foreign_panes.resources_pane(full, form))
            return
        view.value = resources.pending(target)
        lane = self.app._ptxas_lane
        generation = lane.new_generation()

        def job() -> None:
            for with_sass in (False, True):
                if not lane.is_current(generation):
                    return
                found = resources.collect(ptx, entry, target, with_sass)
                pending = not with_sass and sass.find_nvdisasm() is not None
                if lane.is_current(generation):
                    self.app._safe(view, "Resources",
                                   lambda found=found, pending=pending:
                                   foreign_panes.resources_pane(found, form, pending))

        lane.submit(job)

    # ------------------------------------------------------------------ runs

    def _changed_for_runs(self) -> None:
        lane = self.app._run_lane
        lane.new_generation()
        if self.state.source is None:
            self.views["Run"].value = theme.message("No PTX open yet: paste or load one.",
                                                    "info")
            self.app._set_run_status("PTX file: paste or load PTX")
        elif self.app.auto_run.value:
            self.app._set_run_status("run form changed…")
            lane.debounce(self.app.RUN_DEBOUNCE_S, self.run_job)
        else:
            self.app._set_run_status("run form changed: press Run")

    def run(self) -> None:
        lane = self.app._run_lane
        lane.new_generation()
        lane.submit(self.run_job)

    def run_job(self) -> None:
        app, source, form = self.app, self.state.source, self.state.form
        if source is None or form is None:
            self.views["Run"].value = foreign_panes.run_pane(None)
            return
        generation = app._run_lane.generation
        app.progress.layout.visibility = "visible"
        app.progress.value = 0
        app._set_run_status(f"running {form.entry}…")
        try:
            result = foreign_session.run(source, form, progress=app._progress)
        except Exception as err:  # run() reports errors itself; this is the last guard
            result = foreign_session.ForeignRun(source.name, form, not_run=f"{err}",
                                                errors=[f"{type(err).__name__}: {err}"])
        if not app._run_lane.is_current(generation):
            return  # a newer form is queued; its run will draw
        self.state.result = result
        app._safe(self.views["Run"], "Run", lambda: foreign_panes.run_pane(result))
        app.progress.layout.visibility = "hidden"
        if result.not_run:
            app._set_run_status(f"not run: {result.not_run}")
        else:
            app._set_run_status(f"{result.verdict} on {' and '.join(result.backends)} in "
                                f"{result.seconds:.2f} s · {form.entry} ({source.name})")

    def current_launch(self) -> LaunchValues | None:
        if self.state.source is None or self.state.form is None:
            return None
        try:
            return foreign_session.launch_values(self.state.source, self.state.form)
        except ValueError:
            return None
