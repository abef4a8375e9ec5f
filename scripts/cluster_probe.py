"""How many thread-block clusters of the split-KV kernel's CTA fit on this GPU at once
(cuOccupancyMaxActiveClusters), per cluster size, and what one empty cluster launch costs in
a CUDA graph: the numbers that decide whether the splits of a KV head can merge inside one
cluster. Needs a GPU, CuPy and NVIDIA's cuda-bindings; prints, asserts nothing."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from explorer.kernels import SplitKVDecodeAttentionKernel  # noqa: E402
from explorer.runtime import cuda  # noqa: E402


def driver():
    from cuda.bindings import driver as cu

    return cu


def check(result):
    err, *rest = result if isinstance(result, tuple) else (result,)
    if err != driver().CUresult.CUDA_SUCCESS:
        raise RuntimeError(str(err))
    return rest[0] if rest else None


def main() -> None:
    cu = driver()
    be = cuda.CudaBackend()
    for dtype in ("f16", "f32"):
        k = SplitKVDecodeAttentionKernel(max_seq_len=4096, head_dim=128, num_heads=32,
                                         num_kv_heads=8, dtype=dtype)
        program = k.program(be.target)
        module = be.load(program)
        fn = module.function(k.entry)
        handle = cu.CUfunction(fn.ptr)
        check(cu.cuFuncSetAttribute(
            handle, cu.CUfunction_attribute.CU_FUNC_ATTRIBUTE_NON_PORTABLE_CLUSTER_SIZE_ALLOWED,
            1))
        launch = k.launches()[0]
        for size in (1, 2, 4, 8, 16):
            config = cu.CUlaunchConfig()
            config.gridDimX, config.gridDimY, config.gridDimZ = 16, 8, 1
            config.blockDimX, config.blockDimY, config.blockDimZ = launch.block
            config.sharedMemBytes = launch.shared_bytes
            attr = cu.CUlaunchAttribute()
            attr.id = cu.CUlaunchAttributeID.CU_LAUNCH_ATTRIBUTE_CLUSTER_DIMENSION
            attr.value.clusterDim.x, attr.value.clusterDim.y, attr.value.clusterDim.z = size, 1, 1
            config.attrs = [attr]
            config.numAttrs = 1
            try:
                n = check(cu.cuOccupancyMaxActiveClusters(handle, config))
            except RuntimeError as err:
                n = f"error {err}"
            print(f"{dtype} num_splits {k.num_splits} warps {k.num_warps} regs? cluster {size:2d}:"
                  f" max active clusters {n}", flush=True)
    print("sm count", be.cp.cuda.Device().attributes["MultiProcessorCount"], np.int32(0))


if __name__ == "__main__":
    main()
