"""Parse PTX text back into the IR: the subset the printer writes, and the same subset as other
generators write it (`.reg .u32 %r<68>;`, module-scope `.shared`, `[%rd1+-4]`, hex integers).

`parse(emit(k)) == k` for every kernel the project builds. Every instruction is checked against
`spec.OPCODES` (its opcode, modifier groups and operand count, not strictly: the groups' type
rules are the builder's); anything outside the subset raises `PtxParseError` naming the line. It
does not check operand types or data flow (the simulator and ptxas do).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from . import spec
from .ir import (
    REG_KINDS,
    SIDE_FAMILY,
    SPECIAL_REGS,
    Address,
    Comment,
    F32Imm,
    Guard,
    Instruction,
    IntImm,
    Kernel,
    Label,
    Operand,
    Param,
    Reg,
    SharedDecl,
    SpecialReg,
    Statement,
    Symbol,
    Vector,
)

_KINDS = "|".join(sorted(REG_KINDS, key=len, reverse=True))  # longest first: %rd before %r
_REG = re.compile(rf"%({SIDE_FAMILY}?)({_KINDS})(\d+)$")
_IDENT = r"[A-Za-z_$][\w$]*"
_SHARED = re.compile(
    rf"\.shared\s+(?:\.align\s+(\d+)\s+)?\.(\w+)\s+({_IDENT})\s*\[\s*(\d+)\s*\]\s*;?$"
)
_PARAM = re.compile(rf"\.param\s+\.(\w+)\s+({_IDENT})$")
_ENTRY = re.compile(rf"(?:\.visible\s+|\.weak\s+)?\.entry\s+({_IDENT})\s*\((.*)\)$", re.S)
_ADDRESS = re.compile(rf"\[\s*(%\w+|{_IDENT}|)\s*(?:([+-])\s*(-?(?:0x[0-9a-fA-F]+|\d+)))?\s*\]$")


class PtxParseError(ValueError):
    """PTX outside the supported subset, with the line it was found on."""

    def __init__(self, line: int, text: str, why: str) -> None:
        super().__init__(f"line {line}: {why}: {text.strip()!r}")
        self.line = line


@dataclass(frozen=True)
class Module:
    version: str | None
    target: str | None
    address_size: int | None
    kernels: tuple[Kernel, ...]


def parse(text: str, entry: str | None = None) -> Kernel:
    """The kernel named `entry` (or the only kernel) of a PTX module."""
    kernels = parse_module(text).kernels
    if entry is None:
        if len(kernels) != 1:
            raise ValueError(f"expected one .entry, found {[k.entry for k in kernels]}; name one")
        return kernels[0]
    for k in kernels:
        if k.entry == entry:
            return k
    raise ValueError(f"entry {entry!r} not in module (entries: {[k.entry for k in kernels]})")


def parse_module(text: str) -> Module:
    lines = text.splitlines()
    header: dict[str, str] = {}
    module_shared: list[SharedDecl] = []
    kernels: list[Kernel] = []
    n = 0
    while n < len(lines):
        raw = lines[n]
        code = _strip_comment(raw)
        n += 1
        if not code:
            continue
        word = code.split()[0]
        if word in (".version", ".target", ".address_size"):
            value = code[len(word):].strip().rstrip(";").strip()
            if not value or (word == ".address_size" and value not in ("32", "64")):
                raise PtxParseError(n, raw, f"{word} needs a value" + (
                    " (32 or 64)" if word == ".address_size" else ""))
            header[word] = value
        elif word == ".shared":
            module_shared.append(_shared(code, n, raw))
        elif ".entry" in code:
            n, kernel = _kernel(lines, n - 1)
            kernels.append(kernel)
        else:
            raise PtxParseError(n, raw, "unsupported module-level directive")
    if module_shared:
        kernels = [
            Kernel(k.entry, k.params, tuple(module_shared) + k.shared, k.body, k.max_threads)
            for k in kernels
        ]
    size = header.get(".address_size")
    return Module(header.get(".version"), header.get(".target"), size and int(size), tuple(kernels))


def _strip_comment(line: str) -> str:
    return line.split("//", 1)[0].strip()


def _kernel(lines: list[str], start: int) -> tuple[int, Kernel]:
    """Parse from the `.entry` line at index `start` to its closing brace."""
    head, n = "", start
    while "{" not in lines[n]:
        head += " " + _strip_comment(lines[n])
        n += 1
        if n == len(lines):
            raise PtxParseError(start + 1, lines[start], "entry without a body")
    before, _, after = lines[n].partition("{")
    head += " " + _strip_comment(before)
    head, max_threads = _maxntid(head, start, lines[start])
    match = _ENTRY.search(head.strip())
    if not match:
        raise PtxParseError(start + 1, lines[start], "malformed .entry header")
    params = tuple(_param(p, start + 1) for p in _split_top(match.group(2)) if p.strip())
    shared: list[SharedDecl] = []
    body: list[Statement] = []
    pending = [(n + 1, after)] if after.strip() else []
    n += 1
    while True:
        if not pending:
            if n >= len(lines):
                raise PtxParseError(start + 1, lines[start], "missing closing brace")
            pending, n = [(n + 1, lines[n])], n + 1
        lineno, raw = pending.pop(0)
        stripped = raw.strip()
        if stripped.startswith("}"):
            return n, Kernel(match.group(1), params, tuple(shared), tuple(body), max_threads)
        if stripped.startswith("//"):
            body.append(Comment(stripped[2:].strip()))
            continue
        code = _strip_comment(raw)
        if not code:
            continue
        if code.startswith(".reg"):
            continue  # derived from the registers used
        if code.startswith(".shared"):
            shared.append(_shared(code, lineno, raw))
            continue
        body.extend(_statements(code, lineno, raw))


_MAXNTID = re.compile(r"\.maxntid\s+(\d+)(?:\s*,\s*(\d+))?(?:\s*,\s*(\d+))?\s*$")


def _maxntid(head: str, start: int, raw: str) -> tuple[str, int | None]:
    """The header without a trailing `.maxntid x[, y[, z]]`, and x * y * z (or None)."""
    match = _MAXNTID.search(head)
    if not match:
        return head, None
    total = 1
    for dim in match.groups():
        total *= int(dim) if dim else 1
    if not 1 <= total <= 1024:
        raise PtxParseError(start + 1, raw, f".maxntid of {total} threads (accepted: 1..1024)")
    return head[:match.start()], total


def _param(text: str, lineno: int) -> Param:
    match = _PARAM.match(text.strip())
    if not match:
        raise PtxParseError(lineno, text, "malformed .param")
    return Param(match.group(2), match.group(1))


def _shared(code: str, lineno: int, raw: str) -> SharedDecl:
    match = _SHARED.match(code)
    if not match:
        raise PtxParseError(lineno, raw, "malformed .shared declaration")
    align, type_, name, count = match.groups()
    return SharedDecl(name, type_, int(count), int(align) if align else 4)


def _statements(code: str, lineno: int, raw: str) -> list[Statement]:
    out: list[Statement] = []
    while code:
        label = re.match(rf"({_IDENT})\s*:(?!:)", code)
        if label:
            out.append(Label(label.group(1)))
            code = code[label.end():].strip()
            continue
        if ";" not in code:
            raise PtxParseError(lineno, raw, "instruction without ';'")
        ins, code = code.split(";", 1)
        out.append(_instruction(ins.strip(), lineno, raw))
        code = code.strip()
    return out


def _instruction(text: str, lineno: int, raw: str) -> Instruction:
    guard = None
    if text.startswith("@"):
        pred, text = text[1:].split(None, 1)
        negated = pred.startswith("!")
        guard = Guard(_register(pred.lstrip("!"), lineno, raw), negated)
    name, _, rest = text.replace("\t", " ").partition(" ")
    opcode, *mods = name.split(".")
    operands = tuple(_operand(o.strip(), lineno, raw) for o in _split_top(rest) if o.strip())
    try:
        spec.check(opcode, tuple(mods), len(operands), strict=False)
    except ValueError as err:
        raise PtxParseError(lineno, raw, str(err)) from None
    return Instruction(opcode, tuple(mods), operands, guard, line=lineno)


def _split_top(text: str) -> list[str]:
    """Split on commas outside brackets and braces."""
    parts, depth, cur = [], 0, ""
    for ch in text:
        depth += ch in "[{(" and 1 or ch in "]})" and -1 or 0
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    return parts


def _register(text: str, lineno: int, raw: str) -> Reg:
    match = _REG.match(text)
    if not match:
        raise PtxParseError(lineno, raw, f"unsupported register name {text!r}")
    return Reg(match.group(2), int(match.group(3)), match.group(1))


def _operand(text: str, lineno: int, raw: str) -> Operand:
    if text.startswith("{"):
        inner = text.strip("{}").split(",")
        return Vector(tuple(_register(r.strip(), lineno, raw) for r in inner))
    if text.startswith("["):
        return _address(text, lineno, raw)
    if text.startswith("%"):
        if text[1:] in SPECIAL_REGS:
            return SpecialReg(text[1:])
        return _register(text, lineno, raw)
    if re.fullmatch(r"0[fF][0-9a-fA-F]{8}", text):
        return F32Imm(int(text[2:], 16))
    if re.fullmatch(r"-?(0[xX][0-9a-fA-F]+|\d+)[uU]?", text):
        return IntImm(int(text.rstrip("uU"), 0))
    if re.fullmatch(_IDENT, text):
        return Symbol(text)
    raise PtxParseError(lineno, raw, f"unsupported operand {text!r}")


def _address(text: str, lineno: int, raw: str) -> Address:
    match = _ADDRESS.match(text)
    if not match:
        raise PtxParseError(lineno, raw, f"unsupported address {text!r}")
    base_text, sign, offset_text = match.groups()
    offset = int(offset_text, 0) if offset_text else 0
    offset = -offset if sign == "-" else offset
    if not base_text:
        raise PtxParseError(lineno, raw, f"absolute address {text!r} is not supported")
    base = _register(base_text, lineno, raw) if base_text.startswith("%") else Symbol(base_text)
    return Address(base, offset)
