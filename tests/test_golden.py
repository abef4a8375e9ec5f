"""Golden PTX: the emitted module of a few configurations, byte for byte, so that any change to
the emitted code shows up in review as a diff of `tests/golden/*.ptx`.

Regenerate after an intended change, from the repository root, and review the diff:

    python tests/test_golden.py --regen

It checks text only; ptxas and the numbers are tested elsewhere.
"""

from __future__ import annotations

import argparse
import difflib
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = Path(__file__).resolve().parent / "golden"


@dataclass(frozen=True)
class GoldenConfig:
    kernel: str  # a key of explorer.kernels.KERNELS
    max_seq_len: int
    head_dim: int
    num_heads: int
    num_kv_heads: int
    num_warps: int | None = None  # multi-warp only
    indirect: bool = False
    target: str = "sm_80"

    @property
    def path(self) -> Path:
        warps = f"_w{self.num_warps}" if self.num_warps is not None else ""
        indirect = "_indirect" if self.indirect else ""
        name = (
            f"{self.kernel}_msl{self.max_seq_len}_hd{self.head_dim}_h{self.num_heads}"
            f"_kv{self.num_kv_heads}{warps}{indirect}_{self.target.replace('_', '')}.ptx"
        )
        return GOLDEN / name

    def emit(self) -> str:
        from explorer.kernels import KERNELS  # here, so the --regen script can set sys.path

        shape = (self.max_seq_len, self.head_dim, self.num_heads, self.num_kv_heads)
        warps = () if self.num_warps is None else (self.num_warps,)
        kernel = KERNELS[self.kernel](*shape, *warps, indirect_seq_len=self.indirect)
        return kernel.emit(target=self.target)


CONFIGS = [
    GoldenConfig("multi-warp", 4096, 128, 32, 8, num_warps=4),
    GoldenConfig("multi-warp", 4096, 128, 32, 8, num_warps=8),  # the seed's shape
    GoldenConfig("multi-warp", 4096, 128, 32, 8, num_warps=4, indirect=True),
    GoldenConfig("single-warp", 4096, 128, 32, 8),
    GoldenConfig("multi-warp", 1024, 80, 12, 2, num_warps=3),  # a partial last slot
    GoldenConfig("single-warp", 2048, 256, 4, 1, indirect=True),
]


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: c.path.stem)
def test_emitted_ptx_matches_the_golden_file(config: GoldenConfig) -> None:
    if not config.path.exists():
        pytest.fail(f"{config.path} is missing; run `python tests/test_golden.py --regen`")
    expected = config.path.read_text(encoding="utf-8")
    actual = config.emit()
    if actual != expected:
        diff = difflib.unified_diff(
            expected.splitlines(keepends=True),
            actual.splitlines(keepends=True),
            fromfile=f"golden/{config.path.name}",
            tofile="emitted",
        )
        pytest.fail(
            "emitted PTX differs from the golden file (if intended, run "
            "`python tests/test_golden.py --regen` and review the diff):\n" + "".join(diff),
            pytrace=False,
        )


def test_golden_file_names_are_distinct_and_no_stray_files() -> None:
    names = {c.path.name for c in CONFIGS}
    assert len(names) == len(CONFIGS)
    assert {p.name for p in GOLDEN.glob("*.ptx")} == names


def regenerate() -> None:
    GOLDEN.mkdir(exist_ok=True)
    for config in CONFIGS:
        text = config.emit()
        old = config.path.read_text(encoding="utf-8") if config.path.exists() else None
        config.path.write_text(text, encoding="utf-8", newline="\n")
        state = "new" if old is None else "unchanged" if old == text else "rewritten"
        print(f"{state:9} {config.path.relative_to(ROOT)}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--regen", action="store_true", help="rewrite tests/golden/*.ptx")
    if not parser.parse_args().regen:
        parser.error("nothing to do: pass --regen (the tests themselves run under pytest)")
    sys.path.insert(0, str(ROOT))  # run as a script from anywhere: make `explorer` importable
    regenerate()
