"""Configuration: precedence, nano-crucible's config.ini, no import-time side effects."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from crucible import CrucibleClient
from crucible.config import (DEFAULT_API_URL, config_file_path, read_config_file, resolve_config,
                             write_config_file)

KEY = "file-key-0123456789abcdef"


@pytest.fixture
def ini(tmp_path) -> Path:
    p = tmp_path / "config.ini"
    p.write_text('[crucible]\napi_url = "http://file.example/api/v2/"\napi_key = ' + KEY +
                 "\n\n[network]\nread_timeout = 12\n")
    return p


def test_precedence_args_env_file_default(ini):
    env = {"CRUCIBLE_API_URL": "http://env.example/api/v2", "CRUCIBLE_CONNECT_TIMEOUT": "2"}
    c = resolve_config(config_path=ini, environ=env)
    assert c.api_url == "http://env.example/api/v2" and c.api_key == KEY
    assert (c.connect_timeout, c.read_timeout) == (2.0, 12.0)
    assert c.source["api_url"].startswith("environment") and c.source["api_key"] == "config file"
    c = resolve_config("http://arg.example/api/v2", "arg-key", config_path=ini, environ=env,
                       read_timeout=99)
    assert (c.api_url, c.api_key, c.read_timeout) == ("http://arg.example/api/v2", "arg-key", 99)
    c = resolve_config(api_key="k", environ={"CRUCIBLE_UPLOAD_CHUNK_SIZE_MB": "1"},
                       config_path=ini)
    assert c.chunk_size == 1024 * 1024
    c = resolve_config(api_key="k", config_path=ini.parent / "none.ini", environ={})
    assert c.api_url == DEFAULT_API_URL and c.read_timeout == 30.0
    c = resolve_config(config_path=ini, environ={})
    assert c.api_url == "http://file.example/api/v2"  # quotes and trailing slash removed


def test_old_flat_files_and_file_location(tmp_path):
    p = tmp_path / "flat.ini"
    p.write_text("[crucible]\napi_key = flat\nread_timeout = '7'\n")
    assert read_config_file(p) == {"api_key": "flat", "read_timeout": "7"}
    assert config_file_path({"HOME": "/h", "XDG_CONFIG_HOME": "/x"}) in (
        Path("/x/nano-crucible/config.ini"),
        Path("/h/Library/Application Support/nano-crucible/config.ini"),
        Path("/h/AppData/Local/nano-crucible/nano-crucible/config.ini"))


def test_missing_key_is_a_value_error(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(ValueError, match="API key"):
        CrucibleClient("http://127.0.0.1:9/api/v2")
    with pytest.raises(ValueError, match="read_timeout"):
        resolve_config(api_key="k", environ={"CRUCIBLE_READ_TIMEOUT": "soon"})


def test_environment_reaches_the_client(monkeypatch, crucible_server, crucible_user):
    monkeypatch.setenv("CRUCIBLE_API_URL", crucible_server.url)
    monkeypatch.setenv("CRUCIBLE_API_KEY", crucible_user.api_key)
    with CrucibleClient() as c:
        assert c.whoami()["user_info"]["unique_id"] == crucible_user.orcid


def test_config_file_reaches_the_client(tmp_path, monkeypatch, crucible_server, crucible_user):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    path = write_config_file({"api_url": crucible_server.url, "api_key": crucible_user.api_key})
    assert path == tmp_path / "nano-crucible" / "config.ini"
    with CrucibleClient() as c:
        assert c.whoami()["user_info"]["unique_id"] == crucible_user.orcid


def test_written_file_is_private(tmp_path):
    p = tmp_path / "c" / "config.ini"
    p.parent.mkdir()
    p.write_text("[display]\neditor = vi\n")
    os.chmod(p, 0o644)
    write_config_file({"api_key": "secret-value"}, p)
    assert stat.S_IMODE(p.stat().st_mode) == 0o600
    assert "editor = vi" in p.read_text()  # other settings kept
    assert read_config_file(p)["api_key"] == "secret-value"


def test_import_reads_and_creates_nothing(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    cfg = home / ".config" / "nano-crucible"
    cfg.mkdir(parents=True)
    (cfg / "config.ini").write_text("this is not an ini file [[[")
    env = {"HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"),
           "XDG_CACHE_HOME": str(home / ".cache"), "PATH": os.environ.get("PATH", "")}
    code = ("import crucible, crucible.client_cli, crucible.transfer, logging;"
            "assert logging.getLogger('crucible').level == logging.NOTSET")
    subprocess.run([sys.executable, "-c", code], env=env, check=True,
                   cwd=str(Path(__file__).resolve().parents[2]))
    assert sorted(p.relative_to(home) for p in home.rglob("*")) == [
        Path(".config"), Path(".config/nano-crucible"), Path(".config/nano-crucible/config.ini")]
