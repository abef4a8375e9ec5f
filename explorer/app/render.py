"""HTML of the PTX, Diff and Run panes, shared by the widget and the snapshot export.

Each function takes plain data (a configuration, PTX text, a `RunResult`) and returns HTML
with inline styles. A configuration that cannot be built gives an inline message naming the
problem instead of a pane. It computes nothing but the text it draws; emitting (plain, and with
line info for the PTX view's gutter) is cached here so the live path emits each configuration
once.
"""

from __future__ import annotations

import functools

from ..kernels import KERNELS
from . import theme
from .diff import PtxDiff, render_diff
from .gutter import Sources, kernel_sources
from .highlight import phase_legend, render_ptx
from .runner import RunResult
from .state import (
    AppState,
    Config,
    build_kernel,
    describe,
    ptx_key,
    ptx_problems,
    takes_warps,
)


@functools.lru_cache(maxsize=32)
def _built(kernel: str, args: tuple):
    """The kernel object (its IR is built once, then printed with and without line info)."""
    return KERNELS[kernel](**dict(args))


@functools.lru_cache(maxsize=128)
def _emit(kernel: str, args: tuple, target: str) -> str:
    return _built(kernel, args).emit(target)


def emit(config: Config) -> str:
    """The PTX of a valid configuration, cached by what the PTX depends on alone (kernel, its
    arguments, target), so configurations that differ in seq_len or backend share it."""
    return _emit(*ptx_key(config))


@functools.lru_cache(maxsize=128)
def _sources(kernel: str, args: tuple, target: str) -> Sources:
    with_lines = _built(kernel, args).emit(target, line_info=True)
    return kernel_sources(_emit(kernel, args, target), with_lines)


def sources(config: Config) -> Sources:
    """The PTX view's gutter for a valid configuration: plain PTX line -> the Python line of
    the builder call that emitted it (from the `line_info=True` emission), cached like
    `emit`."""
    return _sources(*ptx_key(config))


def problems_html(problems: list[str]) -> str:
    return "".join(theme.message(p, "error") for p in problems)


def ptx_header(config: Config) -> str:
    """The PTX view's summary line and phase legend (a valid configuration)."""
    kernel = build_kernel(config)
    ptx = emit(config)
    summary = (
        f"<b>{theme.esc(kernel.entry)}</b> · {ptx.count(chr(10))} lines · "
        f"{kernel.shared_bytes} bytes shared · grid {kernel.grid} × block {kernel.block} · "
        f"{theme.esc(config.target)}"
    )
    return (
        f'<div style="{theme.NOTE};color:{theme.INK};margin:2px 0 4px">{summary}</div>'
        + phase_legend(ptx)
    )


def ptx_pane(config: Config) -> str:
    """The PTX view: a summary line, the phase legend and the highlighted, numbered PTX with
    the Python line behind each instruction in its gutter."""
    problems = ptx_problems(config)
    if problems:
        return problems_html(problems)
    return ptx_header(config) + _ptx_body(*ptx_key(config))


@functools.lru_cache(maxsize=16)  # going back to a configuration redraws nothing
def _ptx_body(kernel: str, args: tuple, target: str) -> str:
    ptx = _emit(kernel, args, target)
    try:
        gutter = _sources(kernel, args, target)
    except ValueError as err:  # the PTX is still worth showing without its gutter
        return theme.message(str(err), "warn") + render_ptx(ptx, sources={})
    return render_ptx(ptx, sources=gutter)


def diff_of(state: AppState, mode: str) -> PtxDiff | None:
    """The diff of the current configuration against the state's baseline, or None when
    there is no baseline yet or either side cannot be built."""
    base = state.baseline
    if base is None or ptx_problems(base) or ptx_problems(state.config):
        return None
    old_name = f"{state.baseline_label}: {describe(base)}"
    new_name = f"current: {describe(state.config)}"
    return render_diff(emit(base), emit(state.config), old_name, new_name, mode)


def diff_pane(state: AppState, mode: str) -> str:
    """The Diff view, or a message saying why there is none."""
    problems = ptx_problems(state.config)
    if problems:
        return problems_html(problems)
    if state.baseline is None:
        return theme.message(
            "No baseline yet: change a control (the diff is against the previous "
            "configuration) or pin this one and change something.", "info"
        )
    diff = diff_of(state, mode)
    if diff is None:
        return theme.message("The baseline configuration cannot be built.", "warn")
    return diff.html


