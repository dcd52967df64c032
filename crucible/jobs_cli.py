"""``crucible ingest|mirror|link``: run the three jobs from a shell, without Prefect.

Each command validates its input, makes a :class:`crucible.CrucibleClient` (``CRUCIBLE_API_URL``
/ ``CRUCIBLE_API_KEY`` / nano-crucible's ``config.ini``), runs the job with a
:class:`crucible.jobs.ThreadRunner` and prints

- a progress bar on stderr while it runs (only when stderr is a terminal),
- a summary on stderr at the end: counts per status, then up to 20 problem rows,
- the result on stdout: a compact table, or the whole report as JSON with ``--json``.

Exit status: 0 when the report is ``ok``; 1 when the job ran and something failed (or the server
could not be reached); 2 for bad input (usage errors, invalid settings, an unreadable rules file,
bad ``--metadata`` JSON, an unusable destination, no API key configured). Messages are one line
and never contain the API key.

This module imports nothing from ``prefect`` or ``crucible_prefect``: it works in a core install.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Sequence

from .cli_inputs import (OPTION_NAMES, BadInput, is_local, json_object, load_rules, rules_json,
                         storage_options, validation_text)
from .terminal import ProgressBar, format_table

__all__ = ["register", "load_rules"]

log = logging.getLogger("crucible.jobs_cli")

#: Problem rows shown in the stderr summary.
PROBLEM_ROWS = 20

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2


# ---------------------------------------------------------------------------------- parsers
def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``ingest``, ``mirror`` and ``link`` to the ``crucible`` dispatcher."""
    _add_ingest(subparsers)
    _add_mirror(subparsers)
    _add_link(subparsers)


def _common(p: argparse.ArgumentParser) -> None:
    out = p.add_argument_group("output")
    out.add_argument("--json", action="store_true",
                     help="Print the whole report as JSON on stdout (default: a table).")
    out.add_argument("--no-progress", action="store_true",
                     help="No progress bar (it is only drawn when stderr is a terminal).")


def _add_globs(p: argparse.ArgumentParser) -> None:
    """``--include``/``--exclude``: the glob rules of docs/globs.md on relative paths."""
    p.add_argument("--include", action="extend", nargs="+", metavar="GLOB",
                   help="Only files whose relative path matches (repeatable; docs/globs.md).")
    p.add_argument("--exclude", action="extend", nargs="+", metavar="GLOB",
                   help="Skip files whose relative path matches (repeatable).")


def _add_storage_options(p: argparse.ArgumentParser, target: str) -> None:
    """``--storage-option KEY=VALUE``: fsspec options for the command's ``target`` URL."""
    p.add_argument("--storage-option", dest="storage_options", action="append",
                   metavar="KEY=VALUE",
                   help=f"fsspec option for {target} (repeatable; VALUE is JSON or a string).")

