"""crucible.secrets: the one list of secret fsspec option names, at any depth."""

from __future__ import annotations

import pytest

from crucible.secrets import secret_paths, url_has_password

BACKENDS = {
    "s3fs": {"key": "AKIA", "secret": "s", "token": "t",
             "client_kwargs": {"aws_secret_access_key": "s", "aws_session_token": "t",
                               "aws_access_key_id": "AKIA", "region_name": "us-west-2"},
             "endpoint_url": "http://minio:9000"},
    "gcsfs": {"project": "lab", "token": {"type": "service_account", "private_key": "-----"},
              "credentials": "/etc/sa.json"},
    "adlfs": {"account_name": "lab", "account_key": "k", "connection_string": "AccountKey=k",
              "sas_token": "sv=1", "client_secret": "c", "tenant_id": "t"},
    "sftp": {"host": "pc", "username": "u", "password": "p", "pkey": "k",
             "key_filename": "/home/u/.ssh/id_rsa", "passphrase": "x", "port": 22},
    "smb": {"host": "nas", "username": "u", "password": "p"},
}
EXPECTED = {
    "s3fs": ["key", "secret", "token", "client_kwargs.aws_secret_access_key",
             "client_kwargs.aws_session_token", "client_kwargs.aws_access_key_id"],
    "gcsfs": ["token", "credentials"],
    "adlfs": ["account_key", "connection_string", "sas_token", "client_secret"],
    "sftp": ["password", "pkey", "key_filename", "passphrase"],
    "smb": ["password"],
}


@pytest.mark.parametrize("backend", sorted(BACKENDS))
def test_each_backends_secret_names_are_found(backend):
    assert secret_paths(BACKENDS[backend]) == EXPECTED[backend]


@pytest.mark.parametrize("backend", sorted(BACKENDS))
def test_secrets_are_found_at_any_depth(backend):
    nested = {"outer": [{"fo": {"deep": BACKENDS[backend]}}], "Password": "upper case too"}
    assert secret_paths(nested) == (
        [f"outer[0].fo.deep.{p}" for p in EXPECTED[backend]] + ["Password"])


def test_options_without_secrets_and_empty_or_method_values_pass():
    assert secret_paths(None) == []
    assert secret_paths({"host": "pc", "port": 22, "anon": True, "token": "anon",
                         "key": None, "secret": "", "client_kwargs": {"region_name": "x"},
                         "listings_expiry_time": 5, "keywords": ["a"]}) == []
    assert secret_paths({"token": "google_default"}) == []
    assert secret_paths({"token": "ya29.actual-token"}) == ["token"]


def test_a_password_in_a_url_is_seen():
    assert url_has_password("sftp://u:pw@pc/data")
    assert not url_has_password("sftp://u@pc/data")
    assert not url_has_password("/data/tem")
    assert not url_has_password(None)
