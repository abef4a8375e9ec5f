"""Parse PTX text back into the IR: the subset the printer writes, and the same subset as other
generators write it (`.reg .u32 %r<68>;`, module-scope `.shared`, `[%rd1+-4]`, hex integers).

`parse(emit(k)) == k` for every kernel the project builds. Every instruction is checked against
`spec.OPCODES` (its opcode, modifier groups and operand count, not strictly: the groups' type
rules are the builder's); anything outside the subset raises `PtxParseError` naming the line. It
does not check operand types or data flow (the simulator and ptxas do).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from . import spec
from .ir import (
    REG_KINDS,
    SIDE_FAMILY,
    SPECIAL_REGS,
    TYPE_TO_KIND,
    Address,
    Comment,
    F32Imm,
    Function,
    Guard,
    Instruction,
    IntImm,
    Kernel,
    Label,
    ModuleVariable,
    Operand,
    Param,
    ParamList,
    Reg,
    RegPair,
    SharedDecl,
    SpecialReg,
    Statement,
    Symbol,
    Vector,
)
from .scan import Item, ScanError, scan

_KINDS = "|".join(sorted(REG_KINDS, key=len, reverse=True))  # longest first: %rd before %r
_REG = re.compile(rf"%({SIDE_FAMILY}?)({_KINDS})(\d+)$")
_IDENT = r"[A-Za-z_$][\w$]*"
_SHARED = re.compile(
    rf"(\.extern\s+)?\.shared\s+(?:\.align\s+(\d+)\s+)?\.(\w+)\s+({_IDENT})\s*"
    rf"(\[\s*(\d*)\s*\])?$"
)
_VARIABLE = re.compile(
    rf"(?:\.(?:visible|extern|weak)\s+)*\.(global|const)\s+(?:\.align\s+(\d+)\s+)?\.(\w+)\s+"
    rf"({_IDENT})\s*(?:\[\s*(\d*)\s*\])?\s*(?:=\s*(.*))?$", re.S
)
# `.param .u64 .ptr .global .align 16 name`: the attributes say what a pointer points at
_PARAM = re.compile(
    rf"\.param\s+\.(\w+)\s+(?:\.ptr\s+)?(?:\.(?:global|shared|const|local)\s+)?"
    rf"(?:\.align\s+\d+\s+)?({_IDENT})$"
)
_ENTRY = re.compile(rf"(?:\.visible\s+|\.weak\s+)?\.entry\s+({_IDENT})\s*\((.*)\)(.*)$", re.S)
_FUNC = re.compile(
    rf"(?:\.(?:visible|weak|extern)\s+)*\.func\s*(?:\((.*?)\))?\s*({_IDENT})\s*"
    rf"(?:\((.*)\))?(.*)$", re.S
)
_ADDRESS = re.compile(rf"\[\s*(%\w+|{_IDENT}|)\s*(?:([+-])\s*(-?(?:0x[0-9a-fA-F]+|\d+)))?\s*\]$")
# Performance-tuning directives of an entry or function header: ptxas's business.
_TUNING = re.compile(
    r"\.(maxntid|reqntid|minnctapersm|maxnreg|maxclusterrank|reqnctapercluster|noreturn|"
    r"explicitcluster|pragma)\b\s*((?:\d+\s*,?\s*)*|\"[^\"]*\"\s*)?;?"
)


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
    functions: tuple[Function, ...] = ()
    declared: tuple[str, ...] = ()  # `.func` prototypes (with or without a body)
    variables: tuple[ModuleVariable, ...] = ()
    files: dict[int, str] = field(default_factory=dict)  # `.file` index -> path


def parse(text: str, entry: str | None = None) -> Kernel:
    """The kernel named `entry` (or the only kernel) of a PTX module."""
    return find_entry(parse_module(text), entry)


def find_entry(module: Module, entry: str | None) -> Kernel:
    """The kernel named `entry` (or the only kernel); ValueError naming the entries."""
    kernels = module.kernels
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
    items = scan_items(text, lines)
    header: dict[str, str] = {}
    parts: dict[str, list] = {"shared": [], "kernels": [], "functions": [], "declared": [],
                              "variables": []}
    files: dict[int, str] = {}
    n = 0
    while n < len(items):
        item = items[n]
        raw = _raw(lines, item.line)
        n += 1
        if item.kind == "line":
            _module_line(item.text, item.line, raw, header, files)
        elif item.kind == "stmt":
            _module_statement(item.text, item.line, raw, parts)
        elif item.kind == "open" and ".entry" in item.text:
            n, kernel = _kernel(items, n, item, lines)
            parts["kernels"].append(kernel)
        elif item.kind == "open" and ".func" in item.text:
            n, function = _function(items, n, item, lines)
            parts["functions"].append(function)
            parts["declared"].append(function.name)
        else:
            raise PtxParseError(item.line or len(lines), raw or item.text,
                                "unsupported module-level directive")
    shared = tuple(parts["shared"])
    kernels = [
        Kernel(k.entry, k.params, shared + k.shared, k.body, k.max_threads)
        for k in parts["kernels"]
    ] if shared else parts["kernels"]
    size = header.get(".address_size")
    return Module(header.get(".version"), header.get(".target"), size and int(size),
                  tuple(kernels), tuple(parts["functions"]), tuple(parts["declared"]),
                  tuple(parts["variables"]), files)


def scan_items(text: str, lines: list[str]) -> list[Item]:
    try:
        return scan(text)
    except ScanError as err:
        raise PtxParseError(err.line, _raw(lines, err.line), err.why) from None


def _raw(lines: list[str], lineno: int) -> str:
    return lines[lineno - 1] if 0 < lineno <= len(lines) else ""


def _module_line(code: str, lineno: int, raw: str, header: dict, files: dict) -> None:
    word = code.split()[0]
    value = code[len(word):].strip().rstrip(";").strip()
    if word in (".version", ".target", ".address_size"):
        if not value or (word == ".address_size" and value not in ("32", "64")):
            raise PtxParseError(lineno, raw, f"{word} needs a value" + (
                " (32 or 64)" if word == ".address_size" else ""))
        header[word] = value
    elif word == ".file":
        match = re.match(r"(\d+)\s+\"([^\"]*)\"", value)
        if match:
            files[int(match.group(1))] = match.group(2)
    # `.loc` outside a body and `@@DWARF` lines carry nothing the simulator uses


def _module_statement(code: str, lineno: int, raw: str, parts: dict) -> None:
    if code.startswith((".version", ".target", ".address_size")):
        raise PtxParseError(lineno, raw, "unsupported module-level directive")
    if re.match(r"(\.extern\s+)?\.shared\b", code):
        parts["shared"].append(_shared(code, lineno, raw))
    elif re.match(r"(\.(visible|extern|weak)\s+)*\.(global|const)\b", code):
        parts["variables"].append(_variable(code, lineno, raw))
    elif re.match(r"(\.(visible|extern|weak)\s+)*\.func\b", code):
        match = _FUNC.match(code)
        if not match:
            raise PtxParseError(lineno, raw, "malformed .func declaration")
        parts["declared"].append(match.group(2))
    elif not code.startswith(".pragma"):
        raise PtxParseError(lineno, raw, "unsupported module-level directive")


def _variable(code: str, lineno: int, raw: str) -> ModuleVariable:
    match = _VARIABLE.match(code)
    if not match:
        raise PtxParseError(lineno, raw, "malformed .global/.const variable")
    space, align, type_, name, count, init = match.groups()
    values: tuple = ()
    if init:
        try:
            values = tuple(_number(v) for v in init.strip().strip("{}").split(",") if v.strip())
        except ValueError:
            raise PtxParseError(lineno, raw, "unsupported initializer") from None
    n = int(count) if count else (len(values) if count == "" else 1)
    return ModuleVariable(name, space, type_, n, int(align) if align else 1, values)


def _number(text: str) -> int | float:
    text = text.strip()
    if re.fullmatch(r"0[fF][0-9a-fA-F]{8}", text):
        return F32Imm(int(text[2:], 16)).value
    return int(text.rstrip("uU"), 0)


def _header_params(text: str, lineno: int) -> tuple[Param, ...]:
    return tuple(_param(p, lineno) for p in _split_top(text or "") if p.strip())


def _tuning(tail: str, lineno: int, raw: str) -> int | None:
    """The header's performance directives checked; `.maxntid`/`.reqntid` x * y * z or None."""
    total = None
    rest = tail
    for match in _TUNING.finditer(tail):
        rest = rest.replace(match.group(0), " ", 1)
        if match.group(1) in ("maxntid", "reqntid"):
            dims = [int(d) for d in re.findall(r"\d+", match.group(2) or "")]
            if not 1 <= len(dims) <= 3:
                raise PtxParseError(lineno, raw, f".{match.group(1)} needs 1 to 3 dimensions")
            total = 1
            for d in dims:
                total *= d
            if not 1 <= total <= 1024:
                raise PtxParseError(lineno, raw,
                                    f".{match.group(1)} of {total} threads (accepted: 1..1024)")
    if rest.strip():
        raise PtxParseError(lineno, raw, f"unsupported directive {rest.strip()!r} in a header")
    return total


