"""The Lanes tab: one warp's trace, lane by lane, stepped through with its PTX line.

`LanesView` wraps `lanes.py` in widgets: CTA, warp and launch pickers, a choice of register
(or every shfl, every step), a step slider with |< < > >| buttons and a go-to-line box; the
lanes of a window of steps as a plotly figure (a MIME bundle in an `Output`, as the Warps tab
draws, not a FigureWidget), the current step's 32 lanes as a table and the PTX around its
line. It traces lazily: only while the tab is shown and when the source, CTA, warp or launch
changed, on a worker thread with a status line (inline with `threads=False`). A step inside
the drawn window only moves the figure's marker; nothing is traced or rebuilt. Every problem
is an inline message.
"""

from __future__ import annotations

import time

import ipywidgets as w

from . import theme
from .jobs import Lane
from .lanes import (
    EVERY_STEP,
    WINDOW,
    LaneSelection,
    LaneTrace,
    problem,
    section_summary,
    trace_for_config,
    trace_for_launch,
)
from .lanes_draw import lane_table, lanes_figure, marker_at, ptx_excerpt
from .state import Config, build_kernel, describe, ptx_key
from .warps import PLOTLY_MIME, mime_output

NO_SOURCE = "Choose a kernel, or open PTX and fill its run form, to trace a warp."
WIDE_LABEL = {"description_width": "initial"}  # "warp 0..15" in full
# Font Awesome icons (JupyterLab ships them): the Unicode media glyphs are missing from
# common browser fonts and showed as empty boxes
BUTTONS = (("first", "fast-backward", "first step"), ("prev", "step-backward", "previous step"),
           ("next", "step-forward", "next step"), ("last", "fast-forward", "last step"))


def _classed(widget, name: str):
    widget.add_class(f"explorer-lanes-{name}")
    return widget


