"""Mutated corpus PTX (a token dropped, two operands swapped, a type changed, a number
changed, a line dropped, doubled or inserted, the file cut short) never makes the parser or
the simulator raise anything but PtxParseError, ValueError or SimError, and never hangs: every
launch runs under a small step limit and the slowest case is bounded. Prints how many mutants
ended each way.
"""

from __future__ import annotations

import random
import re
import time
import warnings
from collections import Counter

from corpus_replay import ENTRIES, arguments, ptx_of

from explorer import sim
from explorer.ptx import PtxParseError
from explorer.sim import SimError

SEED = 20261201
MUTANTS = 1200
MAX_STEPS = 20_000  # the corpus's longest entry needs about 700 group-steps
SLOWEST = 10.0  # seconds one mutant may take, parse to exit
TYPES = ["u32", "s32", "f32", "b64", "u8", "f64", "pred", "b16", "f16", "u64", "s8", "v4"]
TYPE = re.compile(r"\.(u8|u16|u32|u64|s8|s16|s32|s64|b8|b16|b32|b64|f16|f32|f64|pred|v2|v4)\b")


def _instruction_lines(lines: list[str]) -> list[int]:
    return [i for i, line in enumerate(lines)
            if line.strip().endswith(";") and not line.strip().startswith((".", "//"))]


def drop_token(lines: list[str], rng: random.Random) -> None:
    i = rng.choice(_instruction_lines(lines))
    tokens = re.split(r"(\s+|,)", lines[i])
    words = [k for k, t in enumerate(tokens) if t.strip(" ,")]
    if words:
        del tokens[rng.choice(words)]
    lines[i] = "".join(tokens)


def swap_operands(lines: list[str], rng: random.Random) -> None:
    i = rng.choice(_instruction_lines(lines))
    head, _, rest = lines[i].strip().rstrip(";").partition(" ")
    ops = [o.strip() for o in rest.split(",")]
    if len(ops) >= 2:
        a, b = rng.sample(range(len(ops)), 2)
        ops[a], ops[b] = ops[b], ops[a]
    lines[i] = f"\t{head} {', '.join(ops)};"


def wrong_type(lines: list[str], rng: random.Random) -> None:
    candidates = [i for i in range(len(lines)) if TYPE.search(lines[i])]
    i = rng.choice(candidates)
    found = list(TYPE.finditer(lines[i]))
    m = rng.choice(found)
    lines[i] = lines[i][:m.start()] + "." + rng.choice(TYPES) + lines[i][m.end():]


def drop_or_double_line(lines: list[str], rng: random.Random) -> None:
    i = rng.randrange(len(lines))
    if rng.random() < 0.5:
        del lines[i]
    else:
        lines.insert(i, lines[i])


NUMBERS = [0, 1, -1, 3, 31, 32, 33, 255, 1024, 65536, 2**31, 2**32 - 1, 2**63, 10**20]
NUMBER = re.compile(r"(?<![%\w.])-?(0[xX][0-9a-fA-F]+|\d+)\b")
ODD = ["bar.sync 1, 32;", "bar.arrive 2, 64;", "bar.red.popc.u32 %r1, 0, %p1;", "exit;",
       "@%p1 ret;", "call.uni foo, (param0);", "{", "}", ".reg .b32 %tmp;", "mov.u32 %tmp, 1;",
       "ld.shared.v4.f32 {%f1, %f2, %f3, %f4}, [global_smem+4];", "st.param.b32 [param0+4], 1;",
       "cvta.shared.u64 %rd1, %rd1;", "ld.u32 %r1, [%rd1];", ".extern .shared .b8 x[];",
       "shfl.sync.bfly.b32 %r1|%p1, %r1, 1, 31, -1;", ".loc 1 2 3", ".pragma \"nounroll\";",
       ".global .align 4 .u32 g;", "ld.global.u32 %r1, [g];", "mov.u64 %rd1, g;",
       ".const .f32 c[2] = {1, 2};", "ld.const.f32 %f1, [c+4];"]


def change_number(lines: list[str], rng: random.Random) -> None:
    candidates = [i for i in range(len(lines)) if NUMBER.search(lines[i])]
    i = rng.choice(candidates)
    m = rng.choice(list(NUMBER.finditer(lines[i])))
    lines[i] = lines[i][:m.start()] + str(rng.choice(NUMBERS)) + lines[i][m.end():]


def insert_odd_line(lines: list[str], rng: random.Random) -> None:
    lines.insert(rng.randrange(len(lines)), "\t" + rng.choice(ODD))


MUTATIONS = {"drop token": drop_token, "swap operands": swap_operands,
             "wrong type": wrong_type, "drop/double line": drop_or_double_line,
             "change number": change_number, "odd line": insert_odd_line}


def mutant(text: str, rng: random.Random) -> tuple[str, str]:
    """(how, the mutated text)."""
    if rng.random() < 0.15:
        return "truncate", text[:rng.randrange(len(text))]
    how = rng.choice(list(MUTATIONS))
    lines = text.splitlines()
    MUTATIONS[how](lines, rng)
    return how, "\n".join(lines) + "\n"


def attempt(entry: dict, text: str) -> str:
    args, _ = arguments(entry)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", sim.SimWarning)
            sim.launch(text, entry["entry"], tuple(entry["grid"]), tuple(entry["block"]), args,
                       shared_bytes=entry["shared_bytes"], strict=False, max_steps=MAX_STEPS)
    except PtxParseError:
        return "PtxParseError"
    except SimError:
        return "SimError"
    except ValueError:
        return "ValueError"
    return "ran"


def test_mutated_corpus_ptx_raises_only_our_errors_and_never_hangs() -> None:
    rng = random.Random(SEED)
    entries = list(ENTRIES.values())
    outcomes: Counter[str] = Counter()
    hows: Counter[str] = Counter()
    slowest = 0.0
    for _ in range(MUTANTS):
        entry = rng.choice(entries)
        how, text = mutant(ptx_of(entry), rng)
        start = time.perf_counter()
        outcomes[attempt(entry, text)] += 1  # anything else propagates: a traceback
        hows[how] += 1
        slowest = max(slowest, time.perf_counter() - start)
    print(f"\ntest_corpus_fuzz (seed {SEED}): {MUTANTS} mutants ({dict(hows)}) -> "
          f"{dict(outcomes)}; slowest {slowest:.2f} s")
    assert slowest < SLOWEST
    assert outcomes["PtxParseError"] and outcomes["ran"]  # the mutations reach both sides
