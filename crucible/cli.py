"""The ``crucible`` console script: one argparse front door, sub-commands registered by modules.

Each module in ``COMMAND_MODULES`` exposes ``register(subparsers)`` and adds its own sub-commands
(setting ``func`` on its parsers). Modules whose optional dependencies are missing are skipped
with a hint, so ``crucible config`` works with the core install alone.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from typing import Sequence

#: (module, extra that provides its dependencies, the top-level commands it registers)
COMMAND_MODULES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("crucible.client_cli", "", ("config", "status", "get", "download")),
    ("crucible.server.cli", "server", ("server",)),
    ("crucible_prefect.cli", "prefect", ("demo", "watch", "emit-finished")),
)


def _modules_for(argv: Sequence[str]) -> tuple[tuple[str, str, tuple[str, ...]], ...]:
    """Only import the module that owns the command being run (Prefect takes ~1.5 s to import).

    ``crucible --help`` (or an unknown command) still imports them all to list every command.
    """
    command = next((a for a in argv if not a.startswith("-")), None)
    owners = tuple(m for m in COMMAND_MODULES if command in m[2])
    return owners or COMMAND_MODULES


def build_parser(argv: Sequence[str] = ()) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="crucible", description="Crucible client, local server and instrument tools."
    )
    parser.add_argument("-v", "--verbose", action="count", default=0, help="More logging (-vv: debug).")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_name, extra, _commands in _modules_for(argv):
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name and exc.name.split(".")[0] in {"crucible", "crucible_prefect", "flows"}:
                if exc.name != module_name:
                    raise
                continue  # not built yet
            _register_missing(subparsers, module_name, extra, exc)
            continue
        module.register(subparsers)
    return parser


def _register_missing(subparsers, module_name: str, extra: str, exc: ModuleNotFoundError) -> None:
    """Keep the command visible and explain which extra installs it."""
    name = module_name.split(".")[-2] if module_name.endswith(".cli") else module_name
    p = subparsers.add_parser(name, help=f"(needs: pip install 'crucible-prefect[{extra}]')")

    def fail(_args: argparse.Namespace) -> int:
        print(f"crucible {name}: missing dependency {exc.name!r}; "
              f"install it with: pip install 'crucible-prefect[{extra}]'", file=sys.stderr)
        return 2

    p.set_defaults(func=fail)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    level = logging.WARNING - 10 * min(args.verbose, 2)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    try:
        return int(func(args) or 0)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
