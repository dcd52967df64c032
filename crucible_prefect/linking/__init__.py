"""Link datasets to samples by rules: explicit ids, names, regexes, metadata, holder positions.

The rules (`SampleRule`, discriminated by ``kind``) are plain JSON-able pydantic models; the
planner never links to a guess (ambiguous or missing samples are reported, not picked). The
pieces are Prefect tasks too, so custom flows get the same behaviour as
``flows/link_datasets_to_samples.py``. See docs/linking.md.
"""

from crucible_prefect.linking.apply import apply_plans, link_datasets, plan_datasets
from crucible_prefect.linking.catalog import SampleCatalog
from crucible_prefect.linking.models import (
    DatasetPlan,
    DatasetQuery,
    LinkReport,
    LinkRow,
    PlannedSample,
)
from crucible_prefect.linking.plan import LinkPlanner
from crucible_prefect.linking.rules import (
    HolderRule,
    MetadataRule,
    RegexRule,
    SampleIdsRule,
    SampleNameRule,
    SampleRule,
    parse_rules,
    rules_as_json,
)
from crucible_prefect.linking.tasks import (
    apply_sample_links,
    find_datasets_to_link,
    link_table,
    plan_sample_links,
    publish_link_table,
)

__all__ = [
    "SampleRule", "SampleIdsRule", "SampleNameRule", "RegexRule", "MetadataRule", "HolderRule",
    "parse_rules", "rules_as_json",
    "DatasetQuery", "DatasetPlan", "PlannedSample", "LinkRow", "LinkReport",
    "SampleCatalog", "LinkPlanner", "plan_datasets", "apply_plans", "link_datasets",
    "find_datasets_to_link", "plan_sample_links", "apply_sample_links", "publish_link_table",
    "link_table",
]
