"""``crucible server start|add-user``. FastAPI, uvicorn and SQLAlchemy load only when a command runs,
so ``crucible --help`` stays fast."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Sequence

ADMIN_KEY_ENV = "CRUCIBLE_SERVER_ADMIN_KEY"


def default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(base) / "crucible-server"


def register(subparsers) -> None:
    """Add ``server`` with its sub-commands to the ``crucible`` parser."""
    server = subparsers.add_parser("server", help="Run or administer the local Crucible server.")
    sub = server.add_subparsers(dest="server_command", metavar="SERVER_COMMAND")
    server.set_defaults(func=lambda _a: (server.print_help(), 2)[1])

    start = sub.add_parser("start", help="Run the server in the foreground (prints URL and admin key).")
    start.add_argument("--host", default="127.0.0.1")
    start.add_argument("--port", type=int, default=8000, help="0 picks a free port (default 8000).")
    start.add_argument("--data-dir", type=Path, default=None,
                       help=f"State directory (default {default_data_dir()}).")
    start.add_argument("--fail-rate", type=float, default=0.0, metavar="P",
                       help="Fraction of API requests to fail (fault injection; default 0).")
    start.add_argument("--fail-seed", type=int, default=0, metavar="N")
    start.add_argument("--ingest-mode", choices=("auto", "manual"), default="auto")
    start.add_argument("--log-level", default="warning")
    start.set_defaults(func=_start)

    add = sub.add_parser("add-user", help="Create a user (and missing projects); prints the new key last.")
    add.add_argument("--data-dir", type=Path, required=True)
    add.add_argument("--orcid", required=True)
    add.add_argument("--first-name")
    add.add_argument("--last-name")
    add.add_argument("--email")
    add.add_argument("--project", action="append", default=[], metavar="PID")
    add.add_argument("--admin", action="store_true")
    add.set_defaults(func=_add_user)


def _start(args: argparse.Namespace) -> int:
    from .runner import serve

    key = os.environ.get(ADMIN_KEY_ENV) or None
    data_dir = args.data_dir or default_data_dir()
    if not 0.0 <= args.fail_rate <= 1.0:
        print("--fail-rate must be between 0 and 1", file=sys.stderr)
        return 2
    return serve(host=args.host, port=args.port, data_dir=data_dir, admin_key=key,
                 fail_rate=args.fail_rate, fail_seed=args.fail_seed, ingest_mode=args.ingest_mode,
                 log_level=args.log_level)


def _add_user(args: argparse.Namespace) -> int:
    from .accounts import create_user_with_key
    from .db import open_database

    sessions = open_database(Path(args.data_dir) / "crucible.db")
    with sessions() as db:
        key = create_user_with_key(db, args.orcid, first_name=args.first_name,
                                   last_name=args.last_name, email=args.email,
                                   projects=args.project, admin=args.admin)
    print(f"Created user {args.orcid}" + (f" in {', '.join(args.project)}" if args.project else ""))
    print(key)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m crucible.server`` (same commands as ``crucible server``)."""
    parser = argparse.ArgumentParser(prog="python -m crucible.server")
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["server", *(sys.argv[1:] if argv is None else argv)])
    return int(args.func(args) or 0)
