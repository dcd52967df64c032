"""Projects as nano-crucible 3.3.0 addresses them: by slug (resolved through the list) or MFID."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.compat]


def test_get_a_project_by_slug_and_by_its_mfid(nano, crucible_user):
    by_slug = nano.call("projects.get", crucible_user.project_id)

    assert by_slug["project_id"] == crucible_user.project_id
    [lookup] = nano.requests_to(nano.last_trace, "GET", "/projects")
    assert lookup["query"] == {"project_id": crucible_user.project_id, "limit": "2"}
    by_mfid = nano.call("projects.get", by_slug["unique_id"])
    assert by_mfid["project_id"] == crucible_user.project_id
    assert nano.call("projects.get", crucible_user.project_id.lower())["unique_id"] == by_slug["unique_id"]


def test_project_metadata_through_the_slug(nano, crucible_user):
    merged = nano.call("projects.update_scientific_metadata", crucible_user.project_id,
                       {"beamline": {"id": "7.3.3"}})

    assert merged["scientific_metadata"]["beamline"] == {"id": "7.3.3"}
    read = nano.call("projects.get_scientific_metadata", crucible_user.project_id)
    assert read["scientific_metadata"]["beamline"] == {"id": "7.3.3"}


def test_an_unknown_project_is_not_found(nano):
    with pytest.raises(nano.Error) as missing:
        nano.call("projects.get", "NO-SUCH-PROJECT")

    assert missing.value.type == "IdentifierNotFoundError"
