"""The Resources view: the occupancy estimate per architecture and its limiting resource, the
ptxas report (cached), SASS when nvdisasm is there, and a clear note without ptxas."""

from __future__ import annotations

import pytest

from explorer import arch
from explorer.app import occupancy, resources
from explorer.app.render import emit
from explorer.app.state import Config, build_kernel
from explorer.arch import ARCHS
from explorer.ptx import ptxas, sass
from explorer.ptx.ptxas import find_ptxas

needs_ptxas = pytest.mark.skipif(find_ptxas() is None,
                                 reason="ptxas not installed (nvidia-cuda-nvcc, dev extra)")


def test_architectures_cover_the_targets():
    from explorer.kernels import TARGETS

    assert set(TARGETS) <= set(ARCHS)
    assert ARCHS["sm_90"].max_warps_per_sm == 64
    assert ARCHS["sm_86"].max_warps_per_sm == 48
    assert ARCHS["sm_75"].max_ctas_per_sm == 16


@pytest.mark.parametrize("target, threads, regs, smem, ctas, limiter", [
    # 32 regs x 128 threads: 16 CTAs by registers and by warp slots (a tie) on sm_90
    ("sm_90", 128, 32, 2088, 16, "registers and warp slots"),
    # 128 regs: 512 warps' worth of registers per 4-warp CTA -> 4 CTAs
    ("sm_90", 128, 128, 2088, 4, "registers"),
    # 40 KB of shared per CTA: 228 KB / (40 KB + 1 KB reserved) -> 5
    ("sm_90", 128, 32, 40 * 1024, 5, "shared memory"),
    # one-warp CTAs: the CTA slots run out first (16 on sm_86)
    ("sm_86", 32, 16, 0, 16, "CTA slots"),
    # without ptxas (registers 0: unknown, not counted)
    ("sm_90", 128, 0, 2088, 16, "warp slots"),
    # sm_75 has 32 warp slots: 8-warp CTAs -> 4
    ("sm_75", 256, 32, 1024, 4, "warp slots"),
])
def test_occupancy_names_the_limiting_resource(target, threads, regs, smem, ctas, limiter):
    occ = occupancy.estimate(target, threads, regs, smem)
    assert occ.ctas_per_sm == ctas
    assert occ.limiter == limiter
    assert occ.warps_per_sm == ctas * -(-threads // 32)


def test_register_allocation_rounds_per_warp():
    # 33 regs x 32 lanes = 1056 -> 1280 per warp; 65536 / 1280 = 51 warps -> 48 (groups of 4)
    assert arch.ctas_by_registers(ARCHS["sm_90"], 33, 4) == 12
    assert arch.ctas_by_registers(ARCHS["sm_90"], 256, 4) == 0


def test_occupancy_refuses_unknown_targets():
    with pytest.raises(ValueError, match="no occupancy data for target='sm_70'"):
        occupancy.estimate("sm_70", 128, 32, 0)


@needs_ptxas
def test_ptxas_report_occupancy_and_cache():
    config = Config()
    kernel = build_kernel(config)
    ptx = emit(config)
    found = resources.collect(ptx, kernel.entry, config.target, with_sass=False)
    assert found.report.shared_bytes == kernel.shared_bytes
    assert resources.cached(ptx, kernel.entry, config.target, with_sass=False) is found
    html = resources.render(found, kernel)
    for words in ("registers per thread", "Occupancy estimate", "limits", "CTAs per SM",
                  ARCHS[config.target].part):
        assert words in html


@needs_ptxas
def test_sass_when_nvdisasm_is_installed():
    if sass.find_nvdisasm() is None:
        pytest.skip("nvdisasm not installed (nvidia-cuda-nvdisasm, dev extra)")
    config = Config(head_dim=32, num_warps=2, target="sm_80")
    kernel = build_kernel(config)
    found = resources.collect(emit(config), kernel.entry, "sm_80")
    assert found.sass and "EXIT" in found.sass
    assert "SASS from nvdisasm" in resources.render(found, kernel)


def test_a_clear_note_without_ptxas(monkeypatch):
    def missing(*args, **kwargs):
        raise ptxas.PtxasNotFound()

    monkeypatch.setattr(ptxas, "assemble_with_cubin", missing)
    config = Config(head_dim=48)
    kernel = build_kernel(config)
    found = resources.collect(emit(config), kernel.entry, config.target)
    assert found.report is None
    html = resources.render(found, kernel)
    assert "ptxas not found" in html and "nvidia-cuda-nvcc" in html
    assert "without ptxas" in html  # the estimate says registers are not counted
    assert resources.cached(emit(config), kernel.entry, config.target) is None


def test_pending_message_names_the_target():
    assert "Assembling with ptxas for sm_86" in resources.pending("sm_86")


@needs_ptxas
def test_one_cta_per_sm_is_singular():
    config = Config(num_warps=32, head_dim=256)  # 1,024 threads: one CTA fits
    kernel = build_kernel(config)
    html = resources.render(resources.collect(emit(config), kernel.entry, config.target,
                                              with_sass=False), kernel)
    assert "1 CTA per SM" in html and "1 CTAs" not in html
