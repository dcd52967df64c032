"""Benchmark: the ingest flow vs. the plain engine and plain-client loops, on one local server.

Compared side by side in one run, per workload, on the same files:

  (a) the ``ingest_instrument_output`` flow (mode ``files``), in a child process so its peak RSS
      is its own; then the same flow again on the unchanged folder (the re-run);
  (d) the Prefect-free engine (``IngestJob`` on a ``ThreadRunner`` of the same size), in a child
      process too, first run and re-run;
  (c) a nano-crucible-style script over a thread pool of the same size: per file create +
      upload + ingest + wait (``client.datasets.create(..., files_to_upload=[f])``);
  (b) that script sequentially (once: it is the slow reference).

(a), (d) and (c) alternate for ``--rounds`` rounds (default 3; medians are reported), each
round on new datasets (another run name; the flow and the engine each keep their own digest
ledger, so neither reads the other's digests). Every child first does a warm-up (the flow: an
empty flow, Prefect's once-per-process start; the engine: one ``whoami``), reported, not
counted; flows run with heartbeats off (Prefect 3.9 joins the heartbeat thread at the end of
every flow run: ~1 s per run whatever it did). ``os.sync()`` runs before every timed phase.

Requests are counted by a hook on ``requests``' HTTP adapter (every Crucible call, upload PUTs
included; Prefect's own API traffic goes through httpx and is not counted). Prints the core
count, times, requests per file, and the ratios a/c (target <= 1.15), d/c, b/a, re-run/first
and the flow's peak RSS (target < 150 MB for 1000 files).

    python bench/ingest.py --small
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a clone without install

KIB, MIB = 1024, 1024 * 1024
INSTRUMENT = "BenchScope"
PROJECT = "BENCHPROJ"
ORCID = "0000-0002-9079-593X"


def write_files(folder: Path, count: int, size: int) -> list[Path]:
    """``count`` files of ``size`` random-ish bytes, written in 8 MiB blocks (flat memory)."""
    folder.mkdir(parents=True, exist_ok=True)
    block = os.urandom(min(size, 8 * MIB))
    paths = []
    for i in range(count):
        path = folder / f"file_{i:05d}.dat"
        with open(path, "wb") as fh:
            left = size
            fh.write(i.to_bytes(8, "big"))  # every file differs (no dedup across files)
            left -= 8
            while left > 0:
                fh.write(block[:left])
                left -= min(left, len(block))
        old = time.time() - 3600
        os.utime(path, (old, old))
        paths.append(path)
    return paths


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


class RequestCounter:
    """Counts HTTP requests sent through ``requests`` (the Crucible client's transport)."""

    def __init__(self) -> None:
        from requests.adapters import HTTPAdapter

        self.count = 0
        self._lock = threading.Lock()
        original = HTTPAdapter.send

        def send(adapter, request, *args, **kwargs):
            with self._lock:
                self.count += 1
            return original(adapter, request, *args, **kwargs)

        HTTPAdapter.send = send  # type: ignore[method-assign]


def timed(counter: RequestCounter, fn) -> tuple[float, int]:
    """Seconds and requests of ``fn()``, after flushing dirty pages (no phase pays for the
    previous phase's writeback)."""
    os.sync()
    before = counter.count
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0, counter.count - before


# ---------------------------------------------------------------------- (a), (d) in a child
def child(args: argparse.Namespace) -> None:
    """Runs in a child process: the flow (``--child flow``) or the engine (``--child engine``)
    twice, first run and re-run; prints JSON."""
    counter = RequestCounter()
    if args.child == "flow":
        from prefect import flow
        from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

        from crucible_prefect.flows.ingest import ingest_instrument_output, report_from_state

        @flow(name="bench-warm-up")
        def warm_up() -> None:
            """Prefect's once-per-process start (client, settings), timed apart from the job."""

        def once() -> Any:
            state = ingest_instrument_output(
                path=args.path, instrument_name=INSTRUMENT, project_id=PROJECT, mode="files",
                run_name=args.run_name, settle_seconds=0, max_concurrency=args.workers,
                return_state=True)
            report = report_from_state(state)
            if not state.is_completed():
                raise SystemExit(f"flow did not complete: {report.summary()}")
            return report.summary()

        with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
            _child_runs(counter, warm_up, once)
        return
    from crucible import CrucibleClient
    from crucible.ingest import IngestJob, IngestSettings
    from crucible.jobs import ThreadRunner, run_job

    client = CrucibleClient()
    settings = IngestSettings(path=args.path, instrument_name=INSTRUMENT, project_id=PROJECT,
                              mode="files", run_name=args.run_name, settle_seconds=0,
                              max_concurrency=args.workers)

    def engine_once() -> Any:
        report = run_job(IngestJob(settings, client), ThreadRunner(client, args.workers))
        if not report.ok:
            raise SystemExit(f"engine did not complete: {report.summary()}")
        return report.summary()

    _child_runs(counter, client.whoami, engine_once)


def _child_runs(counter: RequestCounter, warm_up, once) -> None:
    t0 = time.perf_counter()
    warm_up()
    startup = time.perf_counter() - t0
    out: dict = {"startup": startup, "summaries": []}
    for phase in ("first", "rerun"):
        out[phase], out[f"{phase}_requests"] = timed(
            counter, lambda: out["summaries"].append(once()))
    out["peak_rss_mb"] = peak_rss_mb()
    print(json.dumps(out))


def run_child(kind: str, folder: Path, run_name: str, env: dict, workers: int) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", kind, "--path", str(folder),
                          "--run-name", run_name, "--workers", str(workers)],
                         env=env, capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"{kind} child failed:\n{out.stderr[-4000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------------- (b), (c) plain client
