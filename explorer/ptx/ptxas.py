"""Run NVIDIA's ``ptxas`` on PTX text and read back what it allocated per entry.

``assemble`` writes the PTX to a temporary directory, runs ``ptxas -arch=<target> -v``
and returns one :class:`PtxasReport` per ``.entry`` (registers, spills, shared memory,
barriers, constant bank 0). ``parse_verbose`` is the pure parser behind it and needs no
ptxas. ``assemble_cubin`` returns the cubin bytes. ``line_info=True`` adds ``-lineinfo``: the
cubin's line table then maps each SASS instruction to the PTX's ``.loc`` (see
``explorer.ptx.sass``); the code is the same.

``ptxas`` is looked up, in order: the ``PTXAS`` environment variable, the pip wheel
(``pip install "nvidia-cuda-nvcc>=13,<14"``), then ``PATH``. No GPU is needed.

This module does not load or launch anything (the runtime does) and does not read SASS.
Standard library only.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "PtxasError",
    "PtxasNotFound",
    "PtxasReport",
    "assemble",
    "assemble_cubin",
    "assemble_with_cubin",
    "find_ptxas",
    "find_tool",
    "parse_verbose",
]

INSTALL_HINT = 'pip install "nvidia-cuda-nvcc>=13,<14"'
TARGET_PATTERN = re.compile(r"sm_\d+[af]?")
# wheel layouts: CUDA 13.x puts the toolkit under nvidia/cu13, 12.x under nvidia/cuda_nvcc
WHEEL_SUBDIRS = ("cu13/bin", "cuda_nvcc/bin")
# first error lines kept in a PtxasError message; the full text stays in .stderr
ERROR_LINES_SHOWN = 8


class PtxasNotFound(RuntimeError):
    """No ``ptxas`` executable was found (environment variable, pip wheel or PATH)."""

    def __init__(self, detail: str = "") -> None:
        message = (
            "ptxas not found. Install it with "
            f"{INSTALL_HINT} (or the project's dev extra: pip install -e '.[dev]'), "
            "or point the PTXAS environment variable at a ptxas executable "
            "(PTXAS=/path/to/ptxas)."
        )
        super().__init__(f"{message} {detail}".strip())


class PtxasError(RuntimeError):
    """ptxas rejected the PTX; ``stderr`` holds its full output."""

    def __init__(self, target: str, returncode: int, stderr: str) -> None:
        self.target = target
        self.returncode = returncode
        self.stderr = stderr
        lines = [line for line in stderr.splitlines() if "error" in line or "fatal" in line]
        shown = "\n".join((lines or stderr.splitlines())[:ERROR_LINES_SHOWN])
        super().__init__(f"ptxas failed for {target} (exit {returncode}):\n{shown}")


@dataclass(frozen=True)
class PtxasReport:
    """What ptxas -v reports for one entry. Fields ptxas did not print are 0.

    ``cmem_bytes`` is constant bank 0 (parameters and driver constants); ptxas 13.x prints it
    for sm_80/sm_89 but not for sm_90 and newer, where it reads 0. ``raw`` holds the -v lines
    that belong to this entry.
    """

    entry: str
    target: str
    registers: int
    spill_store_bytes: int
    spill_load_bytes: int
    stack_frame_bytes: int
    shared_bytes: int
    barriers: int
    cmem_bytes: int
    raw: str

    @property
    def spill_bytes(self) -> int:
        """Spill stores plus spill loads, in bytes."""
        return self.spill_store_bytes + self.spill_load_bytes


# ---------------------------------------------------------------- finding ptxas


def _is_executable(path: str | os.PathLike[str]) -> bool:
    return os.path.isfile(path) and os.access(path, os.X_OK)


def _tool_from_env(variable: str) -> str | None:
    path = os.environ.get(variable)
    return path if path and _is_executable(path) else None


def _tool_from_wheel(name: str, subdirs: tuple[str, ...]) -> str | None:
    try:
        spec = importlib.util.find_spec("nvidia")
    except (ImportError, ValueError):
        return None
    for root in (spec.submodule_search_locations or []) if spec else []:
        for subdir in subdirs:
            candidate = Path(root) / subdir / name
            if _is_executable(candidate):
                return str(candidate)
    return None


def find_tool(name: str, variable: str, wheel_subdirs: tuple[str, ...]) -> str | None:
    """Path of a CUDA command-line tool: the environment variable `variable` (skipped unless
    it names an executable file), then the NVIDIA pip wheels' `wheel_subdirs` of the
    `nvidia` namespace package, then PATH; else None."""
    return (_tool_from_env(variable) or _tool_from_wheel(name, wheel_subdirs)
            or shutil.which(name))


def find_ptxas() -> str | None:
    """Path of a ptxas executable: ``$PTXAS``, then the pip wheel, then PATH; else None.

    A ``PTXAS`` that is not an executable file is skipped (``PtxasNotFound`` names it).
    """
    return find_tool("ptxas", "PTXAS", WHEEL_SUBDIRS)


def _require_ptxas(ptxas: str | None) -> str:
    if ptxas is not None:
        if not _is_executable(ptxas):
            raise PtxasNotFound(f"The given ptxas={ptxas!r} is not an executable file.")
        return ptxas
    found = find_ptxas()
    if found is None:
        env = os.environ.get("PTXAS")
        raise PtxasNotFound(f"PTXAS={env!r} is not an executable file." if env else "")
    return found


# ---------------------------------------------------------------- parsing -v output

_ENTRY = re.compile(r"Compiling entry function '([^']+)' for '([^']+)'")
_PROPERTIES = re.compile(r"Function properties for (\S+)")
_USED = re.compile(r"\bUsed (\d+) registers")
_FIELDS = {
    "stack_frame_bytes": re.compile(r"(\d+) bytes stack frame"),
    "spill_store_bytes": re.compile(r"(\d+) bytes spill stores"),
    "spill_load_bytes": re.compile(r"(\d+) bytes spill loads"),
    "barriers": re.compile(r"used (\d+) barriers"),
    "shared_bytes": re.compile(r"(\d+) bytes smem"),
    "cmem_bytes": re.compile(r"(\d+) bytes cmem\[0\]"),
}


def _fields(line: str) -> dict[str, int]:
    return {name: int(m.group(1)) for name, rx in _FIELDS.items() if (m := rx.search(line))}


def parse_verbose(text: str) -> dict[str, PtxasReport]:
    """Parse ``ptxas -v`` output into one report per compiled entry, keyed by entry name.

    Stack and spill figures come from the "Function properties for <name>" block, wherever it
    appears; registers, barriers, smem and cmem from the "Used ..." line after the entry's
    "Compiling entry function" line. Non-entry functions (``.func``) get no report.
    """
    entries: dict[str, dict] = {}
    properties: dict[str, tuple[dict[str, int], list[str]]] = {}
    current: str | None = None  # entry whose "Used" line comes next
    pending: str | None = None  # function whose stack/spill line comes next
    for line in text.splitlines():
        if m := _ENTRY.search(line):
            current, pending = m.group(1), None
            entries[current] = {"target": m.group(2), "fields": {}, "lines": [line]}
        elif m := _PROPERTIES.search(line):
            pending = m.group(1)
            properties[pending] = ({}, [line])
        elif pending and "stack frame" in line:
            properties[pending][0].update(_fields(line))
            properties[pending][1].append(line)
            pending = None
        elif current and (m := _USED.search(line)):
            entries[current]["fields"].update(_fields(line), registers=int(m.group(1)))
            entries[current]["lines"].append(line)
        elif current and "Compile time" in line:
            entries[current]["lines"].append(line)
            current = None
    return {name: _report(name, info, properties.get(name)) for name, info in entries.items()}


def _report(name: str, info: dict, props: tuple[dict[str, int], list[str]] | None) -> PtxasReport:
    prop_fields, prop_lines = props or ({}, [])
    fields = {**prop_fields, **info["fields"]}
    lines = info["lines"][:1] + prop_lines + info["lines"][1:]
    return PtxasReport(
        entry=name,
        target=info["target"],
        registers=fields.get("registers", 0),
        spill_store_bytes=fields.get("spill_store_bytes", 0),
        spill_load_bytes=fields.get("spill_load_bytes", 0),
        stack_frame_bytes=fields.get("stack_frame_bytes", 0),
        shared_bytes=fields.get("shared_bytes", 0),
        barriers=fields.get("barriers", 0),
        cmem_bytes=fields.get("cmem_bytes", 0),
        raw="\n".join(lines),
    )


# ---------------------------------------------------------------- running ptxas


def _check_target(target: str) -> None:
    if not isinstance(target, str) or not TARGET_PATTERN.fullmatch(target):
        raise ValueError(
            f"target={target!r} is not a ptxas architecture: expected sm_<number> with an "
            "optional 'a' or 'f' suffix, e.g. 'sm_80', 'sm_90a' (CUDA 13 ptxas: sm_75 and newer)"
        )


def _run_ptxas(
    ptx: str, target: str, ptxas: str | None, timeout: float, verbose: bool,
    line_info: bool = False,
) -> tuple[str, bytes]:
    """Assemble ``ptx`` for ``target``; return (ptxas stderr, cubin bytes)."""
    _check_target(target)
    exe = _require_ptxas(ptxas)
    with tempfile.TemporaryDirectory(prefix="explorer-ptxas-") as tmp:
        # relative names, run in tmp: error lines read "ptxas kernel.ptx, line N; error ..."
        Path(tmp, "kernel.ptx").write_text(ptx, encoding="utf-8")
        cmd = [exe, f"-arch={target}", *(["-v"] if verbose else []),
               *(["-lineinfo"] if line_info else []), "kernel.ptx"]
        cmd += ["-o", "kernel.cubin"]
        try:
            done = subprocess.run(
                cmd, cwd=tmp, capture_output=True, text=True, timeout=timeout, check=False
            )
        except subprocess.TimeoutExpired as exc:
            raise PtxasError(target, -1, f"ptxas timed out after {timeout} s") from exc
        # ptxas writes -v info and errors to stderr; keep stdout too in case a version differs
        output = done.stderr + done.stdout
        if done.returncode != 0:
            raise PtxasError(target, done.returncode, output)
        return output, Path(tmp, "kernel.cubin").read_bytes()


def assemble(
    ptx: str, target: str = "sm_80", *, ptxas: str | None = None, timeout: float = 60
) -> dict[str, PtxasReport]:
    """Assemble ``ptx`` with ``ptxas -arch=<target> -v``; return one report per entry.

    Raises ValueError for a malformed ``target``, PtxasNotFound without ptxas, and
    PtxasError (with ptxas' stderr) when assembly fails.
    """
    return assemble_with_cubin(ptx, target, ptxas=ptxas, timeout=timeout)[0]


def assemble_with_cubin(
    ptx: str, target: str = "sm_80", *, ptxas: str | None = None, timeout: float = 60,
    line_info: bool = False,
) -> tuple[dict[str, PtxasReport], bytes]:
    """One ptxas run giving both the reports and the cubin (same errors as assemble);
    `line_info`: with `-lineinfo` (the cubin carries the `.loc` lines' table)."""
    output, cubin = _run_ptxas(ptx, target, ptxas, timeout, verbose=True, line_info=line_info)
    return parse_verbose(output), cubin


def assemble_cubin(
    ptx: str, target: str = "sm_80", *, ptxas: str | None = None, timeout: float = 60,
    line_info: bool = False,
) -> bytes:
    """Assemble ``ptx`` for ``target`` and return the cubin bytes (same errors as assemble;
    `line_info` as for assemble_with_cubin)."""
    _, cubin = _run_ptxas(ptx, target, ptxas, timeout, verbose=False, line_info=line_info)
    return cubin
