"""One PTX instruction's text -> an `Instruction`: its guard, opcode and modifiers (checked
against `spec.OPCODES`), and its operands (registers, named registers of the enclosing scopes,
special registers, immediates, addresses, brace lists, `%r|%p` pairs, call parameter lists).

It reads one statement; the parser (`parser`) walks the module and its blocks. Errors are
`PtxParseError`s naming the line.
"""

from __future__ import annotations

import re

from . import spec
from .ir import (
    REG_KINDS,
    SIDE_FAMILY,
    SPECIAL_REGS,
    TYPE_TO_KIND,
    Address,
    F32Imm,
    Guard,
    Instruction,
    IntImm,
    Operand,
    ParamList,
    Reg,
    RegPair,
    SpecialReg,
    Symbol,
    Vector,
)

_KINDS = "|".join(sorted(REG_KINDS, key=len, reverse=True))  # longest first: %rd before %r
REG = re.compile(rf"%({SIDE_FAMILY}?)({_KINDS})(\d+)$")
IDENT = r"[A-Za-z_$][\w$]*"
_ADDRESS = re.compile(rf"\[\s*(%\w+|{IDENT}|)\s*(?:([+-])\s*(-?(?:0x[0-9a-fA-F]+|\d+)))?\s*\]$")


class PtxParseError(ValueError):
    """PTX outside the supported subset, with the line it was found on."""

    def __init__(self, line: int, text: str, why: str) -> None:
        super().__init__(f"line {line}: {why}: {text.strip()!r}")
        self.line = line



class Scope:
    """Registers declared by name (`.reg .b64 %tmp;`), innermost block last."""

    def __init__(self) -> None:
        self.blocks: list[dict[str, str]] = [{}]

    def declare(self, name: str, type_: str) -> None:
        self.blocks[-1][name] = TYPE_TO_KIND.get(type_, "")

    def kind(self, name: str) -> str | None:
        for block in reversed(self.blocks):
            if name in block:
                return block[name]
        return None


def instruction(text: str, lineno: int, raw: str, scope: Scope | None = None) -> Instruction:
    guard = None
    if text.startswith("@"):
        pred, _, text = text[1:].partition(" ")
        if not text.strip():
            raise PtxParseError(lineno, raw, "a guard without an instruction")
        negated = pred.startswith("!")
        guard = Guard(_register(pred.lstrip("!"), lineno, raw, scope), negated)
    name, _, rest = text.strip().replace("\t", " ").partition(" ")
    opcode, *mods = name.split(".")
    operands = tuple(
        _operand(o.strip(), lineno, raw, scope) for o in split_top(rest) if o.strip()
    )
    try:
        spec.check(opcode, tuple(mods), len(operands), strict=False)
    except ValueError as err:
        raise PtxParseError(lineno, raw, str(err)) from None
    return Instruction(opcode, tuple(mods), operands, guard, line=lineno)


def split_top(text: str) -> list[str]:
    """Split on commas outside brackets, braces and parentheses."""
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


def _register(text: str, lineno: int, raw: str, scope: Scope | None = None) -> Reg:
    match = REG.match(text)
    if match:
        return Reg(match.group(2), int(match.group(3)), match.group(1))
    kind = scope.kind(text[1:]) if scope is not None and text.startswith("%") else None
    if kind:
        return Reg(kind, 0, name=text[1:])
    raise PtxParseError(lineno, raw, f"unsupported register name {text!r}")


_INT = re.compile(r"-?(0[xX][0-9a-fA-F]+|\d+)[uU]?")


def _operand(text: str, lineno: int, raw: str, scope: Scope | None = None) -> Operand:
    if text.startswith("{"):
        if not text.endswith("}"):
            raise PtxParseError(lineno, raw, f"unsupported operand {text!r}")
        inner = [r.strip() for r in text[1:-1].split(",")]
        return Vector(tuple(_register(r, lineno, raw, scope) for r in inner))
    if text.startswith("("):
        if not text.endswith(")"):
            raise PtxParseError(lineno, raw, f"unsupported operand {text!r}")
        inner = [r.strip() for r in text[1:-1].split(",") if r.strip()]
        if not all(re.fullmatch(IDENT, r) for r in inner):
            raise PtxParseError(lineno, raw, f"unsupported call operand list {text!r}")
        return ParamList(tuple(Symbol(r) for r in inner))
    if text.startswith("["):
        return _address(text, lineno, raw, scope)
    if text.startswith("%") and "|" in text:
        value, _, pred = text.partition("|")
        return RegPair(_register(value.strip(), lineno, raw, scope),
                       _register(pred.strip(), lineno, raw, scope))
    if text.startswith("%"):
        if text[1:] in SPECIAL_REGS:
            return SpecialReg(text[1:])
        return _register(text, lineno, raw, scope)
    if re.fullmatch(r"0[fF][0-9a-fA-F]{8}", text):
        return F32Imm(int(text[2:], 16))
    if _INT.fullmatch(text):
        return IntImm(int(text.rstrip("uU"), 0))
    if re.fullmatch(IDENT, text):
        return Symbol(text)
    raise PtxParseError(lineno, raw, f"unsupported operand {text!r}")


def _address(text: str, lineno: int, raw: str, scope: Scope | None = None) -> Address:
    match = _ADDRESS.match(text)
    if not match:
        raise PtxParseError(lineno, raw, f"unsupported address {text!r}")
    base_text, sign, offset_text = match.groups()
    offset = int(offset_text, 0) if offset_text else 0
    offset = -offset if sign == "-" else offset
    if not base_text:
        raise PtxParseError(lineno, raw, f"absolute address {text!r} is not supported")
    if base_text.startswith("%"):
        return Address(_register(base_text, lineno, raw, scope), offset)
    return Address(Symbol(base_text), offset)
