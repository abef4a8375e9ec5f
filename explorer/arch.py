"""What the project knows about NVIDIA architectures: the PTX targets the emitter writes for
and the PTX ISA version it declares. Standard library only; every layer may import it (the
kernels, the runtime, the app), so no layer needs another to learn a hardware fact.
"""

from __future__ import annotations

TARGETS = ("sm_75", "sm_80", "sm_86", "sm_87", "sm_89", "sm_90", "sm_90a")
PTX_VERSION = "8.0"  # accepted by ptxas 12.x/13.x and the CUDA 13.0 driver; covers sm_90a
