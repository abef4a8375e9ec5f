"""Compile one Triton entry of the corpus to PTX text, without launching it through Triton.

`compile_entry(spec, max_isa)` builds the kernel's signature from the entry's argument
dtypes, compiles it for the current GPU with `triton.compile(ASTSource(...))` (falling back
to `JITFunction.warmup` if that fails, e.g. an ASTSource that takes other arguments), and
returns the PTX from `.asm["ptx"]` with what a launch needs: the entry name, the dynamic
shared bytes, the block size and the scratch buffers Triton appends as parameters. Triton
(and, for the fallback, torch) are imported here only, so the CUDA C part runs without them.
"""

from __future__ import annotations

import importlib

from corpus_ptx import entry_names, param_types, ptx_isa

TRITON_DTYPES = {"float32": "fp32", "float16": "fp16", "float64": "fp64", "int32": "i32",
                 "int64": "i64", "uint32": "u32", "uint64": "u64", "int8": "i8", "uint8": "u8"}
SCRATCH_NAMES = ("global_scratch", "profile_scratch")


def signature(fn, spec: dict) -> dict[str, str]:
    """Triton's signature: each parameter name -> `*fp32`, `i32`, ... or `constexpr`."""
    runtime = [name for name in fn.arg_names if name not in spec["constexprs"]]
    if len(runtime) != len(spec["args"]):
        raise ValueError(f"{spec['name']}: {spec['kernel']} has {len(runtime)} non-constexpr "
                         f"parameters {runtime}, the entry lists {len(spec['args'])} args")
    sig = {}
    by_name = dict(zip(runtime, spec["args"], strict=True))
    for name in fn.arg_names:
        if name in spec["constexprs"]:
            sig[name] = "constexpr"
            continue
        arg = by_name[name]
        base = TRITON_DTYPES[arg["dtype"]]
        sig[name] = "*" + base if arg["kind"] == "array" else base
    return sig


def _compile_ast(triton, fn, spec: dict, options: dict):
    from triton.compiler import ASTSource

    runtime = [name for name in fn.arg_names if name not in spec["constexprs"]]
    by_name = dict(zip((a["name"] for a in spec["args"]), runtime, strict=True))
    attrs = {(fn.arg_names.index(by_name[a]),): [["tt.divisibility", 16]]
             for a in spec["divisible_by_16"]}
    source = ASTSource(fn, signature(fn, spec), spec["constexprs"], attrs)
    target = triton.runtime.driver.active.get_current_target()
    return triton.compile(source, target=target, options=options)


def _compile_warmup(fn, spec: dict, options: dict):
    import torch

    torch_dtypes = {"float32": torch.float32, "int32": torch.int32, "int64": torch.int64,
                    "float16": torch.float16, "float64": torch.float64}
    args = [torch_dtypes[a["dtype"]] if a["kind"] == "array" else a["value"]
            for a in spec["args"]]
    return fn.warmup(*args, grid=tuple(spec["grid"]), **spec["constexprs"], **options)


def _compile(triton, fn, spec: dict, options: dict):
    try:
        return _compile_ast(triton, fn, spec, options), "triton.compile(ASTSource)"
    except Exception as first:  # e.g. an ASTSource of another shape: let the JIT build it
        print(f"    ASTSource failed ({type(first).__name__}: {first}); trying warmup()")
        try:
            return _compile_warmup(fn, spec, options), "JITFunction.warmup"
        except Exception as second:
            raise RuntimeError(f"ASTSource: {type(first).__name__}: {first}; warmup: "
                               f"{type(second).__name__}: {second}") from second


def compile_entry(spec: dict, max_isa: int) -> dict:
    """Compile `spec` (a `triton_entries` entry); PTX ISA at most `max_isa` (the driver's)."""
    import triton

    fn = getattr(importlib.import_module(spec["module"]), spec["kernel"])
    options = {"num_warps": spec["num_warps"]}
    kernel, how = _compile(triton, fn, spec, options)
    ptx = kernel.asm["ptx"]
    if ptx_isa(ptx) > max_isa:  # Triton targets its own ptxas; the driver JIT may be older
        options["ptx_version"] = max_isa
        kernel, how = _compile(triton, fn, spec, options)
        ptx = kernel.asm["ptx"]
    md = kernel.metadata
    entries = entry_names(ptx)
    if len(entries) != 1:
        raise ValueError(f"{spec['name']}: expected one .entry in Triton's PTX, got {entries}")
    n_params = len(param_types(ptx, entries[0]))
    extra = n_params - len(spec["args"])
    if not 0 <= extra <= len(SCRATCH_NAMES):
        raise ValueError(f"{spec['name']}: the PTX has {n_params} parameters for "
                         f"{len(spec['args'])} args; cannot name the {extra} extra ones")
    sizes = (int(getattr(md, "global_scratch_size", 0) or 0),
             int(getattr(md, "profile_scratch_size", 0) or 0))
    return {"ptx": ptx, "entry": entries[0], "shared_bytes": int(md.shared),
            "num_warps": int(md.num_warps), "compiled_with": how,
            "options": {k: v for k, v in options.items()},
            "scratch": [(SCRATCH_NAMES[i], sizes[i]) for i in range(extra)],
            "version": triton.__version__}
