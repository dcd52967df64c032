"""``link_datasets_to_samples``: link datasets to samples by rules, never to a guess.

The work is the plain engine's (``crucible.linking.LinkJob``, see docs/linking.md). Runs on its
own (a deployment, a schedule) or as a subflow of ``ingest_instrument_output`` when that flow is
given sample rules. Existing links are no-ops, ``dry_run`` only reports, and a table artifact
lists dataset → sample with the rule used or why a dataset stayed unlinked. Ends in the one flow
contract: the report is the result; on failure the run ends Failed with a ``LinkFailed``.
"""

from __future__ import annotations

from prefect import flow

from crucible.jobs import run_job
from crucible.linking import DatasetQuery, LinkJob, LinkReport, LinkSettings, SampleRule
from crucible.linking.engine import LinkFailed
from crucible_prefect.credentials import CrucibleCredentials
from crucible_prefect.flows.contract import finish_flow
from crucible_prefect.runners import TaskRunner
from crucible_prefect.tasks.common import client_for

__all__ = ["LinkFailed", "link_datasets_to_samples"]


@flow(name="link-datasets-to-samples", validate_parameters=True)
def link_datasets_to_samples(
    rules: list[SampleRule],
    dataset_ids: list[str] | None = None,
    query: DatasetQuery | None = None,
    dry_run: bool = False,
    require_link: bool = False,
    credentials: CrucibleCredentials | str | None = None,
    artifact_key: str | None = "sample-links",
) -> LinkReport:
    """Link datasets to samples by rules; returns the report (rows, counts, summary).

    Args:
        rules: Sample rules tried in order per dataset, a JSON list; each rule's ``kind`` is one
            of sample_ids, sample_name, regex, metadata, holder (see docs/linking.md).
        dataset_ids: Datasets to link. Give these or a query, not both.
        query: Select datasets by project_id, instrument_name, session_dataset_id (children of
            a session dataset) and created_since.
        dry_run: Report the planned links and samples to create; change nothing.
        require_link: Fail the run when any dataset could not be linked.
        credentials: A CrucibleCredentials block, its name, or none for the environment.
        artifact_key: Key of the table artifact (lowercase letters, digits, dashes).
    """
    settings = LinkSettings(rules=rules, dataset_ids=dataset_ids, query=query, dry_run=dry_run,
                            require_link=require_link)
    job = LinkJob(settings, client_for(credentials))
    report = run_job(job, TaskRunner(credentials, task_name=LinkJob.TASK_NAME, max_in_flight=1))
    what = "dataset → sample links" + (" (dry run)" if dry_run else "")
    return finish_flow(report, LinkFailed, artifact_key, what)
