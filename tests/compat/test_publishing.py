"""Publishing a dataset the way nano-crucible 3.3.0 does it (an access grant to the public)."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.compat]


def test_set_public_lets_an_outsider_read_and_set_private_hides_it_again(
        nano, crucible_user, crucible_server):
    dsid = nano.call("datasets.create", {"$model": "Dataset", "dataset_name": "compat public",
                                         "project_id": crucible_user.project_id})["dataset_mfid"]
    outsider = nano.as_key(crucible_server.add_user(
        "0000-0001-5109-3700", first_name="Out", last_name="Sider", projects=["COMPATOTHER"]))
    with pytest.raises(nano.Error) as hidden:
        outsider.call("datasets.get", dsid)
    assert hidden.value.status == 404

    updated = nano.call("datasets.update", dsid, public=True)

    assert updated["public"] is True
    [grant] = nano.requests_to(nano.last_trace, "PUT", f"/resources/{dsid}/access/public")
    assert grant["status"] == 200
    assert outsider.call("datasets.get", dsid)["public"] is True
    nano.call("datasets.set_private", dsid)
    with pytest.raises(nano.Error) as hidden_again:
        outsider.call("datasets.get", dsid)
    assert hidden_again.value.status == 404