class LanesView:
    """The Lanes tab (`box`). `show_config(config)` or `show_launch(...)` sets what is traced,
    `show(visible)` says whether the tab is on screen. `trace_seconds` and `ready_seconds`
    (from the request to the figure on screen) time the last trace, for docs/app.md."""

    def __init__(self, threads: bool = True, window: int = WINDOW) -> None:
        self.window = window
        self._lane = Lane("lanes", threads)
        self.source: tuple | None = None  # ("config", Config) or ("launch", dict of args)
        self.visible = False
        self.lane_trace: LaneTrace | None = None
        self.selection: LaneSelection | None = None
        self.figure = None  # the go.Figure of the drawn window
        self.drawn: tuple | None = None  # (start, stop, choice) of that figure
        self._bundle: dict | None = None
        self._traced_key: tuple | None = None
        self._chosen: str | None = None  # the user's choice of steps; None: the default
        self._syncing = False  # set while the code moves a control: no callback then
        self._hold = False  # set while a new trace is put on screen: the figure goes last
        self._requested = 0.0
        self.trace_seconds: float | None = None
        self.ready_seconds: float | None = None
        self._build()

    # ------------------------------------------------------------------ widgets

    def _build(self) -> None:
        self.status = _classed(w.HTML(), "status")
        self.sections = _classed(w.HTML(), "sections")
        self.note = _classed(w.HTML(), "note")
        self.cta = _classed(w.IntText(0, description="CTA", style=WIDE_LABEL,
                                      layout=w.Layout(width="170px")), "cta")
        self.warp = _classed(w.IntText(0, description="warp", style=WIDE_LABEL,
                                       layout=w.Layout(width="170px")), "warp")
        self.launch = _classed(w.Dropdown(options=[("launch 0", 0)], value=0,
                                          description="launch"), "launch")
        self.launch.layout.display = "none"
        self.register = _classed(w.Dropdown(options=[EVERY_STEP], value=EVERY_STEP,
                                            description="show"), "register")
        self.slider = _classed(w.IntSlider(0, min=0, max=0, description="step",
                                           continuous_update=False, readout=False,
                                           layout=w.Layout(width="420px")), "step")
        self.buttons = {}
        for name, icon, tip in BUTTONS:
            button = _classed(w.Button(description="", icon=icon, tooltip=tip,
                                       layout=w.Layout(width="42px")), name)
            button.on_click(lambda _, move=name: self._move(move))
            self.buttons[name] = button
        self.line = _classed(w.IntText(1, description="PTX line",
                                       layout=w.Layout(width="170px")), "line")
        self.goto = _classed(w.Button(description="go to line", layout=w.Layout(width="100px")),
                             "goto")
        self.goto.on_click(lambda _: self._go_to_line())
        self.caption = _classed(w.HTML(), "caption")
        self.figure_out = _classed(w.Output(), "figure")
        self.table = _classed(w.HTML(), "table")
        self.ptx = _classed(w.HTML(layout=w.Layout(width="100%")), "ptx")
        for picker in (self.cta, self.warp, self.launch):
            picker.observe(lambda _: self._on_picker(), names="value")
        self.register.observe(lambda change: self._on_register(change["new"]), names="value")
        self.slider.observe(lambda change: self._on_step(change["new"]), names="value")
        pickers = w.HBox([self.cta, self.warp, self.launch, self.register])
        stepper = w.HBox([*self.buttons.values(), self.slider, self.line, self.goto])
        self.box = _classed(w.VBox([self.status, self.sections, pickers, stepper, self.note,
                                    self.caption, self.figure_out, w.HBox([self.table]),
                                    self.ptx]), "tab")
        self.box.add_class("explorer-lanes")
        self.status.value = theme.message(NO_SOURCE)

    # ------------------------------------------------------------------ what is traced

    def show_config(self, config: Config) -> None:
        """Trace `config`'s kernel (when the tab is shown); its launches fill the picker."""
        try:
            names = [one.entry for one in build_kernel(config).launches()]
        except ValueError:
            names = []  # the trace names the problem
        self._set_launches(names)
        self._set_source(("config", config), ("config", ptx_key(config), config.seq_len))

    def show_launch(self, ptx: str, entry: str, grid, block, args, shared_bytes: int = 0) -> None:
        """Trace one launch of any PTX, `args` in parameter order (the run form's)."""
        self._set_launches([entry])
        launch = dict(ptx=ptx, entry=entry, grid=grid, block=block, args=list(args),
                      shared_bytes=shared_bytes)
        key = ("launch", ptx, entry, str(grid), str(block), tuple(map(id, args)), shared_bytes)
        self._set_source(("launch", launch), key)

    def clear(self, message: str = NO_SOURCE) -> None:
        """Nothing to trace (no PTX open, a form the launch cannot take): say so, drop the
        last trace."""
        self._lane.new_generation()
        self.source = self._source_key = self._traced_key = None
        self.lane_trace = self.selection = self.figure = self.drawn = None
        self.figure_out.outputs = ()
        self.caption.value = self.table.value = self.note.value = self.ptx.value = ""
        self.sections.value = ""
        self.status.value = theme.message(message)

    def show(self, visible: bool) -> None:
        """The Lanes tab was selected (True) or left (False)."""
        self.visible = visible
        self._refresh()

    def _set_launches(self, names: list[str]) -> None:
        options = [(f"{i}: {n}", i) for i, n in enumerate(names)] or [("launch 0", 0)]
        self._syncing = True
        try:
            if list(self.launch.options) != options:
                self.launch.options, self.launch.value = options, 0
        finally:
            self._syncing = False
        self.launch.layout.display = "" if len(names) > 1 else "none"

    def _set_source(self, source: tuple, key: tuple) -> None:
        self.source, self._source_key = source, key
        self._refresh()

    def _key(self) -> tuple:
        return (self._source_key, self.cta.value, self.warp.value, self.launch.value)

    def _on_picker(self) -> None:
        if not self._syncing:
            self._refresh()

    def _refresh(self) -> None:
        """Trace now if the tab is shown and what it would show changed."""
        if not self.visible or self.source is None or self._traced_key == self._key():
            return
        key, source = self._key(), self.source
        self._traced_key, self._requested = key, time.perf_counter()
        generation = self._lane.new_generation()
        cta, warp, launch = self.cta.value, self.warp.value, self.launch.value
        self.status.value = theme.message(f"Tracing warp {warp} of CTA {cta} of "
                                          f"{self._source_name(source)}…")
        self._lane.submit(lambda: self._trace(generation, source, cta, warp, launch))

    @staticmethod
    def _source_name(source: tuple) -> str:
        return describe(source[1]) if source[0] == "config" else source[1]["entry"]

    def _trace(self, generation: int, source: tuple, cta: int, warp: int, launch: int) -> None:
        """On the worker: trace, select, draw; then show it unless a newer request came."""
        try:
            if source[0] == "config":
                lt = trace_for_config(source[1], cta=cta, warp=warp, launch=launch)
            else:
                lt = trace_for_launch(**source[1], cta=cta, warp=warp)
            selection, note = self._selection_for(lt)
            drawn = self._figure_of(selection)
        except Exception as err:  # shown inline, never a traceback
            if self._lane.is_current(generation):
                self._show_failure(source, err)
            return
        if self._lane.is_current(generation):
            self._show_trace(lt, selection, drawn, note)

    def _selection_for(self, lt: LaneTrace) -> tuple[LaneSelection, str]:
        """A selection of the new trace keeping the register shown, where the warp writes it;
        else its default, with the reason."""
        chosen = self._chosen
        selection = LaneSelection(lt.trace, size=self.window)
        if chosen is None or chosen == selection.choice:
            return selection, ""
        try:
            selection.select(chosen)
        except ValueError as err:
            return selection, f"{err}; showing {selection.choice}"
        return selection, ""

    # ------------------------------------------------------------------ drawing

    def _figure_of(self, selection: LaneSelection) -> tuple:
        start, stop = selection.window()
        fig = lanes_figure(selection, start, stop)
        return fig, mime_output(fig), (start, stop, selection.choice)

    def _show_trace(self, lt: LaneTrace, selection: LaneSelection, drawn: tuple,
                    note: str) -> None:
        self.lane_trace, self.selection = lt, selection
        t = lt.trace
        self._syncing = True
        try:
            self.register.options = selection.choices
            self.register.value = selection.choice
            self.slider.max = max(0, selection.count - 1)
            self.slider.value = selection.current
        finally:
            self._syncing = False
        self.cta.description = f"CTA 0..{lt.ctas - 1}"
        self.warp.description = f"warp 0..{lt.warps - 1}"
        notes = [n for n in (note, *lt.notes()) if n]
        self.note.value = "".join(theme.message(n, "warn") for n in notes)
        self.figure, self._bundle, self.drawn = drawn
        self._hold = True  # the figure is sent once, below
        try:
            self._show_step()
        finally:
            self._hold = False
        self.trace_seconds = lt.seconds
        self.ready_seconds = time.perf_counter() - self._requested
        self.status.value = (
            f'<span style="{theme.NOTE}">{theme.esc(lt.label)} · warp {t.warp} of CTA '
            f"{t.cta} ({t.threads} threads) · {len(t):,} steps · traced in {lt.seconds:.2f} s, "
            f"shown in {self.ready_seconds:.2f} s</span>")
        self.sections.value = (f'<span style="{theme.NOTE}">'
                               f"{theme.esc(section_summary(t, lt.ptx))}</span>")
        # the figure last: the browser draws it in one blocking call, so the status, the
        # lane table and the PTX line (small messages) come first
        self.figure_out.outputs = (self._bundle,)

    def _show_failure(self, source: tuple, err: Exception) -> None:
        self.lane_trace = self.selection = self.figure = self.drawn = None
        self.figure_out.outputs = ()
        self.caption.value = self.table.value = self.sections.value = ""
        self.status.value = theme.message(problem(err), "error")
        self.note.value = ""
        line = getattr(err, "line", None)
        self.ptx.value = ptx_excerpt(self._ptx_of(source), line) if line else ""

    @staticmethod
    def _ptx_of(source: tuple) -> str:
        if source[0] == "launch":
            return source[1]["ptx"]
        return build_kernel(source[1]).program(source[1].target).ptx

    def _put_figure(self, drawn: tuple) -> None:
        self.figure, self._bundle, self.drawn = drawn
        self._send_figure()

    def _send_figure(self) -> None:
        if not self._hold:
            self.figure_out.outputs = (self._bundle,)

    def _show_step(self) -> None:
        """The current step: the marker (or a new window), the lane table, the PTX."""
        sel = self.selection
        if sel is None:
            return
        start, stop, choice = self.drawn or (0, 0, None)
        if choice != sel.choice or not start <= sel.current < stop:
            self._put_figure(self._figure_of(sel))
            start = self.drawn[0]
        else:
            self._move_marker(sel.current - start)
        step = sel.step
        self.caption.value = (
            f'<span style="{theme.NOTE}">step {sel.current + 1:,} of {sel.count:,} '
            f"({theme.esc(sel.choice)})</span>")
        self.table.value = lane_table(sel)
        if step is not None and step.line is not None:
            self.line.value = step.line  # the box starts from the line shown
        self.ptx.value = ptx_excerpt(self.lane_trace.ptx, step.line if step else None)

    def _move_marker(self, row: int) -> None:
        bundle = self._bundle
        data = {**bundle["data"], PLOTLY_MIME: marker_at(bundle["data"][PLOTLY_MIME], row)}
        self._bundle = {**bundle, "data": data}
        self._send_figure()

    # ------------------------------------------------------------------ controls

    def _on_register(self, choice: str) -> None:
        if self._syncing or self.selection is None:
            return
        try:
            self.selection.select(choice)
        except ValueError as err:
            self.note.value = theme.message(str(err), "warn")
            self._syncing = True
            try:
                self.register.value = self.selection.choice
            finally:
                self._syncing = False
            return
        self._chosen = choice
        self.note.value = ""
        self._sync_slider()
        self._show_step()

    def _on_step(self, position: int) -> None:
        if self._syncing or self.selection is None:
            return
        self.selection.go_to(position)
        self._show_step()

    def _move(self, move: str) -> None:
        if self.selection is None:
            return
        getattr(self.selection, move)()
        self._sync_slider()
        self._show_step()

    def _sync_slider(self) -> None:
        self._syncing = True
        try:
            self.slider.max = max(0, self.selection.count - 1)
            self.slider.value = self.selection.current
        finally:
            self._syncing = False

    def _go_to_line(self) -> None:
        if self.selection is None:
            return
        try:
            note = self.selection.go_to_line(self.line.value)
        except ValueError as err:
            self.note.value = theme.message(str(err), "warn")
            return
        self.note.value = theme.message(note) if note else ""
        self._chosen = self.selection.choice
        self._syncing = True
        try:
            self.register.value = self.selection.choice
        finally:
            self._syncing = False
        self._sync_slider()
        self._show_step()

    def drain(self, timeout: float = 60) -> None:
        """Wait for the trace under way (tests, benchmarks)."""
        self._lane.drain(timeout)

    def close(self) -> None:
        self._lane.close()