def _kernel(items: list[Item], n: int, head: Item, lines: list[str]) -> tuple[int, Kernel]:
    """Parse the body after the `.entry` header item `head` up to its closing brace."""
    raw = _raw(lines, head.line)
    match = _ENTRY.search(head.text)
    if not match:
        raise PtxParseError(head.line, raw, "malformed .entry header")
    params = _header_params(match.group(2), head.line)
    max_threads = _tuning(match.group(3), head.line, raw)
    n, shared, body = _body(items, n, head, lines)
    return n, Kernel(match.group(1), params, tuple(shared), tuple(body), max_threads)


def _function(items: list[Item], n: int, head: Item, lines: list[str]) -> tuple[int, Function]:
    raw = _raw(lines, head.line)
    match = _FUNC.match(head.text)
    if not match:
        raise PtxParseError(head.line, raw, "malformed .func header")
    returns = _header_params(match.group(1), head.line)
    params = _header_params(match.group(3), head.line)
    _tuning(match.group(4), head.line, raw)
    n, shared, body = _body(items, n, head, lines)
    if shared:
        raise PtxParseError(head.line, raw, ".shared declared inside a .func is not supported")
    return n, Function(match.group(2), returns, params, tuple(body))


class _Scope:
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


def _body(items: list[Item], n: int, head: Item, lines: list[str]):
    """(index after the closing brace, shared declarations, statements) of one body."""
    shared: list[SharedDecl] = []
    body: list[Statement] = []
    scope, loc = _Scope(), None
    while True:
        if n >= len(items):
            raise PtxParseError(head.line, _raw(lines, head.line), "missing closing brace")
        item = items[n]
        n += 1
        raw = _raw(lines, item.line)
        if item.kind == "close":
            if len(scope.blocks) == 1:
                return n, shared, body
            scope.blocks.pop()
        elif item.kind == "open":
            if item.text:
                raise PtxParseError(item.line, raw, "unsupported block")
            scope.blocks.append({})
        elif item.kind == "label":
            body.append(Label(item.text))
        elif item.kind == "comment":
            body.append(Comment(item.text))
        elif item.kind == "line":
            loc = _loc(item.text, loc)
        elif item.kind == "dangling":
            raise PtxParseError(item.line, raw, "instruction without ';'")
        elif item.text.startswith("."):
            decl = _directive(item.text, item.line, raw, scope)
            if decl is not None:
                shared.append(decl)
        else:
            ins = _instruction(item.text, item.line, raw, scope)
            body.append(replace(ins, loc=loc) if loc else ins)


