"""Fixtures for the plain-client tests: clients on the shared local server, files, datasets."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

import pytest

from crucible import CrucibleClient, Dataset, RetryPolicy

FAST = RetryPolicy(attempts=4, backoff=0.01, backoff_max=0.1, deadline=60)
CHUNK = 256 * 1024


def local_crucible_class():
    """The server helper's LocalCrucible (a subprocess server we can give faults)."""
    from crucible.server.local import LocalCrucible

    return LocalCrucible


@pytest.fixture
def client(crucible_server, crucible_user) -> CrucibleClient:
    with CrucibleClient(crucible_server.url, crucible_user.api_key, retry=FAST,
                        chunk_size=CHUNK) as c:
        yield c


@pytest.fixture
def admin(crucible_server) -> CrucibleClient:
    with CrucibleClient(crucible_server.url, crucible_server.admin_key, retry=FAST,
                        chunk_size=CHUNK) as c:
        yield c


@pytest.fixture
def project_id(crucible_user) -> str:
    return crucible_user.project_id


@pytest.fixture
def make_file(tmp_path: Path) -> Callable[..., Path]:
    """``make_file(name, size)`` writes random bytes below a fresh directory."""
    src = tmp_path / "src"

    def make(name: str = "data.bin", size: int = 1000, content: bytes | None = None) -> Path:
        p = src / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(content if content is not None else os.urandom(size))
        return p

    return make


@pytest.fixture
def dataset(client, project_id, request) -> str:
    """A fresh, empty dataset in the user's project."""
    name = f"ds-{request.node.name}"[:120]
    return client.datasets.create(Dataset(dataset_name=name, project_id=project_id))["dsid"]


@pytest.fixture(scope="session")
def faulty_server():
    """A second local server for fault-injection tests (faults set per test, off by default),
    so the shared server stays clean for the other layers."""
    with local_crucible_class()() as srv:
        yield srv


@pytest.fixture(scope="session")
def faulty_key(faulty_server) -> str:
    return faulty_server.add_user("0000-0003-0000-0007", first_name="Flaky",
                                  projects=["FLAKY"])


def first_faults(*kinds: str | None, rate: float = 0.5) -> int:
    """A fault seed whose first requests get exactly ``kinds`` (None = no fault), computed from
    the server's own deterministic schedule."""
    from crucible.server.faults import FaultInjector

    for seed in range(100_000):
        inj = FaultInjector(None, rate, seed)
        if tuple(inj.decide() for _ in kinds) == kinds:
            return seed
    raise AssertionError(f"no seed gives {kinds}")
