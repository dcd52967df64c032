"""Prefect blocks and tasks for Crucible.

Importing this package registers the `CrucibleCredentials` block type with Prefect (it is named
in the ``prefect.collections`` entry point) and re-exports every task. The plain client is only
imported when a task or ``get_client()`` runs.
"""

from crucible_prefect.credentials import CrucibleCredentials
from crucible_prefect.retry import retry_on_transient
from crucible_prefect.tasks import *  # noqa: F401,F403
from crucible_prefect.tasks import __all__ as _task_names
from crucible.linking import (
    HolderRule,
    MetadataRule,
    RegexRule,
    SampleIdsRule,
    SampleNameRule,
    SampleRule,
)
from crucible_prefect.tasks.linking import (
    apply_sample_links,
    find_datasets_to_link,
    plan_sample_links,
    publish_link_table,
)

__all__ = [
    "CrucibleCredentials", "retry_on_transient", *_task_names,
    "SampleRule", "SampleIdsRule", "SampleNameRule", "RegexRule", "MetadataRule", "HolderRule",
    "find_datasets_to_link", "plan_sample_links", "apply_sample_links", "publish_link_table",
]
