"""nano-crucible 3.3.0 identifies itself against the local server."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.compat


def test_whoami_names_the_key_owner_and_its_project(nano, crucible_user):
    me = nano.call("whoami")

    assert me["user_unique_id"] == crucible_user.orcid
    assert crucible_user.project_id in me["access_group_ids"]
    assert me["user_info"]["unique_id"] == crucible_user.orcid
    [request] = nano.requests_to(nano.last_trace, "GET", "/account")
    assert request["auth"] and request["status"] == 200


def test_a_wrong_key_is_refused_with_401(nano):
    with pytest.raises(nano.Error) as refused:
        nano.as_key("not-a-real-key").call("whoami")

    assert refused.value.status == 401


def test_health_is_readable_without_a_key(nano):
    stranger = nano.as_key("not-a-real-key")
    health = stranger.call("health")

    assert health["status"] == "ok"
    [request] = stranger.requests_to(stranger.last_trace, "GET", "/health/ready")
    assert not request["auth"]
