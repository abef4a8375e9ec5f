"""The design-review export: one self-contained HTML page of the explorer's current state
(configuration, PTX excerpt and full PTX, diff, resources, error table, figures) and a PNG of
each figure.

PNGs come from plotly through kaleido, which drives the distribution's Chromium
(`/usr/bin/chromium`, or `BROWSER_PATH`); they are also embedded in the page as data URIs, so
the page needs no other file and no network. Without kaleido or Chromium the page embeds the
interactive figures (plotly.js inline) and says why there are no PNGs. It runs the
configuration when no run result is given; it draws nothing new (see render.py, warps.py).
In the app's PTX-file mode `write_ptx_file` writes the page of the PTX: its run form, the
whole PTX, the diff, the resources and the run (foreign_panes.py).
"""

from __future__ import annotations

import base64
import datetime
from pathlib import Path

import plotly.graph_objects as go

from . import foreign_panes, foreign_session, render, resources, runner, theme, warps
from .highlight import phases, render_ptx
from .state import (
    AppState,
    Config,
    build_kernel,
    config_from_kernel,
    describe,
    normalize,
    parse_changes,
    ptx_problems,
)

EXCERPT_AFTER_LOOP = 30  # lines of the chunk loop shown after its phase mark
PNG_SCALE = 2


def _uncapped(html: str) -> str:
    """The page shows code boxes at full height (the app scrolls them at 620 px)."""
    return html.replace(theme.CODE_MAX_HEIGHT, "max-height:none")


def _section(title: str, body: str) -> str:
    return (
        f'<section style="margin:22px 0"><h2 style="font-family:{theme.SANS};font-size:17px;'
        f'border-bottom:1px solid {theme.BORDER};padding-bottom:4px">{theme.esc(title)}</h2>'
        f"{body}</section>"
    )


def ptx_excerpt_lines(ptx: str) -> int:
    """How many leading lines the excerpt shows: through the start of the loop phase."""
    marks = phases(ptx)
    loop = next((p.line for p in marks if "loop" in p.name), None)
    total = ptx.count("\n")
    return total if loop is None else min(total, loop + EXCERPT_AFTER_LOOP)


def _ptx_section(state: AppState) -> str:
    problems = ptx_problems(state.config)
    if problems:
        return render.problems_html(problems)
    ptx = render.emit(state.config)
    last = ptx_excerpt_lines(ptx)
    try:  # the Python line behind each instruction, as the app's PTX view shows it
        gutter = render.sources(state.config)
    except ValueError:
        gutter = {}
    full = (
        f'<details style="margin-top:8px"><summary style="{theme.NOTE};cursor:pointer">'
        f"the whole PTX ({ptx.count(chr(10))} lines)</summary>"
        f"{render_ptx(ptx, sources=gutter, anchor='snapshot-full-line')}</details>"
    )
    return render.ptx_header(state.config) + render_ptx(ptx, 1, last, sources=gutter) + full


def _resources_section(state: AppState) -> str:
    config = state.config
    if ptx_problems(config):
        return render.problems_html(ptx_problems(config))
    kernel = build_kernel(config)
    found = resources.collect(render.emit(config), kernel.entry, config.target)
    return resources.render(found, kernel)


def _figure_images(figs: dict[str, go.Figure], out_dir: Path) -> tuple[list[Path], str]:
    """Write the PNGs; return them and the HTML that shows the figures."""
    import plotly.io as pio

    paths = [out_dir / f"{name}.png" for name in figs]
    try:
        pio.write_images(list(figs.values()), paths, scale=PNG_SCALE)
    except Exception as err:  # kaleido or Chromium missing: interactive figures instead
        note = theme.message(f"No PNGs: plotly could not export images ({err}); the figures "
                             "below are interactive.", "warn")
        html = "".join(
            fig.to_html(full_html=False, include_plotlyjs=(i == 0))
            for i, fig in enumerate(figs.values())
        )
        return [], note + html
    images = "".join(
        f'<img alt="{theme.esc(path.stem)}" style="width:49%;min-width:420px;'
        f'border:1px solid {theme.BORDER};margin:0 0 8px" '
        f'src="data:image/png;base64,{base64.b64encode(path.read_bytes()).decode()}">'
        for path in paths
    )
    return paths, images


