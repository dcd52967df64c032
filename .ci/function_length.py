"""Fail when a function in package code is longer than MAX_LINES lines.

Length is ``end_lineno - lineno + 1`` of each ``def``/``async def`` (decorators not counted,
docstring and comments counted). Nested functions and methods are checked on their own and
named by their qualified name (``Class.method``, ``outer.inner``).

Temporary exceptions live in ``.ci/long_functions.txt``, one ``path:qualified.name`` a line
(``#`` starts a comment). Entries that no longer match a long function are reported so they
can be removed.

Usage: python .ci/function_length.py [--max N] [--allowlist FILE] [paths...]
"""

from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MAX_LINES = 80
DEFAULT_PATHS = ("crucible", "crucible_prefect")
DEFAULT_ALLOWLIST = ROOT / ".ci" / "long_functions.txt"
FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)


def functions(tree: ast.AST):
    """(qualified name, node) for every function, nested ones included."""
    stack: list[tuple[ast.AST, str]] = [(tree, "")]
    while stack:
        node, prefix = stack.pop()
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (*FUNCTIONS, ast.ClassDef)):
                name = f"{prefix}{child.name}"
                if isinstance(child, FUNCTIONS):
                    yield name, child
                stack.append((child, name + "."))
            else:
                stack.append((child, prefix))


def long_functions(paths: list[Path], max_lines: int):
    """(relative path, line, qualified name, length) of each function over ``max_lines``."""
    for base in paths:
        files = [base] if base.is_file() else sorted(base.rglob("*.py"))
        for path in files:
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            rel = path.resolve().relative_to(ROOT).as_posix()
            for name, node in functions(tree):
                length = node.end_lineno - node.lineno + 1
                if length > max_lines:
                    yield rel, node.lineno, name, length


def read_allowlist(path: Path) -> set[str]:
    if not path.is_file():
        return set()
    entries = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            entries.add(line)
    return entries


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", default=[str(ROOT / p) for p in DEFAULT_PATHS])
    parser.add_argument("--max", type=int, default=MAX_LINES, dest="max_lines")
    parser.add_argument("--allowlist", type=Path, default=DEFAULT_ALLOWLIST)
    args = parser.parse_args(argv)

    allowed = read_allowlist(args.allowlist)
    offenders, used = [], set()
    for rel, line, name, length in sorted(long_functions([Path(p) for p in args.paths], args.max_lines)):
        key = f"{rel}:{name}"
        if key in allowed:
            used.add(key)
            print(f"{rel}:{line}: {name} is {length} lines (allowed for now)")
        else:
            offenders.append(key)
            print(f"{rel}:{line}: {name} is {length} lines (max {args.max_lines})")
    for key in sorted(allowed - used):
        print(f"note: {args.allowlist.name} lists {key}, which is no longer over "
              f"{args.max_lines} lines (or no longer exists): remove it")
    if offenders:
        print(f"{len(offenders)} function(s) longer than {args.max_lines} lines", file=sys.stderr)
        return 1
    print(f"no function longer than {args.max_lines} lines (outside {args.allowlist.name})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
