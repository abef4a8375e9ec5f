"""The Warps view: the debug-variant figures of `explorer.plots` for the last run, two by two,
with a q-head selector: the seed kernels' warps (`WarpStates`), or the split-KV kernel's
splits, their warps and the merge weights (`SplitStates`, with the m16n8k16 fragment layout
on the tensor-core path). Each figure is shown as plotly's own MIME bundle in an `Output`
widget (JupyterLab's plotly renderer draws it), not as a `FigureWidget`: a FigureWidget
carries plotly's 5 MB front-end bundle in every instance, which took the first Warps view
8 to 30 s to appear.

`figures(result, head)` is the plain part (plotly figures, also used by the snapshot);
`WarpsView` wraps them in widgets. It runs nothing: it draws the states a `RunResult` holds.
"""

from __future__ import annotations

import json
import time

import ipywidgets as w
import plotly.graph_objects as go
import plotly.io as pio

from .. import plots
from ..verify import WarpStates
from ..verify.states import SplitStates
from . import theme
from .runner import RunResult
from .state import build_kernel, describe

FIGURE_WIDTH = 560  # two side by side in a notebook; they wrap to one column when narrow
FIGURE_HEIGHT = 420
NO_RUN = "Run the kernel (Run tab) to see each warp's softmax state."
STALE_CLASS = "explorer-stale"  # theme.py dims it
STALE_NOTE = "Stale: these figures show"
PLOTLY_MIME = "application/vnd.plotly.v1+json"  # drawn by plotly's JupyterLab extension
PLOTLY_CONFIG = {"displaylogo": False}


def _every_head(draw):
    """A figure of every head (or none), drawn as the per-head ones are called."""
    def drawn(states, kernel, head):
        return draw(states, kernel)
    return drawn


def _fragments(states, kernel):
    return plots.mma_fragments(kernel)


# kind of states -> (figures per q head, figures of every head), in the grid's order
FIGURE_SETS = {
    WarpStates: (("warp_maxes", "warp_sums", "attention_weights"), ("merge_factors",)),
    SplitStates: (("split_maxes", "split_sums"), ("merge_weights", "mma_fragments")),
}
DRAW = {**plots.FIGURES, **plots.SPLIT_FIGURES,
        "merge_factors": _every_head(plots.merge_factors),
        "merge_weights": _every_head(plots.merge_weights),
        "mma_fragments": _every_head(_fragments)}
WIDE = frozenset({"mma_fragments"})  # 48 cells of text a row: too dense at one figure's width
EVERY_NAME = tuple(dict.fromkeys(n for sets in FIGURE_SETS.values() for s in sets for n in s))