def _page(title: str, sections: list[str]) -> str:
    when = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    return (
        "<!DOCTYPE html>\n<html><head><meta charset='utf-8'>"
        f"<title>explorer snapshot: {theme.esc(title)}</title></head>"
        f'<body style="font-family:{theme.SANS};color:{theme.INK};max-width:1200px;'
        f'margin:24px auto;padding:0 16px">'
        f'<h1 style="font-size:22px;margin-bottom:2px">explorer snapshot</h1>'
        f'<div style="{theme.NOTE}">{theme.esc(title)} · {when}</div>'
        + "".join(sections)
        + "</body></html>\n"
    )


def page(state: AppState, result: runner.RunResult, body_figures: str, diff_mode: str) -> str:
    """The snapshot page's HTML."""
    sections = [
        _section("Configuration", render.config_table(state.config)),
        _section("PTX (excerpt)", _uncapped(_ptx_section(state))),
        _section(f"Diff ({diff_mode})", _uncapped(render.diff_pane(state, diff_mode))),
        _section("Resources", _resources_section(state)),
        _section("Run", render.run_pane(result)),
        _section("Warps", f'<p style="{theme.NOTE}">{theme.esc(warps.source_note(result))}'
                          f"</p>{body_figures}"),
    ]
    return _page(describe(state.config), sections)


def write(state: AppState, result: runner.RunResult | None, out_dir: str | Path,
          diff_mode: str = "unified", head: int = 0) -> list[Path]:
    """Write `index.html` and one PNG per figure into `out_dir`; return the paths written.
    Runs the configuration first when `result` is None or is of another configuration."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if result is None or result.config != state.config:
        result = runner.run(state.config)
    figs = warps.figures(result, head)
    pngs, figures_html = _figure_images(figs, out) if figs else ([], theme.message(
        "No warp states to draw: " + ("; ".join(result.errors) or "the run recorded none"),
        "warn"))
    index = out / "index.html"
    index.write_text(page(state, result, figures_html, diff_mode), encoding="utf-8")
    return [index, *pngs]


def write_ptx_file(state: foreign_session.ForeignState, kernel: Config, out_dir: str | Path,
                   diff_mode: str = "unified", target: str | None = None) -> list[Path]:
    """The page of the app's PTX-file mode (`kernel`: our kernel's configuration, the diff's
    baseline when no PTX is pinned); runs the form when it has not run. Returns the paths
    written (`index.html`). ValueError when no PTX is open."""
    source, form = state.source, state.form
    if source is None or form is None:
        raise ValueError("no PTX is open: paste or load one first")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    result = state.result if state.result is not None and state.result.form == form else (
        foreign_session.run(source, form))
    target = target or state.target_for(kernel.target)
    found = resources.collect(source.text, form.entry, target)
    sections = [
        _section("PTX file", foreign_panes.summary_line(source, form.entry)
                 + foreign_panes.form_table(form)),
        _section("PTX", _uncapped(render_ptx(source.text))),
        _section(f"Diff ({diff_mode})", _uncapped(foreign_panes.state_diff(state, kernel,
                                                                            diff_mode))),
        _section("Resources", foreign_panes.resources_pane(found, form)),
        _section("Run", foreign_panes.run_pane(result)),
    ]
    index = out / "index.html"
    index.write_text(_page(f"{source.name} · {form.entry}", sections), encoding="utf-8")
    return [index]


def write_for_kernel(kernel, target: str, seq_len: int, backend: str, out_dir: str | Path,
                     against: str | None = None, diff_mode: str = "unified"
                     ) -> tuple[list[Path], runner.RunResult]:
    """The command line's snapshot: the configuration of `kernel`, diffed against the same
    configuration with the `against` changes ("head_dim=64,num_warps=8") when given.
    Raises ValueError for options the explorer has no control for or a bad `against`."""
    state = AppState(config_from_kernel(kernel, target, seq_len, backend))
    if against:
        base, _ = normalize(state.config.replace(**parse_changes(against)))
        state.pin_config(base)
    result = runner.run(state.config)
    return write(state, result, out_dir, diff_mode), result
