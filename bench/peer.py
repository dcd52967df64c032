"""Benchmark our client against nano-crucible 3.3.0 (the tool people use today), one local server.

Each measured operation runs in a fresh process, so its peak RSS is its own: nano-crucible in
its own virtual environment (its top-level package is also called ``crucible``), ours in a
virtual environment of its own too (a core install of this checkout, ``.cache/peer-ours-venv``;
the checkout measured comes first on ``PYTHONPATH``), and a raw ``requests`` reference where one
makes sense (the limit of a row), in ours. The Prefect flow runs with this interpreter. Sides alternate (nano, ours, raw, then raw, ours, nano, ...) and each row reports the
median of its runs, every run's figure alongside, and the client's CPU time where it matters
(wall times on a shared machine move with its load). Rows:

  (a) per request: ``whoami`` (GET /account), N calls after a warm-up of 20;
  (b) upload + ingest of one large file (default 512 MiB, ``--small``: 64 MiB), hashing
      included: nano ``datasets.add_file(..., wait_for_ingestion_response=True)`` (its default
      signed multipart upload) vs ``client.datasets.upload_file(..., wait=True)``;
  (c) download of that file: nano ``files.download`` (no checksum) vs ``client.files.download``
      (sha256 verified); raw = one streamed GET of the same signed URL into a file;
  (d) ingest of many small files (200 x 64 KiB): nano's create + upload + wait loop vs our
      Prefect-free engine (``crucible.ingest.IngestJob`` on ``crucible.jobs.ThreadRunner``,
      ``mode="files"``), and our Prefect flow on the same kind of folder (a temporary
      ``prefect server`` is started for it; ``--no-flow`` leaves it out).

Process start, imports and the first call are the warm-up: reported, not counted. Big writes
are followed by ``os.sync()`` before the next timed phase. Ratios are nano/ours: higher is
better for us. The machine's core count is printed; benchmarks on a shared machine are noisy.

    python bench/peer.py --small       # quick (64 MiB, 3 runs of the short rows)
    python bench/peer.py               # 512 MiB
    python bench/peer.py --rows abc --before-root DIR   # and an older ``crucible`` in DIR

Figures and what limits each row: docs/performance.md.
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[1]
MiB, KiB = 1024 * 1024, 1024
NANO_VERSION = "3.3.0"
PROJECT = "PEERBENCH"
INSTRUMENT = "PeerScope"
ORCID = "0000-0002-9079-5931"


# ------------------------------------------------------------------ nano-crucible's venv
def nano_python(cache_root: Path = ROOT / ".cache" / "compat") -> Path:
    """The interpreter of a venv holding nano-crucible NANO_VERSION, built once from the
    package registry (the same cache and rules as tests/compat/conftest.py)."""
    tag = f"nano-crucible-{NANO_VERSION}-py{sys.version_info.major}{sys.version_info.minor}"
    cache_root = Path(os.path.abspath(cache_root))
    venv = cache_root / tag
    python = venv / "bin" / "python"
    cache_root.mkdir(parents=True, exist_ok=True)
    with open(cache_root / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        probe = subprocess.run(
            [str(python), "-I", "-c", "import crucible,sys;sys.stdout.write(crucible.__version__)"],
            capture_output=True, text=True, cwd=str(cache_root)) if python.exists() else None
        if not (venv / ".ready").is_file() or probe is None or probe.stdout.strip() != NANO_VERSION:
            shutil.rmtree(venv, ignore_errors=True)
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
            subprocess.run([str(python), "-m", "pip", "install", "--quiet",
                            "--disable-pip-version-check", f"nano-crucible=={NANO_VERSION}"],
                           check=True)
            (venv / ".ready").write_text(NANO_VERSION + "\n")
    return python


def ours_python(cache_root: Path = ROOT / ".cache") -> Path:
    """The interpreter of a venv holding the core dependencies of this checkout (what
    ``pip install crucible-prefect`` installs, no extras), built once and rebuilt when
    pyproject.toml changes. Our client and engine run there, as nano-crucible runs in its own,
    so neither side's start-up or memory counts another tool's packages."""
    stamp = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()[:16]
    venv = Path(os.path.abspath(cache_root)) / "peer-ours-venv"
    python, marker = venv / "bin" / "python", venv / f".built-{stamp}"
    venv.parent.mkdir(parents=True, exist_ok=True)
    with open(venv.parent / ".peer-ours.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not marker.exists():
            shutil.rmtree(venv, ignore_errors=True)
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
            pip = [str(python), "-m", "pip", "--quiet", "--disable-pip-version-check"]
            # the core dependencies only: the checkout comes from PYTHONPATH, and an editable
            # install's import hook would cost every process start
            subprocess.run(pip + ["install", "-e", str(ROOT)], check=True)
            subprocess.run(pip + ["uninstall", "-y", "crucible-prefect"], check=True)
            marker.touch()
    return python


# What runs in nano-crucible's venv (``python -I -c NANO_CHILD op json``): one operation, then
# one JSON line with the timed seconds, the warm-up and the process's peak RSS.
NANO_CHILD = r'''
import json, os, sys, time
t0 = time.perf_counter()
op, a = sys.argv[1], json.loads(sys.argv[2])
from crucible import CrucibleClient
from crucible.models import Dataset
c = CrucibleClient()
c.whoami()
out = {"warmup": time.perf_counter() - t0}
def rss():
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6
def hwm():  # VmHWM: this process image's peak (ru_maxrss would count the parent's at fork)
    with open("/proc/self/status") as fh:
        return next(int(l.split()[1]) for l in fh if l.startswith("VmHWM:")) * 1024 / 1e6
if op == "whoami":
    for _ in range(20):
        c.whoami()
    out["base_rss_mb"] = rss()
    t, cpu = time.perf_counter(), time.process_time()
    for _ in range(a["n"]):
        c.whoami()
    out["seconds"] = time.perf_counter() - t
    out["cpu"] = time.process_time() - cpu
elif op == "upload":
    dsid = c.datasets.create(Dataset(dataset_name=a["name"], project_id=a["project"]))["dataset_mfid"]
    out["base_rss_mb"] = rss()
    os.sync()
    t, cpu = time.perf_counter(), time.process_time()
    r = c.datasets.add_file(dsid, a["path"], wait_for_ingestion_response=True)
    out["seconds"] = time.perf_counter() - t
    assert r["ingestion_request"]["status"] == "complete", r
    assert r["associated_file"]["sha256_hash"] == a["sha256"]
    out["mfid"] = r["associated_file"]["mfid"]
elif op == "download":
    out["base_rss_mb"] = rss()
    os.sync()
    t, cpu = time.perf_counter(), time.process_time()
    path = c.files.download(a["mfid"], output_dir=a["out"])
    out["seconds"] = time.perf_counter() - t
    assert os.path.getsize(path) == a["size"]
elif op == "many":
    names = sorted(os.listdir(a["folder"]))
    out["base_rss_mb"] = rss()
    t, cpu = time.perf_counter(), time.process_time()
    for name in names:
        r = c.datasets.create(Dataset(dataset_name=name, project_id=a["project"]),
                              files=[os.path.join(a["folder"], name)],
                              wait_for_ingestion_response=True)
    out["seconds"] = time.perf_counter() - t
    out["count"] = len(names)
out["cpu"] = time.process_time() - cpu
out["peak_rss_mb"] = hwm()
sys.__stdout__.write(json.dumps(out) + "\n")
'''


# ------------------------------------------------------------------ our side (child processes)
def _rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def _hwm_mb() -> float:
    """Peak RSS of this process image (VmHWM). ``ru_maxrss`` would not do: Linux carries the
    parent's resident size at fork over the exec into the child's figure."""
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith("VmHWM:")) * 1024 / 1e6


def _timed(out: dict, fn: Callable[[], Any]) -> Any:
    out["base_rss_mb"] = _rss_mb()
    t, cpu = time.perf_counter(), time.process_time()
    result = fn()
    out["seconds"] = time.perf_counter() - t
    out["cpu"] = time.process_time() - cpu
    return result


def ours_child(op: str, a: dict) -> dict:
    """One operation with our client (or raw ``requests``), in this fresh process."""
    t0 = time.perf_counter()
    out: dict[str, Any] = {}
    if op.startswith("raw-"):
        return raw_child(op, a, t0, out)
    if op == "flow-many":
        return flow_child(a, out)
    from crucible import CrucibleClient, Dataset

    c = CrucibleClient(os.environ["CRUCIBLE_API_URL"], os.environ["CRUCIBLE_API_KEY"])
    c.whoami()
    out["warmup"] = time.perf_counter() - t0
    if op == "whoami":
        for _ in range(20):
            c.whoami()
        _timed(out, lambda: [c.whoami() for _ in range(a["n"])])
    elif op == "upload":
        dsid = c.datasets.create(Dataset(dataset_name=a["name"], project_id=a["project"]))["dsid"]
        os.sync()
        rec = _timed(out, lambda: c.datasets.upload_file(dsid, a["path"], wait=True))
        assert rec["ingestion_request"]["status"] == "complete", rec
        assert rec["sha256_hash"] == a["sha256"]
        out["mfid"] = rec["mfid"]
    elif op == "download":
        os.sync()
        dest = Path(a["out"]) / "ours.bin"
        _timed(out, lambda: c.files.download(a["mfid"], dest))
        assert dest.stat().st_size == a["size"]
    elif op == "many":
        out["count"] = _timed(out, lambda: ingest_engine(c, a))
    out["peak_rss_mb"] = _hwm_mb()
    return out


def ingest_engine(client: Any, a: dict) -> int:
    """(d), ours: the Prefect-free ingest engine on a thread pool, one dataset per file."""
    from crucible.ingest import IngestJob, IngestSettings
    from crucible.jobs import ThreadRunner, run_job

    settings = IngestSettings(path=a["folder"], instrument_name=a["instrument"],
                              project_id=a["project"], mode="files", settle_seconds=0,
                              max_concurrency=8)
    report = run_job(IngestJob(settings, client), ThreadRunner(client, max_workers=8))
    if not report.ok:
        raise SystemExit(f"ingest failed: {report.summary_text()}")
    out_counts = report.counts
    return sum(out_counts.values())


def raw_child(op: str, a: dict, t0: float, out: dict) -> dict:
    """The limit of a row: plain ``requests`` doing only the wire part (no checks)."""
    import requests

    s = requests.Session()
    s.headers["Authorization"] = f"Bearer {os.environ['CRUCIBLE_API_KEY']}"
    url = os.environ["CRUCIBLE_API_URL"].rstrip("/") + "/account"
    s.get(url, timeout=(5, 30)).json()
    out["warmup"] = time.perf_counter() - t0
    if op == "raw-whoami":
        for _ in range(20):
            s.get(url, timeout=(5, 30)).json()

        def calls() -> None:
            for _ in range(a["n"]):
                r = s.get(url, timeout=(5, 30))
                r.raise_for_status()
                r.json()
        _timed(out, calls)
    elif op == "raw-download":
        link = s.get(os.environ["CRUCIBLE_API_URL"].rstrip("/") +
                     f"/files/{a['mfid']}/download_link", timeout=(5, 30)).json()["url"]
        os.sync()

        def get() -> None:
            with requests.get(link, stream=True, timeout=(5, 600)) as r, \
                    open(Path(a["out"]) / "raw.bin", "wb") as fh:
                r.raise_for_status()
                for chunk in r.iter_content(MiB):
                    fh.write(chunk)
        _timed(out, get)
    out["peak_rss_mb"] = _hwm_mb()
    return out


# ------------------------------------------------------------------ (d) with the Prefect flow
def flow_child(a: dict, out: dict) -> dict:
    """(d), ours: the flow ``ingest_instrument_output`` on the same kind of folder, in this
    fresh process, against the Prefect server the driver started (``PREFECT_API_URL``).

    Warm-up (not counted): Prefect's once-per-process start and one empty flow run. Heartbeats
    are off (Prefect 3.9 joins the heartbeat thread at the end of every flow run, ~1 s)."""
    t0 = time.perf_counter()
    from prefect import flow
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    from crucible_prefect.flows.ingest import ingest_instrument_output, report_from_state

    @flow(name="peer-warm-up")
    def warm_up() -> None:
        """Prefect's start in this process, timed apart from the job."""

    with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        warm_up()
        out["warmup"] = time.perf_counter() - t0

        def run() -> int:
            state = ingest_instrument_output(
                path=a["folder"], instrument_name=a["instrument"], project_id=a["project"],
                mode="files", settle_seconds=0, max_concurrency=8, return_state=True)
            report = report_from_state(state)
            if not state.is_completed():
                raise SystemExit(f"flow failed: {report.summary_text()}")
            return sum(report.counts.values())
        out["count"] = _timed(out, run)
    out["peak_rss_mb"] = _hwm_mb()
    return out


