"""The Resources view's occupancy estimate in words: how many CTAs of a kernel fit on one SM,
the resulting warps and occupancy, and which resource stops the next CTA (registers, shared
memory, warp slots or CTA slots).

The limits and the formula are `explorer.arch`'s (the split-KV kernel's defaults use the same
one); this module only names the result. It computes from numbers (ptxas' report and the
launch shape); it runs nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..arch import ARCHS, LIMITERS, WARP, Arch, ctas_per_sm_by


@dataclass(frozen=True)
class Occupancy:
    """CTAs per SM under each limit, the resulting CTAs and warps per SM, and the limiter."""

    arch: Arch
    threads_per_cta: int
    registers: int
    shared_bytes: int
    ctas_by: dict[str, int]

    @property
    def ctas_per_sm(self) -> int:
        return min(self.ctas_by.values())

    @property
    def warps_per_cta(self) -> int:
        return -(-self.threads_per_cta // WARP)

    @property
    def warps_per_sm(self) -> int:
        return self.ctas_per_sm * self.warps_per_cta

    @property
    def fraction(self) -> float:
        """Resident warps over the SM's warp slots."""
        return self.warps_per_sm / self.arch.max_warps_per_sm

    @property
    def limiters(self) -> list[str]:
        """The resources that allow the fewest CTAs (several on a tie), in LIMITERS order."""
        return [name for name in LIMITERS if self.ctas_by[name] == self.ctas_per_sm]

    @property
    def limiter(self) -> str:
        """The limiting resource(s) in words: "registers", "registers and warp slots"."""
        return " and ".join(self.limiters)


def estimate(target: str, threads_per_cta: int, registers: int, shared_bytes: int) -> Occupancy:
    """The occupancy of a kernel on `target` (registers 0: unknown, not counted). Raises
    ValueError for an unknown target or a CTA larger than 1024 threads."""
    ctas_by = ctas_per_sm_by(target, threads_per_cta, registers, shared_bytes)
    return Occupancy(ARCHS[target], threads_per_cta, registers, shared_bytes, ctas_by)