def run_pane(result: RunResult) -> str:
    """The Run view: backend, verdict, error table, GPU timing, messages."""
    parts = [
        f'<div style="{theme.NOTE};color:{theme.INK};margin:2px 0 8px">'
        f"backend {theme.badge(result.backend, theme.INFO_BG, theme.INFO_FG)} "
        f"{theme.esc(result.backend_reason)}</div>"
    ] if result.backend else []
    if result.not_run:
        parts.append(f'<div style="margin:4px 0 10px;font-size:15px">'
                     f"{theme.badge('not run', theme.INFO_BG, theme.INFO_FG)} "
                     f'<span style="{theme.NOTE}">{theme.esc(result.not_run)}</span></div>')
    if result.comparison is not None:
        parts.append(_verdict(result))
        parts.append(_error_table(result))
    if result.us_per_launch is not None:
        parts.append(
            f'<div style="{theme.HEADING}">GPU timing</div>'
            + theme.table(
                ["time per launch", "K/V read"],
                [[f"{result.us_per_launch:.2f} µs", f"{result.gbps:.1f} GB/s"]],
                numeric={0, 1},
            )
        )
    parts += [theme.message(e, "error") for e in result.errors]
    parts += [theme.message(n, "info") for n in result.notes]
    if result.seconds:
        parts.append(f'<div style="{theme.NOTE};margin-top:8px">seq_len {result.config.seq_len}'
                     f" · ran in {result.seconds:.2f} s</div>")
    return "".join(parts)


def _verdict(result: RunResult) -> str:
    label = result.verdict
    ok = label == "PASS"
    colours = (theme.PASS_BG, theme.PASS_FG) if ok else (theme.FAIL_BG, theme.FAIL_FG)
    return (
        f'<div style="margin:4px 0 10px;font-size:15px">{theme.badge(label, *colours)} '
        f'<span style="{theme.NOTE}">against the float64 reference, on '
        f"{theme.esc(result.backend)}</span></div>"
    )


def _error_table(result: RunResult) -> str:
    c = result.comparison
    rel_tol, abs_tol = c.tolerances
    dtype = f" ({c.dtype} storage)" if c.dtype != "f32" else ""
    rows = [
        ["max abs error", f"{c.max_abs:.3e}", f"{abs_tol:.1e}", _ok(c.max_abs <= abs_tol)],
        ["relative L2 error" + dtype, f"{c.rel_l2:.3e}", f"{rel_tol:.0e}",
         _ok(c.rel_l2 <= rel_tol)],
        ["all values finite", "yes" if c.finite else "no", "", _ok(c.finite)],
    ]
    if result.states_source == "kernel":
        detail = "; ".join(result.state_problems) or "m, l, factors, M, L, scores match"
        rows.append(["warp states (debug variant)", theme.esc(detail), "",
                     _ok(not result.state_problems)])
    elif result.states_source == "reference":
        rows.append(["warp states", "reference only (debug variant not run)", "", "—"])
    return theme.table(["output", "value", "tolerance", ""], rows, numeric={1, 2})


def _ok(ok: bool) -> str:
    if ok:
        return theme.badge("ok", theme.PASS_BG, theme.PASS_FG)
    return theme.badge("fail", theme.FAIL_BG, theme.FAIL_FG)


def config_table(config: Config) -> str:
    """The configuration as a two-column table (the snapshot's first section)."""
    rows = [[theme.esc(name), theme.esc(value)] for name, value in (
        ("kernel", config.kernel), ("head_dim", config.head_dim),
        ("q heads / KV heads", f"{config.num_heads} / {config.num_kv_heads} "
                               f"(GQA ratio {config.gqa_ratio})"),
        ("warps per head", config.num_warps if takes_warps(config.kernel) else "1 (fixed)"),
        ("max_seq_len", config.max_seq_len),
        ("seq_len", config.seq_len), ("indirect seq_len", config.indirect),
        ("target", config.target), ("backend", config.backend),
    )]
    return theme.table(["control", "value"], rows)