def _add_ingest(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "ingest", help="Ingest an instrument run (folder, file or fsspec URL) into Crucible.",
        description="Turn a finished instrument run into Crucible datasets, exactly once: "
                    "re-running on unchanged input creates and uploads nothing.",
        epilog="example: crucible ingest /data/run-042 --instrument TEM-1 --project MFP123 "
               "--keyword tem --settle-seconds 0")
    p.add_argument("path", metavar="PATH", help="The run: a folder, a file or an fsspec URL.")
    p.add_argument("--instrument", required=True, metavar="NAME",
                   help="Instrument name as registered in Crucible.")
    p.add_argument("--project", required=True, metavar="P", help="Project the datasets go to.")
    p.add_argument("--mode", choices=["session", "files", "single"], default=None,
                   help="session: a parent dataset with one child per file group; files: one "
                        "dataset per group; single: one dataset holding every file "
                        "(default: session).")
    _add_globs(p)
    p.add_argument("--grouping", metavar="HOW",
                   help="Companion files: 'stem', 'file' or 'regex:<pattern>' (default: stem).")
    p.add_argument("--run-name", metavar="N", help="Run name (default: the folder's name).")
    p.add_argument("--sample-id", dest="sample_ids", action="extend", nargs="+", metavar="ID",
                   help="Link the datasets to these samples (repeatable).")
    p.add_argument("--sample-rules", metavar="FILE",
                   help="Then link the run's datasets to samples by these rules: a JSON or YAML "
                        "list, as for 'crucible link --rules'.")
    p.add_argument("--keyword", dest="keywords", action="extend", nargs="+", metavar="K",
                   help="Keywords for the datasets (repeatable).")
    p.add_argument("--metadata", metavar="JSON",
                   help="Scientific metadata for every dataset: a JSON object, or @FILE.")
    p.add_argument("--extractor", dest="extractors", action="extend", nargs="+", metavar="NAME",
                   help="Metadata extractors (default: json_sidecar).")
    p.add_argument("--settle-seconds", type=float, metavar="S",
                   help="Hold back files modified less than S seconds ago (default: 30).")
    p.add_argument("--max-concurrency", type=int, metavar="N",
                   help="Parallel uploads, 1-64 (default: 8).")
    p.add_argument("--no-digest-cache", action="store_true",
                   help="Do not use the local sha256 ledger (re-read every file).")
    p.add_argument("--owner-orcid", metavar="O", help="Owner (default: the API key's user).")
    p.add_argument("--ingestor", metavar="I", help="Server-side ingestor to request.")
    p.add_argument("--post-processing", action="extend", nargs="+", metavar="NAME",
                   help="Post-processing requests for new datasets (repeatable).")
    _add_storage_options(p, "PATH")
    _common(p)
    p.set_defaults(func=_command(_prepare_ingest))


def _add_mirror(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "mirror", help="Mirror datasets to a folder or fsspec URL (verified, incremental).",
        description="Copy the selected datasets' files to DEST, verified by sha256; files "
                    "already there are skipped, so a second run copies nothing.",
        epilog="example: crucible mirror /backup/crucible --project MFP123 --instrument TEM-1")
    p.add_argument("dest", metavar="DEST", help="Destination: a local folder or an fsspec URL.")
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--dataset", dest="dataset_ids", action="extend", nargs="+",
                       metavar="ID", help="Dataset ids (repeatable).")
    which.add_argument("--project", metavar="P", help="Every dataset of a project.")
    which.add_argument("--sample", metavar="S", help="Every dataset of a sample.")
    p.add_argument("--include-descendants", action="store_true",
                   help="With --sample: also the datasets of its child samples.")
    p.add_argument("--keyword", metavar="K", help="Only datasets with this keyword.")
    p.add_argument("--instrument", metavar="NAME", help="Only datasets of this instrument.")
    p.add_argument("--created-since", metavar="ISO", help="Only datasets created at/after this.")
    _add_globs(p)
    p.add_argument("--layout", metavar="TEMPLATE",
                   help="Where files go below DEST (default: "
                        "{project_id}/{dataset_id}/{relative_path}).")
    p.add_argument("--record-layout", metavar="TEMPLATE|none",
                   help="Where each dataset's record.json goes, or 'none' "
                        "(default: {project_id}/{dataset_id}/record.json).")
    p.add_argument("--delete-extraneous", action="store_true",
                   help="Delete files below a dataset's folder that the dataset does not have.")
    p.add_argument("--max-concurrency", type=int, metavar="N",
                   help="Parallel file transfers (default: 4).")
    _add_storage_options(p, "DEST")
    _common(p)
    p.set_defaults(func=_command(_prepare_mirror))