# ------------------------------------------------------------------ driver
class Runner:
    """Starts each measured operation in a fresh process and collects its JSON line."""

    def __init__(self, nano: Path, url: str, key: str, home: Path, ours_root: Path,
                 before_root: Path | None = None) -> None:
        self.nano, self.url, self.key, self.home = nano, url, key, home
        self.ours = ours_python()  # our client, engine and the raw reference run here
        self.prefect_api_url: str | None = None  # for the "flow" side, once a server runs
        self.ours_root = ours_root  # the checkout whose ``crucible`` the "ours" side imports
        self.before_root = before_root  # the "before" side's, if any

    def sides(self, *sides: str) -> list[str]:
        """``sides`` plus "before" (after "ours") when a before checkout is given."""
        out = list(sides)
        if self.before_root is not None:
            out.insert(out.index("ours") + 1, "before")
        return out

    def _env(self, ours: bool, root: Path | None = None) -> dict[str, str]:
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(self.home),
               "XDG_CONFIG_HOME": str(self.home / ".config"),
               "XDG_CACHE_HOME": str(self.home / ".cache"),
               "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost",
               "CRUCIBLE_API_URL": self.url, "CRUCIBLE_API_KEY": self.key,
               "CRUCIBLE_PREFECT_CACHE_DIR": str(self.home / "digests"),
               "PYTHONDONTWRITEBYTECODE": "1"}
        if ours:
            env["PYTHONPATH"] = str(root or self.ours_root)
        if ours and self.prefect_api_url:
            env.update(PREFECT_API_URL=self.prefect_api_url, PREFECT_HOME=str(self.home / "prefect"),
                       PREFECT_SERVER_ANALYTICS_ENABLED="false")
        return env

    def run(self, side: str, op: str, args: dict) -> dict:
        if side == "nano":
            cmd = [str(self.nano), "-I", "-W", "ignore", "-c", NANO_CHILD, op, json.dumps(args)]
        else:
            child_op = {"raw": "raw-" + op, "flow": "flow-" + op}.get(side, op)
            # the flow needs Prefect: it runs with this interpreter, everything else of ours
            # in the core venv
            python = sys.executable if side == "flow" else str(self.ours)
            cmd = [python, str(Path(__file__).resolve()), "--child", child_op, json.dumps(args)]
        os.sync()
        root = self.before_root if side == "before" else None
        done = subprocess.run(cmd, capture_output=True, text=True,
                              env=self._env(side != "nano", root),
                              cwd=str(self.home), timeout=3600)
        lines = done.stdout.strip().splitlines()
        if done.returncode != 0 or not lines:
            raise SystemExit(f"{side} {op} failed ({done.returncode}):\n{done.stderr[-4000:]}")
        return json.loads(lines[-1])


