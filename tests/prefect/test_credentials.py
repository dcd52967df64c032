"""The CrucibleCredentials block: Prefect's block standards, secrecy, client caching, registration."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from prefect.blocks.core import Block
from prefect.testing.standard_test_suites import BlockStandardTestSuite

from crucible_prefect import CrucibleCredentials
from crucible_prefect.credentials import clear_client_cache


class TestBlockStandards(BlockStandardTestSuite):
    """Prefect's own block checks, all of which run offline except the logo check."""

    @pytest.fixture
    def block(self) -> type[Block]:
        return CrucibleCredentials

    def test_has_a_valid_image(self, block: type[Block]) -> None:
        """Downloads ``_logo_url`` and measures it with Pillow: it needs the internet, which
        our test machines do not have. Run it with ``BLOCK_LOGO_ONLINE=1`` where they do."""
        if os.environ.get("BLOCK_LOGO_ONLINE") != "1":
            pytest.skip("downloads the logo from the internet (set BLOCK_LOGO_ONLINE=1)")
        pytest.importorskip("PIL", reason="measuring the logo needs Pillow")
        super().test_has_a_valid_image(block)


def _block(key: str = "sk-alpha-0123456789", url: str = "http://127.0.0.1:9/api/v2"):
    return CrucibleCredentials(api_url=url, api_key=key)


def test_key_is_masked_in_repr_dump_and_schema():
    creds = _block("sk-very-secret-value-42")
    assert "sk-very-secret-value-42" not in repr(creds)
    assert "sk-very-secret-value-42" not in str(creds.model_dump())
    assert "sk-very-secret-value-42" not in creds.model_dump_json()
    assert creds.api_key.get_secret_value() == "sk-very-secret-value-42"
    assert "api_key" in CrucibleCredentials.model_json_schema()["secret_fields"]


def test_block_metadata():
    assert CrucibleCredentials.get_block_type_slug() == "crucible-credentials"
    assert CrucibleCredentials._logo_url.endswith(".png")
    assert CrucibleCredentials.get_description()


def test_missing_or_bad_values_are_rejected():
    with pytest.raises(ValueError):
        CrucibleCredentials(api_url="http://x")  # no key
    with pytest.raises(ValueError):
        CrucibleCredentials(api_url="http://x", api_key="k", read_timeout=0)
    with pytest.raises(ValueError):
        CrucibleCredentials(api_url="http://x", api_key="k", retry_attempts=0)
    with pytest.raises(ValueError, match="http"):
        CrucibleCredentials(api_url="crucible.lbl.gov/api/v2", api_key="k")
    with pytest.raises(ValueError, match="empty"):
        CrucibleCredentials(api_url="http://x", api_key="  ")
    assert CrucibleCredentials(api_url="http://x/api/v2/", api_key="k").api_url == "http://x/api/v2"


def test_client_cache_keys_on_the_key_not_the_mask():
    clear_client_cache()
    a1 = _block("key-aaaaaaaaaaaa").get_client()
    a2 = _block("key-aaaaaaaaaaaa").get_client()
    b = _block("key-bbbbbbbbbbbb").get_client()
    other_url = _block("key-aaaaaaaaaaaa", url="http://127.0.0.1:10/api/v2").get_client()
    other_timeout = CrucibleCredentials(api_url="http://127.0.0.1:9/api/v2",
                                        api_key="key-aaaaaaaaaaaa", read_timeout=3).get_client()
    assert a1 is a2
    assert len({id(a1), id(b), id(other_url), id(other_timeout)}) == 4
    clear_client_cache()
    assert _block("key-aaaaaaaaaaaa").get_client() is not a1


def test_fingerprint_identifies_the_key_without_revealing_it():
    a, b = _block("key-aaaaaaaaaaaa"), _block("key-bbbbbbbbbbbb")
    assert a.key_fingerprint() != b.key_fingerprint()
    assert a.key_fingerprint() == _block("key-aaaaaaaaaaaa").key_fingerprint()
    assert "key-aaaaaaaaaaaa" not in a.key_fingerprint()


@pytest.mark.prefect
def test_save_and_load_round_trip(prefect_backend):
    creds = CrucibleCredentials(api_url="http://127.0.0.1:9/api/v2", api_key="sk-roundtrip-77",
                                read_timeout=12.5)
    creds.save("roundtrip-test", overwrite=True)
    loaded = CrucibleCredentials.load("roundtrip-test")
    assert loaded.api_key.get_secret_value() == "sk-roundtrip-77"
    assert loaded.read_timeout == 12.5
    assert loaded.api_url == creds.api_url


@pytest.mark.prefect
def test_prefect_block_register_module(prefect_backend):
    env = dict(os.environ, PREFECT_API_URL=prefect_backend)
    out = subprocess.run([sys.executable, "-m", "prefect", "block", "register", "-m",
                          "crucible_prefect"], capture_output=True, text=True, env=env,
                         timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Crucible Credentials" in out.stdout

    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        block_type = client.read_block_type_by_slug("crucible-credentials")
    assert block_type.name == "Crucible Credentials"
    assert str(block_type.logo_url) == CrucibleCredentials._logo_url


def test_prefect_finds_the_block_through_the_collections_entry_point():
    code = (
        "from importlib.metadata import entry_points\n"
        "assert 'crucible_prefect' in {e.name for e in entry_points(group='prefect.collections')}\n"
        "from prefect.plugins import load_prefect_collections\n"
        "load_prefect_collections()\n"
        "from prefect.blocks.core import Block\n"
        "cls = Block.get_block_class_from_key('crucible-credentials')\n"
        "print(cls.__module__, cls.__name__)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, cwd="/")
    assert out.returncode == 0, out.stderr
    assert out.stdout.split()[-2:] == ["crucible_prefect.credentials", "CrucibleCredentials"]
