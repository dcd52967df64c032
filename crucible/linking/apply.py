"""Carry out link plans (or only describe them, in a dry run) and report each dataset → sample.

Safe to repeat: links already present are reported as such and not re-made, and a sample to
create is looked up by name again first, so a retried or re-run apply finds the sample an earlier
attempt created instead of making a second one.
"""

from __future__ import annotations

import unicodedata
from typing import Any, Iterable

from crucible.linking.catalog import SampleCatalog
from crucible.linking.models import DatasetPlan, LinkReport, LinkRow, LinkStatus, PlannedSample
from crucible.linking.plan import LinkPlanner


def _crucible_error() -> type[BaseException]:
    from crucible.errors import CrucibleError

    return CrucibleError


def plan_datasets(catalog: SampleCatalog, dataset_ids: Iterable[str],
                  rules: Iterable[Any]) -> list[DatasetPlan]:
    """Plans for the datasets, in the order given (duplicates dropped)."""
    planner = LinkPlanner(catalog, rules)
    plans = []
    for dataset_id in dict.fromkeys(dataset_ids):
        try:
            plans.append(planner.plan(dataset_id))
        except _crucible_error() as exc:
            plans.append(DatasetPlan(dataset_id=dataset_id, failed=True,
                                     reason=f"reading from Crucible failed: {exc}"))
    return plans


def apply_plans(catalog: SampleCatalog, plans: Iterable[DatasetPlan | dict],
                *, dry_run: bool = False) -> LinkReport:
    """Make the planned links (creating planned samples first); in a dry run change nothing."""
    report = LinkReport(dry_run=dry_run)
    created: dict[tuple[str, str], dict | str] = {}
    for plan in plans:
        plan = DatasetPlan.model_validate(plan)
        base: dict[str, Any] = dict(dataset_id=plan.dataset_id, dataset_name=plan.dataset_name,
                                    rule=plan.rule)
        if not plan.linkable:
            report.rows.append(LinkRow(**base, status="failed" if plan.failed else "unlinked",
                                       reason=plan.reason or "no sample to link"))
            continue
        for sample in plan.samples:
            report.rows.append(_apply_one(catalog, plan, sample, base, created, dry_run))
    return report


def _apply_one(catalog: SampleCatalog, plan: DatasetPlan, sample: PlannedSample, base: dict,
               created: dict[tuple[str, str], dict | str], dry_run: bool) -> LinkRow:
    row = dict(base, sample_id=sample.sample_id, sample_name=sample.sample_name)
    if sample.already_linked:
        return LinkRow(**row, status="already linked")
    if dry_run:
        if sample.create:
            return LinkRow(**row, status="would create and link",
                           reason=f"no sample named {sample.sample_name!r} in project "
                                  f"{sample.project_id}; it would be created")
        return LinkRow(**row, status="would link")
    status: LinkStatus = "linked"
    sample_id = sample.sample_id
    if sample.create:
        key = (sample.project_id or "", unicodedata.normalize("NFC", sample.sample_name or ""))
        first = key not in created
        if first:
            created[key] = _find_or_create(catalog, key[0], key[1])
        outcome = created[key]
        if first and isinstance(outcome, dict) and outcome.get("_created"):
            status = "created and linked"  # only the dataset whose link made the sample
        if isinstance(outcome, str):
            return LinkRow(**row, status="failed", reason=outcome)
        sample_id = outcome["unique_id"]
        row["sample_id"] = sample_id
    if not sample_id:
        return LinkRow(**row, status="failed", reason="the plan names no sample id")
    try:
        catalog.add_link(plan.dataset_id, sample_id)
    except _crucible_error() as exc:
        return LinkRow(**row, status="failed", reason=f"linking failed: {exc}")
    return LinkRow(**row, status=status)


def _find_or_create(catalog: SampleCatalog, project_id: str, name: str) -> dict | str:
    """The sample named ``name``: found again if it exists by now, else created.

    Returns the record (with ``_created`` set when this call made it) or a failure reason.
    """
    try:
        existing = catalog.samples_named(project_id, name, refresh=True)
        if len(existing) > 1:
            return (f"{len(existing)} samples named {name!r} appeared in project {project_id} "
                    "while linking; linked none")
        if existing:
            return dict(existing[0])
        record, created = catalog.create_sample(project_id, name)
        return dict(record, _created=created)
    except _crucible_error() as exc:
        return f"could not create sample {name!r} in project {project_id}: {exc}"


def link_datasets(catalog: SampleCatalog, dataset_ids: Iterable[str], rules: Iterable[Any],
                  *, dry_run: bool = False) -> LinkReport:
    """Plan and apply in one call, without Prefect (for scripts and custom code)."""
    plans = plan_datasets(catalog, dataset_ids, rules)
    return apply_plans(catalog, plans, dry_run=dry_run)
