"""Write the warp-state figures shown in the README (docs/images/warps_*.png) from a real run
of the debug multi-warp kernel on the simulator:

    python scripts/make_figures.py [OUT_DIR]
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from explorer import plots, runtime
from explorer.kernels import MultiWarpIncrementalAttentionKernel
from explorer.verify import make_inputs


def main(out_dir: str = "docs/images") -> None:
    kernel = MultiWarpIncrementalAttentionKernel(
        max_seq_len=512, head_dim=128, num_heads=32, num_kv_heads=8, num_warps=4, debug=True
    )
    q, k, v = make_inputs(kernel, np.random.default_rng(2026))
    _, states = runtime.run(kernel, q, k, v, seq_len=203, backend="sim")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for name, draw in plots.FIGURES.items():
        fig = draw(states, kernel) if name == "merge_factors" else draw(states, kernel, head=5)
        path = out / f"warps_{name}.png"
        fig.write_image(path, width=900, height=480)
        print(path)


if __name__ == "__main__":
    main(*sys.argv[1:])
