"""The Resources view's data: ptxas' report for the chosen target, the occupancy estimate, and
the SASS from nvdisasm when it is installed; and its HTML.

ptxas and nvdisasm are found by `explorer.ptx.ptxas.find_tool` (nvdisasm: `$NVDISASM`, the
pip wheel `nvidia-cuda-nvdisasm` next to ptxas' wheel, then PATH). Results are cached by
(PTX, target), so going back to a configuration shows its report at once. The typical part
per target that the grid is read against is `explorer.arch`'s. Without ptxas the view says so and
estimates occupancy from the kernel's shared memory and warps alone. It assembles; it never
launches.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass

from ..arch import ARCHS, LIMITERS, NO_LIMIT
from ..ptx import ptxas, sass
from . import occupancy, theme


@dataclass(frozen=True)
class Resources:
    """What the Resources view shows for one (PTX, target)."""

    target: str
    reports: dict[str, ptxas.PtxasReport]  # every entry of the module, by name
    entry: str  # the kernel's main entry, the one the occupancy estimate is for
    sass: str | None
    notes: tuple[str, ...]

    @property
    def report(self) -> ptxas.PtxasReport | None:
        return self.reports.get(self.entry)


_cache: dict[tuple[str, str, str, bool], Resources] = {}
CACHE_SIZE = 128


def cached(ptx: str, entry: str, target: str, with_sass: bool = True) -> Resources | None:
    """The stored result of `collect` for these arguments, or None (nothing is run)."""
    return _cache.get((ptx, entry, target, with_sass))


def collect(ptx: str, entry: str, target: str, with_sass: bool = True) -> Resources:
    """ptxas' report (and SASS) for `entry` of `ptx` on `target`; errors become notes.
    Stored, so the same arguments later cost nothing."""
    key = (ptx, entry, target, with_sass)
    if key in _cache:
        return _cache[key]
    notes: list[str] = []
    try:
        reports, cubin = ptxas.assemble_with_cubin(ptx, target)  # one ptxas run for both
    except ptxas.PtxasNotFound as err:
        return Resources(target, {}, entry, None, (str(err),))  # not stored: may be installed
    except (ptxas.PtxasError, ValueError) as err:
        reports, cubin, notes = {}, None, [f"ptxas rejected the PTX: {err}"]
    sass = None
    if with_sass and cubin is not None:
        sass, note = _sass(cubin)
        if note:
            notes.append(note)
    if len(_cache) >= CACHE_SIZE:
        _cache.pop(next(iter(_cache)))  # the oldest entry
    _cache[key] = result = Resources(target, reports, entry, sass, tuple(notes))
    return result


def _sass(cubin: bytes) -> tuple[str | None, str | None]:
    tool = sass.find_nvdisasm()
    if tool is None:
        return None, f"SASS: nvdisasm is not installed ({sass.NVDISASM_HINT})."
    try:
        return sass.run_nvdisasm(cubin, [], tool), None
    except (RuntimeError, ptxas.PtxasError, OSError, subprocess.SubprocessError) as err:
        return None, f"SASS unavailable: {err}"


def _report_table(reports: dict[str, ptxas.PtxasReport]) -> str:
    """One column per entry of the module (a kernel can launch more than one)."""
    rows = []
    for label, value in (
        ("registers per thread", lambda r: str(r.registers)),
        ("spill bytes (stores + loads)",
         lambda r: f"{r.spill_bytes} ({r.spill_store_bytes} + {r.spill_load_bytes})"),
        ("shared memory per CTA", lambda r: f"{r.shared_bytes} bytes"),
        ("barriers", lambda r: str(r.barriers)),
        ("stack frame", lambda r: f"{r.stack_frame_bytes} bytes"),
    ):
        rows.append([label, *(value(r) for r in reports.values())])
    headers = ["ptxas -v", *reports]
    return theme.table(headers, rows, numeric=set(range(1, len(headers))))


def _occupancy_table(occ: occupancy.Occupancy) -> str:
    rows = []
    for name in LIMITERS:
        mark = "◀ limits" if name in occ.limiters else ""
        ctas = occ.ctas_by[name]
        if ctas == NO_LIMIT:
            allowed = "not counted (no ptxas)" if name == "registers" else "no limit"
        else:
            allowed = str(ctas)
        rows.append([theme.esc(name), allowed, theme.esc(mark)])
    return theme.table(["resource", "CTAs per SM it allows", ""], rows, numeric={1})


def _occupancy_summary(occ: occupancy.Occupancy, kernel, target: str) -> str:
    part, sms = (ARCHS[target].part, ARCHS[target].sm_count) if target in ARCHS else ("", 0)
    grid = kernel.grid[0] * kernel.grid[1] * kernel.grid[2]
    text = (
        f"{occ.ctas_per_sm} CTA{'' if occ.ctas_per_sm == 1 else 's'} per SM "
        f"({occ.warps_per_sm} of {occ.arch.max_warps_per_sm} "
        f"warp slots, {occ.fraction:.0%} occupancy); limited by {occ.limiter}."
    )
    if sms:
        busy = min(grid, sms)
        article = "an" if part[:1] in "AHL" else "a"  # an A100, an H100, an L4; a Tesla T4
        text += (f" Its grid has {grid} CTAs: of the {sms} SMs of {article} {part}, {busy} "
                 f"get work ({busy / sms:.0%}).")
    return f'<div style="{theme.NOTE};margin:6px 0 10px">{theme.esc(text)}</div>'


def render(res: Resources, kernel, sass_pending: bool = False) -> str:
    """The Resources pane: ptxas table, occupancy table and summary, SASS, notes
    (`sass_pending`: say the SASS is on its way)."""
    threads = kernel.block[0] * kernel.block[1] * kernel.block[2]
    parts = [f'<div style="{theme.HEADING}">ptxas for {theme.esc(res.target)}</div>']
    if res.report is not None:
        parts.append(_report_table(res.reports))
        registers, shared = res.report.registers, res.report.shared_bytes
    else:
        registers, shared = 0, kernel.shared_bytes
    parts += [theme.message(note, "warn") for note in res.notes if "SASS" not in note]
    try:
        occ = occupancy.estimate(res.target, threads, registers, shared)
    except ValueError as err:
        parts.append(theme.message(str(err), "warn"))
    else:
        heading = "Occupancy estimate"
        if len(res.reports) > 1:
            heading += f" of {res.entry}"
        if res.report is None:
            heading += " (without ptxas: registers unknown, not counted)"
        parts.append(f'<div style="{theme.HEADING}">{theme.esc(heading)}</div>')
        parts.append(_occupancy_table(occ))
        parts.append(_occupancy_summary(occ, kernel, res.target))
    parts += [theme.message(note, "info") for note in res.notes if "SASS" in note]
    if res.sass:
        parts.append(_sass_block(res.sass))
    elif sass_pending and res.report is not None:
        parts.append(theme.message("Disassembling with nvdisasm for the SASS…", "info"))
    return "".join(parts)


def _sass_block(sass: str) -> str:
    lines = [line for line in sass.splitlines() if "/*" in line and "*/" in line]
    body = theme.esc("\n".join(line.strip() for line in lines))
    return (
        f'<details style="margin-top:10px"><summary style="{theme.HEADING};cursor:pointer">'
        f"SASS from nvdisasm ({len(lines)} instructions)</summary>"
        f'<pre style="{theme.CODE_BOX};padding:8px 12px;margin:0">{body}</pre></details>'
    )


def pending(target: str) -> str:
    """What the pane shows while ptxas runs in the background."""
    return theme.message(f"Assembling with ptxas for {target}…", "info")
