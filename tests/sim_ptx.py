"""Hand-written PTX for the simulator tests, in the style of other generators (nvcc-like
`.reg .u32 %r<68>;` declarations, `_param_N` names): a module builder, not a test."""

from __future__ import annotations

HEADER = ".version 8.0\n.target sm_80\n.address_size 64\n\n"
REGS = (
    "\t.reg .pred %p<16>;\n\t.reg .b16 %rs<8>;\n\t.reg .u32 %r<68>;\n\t.reg .u64 %rd<32>;\n"
    "\t.reg .f32 %f<32>;\n\t.reg .f64 %fd<8>;\n"
)


def module(params: str, body: str, shared: str = "", entry: str = "k") -> str:
    """A one-entry PTX module: `params` like '.param .u64 out', body lines as written."""
    plist = ",\n".join(f"\t{p.strip()}" for p in params.split(",") if p.strip())
    return f"{HEADER}.visible .entry {entry}(\n{plist}\n)\n{{\n{REGS}{shared}\n{body.strip()}\n}}\n"


# Load the out pointer and the thread's word offset: %rd3 = out + 4*tid.x.
OUT_PROLOGUE = """
	ld.param.u64 %rd1, [out];
	cvta.to.global.u64 %rd2, %rd1;
	mov.u32 %r1, %tid.x;
	mul.wide.u32 %rd4, %r1, 4;
	add.s64 %rd3, %rd2, %rd4;
"""

# After OUT_PROLOGUE: the `src` pointer at the same word offset, %rd7 = src + 4*tid.x.
SRC_PROLOGUE = """
	ld.param.u64 %rd5, [src];
	cvta.to.global.u64 %rd6, %rd5;
	add.s64 %rd7, %rd6, %rd4;
"""