def alternate(runner: Runner, sides: list[str], op: str, runs: int,
              args_for: Callable[[str, int], dict]) -> dict[str, list[dict]]:
    """``runs`` rounds over ``sides``, the order reversed every other round."""
    got: dict[str, list[dict]] = {s: [] for s in sides}
    for i in range(runs):
        for side in (sides if i % 2 == 0 else sides[::-1]):
            got[side].append(runner.run(side, op, args_for(side, i)))
    return got


def write_random(path: Path, size: int, seed: bytes = b"") -> str:
    h = hashlib.sha256()
    block = os.urandom(8 * MiB)
    with open(path, "wb") as fh:
        left = size
        first = True
        while left:
            piece = block[: min(left, len(block))]
            if first and seed:
                piece = seed + piece[len(seed):]
                first = False
            fh.write(piece)
            h.update(piece)
            left -= len(piece)
    return h.hexdigest()


def write_small_files(folder: Path, count: int, size: int, tag: str) -> None:
    folder.mkdir(parents=True)
    block = os.urandom(size)
    old = time.time() - 3600
    for i in range(count):
        p = folder / f"f_{i:04d}.dat"
        p.write_bytes(f"{tag}-{i:06d}".encode() + block[16:])
        os.utime(p, (old, old))
    os.sync()


