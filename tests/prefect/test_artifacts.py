"""Artifacts a flow run publishes from a job's report and progress, on a real Prefect API."""

from __future__ import annotations

import pytest

from crucible.mirror.report import FileResult, MirrorReport
from crucible_prefect.artifacts import ProgressArtifact, publish_report

pytestmark = pytest.mark.prefect


def artifacts_of(flow_run_id) -> dict:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    with get_client(sync_client=True) as pc:
        found = pc.read_artifacts(artifact_filter=ArtifactFilter(
            flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id])))
    return {(a.type, a.description): a for a in found}


def run_in_flow(body):
    from prefect import flow

    @flow(name="artifacts-test")
    def run() -> None:
        body()
    return run(return_state=True).state_details.flow_run_id


def test_progress_bar_appears_with_the_first_report_and_ends_at_100(prefect_backend):
    def body():
        long, short = ProgressArtifact("long job"), ProgressArtifact("short job")
        long(1, 4)
        long(2, 4)
        long(4, 4)
        short(4, 4)  # finished before its first report: no bar
    found = artifacts_of(run_in_flow(body))
    assert set(found) == {("progress", "long job")}
    assert float(found[("progress", "long job")].data) == 100.0


def test_report_artifacts_table_and_summary_or_none_when_nothing_changed(prefect_backend):
    copied = MirrorReport(destination="memory://x", results=[
        FileResult("d1", "a.bin", "copied", 3), FileResult("d1", "b.bin", "skipped", 4)])
    unchanged = MirrorReport(destination="memory://x", results=[
        FileResult("d1", "a.bin", "skipped", 3)])
    assert not copied.changed_nothing and unchanged.changed_nothing

    found = artifacts_of(run_in_flow(lambda: publish_report(copied, "artifacts-test", "copied")))
    assert set(found) == {("table", "copied"), ("markdown", "copied: summary")}
    rows = found[("table", "copied")].data
    assert "a.bin" in str(rows) and "b.bin" in str(rows)
    assert "| copied | 1 |" in found[("markdown", "copied: summary")].data

    found = artifacts_of(run_in_flow(lambda: publish_report(unchanged, "artifacts-test", "same")))
    assert found == {}
