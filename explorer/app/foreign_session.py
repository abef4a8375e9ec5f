"""The app's "PTX file" mode without widgets: its state (`ForeignState`: the PTX source, the
chosen entry and its run form, the diff baseline, the target), and a run of the form on the
simulator, the GPU or both (`run` -> `ForeignRun`, with `ArraySummary` per array).

The arrays are made and launched by `explorer.run_ptx` (the command line's `run-ptx` does the
same); every problem becomes a message in the result, never an exception. It draws nothing
(see `foreign_panes.py`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import run_ptx, runtime
from ..arch import TARGETS
from ..ptx.program import Launch
from .foreign import BACKENDS, LaunchValues, PtxSource, RunForm, form_for

SHOWN_VALUES = 8
BASELINES = ("our kernel", "pinned PTX")


@dataclass(frozen=True)
class ArraySummary:
    """What the Run view shows of one array after a run."""

    shape: tuple[int, ...]
    dtype: str
    first: tuple
    minimum: float
    maximum: float
    mean: float
    nans: int
    written: bool

    @staticmethod
    def of(array: np.ndarray, before: np.ndarray | None = None) -> ArraySummary:
        flat = np.asarray(array).reshape(-1)
        values = flat.astype(np.float64) if flat.size else np.zeros(1)
        finite = values[np.isfinite(values)]
        stats = (finite.min(), finite.max(), finite.mean()) if finite.size else (np.nan,) * 3
        written = before is None or not np.array_equal(array, before, equal_nan=True)
        return ArraySummary(tuple(array.shape), str(array.dtype),
                            tuple(flat[:SHOWN_VALUES].tolist()), *map(float, stats),
                            int(np.isnan(values).sum()), written)


@dataclass
class ForeignRun:
    """One run of the form: per backend its arrays, the largest |sim - cuda| per array when
    both ran, the simulator's findings (each with its PTX line), errors, notes, seconds."""

    source: str
    form: RunForm
    backends: tuple[str, ...] = ()
    runs: dict[str, run_ptx.PtxRun] = field(default_factory=dict)
    differences: dict[str, float] = field(default_factory=dict)
    findings: tuple = ()
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    not_run: str = ""

    @property
    def verdict(self) -> str:
        """"ran", "ran with errors", "failed" (no backend finished) or "not run"."""
        if self.not_run:
            return "not run"
        if not self.runs:
            return "failed"
        return "ran with errors" if self.errors else "ran"

    def summaries(self, backend: str) -> dict[str, ArraySummary]:
        one = self.runs[backend]
        return {n: ArraySummary.of(a, one.inputs.get(n)) for n, a in one.arrays.items()}


def resolve_backends(choice: str) -> tuple[tuple[str, ...], str]:
    """(the backends that run, why): `both` and `auto` run the simulator where CuPy finds no
    GPU, and say so; `cuda` without a GPU runs nothing."""
    if choice not in BACKENDS:
        raise ValueError(f"backend {choice!r}; accepted: {', '.join(BACKENDS)}")
    if choice != "both":
        backend, why = runtime.choose_backend(choice)
        if backend == "cuda" and not runtime.gpu_probe()[0]:
            return (), why
        return (backend,), why
    found, detail = runtime.gpu_probe()
    if found:
        return ("sim", "cuda"), f"the simulator and the GPU, {detail}, from the same inputs"
    return ("sim",), f"both: no GPU here ({detail}); the simulator only"


def prepare(source: PtxSource, form: RunForm) -> tuple[Launch, dict[str, np.ndarray]]:
    """The launch and its input arrays by parameter name; ValueError naming the field."""
    problems = form.problems(source)
    if problems:
        raise ValueError("; ".join(problems))
    grid, block, shared = form.dims()
    _, entry, args, buffers = run_ptx.prepare(source.program, form.entry, form.words(),
                                              form.seed)
    return Launch(entry, grid, block, args, shared), buffers