def med(rows: list[dict], key: str = "seconds") -> float:
    return statistics.median(r[key] for r in rows)


def peak(rows: list[dict]) -> float:
    return max(r["peak_rss_mb"] for r in rows)


def measure(runner: Runner, work: Path, args: argparse.Namespace) -> list[dict]:
    size = (args.size_mb or (64 if args.small else 512)) * MiB
    runs = args.runs or (3 if args.small else 5)
    big_runs = args.big_runs or (2 if args.small else 3)
    rows = []
    n = args.requests
    if "a" in args.rows:
        got = alternate(runner, runner.sides("nano", "ours", "raw"), "whoami", runs, lambda s, i: {"n": n})
        rows.append(row(f"(a) per request: {n} x whoami, wall per call", got, per=n, unit="ms"))
        rows.append(row("(a) the same, client CPU per call", got, per=n, unit="ms", key="cpu"))
        print(rows[-2]["line"] + "\n" + rows[-1]["line"], flush=True)
    if "b" in args.rows or "c" in args.rows:
        rows += big_file_rows(runner, work, size, big_runs, args.rows)
    if "d" in args.rows:
        rows.append(many_files_row(runner, work, args))
    return rows


def big_file_rows(runner: Runner, work: Path, size: int, big_runs: int,
                  rows_wanted: str = "bc") -> list[dict]:
    """(b) upload + ingest of one large file, then (c) its download."""
    rows = []

    src = work / "big.bin"
    sha = write_random(src, size)
    os.sync()
    upload_runs = big_runs if "b" in rows_wanted else 1
    got = alternate(runner, runner.sides("nano", "ours") if "b" in rows_wanted else ["ours"],
                    "upload", upload_runs,
                    lambda s, i: {"path": str(src), "sha256": sha, "project": PROJECT,
                                  "name": f"peer-{s}-{i}"})
    if "b" in rows_wanted:
        rows.append(row(f"(b) upload + ingest {size // MiB} MiB", got, size=size))
        rows.append(row("(b) the same, client CPU", got, key="cpu"))
        print(rows[-2]["line"] + "\n" + rows[-1]["line"], flush=True)
    mfid = got["ours"][0]["mfid"]
    src.unlink()
    if "c" not in rows_wanted:
        return rows

    out = work / "out"

    def dl_args(side: str, i: int) -> dict:
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir()
        return {"mfid": mfid, "out": str(out), "size": size}
    got = alternate(runner, runner.sides("nano", "ours", "raw"), "download", big_runs, dl_args)
    shutil.rmtree(out, ignore_errors=True)
    rows.append(row(f"(c) download {size // MiB} MiB", got, size=size))
    rows.append(row("(c) the same, client CPU", got, key="cpu"))
    print(rows[-2]["line"] + "\n" + rows[-1]["line"], flush=True)
    return rows


