"""The simulator's one error type, and the coordinates it names.

Every problem found while running PTX (out-of-bounds access, unsupported instruction, read of an
uninitialised register, divergent barrier, deadlock, step limit, shared-memory race) raises
`SimError`. It subclasses `RuntimeError`: the PTX parsed, the launch was well-formed, and the
program then did something wrong at run time (bad arguments to `launch` raise `ValueError`).
What a launch that is not strict allows but reports is a `Finding` instead.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..ptx.ir import Instruction
from ..ptx.printer import statement_text


@dataclass(frozen=True)
class ThreadCoords:
    """Where one thread sits in the launch: its CTA, its thread index and its lane."""

    ctaid: tuple[int, int, int]
    tid: tuple[int, int, int]
    lane: int

    def __str__(self) -> str:
        cta = ",".join(map(str, self.ctaid))
        tid = ",".join(map(str, self.tid))
        return f"ctaid ({cta}) tid ({tid}) lane {self.lane}"


class SimError(RuntimeError):
    """A PTX program misbehaved in the simulator.

    The message names the PTX source line, the instruction text, and the ctaid, tid and lane of
    the first offending thread (the lowest global thread index); the same facts are attributes.
    """

    def __init__(
        self,
        what: str,
        ins: Instruction | None = None,
        thread: ThreadCoords | None = None,
        other: ThreadCoords | None = None,
    ) -> None:
        where = ""
        if ins is not None:
            line = f"line {ins.line}" if ins.line is not None else "line ?"
            where = f"{line} `{instruction_text(ins)}`: "
        who = f" [{thread}]" if thread is not None else ""
        against = f" [other thread: {other}]" if other is not None else ""
        super().__init__(f"{where}{what}{who}{against}")
        self.line = ins.line if ins is not None else None
        self.instruction = instruction_text(ins) if ins is not None else None
        self.thread = thread
        self.other = other
        self.ctaid = thread.ctaid if thread else None
        self.tid = thread.tid if thread else None
        self.lane = thread.lane if thread else None


@dataclass(frozen=True)
class Finding:
    """Something the program did that works on the hardware only by luck of layout, reported
    instead of raised when the launch is not strict: the PTX line, the instruction, what."""

    line: int | None
    instruction: str
    what: str

    def __str__(self) -> str:
        return f"line {self.line if self.line is not None else '?'} `{self.instruction}`: " \
            f"{self.what}"


class SimWarning(UserWarning):
    """The warning category under which `launch` also issues each `Finding`."""


def instruction_text(ins: Instruction) -> str:
    """The instruction as the printer writes it, without indentation."""
    return statement_text(ins).strip()
