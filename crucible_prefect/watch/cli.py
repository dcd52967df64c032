"""``crucible watch`` and ``crucible emit-finished``: register with ``register(subparsers)``."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time

from .config import ConfigError, InstrumentEntry, load_config


def register(subparsers: argparse._SubParsersAction) -> None:
    watch = subparsers.add_parser(
        "watch", help="Watch instrument folders and emit an event when a run is finished.",
        description="Long-running: polls the instruments' folders, records finished runs in a "
                    "ledger and emits crucible.instrument.run.finished to PREFECT_API_URL.",
    )
    watch.add_argument("--config", required=True, help="The instruments file (YAML).")
    watch.add_argument("--ledger", help="Ledger file (overrides the file's 'ledger').")
    watch.add_argument("--check", action="store_true", help="Validate the file and exit.")
    watch.add_argument("--status", action="store_true", help="Print the ledger as JSON lines and exit.")
    watch.set_defaults(func=_watch)

    emit = subparsers.add_parser(
        "emit-finished", help="Announce that a run is finished (for instrument software).",
        description="Emits crucible.instrument.run.finished for PATH and waits until the Prefect "
                    "API confirmed it. Exit code 0: delivered; 1: not delivered; 2: bad input.",
    )
    emit.add_argument("path", metavar="PATH", help="The finished run: a folder or a file.")
    emit.add_argument("--instrument", required=True, help="Instrument name.")
    emit.add_argument("--config", help="Instruments file giving this instrument's ingest settings.")
    emit.add_argument("--project", help="Crucible project (required without --config; overrides it).")
    emit.add_argument("--run-id", help="Stable id of this run: repeated calls with it send the "
                                       "same event, which Prefect de-duplicates.")
    emit.add_argument("--retry-for", type=float, default=300.0, metavar="SECONDS",
                      help="Keep retrying delivery this long (default 300).")
    emit.set_defaults(func=_emit_finished)


def _watch(args: argparse.Namespace) -> int:
    from .ledger import Ledger
    from .watcher import Watcher

    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(f"crucible watch: {exc}", file=sys.stderr)
        return 2
    if args.check:
        print(f"{args.config}: OK ({len(config.instruments)} instrument(s))")
        return 0
    ledger_path = args.ledger or config.ledger_path()
    with Ledger(ledger_path) as ledger:
        if args.status:
            for row in ledger.rows():
                print(json.dumps(row))
            return 0
        watcher = Watcher(config, ledger)
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        watcher.run(stop)
    return 0


def _emit_finished(args: argparse.Namespace) -> int:
    from .detector import snapshot_run
    from .events import DeliveryError, at_delivery, build_event, send_events, stable_event_id

    path = os.path.abspath(os.path.expanduser(args.path))
    if not os.path.exists(path):
        print(f"crucible emit-finished: {path} does not exist", file=sys.stderr)
        return 2
    try:
        if args.config:
            entry = load_config(args.config).instrument(args.instrument)
            if args.project:
                entry = entry.model_copy(update={"project_id": args.project})
        elif not args.project:
            raise ConfigError("give --config (the instruments file) or --project")
        else:
            entry = InstrumentEntry(name=args.instrument, watch_folder=os.path.dirname(path),
                                    project_id=args.project)
    except (ConfigError, ValueError) as exc:
        print(f"crucible emit-finished: {exc}", file=sys.stderr)
        return 2
    try:
        parameters = entry.flow_parameters(path)
    except ValueError as exc:
        print(f"crucible emit-finished: {exc}", file=sys.stderr)
        return 2
    if entry.settle_seconds is None:
        parameters["settle_seconds"] = 0.0  # the caller says the run is done: no quiet period
    snap = snapshot_run(entry, path)
    event = build_event(
        instrument=entry.name, path=path, file_count=snap.file_count,
        total_bytes=snap.total_bytes, parameters=parameters,
        event_id=stable_event_id(entry.name, path, args.run_id) if args.run_id else None,
    )
    deadline = time.monotonic() + max(0.0, args.retry_for)
    delay = 1.0
    while True:
        try:
            send_events([at_delivery(event)])
        except DeliveryError as exc:
            if time.monotonic() + delay > deadline:
                print(f"crucible emit-finished: not delivered: {exc}", file=sys.stderr)
                return 1
            print(f"crucible emit-finished: {exc}; retrying in {delay:.0f} s", file=sys.stderr)
            time.sleep(delay)
            delay = min(delay * 2, 30.0)
            continue
        print(json.dumps({"event_id": event["id"], "path": parameters["path"],
                          "instrument": entry.name, "file_count": snap.file_count,
                          "bytes": snap.total_bytes}))
        return 0
