"""End to end: instrument finishes -> watcher event -> triggered flow run on a worker -> Crucible.

Real parts only: `prefect server start` (SQLite, via the `prefect_backend` fixture), the local
Crucible server, `prefect deploy` of deployments/prefect.yaml, two `prefect worker start`
processes on a `process` pool, and the watcher as its own process. Opt in with RUN_E2E=1
(not CRUCIBLE_*: tests/conftest.py clears those so tests never read a developer's config).
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Callable

import pytest

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.slow,
    pytest.mark.skipif(os.environ.get("RUN_E2E") != "1",
                       reason="end-to-end deployment test: set RUN_E2E=1 to run it"),
]

REPO = Path(__file__).resolve().parents[2]
POOL = "crucible-process"
INSTRUMENT = "e2e-scope"
BLOCK = "crucible-e2e"
QUIET_SECONDS = 4.0

# The session: a.ser+a.emi travel together (stem), b.dat alone, c.tif written as c.tif.part
# and renamed on close. Each file is created early and grown in small steps.
FINAL = {
    "a.ser": b"S" * 6000,
    "a.emi": b"E" * 900,
    "b.dat": b"B" * 4000,
    "c.tif": b"T" * 3000,
}


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def wait_for(what: str, check: Callable[[], object], timeout: float, every: float = 0.5):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(every)


class Procs:
    """Background processes of this test, each in its own process group, logs kept for failures."""

    def __init__(self, logdir: Path) -> None:
        self.logdir = logdir
        self.items: list[tuple[str, subprocess.Popen]] = []

    def start(self, name: str, args: list[str], env: dict[str, str]) -> subprocess.Popen:
        log = open(self.logdir / f"{name}.log", "wb")
        proc = subprocess.Popen(args, env=env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        self.items.append((name, proc))
        return proc

    def logs(self) -> str:
        out = []
        for name, _ in self.items:
            text = (self.logdir / f"{name}.log").read_text(errors="replace")
            out.append(f"----- {name} -----\n{text[-3000:]}")
        return "\n".join(out)

    def stop_all(self) -> None:
        for _, proc in self.items:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for _, proc in self.items:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)


def run_cli(args: list[str], env: dict[str, str], timeout: float = 120) -> str:
    out = subprocess.run(args, env=env, cwd=REPO, capture_output=True, text=True, timeout=timeout)
    assert out.returncode == 0, f"{' '.join(args)} failed:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}"
    return out.stdout


@pytest.fixture()
def crucible_env(crucible_server):
    """A fresh user, project, sample and registered instrument on the local Crucible server."""
    from crucible import CrucibleClient

    tag = uuid.uuid4().hex[:6].upper()
    project = f"E2E{tag}"
    key = crucible_server.add_user(f"0000-0001-{tag[:4]}-0{tag[4:]}0", first_name="E", last_name="2E",
                                   projects=[project])
    admin = CrucibleClient(api_url=crucible_server.url, api_key=crucible_server.admin_key)
    if not admin.instruments.get(instrument_name=INSTRUMENT):
        admin.instruments.create({"instrument_name": INSTRUMENT, "owner": "E2E facility",
                                  "location": "Lab 0"})
    admin.close()
    user = CrucibleClient(api_url=crucible_server.url, api_key=key)
    sample = user.samples.create(sample_name=f"e2e-sample-{tag}", project_id=project)
    yield user, key, project, sample["unique_id"]
    user.close()


def ingest_runs(deployment_id, path: str) -> list:
    """Flow runs of the ingest deployment for one run folder (other tests may share the server)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId

    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(
            deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment_id])))
    return [r for r in runs if r.parameters.get("path") == path]