def figure_names(result: RunResult) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(per-head figures, every figure) of a run's states; the fragment layout only for the
    tensor-core path. Empty when the run has no states."""
    if result.states is None:
        return (), ()
    per_head, whole = FIGURE_SETS[type(result.states)]
    if "mma_fragments" in whole and not getattr(build_kernel(result.config), "mma", False):
        whole = tuple(n for n in whole if n != "mma_fragments")
    return per_head, (*per_head, *whole)


def figures(result: RunResult, head: int = 0, names=None) -> dict[str, go.Figure]:
    """The figures of a run's states (empty when it has none), or those of them in `names`."""
    if result.states is None:
        return {}
    kernel = build_kernel(result.config)
    head = min(max(0, head), result.states.num_heads - 1)
    names = figure_names(result)[1] if names is None else names
    figs = {name: DRAW[name](result.states, kernel, head) for name in figure_names(result)[1]
            if name in names}
    for name, fig in figs.items():
        wide = name in WIDE  # a row of its own: two figures' width
        fig.update_layout(
            width=2 * FIGURE_WIDTH + 16 if wide else FIGURE_WIDTH,
            height=FIGURE_HEIGHT + 140 if wide else FIGURE_HEIGHT, title_font_size=14,
            margin=dict(t=110 if wide else 70, l=64, r=30, b=60 if wide else 100),
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
    """Head selector, a note and a 2x2 grid of figure widgets.

    An `Output` widget per figure name is made once (the grid shows those of the run's kind of
    states); a run or a head change replaces what they show (one
    small message each; a head change redraws only the per-head figures). While a run of
    another configuration is under way the old figures stay, marked stale with the
    configuration they show.
    """

    def __init__(self) -> None:
        self.head = w.IntSlider(min=0, max=0, description="q head", continuous_update=False,
                                layout=w.Layout(width="320px"))
        self.head.add_class("explorer-control-warps-head")
        self.note = w.HTML()
        self.note.add_class("explorer-warps-note")
        self.grid = w.HBox(layout=w.Layout(flex_flow="row wrap", width="100%"))
        self.grid.add_class("explorer-warps-grid")
        self.result: RunResult | None = None
        self.running: str | None = None  # the configuration a run is under way for
        self.visible = False  # figures are built only while the Warps tab is shown
        self.draw_seconds: float | None = None  # the last draw, for docs/app.md
        self.figures: dict[str, go.Figure] = {}  # what is on screen
        self._outputs = {name: w.Output(layout=w.Layout(flex="0 0 auto"))
                         for name in EVERY_NAME}
        self._drawn: tuple | None = None  # (result, head) on screen
        self._prepared: tuple | None = None  # ((result, head), outputs) made ahead
        self.head.observe(lambda change: self.draw(), names="value")
        # a tiny figure shown from the start, so the browser loads plotly's renderer (4.5 MB
        # of script) while the user reads the PTX, not when the Warps or Lanes tab first
        # opens; a labelled heatmap, so the code the Lanes grid draws with is warm too
        warm = w.Output(layout=w.Layout(height="1px", overflow="hidden"))
        warm.outputs = (mime_output(go.Figure(go.Heatmap(
            z=[[0, 1], [1, 0]], text=[["a", "b"], ["c", "d"]], texttemplate="%{text}",
            showscale=False), layout=dict(
            width=10, height=10, margin=dict(l=0, r=0, t=0, b=0),
            xaxis_visible=False, yaxis_visible=False))),)
        self.box = w.VBox([w.HBox([self.head, self.note]), self.grid, warm])
        self.show_message(NO_RUN)

    def show_message(self, text: str, kind: str = "info") -> None:
        self.note.value = theme.message(text, kind)
        self.grid.children = []
        self._drawn = None

    def pending(self, config) -> None:
        """A run of `config` has started: say so, and mark the figures on screen stale."""
        self.running = describe(config)
        if self._drawn is None:
            self.note.value = theme.message(f"Recording each warp's softmax state of "
                                            f"{self.running}…")
            return
        shown = describe(self.result.config)
        if shown != self.running:
            self.grid.add_class(STALE_CLASS)
            self.note.value = (f"<style>.{STALE_CLASS}{{opacity:.45;filter:grayscale(.7)}}"
                               f'</style><span style="{theme.NOTE}">{theme.esc(STALE_NOTE)} '
                               f"{theme.esc(shown)}; recording {theme.esc(self.running)}…"
                               "</span>")

    def update(self, result: RunResult) -> None:
        """Take a new run's states; draw them now if the tab is shown, else when it is."""
        self.result, self.running = result, None
        if result.states is not None:
            self.head.max = max(0, result.states.num_heads - 1)
        if not self.visible:  # on the run's worker: the tab then only has to send them
            self._outputs_of(result, self.head.value, figure_names(result)[1])
        self.draw()

    def show(self, visible: bool) -> None:
        """The Warps tab was selected (True) or left (False)."""
        self.visible = visible
        self.draw()

    def draw(self) -> None:
        """Draw the current result and head, if shown and not yet drawn."""
        if not self.visible or self._drawn == (id(self.result), self.head.value):
            return
        result = self.result
        if result is None or result.states is None:
            if result is None:
                self.show_message(NO_RUN if self.running is None else
                                  f"Recording each warp's softmax state of {self.running}…")
                return
            why = "; ".join(result.errors or result.notes)
            self.show_message(why or "No warp states for this run.",
                              "warn" if result.errors else "info")
            return
        started = time.perf_counter()
        only_head = self._drawn is not None and self._drawn[0] == id(result)
        per_head, every = figure_names(result)
        try:  # a new head redraws the per-head figures; the merge factors show every head
            self._show_figures(self._outputs_of(result, self.head.value,
                                                per_head if only_head else every), every)
        except Exception as err:  # shown inline, never a traceback
            self.show_message(f"The Warps view failed: {type(err).__name__}: {err}", "error")
            return
        self._drawn = (id(result), self.head.value)
        self.grid.remove_class(STALE_CLASS)
        self.note.value = (f'<span style="{theme.NOTE}">{theme.esc(describe(result.config))}'
                           f" · {theme.esc(source_note(result))}</span>")
        self.draw_seconds = time.perf_counter() - started

    def _outputs_of(self, result: RunResult, head: int, names) -> dict:
        """{name: (figure, its display_data output)}, reusing what `update` prepared."""
        key = (id(result), head)
        if self._prepared and self._prepared[0] == key:
            ready = {n: v for n, v in self._prepared[1].items() if n in names}
            if len(ready) == len(names):
                return ready
        if result.states is None:
            return {}
        made = {n: (fig, mime_output(fig)) for n, fig in figures(result, head, names).items()}
        self._prepared = (key, made)
        return made

    def _show_figures(self, shown: dict, names: tuple[str, ...]) -> None:
        """Put each figure's output in its Output widget; show those of `names`."""
        for name, (fig, output) in shown.items():
            self._outputs[name].outputs = (output,)
            self.figures[name] = fig
        self.figures = {n: f for n, f in self.figures.items() if n in names}
        outputs = [self._outputs[n] for n in names]
        if list(self.grid.children) != outputs:
            self.grid.children = outputs


def mime_output(fig: go.Figure) -> dict:
    """A display_data output holding `fig` as plotly's MIME type (numbers as plotly encodes
    them), with a text fallback for front ends without plotly's renderer."""
    data = json.loads(pio.to_json(fig, validate=False))
    text = fig.layout.title.text or "figure"
    return {"output_type": "display_data", "metadata": {},
            "data": {PLOTLY_MIME: {**data, "config": PLOTLY_CONFIG},
                     "text/plain": f"<plotly figure: {text}>"}}
