"""``crucible`` sub-commands that need Prefect: registered by ``crucible/cli.py``.

Thin argparse registration only; the work lives in the modules each command imports.
"""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add this module's sub-commands to the ``crucible`` parser."""
    demo = subparsers.add_parser(
        "demo",
        help="Ingest the bundled example run into the embedded local server (no credentials needed).",
        description="Start the embedded local Crucible server on a persistent data folder, make a "
        "demo user/project/instrument once, ingest examples/ with the ingest flow and print the "
        "datasets. Running it again creates nothing.",
    )
    demo.add_argument("--data-dir", default=None,
                      help="Where the local server keeps its data (default: $CRUCIBLE_DEMO_DIR or "
                      "~/.local/share/crucible-prefect/demo).")
    demo.add_argument("--example", default=None,
                      help="Run folder to ingest (default: the bundled examples/ run).")
    demo.set_defaults(func=_demo)
    from crucible_prefect.watch.cli import register as register_watch  # watch, emit-finished
    register_watch(subparsers)


def _demo(args: argparse.Namespace) -> int:
    import os

    # Prefect's offline telemetry job only logs "database is locked" on the ephemeral API.
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    from crucible_prefect.demo import run_demo

    return run_demo(data_dir=args.data_dir, example=args.example)
