"""An occupancy estimate per architecture: how many CTAs of a kernel fit on one SM, and which
resource stops the next one (registers, shared memory, warp slots or CTA slots).

The per-architecture limits are those of NVIDIA's CUDA C++ Programming Guide, table
"Technical Specifications per Compute Capability" (resident CTAs, warps and threads per SM,
32-bit registers per SM, shared memory per SM and per CTA), cross-checked against NVIDIA
CCCL's `cuda/__device/arch_traits.h` (sm_75, 80, 86, 89, 90; sm_87 is not in CCCL: its
values are the guide's, and its shared-memory section 8.x: 164 KB per SM like 8.0). The
allocation granularities (registers allocated per warp in units of 256, warps in groups of
4 for the register limit, shared memory in units of 128 bytes, 1 KB of shared memory
reserved per CTA from sm_80 on) are those of NVIDIA's CUDA Occupancy Calculator.

It computes from numbers (ptxas' report and the launch shape); it runs nothing. It assumes
the largest shared-memory carveout, as the driver picks for a kernel that needs it.
"""

from __future__ import annotations

from dataclasses import dataclass

WARP = 32
REG_ALLOC_UNIT = 256  # registers, allocated per warp
WARP_ALLOC_GRANULARITY = 4
SHARED_ALLOC_UNIT = 128  # bytes
MAX_REGISTERS_PER_THREAD = 255
NO_LIMIT = 1 << 30  # a resource the kernel does not use limits nothing


@dataclass(frozen=True)
class Arch:
    """One architecture's per-SM limits."""

    name: str
    registers_per_sm: int
    max_threads_per_sm: int
    max_ctas_per_sm: int
    shared_per_sm: int  # bytes, the largest carveout
    shared_per_cta: int  # bytes a CTA can use (static shared memory: at most 48 KB)
    reserved_shared_per_cta: int  # bytes the driver keeps per CTA

    @property
    def max_warps_per_sm(self) -> int:
        return self.max_threads_per_sm // WARP


KB = 1024
ARCHS = {
    a.name: a
    for a in (
        Arch("sm_75", 65536, 1024, 16, 64 * KB, 64 * KB, 0),
        Arch("sm_80", 65536, 2048, 32, 164 * KB, 163 * KB, 1 * KB),
        Arch("sm_86", 65536, 1536, 16, 100 * KB, 99 * KB, 1 * KB),
        Arch("sm_87", 65536, 1536, 16, 164 * KB, 163 * KB, 1 * KB),
        Arch("sm_89", 65536, 1536, 24, 100 * KB, 99 * KB, 1 * KB),
        Arch("sm_90", 65536, 2048, 32, 228 * KB, 227 * KB, 1 * KB),
    )
}
ARCHS["sm_90a"] = ARCHS["sm_90"]

LIMITERS = ("registers", "shared memory", "warp slots", "CTA slots")


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


def _round_up(value: int, unit: int) -> int:
    return -(-value // unit) * unit


def ctas_by_registers(arch: Arch, registers: int, warps_per_cta: int) -> int:
    """CTAs whose registers fit in the register file (0 above 255 registers per thread)."""
    if registers > MAX_REGISTERS_PER_THREAD:
        return 0
    per_warp = _round_up(registers * WARP, REG_ALLOC_UNIT)
    warps = arch.registers_per_sm // per_warp
    warps -= warps % WARP_ALLOC_GRANULARITY
    return warps // warps_per_cta


def ctas_by_shared(arch: Arch, shared_bytes: int) -> int:
    """CTAs whose shared memory (plus the driver's reserve) fits in the SM's carveout."""
    if shared_bytes > arch.shared_per_cta:
        return 0
    per_cta = _round_up(shared_bytes + arch.reserved_shared_per_cta, SHARED_ALLOC_UNIT)
    return arch.shared_per_sm // per_cta if per_cta else NO_LIMIT


def estimate(target: str, threads_per_cta: int, registers: int, shared_bytes: int) -> Occupancy:
    """The occupancy of a kernel on `target`. Raises ValueError for an unknown target or a
    CTA larger than 1024 threads."""
    if target not in ARCHS:
        raise ValueError(f"no occupancy data for target={target!r}; known: {', '.join(ARCHS)}")
    if not 1 <= threads_per_cta <= 1024:
        raise ValueError(f"threads_per_cta={threads_per_cta} is outside 1..1024")
    arch = ARCHS[target]
    warps_per_cta = -(-threads_per_cta // WARP)
    ctas_by = {
        # registers 0: unknown (no ptxas report), not counted
        "registers": ctas_by_registers(arch, registers, warps_per_cta) if registers else NO_LIMIT,
        "shared memory": ctas_by_shared(arch, shared_bytes),
        "warp slots": arch.max_warps_per_sm // warps_per_cta,
        "CTA slots": arch.max_ctas_per_sm,
    }
    return Occupancy(arch, threads_per_cta, registers, shared_bytes, ctas_by)
