"""The lesson's first three exercises and their checkers (the fourth is `splits.py`'s). Each
checker takes the reader's answer (None until they write one) and returns a `Verdict`: PASS
or FAIL with a message that says why, computed from real runs (the debug kernel's record, the
online softmax, the shuffle kernel on the simulator), never from a stored answer key.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from ..verify import WarpStates, compare
from .shuffle import shuffle_sources
from .softmax import online_softmax, softmax

RESCALE_CASES = ("one position", "decreasing", "max first", "random", "increasing")


@dataclass(frozen=True)
class Verdict:
    """A checker's result: `passed`, and a message saying why. Prints as `PASS: ...`."""

    passed: bool
    message: str

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        return f"{'PASS' if self.passed else 'FAIL'}: {self.message}"

    __repr__ = __str__


def _close(a: float, b: float) -> bool:
    """Equal to about 3 decimals (answers are read off printed tables)."""
    return abs(a - b) <= max(5e-4, 1e-3 * abs(b))


# -- exercise 1: predict a warp's merge factor -------------------------------------------------
def check_merge_factor(
    answer: float | None, states: WarpStates, warp: int, head: int = 0
) -> Verdict:
    """Is `answer` the merge factor the kernel recorded for `warp` of `head` (to 3 decimals)?"""
    if not 0 <= head < states.num_heads or not 0 <= warp < states.num_warps:
        raise ValueError(
            f"head={head}, warp={warp}; accepted: head 0..{states.num_heads - 1}, "
            f"warp 0..{states.num_warps - 1}"
        )
    if answer is None:
        return Verdict(False, "no answer yet: replace None with a number")
    if isinstance(answer, bool) or not isinstance(answer, numbers.Real):
        return Verdict(False, f"the answer must be a number, got {answer!r}")
    m_w, big_m = float(states.m[head, warp]), float(states.M[head])
    want, l_w = float(states.factor[head, warp]), float(states.l[head, warp])
    if math.isinf(m_w):
        why = f"warp {warp} walked no position (m_w = -inf): its factor is 0, it adds nothing"
        return Verdict(_close(answer, 0.0), why if _close(answer, 0.0) else f"{answer}: {why}")
    if _close(answer, want):
        return Verdict(
            True,
            f"exp(m_w - M) = exp({m_w:.4f} - {big_m:.4f}) = {want:.6f} "
            f"(the kernel recorded {want:.6f}); its sum l_w = {l_w:.4f} counts as "
            f"{l_w * want:.4f} in L = {float(states.L[head]):.4f}",
        )
    hints = [
        (m_w - big_m, "that is the exponent m_w - M; the factor is exp of it"),
        (math.exp(big_m - m_w), "inverted: exp(M - m_w) >= 1, but m_w <= M"),
        (l_w * want, "that is the rescaled sum l_w * factor, not the factor"),
        (float(states.share[head, warp]), "that is the warp's share of L, not its factor"),
    ]
    hint = next((text for value, text in hints if _close(answer, value)), None)
    if hint is None:
        hint = (
            "a merge factor lies in (0, 1]"
            if not 0 < answer <= 1
            else "use this warp's m_w and the head's global max M"
        )
    return Verdict(False, f"{answer} is not warp {warp}'s factor: {hint}")


