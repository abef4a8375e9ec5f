"""The architecture table: per PTX target its compute capability, its per-SM limits, whether it
has the tensor-core instruction the split-KV kernel uses, and a typical part (name and SM
count); the PTX ISA version the emitter declares; and the one occupancy formula (CTAs per SM
allowed by registers, shared memory, warp slots and CTA slots) that the app's Resources view
and the split-KV kernel's defaults both use.

Per-SM limits: NVIDIA's CUDA C++ Programming Guide, "Technical Specifications per Compute
Capability", cross-checked against NVIDIA CCCL's `cuda/__device/arch_traits.h` (sm_75, 80, 86,
89, 90; sm_87 is not in CCCL: its values are the guide's, its shared memory 164 KB per SM like
8.0). Allocation granularities (registers per warp in units of 256, warps in groups of 4 for
the register limit, shared memory in units of 128 bytes, 1 KB reserved per CTA from sm_80 on):
NVIDIA's CUDA Occupancy Calculator. The largest shared-memory carveout is assumed, as the
driver picks for a kernel that needs it.

Standard library only; every layer may import it. Numbers only: it runs and emits nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

PTX_VERSION = "8.0"  # accepted by ptxas 12.x/13.x and the CUDA 13.0 driver; covers sm_90a
WARP = 32
KB = 1024
MAX_THREADS_PER_CTA = 1024
MAX_STATIC_SHARED = 48 * KB  # a static `.shared` allocation, on every target
MAX_REGISTERS_PER_THREAD = 255
REG_ALLOC_UNIT = 256  # registers, allocated per warp
WARP_ALLOC_GRANULARITY = 4  # warps, for the register limit
SHARED_ALLOC_UNIT = 128  # bytes
MMA_F16_SINCE = (8, 0)  # mma.sync.m16n8k16 with f16/bf16 operands
PDL_SINCE = (9, 0)  # griddepcontrol: programmatic dependent launch
NO_LIMIT = 1 << 30  # a resource the kernel does not use limits nothing
LIMITERS = ("registers", "shared memory", "warp slots", "CTA slots")


@dataclass(frozen=True)
class Arch:
    """One PTX target: its compute capability, per-SM limits and a typical part."""

    target: str  # "sm_90a"
    capability: tuple[int, int]  # (9, 0)
    registers_per_sm: int
    max_threads_per_sm: int
    max_ctas_per_sm: int
    shared_per_sm: int  # bytes, the largest carveout
    shared_per_cta: int  # bytes one CTA may use (dynamic; a static allocation: 48 KB)
    reserved_shared_per_cta: int  # bytes the driver keeps per CTA
    part: str  # a typical part, to read a grid against
    sm_count: int  # that part's SMs

    @property
    def max_warps_per_sm(self) -> int:
        return self.max_threads_per_sm // WARP

    @property
    def mma_f16(self) -> bool:
        """Whether `mma.sync.m16n8k16` takes f16/bf16 operands here (the tensor-core path)."""
        return self.capability >= MMA_F16_SINCE

    @property
    def pdl(self) -> bool:
        """Whether `griddepcontrol` (programmatic dependent launch) exists here."""
        return self.capability >= PDL_SINCE

    @property
    def arch_specific(self) -> bool:
        """`sm_90a`: features of this exact chip; its PTX runs on no later one."""
        return self.target.endswith("a")


def _row(target: str, *limits_and_part) -> Arch:
    digits = target[3:].rstrip("a")  # the capability is spelled in the name: sm_86 -> (8, 6)
    return Arch(target, (int(digits[:-1]), int(digits[-1])), *limits_and_part)


ARCHS = {
    a.target: a
    for a in (
        _row("sm_75", 65536, 1024, 16, 64 * KB, 64 * KB, 0, "Tesla T4", 40),
        _row("sm_80", 65536, 2048, 32, 164 * KB, 163 * KB, 1 * KB, "A100", 108),
        _row("sm_86", 65536, 1536, 16, 100 * KB, 99 * KB, 1 * KB, "A10", 72),
        _row("sm_87", 65536, 1536, 16, 164 * KB, 163 * KB, 1 * KB, "Jetson AGX Orin", 16),
        _row("sm_89", 65536, 1536, 24, 100 * KB, 99 * KB, 1 * KB, "L4", 58),
        _row("sm_90", 65536, 2048, 32, 228 * KB, 227 * KB, 1 * KB, "H100 SXM", 132),
        _row("sm_90a", 65536, 2048, 32, 228 * KB, 227 * KB, 1 * KB, "H100 SXM", 132),
    )
}
TARGETS = tuple(ARCHS)
TUNED = ARCHS["sm_90"]  # the split-KV defaults were measured here (an H200: 132 SMs too)


def newest_target(capability: tuple[int, int]) -> str | None:
    """The newest portable target a GPU of `capability` runs (PTX JITs forward to newer GPUs;
    an `a` target runs on its own chip only), or None below the oldest target."""
    usable = [a.target for a in ARCHS.values()
              if not a.arch_specific and a.capability <= capability]
    return usable[-1] if usable else None


def _round_up(value: int, unit: int) -> int:
    return -(-value // unit) * unit


def ctas_by_registers(arch: Arch, registers: int, warps_per_cta: int,
                      warp_granularity: int = WARP_ALLOC_GRANULARITY,
                      max_registers: int | None = MAX_REGISTERS_PER_THREAD) -> int:
    """CTAs whose registers fit in the register file: per warp `registers * 32` rounded up to
    256, whole groups of `warp_granularity` warps; 0 above `max_registers` per thread (None:
    no cap, for an estimate that is not ptxas' count)."""
    if max_registers is not None and registers > max_registers:
        return 0
    per_warp = _round_up(registers * WARP, REG_ALLOC_UNIT)
    warps = arch.registers_per_sm // per_warp
    warps -= warps % warp_granularity
    return warps // warps_per_cta


def ctas_by_shared(arch: Arch, shared_bytes: int) -> int:
    """CTAs whose shared memory (plus the driver's reserve) fits in the SM's carveout."""
    if shared_bytes > arch.shared_per_cta:
        return 0
    per_cta = _round_up(shared_bytes + arch.reserved_shared_per_cta, SHARED_ALLOC_UNIT)
    return arch.shared_per_sm // per_cta if per_cta else NO_LIMIT


def ctas_per_sm_by(target: str, threads_per_cta: int, registers: int,
                   shared_bytes: int) -> dict[str, int]:
    """CTAs per SM that each resource of LIMITERS allows (registers 0: unknown, not counted).
    Raises ValueError for an unknown target or a CTA outside 1..1024 threads."""
    if target not in ARCHS:
        raise ValueError(f"no occupancy data for target={target!r}; known: {', '.join(ARCHS)}")
    if not 1 <= threads_per_cta <= MAX_THREADS_PER_CTA:
        raise ValueError(f"threads_per_cta={threads_per_cta} is outside "
                         f"1..{MAX_THREADS_PER_CTA}")
    arch = ARCHS[target]
    warps_per_cta = -(-threads_per_cta // WARP)
    return {
        "registers": ctas_by_registers(arch, registers, warps_per_cta) if registers else NO_LIMIT,
        "shared memory": ctas_by_shared(arch, shared_bytes),
        "warp slots": arch.max_warps_per_sm // warps_per_cta,
        "CTA slots": arch.max_ctas_per_sm,
    }
