"""Local server throughput: simple GETs/s, dataset creates/s and resumable-upload MB/s.

Runs the server in a subprocess (``LocalCrucible``) and drives it from a few client threads, each
with its own keep-alive session. Prints the figures side by side and their ratios. A figure below
~300 GETs/s on 2 cores means something is wrong.

    python bench/server.py [--seconds 5] [--threads 4] [--upload-mib 64]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import threading
import time

import requests

from crucible.mfid import new_mfid
from crucible.server.local import LocalCrucible

CHUNK = 8 * 1024 * 1024


def _cpu_s(pid: int) -> float:
    """CPU seconds (user+system) used so far by process ``pid`` (Linux /proc)."""
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _hammer(make_request, seconds: float, threads: int, pid: int) -> tuple[float, float]:
    """(requests/s, server CPU ms per request) for ``threads`` workers calling ``make_request``.

    The CPU figure does not depend on how busy the machine is: 1000 / ms is what one free core
    could serve.
    """
    counts = [0] * threads
    stop = time.monotonic() + seconds

    def worker(i: int) -> None:
        with requests.Session() as s:
            while time.monotonic() < stop:
                r = make_request(s)
                r.raise_for_status()
                counts[i] += 1

    ts = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    cpu0, t0 = _cpu_s(pid), time.monotonic()
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    n = sum(counts)
    return n / (time.monotonic() - t0), (_cpu_s(pid) - cpu0) * 1000 / max(n, 1)


def _upload(url: str, headers: dict, dsid: str, size_mib: int) -> float:
    """MB/s for one resumable upload of ``size_mib`` MiB (8 MiB chunks), including complete."""
    block = os.urandom(1024 * 1024)
    data = block * size_mib
    sha = hashlib.sha256(data).hexdigest()
    t0 = time.monotonic()
    init = requests.post(f"{url}/datasets/{dsid}/upload/initiate", headers=headers, timeout=60,
                         json={"filename": "bench.bin", "size": len(data), "sha256_hash": sha}).json()
    with requests.Session() as s:
        for a in range(0, len(data), CHUNK):
            b = min(a + CHUNK, len(data)) - 1
            s.put(init["resumable_uri"], data=memoryview(data)[a:b + 1], timeout=120,
                  headers={"Content-Range": f"bytes {a}-{b}/{len(data)}"}).raise_for_status()
    requests.post(f"{url}/datasets/{dsid}/upload/complete", headers=headers, timeout=60,
                  json={"upload_id": init["upload_id"], "sha256_hash": sha}).raise_for_status()
    return len(data) / 1e6 / (time.monotonic() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--threads", type=int, default=4)
    ap.add_argument("--upload-mib", type=int, default=64)
    args = ap.parse_args()
    with LocalCrucible() as srv:
        key = srv.add_user("0000-0009-0000-0001", projects=["BENCH"])
        headers = {"Authorization": f"Bearer {key}"}
        url = srv.url
        dsid = new_mfid()
        requests.post(f"{url}/datasets", json={"unique_id": dsid, "project_id": "BENCH"},
                      headers=headers, timeout=10).raise_for_status()

        pid = srv._proc.pid
        phases = {
            "health/live (no DB, no auth)": lambda s: s.get(f"{url}/health/live", timeout=30),
            "GET /datasets/{id}": lambda s: s.get(f"{url}/datasets/{dsid}", headers=headers, timeout=30),
            "GET /datasets?limit=10": lambda s: s.get(f"{url}/datasets", params={"limit": 10},
                                                      headers=headers, timeout=30),
            "POST /datasets (create)": lambda s: s.post(f"{url}/datasets", headers=headers, timeout=30,
                                                        json={"dataset_name": "bench",
                                                              "project_id": "BENCH"}),
        }
        results = {name: _hammer(fn, args.seconds, args.threads, pid) for name, fn in phases.items()}
        mbps = _upload(url, headers, dsid, args.upload_mib) if args.upload_mib else 0.0

    print(f"threads={args.threads} seconds={args.seconds} load={os.getloadavg()[0]:.1f} "
          f"cores={os.cpu_count()}")
    base = results["GET /datasets/{id}"][0]
    for name, (rate, ms) in results.items():
        print(f"{name:30s}: {rate:7.0f} req/s  {rate / base:5.2f}x single GET  "
              f"server CPU {ms:5.2f} ms/req (= {1000 / ms:5.0f} req/s per free core)")
    if mbps:
        print(f"resumable upload {args.upload_mib} MiB       : {mbps:7.1f} MB/s")


if __name__ == "__main__":
    main()
