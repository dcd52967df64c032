"""Benchmark: the ingest flow vs. plain-client loops, on one local Crucible server.

Compared side by side in one run, per workload:

  (a) the ``ingest_instrument_output`` flow (mode ``files``), run in a child process so its peak
      RSS is its own; then the same flow again on the unchanged folder (the re-run);
  (b) a sequential loop with our plain client, create + upload + ingest (+ wait) per file, the way
      nano-crucible scripts do it;
  (c) the same per-file work over a thread pool of the plain client.

Workloads: 1000 x 64 KiB and 4 x 256 MiB (``--small``: 100 x 64 KiB and 4 x 16 MiB). The flow
child first runs an empty flow, so Prefect's once-per-process start is reported, not counted,
and runs with flow heartbeats off (as the tests do): Prefect 3.9 joins the heartbeat thread at
the end of every flow run, which adds about 1 s to each run whatever it did.
Prints times and the ratios b/a (target >= 4 on small files), a/c (target <= 1.25),
re-run/first (target <= 0.05) and the flow's peak RSS (target < 300 MB, flat in file size).

    python bench/ingest.py --small
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

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


# ---------------------------------------------------------------------- (a) the flow, in a child
def child_flow(args: argparse.Namespace) -> None:
    """Runs in the child process: the flow twice (first run, re-run); prints JSON."""
    from prefect import flow

    from crucible_prefect.flows.ingest import ingest_instrument_output, report_from_state

    @flow(name="bench-warm-up")
    def warm_up() -> None:
        """Prefect's once-per-process start (client, settings), timed apart from the job."""

    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        _child_runs(args, warm_up, ingest_instrument_output, report_from_state)


def _child_runs(args: argparse.Namespace, warm_up, ingest_instrument_output,
                report_from_state) -> None:
    t0 = time.perf_counter()
    warm_up()
    startup = time.perf_counter() - t0
    times, summaries = [], []
    for _ in range(2):
        t0 = time.perf_counter()
        state = ingest_instrument_output(path=args.path, instrument_name=INSTRUMENT,
                                         project_id=PROJECT, mode="files", settle_seconds=0,
                                         max_concurrency=args.workers, return_state=True)
        times.append(time.perf_counter() - t0)
        report = report_from_state(state)
        summaries.append(report.summary())
        if not state.is_completed():
            raise SystemExit(f"flow did not complete: {report.summary()}")
    print(json.dumps({"first": times[0], "rerun": times[1], "startup": startup,
                      "peak_rss_mb": peak_rss_mb(),
                      "summaries": summaries}))


def run_flow(folder: Path, env: dict, workers: int) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child-flow", "--path", str(folder),
                          "--workers", str(workers)], env=env, capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"flow child failed:\n{out.stderr[-4000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------------- (b), (c) plain client
def plain_one(client, path: Path) -> str:
    """What a nano-crucible script does per file: create with the file, wait for ingestion."""
    result = client.datasets.create(
        {"dataset_name": path.name, "project_id": PROJECT, "instrument_name": INSTRUMENT},
        files_to_upload=[path], wait_for_ingestion_response=True)
    return result["dsid"]


def run_plain(client, paths: list[Path], workers: int) -> float:
    t0 = time.perf_counter()
    if workers == 1:
        for path in paths:
            plain_one(client, path)
    else:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(lambda p: plain_one(client, p), paths))
    return time.perf_counter() - t0


# ---------------------------------------------------------------------- orchestration
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--small", action="store_true", help="Quick sizes for development.")
    parser.add_argument("--workers", type=int, default=8, help="Parallelism of (a) and (c).")
    parser.add_argument("--child-flow", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--path", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_flow:
        child_flow(args)
        return

    from crucible import CrucibleClient
    from crucible.server.local import LocalCrucible
    from crucible_prefect.testing import start_prefect_server

    workloads = ([("100 x 64 KiB", 100, 64 * KIB), ("4 x 16 MiB", 4, 16 * MIB)] if args.small
                 else [("1000 x 64 KiB", 1000, 64 * KIB), ("4 x 256 MiB", 4, 256 * MIB)])
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
                env = dict(os.environ, PREFECT_API_URL=prefect_url, CRUCIBLE_API_URL=server.url,
                           CRUCIBLE_API_KEY=key, PREFECT_SERVER_ANALYTICS_ENABLED="false",
                           CRUCIBLE_PREFECT_CACHE_DIR=str(tmp_path / "digests"),
                           PREFECT_LOGGING_LEVEL="WARNING")
                rows = []
                for label, count, size in workloads:
                    slug = label.replace(" ", "").replace("x", "-")
                    paths = write_files(tmp_path / f"run-{slug}", count, size)
                    a = run_flow(paths[0].parent, env, args.workers)
                    b = run_plain(client, paths, 1)
                    c = run_plain(client, paths, args.workers)
                    rows.append((label, a, b, c))
                    print(f"{label}: flow {a['first']:.2f}s (re-run {a['rerun']:.2f}s, "
                          f"process start {a['startup']:.2f}s not counted, "
                          f"peak RSS {a['peak_rss_mb']:.0f} MB) | sequential {b:.2f}s | "
                          f"thread pool {c:.2f}s", flush=True)
                    for path in paths:
                        path.unlink()
        finally:
            prefect_proc.terminate()
            prefect_proc.wait(timeout=30)

    print("\nworkload        b/a (>=4 small)  a/c (<=1.25)  rerun/first (<=0.05)  flow peak RSS MB (<300)")
    for label, a, b, c in rows:
        print(f"{label:<15} {b / a['first']:>15.2f}  {a['first'] / c:>12.2f}  "
              f"{a['rerun'] / a['first']:>20.3f}  {a['peak_rss_mb']:>23.0f}")


if __name__ == "__main__":
    main()
