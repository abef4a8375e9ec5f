"""HTML of the PTX, Diff, Resources, Run and Warps panes in the app's "PTX file" mode, shared
by the widget and the snapshot export.

Each function takes plain data (a `PtxSource`, a `Resources`, a `ForeignRun`) and returns HTML
with inline styles, drawn with the kernel mode's pieces (`highlight`, `diff`, `resources`,
`theme`). It computes nothing but the text it draws (`foreign.py` and `foreign_session.py`
hold the model).
"""

from __future__ import annotations

import numpy as np

from . import render, resources, theme
from .diff import render_diff
from .foreign import PtxSource, RunForm
from .foreign_session import BASELINES, ForeignRun, ForeignState
from .highlight import render_ptx
from .state import Config, describe, ptx_problems

WARPS_NOTE = (
    "Per-warp softmax states come from the debug variants of the explorer's own kernels, "
    "which record them; PTX from elsewhere records none. Pick a kernel in the kernel list to "
    "see them."
)


def summary_line(source: PtxSource, entry: str) -> str:
    return (f'<div style="{theme.NOTE};color:{theme.INK};margin:2px 0 4px">'
            f"<b>{theme.esc(source.name)}</b> · {theme.esc(source.summary(entry))}</div>")


def ptx_pane(source: PtxSource | None, entry: str | None, problem: str = "") -> str:
    """The PTX view: the summary line and the highlighted, numbered PTX; or why there is
    none."""
    if problem:
        return theme.message(problem, "error")
    if source is None or entry is None:
        return theme.message("Paste PTX into the box above (or give a .ptx path and press "
                             "Load) to see it here.", "info")
    return summary_line(source, entry) + render_ptx(source.text)


def label(source: PtxSource, entry: str) -> str:
    """How a side of a diff is named."""
    return f"{source.name} · {entry}"


def diff_pane(old: str | None, old_name: str, source: PtxSource | None, entry: str | None,
              mode: str, missing: str = "") -> str:
    """The diff of `old` (our kernel's PTX, or a pinned PTX) to the current PTX, or why
    there is none."""
    if source is None or entry is None:
        return theme.message("No PTX to compare yet: paste or load one.", "info")
    if old is None:
        return theme.message(missing or "Nothing to compare against.", "info")
    return render_diff(old, source.text, old_name, f"PTX file: {label(source, entry)}",
                       mode).html


def state_diff(state: ForeignState, kernel: Config, mode: str) -> str:
    """The Diff view of the mode: against the pinned PTX, or our kernel at `kernel`."""
    source, entry = state.source, state.entry
    if state.baseline == BASELINES[1]:
        if state.pinned is None:
            return diff_pane(None, "", source, entry, mode, "No PTX pinned yet: press Pin "
                             "this PTX, then paste or load another.")
        return diff_pane(state.pinned[0].text, "pinned: " + label(*state.pinned), source,
                         entry, mode)
    problems = ptx_problems(kernel)
    if problems:
        return diff_pane(None, "", source, entry, mode, "Our kernel's configuration cannot "
                         "be built: " + "; ".join(problems))
    return diff_pane(render.emit(kernel), f"our kernel: {describe(kernel)}", source, entry,
                     mode)


def form_table(form: RunForm) -> str:
    """The run form as a table (the snapshot's first section)."""
    rows = [[theme.esc(p.name), theme.esc(f".{p.ptx_type}"), theme.esc(p.word())]
            for p in form.params]
    rows += [[name, "", theme.esc(value)] for name, value in (
        ("grid", form.grid), ("block", form.block), ("dynamic shared bytes", form.shared_bytes),
        ("backend", form.backend), ("seed", form.seed))]
    return theme.table(["parameter", "type", "argument"], rows)


