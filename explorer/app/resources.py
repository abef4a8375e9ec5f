"""The Resources view's data: ptxas' report for the chosen target, the occupancy estimate, the
SASS from nvdisasm grouped under the PTX lines it came from, and the register pressure along
it; and its HTML.

ptxas and nvdisasm are found by `explorer.ptx.ptxas.find_tool` (nvdisasm: `$NVDISASM`, the
pip wheel `nvidia-cuda-nvdisasm` next to ptxas' wheel, then PATH). The SASS pass assembles
`sass.with_ptx_locs(ptx)` with `-lineinfo` (the same code; its line table names the PTX's own
lines), so it works for any PTX; one ptxas run gives the grouped listing, the plain one and
the live registers. Results are cached by (PTX, target), so going back to a configuration
shows its report at once. The typical part per target that the grid is read against is
`explorer.arch`'s. Without ptxas the view says so and estimates occupancy from shared memory
and warps alone; without nvdisasm it says what to install. It assembles; it never launches.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass

from ..arch import ARCHS, LIMITERS, NO_LIMIT
from ..ptx import ptxas, sass
from ..ptx.scan import ScanError
from . import gutter, occupancy, regplot, sassview, theme

TOOLS_HINT = ('pip install "warp-explorer[tools]" (the `tools` extra: NVIDIA\'s nvidia-cuda-nvcc '
              "and nvidia-cuda-nvdisasm wheels; see README)")


@dataclass(frozen=True)
class Resources:
    """What the Resources view shows for one (PTX, target). `instructions`: the SASS of every
    function, each `line` a line of `ptx` (empty without the SASS pass or nvdisasm)."""

    target: str
    reports: dict[str, ptxas.PtxasReport]  # every entry of the module, by name
    entry: str  # the kernel's main entry, the one the occupancy estimate is for
    sass: str | None
    notes: tuple[str, ...]
    ptx: str = ""
    instructions: tuple[sass.SassInstruction, ...] = ()

    @property
    def report(self) -> ptxas.PtxasReport | None:
        return self.reports.get(self.entry)


_cache: dict[tuple[str, str, str, bool], Resources] = {}
CACHE_SIZE = 128


def cached(ptx: str, entry: str, target: str, with_sass: bool = True) -> Resources | None:
    """The stored result of `collect` for these arguments, or None (nothing is run)."""
    return _cache.get((ptx, entry, target, with_sass))


def collect(ptx: str, entry: str, target: str, with_sass: bool = True) -> Resources:
    """ptxas' report (and SASS with its PTX lines and live registers) for `entry` of `ptx`
    on `target`; errors become notes. Stored, so the same arguments later cost nothing."""
    key = (ptx, entry, target, with_sass)
    if key in _cache:
        return _cache[key]
    located = _located(ptx) if with_sass else None
    try:
        reports, cubin, notes = _assemble(ptx, located, target)
    except ptxas.PtxasNotFound as err:
        return Resources(target, {}, entry, None, (f"{err} Or: {TOOLS_HINT}.",), ptx)
    text, instructions = None, ()
    if with_sass and cubin is not None:
        instructions, note = _disassemble(cubin)
        text = sassview.plain_text(instructions) if instructions else None
        notes += [note] if note else []
    if len(_cache) >= CACHE_SIZE:
        _cache.pop(next(iter(_cache)))  # the oldest entry
    _cache[key] = result = Resources(target, reports, entry, text, tuple(notes), ptx,
                                     instructions)
    return result


def _assemble(ptx: str, located: str | None, target: str):
    """(reports, cubin, notes): one ptxas run, with `-lineinfo` on `located` when given; a
    rejection is a note, its line numbers those of `ptx` itself."""
    try:
        if located is None:
            return (*ptxas.assemble_with_cubin(ptx, target), [])
        return (*ptxas.assemble_with_cubin(located, target, line_info=True), [])
    except (ptxas.PtxasError, ValueError) as err:
        if located is not None:  # again on the text as given, for its line numbers
            return _assemble(ptx, None, target)
        return {}, None, [f"ptxas rejected the PTX: {err}"]


def _located(ptx: str) -> str | None:
    """`ptx` with a line table of its own lines, or None where the scanner cannot read it
    (ptxas then says what is wrong)."""
    try:
        return sass.with_ptx_locs(ptx)
    except (ScanError, ValueError):
        return None


def _disassemble(cubin: bytes) -> tuple[tuple[sass.SassInstruction, ...], str | None]:
    if sass.find_nvdisasm() is None:
        return (), (f"SASS: nvdisasm is not installed; the SASS under each PTX line and the "
                    f"register pressure need it: {TOOLS_HINT}, or {sass.NVDISASM_HINT}.")
    try:
        return sass.disassemble(cubin), None
    except (RuntimeError, ptxas.PtxasError, OSError, subprocess.SubprocessError) as err:
        return (), f"SASS unavailable: {err}"


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


def _occupancy_summary(occ: occupancy.Occupancy, grid: int | None, target: str) -> str:
    part, sms = (ARCHS[target].part, ARCHS[target].sm_count) if target in ARCHS else ("", 0)
    text = (
        f"{occ.ctas_per_sm} CTA{'' if occ.ctas_per_sm == 1 else 's'} per SM "
        f"({occ.warps_per_sm} of {occ.arch.max_warps_per_sm} "
        f"warp slots, {occ.fraction:.0%} occupancy); limited by {occ.limiter}."
    )
    if sms and grid:
        busy = min(grid, sms)
        article = "an" if part[:1] in "AHL" else "a"  # an A100, an H100, an L4; a Tesla T4
        text += (f" Its grid has {grid} CTAs: of the {sms} SMs of {article} {part}, {busy} "
                 f"get work ({busy / sms:.0%}).")
    return f'<div style="{theme.NOTE};margin:6px 0 10px">{theme.esc(text)}</div>'


def _occupancy(res: Resources, threads: int | None, shared: int, grid: int | None) -> list[str]:
    """The occupancy heading, table and summary, or a note saying what is missing."""
    if threads is None:
        return [theme.message("Occupancy: no block size given (block_threads), so no "
                              "estimate.", "info")]
    registers = res.report.registers if res.report is not None else 0
    try:
        occ = occupancy.estimate(res.target, threads, registers, shared)
    except ValueError as err:
        return [theme.message(str(err), "warn")]
    heading = "Occupancy estimate"
    if len(res.reports) > 1:
        heading += f" of {res.entry}"
    if res.report is None:
        heading += " (without ptxas: registers unknown, not counted)"
    return [f'<div style="{theme.HEADING}">{theme.esc(heading)}</div>', _occupancy_table(occ),
            _occupancy_summary(occ, grid, res.target)]


def render(res: Resources, kernel=None, *, block_threads: int | None = None,
           shared_bytes: int = 0, sass_pending: bool = False) -> str:
    """The Resources pane: ptxas table, occupancy table and summary, SASS under its PTX
    lines, the register plot, the plain SASS, notes (`sass_pending`: say the SASS is on its
    way). `kernel`: one of the project's kernels (its block, grid and Python lines), or None
    for any PTX: then the occupancy is for `block_threads` threads per CTA (none without it).
    `shared_bytes`: dynamic shared memory per CTA, added to ptxas' static count."""
    if block_threads is None and kernel is not None:
        block_threads = kernel.block[0] * kernel.block[1] * kernel.block[2]
    grid = kernel.grid[0] * kernel.grid[1] * kernel.grid[2] if kernel is not None else None
    parts = [f'<div style="{theme.HEADING}">ptxas for {theme.esc(res.target)}</div>']
    if res.report is not None:
        parts.append(_report_table(res.reports))
        static = res.report.shared_bytes
    else:
        static = kernel.shared_bytes if kernel is not None else 0
    parts += [theme.message(note, "warn") for note in res.notes if "SASS" not in note]
    parts += _occupancy(res, block_threads, static + shared_bytes, grid)
    parts += [theme.message(note, "info") for note in res.notes if "SASS" in note]
    if res.instructions:
        parts.append(_sass_views(res, kernel))
    elif sass_pending and res.report is not None:
        parts.append(theme.message("Disassembling with nvdisasm for the SASS…", "info"))
    return "".join(parts)


