"""Find nvcc and turn one corpus .cu file into PTX text (`nvcc -ptx -arch=sm_90 FLAGS`).

The nvcc is $NVCC if set, else the one on PATH, else the nvidia-cuda-nvcc wheel's next to
this interpreter or in /work/main/.venv. Nothing here loads or runs the PTX.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ARCH = "sm_90"
_WHEEL_GLOBS = ("lib/python3*/site-packages/nvidia/cu1*/bin/nvcc",
                "lib/python3*/site-packages/nvidia/cuda_nvcc/bin/nvcc")


class CompileError(Exception):
    """nvcc failed; the message ends with the tail of its stderr."""


def find_nvcc() -> str:
    """The nvcc to use; FileNotFoundError naming where it looked."""
    if os.environ.get("NVCC"):
        return os.environ["NVCC"]
    on_path = shutil.which("nvcc")
    if on_path:
        return on_path
    for prefix in (Path(sys.prefix), Path("/work/main/.venv")):
        for pattern in _WHEEL_GLOBS:
            found = sorted(prefix.glob(pattern))
            if found:
                return str(found[-1])
    raise FileNotFoundError("no nvcc: set NVCC, put nvcc on PATH, or install nvidia-cuda-nvcc "
                            "(looked in $NVCC, PATH, and the wheels under sys.prefix)")


def nvcc_version(nvcc: str) -> str:
    """nvcc's release line, e.g. 'Cuda compilation tools, release 13.0, V13.0.88'."""
    out = subprocess.run([nvcc, "--version"], capture_output=True, text=True, check=True).stdout
    lines = [line for line in out.splitlines() if "release" in line]
    return lines[-1].strip() if lines else out.strip().splitlines()[-1]


def compile_module(nvcc: str, source: Path, flags: list[str]) -> str:
    """The PTX text nvcc makes from `source`; CompileError with nvcc's messages on failure."""
    with tempfile.TemporaryDirectory(prefix="corpus-nvcc-") as tmp:
        out = Path(tmp) / (source.stem + ".ptx")
        cmd = [nvcc, "-ptx", f"-arch={ARCH}", *flags, str(source), "-o", str(out)]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-6:]
            raise CompileError(f"{' '.join(cmd[1:])} failed: " + " | ".join(tail))
        return out.read_text()


def ptxas_diagnostic(nvcc: str, ptx: str) -> str:
    """What ptxas (next to nvcc) says about `ptx`, to explain a driver JIT failure."""
    ptxas = Path(nvcc).with_name("ptxas")
    if not ptxas.exists():
        return ""
    target = re.search(r"^\s*\.target\s+(sm_\w+)", ptx, re.M)
    with tempfile.TemporaryDirectory(prefix="corpus-ptxas-") as tmp:
        src = Path(tmp) / "k.ptx"
        src.write_text(ptx)
        arch = target.group(1) if target else ARCH
        proc = subprocess.run([str(ptxas), f"-arch={arch}", str(src), "-o", str(src) + ".o"],
                              capture_output=True, text=True)
        return " | ".join(proc.stderr.strip().splitlines()[-4:])
