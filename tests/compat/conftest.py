"""Fixtures that run the public nano-crucible client, in its own venv, against our local server.

nano-crucible installs a top-level package named `crucible`, like ours, so it cannot share our
interpreter. The `nano_python` fixture builds a virtual environment once (from the package
registry) and caches it under the repository's `.cache/`; a clean clone builds it afresh.
Every call runs `drivers/nano_call.py` in that venv and reads one JSON line back.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

NANO_VERSION = "3.3.0"
REPO = Path(__file__).resolve().parents[2]
DRIVER = Path(__file__).resolve().parent / "drivers" / "nano_call.py"
CALL_TIMEOUT_S = 300  # a guard against a hung client, not a performance assertion


def _venv_python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def _venv_ready(venv: Path) -> bool:
    """True if the venv exists and imports exactly the pinned nano-crucible."""
    python = _venv_python(venv)
    if not (venv / ".ready").is_file() or not python.exists():
        return False
    probe = subprocess.run(  # -I: isolated, so our own `crucible` (cwd, PYTHONPATH) can't answer
        [str(python), "-I", "-c", "import crucible, sys; sys.stdout.write(crucible.__version__)"],
        capture_output=True, text=True, timeout=120, cwd=str(venv))
    return probe.returncode == 0 and probe.stdout.strip() == NANO_VERSION


def ensure_nano_venv(cache_root: Path) -> Path:
    """Create (or reuse) the venv holding nano-crucible NANO_VERSION; return its interpreter."""
    tag = f"nano-crucible-{NANO_VERSION}-py{sys.version_info.major}{sys.version_info.minor}"
    cache_root = Path(os.path.abspath(cache_root))  # abspath, not resolve: keep the venv symlink
    venv = cache_root / tag
    cache_root.mkdir(parents=True, exist_ok=True)
    with open(cache_root / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two pytest runs must not build the same venv at once
        if not _venv_ready(venv):
            shutil.rmtree(venv, ignore_errors=True)
            steps = [
                [sys.executable, "-m", "venv", str(venv)],
                [str(_venv_python(venv)), "-m", "pip", "install", "--quiet",
                 "--disable-pip-version-check", f"nano-crucible=={NANO_VERSION}"],
            ]
            for step in steps:
                done = subprocess.run(step, capture_output=True, text=True, timeout=900)
                if done.returncode != 0:
                    shutil.rmtree(venv, ignore_errors=True)
                    pytest.fail(f"could not build the nano-crucible venv: {' '.join(step)}\n"
                                f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
            (venv / ".ready").write_text(NANO_VERSION + "\n")
    return _venv_python(venv)


class NanoCallError(Exception):
    """A nano-crucible call raised; carries the HTTP status (if any) and the wire trace."""

    def __init__(self, error: dict[str, Any], trace: list[dict[str, Any]]):
        super().__init__(f"{error.get('type')}: {error.get('message')}")
        self.type = error.get("type")
        self.status = error.get("status")
        self.trace = trace


@dataclass
class NanoCrucible:
    """Runs nano-crucible calls in a subprocess, configured only through its environment."""

    python: Path
    api_url: str
    api_key: str
    home: Path
    last_trace: list[dict[str, Any]] = field(default_factory=list)

    def _env(self) -> dict[str, str]:
        # Built from scratch: nothing from the developer's shell (proxies, real config) leaks in.
        return {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.home),
            "XDG_CONFIG_HOME": str(self.home / ".config"),
            "XDG_CACHE_HOME": str(self.home / ".cache"),
            "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost",
            "CRUCIBLE_API_URL": self.api_url,
            "CRUCIBLE_API_KEY": self.api_key,
            "PYTHONDONTWRITEBYTECODE": "1",
        }

    def call(self, target: str, *args: Any, **kwargs: Any) -> Any:
        """Call e.g. `datasets.get` on a fresh CrucibleClient; return its JSON-able result."""
        payload = json.dumps({"target": target, "args": list(args), "kwargs": kwargs})
        done = subprocess.run([str(self.python), str(DRIVER)], input=payload,
                              capture_output=True, text=True, env=self._env(),
                              cwd=str(self.home), timeout=CALL_TIMEOUT_S)
        lines = done.stdout.strip().splitlines()
        if done.returncode != 0 or not lines:
            raise AssertionError(f"driver crashed ({done.returncode}): {done.stderr[-3000:]}")
        report = json.loads(lines[-1])
        self.last_trace = report["trace"]
        if not report["ok"]:
            raise NanoCallError(report["error"], report["trace"])
        return report["value"]

    Error = NanoCallError

    @staticmethod
    def requests_to(trace: list[dict[str, Any]], method: str, suffix: str) -> list[dict[str, Any]]:
        """Trace entries with this method whose path ends with `suffix`."""
        return [t for t in trace if t["method"] == method and t["path"].endswith(suffix)]

    def as_key(self, api_key: str) -> "NanoCrucible":
        """The same client set up with another user's API key."""
        return NanoCrucible(self.python, self.api_url, api_key, self.home)


@pytest.fixture(scope="session")
def nano_python() -> Path:
    """Interpreter of the cached venv that holds the pinned nano-crucible release."""
    return ensure_nano_venv(REPO / ".cache" / "compat")


@pytest.fixture(scope="session")
def nano(nano_python, crucible_server, crucible_user, tmp_path_factory) -> NanoCrucible:
    """nano-crucible pointed at the local server as the normal test user, with a throwaway HOME."""
    home = tmp_path_factory.mktemp("nano-home")
    return NanoCrucible(nano_python, crucible_server.url, crucible_user.api_key, home)


@pytest.fixture(scope="session")
def nano_admin(nano, crucible_server) -> NanoCrucible:
    """The same client holding the server's bootstrap admin key."""
    return nano.as_key(crucible_server.admin_key)

