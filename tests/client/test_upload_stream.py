"""Resumable uploads stream each chunk from disk: whole and verified, and a file that ends
early is refused instead of sending a short body."""

from __future__ import annotations

import hashlib

import pytest

from crucible import Dataset
from crucible.errors import TransferError
from crucible.transfer import upload_resumable
from crucible.transfer.upload import GRANULE, SEND_BLOCK


def _session(client, project_id, name: str, size: int) -> dict:
    dsid = client.datasets.create(Dataset(dataset_name=name, project_id=project_id))["dsid"]
    init = client.transport.request("POST", f"datasets/{dsid}/upload/initiate", safe=True,
                                    json={"filename": name, "size": size})
    return {"dsid": dsid, **init}


def test_chunks_larger_than_a_send_block_arrive_whole(client, project_id, make_file):
    size = 2 * SEND_BLOCK + 3 * GRANULE + 17  # several sends per chunk, a short last chunk
    path = make_file("streamed.bin", size)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    init = _session(client, project_id, "streamed.bin", size)
    upload_resumable(client.transport, init["resumable_uri"], path, size=size,
                     chunk_size=SEND_BLOCK + GRANULE)
    rec = client.transport.request("POST", f"datasets/{init['dsid']}/upload/complete", safe=True,
                                   json={"upload_id": init["upload_id"], "sha256_hash": digest})
    assert rec["sha256_hash"] == digest and rec["size"] == size


@pytest.mark.parametrize("chunk", [GRANULE, SEND_BLOCK + GRANULE],
                         ids=["read-whole", "streamed"])
def test_a_file_that_ends_early_is_refused(client, project_id, make_file, chunk):
    path = make_file("short.bin", chunk + 100)
    claimed = 2 * chunk  # the file is shorter than the upload says
    init = _session(client, project_id, "short.bin", claimed)
    with pytest.raises(TransferError, match="shrank"):
        upload_resumable(client.transport, init["resumable_uri"], path, size=claimed,
                         chunk_size=chunk)
