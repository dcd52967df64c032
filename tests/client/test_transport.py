"""The transport's retry rules, driven by the local server's deterministic fault injection."""

from __future__ import annotations

import base64
import logging
from email.utils import formatdate

import pytest
import requests

from crucible import (CrucibleClient, CrucibleConnectionError, Dataset, RateLimitedError,
                      RetryPolicy, ServerError)
from crucible.mfid import new_mfid
from crucible.transport import _retry_after_seconds

from .conftest import first_faults

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==")
QUICK = RetryPolicy(attempts=6, backoff=0.01, backoff_max=0.05, deadline=60)


@pytest.fixture
def flaky(faulty_server, faulty_key):
    faulty_server.set_faults(0.0)
    with CrucibleClient(faulty_server.url, faulty_key, retry=QUICK, read_timeout=10) as c:
        yield c
    faulty_server.set_faults(0.0)


def _arm(server, *kinds):
    server.set_faults(0.5, first_faults(*kinds))


def test_create_whose_response_is_lost_makes_one_dataset(flaky, faulty_server, caplog):
    session = new_mfid()
    _arm(faulty_server, "commit_drop", None, None)
    with caplog.at_level(logging.DEBUG, logger="crucible"):
        res = flaky.datasets.create(Dataset(dataset_name="lost", project_id="FLAKY",
                                            session_name=session))
    faulty_server.set_faults(0.0)
    assert res["created_record"]["dataset_name"] == "lost"
    assert any("earlier attempt landed" in r.getMessage() for r in caplog.records)
    assert flaky.datasets.count(session_name=session) == 1


@pytest.mark.parametrize("what", ["sample", "project", "instrument"])
def test_other_creates_whose_response_is_lost(faulty_server, what):
    name = "lost-" + new_mfid()[-8:]
    with CrucibleClient(faulty_server.url, faulty_server.admin_key, retry=QUICK) as admin:
        _arm(faulty_server, "commit_drop", None, None)
        if what == "sample":
            made = admin.samples.create(sample_name=name, project_id="FLAKY")
            faulty_server.set_faults(0.0)
            assert [s["unique_id"] for s in admin.samples.list(sample_name=name)] == [
                made["unique_id"]]
        elif what == "project":
            made = admin.projects.create({"project_id": name, "organization": "o"})
            faulty_server.set_faults(0.0)
            assert admin.projects.get(name)["project_id"] == made["project_id"] == name
        else:
            made = admin.instruments.create({"instrument_name": name, "owner": "o",
                                             "location": "l"})
            faulty_server.set_faults(0.0)
            assert [i["unique_id"] for i in admin.instruments.list(instrument_name=name)] == [
                made["unique_id"]]


def test_unsafe_post_is_not_resent_after_a_lost_response(flaky, faulty_server):
    dsid = flaky.datasets.create(Dataset(dataset_name="thumbs", project_id="FLAKY"))["dsid"]
    _arm(faulty_server, "commit_drop", None)
    with pytest.raises(CrucibleConnectionError) as err:
        flaky.datasets.add_thumbnail(dsid, PNG, thumbnail_name="once")
    assert isinstance(err.value, requests.ConnectionError)
    assert str(err.value).startswith(f"POST /datasets/{dsid}/thumbnails: no answer")
    faulty_server.set_faults(0.0)
    assert [t["thumbnail_name"] for t in flaky.datasets.get_thumbnails(dsid)] == ["once"]


def test_unsafe_post_is_resent_after_429(flaky, faulty_server):
    dsid = flaky.datasets.create(Dataset(dataset_name="thumbs", project_id="FLAKY"))["dsid"]
    _arm(faulty_server, "429", None)
    flaky.datasets.add_thumbnail(dsid, PNG, thumbnail_name="t")
    faulty_server.set_faults(0.0)
    assert len(flaky.datasets.get_thumbnails(dsid)) == 1


@pytest.mark.parametrize("kind", ["503", "drop", "commit_drop", "429"])
def test_get_survives_each_fault(flaky, faulty_server, kind):
    dsid = flaky.datasets.create(Dataset(dataset_name="g", project_id="FLAKY"))["dsid"]
    _arm(faulty_server, kind, None)
    assert flaky.datasets.get(dsid)["unique_id"] == dsid


def test_read_timeouts(faulty_server, faulty_key):
    """A slow answer times out: a GET is re-sent, a thumbnail POST is not (the server may
    have acted), so the thumbnail exists at most once."""
    with CrucibleClient(faulty_server.url, faulty_key, retry=QUICK, read_timeout=0.5) as c:
        dsid = c.datasets.create(Dataset(dataset_name="slow", project_id="FLAKY"))["dsid"]
        _arm(faulty_server, "slow", None)
        assert c.datasets.get(dsid)["unique_id"] == dsid
        _arm(faulty_server, "slow", None)
        with pytest.raises(CrucibleConnectionError) as err:
            c.datasets.add_thumbnail(dsid, PNG, thumbnail_name="slow")
        assert isinstance(err.value, requests.Timeout)
        faulty_server.set_faults(0.0)
        import time

        time.sleep(2.0)  # let the delayed request finish (or be dropped) on the server
        assert [t["thumbnail_name"] for t in c.datasets.get_thumbnails(dsid)] in ([], ["slow"])


def test_retry_after_is_honoured(flaky, faulty_server, caplog):
    _arm(faulty_server, "429", None)
    with caplog.at_level(logging.INFO, logger="crucible.transport"):
        flaky.whoami()
    msgs = [r.getMessage() for r in caplog.records if "retrying in" in r.getMessage()]
    assert msgs and "HTTP 429" in msgs[0] and "retrying in 1.00s" in msgs[0]


