"""The Warps view: the debug-variant figures of `explorer.plots` for the last run, two by two,
as plotly `FigureWidget`s, with a q-head selector.

`figures(result, head)` is the plain part (plotly figures, also used by the snapshot);
`WarpsView` wraps them in widgets. It runs nothing: it draws the states a `RunResult` holds.
"""

from __future__ import annotations

import ipywidgets as w
import plotly.graph_objects as go

from .. import plots
from . import theme
from .runner import RunResult
from .state import build_kernel

FIGURE_WIDTH = 580  # two side by side in a notebook; they wrap to one column when narrow
FIGURE_HEIGHT = 420
PER_HEAD = ("warp_maxes", "warp_sums", "attention_weights")


def figures(result: RunResult, head: int = 0) -> dict[str, go.Figure]:
    """The four figures of a run's warp states (empty when it has none)."""
    if result.states is None:
        return {}
    kernel = build_kernel(result.config)
    head = min(max(0, head), result.states.num_heads - 1)
    figs = {name: plots.FIGURES[name](result.states, kernel, head) for name in PER_HEAD}
    figs["merge_factors"] = plots.merge_factors(result.states, kernel)
    for fig in figs.values():
        fig.update_layout(
            width=FIGURE_WIDTH, height=FIGURE_HEIGHT, title_font_size=14,
            margin=dict(t=70, l=64, r=30, b=100),
            legend=dict(orientation="h", x=0, xanchor="left", y=-0.2, yanchor="top"),
        )
    return figs


def source_note(result: RunResult) -> str:
    """Where the drawn states come from (the kernel's record, or the reference)."""
    if result.states_source == "kernel":
        verdict = "match" if not result.state_problems else "DIFFER from"
        return (f"States recorded by the debug variant on {result.backend}; they {verdict} "
                "the float64 reference.")
    return "States of the float64 reference (the debug variant did not run on this backend)."


class WarpsView:
    """Head selector, a note and a 2x2 grid of figure widgets."""

    def __init__(self) -> None:
        self.head = w.IntSlider(min=0, max=0, description="q head", continuous_update=False,
                                layout=w.Layout(width="320px"))
        self.note = w.HTML()
        self.grid = w.HBox(layout=w.Layout(flex_flow="row wrap", width="100%"))
        self.result: RunResult | None = None
        self.visible = False  # figures are built only while the Warps tab is shown
        self._drawn: tuple | None = None  # (result, head) on screen
        self.head.observe(lambda change: self.draw(), names="value")
        self.box = w.VBox([w.HBox([self.head, self.note]), self.grid])
        self.show_message("Run the kernel (Run tab) to see each warp's softmax state.")

    def show_message(self, text: str, kind: str = "info") -> None:
        self.note.value = theme.message(text, kind)
        self.grid.children = []

    def update(self, result: RunResult) -> None:
        """Take a new run's states; draw them now if the tab is shown, else when it is."""
        self.result = result
        if result.states is not None:
            self.head.max = max(0, result.states.num_heads - 1)
        self.draw()

    def show(self, visible: bool) -> None:
        """The Warps tab was selected (True) or left (False)."""
        self.visible = visible
        self.draw()

    def draw(self) -> None:
        """Build the figures of the current result and head, if shown and not yet drawn.
        (Four FigureWidgets cost a second or so: never while the tab is hidden.)"""
        if not self.visible or self._drawn == (id(self.result), self.head.value):
            return
        self._drawn = (id(self.result), self.head.value)
        result = self.result
        if result is None or result.states is None:
            why = "; ".join(result.errors or result.notes) if result else ""
            self.show_message(why or "No warp states for this run.",
                              "warn" if result and result.errors else "info")
            return
        try:
            figs = figures(result, self.head.value)
            widgets = [go.FigureWidget(fig) for fig in figs.values()]
        except ImportError as err:  # FigureWidget needs anywidget (plotly >= 6)
            self.show_message(f"Cannot draw the figures: {err}", "error")
            return
        except Exception as err:  # shown inline, never a traceback
            self.show_message(f"The Warps view failed: {type(err).__name__}: {err}", "error")
            return
        self.note.value = f'<span style="{theme.NOTE}">{theme.esc(source_note(result))}</span>'
        old = self.grid.children
        self.grid.children = widgets
        for widget in old:
            widget.close()