def _loc(code: str, current):
    match = re.match(r"\.loc\s+(\d+)\s+(\d+)", code)
    return (int(match.group(1)), int(match.group(2))) if match else current


def _directive(code: str, lineno: int, raw: str, scope: _Scope) -> SharedDecl | None:
    """A declaration inside a body: `.shared` is returned; `.reg` (named registers enter the
    scope), `.param` (call arguments), `.local` and `.pragma` are checked and dropped."""
    word = code.split()[0]
    if word in (".shared", ".extern"):
        return _shared(code, lineno, raw)
    if word == ".reg":
        match = re.match(r"\.reg\s+(?:\.v\d\s+)?\.(\w+)\s+(.+)$", code)
        if not match:
            raise PtxParseError(lineno, raw, "malformed .reg declaration")
        for name in match.group(2).split(","):
            name = name.strip()
            if name.startswith("%") and not re.search(r"<\d+>$", name) and not _REG.match(name):
                scope.declare(name[1:], match.group(1))
        return None
    if word in (".param", ".local", ".pragma"):
        return None
    raise PtxParseError(lineno, raw, f"unsupported directive {word!r} in a body")


def _param(text: str, lineno: int) -> Param:
    match = _PARAM.match(text.strip())
    if not match:
        raise PtxParseError(lineno, text, "malformed .param")
    return Param(match.group(2), match.group(1))


