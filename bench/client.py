"""Benchmark the plain client against raw ``requests`` on the same local server, side by side.

Prints, in one run:
  * per-request time of ``client.whoami()`` vs a raw ``requests.Session`` GET /account
    (target ratio <= 1.1);
  * upload and download throughput of the client vs one raw HTTP PUT / GET of the same bytes
    (target >= 0.8);
  * peak RSS above the process baseline while the client uploads and downloads a 1 GiB file,
    measured in a fresh child process (target < 100 MB).

Usage: ``python bench/client.py`` (1 GiB transfers) or ``python bench/client.py --small``.
The server runs as a subprocess (``LocalCrucible``), so only the client's memory is measured.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

import requests  # noqa: E402

from crucible import CrucibleClient, Dataset  # noqa: E402

MiB = 1024 * 1024


def write_random(path: Path, size: int) -> str:
    """Write ``size`` random bytes in 8 MiB blocks; return their sha256."""
    h = hashlib.sha256()
    block = os.urandom(8 * MiB)
    with open(path, "wb") as fh:
        left = size
        while left:
            piece = block[: min(left, len(block))]
            fh.write(piece)
            h.update(piece)
            left -= len(piece)
    return h.hexdigest()


def rss_mb() -> float:
    """Current resident set size in MB (Linux /proc; falls back to the peak)."""
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6
    except OSError:
        return peak_rss_mb()


def peak_rss_mb() -> float:
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kb / 1e3 if sys.platform != "darwin" else kb / 1e6


def bench_requests(client: CrucibleClient, key: str, rounds: int, per_round: int) -> tuple:
    raw = requests.Session()
    raw.headers["Authorization"] = f"Bearer {key}"
    url = client.api_url + "/account"
    for _ in range(20):  # warm both connection pools
        client.whoami()
        raw.get(url, timeout=(5, 30)).json()
    ours, theirs = [], []
    for _ in range(rounds):  # interleaved rounds cancel drift in the server's speed
        t = time.perf_counter()
        for _ in range(per_round):
            client.whoami()
        ours.append((time.perf_counter() - t) / per_round)
        t = time.perf_counter()
        for _ in range(per_round):
            r = raw.get(url, timeout=(5, 30))
            r.raise_for_status()
            r.json()
        theirs.append((time.perf_counter() - t) / per_round)
    raw.close()
    return statistics.median(ours), statistics.median(theirs)


def raw_put(client: CrucibleClient, dsid: str, path: Path, size: int, sha: str) -> float:
    """One raw PUT of the whole file to a fresh resumable URI (no chunking, no hashing)."""
    init = client._transport.request("POST", f"datasets/{dsid}/upload/initiate",
                                     json={"filename": "raw-" + path.name, "size": size})
    with requests.Session() as s, open(path, "rb") as fh:
        t = time.perf_counter()
        r = s.put(init["resumable_uri"], data=fh, timeout=(5, 600),
                  headers={"Content-Range": f"bytes 0-{size - 1}/{size}",
                           "Content-Length": str(size)})
        elapsed = time.perf_counter() - t
    r.raise_for_status()
    return elapsed


def raw_get(url: str, dest: Path) -> float:
    with requests.Session() as s:
        t = time.perf_counter()
        with s.get(url, stream=True, timeout=(5, 600)) as r, open(dest, "wb") as fh:
            r.raise_for_status()
            for chunk in r.iter_content(1 * MiB):
                fh.write(chunk)
        return time.perf_counter() - t


def bench_transfers(client: CrucibleClient, project: str, work: Path, size: int) -> dict:
    src = work / "payload.bin"
    sha = write_random(src, size)
    out: dict[str, float] = {}
    dsid = client.datasets.create(Dataset(dataset_name="bench", project_id=project))["dsid"]
    out["raw_put"] = raw_put(client, dsid, src, size, sha)
    t = time.perf_counter()
    rec = client.datasets.upload_file(dsid, src, sha256=sha, ingest=False)
    out["client_put"] = time.perf_counter() - t  # initiate + chunked PUTs + complete
    client.ingestions.wait(client.ingestions.request(rec["mfid"])["id"], timeout=600)
    # the same upload with hashing included, to a second dataset (a dedup hit would skip it)
    ds2 = client.datasets.create(Dataset(dataset_name="bench2", project_id=project))["dsid"]
    t = time.perf_counter()
    client.datasets.upload_file(ds2, src, ingest=False)
    out["client_put_hashing"] = time.perf_counter() - t
    url = client.files.download_link(rec["mfid"])
    out["raw_get"] = raw_get(url, work / "raw.bin")
    (work / "raw.bin").unlink()
    t = time.perf_counter()
    client.files.download(rec["mfid"], work / "client.bin")
    out["client_get"] = time.perf_counter() - t
    (work / "client.bin").unlink()
    src.unlink()
    return out


def rss_child(url: str, key: str, project: str, size: int) -> None:
    """Runs in a fresh process: print the peak RSS above baseline for upload + download."""
    work = Path(tempfile.mkdtemp(prefix="crucible-bench-rss-"))
    src = work / "big.bin"
    sha = write_random(src, size)
    with CrucibleClient(url, key) as client:
        client.whoami()
        base = rss_mb()
        dsid = client.datasets.create(Dataset(dataset_name="rss", project_id=project))["dsid"]
        rec = client.datasets.upload_file(dsid, src, wait=True, timeout=900)
        assert rec["sha256_hash"] == sha
        client.files.download(rec["mfid"], work / "back.bin")
        peak = peak_rss_mb()
    for p in work.iterdir():
        p.unlink()
    work.rmdir()
    print(f"{base:.1f} {peak:.1f}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--small", action="store_true", help="quick run: 64 MiB, fewer requests")
    ap.add_argument("--size-mb", type=int, help="transfer size (default 1024, --small 64)")
    ap.add_argument("--rss-child", nargs=4, metavar=("URL", "KEY", "PROJECT", "SIZE"),
                    help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.rss_child:
        url, key, project, size = args.rss_child
        rss_child(url, key, project, int(size))
        return 0
    from crucible.server.local import LocalCrucible

    size = (args.size_mb or (64 if args.small else 1024)) * MiB
    rounds, per_round = (5, 40) if args.small else (10, 100)
    with LocalCrucible() as srv, tempfile.TemporaryDirectory(prefix="crucible-bench-") as tmp:
        key = srv.add_user("0000-0009-0000-0001", first_name="Bench", projects=["BENCH"])
        with CrucibleClient(srv.url, key) as client:
            ours, raw = bench_requests(client, key, rounds, per_round)
            t = bench_transfers(client, "BENCH", Path(tmp), size)
        child = subprocess.run([sys.executable, __file__, "--rss-child", srv.url, key, "BENCH",
                                str(size)], capture_output=True, text=True, check=True)
        base, peak = (float(x) for x in child.stdout.split())
    mb = size / 1e6
    rows = [
        ("per-request GET /account", f"{ours * 1e3:.2f} ms", f"{raw * 1e3:.2f} ms",
         f"{ours / raw:.2f}", "<= 1.1 (client/raw)"),
        (f"upload {size // MiB} MiB (sha256 known)", f"{mb / t['client_put']:.0f} MB/s",
         f"{mb / t['raw_put']:.0f} MB/s", f"{t['raw_put'] / t['client_put']:.2f}",
         ">= 0.8 (client/raw)"),
        (f"upload {size // MiB} MiB (incl. hashing)", f"{mb / t['client_put_hashing']:.0f} MB/s",
         f"{mb / t['raw_put']:.0f} MB/s", f"{t['raw_put'] / t['client_put_hashing']:.2f}",
         "(info)"),
        (f"download {size // MiB} MiB (verified)", f"{mb / t['client_get']:.0f} MB/s",
         f"{mb / t['raw_get']:.0f} MB/s", f"{t['raw_get'] / t['client_get']:.2f}",
         ">= 0.8 (client/raw)"),
        (f"peak RSS moving {size // MiB} MiB", f"+{peak - base:.0f} MB", f"base {base:.0f} MB",
         "", "< 100 MB above baseline"),
    ]
    widths = [max(len(r[i]) for r in rows + [("what", "client", "raw", "ratio", "target")])
              for i in range(5)]
    for r in [("what", "client", "raw", "ratio", "target")] + rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