def resources_pane(res: resources.Resources, form: RunForm, sass_pending: bool = False) -> str:
    """ptxas' report and SASS of the PTX, with occupancy for the form's block and shared
    bytes (`resources.render` without a kernel object)."""
    try:
        _, block, shared = form.dims()
    except ValueError as err:
        block, shared = (1, 1, 1), 0
        note = theme.message(f"Occupancy uses the run form's block: {err}", "warn")
    else:
        note = ""
    threads = block[0] * block[1] * block[2]
    try:
        return note + resources.render(res, None, sass_pending=sass_pending,
                                       block_threads=threads, shared_bytes=shared)
    except TypeError:  # a resources.render that still needs a kernel object
        return note + _report_only(res)


def _report_only(res: resources.Resources) -> str:
    parts = [f'<div style="{theme.HEADING}">ptxas for {theme.esc(res.target)}</div>']
    if res.reports:
        rows = [[theme.esc(name), str(r.registers), f"{r.spill_bytes}", f"{r.shared_bytes}",
                 str(r.barriers)] for name, r in res.reports.items()]
        parts.append(theme.table(["entry", "registers", "spill bytes", "shared bytes",
                                  "barriers"], rows, numeric={1, 2, 3, 4}))
    parts += [theme.message(n, "warn") for n in res.notes]
    parts.append(theme.message("The occupancy estimate for PTX files needs a newer "
                               "explorer.app.resources (render without a kernel object).",
                               "info"))
    return "".join(parts)


def _values(first: tuple) -> str:
    return " ".join(f"{v:.6g}" if isinstance(v, float) else str(v) for v in first)


def _array_rows(result: ForeignRun, backend: str) -> list[list[str]]:
    rows = []
    for name, s in result.summaries(backend).items():
        more = " …" if np.prod(s.shape) > len(s.first) else ""
        diff = result.differences.get(name)
        rows.append([
            theme.esc(name) + (" (written)" if s.written else ""),
            theme.esc(f"{s.dtype} {s.shape}"),
            f'<span style="font-family:{theme.MONO}">{theme.esc(_values(s.first) + more)}'
            "</span>",
            f"{s.minimum:.4g}", f"{s.maximum:.4g}", f"{s.mean:.4g}", str(s.nans),
            "" if diff is None else f"{diff:.3e}",
        ])
    return rows


def run_pane(result: ForeignRun | None) -> str:
    """The Run view: the backends and why, each array after the run (per backend), the
    largest sim-vs-GPU difference, findings as warnings with their line, errors inline."""
    if result is None:
        return theme.message("Press Run to launch the entry with the run form's arguments.",
                             "info")
    parts = [theme.message(n, "info") for n in result.notes]
    if result.not_run:
        parts.append(f'<div style="margin:4px 0 10px;font-size:15px">'
                     f"{theme.badge('not run', theme.INFO_BG, theme.INFO_FG)} "
                     f'<span style="{theme.NOTE}">{theme.esc(result.not_run)}</span></div>')
        return "".join(parts)
    parts += [theme.message(f"finding: {f}", "warn") for f in result.findings]
    parts += [theme.message(e, "error") for e in result.errors]
    headers = ["array", "dtype and shape", "first values", "min", "max", "mean", "NaNs"]
    for backend in result.runs:
        both = len(result.runs) == 2
        rows = _array_rows(result, backend)
        heads = headers + (["max |sim − cuda|"] if both else [])
        if not both:
            rows = [r[:-1] for r in rows]
        parts.append(f'<div style="{theme.HEADING}">after the run on {theme.esc(backend)}'
                     "</div>" + theme.table(heads, rows, numeric={3, 4, 5, 6, 7}))
    grid, block, shared = result.form.grid, result.form.block, result.form.shared_bytes
    parts.append(f'<div style="{theme.NOTE};margin-top:8px">{theme.esc(result.form.entry)} · '
                 f"grid {theme.esc(grid)} × block {theme.esc(block)} · {theme.esc(shared)} "
                 f"bytes dynamic shared · seed {result.form.seed} · ran in "
                 f"{result.seconds:.2f} s</div>")
    return "".join(parts)


def warps_pane() -> str:
    return theme.message(WARPS_NOTE, "info")