def _shared(code: str, lineno: int, raw: str) -> SharedDecl:
    match = _SHARED.match(code)
    if not match:
        raise PtxParseError(lineno, raw, "malformed .shared declaration")
    extern, align, type_, name, brackets, count = match.groups()
    count = count if brackets else "1"  # a scalar `.shared .u32 x;` is one element
    if bool(extern) != (count == ""):
        why = "an .extern .shared array has no size" if extern else ".shared array without a size"
        raise PtxParseError(lineno, raw, why)
    return SharedDecl(name, type_, int(count or 0), int(align) if align else 4, bool(extern))


def _instruction(text: str, lineno: int, raw: str, scope: _Scope | None = None) -> Instruction:
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
        _operand(o.strip(), lineno, raw, scope) for o in _split_top(rest) if o.strip()
    )
    try:
        spec.check(opcode, tuple(mods), len(operands), strict=False)
    except ValueError as err:
        raise PtxParseError(lineno, raw, str(err)) from None
    return Instruction(opcode, tuple(mods), operands, guard, line=lineno)


def _split_top(text: str) -> list[str]:
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


def _register(text: str, lineno: int, raw: str, scope: _Scope | None = None) -> Reg:
    match = _REG.match(text)
    if match:
        return Reg(match.group(2), int(match.group(3)), match.group(1))
    kind = scope.kind(text[1:]) if scope is not None and text.startswith("%") else None
    if kind:
        return Reg(kind, 0, name=text[1:])
    raise PtxParseError(lineno, raw, f"unsupported register name {text!r}")


_INT = re.compile(r"-?(0[xX][0-9a-fA-F]+|\d+)[uU]?")


def _operand(text: str, lineno: int, raw: str, scope: _Scope | None = None) -> Operand:
    if text.startswith("{"):
        if not text.endswith("}"):
            raise PtxParseError(lineno, raw, f"unsupported operand {text!r}")
        inner = [r.strip() for r in text[1:-1].split(",")]
        return Vector(tuple(_register(r, lineno, raw, scope) for r in inner))
    if text.startswith("("):
        if not text.endswith(")"):
            raise PtxParseError(lineno, raw, f"unsupported operand {text!r}")
        inner = [r.strip() for r in text[1:-1].split(",") if r.strip()]
        if not all(re.fullmatch(_IDENT, r) for r in inner):
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
    if re.fullmatch(_IDENT, text):
        return Symbol(text)
    raise PtxParseError(lineno, raw, f"unsupported operand {text!r}")


def _address(text: str, lineno: int, raw: str, scope: _Scope | None = None) -> Address:
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
