"""Link datasets to samples by rules: explicit ids, names, regexes, metadata, holder positions.

The rules (`SampleRule`, discriminated by ``kind``) are plain JSON-able pydantic models; the
planner never links to a guess (ambiguous or missing samples are reported, not picked).
:class:`LinkJob` is the engine (``crucible link`` and the ``link_datasets_to_samples`` flow run
it); the Prefect tasks over the same pieces live in ``crucible_prefect.tasks.linking``.
See docs/linking.md.
"""

from crucible.linking.apply import apply_plans, link_datasets, plan_datasets
from crucible.linking.catalog import SampleCatalog
from crucible.linking.engine import LinkFailed, LinkJob, LinkSettings
from crucible.linking.models import (
    DatasetPlan,
    DatasetQuery,
    LinkReport,
    LinkRow,
    PlannedSample,
)
from crucible.linking.plan import LinkPlanner
from crucible.linking.rules import (
    HolderRule,
    MetadataRule,
    RegexRule,
    SampleIdsRule,
    SampleNameRule,
    SampleRule,
    parse_rules,
    rules_as_json,
)

__all__ = [
    "SampleRule", "SampleIdsRule", "SampleNameRule", "RegexRule", "MetadataRule", "HolderRule",
    "parse_rules", "rules_as_json",
    "DatasetQuery", "DatasetPlan", "PlannedSample", "LinkRow", "LinkReport",
    "SampleCatalog", "LinkPlanner", "plan_datasets", "apply_plans", "link_datasets",
    "LinkFailed", "LinkJob", "LinkSettings",
]
