"""Pytest fixtures for mirror tests: an S3 endpoint (moto's server mode on a loopback port).

Import the fixtures into a test module (``from crucible.mirror.testing import s3_endpoint, s3_bucket``).
The server is real HTTP: s3fs talks to it exactly as to AWS (multipart uploads included).
"""

from __future__ import annotations

import logging
import uuid
from typing import Any, Iterator

import pytest

S3_OPTIONS: dict[str, Any] = {"key": "testing", "secret": "testing",
              "client_kwargs": {"region_name": "us-east-1"}}


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """``http://127.0.0.1:<port>`` of a moto S3 server for the whole session."""
    try:
        from moto import server as moto_server
    except ImportError as exc:  # the test extra installs moto: a missing one must fail, not skip
        raise RuntimeError("S3 tests need moto[server]: pip install -e '.[test]'") from exc
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def s3_storage_options(endpoint: str) -> dict:
    """s3fs options for the moto endpoint (no listing cache: tests look at fresh state)."""
    return {**S3_OPTIONS, "client_kwargs": {**S3_OPTIONS["client_kwargs"], "endpoint_url": endpoint},
            "use_listings_cache": False}


@pytest.fixture
def s3_bucket(s3_endpoint: str) -> str:
    """A fresh, empty bucket; returns its name."""
    import boto3

    name = f"mirror-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=s3_endpoint, aws_access_key_id="testing",
                 aws_secret_access_key="testing", region_name="us-east-1").create_bucket(Bucket=name)
    return name