def _add_link(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "link", help="Link datasets to samples by rules (see docs/linking.md).",
        description="Link datasets to samples by rules; never to a guess. Datasets: --dataset "
                    "ids, or a query (--project/--instrument/--session-dataset, "
                    "--created-since).",
        epilog="example: crucible link --rules rules.yaml --project MFP123 "
               "--instrument TEM-1 --dry-run")
    p.add_argument("--rules", required=True, metavar="FILE",
                   help="Rules file: a JSON or YAML list of rules ('-' reads stdin).")
    p.add_argument("--dataset", dest="dataset_ids", action="extend", nargs="+", metavar="ID",
                   help="Dataset ids (repeatable); or use the query options.")
    query = p.add_argument_group("query (instead of --dataset; every given criterion must hold)")
    query.add_argument("--project", metavar="P", help="Datasets of this project.")
    query.add_argument("--instrument", metavar="NAME", help="Datasets of this instrument.")
    query.add_argument("--session-dataset", metavar="ID",
                       help="Children of this session (parent) dataset.")
    query.add_argument("--created-since", metavar="ISO",
                       help="Datasets created at or after this time (UTC if no zone).")
    p.add_argument("--dry-run", action="store_true",
                   help="Report the planned links, change nothing.")
    p.add_argument("--require-link", action="store_true",
                   help="Fail (exit 1) if any dataset stays unlinked.")
    _common(p)
    p.set_defaults(func=_command(_prepare_link))


# ---------------------------------------------------------------------------------- running
@dataclass
class _Plan:
    """What a command runs: the job (made once the client exists) and how to show its report."""

    label: str
    unit: str
    make_job: Callable[[Any, Callable[[int, int], None]], Any]
    workers: int
    columns: Sequence[str]
    headers: dict[str, str] = field(default_factory=dict)
    wide: Sequence[str] = ()
    right: Sequence[str] = ("bytes",)


def _command(prepare: Callable[[argparse.Namespace], _Plan]) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        return _run(args, prepare)

    return run


def _run(args: argparse.Namespace, prepare: Callable[[argparse.Namespace], _Plan]) -> int:
    from pydantic import ValidationError

    try:
        plan = prepare(args)
    except BadInput as exc:
        return _say(args, str(exc), EXIT_BAD_INPUT)
    except ValidationError as exc:
        return _say(args, validation_text(exc), EXIT_BAD_INPUT)

    try:
        client = _client()
    except (ValueError, OSError) as exc:  # no key / URL, unreadable config file
        return _say(args, f"configuration: {exc}", EXIT_BAD_INPUT)

    from .jobs import ThreadRunner, run_job

    bar = ProgressBar(plan.label, plan.unit, enabled=False if args.no_progress else None)
    try:
        with client:
            job = plan.make_job(client, bar)
            report = run_job(job, ThreadRunner(client, max_workers=plan.workers))
    except KeyboardInterrupt:
        bar.close()
        raise
    except Exception as exc:  # the job could not run at all: one line, never a traceback
        bar.close()
        log.debug("crucible %s failed", args.command, exc_info=True)
        return _say(args, _error_text(exc), EXIT_FAILED)
    bar.close()

    _print_summary(args, report, plan)
    _print_result(args, report, plan)
    return EXIT_OK if report.ok else EXIT_FAILED


def _client():
    from .client import CrucibleClient

    client = CrucibleClient()
    if client.config.api_key:
        _SECRETS.add(client.config.api_key)
    return client


_SECRETS: set[str] = set()


def _scrub(text: str) -> str:
    """One line, without the API key (defence in depth: client errors never carry it)."""
    text = " ".join(str(text).split())
    for secret in _SECRETS | {os.environ.get("CRUCIBLE_API_KEY") or ""}:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    return text


def _say(args: argparse.Namespace, message: str, status: int) -> int:
    print(f"crucible {args.command}: {_scrub(message)}", file=sys.stderr)
    return status


def _error_text(exc: BaseException) -> str:
    from .errors import CrucibleError

    text = str(exc) or type(exc).__name__
    if isinstance(exc, (CrucibleError, LookupError, OSError, ValueError)):
        return text
    import requests

    if isinstance(exc, requests.RequestException):
        return f"cannot reach Crucible ({type(exc).__name__}): {text}"
    return f"{type(exc).__name__}: {text}"


