"""``crucible demo``: the main job end to end on a fresh machine, with no credentials.

Starts the embedded local Crucible server on a persistent data folder, makes (once) a demo user,
project and instrument, ingests the bundled example run with the ingest flow and prints the
datasets. The ids are deterministic, so a second run finds everything and creates nothing.
"""

from __future__ import annotations

import json
import os
import secrets
import sys
from pathlib import Path
from typing import Any, TextIO

DEMO_ORCID = "0000-0002-1825-0097"  # ORCID's documented example iD
DEMO_PROJECT = "DEMO-PROJECT"
DEMO_INSTRUMENT = "TitanX-demo"
EXAMPLE_RUN = "titanx-session-2026-05-14"


def default_data_dir() -> Path:
    """``$CRUCIBLE_DEMO_DIR``, else ``$XDG_DATA_HOME/crucible-prefect/demo`` (~/.local/share)."""
    if os.environ.get("CRUCIBLE_DEMO_DIR"):
        return Path(os.environ["CRUCIBLE_DEMO_DIR"]).expanduser()
    base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "crucible-prefect" / "demo"


def find_example(explicit: str | None = None) -> Path:
    """The bundled example run: next to the source tree (a clone installed with ``pip -e``)."""
    if explicit:
        path = Path(explicit).expanduser()
        if not path.exists():
            raise FileNotFoundError(f"example run not found: {path}")
        return path
    candidates = [Path(__file__).resolve().parents[2] / "examples" / EXAMPLE_RUN,
                  Path.cwd() / "examples" / EXAMPLE_RUN]
    for path in candidates:
        if path.is_dir():
            return path
    raise FileNotFoundError(
        "the bundled example run was not found (looked in: "
        + ", ".join(str(c) for c in candidates) + "); pass --example PATH")


def _load_state(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _save_state(path: Path, state: dict) -> None:
    """Keys go to a file only the user can read (written via a temp file, then renamed)."""
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(state, fh)
    os.replace(tmp, path)


def _ensure_instrument(server: Any, name: str) -> None:
    from crucible import CrucibleClient

    admin = CrucibleClient(api_url=server.url, api_key=server.admin_key)
    try:
        if not admin.instruments.get(instrument_name=name):
            admin.instruments.create({"instrument_name": name, "owner": "Demo facility",
                                      "location": "Building 72", "instrument_type": "TEM"})
    finally:
        admin.close()


def run_demo(data_dir: str | Path | None = None, example: str | None = None,
             out: TextIO = sys.stdout) -> int:
    """Ingest the example run into the local server; print the datasets; 0 on success."""
    from crucible.server import LocalCrucible

    from crucible_prefect.credentials import CrucibleCredentials
    from crucible_prefect.flows.ingest import ingest_instrument_output, report_from_state

    run_path = find_example(example)
    home = Path(data_dir).expanduser() if data_dir else default_data_dir()
    home.mkdir(parents=True, exist_ok=True)
    state_path = home / "demo-state.json"
    state = _load_state(state_path)
    if not state.get("admin_key"):
        state["admin_key"] = secrets.token_urlsafe(32)
        _save_state(state_path, state)
    print(f"local Crucible data: {home}", file=out)
    with LocalCrucible(data_dir=home / "server", admin_key=state["admin_key"]) as server:
        if not state.get("api_key"):
            state["api_key"] = server.add_user(DEMO_ORCID, first_name="Demo", last_name="User",
                                               projects=(DEMO_PROJECT,))
            _save_state(state_path, state)
        _ensure_instrument(server, DEMO_INSTRUMENT)
        credentials = CrucibleCredentials(api_url=server.url, api_key=state["api_key"])
        print(f"ingesting {run_path} (server {server.url}) ...", file=out, flush=True)
        flow_state = ingest_instrument_output(
            path=str(run_path), instrument_name=DEMO_INSTRUMENT, project_id=DEMO_PROJECT,
            mode="session", settle_seconds=0, keywords=["demo"],
            scientific_metadata={"demo": True}, credentials=credentials, return_state=True)
        report = report_from_state(flow_state)
        _print_datasets(credentials, report, out)
        return 0 if report.ok else 1


def _print_datasets(credentials: Any, report: Any, out: TextIO) -> None:
    client = credentials.get_client()
    created = set(report.created)
    print(f"\n{report.summary()}\n", file=out)
    print(f"{'dataset id':<28} {'new':<4} {'files':>5}  name", file=out)
    for dsid in report.datasets:
        record = client.datasets.get(dsid)
        if dsid == report.parent_dataset_id:
            count = f"{len(client.datasets.list_children(dsid, limit=None))} ch"
        else:
            count = str(len(client.files.list(dataset_id=dsid, limit=None)))
        print(f"{dsid:<28} {'yes' if dsid in created else 'no':<4} {count:>5}  "
              f"{record.get('dataset_name')}", file=out)
    for row in report.files:
        if row.status in ("failed", "held"):
            print(f"  {row.status}: {row.file}: {row.reason}", file=out)
    if not created:
        print("\nnothing new: every dataset was already in Crucible", file=out)