def plain_one(client, path: Path) -> str:
    """What a nano-crucible script does per file: create with the file, wait for ingestion."""
    result = client.datasets.create(
        {"dataset_name": path.name, "project_id": PROJECT, "instrument_name": INSTRUMENT},
        files_to_upload=[path], wait_for_ingestion_response=True)
    return result["dsid"]


def run_plain(client, paths: list[Path], workers: int) -> None:
    if workers == 1:
        for path in paths:
            plain_one(client, path)
    else:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(lambda p: plain_one(client, p), paths))


# ---------------------------------------------------------------------- orchestration
def bench_workload(label: str, count: int, size: int, ctx: dict, args) -> dict:
    """Alternate flow, engine and thread pool for ``args.rounds`` rounds; then sequential."""
    client, counter, tmp_path = ctx["client"], ctx["counter"], ctx["tmp"]
    slug = label.replace(" ", "").replace("x", "-")
    paths = write_files(tmp_path / f"run-{slug}", count, size)
    rows: dict = {"flow": [], "engine": [], "pool": []}
    for r in range(args.rounds):
        for kind in ("flow", "engine"):
            env = dict(ctx["env"], CRUCIBLE_PREFECT_CACHE_DIR=str(tmp_path / f"digests-{kind}"))
            rows[kind].append(run_child(kind, paths[0].parent, f"{slug}-{kind}-{r}", env,
                                        args.workers))
        seconds, requests_ = timed(counter, lambda: run_plain(client, paths, args.workers))
        rows["pool"].append({"first": seconds, "first_requests": requests_})
        print(f"  {label} round {r + 1}: flow {rows['flow'][-1]['first']:.2f}s "
              f"(re-run {rows['flow'][-1]['rerun']:.2f}s) | engine "
              f"{rows['engine'][-1]['first']:.2f}s | thread pool {seconds:.2f}s", flush=True)
    if args.sequential:
        seconds, requests_ = timed(counter, lambda: run_plain(client, paths, 1))
        rows["sequential"] = [{"first": seconds, "first_requests": requests_}]
    for path in paths:
        path.unlink()
    return rows


def med(rows: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in rows)