_views_cache: dict[tuple[str, str, str, bool], str] = {}
VIEWS_CACHE_SIZE = 8  # up to ~1.3 MB of HTML each (split-kv)


def _sass_views(res: Resources, kernel) -> str:
    """The register plot of the entry, the SASS under its PTX lines, the plain listing;
    cached, since the view redraws a stored result on every return to its configuration."""
    key = (res.ptx, res.target, res.entry, kernel is not None)
    if key not in _views_cache:
        if len(_views_cache) >= VIEWS_CACHE_SIZE:
            _views_cache.pop(next(iter(_views_cache)))
        _views_cache[key] = "".join(_draw_sass_views(res, kernel))
    return _views_cache[key]


def _draw_sass_views(res: Resources, kernel) -> list[str]:
    parts = [f'<div style="{theme.HEADING}">Register pressure</div>']
    try:
        live = sass.registers_of(sass.SassListing(res.target, res.reports, res.instructions),
                                 res.ptx, res.entry)
    except ValueError as err:  # the entry made no SASS of its own
        parts.append(theme.message(f"Register pressure: {err}", "info"))
    else:
        parts.append(regplot.live_registers_svg(live))
    parts.append(f'<div style="{theme.HEADING}">SASS under the PTX line it came from</div>')
    parts.append(sassview.grouped(res.ptx, res.instructions, _sources(res, kernel), res.entry))
    parts.append(sassview.plain(res.instructions))
    return parts


_sources_cache: dict[tuple[str, str], gutter.Sources] = {}


def _sources(res: Resources, kernel) -> gutter.Sources:
    """PTX line -> its source label: the Python line for one of our kernels (from its
    `line_info=True` emission), else the PTX's own `.loc` lines."""
    if kernel is None:
        return gutter.own_sources(res.ptx)
    key = (res.ptx, res.target)
    if key not in _sources_cache:
        try:
            found = gutter.kernel_sources(res.ptx, kernel.emit(res.target, line_info=True))
        except ValueError:  # not this kernel's PTX: its own `.loc` lines, if any
            found = gutter.own_sources(res.ptx)
        if len(_sources_cache) >= CACHE_SIZE:
            _sources_cache.pop(next(iter(_sources_cache)))
        _sources_cache[key] = found
    return _sources_cache[key]


def pending(target: str) -> str:
    """What the pane shows while ptxas runs in the background."""
    return theme.message(f"Assembling with ptxas for {target}…", "info")
