"""The ``crucible`` console script: one argparse front door, sub-commands registered by modules.

Each command comes from a ``register(subparsers)`` function that adds its own sub-commands
(setting ``func`` on its parsers). The core's commands are listed in ``CORE_COMMANDS``; upper
layers (the Prefect layer's ``demo``, ``watch``, ``emit-finished``) add theirs through the
``crucible.commands`` entry-point group (name: the command, value: its register function), so
this module never imports them. A module whose optional dependencies are missing is shown with
the extra that installs it, so ``crucible config`` works with the core install alone.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from importlib.metadata import entry_points
from typing import Callable, Sequence

from crucible.coexistence import warn_if_nano_crucible

#: command -> (register function "module:function", extra that provides its dependencies)
CORE_COMMANDS: dict[str, tuple[str, str]] = {
    "config": ("crucible.client_cli:register", ""),
    "status": ("crucible.client_cli:register", ""),
    "get": ("crucible.client_cli:register", ""),
    "download": ("crucible.client_cli:register", ""),
    "ingest": ("crucible.jobs_cli:register", ""),
    "mirror": ("crucible.jobs_cli:register", ""),
    "link": ("crucible.jobs_cli:register", ""),
    "server": ("crucible.server.cli:register", "server"),
}

#: The entry-point group through which other packages add commands.
COMMANDS_GROUP = "crucible.commands"


def available_commands() -> dict[str, tuple[str, str]]:
    """Core commands plus the ones registered in the ``crucible.commands`` group."""
    commands = dict(CORE_COMMANDS)
    for ep in entry_points(group=COMMANDS_GROUP):
        target = ep.value.split("[")[0].strip()
        commands.setdefault(ep.name, (target, ep.extras[0] if ep.extras else "all"))
    return commands


def _registrars_for(argv: Sequence[str]) -> dict[str, tuple[list[str], str]]:
    """Only load what owns the command being run (Prefect takes ~1.5 s to import).

    ``crucible --help`` (or an unknown command) loads them all to list every command.
    """
    commands = available_commands()
    command = next((a for a in argv if not a.startswith("-")), None)
    chosen = {command: commands[command]} if command in commands else commands
    registrars: dict[str, tuple[list[str], str]] = {}
    for name, (target, extra) in chosen.items():
        registrars.setdefault(target, ([], extra))[0].append(name)
    return registrars


def _load(target: str) -> Callable[[argparse._SubParsersAction], None]:
    module_name, _, attr = target.partition(":")
    return getattr(importlib.import_module(module_name), attr or "register")


def build_parser(argv: Sequence[str] = ()) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="crucible", description="Crucible client, local server and instrument tools."
    )
    parser.add_argument("-v", "--verbose", action="count", default=0, help="More logging (-vv: debug).")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for target, (names, extra) in _registrars_for(argv).items():
        try:
            register = _load(target)
        except ModuleNotFoundError as exc:
            if exc.name and exc.name.split(".")[0] in {"crucible", "crucible_prefect"}:
                raise
            for name in names:
                _register_missing(subparsers, name, extra, exc)
            continue
        register(subparsers)
    return parser


def _register_missing(subparsers: argparse._SubParsersAction, name: str, extra: str,
                      exc: ModuleNotFoundError) -> None:
    """Keep the command visible and explain which extra installs it."""
    p = subparsers.add_parser(name, help=f"(needs: pip install 'crucible-prefect[{extra}]')")

    def fail(_args: argparse.Namespace) -> int:
        print(f"crucible {name}: missing dependency {exc.name!r}; "
              f"install it with: pip install 'crucible-prefect[{extra}]'", file=sys.stderr)
        return 2

    p.set_defaults(func=fail)


def main(argv: Sequence[str] | None = None) -> int:
    warn_if_nano_crucible()
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
