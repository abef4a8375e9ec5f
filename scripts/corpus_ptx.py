"""Reading just enough of a PTX module for the corpus script: each function's text, an entry's
parameter types, the PTX ISA version, and which `corpus_spec.FEATURES` an entry's text shows.

Regex and brace counting only (standard library); it does not parse instructions: the
simulator's parser is the thing under test, so the corpus tooling does not lean on it.
"""

from __future__ import annotations

import re

_HEAD = re.compile(
    r"^(?:\.visible\s+|\.extern\s+|\.weak\s+)?\.(entry|func)\s+(?:\([^)]*\)\s*)?([\w$]+)",
    re.M)
_CALL = re.compile(r"\bcall(?:\.uni)?\s+(?:\([^)]*\)\s*,\s*)?([\w$]+)")
_VERSION = re.compile(r"^\s*\.version\s+(\d+)\.(\d+)", re.M)


def _matching_brace(text: str, start: int) -> int:
    """Index just past the brace that closes the one at `start`, skipping // comments."""
    depth, i = 0, start
    while i < len(text):
        c = text[i]
        if c == "/" and text.startswith("//", i):
            i = text.find("\n", i)
            if i == -1:
                break
            continue
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    raise ValueError(f"unbalanced braces in the function body starting at offset {start}")


def split_functions(ptx: str) -> tuple[dict[str, str], str]:
    """({name: text from the .entry/.func line to its closing brace}, the module-level rest).

    Declarations without a body (prototypes ending in `;`) stay in the module-level text.
    """
    bodies: dict[str, str] = {}
    rest, pos = [], 0
    for m in _HEAD.finditer(ptx):
        if m.start() < pos:
            continue
        brace, semi = ptx.find("{", m.end()), ptx.find(";", m.end())
        if brace == -1 or (semi != -1 and semi < brace):
            continue
        end = _matching_brace(ptx, brace)
        rest.append(ptx[pos:m.start()])
        bodies[m.group(2)] = ptx[m.start():end]
        pos = end
    rest.append(ptx[pos:])
    return bodies, "".join(rest)


def entry_names(ptx: str) -> list[str]:
    """The .entry names of the module, in order."""
    return [m.group(2) for m in _HEAD.finditer(ptx) if m.group(1) == "entry"]


def entry_text(ptx: str, entry: str) -> str:
    """The entry's body and the bodies of the .funcs it calls (transitively).

    Raises ValueError if the module has no `.entry` named `entry`.
    """
    bodies, _ = split_functions(ptx)
    if entry not in bodies or entry not in entry_names(ptx):
        raise ValueError(f"entry {entry!r} is not an .entry of this module "
                         f"(it has: {', '.join(entry_names(ptx))})")
    seen, todo = [entry], [entry]
    while todo:
        for callee in _CALL.findall(bodies[todo.pop()]):
            if callee in bodies and callee not in seen:
                seen.append(callee)
                todo.append(callee)
    return "\n".join(bodies[name] for name in seen)


def param_types(ptx: str, entry: str) -> list[str]:
    """The PTX types of the entry's parameters, in order (`u64`, `u32`, `f32`, ...)."""
    bodies, _ = split_functions(ptx)
    head = bodies[entry].split("{", 1)[0]
    inside = head[head.index("(") + 1:head.rindex(")")]
    return re.findall(r"\.param\s+\.(\w+)", inside)


def ptx_isa(ptx: str) -> int:
    """The module's `.version` as one number: 9.0 -> 90, 8.7 -> 87."""
    m = _VERSION.search(ptx)
    if not m:
        raise ValueError("the PTX has no .version line")
    return int(m.group(1)) * 10 + int(m.group(2))


def features_found(ptx: str, entry: str, features: dict[str, str]) -> list[str]:
    """The labels of `features` whose regex matches the entry's text, the whole module for a
    `module:` regex, or names a module-level declaration the entry uses for a `uses:` regex.
    The scratch-pointer label is decided by the caller, not here."""
    text = entry_text(ptx, entry)
    _, module_level = split_functions(ptx)
    found = []
    for label, rx in features.items():
        if rx == "scratch:":
            continue
        if rx.startswith("uses:"):
            names = re.findall(rx.removeprefix("uses:"), module_level, re.M)
            hit = any(re.search(rf"\b{re.escape(n)}\b", text) for n in names)
        else:
            where = ptx if rx.startswith("module:") else text
            hit = re.search(rx.removeprefix("module:"), where, re.M) is not None
        if hit:
            found.append(label)
    return found
