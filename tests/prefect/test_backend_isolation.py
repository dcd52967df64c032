"""``prefect_backend`` never writes to the user's Prefect server: PREFECT_API_URL is ignored, a
temporary server is started, and only CRUCIBLE_TEST_PREFECT_API_URL selects an existing one."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
import uuid

import pytest

INNER_TEST = textwrap.dedent("""
    import os

    def test_backend(prefect_backend):
        from prefect.blocks.system import Secret
        from prefect.settings import PREFECT_API_URL

        assert prefect_backend != os.environ["USER_URL"]
        assert PREFECT_API_URL.value() == os.environ["PREFECT_API_URL"] == prefect_backend
        assert "PREFECT_API_KEY" not in os.environ
        Secret(value="written by the inner session").save(os.environ["BLOCK_NAME"], overwrite=True)
""")


def _dead_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}/api"


def _run_inner(tmp_path, **env: str) -> subprocess.CompletedProcess:
    (tmp_path / "test_inner.py").write_text(INNER_TEST)
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("CRUCIBLE_TEST_")}
    full_env.pop("PREFECT_API_URL", None)
    full_env.update(env)
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "crucible_prefect.testing",
                           "-p", "no:cacheprovider", "test_inner.py"],
                          cwd=tmp_path, env=full_env, capture_output=True, text=True, timeout=300)


@pytest.mark.slow  # starts a second Prefect server (about 10 s on an idle machine)
def test_user_prefect_api_url_is_ignored_for_a_temporary_server(tmp_path):
    """A session with PREFECT_API_URL (and a key) exported runs against a server of its own."""
    user_url = _dead_url()  # the "user's server": any request to it would fail the inner test
    out = _run_inner(tmp_path, PREFECT_API_URL=user_url, PREFECT_API_KEY="pnu_user_key",
                     USER_URL=user_url,
                     BLOCK_NAME=f"inner-{uuid.uuid4().hex[:8]}")
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]


def test_an_existing_server_only_by_explicit_opt_in():
    from crucible_prefect.testing import existing_api_url

    assert existing_api_url({"PREFECT_API_URL": "http://prefect-host:4200/api"}) is None
    assert existing_api_url({"PREFECT_API_URL": "http://prefect-host:4200/api",
                             "CRUCIBLE_TEST_PREFECT_API_URL": "http://127.0.0.1:4200/api"}) \
        == "http://127.0.0.1:4200/api"
