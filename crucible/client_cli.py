"""``crucible config|status|get|download``: the plain client's commands (argparse).

Results go to stdout as JSON; progress and messages go to stderr. The API key is never printed
in full (``config show`` masks it) and the config file is written with mode 0600.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
import time
from typing import Any

from .config import config_file_path, mask_key, resolve_config, write_config_file

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add this module's sub-commands to the ``crucible`` dispatcher."""
    cfg = subparsers.add_parser("config", help="Show or write the client configuration.")
    cfg_sub = cfg.add_subparsers(dest="config_command", metavar="ACTION")
    init = cfg_sub.add_parser("init", help="Write api_url/api_key to nano-crucible's config.ini.")
    init.add_argument("--api-url", help="API root (default: keep the current or the default).")
    init.add_argument("--api-key", help="API key (prompted without echo when omitted).")
    init.add_argument("--path", help="Config file to write (default: the platform's).")
    init.set_defaults(func=_config_init)
    show = cfg_sub.add_parser("show", help="Print the resolved settings (key masked).")
    show.add_argument("--path", help="Config file to read.")
    show.set_defaults(func=_config_show)
    cfg.set_defaults(func=lambda a: (cfg.print_help(sys.stderr), 2)[1])

    status = subparsers.add_parser("status", help="Server health and who you are.")
    status.set_defaults(func=_guard(_status))

    get = subparsers.add_parser("get", help="Print one resource as JSON.")
    get.add_argument("id")
    get.add_argument("--metadata", action="store_true", help="Include scientific metadata.")
    get.add_argument("--links", action="store_true", help="Include links.")
    get.set_defaults(func=_guard(_get))

    dl = subparsers.add_parser("download", help="Download a dataset's files (verified).")
    dl.add_argument("id")
    dl.add_argument("-o", "--output-dir", default="crucible-downloads")
    dl.add_argument("--include", action="append", help="Glob on relative paths (repeatable).")
    dl.add_argument("--exclude", action="append", help="Glob on relative paths (repeatable).")
    dl.add_argument("--no-files", action="store_true", help="Only write record.json.")
    dl.add_argument("--no-record", action="store_true", help="Do not write record.json.")
    dl.add_argument("--keep-existing", action="store_true",
                    help="Keep existing files whose sha256 matches; fail on ones that differ.")
    dl.add_argument("--no-progress", action="store_true")
    dl.set_defaults(func=_guard(_download))


def _guard(func):
    """Turn configuration and API errors into one stderr line and exit status 1."""

    def run(args: argparse.Namespace) -> int:
        from .errors import CrucibleError

        try:
            return func(args)
        except (CrucibleError, ValueError, OSError) as exc:
            print(f"crucible {args.command}: {exc}", file=sys.stderr)
            return 1

    return run


def _client():
    from .client import CrucibleClient

    return CrucibleClient()


def _emit(value: Any) -> None:
    json.dump(value, sys.stdout, indent=2, default=str)
    sys.stdout.write("\n")


def _config_init(args: argparse.Namespace) -> int:
    current = resolve_config(config_path=args.path, require_key=False)
    url = args.api_url or current.api_url
    key = args.api_key
    if not key:
        key = getpass.getpass("Crucible API key: ").strip()
    if not key:
        print("crucible config init: no API key given", file=sys.stderr)
        return 2
    path = write_config_file({"api_url": url, "api_key": key}, args.path)
    print(f"wrote {path} (mode 0600): api_url={url} api_key={mask_key(key)}", file=sys.stderr)
    return 0


def _config_show(args: argparse.Namespace) -> int:
    cfg = resolve_config(config_path=args.path, require_key=False)
    _emit({"config_file": str(args.path or config_file_path()), "api_url": cfg.api_url,
           "api_key": mask_key(cfg.api_key), "connect_timeout": cfg.connect_timeout,
           "read_timeout": cfg.read_timeout, "sources": cfg.source})
    return 0


def _status(_args: argparse.Namespace) -> int:
    with _client() as client:
        _emit({"api_url": client.api_url, "health": client.health(), "account": client.whoami()})
    return 0


def _get(args: argparse.Namespace) -> int:
    with _client() as client:
        _emit(client.get(args.id, include_metadata=args.metadata, include_links=args.links))
    return 0


class _Progress:
    """A one-line byte counter on stderr, redrawn at most 10 times a second."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled and sys.stderr.isatty() or enabled == "force"
        self.total = 0
        self.start = time.monotonic()
        self.last = 0.0

    def __call__(self, n: int) -> None:
        self.total += n
        now = time.monotonic()
        if self.enabled and now - self.last >= 0.1:
            self.last = now
            rate = self.total / max(now - self.start, 1e-6)
            sys.stderr.write(f"\r  {self.total / 2**20:10.1f} MiB  {rate / 2**20:8.1f} MiB/s")
            sys.stderr.flush()

    def close(self) -> None:
        if self.enabled and self.total:
            self.last = 0.0
            self(0)
            sys.stderr.write("\n")


def _download(args: argparse.Namespace) -> int:
    progress = _Progress(not args.no_progress)
    try:
        with _client() as client:
            paths = client.download(args.id, output_dir=args.output_dir,
                                    no_files=args.no_files, no_record=args.no_record,
                                    overwrite_existing=not args.keep_existing,
                                    include=args.include, exclude=args.exclude,
                                    progress=progress)
    finally:
        progress.close()
    for p in paths:
        print(p)
    print(f"{len(paths)} path(s) in {args.output_dir}", file=sys.stderr)
    return 0