def _prepare_ingest(args: argparse.Namespace) -> _Plan:
    from .ingest import IngestJob, IngestSettings

    if is_local(args.path) and not os.path.exists(args.path):
        raise BadInput(f"{args.path}: no such file or directory")
    params = {
        "path": args.path, "instrument_name": args.instrument, "project_id": args.project,
        "owner_orcid": args.owner_orcid, "mode": args.mode, "include": args.include,
        "exclude": args.exclude, "grouping": args.grouping, "run_name": args.run_name,
        "sample_ids": args.sample_ids, "keywords": args.keywords,
        "sample_rules": rules_json(args.sample_rules, "--sample-rules"),
        "scientific_metadata": json_object(args.metadata, "--metadata"),
        "extractors": args.extractors, "ingestor": args.ingestor,
        "post_processing": args.post_processing, "settle_seconds": args.settle_seconds,
        "max_concurrency": args.max_concurrency,
        "storage_options": storage_options(args.storage_options),
        "digest_cache": not args.no_digest_cache,
    }
    settings = IngestSettings.model_validate({k: v for k, v in params.items() if v is not None})

    def make_job(client: Any, on_progress: Callable[[int, int], None]) -> Any:
        return IngestJob(settings, client, on_progress=on_progress)

    return _Plan("ingest", "files", make_job, settings.max_concurrency,
                 columns=("status", "bytes", "dataset_id", "file", "reason"),
                 headers={"dataset_id": "dataset"}, wide=("file", "reason"))


def _prepare_mirror(args: argparse.Namespace) -> _Plan:
    from .mirror import (DEFAULT_RECORD_TEMPLATE, DEFAULT_TEMPLATE, MirrorJob, MirrorOptions,
                         Query, open_destination)

    record = args.record_layout
    if record is None:
        record = DEFAULT_RECORD_TEMPLATE
    elif record.strip().lower() in ("none", ""):
        record = None
    try:
        options = MirrorOptions(
            template=args.layout if args.layout is not None else DEFAULT_TEMPLATE,
            record_template=record, delete_extraneous=args.delete_extraneous,
            max_concurrency=args.max_concurrency if args.max_concurrency is not None else 4,
            include=tuple(args.include or ()), exclude=tuple(args.exclude or ()))
    except ValueError as exc:
        raise BadInput(str(exc).replace("max_concurrency", "--max-concurrency")) from None
    if args.include_descendants and not args.sample:
        raise BadInput("--include-descendants needs --sample")
    fs_options = storage_options(args.storage_options)
    dest_url = args.dest
    if not dest_url or not dest_url.strip():
        raise BadInput("DEST is empty: give a local folder or an fsspec URL")
    if is_local(dest_url):
        local = Path(dest_url).expanduser()
        if local.exists() and not local.is_dir():
            raise BadInput(f"destination {dest_url} exists and is not a folder")
        if not local.exists() and not local.absolute().parent.is_dir():
            raise BadInput(f"destination {dest_url}: its parent folder does not exist")
        dest_url = str(local)
    try:
        dest = open_destination(dest_url, fs_options)
    except (ValueError, ImportError, OSError, TypeError) as exc:
        raise BadInput(f"cannot open destination {args.dest}: {exc}") from None
    created_since = None
    if args.created_since:
        try:
            created_since = datetime.fromisoformat(args.created_since)
        except ValueError:
            raise BadInput(f"--created-since is not an ISO date/time: {args.created_since!r}"
                           ) from None
    query = Query(dataset_ids=tuple(args.dataset_ids or ()), project_id=args.project,
                  sample_id=args.sample, include_descendants=args.include_descendants,
                  keyword=args.keyword, instrument_name=args.instrument,
                  created_since=created_since)

    def make_job(client: Any, on_progress: Callable[[int, int], None]) -> Any:
        return MirrorJob(query, dest, client, options, on_progress=on_progress)

    return _Plan("mirror", "files", make_job, 4,
                 columns=("status", "bytes", "dataset", "path", "error"),
                 wide=("path", "error"))