def test_errors_after_the_last_attempt(faulty_server, faulty_key):
    with CrucibleClient(faulty_server.url, faulty_key, retry=RetryPolicy.none()) as c:
        _arm(faulty_server, "503")
        with pytest.raises(ServerError) as err:
            c.whoami()
        assert isinstance(err.value, requests.HTTPError) and err.value.status_code == 503
        assert "GET /account -> 503" in str(err.value)
        _arm(faulty_server, "429")
        with pytest.raises(RateLimitedError) as err:
            c.whoami()
        assert err.value.retry_after == 1.0
    faulty_server.set_faults(0.0)


def test_the_deadline_bounds_the_attempts(faulty_server, faulty_key, caplog):
    faulty_server.set_faults(1.0, 3)
    policy = RetryPolicy(attempts=1000, backoff=0.05, backoff_max=0.05, deadline=1.0)
    with CrucibleClient(faulty_server.url, faulty_key, retry=policy, read_timeout=5) as c:
        with caplog.at_level(logging.INFO, logger="crucible.transport"):
            with pytest.raises((requests.RequestException, ServerError, RateLimitedError)):
                c.whoami()
    faulty_server.set_faults(0.0)
    assert 1 <= sum("retrying in" in r.getMessage() for r in caplog.records) < 100


def test_delete_whose_response_is_lost_counts_as_done(flaky, faulty_server):
    a = flaky.datasets.create(Dataset(dataset_name="p", project_id="FLAKY"))["dsid"]
    b = flaky.datasets.create(Dataset(dataset_name="c", project_id="FLAKY"))["dsid"]
    flaky.datasets.link_parent_child(a, b)
    _arm(faulty_server, "commit_drop", None)
    flaky.datasets.remove_child(a, b)
    faulty_server.set_faults(0.0)
    assert flaky.datasets.list_children(a) == []


def test_link_and_keyword_whose_response_is_lost(flaky, faulty_server):
    a = flaky.datasets.create(Dataset(dataset_name="p", project_id="FLAKY"))["dsid"]
    b = flaky.datasets.create(Dataset(dataset_name="c", project_id="FLAKY"))["dsid"]
    _arm(faulty_server, "commit_drop", None)
    flaky.datasets.link_parent_child(a, b)
    _arm(faulty_server, "commit_drop", None)
    flaky.datasets.add_keyword(a, "once")
    faulty_server.set_faults(0.0)
    assert [d["unique_id"] for d in flaky.datasets.list_children(a)] == [b]
    kws = flaky.datasets.get_keywords(a)
    assert [k["keyword"] if isinstance(k, dict) else k for k in kws] == ["once"]


def test_retry_policy_rules():
    with pytest.raises(ValueError):
        RetryPolicy(attempts=0)
    with pytest.raises(ValueError):
        RetryPolicy(deadline=0)
    p = RetryPolicy(backoff=1, backoff_max=4, jitter=0.5)
    waits = [p.sleep_for(n) for n in range(1, 6)]
    assert 1 <= waits[0] <= 1.5 and 2 <= waits[1] <= 3 and all(4 <= w <= 6 for w in waits[2:])
    assert p.sleep_for(3, retry_after=7.0) == 7.0
    assert RetryPolicy.none().attempts == 1


def test_the_default_policy_is_bounded_by_its_deadline_only():
    p = RetryPolicy()
    assert p.attempts is None and p.deadline == 120.0
    assert not p.gives_up(1000, 119.9) and p.gives_up(1, 120.0)
    assert RetryPolicy(attempts=3).gives_up(3, 0.0) and not RetryPolicy(attempts=3).gives_up(2, 0)
    assert all(p.sleep_for(n) <= p.backoff_max * (1 + p.jitter) for n in range(1, 40))


def test_retry_after_header_forms():
    assert _retry_after_seconds("3") == 3.0
    assert _retry_after_seconds(None) is None and _retry_after_seconds("soon") is None
    future = formatdate(timeval=__import__("time").time() + 30, usegmt=True)
    assert 25 <= _retry_after_seconds(future) <= 31


def test_signed_urls_never_carry_netrc_credentials(tmp_path, monkeypatch, client):
    """requests attaches ~/.netrc credentials by default; a storage host must get none."""
    import http.server
    import threading

    from crucible.transfer import stream_url

    seen: list[str | None] = []

    class Storage(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's naming)
            seen.append(self.headers.get("Authorization"))
            body = b"signed bytes"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Storage)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login someone password netrc-secret\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    try:
        url = f"http://127.0.0.1:{httpd.server_address[1]}/blob?sig=abc"
        assert b"".join(stream_url(url, transport=client.transport)) == b"signed bytes"
    finally:
        httpd.shutdown()
    assert seen == [None]


def test_502_and_504_from_a_gateway_are_retried_500_is_not(gateway, crucible_user):
    """A load balancer's 502/504 in front of Crucible is retried; a 500 is the server's answer."""
    statuses = iter([502, 504])
    gateway.answer = lambda method, path: next(statuses, None) if path.endswith("/datasets") else None
    with CrucibleClient(gateway.api, crucible_user.api_key, retry=QUICK) as c:
        assert isinstance(c.datasets.list(limit=5), list)
        assert [m for m, p, q in gateway.seen if p.endswith("/datasets")] == ["GET"] * 3
        gateway.answer = lambda method, path: 500 if path.endswith("/datasets") else None
        before = len(gateway.seen)
        with pytest.raises(ServerError):
            c.datasets.list(limit=5)
        assert len(gateway.seen) == before + 1
