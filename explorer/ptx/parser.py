"""Parse PTX text back into the IR: what the printer writes, and what nvcc and Triton write
(`.reg .u32 %r<68>;`, module-scope and `.extern .shared`, `.func` definitions and prototypes,
`{ ... }` scopes with their own `.reg`s, `.loc` kept per instruction, `.file` names kept,
`.section` debug data skipped, `.global`/`.const` variables, header tuning directives, any
`.version`/`.target` value).

`parse(emit(k)) == k` for every kernel the project builds. Every instruction is checked against
`spec.OPCODES` (its opcode, modifier groups and operand count, not strictly: the groups' type
rules are the builder's); anything outside the subset raises `PtxParseError` naming the line. It
does not check operand types or data flow (the simulator and ptxas do).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from .instructions import IDENT as _IDENT
from .instructions import REG as _REG
from .instructions import PtxParseError, Scope, instruction, split_top
from .ir import (
    Comment,
    F32Imm,
    Function,
    Kernel,
    Label,
    ModuleVariable,
    Param,
    SharedDecl,
    Statement,
)
from .scan import Item, ScanError, scan

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
_ENTRY = re.compile(
    rf"(?:\.visible\s+|\.weak\s+)?\.entry\s+({_IDENT})\s*(?:\((.*)\))?([^()]*)$", re.S
)
_FUNC = re.compile(
    rf"(?:\.(?:visible|weak|extern)\s+)*\.func\s*(?:\((.*?)\))?\s*({_IDENT})\s*"
    rf"(?:\((.*)\))?(.*)$", re.S
)
# Performance-tuning directives of an entry or function header: ptxas's business.
_TUNING = re.compile(
    r"\.(maxntid|reqntid|minnctapersm|maxnreg|maxclusterrank|reqnctapercluster|noreturn|"
    r"explicitcluster|pragma)\b\s*((?:\d+\s*,?\s*)*|\"[^\"]*\"\s*)?;?"
)


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
    kernels = [replace(k, shared=shared + k.shared) for k in parts["kernels"]
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
    return tuple(_param(p, lineno) for p in split_top(text or "") if p.strip())


def _tuning(tail: str, lineno: int, raw: str) -> tuple[int | None, tuple[int, int, int] | None]:
    """The header's performance directives checked: (`.maxntid`/`.reqntid` x * y * z or None,
    `.reqnctapercluster` (x, y, z) or None)."""
    total = cluster = None
    rest = tail
    for match in _TUNING.finditer(tail):
        rest = rest.replace(match.group(0), " ", 1)
        if match.group(1) == "reqnctapercluster":
            cluster = _cluster_dims(match.group(2), lineno, raw)
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
    return total, cluster


def _cluster_dims(text: str | None, lineno: int, raw: str) -> tuple[int, int, int]:
    """`.reqnctapercluster`'s 1 to 3 positive dimensions, padded with ones."""
    dims = [int(d) for d in re.findall(r"\d+", text or "")]
    if not 1 <= len(dims) <= 3 or min(dims) < 1:
        raise PtxParseError(lineno, raw, ".reqnctapercluster needs 1 to 3 positive dimensions")
    return tuple(dims + [1] * (3 - len(dims)))


def _kernel(items: list[Item], n: int, head: Item, lines: list[str]) -> tuple[int, Kernel]:
    """Parse the body after the `.entry` header item `head` up to its closing brace."""
    raw = _raw(lines, head.line)
    match = _ENTRY.search(head.text)
    if not match:
        raise PtxParseError(head.line, raw, "malformed .entry header")
    params = _header_params(match.group(2), head.line)
    max_threads, cluster = _tuning(match.group(3), head.line, raw)
    n, shared, body = _body(items, n, head, lines)
    return n, Kernel(match.group(1), params, tuple(shared), tuple(body), max_threads, cluster)


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


def _body(items: list[Item], n: int, head: Item, lines: list[str]):
    """(index after the closing brace, shared declarations, statements) of one body."""
    shared: list[SharedDecl] = []
    body: list[Statement] = []
    scope, loc = Scope(), None
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
            ins = instruction(item.text, item.line, raw, scope)
            body.append(replace(ins, loc=loc) if loc else ins)


def _loc(code: str, current):
    match = re.match(r"\.loc\s+(\d+)\s+(\d+)", code)
    return (int(match.group(1)), int(match.group(2))) if match else current


def _directive(code: str, lineno: int, raw: str, scope: Scope) -> SharedDecl | None:
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