def many_files_row(runner: Runner, work: Path, args: argparse.Namespace) -> dict:
    """(d) many small files: nano's per-file loop vs our ingest engine and our flow."""
    count = args.files

    def many_args(side: str, i: int) -> dict:
        folder = work / f"many-{side}-{i}"
        write_small_files(folder, count, 64 * KiB, f"{side[:2]}{i}")
        return {"folder": str(folder), "project": PROJECT, "instrument": INSTRUMENT}
    sides = runner.sides("nano", "ours") + (["flow"] if runner.prefect_api_url else [])
    got = alternate(runner, sides, "many", args.many_runs, many_args)
    r = row(f"(d) ingest {count} x 64 KiB (ours: engine)", got, per=1)
    print(r["line"], flush=True)
    if "flow" in got:
        r["flow"] = row(f"(d) ingest {count} x 64 KiB (ours: the Prefect flow)",
                        {"nano": got["nano"], "ours": got["flow"]}, per=1)
        print(r["flow"]["line"], flush=True)
    return r


def row(label: str, got: dict[str, list[dict]], *, per: int = 1, size: int = 0,
        unit: str = "s", key: str = "seconds") -> dict:
    nano, ours = med(got["nano"], key), med(got["ours"], key)
    raw = med(got["raw"], key) if "raw" in got else None

    def fmt(sec: float | None) -> str:
        if sec is None:
            return "-"
        if unit == "ms":
            return f"{sec / per * 1e3:.2f} ms"
        text = f"{sec:.2f} s"
        return text + (f" ({size / MiB / sec:.0f} MiB/s)" if size else "")
    before = med(got["before"], key) if "before" in got else None
    r = {"label": label, "nano": fmt(nano), "ours": fmt(ours), "raw": fmt(raw),
         "before": fmt(before), "before_ratio": f"{nano / before:.2f}" if before else "-",
         "before_rss": f"{peak(got['before']):.0f}" if before else "-",
         "ratio": f"{nano / ours:.2f}", "raw_ratio": f"{raw / ours:.2f}" if raw else "-",
         "nano_rss": f"{peak(got['nano']):.0f}", "ours_rss": f"{peak(got['ours']):.0f}",
         "warmup": f"{med(got['nano'], 'warmup'):.2f}/{med(got['ours'], 'warmup'):.2f} s",
         "runs": len(got["ours"]),
         "base": f"{med(got['nano'], 'base_rss_mb'):.0f}/{med(got['ours'], 'base_rss_mb'):.0f}"}
    r["line"] = (f"{label}: nano {r['nano']}, ours {r['ours']}, before {r['before']}, "
                 f"raw {r['raw']}, "
                 f"nano/ours {r['ratio']}, peak RSS nano {r['nano_rss']} MB ours "
                 f"{r['ours_rss']} MB (median of {r['runs']}; runs: " +
                 "; ".join(f"{side} " + " ".join(f"{x[key]:.3g}" for x in got[side])
                           for side in got) + ")")
    return r