def test_instrument_to_crucible(prefect_backend, crucible_server, crucible_env, tmp_path):
    from prefect.client.orchestration import get_client

    from crucible_prefect.credentials import CrucibleCredentials
    from crucible_prefect.watch.__main__ import main as emit_main
    from crucible_prefect.watch.ledger import Ledger

    user, api_key, project, sample_id = crucible_env
    env = dict(os.environ, PREFECT_API_URL=prefect_backend, PREFECT_SERVER_ANALYTICS_ENABLED="false",
               PREFECT_WORKER_QUERY_SECONDS="1", PREFECT_WORKER_PREFETCH_SECONDS="5",
               CRUCIBLE_PREFECT_CACHE_DIR=str(tmp_path / "digest-cache"),
               CRUCIBLE_MIRROR_DESTINATION=f"file://{tmp_path / 'mirror'}",
               CRUCIBLE_MIRROR_PROJECT=project,
               # flow runs import this checkout even where an editable install is stale
               PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    env.pop("PREFECT_HOME", None)
    procs = Procs(tmp_path)
    t0 = time.monotonic()

    def phase(name: str) -> None:
        print(f"[e2e {time.monotonic() - t0:6.1f} s] {name}", flush=True)

    try:
        # 1. work pool, two workers (they start while we deploy), credentials block, deployments
        from prefect.client.schemas.actions import WorkPoolCreate
        from prefect.exceptions import ObjectAlreadyExists

        with get_client(sync_client=True) as client:
            try:
                client.create_work_pool(WorkPoolCreate(name=POOL, type="process"))
            except ObjectAlreadyExists:
                pass
        for name in ("worker-1", "worker-2"):
            procs.start(name, [sys.executable, "-m", "prefect", "worker", "start", "--pool", POOL,
                               "--name", f"e2e-{name}-{uuid.uuid4().hex[:4]}", "--limit", "2"], env)
        CrucibleCredentials(api_url=crucible_server.url, api_key=api_key).save(BLOCK, overwrite=True)
        run_cli([sys.executable, "-m", "prefect", "--no-prompt", "deploy", "--all",
                 "--prefect-file", "deployments/prefect.yaml"], env)
        phase("deployed")
        with get_client(sync_client=True) as client:
            deployment = client.read_deployment_by_name("ingest-instrument-output/ingest-on-run-finished")

        # 2. the watcher on a temp folder
        watch = tmp_path / "sessions"
        watch.mkdir()
        config = tmp_path / "instruments.yaml"
        config.write_text(json.dumps({  # JSON is YAML
            "poll_seconds": 0.5,
            "instruments": [{
                "name": INSTRUMENT, "watch_folder": str(watch),
                "finished": {"quiet_seconds": QUIET_SECONDS},
                "project_id": project, "mode": "session", "keywords": ["e2e"],
                "sample_ids": [sample_id], "credentials": BLOCK, "settle_seconds": 2,
            }],
        }))
        ledger = tmp_path / "ledger.sqlite"
        watcher = procs.start("watcher", [sys.executable, "-m", "crucible_prefect.watch", "-v", "watch",
                                          "--config", str(config), "--ledger", str(ledger)], env)

        phase("workers and watcher started")
        # 3. a session written slowly: files created early, grown in steps, one renamed on close
        session = watch / f"session-{uuid.uuid4().hex[:6]}"
        session.mkdir()
        writing = {"a.ser": session / "a.ser", "a.emi": session / "a.emi",
                   "b.dat": session / "b.dat", "c.tif": session / "c.tif.part"}
        for path in writing.values():
            path.write_bytes(b"")
        steps = 12
        for step in range(steps):
            for rel, path in writing.items():
                data = FINAL[rel]
                chunk = len(data) // steps
                end = len(data) if step == steps - 1 else (step + 1) * chunk
                with open(path, "ab") as fh:
                    fh.write(data[step * chunk:end])
            time.sleep(0.6)  # < QUIET_SECONDS: the session never looks finished while growing
            assert watcher.poll() is None, procs.logs()
            assert ingest_runs(deployment.id, str(session)) == [], "a flow run started while files grew"
            if ledger.exists():
                with Ledger(ledger) as book:
                    assert list(book.rows()) == [], "the watcher called a growing run finished"
        writing["c.tif"].rename(session / "c.tif")  # rename-on-close: the last change
        last_change = time.time()
        assert ingest_runs(deployment.id, str(session)) == [], "a flow run started while files grew"
        for rel, data in FINAL.items():
            assert (session / rel).read_bytes() == data

        phase("session written")
        # 4. exactly one flow run, on a worker, completed
        def finished_runs():
            runs = ingest_runs(deployment.id, str(session))
            return runs if runs and all(r.state and r.state.is_final() for r in runs) else None

        runs = wait_for("the triggered ingest run to finish", finished_runs, timeout=120)
        assert len(runs) == 1, [(r.name, r.state_name) for r in runs]
        run = runs[0]
        assert run.state.is_completed(), f"{run.state_name}: {run.state.message}\n{procs.logs()}"
        assert run.parameters["instrument_name"] == INSTRUMENT and run.parameters["keywords"] == ["e2e"]
        assert run.parameters["sample_ids"] == [sample_id] and run.parameters["settle_seconds"] == 2

        phase("ingest run finished")
        started = run.start_time.timestamp() if run.start_time else float("nan")
        print(f"[e2e] flow run started {started - last_change - QUIET_SECONDS:.1f} s after the "
              f"quiet period ended (quiet period {QUIET_SECONDS:g} s)", flush=True)
        # 5. datasets, files (sha256 of the *final* content), parent->child and sample links
        datasets = user.datasets.list(limit=None, session_name=session.name)
        ids = {d["unique_id"] for d in datasets}
        assert len(ids) == 4, datasets  # the session + 3 file groups
        parents = [d for d in ids if user.datasets.list_children(d, limit=None)]
        assert len(parents) == 1
        children = {c["dataset_name"]: c["unique_id"] for c in user.datasets.list_children(parents[0], limit=None)}
        assert set(children) == {"a.ser", "b.dat", "c.tif"}
        expected = {"a.ser": {sha(FINAL["a.ser"]), sha(FINAL["a.emi"])},
                    "b.dat": {sha(FINAL["b.dat"])}, "c.tif": {sha(FINAL["c.tif"])}}
        stored = {}
        for name, dsid in children.items():
            files = user.files.list(dataset_id=dsid, limit=None)
            stored[name] = {f["sha256_hash"] for f in files}
            linked = {s["unique_id"] for s in user.datasets.list_samples(dsid, limit=None)}
            assert sample_id in linked, name
        assert stored == expected
        with Ledger(ledger) as book:  # the watcher recorded exactly one delivered event
            assert [(r["path"], r["status"]) for r in book.rows()] == [(str(session), "emitted")]

        phase("datasets checked")
        # 6. a second event for the same run (a person re-emitting) creates nothing
        assert emit_main(["emit-finished", str(session), "--instrument", INSTRUMENT,
                          "--config", str(config)]) == 0  # in-process: saves a Prefect import
        runs = wait_for("the duplicate event's run to finish",
                        lambda: (r := finished_runs()) and len(r) == 2 and r, timeout=120)
        assert all(r.state.is_completed() for r in runs), [(r.state_name, r.state.message) for r in runs]
        again = user.datasets.list(limit=None, session_name=session.name)
        assert {d["unique_id"] for d in again} == ids
        for name, dsid in children.items():
            assert len(user.files.list(dataset_id=dsid, limit=None)) == len(expected[name])
        assert watcher.poll() is None, procs.logs()
        phase("duplicate run finished")
    except BaseException:
        print(procs.logs())
        raise
    finally:
        procs.stop_all()
