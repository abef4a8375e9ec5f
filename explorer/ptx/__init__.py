"""A pure-Python PTX emitter: IR, builder, opcode table, printer, parser, barrier check and a
ptxas wrapper. Standard library only; it knows no kernel (those live in `explorer.kernels`)."""

from .barriers import BarrierError, check_barriers
from .builder import KernelBuilder
from .ir import Kernel
from .parser import Module, PtxParseError, parse, parse_module
from .printer import emit
from .program import BufferSpec, Entry, Launch, Program

__all__ = [
    "BarrierError",
    "BufferSpec",
    "Entry",
    "Kernel",
    "KernelBuilder",
    "Launch",
    "Module",
    "Program",
    "PtxParseError",
    "check_barriers",
    "emit",
    "parse",
    "parse_module",
]