def print_table(rows: list[dict]) -> None:
    head = ("row", "nano-crucible", "ours", "nano/ours", "before", "nano/before", "raw",
            "raw/ours", "peak RSS MB nano", "ours", "before", "base RSS nano/ours",
            "warm-up nano/ours", "runs")
    keys = ("label", "nano", "ours", "ratio", "before", "before_ratio", "raw", "raw_ratio",
            "nano_rss", "ours_rss", "before_rss", "base", "warmup", "runs")
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for r in rows:
        print("| " + " | ".join(str(r[k]) for k in keys) + " |")
        if "flow" in r:
            print("| " + " | ".join(str(r["flow"][k]) for k in keys) + " |")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--small", action="store_true", help="quick run: 64 MiB file")
    ap.add_argument("--size-mb", type=int, help="large file size (default 512, --small 64)")
    ap.add_argument("--requests", type=int, default=300, help="calls in row (a)")
    ap.add_argument("--runs", type=int, help="runs per side of row (a) (default 5, --small 3)")
    ap.add_argument("--big-runs", type=int, help="runs per side of (b), (c) (default 3)")
    ap.add_argument("--files", type=int, default=200, help="small files in row (d)")
    ap.add_argument("--many-runs", type=int, default=1, help="runs per side of row (d)")
    ap.add_argument("--rows", default="abcd", help="rows to run, any of a, b, c, d")
    ap.add_argument("--no-flow", action="store_true",
                    help="row (d) without the Prefect flow (no Prefect server is started)")
    ap.add_argument("--ours-root", type=Path, default=ROOT,
                    help="checkout whose crucible package is 'ours' (default: this one), "
                         "e.g. an older commit's for before/after figures")
    ap.add_argument("--before-root", type=Path,
                    help="a second checkout measured as 'before' in the same run, alternated "
                         "with the others (e.g. `git archive <commit> crucible | tar -x`)")
    ap.add_argument("--child", nargs=2, metavar=("OP", "JSON"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(ours_child(args.child[0], json.loads(args.child[1]))))
        return 0
    sys.path.insert(0, str(ROOT))
    from crucible import CrucibleClient
    from crucible.server.local import LocalCrucible

    python = nano_python()
    print(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {os.cpu_count()} cores, "
          f"load {os.getloadavg()[0]:.1f}; Python {platform.python_version()}; "
          f"nano-crucible {NANO_VERSION}; ours from {args.ours_root}", flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-peer-") as tmp:
        work = Path(tmp)
        (work / "home").mkdir()
        with LocalCrucible(data_dir=work / "crucible") as srv:
            key = srv.add_user(ORCID, first_name="Peer", projects=[PROJECT])
            with CrucibleClient(srv.url, srv.admin_key) as admin:
                admin.instruments.create({"instrument_name": INSTRUMENT, "owner": "bench",
                                          "location": "here"})
            runner = Runner(python, srv.url, key, work / "home", args.ours_root.resolve(),
                            args.before_root.resolve() if args.before_root else None)
            prefect = None
            if "d" in args.rows and not args.no_flow:
                from crucible_prefect.testing import start_prefect_server

                (work / "prefect-server").mkdir()
                runner.prefect_api_url, prefect = start_prefect_server(work / "prefect-server")
            try:
                rows = measure(runner, work, args)
            finally:
                if prefect is not None:
                    prefect.terminate()
                    prefect.wait(timeout=30)
    print()
    print_table(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