def run(source: PtxSource, form: RunForm,
        progress: Callable[[str, float], None] | None = None) -> ForeignRun:
    """Run the form on its backend(s); every problem becomes a message in the result."""
    started = time.perf_counter()
    report = progress or (lambda step, fraction: None)
    result = ForeignRun(source.name, form)
    try:
        backends, why = resolve_backends(form.backend)
        launch, buffers = prepare(source, form)
    except ValueError as err:
        result.not_run, result.errors = str(err), [str(err)]
        return result
    result.notes.append(f"backend: {why}")
    if not backends:
        result.not_run = why
        return result
    result.backends = backends
    for k, backend in enumerate(backends):
        report(f"running on {backend}", k / len(backends))
        try:
            result.runs[backend] = run_ptx.launch_on(source.program, launch, buffers, backend)
        except Exception as err:  # noqa: BLE001  (the simulator's or the driver's error, shown)
            result.errors.append(f"{backend}: {type(err).__name__}: {err}")
    if "sim" in result.runs:
        result.findings = tuple(dict.fromkeys(result.runs["sim"].findings))
    if len(result.runs) == 2:
        sim, gpu = result.runs["sim"].arrays, result.runs["cuda"].arrays
        result.differences = {n: run_ptx.largest_difference(sim[n], gpu[n]) for n in sim}
    result.seconds = time.perf_counter() - started
    report("done", 1.0)
    return result


def launch_values(source: PtxSource, form: RunForm) -> LaunchValues:
    """The form's launch with its arrays made (the run's inputs, from the form's seed).
    ValueError naming the field."""
    launch, buffers = prepare(source, form)
    args = [buffers[a] if isinstance(a, str) else a for a in launch.args]
    return LaunchValues(source.text, launch.entry, launch.grid, launch.block, args,
                        launch.shared_bytes)


@dataclass
class ForeignState:
    """The PTX-file mode: the source (None until one opened), its entry's form, the problem
    of the last paste or path that did not open (the previous source stays), the pinned PTX
    and which baseline the diff uses, the ptxas target, and the last run."""

    source: PtxSource | None = None
    form: RunForm | None = None
    problem: str = ""
    pinned: tuple[PtxSource, str] | None = None
    baseline: str = BASELINES[0]
    target: str | None = None  # chosen in this mode; else the PTX's own .target
    result: ForeignRun | None = None

    @property
    def entry(self) -> str | None:
        return self.form.entry if self.form is not None else None

    def open(self, text_or_path: str | Path, entry: str | None = None, **form) -> None:
        """Open PTX text or a path; ValueError naming the problem (also kept in `problem`,
        the current source staying as it was)."""
        try:
            source = PtxSource.open(text_or_path)
            new_form = form_for(source, entry, **form)
        except ValueError as err:
            self.problem = str(err)
            raise
        self.source, self.form, self.problem, self.result = source, new_form, "", None

    def choose_entry(self, entry: str) -> None:
        """Another entry of the module: its own form, keeping the backend and seed."""
        if self.source is None:
            raise ValueError("no PTX is open: paste or load one first")
        old = self.form
        self.form = form_for(self.source, entry, backend=old.backend if old else None,
                             seed=old.seed if old else None)
        self.result = None

    def pin(self) -> None:
        """Pin the current PTX as the diff baseline (and switch to it)."""
        if self.source is None or self.entry is None:
            raise ValueError("no PTX is open to pin")
        self.pinned = (self.source, self.entry)
        self.baseline = BASELINES[1]

    def target_for(self, kernel_target: str) -> str:
        """ptxas' target: the one chosen in this mode, else the PTX's `.target` where the
        explorer knows it, else the kernel controls'."""
        if self.target is not None:
            return self.target
        own = (self.source.target or "").split(",")[0].strip() if self.source else ""
        return own if own in TARGETS else kernel_target
