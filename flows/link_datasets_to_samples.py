"""Flow: link datasets to samples by rules, never to a guess.

Runs on its own (a deployment, a schedule) or as a subflow of ``ingest_instrument_output`` when
that flow is given sample rules. Rules are tried in order per dataset (see docs/linking.md);
existing links are no-ops, ``dry_run`` only reports, and a table artifact lists dataset → sample
with the rule used or why a dataset stayed unlinked.
"""

from __future__ import annotations

from typing import Any

from prefect import flow

from crucible_prefect.credentials import CrucibleCredentials
from crucible_prefect.linking.models import DatasetQuery, LinkReport
from crucible_prefect.linking.rules import SampleRule, parse_rules
from crucible_prefect.linking.tasks import (
    apply_sample_links,
    find_datasets_to_link,
    plan_sample_links,
    publish_link_table,
)
from crucible_prefect.tasks.common import run_logger

__all__ = ["link_datasets_to_samples", "SampleLinkError"]


class SampleLinkError(RuntimeError):
    """Some datasets could not be linked (``require_link``) or a planned link failed."""


@flow(name="link-datasets-to-samples", validate_parameters=True)
def link_datasets_to_samples(
    rules: list[SampleRule],
    dataset_ids: list[str] | None = None,
    query: DatasetQuery | None = None,
    dry_run: bool = False,
    require_link: bool = False,
    credentials: CrucibleCredentials | str | None = None,
    artifact_key: str | None = "sample-links",
) -> dict[str, Any]:
    """Link datasets to samples by rules; returns the report (rows and a summary) as JSON.

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
    rules = parse_rules(rules)
    if not rules:
        raise ValueError("rules: give at least one sample rule")
    if (dataset_ids is None) == (query is None):
        raise ValueError("give dataset_ids or query (exactly one of them)")
    if dataset_ids is None:
        dataset_ids = find_datasets_to_link(query, credentials=credentials)
    plans = plan_sample_links(list(dataset_ids), [r.model_dump(mode="json") for r in rules],
                              credentials=credentials)
    report = LinkReport.model_validate(
        apply_sample_links(plans, dry_run=dry_run, credentials=credentials))
    publish_link_table(report.model_dump(mode="json"), key=artifact_key)
    result = report.model_dump(mode="json") | report.summary()
    _fail_if_needed(report, require_link)
    return result


def _fail_if_needed(report: LinkReport, require_link: bool) -> None:
    logger = run_logger()
    problems = []
    if report.failed:
        problems.append(f"linking failed for {len(report.failed)} dataset(s): "
                        + _reasons(report, "failed"))
    if require_link and report.unlinked:
        problems.append(f"{len(report.unlinked)} dataset(s) could not be linked: "
                        + _reasons(report, "unlinked"))
    if problems:
        message = "; ".join(problems)
        logger.error(message)
        raise SampleLinkError(message)
    if report.unlinked:
        logger.warning("%d dataset(s) left unlinked (require_link is off)", len(report.unlinked))


def _reasons(report: LinkReport, status: str, limit: int = 5) -> str:
    rows = [r for r in report.rows if r.status == status]
    text = "; ".join(f"{r.dataset_id}: {r.reason}" for r in rows[:limit])
    return text + (f"; … and {len(rows) - limit} more" if len(rows) > limit else "")


if __name__ == "__main__":  # pragma: no cover - manual runs
    import json
    import sys

    print(json.dumps(link_datasets_to_samples(**json.loads(sys.argv[1])), indent=2))