def report(results: list[tuple[str, int, dict]], args) -> None:
    print(f"\n{os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}; {args.workers} workers; "
          f"medians of {args.rounds} alternating rounds; child start-up not counted "
          "(flow warm-up median "
          f"{statistics.median(r['startup'] for _, _, x in results for r in x['flow']):.2f}s)")
    print(f"{'workload':<15} {'flow a':>8} {'engine d':>9} {'pool c':>8} {'seq b':>8} "
          f"{'a/c':>6} {'d/c':>6} {'b/a':>6} {'rerun/a':>8} {'req/file a d c':>16} "
          f"{'a RSS MB':>9}")
    for label, count, rows in results:
        a, d, c = med(rows["flow"], "first"), med(rows["engine"], "first"), med(rows["pool"], "first")
        b = rows["sequential"][0]["first"] if "sequential" in rows else float("nan")
        per = [med(rows[k], "first_requests") / count for k in ("flow", "engine", "pool")]
        print(f"{label:<15} {a:>7.2f}s {d:>8.2f}s {c:>7.2f}s {b:>7.2f}s {a / c:>6.2f} "
              f"{d / c:>6.2f} {b / a:>6.2f} {med(rows['flow'], 'rerun') / a:>8.3f} "
              f"{per[0]:>5.2f} {per[1]:>4.2f} {per[2]:>4.2f} "
              f"{max(r['peak_rss_mb'] for r in rows['flow']):>9.0f}")
        print(f"{'':<15} re-run requests: flow {med(rows['flow'], 'rerun_requests'):.0f}, "
              f"engine {med(rows['engine'], 'rerun_requests'):.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--small", action="store_true", help="Quick sizes for development.")
    parser.add_argument("--workers", type=int, default=8, help="Parallelism of (a), (c), (d).")
    parser.add_argument("--rounds", type=int, default=3, help="Alternating rounds (medians).")
    parser.add_argument("--no-sequential", dest="sequential", action="store_false",
                        help="Skip the slow sequential reference (b).")
    parser.add_argument("--child", choices=("flow", "engine"), help=argparse.SUPPRESS)
    parser.add_argument("--path", help=argparse.SUPPRESS)
    parser.add_argument("--run-name", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return

    from crucible import CrucibleClient
    from crucible.server.local import LocalCrucible
    from crucible_prefect.testing import start_prefect_server

    workloads = ([("100 x 64 KiB", 100, 64 * KIB), ("4 x 16 MiB", 4, 16 * MIB)] if args.small
                 else [("1000 x 64 KiB", 1000, 64 * KIB), ("4 x 256 MiB", 4, 256 * MIB)])
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        tmp_path = Path(tmp)
        (tmp_path / "prefect").mkdir()
        prefect_url, prefect_proc = start_prefect_server(tmp_path / "prefect")
        try:
            with LocalCrucible(data_dir=tmp_path / "crucible") as server:
                key = server.add_user(ORCID, projects=[PROJECT])
                admin = CrucibleClient(api_url=server.url, api_key=server.admin_key)
                admin.instruments.create({"instrument_name": INSTRUMENT, "owner": "bench",
                                          "location": "here"})
                client = CrucibleClient(api_url=server.url, api_key=key)
                client.whoami()  # warm the pool's connection
                env = dict(os.environ, PREFECT_API_URL=prefect_url, CRUCIBLE_API_URL=server.url,
                           CRUCIBLE_API_KEY=key, PREFECT_SERVER_ANALYTICS_ENABLED="false",
                           PREFECT_LOGGING_LEVEL="WARNING")
                ctx = {"client": client, "counter": RequestCounter(), "tmp": tmp_path,
                       "env": env}
                for label, count, size in workloads:
                    results.append((label, count, bench_workload(label, count, size, ctx, args)))
        finally:
            prefect_proc.terminate()
            prefect_proc.wait(timeout=30)
    report(results, args)


if __name__ == "__main__":
    main()
