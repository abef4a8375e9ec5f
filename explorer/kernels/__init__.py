"""The attention kernels, each written through `explorer.ptx.KernelBuilder`."""

from ..arch import TARGETS
from .multi_warp import MultiWarpIncrementalAttentionKernel
from .single_warp import IncrementalAttentionKernel
from .split_kv import SplitKVDecodeAttentionKernel

KERNELS = {
    IncrementalAttentionKernel.name: IncrementalAttentionKernel,
    MultiWarpIncrementalAttentionKernel.name: MultiWarpIncrementalAttentionKernel,
    SplitKVDecodeAttentionKernel.name: SplitKVDecodeAttentionKernel,
}

__all__ = [
    "KERNELS",
    "TARGETS",
    "IncrementalAttentionKernel",
    "MultiWarpIncrementalAttentionKernel",
    "SplitKVDecodeAttentionKernel",
]
