"""Publishing through /resources/{id}/access/public (how nano-crucible 3.3 sets `public`)."""

from __future__ import annotations


def test_access_public_publishes_and_unpublishes(api, new_dataset, make_user):
    dsid = new_dataset()["unique_id"]
    outsider, _, _ = make_user()
    assert outsider.get(f"/datasets/{dsid}").status_code == 404

    grant = api.put(f"/resources/{dsid}/access/public")
    assert grant.status_code == 200 and grant.json()["principal_type"] == "public"
    assert outsider.get(f"/datasets/{dsid}").json()["public"] is True
    assert outsider.put(f"/resources/{dsid}/access/public").status_code == 403  # read, not write

    assert api.delete(f"/resources/{dsid}/access/public").status_code == 200
    assert outsider.get(f"/datasets/{dsid}").status_code == 404
