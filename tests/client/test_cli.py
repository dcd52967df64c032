"""``crucible config|status|get|download`` through the real dispatcher."""

from __future__ import annotations

import json
import stat

import pytest

from crucible.cli import main


@pytest.fixture
def env(monkeypatch, tmp_path, crucible_server, crucible_user):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("CRUCIBLE_API_URL", crucible_server.url)
    monkeypatch.setenv("CRUCIBLE_API_KEY", crucible_user.api_key)
    return crucible_user


def test_config_init_and_show(tmp_path, monkeypatch, capsys, crucible_server):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    key = "cli-key-0123456789abcdefWXYZ"
    assert main(["config", "init", "--api-url", crucible_server.url, "--api-key", key]) == 0
    path = tmp_path / "nano-crucible" / "config.ini"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    err = capsys.readouterr().err
    assert key not in err and "WXYZ" in err
    assert main(["config", "show"]) == 0
    shown = capsys.readouterr().out
    data = json.loads(shown)
    assert key not in shown and data["api_key"] == "****WXYZ"
    assert data["api_url"] == crucible_server.url and data["sources"]["api_key"] == "config file"


def test_status_and_get(env, capsys, client, project_id):
    assert main(["status"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["health"]["status"] in ("ok", "degraded")
    assert out["account"]["user_info"]["unique_id"] == env.orcid
    dsid = client.datasets.create({"dataset_name": "cli", "project_id": project_id},
                                  scientific_metadata={"q": 1})["dsid"]
    assert main(["get", dsid, "--metadata"]) == 0
    got = json.loads(capsys.readouterr().out)
    assert got["unique_id"] == dsid and got["scientific_metadata"] == {"q": 1}


def test_download(env, capsys, client, project_id, make_file, tmp_path):
    a = make_file("a.txt", content=b"alpha")
    b = make_file("b.dat", content=b"beta")
    dsid = client.datasets.create({"dataset_name": "cli-dl", "project_id": project_id},
                                  files_to_upload=[a, b])["dsid"]
    out = tmp_path / "dl"
    assert main(["download", dsid, "-o", str(out), "--include", "*.txt", "--no-record"]) == 0
    captured = capsys.readouterr()
    assert captured.out.split() == [str(out / dsid / "a.txt")]
    assert (out / dsid / "a.txt").read_bytes() == b"alpha"
    assert not (out / dsid / "b.dat").exists()
    (out / dsid / "a.txt").write_bytes(b"changed")
    assert main(["download", dsid, "-o", str(out), "--keep-existing", "--no-record"]) == 1
    assert "differ" in capsys.readouterr().err
    assert (out / dsid / "a.txt").read_bytes() == b"changed"


def test_errors_are_one_line(monkeypatch, tmp_path, capsys, crucible_server):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    monkeypatch.setenv("CRUCIBLE_API_URL", crucible_server.url)
    monkeypatch.delenv("CRUCIBLE_API_KEY", raising=False)
    assert main(["status"]) == 1
    assert "No Crucible API key" in capsys.readouterr().err
    monkeypatch.setenv("CRUCIBLE_API_KEY", "not-a-real-key-123456")
    assert main(["get", "06h2ayc275tf1c0n03pt0mw1yc"]) == 1
    err = capsys.readouterr().err
    assert "401" in err or "403" in err
    assert "not-a-real-key" not in err
