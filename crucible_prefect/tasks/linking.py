"""Prefect tasks for sample linking: select datasets, plan links, apply them, publish a table.

Each task takes the credentials (a `CrucibleCredentials` block, its name, or None for the plain
client's configuration) and plain JSON-able values, and returns JSON-able values, so custom flows
can chain them exactly like ``flows/link_datasets_to_samples.py`` does.
"""

from __future__ import annotations

from typing import Any

from prefect import task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE

from crucible.linking.apply import apply_plans, plan_datasets
from crucible.linking.catalog import SampleCatalog
from crucible.linking.models import DatasetPlan, DatasetQuery, LinkReport
from crucible_prefect.tasks.common import Credentials, client_for, crucible_task, run_logger

__all__ = ["find_datasets_to_link", "plan_sample_links", "apply_sample_links",
           "publish_link_table", "link_table"]


@crucible_task
def find_datasets_to_link(query: DatasetQuery | dict,
                          credentials: Credentials = None) -> list[str]:
    """Ids of the readable datasets matching ``query`` (oldest first)."""
    query = DatasetQuery.model_validate(query)
    rows = SampleCatalog(client_for(credentials)).find_datasets(**query.model_dump())
    rows.sort(key=lambda r: (str(r.get("creation_time") or ""), r["unique_id"]))
    ids = [r["unique_id"] for r in rows]
    run_logger().info("query %s selected %d dataset(s)", query.model_dump(mode="json",
                                                                           exclude_none=True),
                      len(ids))
    return ids


@crucible_task
def plan_sample_links(dataset_ids: list[str], rules: list[Any],
                      credentials: Credentials = None) -> list[dict]:
    """Apply the rules to each dataset and return the plans (read-only; safe to retry)."""
    plans = plan_datasets(SampleCatalog(client_for(credentials)), dataset_ids, rules)
    logger = run_logger()
    for plan in plans:
        if plan.linkable:
            logger.info("%s → %s (rule %s)", plan.dataset_id,
                        ", ".join(s.sample_id or f"new sample {s.sample_name!r}"
                                  for s in plan.samples), plan.rule)
        else:
            logger.warning("%s stays unlinked: %s", plan.dataset_id, plan.reason)
    return [p.model_dump(mode="json") for p in plans]


@crucible_task
def apply_sample_links(plans: list[dict], dry_run: bool = False,
                       credentials: Credentials = None) -> dict:
    """Create planned samples and links (none in a dry run); return the report as JSON."""
    validated = [DatasetPlan.model_validate(p) for p in plans]
    report = apply_plans(SampleCatalog(client_for(credentials)), validated, dry_run=dry_run)
    run_logger().info("sample links%s: %s", " (dry run)" if dry_run else "", report.counts)
    return report.model_dump(mode="json")


def link_table(report: LinkReport | dict) -> list[dict]:
    """Report rows as table-artifact rows (dataset → sample, rule, status, reason)."""
    return LinkReport.model_validate(report).table()


@task(cache_policy=NO_CACHE)
def publish_link_table(report: dict, key: str | None = "sample-links") -> str | None:
    """Publish the report as a table artifact; returns the artifact id."""
    parsed = LinkReport.model_validate(report)
    counts = ", ".join(f"{n} {s}" for s, n in parsed.counts.items()) or "no datasets"
    artifact_id = create_table_artifact(
        table=link_table(parsed), key=key,
        description=f"Dataset → sample links{' (dry run)' if parsed.dry_run else ''}: {counts}")
    return str(artifact_id) if artifact_id else None
