"""``LocalCrucible``: the local server in a subprocess, as a context manager for tests and demos.

The server runs in its own process (``python -m crucible.server start``) so benchmarks measure the
client's memory and CPU, not the server's. ``add_user`` writes to the SQLite file directly; WAL
mode makes that safe while the server runs.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

START_TIMEOUT_S = 60.0


class LocalCrucible:
    """A running local Crucible server. ``url`` is the API root (``.../api/v2``)."""

    def __init__(self, data_dir: str | os.PathLike | None = None, *, host: str = "127.0.0.1",
                 port: int = 0, fail_rate: float = 0.0, fail_seed: int = 0,
                 ingest_mode: str = "auto", admin_key: str | None = None) -> None:
        self._own_dir = data_dir is None
        self.data_dir = Path(data_dir) if data_dir is not None else Path(
            tempfile.mkdtemp(prefix="crucible-server-"))
        self.host = host
        self.port = port
        self.fail_rate = fail_rate
        self.fail_seed = fail_seed
        self.ingest_mode = ingest_mode
        self.admin_key = admin_key or "ck_admin_" + secrets.token_urlsafe(24)
        self.url: str | None = None
        self._proc: subprocess.Popen | None = None
        self._sessions = None

    def __repr__(self) -> str:  # never shows the admin key
        return f"LocalCrucible(url={self.url!r}, data_dir={str(self.data_dir)!r})"

    @property
    def base_url(self) -> str:
        """Scheme, host and port (the API root without ``/api/v2``)."""
        assert self.url, "server not started"
        return self.url[: -len("/api/v2")]

    @property
    def log_path(self) -> Path:
        return self.data_dir / "server.log"

    def start(self) -> "LocalCrucible":
        if self._proc is not None and self._proc.poll() is None:
            return self
        self.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        env = dict(os.environ, CRUCIBLE_SERVER_ADMIN_KEY=self.admin_key, PYTHONUNBUFFERED="1")
        cmd = [sys.executable, "-m", "crucible.server", "start", "--host", self.host,
               "--port", str(self.port), "--data-dir", str(self.data_dir),
               "--fail-rate", str(self.fail_rate), "--fail-seed", str(self.fail_seed),
               "--ingest-mode", self.ingest_mode]
        log = open(self.log_path, "ab")
        self.log_path.chmod(0o600)
        log_start = log.tell()
        self._proc = proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT,
                                             stdin=subprocess.DEVNULL, start_new_session=True)
        log.close()
        try:
            self.url = self._read_url(proc, log_start)
            self.port = int(self.url.rsplit(":", 1)[1].split("/", 1)[0])
            self._wait_live(proc)
        except BaseException:
            self.stop()  # never leave a half-started server behind
            raise
        return self

    def _read_url(self, proc: subprocess.Popen, offset: int) -> str:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            with open(self.log_path, "rb") as fh:
                fh.seek(offset)
                for line in fh.read().decode(errors="replace").splitlines():
                    if line.startswith("http://") and line.rstrip().endswith("/api/v2"):
                        return line.strip()
            if proc.poll() is not None:
                raise RuntimeError(f"local Crucible server exited early:\n{self._log_tail(offset)}")
            time.sleep(0.05)
        raise RuntimeError(f"local Crucible server did not report its URL:\n{self._log_tail(offset)}")

    def _log_tail(self, offset: int = 0) -> str:
        with open(self.log_path, "rb") as fh:
            fh.seek(offset)
            return fh.read().decode(errors="replace")[-4000:]

    def _wait_live(self, proc: subprocess.Popen) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{self.url}/health/live", timeout=2).ok:
                    return
            except requests.RequestException:
                pass
            if proc.poll() is not None:
                raise RuntimeError(f"local Crucible server exited:\n{self._log_tail()}")
            time.sleep(0.05)
        raise RuntimeError("local Crucible server did not become live")

    def stop(self) -> None:
        """Stop the server process (data stays in ``data_dir``)."""
        if self._sessions is not None:
            self._sessions.kw["bind"].dispose()
            self._sessions = None
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)

    def restart(self) -> "LocalCrucible":
        """Stop and start again on the same data dir and port."""
        self.stop()
        return self.start()

    def __enter__(self) -> "LocalCrucible":
        try:
            return self.start()
        except BaseException:
            self.close()
            raise

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.stop()
        if self._own_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    # --- administration -------------------------------------------------------------------
    def _db(self):
        if self._sessions is None:
            from .db import open_database

            self._sessions = open_database(self.data_dir / "crucible.db")
        return self._sessions

    def add_user(self, orcid: str, *, first_name: str | None = None, last_name: str | None = None,
                 email: str | None = None, projects=(), admin: bool = False) -> str:
        """Create or update a user (and missing projects); return a new API key."""
        from .accounts import create_user_with_key

        with self._db()() as db:
            return create_user_with_key(db, orcid, first_name=first_name, last_name=last_name,
                                        email=email, projects=list(projects), admin=admin)

    def _admin_post(self, path: str, body: dict) -> dict:
        r = requests.post(f"{self.base_url}/_admin/{path}", json=body, timeout=10,
                          headers={"Authorization": f"Bearer {self.admin_key}"})
        r.raise_for_status()
        return r.json()

    def set_faults(self, rate: float, seed: int = 0, *, slow_s: float = 1.5) -> dict:
        """Change fault injection at runtime (rate and seed also apply after a restart).

        ``slow_s`` is how long a "slow" fault delays its answer.
        """
        self.fail_rate, self.fail_seed = rate, seed
        return self._admin_post("faults", {"rate": rate, "seed": seed, "slow_s": slow_s})

    def set_ingest_mode(self, mode: str) -> dict:
        self.ingest_mode = mode
        return self._admin_post("ingest_mode", {"mode": mode})

    def set_raw_file_names(self, file_mfid: str, *, filename: str | None = None,
                           storage_path: str | None = None) -> dict:
        """Store names the API refuses on an existing file (test support: a server that
        returns hostile or broken names, for tests of the clients' own defences)."""
        return self._admin_post(f"raw_file_names/{file_mfid}",
                                {"filename": filename, "storage_path": storage_path})

    def stored_file_path(self, file_mfid: str) -> Path:
        """Where an ingested file's bytes live (for corruption tests)."""
        from .storage import Storage

        return Storage(self.data_dir).stored_file(file_mfid)