def _prepare_link(args: argparse.Namespace) -> _Plan:
    from .linking import DatasetQuery, LinkJob, LinkSettings

    criteria = {"project_id": args.project, "instrument_name": args.instrument,
                "session_dataset_id": args.session_dataset, "created_since": args.created_since}
    given = {k: v for k, v in criteria.items() if v is not None}
    if args.dataset_ids and given:
        options = ", ".join(OPTION_NAMES[k] for k in given)
        raise BadInput(f"give --dataset or query options ({options}), not both")
    if not args.dataset_ids and not given:
        raise BadInput("say which datasets: --dataset ID ..., or --project/--instrument/"
                       "--session-dataset")
    rules = load_rules(args.rules)
    selection: dict[str, Any] = ({"dataset_ids": list(args.dataset_ids)} if args.dataset_ids
                                 else {"query": DatasetQuery.model_validate(given)})
    settings = LinkSettings(rules=rules, dry_run=args.dry_run, require_link=args.require_link,
                            **selection)

    def make_job(client: Any, on_progress: Callable[[int, int], None]) -> Any:
        return LinkJob(settings, client, on_progress=on_progress)

    return _Plan("link", "datasets", make_job, 1,
                 columns=("status", "dataset", "dataset name", "sample", "sample name", "rule",
                          "reason"),
                 wide=("reason",), right=())


# ---------------------------------------------------------------------------------- output
def _print_summary(args: argparse.Namespace, report: Any, plan: _Plan) -> None:
    """Counts per status, run-level errors and up to PROBLEM_ROWS problem rows, on stderr."""
    header = _scrub(report.summary_text())
    lines = [f"crucible {args.command}: {header}"]
    counts = report.counts
    if counts:
        order = list(report.STATUS_ORDER) + sorted(set(counts) - set(report.STATUS_ORDER))
        lines.append(_indent(format_table(
            [{"status": s, "count": counts[s]} for s in order if counts.get(s)],
            right=("count",))))
    for error in report.errors:
        if _scrub(error) not in header:  # the summary line already shows the first one
            lines.append(f"  error: {_scrub(error)}")
    problems = [row for row in _table(report) if row.get("status") in report.PROBLEM_STATUSES]
    if problems:
        lines.append(f"problems ({len(problems)}):")
        lines.append(_indent(format_table(problems[:PROBLEM_ROWS], plan.columns,
                                          headers=plan.headers, wide=plan.wide,
                                          right=plan.right)))
        if len(problems) > PROBLEM_ROWS:
            lines.append(f"  ... and {len(problems) - PROBLEM_ROWS} more (see --json)")
    print("\n".join(lines), file=sys.stderr)


def _print_result(args: argparse.Namespace, report: Any, plan: _Plan) -> None:
    try:
        _write_result(args, report, plan)
    except BrokenPipeError:  # ``crucible mirror ... | head``: the reader left; keep the status
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError):
            pass


def _write_result(args: argparse.Namespace, report: Any, plan: _Plan) -> None:
    if args.json:
        data = {"ok": report.ok, "counts": report.counts, **report.model_dump(mode="json")}
        json.dump(data, sys.stdout, indent=2, default=str)
        sys.stdout.write("\n")
        return
    rows = _table(report)
    text = format_table(rows, plan.columns, headers=plan.headers, wide=plan.wide,
                        right=plan.right)
    if text:
        print(text)
    sys.stdout.flush()


def _table(report: Any) -> list[dict]:
    return report.table() if report.all_rows() else []


def _indent(text: str) -> str:
    return "\n".join("  " + line for line in text.splitlines())
