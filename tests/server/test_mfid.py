"""MFID generation and parsing."""

import uuid

import pytest

from crucible.mfid import identity_mfid, is_mfid, mfid_from_uuid, name_mfid, new_mfid, uuid_from_mfid


def test_known_example_decodes_to_uuid7():
    assert uuid_from_mfid("0swqzb3a1sthv000xd8kta0vrw").version == 7


def test_new_ids_are_valid_unique_and_time_sorted():
    ids = [new_mfid() for _ in range(5000)]
    assert all(is_mfid(i) and len(i) == 26 for i in ids)
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)


def test_round_trip_and_rejects():
    u = uuid.uuid4()
    assert uuid_from_mfid(mfid_from_uuid(u)) == u
    assert mfid_from_uuid(str(u)) == mfid_from_uuid(u)
    for bad in ["", "0swqzb3a1sthv000xd8kta0vr1", "0SWQZB3A1STHV000XD8KTA0VRW", "i" * 26, None, 5]:
        assert not is_mfid(bad)


_NS = uuid.UUID("5f0e2c7a-33d1-4c1e-9a57-2f9b4c1d8e60")


@pytest.mark.parametrize("name, expected", [
    ("TESTPROJ1", "gqkckff3vs9chew7m3fbkn49xg"),
    ("PRIV100", "9pq74v88j5eq1c658phmxrk45g"),
    ("my-project", "gcvbkq26tsdxne69yg96h43q0g"),
    ("Ünïcode proj", "jtk1kdfc8se2zegk55p7rh2aj4"),
    ("", "4cftt9z191891ca5qd27f27nd4"),
])
def test_name_mfid_is_the_uuid5_of_the_name_and_never_changes(name, expected):
    """Values computed by the server's own uuid5 before name_mfid existed: stored ids keep them."""
    assert name_mfid(_NS, name) == expected == mfid_from_uuid(uuid.uuid5(_NS, name))
    assert name_mfid(str(_NS), name) == expected
    assert uuid_from_mfid(expected).version == 5


def test_name_mfid_separates_namespaces_and_kinds():
    other = uuid.UUID(int=_NS.int ^ 1)
    assert name_mfid(other, "TESTPROJ1") != name_mfid(_NS, "TESTPROJ1")
    assert name_mfid(_NS, "TESTPROJ1") != identity_mfid("TESTPROJ1")
    with pytest.raises(ValueError):
        name_mfid("not a uuid", "x")
