"""What job reports make of their row statuses: "changed nothing" (the flows then publish no
report artifacts) and which rows are problems (listed first in tables and the CLI summary)."""

from __future__ import annotations

from crucible.ingest.report import FileRow, IngestReport
from crucible.linking.models import LinkReport, LinkRow
from crucible.mirror.report import FileResult, MirrorReport


def ingest(*statuses: str, **fields) -> IngestReport:
    return IngestReport(path="/run", run="run", mode="files",
                        files=[FileRow(file=f"f{i}", status=s) for i, s in enumerate(statuses)],
                        **fields)


def test_mirror_only_skipped_files_changed_nothing():
    assert MirrorReport(destination="d", results=[FileResult("ds", "a", "skipped")]).changed_nothing
    for status in ("copied", "verified", "deleted", "failed"):
        report = MirrorReport(destination="d", results=[FileResult("ds", "a", "skipped"),
                                                        FileResult("ds", "b", status)])
        assert not report.changed_nothing, status


def test_ingest_needs_no_new_file_dataset_or_sample_link():
    assert ingest("exists", "skipped").changed_nothing
    assert ingest("exists", sample_links={"counts": {"already linked": 2}}).changed_nothing
    assert not ingest("exists", "ingested").changed_nothing
    assert not ingest("exists", "held").changed_nothing
    assert not ingest("exists", created=["parent"]).changed_nothing
    assert not ingest("exists", sample_links={"counts": {"linked": 1}}).changed_nothing
    assert not ingest("exists", errors=["the instrument is unknown"]).changed_nothing


def test_link_only_already_linked_changed_nothing():
    def link(*statuses: str) -> LinkReport:
        return LinkReport(rows=[LinkRow(dataset_id=f"d{i}", status=s)
                                for i, s in enumerate(statuses)])
    assert link("already linked").changed_nothing
    for status in ("linked", "created and linked", "would link", "unlinked", "failed"):
        assert not link("already linked", status).changed_nothing, status


def test_tables_list_problem_rows_first_in_every_job():
    ing = ingest("ingested", "held", "exists", "failed")
    assert [r["status"] for r in ing.table()] == ["held", "failed", "ingested", "exists"]
    assert ingest().table()[0]["reason"] == "no files"
    link = LinkReport(rows=[LinkRow(dataset_id="d1", status="linked"),
                            LinkRow(dataset_id="d2", status="unlinked")])
    assert [r["dataset"] for r in link.table()] == ["d2", "d1"]
    assert link.ok  # an unlinked dataset is a problem to show, not a failure (no require_link)
    mirror = MirrorReport(destination="d", results=[FileResult("ds", "a", "copied"),
                                                    FileResult("ds", "b", "failed")])
    assert [r["path"] for r in mirror.table()] == ["b", "a"]
