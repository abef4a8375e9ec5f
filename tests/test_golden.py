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


# Short names of the options in a golden file's name; a bool option shows as its first word.
TAGS = {"max_seq_len": "msl", "head_dim": "hd", "num_heads": "h", "num_kv_heads": "kv",
        "num_warps": "w", "dtype": ""}


@dataclass(frozen=True)
class GoldenConfig:
    """A kernel built from the schema's starting values (the CLI's and the app's defaults)
    with `changes` on top; its file is named by the options that are not left to the kernel."""

    kernel: str  # a key of explorer.kernels.KERNELS
    changes: tuple[tuple[str, object], ...] = ()
    target: str = "sm_80"

    @property
    def options(self) -> dict[str, object]:
        from explorer import schema  # here, so the --regen script can set sys.path

        start = {o.name: o.initial for o in schema.options(self.kernel)
                 if o.initial is not schema.REQUIRED and o.initial is not None}
        return start | dict(self.changes)

    @property
    def path(self) -> Path:
        from explorer import schema

        parts = [self.kernel]
        for option in schema.options(self.kernel):
            value = self.options.get(option.name)
            if option.name in TAGS and value is not None:
                parts.append(f"{TAGS[option.name]}{value}")
            elif value is True:
                parts.append(option.name.split("_")[0])
        return GOLDEN / f"{'_'.join(parts)}_{self.target.replace('_', '')}.ptx"

    def emit(self) -> str:
        from explorer.kernels import KERNELS

        return KERNELS[self.kernel](**self.options).emit(target=self.target)


def golden(kernel: str, target: str = "sm_80", **changes) -> GoldenConfig:
    return GoldenConfig(kernel, tuple(changes.items()), target)


SEED_SHAPE = dict(max_seq_len=4096, head_dim=128, num_heads=32, num_kv_heads=8)
CONFIGS = [
    golden("multi-warp", **SEED_SHAPE, num_warps=4),
    golden("multi-warp", **SEED_SHAPE, num_warps=8),  # the seed's shape
    golden("multi-warp", **SEED_SHAPE, num_warps=4, indirect_seq_len=True),
    golden("single-warp", **SEED_SHAPE),
    golden("multi-warp", max_seq_len=1024, head_dim=80, num_heads=12, num_kv_heads=2,
           num_warps=3),  # a partial last slot
    golden("single-warp", max_seq_len=2048, head_dim=256, num_heads=4, num_kv_heads=1,
           indirect_seq_len=True),
    golden("split-kv"),  # the explorer's starting shape: f32 on CUDA cores
    golden("split-kv", "sm_90", dtype="f16"),  # tensor cores
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