# -- exercise 2: break the rescale; which inputs catch it? -----------------------------------
def rescale_case(name: str, n: int = 32, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(scores `[n]`, values `[n, 4]`) of one named input kind."""
    rng = np.random.default_rng(seed)
    values = rng.standard_normal((n, 4))
    random = 2.0 * rng.standard_normal(n)
    scores = {
        "one position": random[:1],
        "decreasing": np.linspace(4.0, -4.0, n),
        "max first": np.concatenate([[random.max() + 1.0], random[1:]]),
        "random": random,
        "increasing": np.linspace(-4.0, 4.0, n),
    }.get(name)
    if scores is None:
        raise ValueError(f"case {name!r}; accepted: {', '.join(RESCALE_CASES)}")
    return scores, values[: scores.size]


def rescale_cases_table(shown: int = 8) -> str:
    """Each case's first `shown` scores, one line per case, under a header saying so."""
    lines = [f"{'input case':13s} the first {shown} scaled scores s_0, s_1, ... it feeds the "
             "online softmax"]
    for name in RESCALE_CASES:
        scores = rescale_case(name)[0]
        more = " ..." if scores.size > shown else ""
        lines.append(f"{name:13s} " + " ".join(f"{x:6.2f}" for x in scores[:shown]) + more)
    return "\n".join(lines)


def rescale_bug_caught(name: str) -> bool:
    """Does comparing the broken online softmax (`rescale=False`) with the reference fail on
    this input kind?"""
    scores, values = rescale_case(name)
    broken = online_softmax(scores, values, rescale=False).out
    return not compare(broken, softmax(scores) @ values).passed


def check_broken_rescale(answer: Iterable[str] | None) -> Verdict:
    """Is `answer` exactly the set of RESCALE_CASES on which a test catches the missing
    rescale?"""
    if answer is None:
        return Verdict(
            False,
            f"no answer yet: list the cases (of {', '.join(RESCALE_CASES)}) that catch the bug",
        )
    chosen = {answer} if isinstance(answer, str) else set(answer)
    unknown = chosen - set(RESCALE_CASES)
    if unknown:
        return Verdict(
            False, f"unknown case(s) {sorted(unknown)}; accepted: {', '.join(RESCALE_CASES)}"
        )
    caught = {name for name in RESCALE_CASES if rescale_bug_caught(name)}
    if chosen == caught:
        return Verdict(
            True,
            f"only {', '.join(sorted(caught))} catch it: without the rescale "
            "the result is wrong only when the running max rises after the first "
            "position. That is why the tests use strictly increasing scores "
            "(explorer.verify.make_inputs(kind='increasing')).",
        )
    parts = []
    if caught - chosen:
        parts.append(
            f"missed {sorted(caught - chosen)}: the running max rises there after "
            "position 0, so terms summed against an older max are never corrected"
        )
    if chosen - caught:
        parts.append(
            f"{sorted(chosen - caught)} pass with the bug: their max comes first, "
            "so every rescale factor would have been exp(0) = 1 anyway"
        )
    return Verdict(False, "; ".join(parts))


# -- exercise 3: which lanes has a lane summed after s shuffle steps? -------------------------
def check_shuffle_sources(
    answer: Iterable[int] | None, lane: int = 0, step: int = 3, backend: str = "sim"
) -> Verdict:
    """Is `answer` the set of input lanes whose values `lane` holds after `step` steps (found
    by running the shuffle kernel on one-hot inputs)?"""
    truth = shuffle_sources(lane, step, backend)
    if answer is None:
        return Verdict(
            False,
            f"no answer yet: list the input lanes lane {lane} has summed after {step} step(s)",
        )
    try:
        chosen = {int(x) for x in answer}
    except (TypeError, ValueError):
        return Verdict(False, f"the answer must be lane numbers, got {answer!r}")
    repeats = {j: c for j, c in truth.items() if c > 1}
    note = (
        f" Lanes past 31 - delta read their own value, so it is counted more than once: "
        f"{repeats} (input lane: times)."
        if repeats
        else ""
    )
    if chosen == set(truth):
        return Verdict(
            True, f"after {step} step(s) lane {lane} holds the sum of lanes {sorted(truth)}.{note}"
        )
    missing, extra = sorted(set(truth) - chosen), sorted(chosen - set(truth))
    return Verdict(
        False,
        f"missing lanes {missing}, extra lanes {extra}. Step 1 adds the value "
        "of the lane 16 places up, step 2 the lane 8 up, and so on.",
    )
