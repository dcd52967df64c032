"""The ``crucible server`` commands: add-user prints the key last; start prints the URL first."""

import os
import subprocess
import sys

import requests

from crucible.server.local import LocalCrucible


def _crucible(*args, env=None):
    """``crucible server ...`` through ``python -m crucible.server`` (same parser, no Prefect import)."""
    assert args[0] == "server"
    return subprocess.run([sys.executable, "-m", "crucible.server", *args[1:]], capture_output=True,
                          text=True, timeout=60, env=env)


def test_cli_module_is_light():
    code = ("import sys, argparse, crucible.server.cli as c; "
            "c.register(argparse.ArgumentParser().add_subparsers()); "
            "assert not {'fastapi', 'sqlalchemy', 'uvicorn'} & set(sys.modules), sorted(sys.modules)")
    assert subprocess.run([sys.executable, "-c", code], timeout=60).returncode == 0


def test_add_user_then_start_prints_url_and_uses_env_admin_key(tmp_path):
    import time

    data_dir = tmp_path / "srv"
    out = _crucible("server", "add-user", "--data-dir", str(data_dir), "--orcid", "0000-0006-0000-0001",
                    "--first-name", "Cli", "--project", "CLIPROJ", "--project", "CLIPROJ2")
    assert out.returncode == 0, out.stderr
    key = out.stdout.strip().splitlines()[-1]
    assert len(key) > 20 and key not in out.stderr
    env = dict(os.environ, CRUCIBLE_SERVER_ADMIN_KEY="fixed-admin-key-for-test")
    proc = subprocess.Popen([sys.executable, "-m", "crucible.server", "start", "--port", "0",
                             "--data-dir", str(data_dir)], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=env)
    try:
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:") and url.endswith("/api/v2")
        assert "fixed-admin-key-for-test" not in proc.stdout.readline()
        deadline = time.monotonic() + 60
        while True:
            try:
                admin = requests.get(url + "/account", timeout=5,
                                     headers={"Authorization": "Bearer fixed-admin-key-for-test"})
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline
                time.sleep(0.1)
        assert admin.status_code == 200 and admin.json()["user_info"]["is_admin"] is True
        acc = requests.get(url + "/account", headers={"Authorization": f"Bearer {key}"}, timeout=10).json()
        assert {"CLIPROJ", "CLIPROJ2"} <= set(acc["access_group_ids"])
        assert acc["user_info"]["first_name"] == "Cli" and acc["user_info"]["is_admin"] is False
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def test_failed_start_cleans_up(tmp_path, crucible_server):
    import pytest

    with pytest.raises(RuntimeError):
        with LocalCrucible(tmp_path / "b", port=crucible_server.port):  # the port is taken
            pass
    assert requests.get(crucible_server.url + "/health/live", timeout=10).ok  # untouched
