"""Benchmark: the mirror_downloads flow vs a raw ``requests`` streaming copy, on the local server.

In one process run:
  1. large files (default 8 x 256 MiB = 2 GiB; ``--small``: 8 x 16 MiB) mirrored to a local
     directory by (a) the flow and (b) a plain requests loop over the same signed URLs with the
     same concurrency, writing files with no verification; prints throughput a/b (target >= 0.7)
     and the flow's peak RSS above its baseline (target < 150 MB);
  2. an unchanged re-run (3 times, median): bytes moved (target 0) and time (target <= 5 % of
     run 1), split into the mirror's own time and the flow run's fixed Prefect cost, next to the
     same re-run by the Prefect-free engine (``MirrorJob`` on a ``ThreadRunner``);
  3. many small files (default 1000 x 4 KiB; ``--small``: 200): raw, flow and engine alternate
     for 3 rounds, each to a fresh directory; per-file medians (target flow/raw <= 1.25).

The first flow call (Prefect's start-up) is a warm-up, reported and not counted; ``os.sync()``
runs before every timed phase; the core count and load are printed.

Usage: python bench/mirror.py [--small] [--concurrency 4]. Needs the server and prefect extras.
Uses PREFECT_API_URL when set, else starts a temporary Prefect server (heartbeats off).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

MiB = 2**20


class RssSampler:
    """Peak resident set size of this process while active, sampled from /proc every 20 ms."""

    def __init__(self) -> None:
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def rss() -> int:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        return 0

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, self.rss())

    def __enter__(self) -> "RssSampler":
        self.peak = self.rss()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def make_files(folder: Path, count: int, size: int, prefix: str) -> list[Path]:
    """``count`` distinct files of ``size`` bytes (a random MiB block repeated, file id in front)."""
    folder.mkdir(parents=True, exist_ok=True)
    block = os.urandom(min(size, MiB))
    paths = []
    for i in range(count):
        path = folder / f"{prefix}{i:04d}.bin"
        head = f"{prefix}{i:04d}:".encode()
        with open(path, "wb") as f:
            left = size
            f.write(head[:left])
            left -= min(len(head), left)
            while left:
                n = min(left, len(block))
                f.write(block[:n])
                left -= n
        paths.append(path)
    return paths


def upload(client, dsid: str, paths: list[Path], workers: int) -> None:
    """Upload in parallel, ingestion requested without waiting; then wait until all are ingested."""
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(lambda p: client.datasets.upload_file(dsid, p, wait=False), paths))
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        rows = client.files.list(dataset_id=dsid)
        if len(rows) == len(paths) and all(r.get("storage_path") for r in rows):
            return
        time.sleep(0.5)
    raise TimeoutError(f"dataset {dsid}: files not ingested after 10 minutes")


def raw_copy(client, dsid: str, out: Path, workers: int) -> int:
    """Baseline: signed URLs fetched with plain requests and written to files, same concurrency."""
    import requests

    out.mkdir(parents=True, exist_ok=True)
    links = client.datasets.get_download_links(dsid)
    local = threading.local()

    def one(item) -> int:
        mfid, url = item
        session = getattr(local, "s", None) or requests.Session()
        local.s = session
        n = 0
        with session.get(url, stream=True, timeout=60) as r, open(out / mfid, "wb") as f:
            r.raise_for_status()
            for chunk in r.iter_content(MiB):
                f.write(chunk)
                n += len(chunk)
        return n

    with ThreadPoolExecutor(workers) as pool:
        return sum(pool.map(one, links.items()))


def engine(client, dsid: str, dest_url: str, conc: int):
    """The Prefect-free engine on the same work: ``MirrorJob`` on a ``ThreadRunner``."""
    from crucible.jobs import ThreadRunner, run_job
    from crucible.mirror import MirrorJob, MirrorOptions, Query, open_destination

    job = MirrorJob(Query(dataset_ids=(dsid,)), open_destination(dest_url), client,
                    MirrorOptions(max_concurrency=conc))
    return run_job(job, ThreadRunner(client, max_workers=conc)).summary()


def median_of(fn, n: int = 3) -> tuple[float, list]:
    """Median seconds of ``n`` timed calls of ``fn(i)``, and their values."""
    runs = [timed(lambda i=i: fn(i)) for i in range(n)]
    return statistics.median(t for _, t in runs), [v for v, _ in runs]


def timed(fn):
    """Run ``fn`` and time it, after flushing dirty pages so no phase pays for the previous
    phase's disk writeback (2 GiB of it after a large copy)."""
    os.sync()
    t0 = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="8 x 16 MiB and 200 small files")
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()
    big_n, big_size = (8, 16 * MiB) if args.small else (8, 256 * MiB)
    small_n, small_size = (200, 4096) if args.small else (1000, 4096)
    conc = args.concurrency

    from crucible import CrucibleClient
    from crucible.server.local import LocalCrucible
    from crucible_prefect import CrucibleCredentials
    from crucible_prefect.testing import start_prefect_server

    work = Path(tempfile.mkdtemp(prefix="bench-mirror-"))
    prefect_proc = None
    if not os.environ.get("PREFECT_API_URL"):
        home = work / "prefect-home"
        home.mkdir()
        print("starting a temporary Prefect server ...", flush=True)
        api_url, prefect_proc = start_prefect_server(home)
        os.environ["PREFECT_API_URL"] = api_url
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    from crucible_prefect.flows.mirror import mirror_downloads

    try:
        with LocalCrucible(data_dir=work / "server") as srv, \
                temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
            key = srv.add_user("0000-0002-1825-0097", projects=["BENCH"])
            client = CrucibleClient(srv.url, key)
            creds = CrucibleCredentials(api_url=srv.url, api_key=key)

            print(f"preparing {big_n} x {big_size // MiB} MiB and {small_n} x {small_size} B ...", flush=True)
            big = client.datasets.create({"dataset_name": "bench big", "project_id": "BENCH"})["dsid"]
            _, t_up = timed(lambda: upload(client, big, make_files(work / "src-big", big_n, big_size, "big"), 2))
            small = client.datasets.create({"dataset_name": "bench small", "project_id": "BENCH"})["dsid"]
            _, t_up_small = timed(lambda: upload(client, small, make_files(work / "src-small", small_n, small_size, "s"), conc))
            print(f"  uploaded in {t_up:.1f} s + {t_up_small:.1f} s", flush=True)
            _, t_warm = timed(lambda: mirror_downloads(f"file://{work}/warmup", [small],
                                                       credentials=creds, max_concurrency=conc))
            engine(client, small, f"file://{work}/warmup-engine", conc)

            total = big_n * big_size
            raw_bytes, t_raw1 = timed(lambda: raw_copy(client, big, work / "raw-big", conc))
            base_rss = RssSampler.rss()
            with RssSampler() as rss:
                first, t_flow = timed(lambda: mirror_downloads(
                    f"file://{work}/flow-big", [big], credentials=creds, max_concurrency=conc).summary())
            t_again, agains = median_of(lambda i: mirror_downloads(
                f"file://{work}/flow-big", [big], credentials=creds, max_concurrency=conc).summary())
            t_engine_again, engine_agains = median_of(
                lambda i: engine(client, big, f"file://{work}/flow-big", conc))
            assert raw_bytes == total and first["counts"].get("copied") == big_n + 1, first
            # the raw copy again, after the flow, so neither side alone profits from a warm cache
            _, t_raw2 = timed(lambda: raw_copy(client, big, work / "raw-big2", conc))
            t_raw = (t_raw1 + t_raw2) / 2

            small_times: dict[str, list[float]] = {"raw": [], "flow": [], "engine": []}
            for r in range(3):  # alternate, each to a fresh directory
                small_times["raw"].append(timed(lambda r=r: raw_copy(
                    client, small, work / f"raw-small-{r}", conc))[1])
                small_first, t = timed(lambda r=r: mirror_downloads(
                    f"file://{work}/flow-small-{r}", [small], credentials=creds,
                    max_concurrency=conc).summary())
                small_times["flow"].append(t)
                small_times["engine"].append(timed(lambda r=r: engine(
                    client, small, f"file://{work}/engine-small-{r}", conc))[1])
            t_small_again, small_agains = median_of(lambda i: mirror_downloads(
                f"file://{work}/flow-small-0", [small], credentials=creds,
                max_concurrency=conc).summary())

        t_raw_small, t_flow_small, t_engine_small = (
            statistics.median(small_times[k]) for k in ("raw", "flow", "engine"))
        again = agains[0]
        inside = statistics.median(a["seconds"] for a in agains)
        mbps = lambda b, t: b / MiB / t  # noqa: E731
        print(f"\n{os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}; Prefect warm-up flow "
              f"{t_warm:.2f} s (not counted)")
        print(f"large files: {big_n} x {big_size // MiB} MiB, concurrency {conc}")
        print(f"  (a) flow         {t_flow:7.2f} s  {mbps(total, t_flow):8.1f} MiB/s  (sha256-verified, atomic)")
        print(f"  (b) raw requests {t_raw:7.2f} s  {mbps(total, t_raw):8.1f} MiB/s  (no verification; "
              f"mean of a run before and after the flow: {t_raw1:.2f} s, {t_raw2:.2f} s)")
        print(f"  throughput a/b = {t_raw / t_flow:.2f}   (target >= 0.7)")
        print(f"  flow peak RSS above baseline = {(rss.peak - base_rss) / MiB:.1f} MiB   (target < 150)")
        print(f"unchanged re-run (median of 3): {again['bytes_copied']} bytes moved (target 0), "
              f"{t_again:.2f} s = {100 * t_again / t_flow:.1f} % of the first run (target <= 5 %); "
              f"counts {again['counts']}")
        print(f"  inside the mirror (manifest, listings, Crucible calls, the task run) "
              f"{inside:.2f} s = {100 * inside / t_flow:.1f} %; the flow run's fixed Prefect "
              f"cost (run states, artifacts) {t_again - inside:.2f} s")
        print(f"  the Prefect-free engine's re-run: {t_engine_again:.3f} s = "
              f"{100 * t_engine_again / t_flow:.2f} % ({engine_agains[0]['counts']})")
        print(f"\nsmall files: {small_n} x {small_size} B (medians of 3 alternating rounds)")
        for name, t in (("(a) flow", t_flow_small), ("(c) engine", t_engine_small),
                        ("(b) raw requests", t_raw_small)):
            print(f"  {name:<16} {t:6.2f} s  {1000 * t / small_n:6.2f} ms/file")
        print(f"  per-file ratio a/b = {t_flow_small / t_raw_small:.2f} (target <= 1.25), "
              f"c/b = {t_engine_small / t_raw_small:.2f}; unchanged re-run {t_small_again:.2f} s, "
              f"inside the mirror {small_agains[0]['seconds']:.2f} s "
              f"({small_agains[0]['bytes_copied']} bytes, {small_agains[0]['counts']})")
        print("\nflow times include the flow run's own overhead (Prefect API calls, artifacts, "
              "record.json, manifest)")
    finally:
        if prefect_proc is not None:
            prefect_proc.terminate()
            try:
                prefect_proc.wait(timeout=15)
            except Exception:
                prefect_proc.kill()
        import shutil

        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
