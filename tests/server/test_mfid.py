"""MFID generation and parsing (contract §2)."""

import uuid

from crucible.mfid import is_mfid, mfid_from_uuid, new_mfid, uuid_from_mfid


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
