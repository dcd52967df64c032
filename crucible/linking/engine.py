"""The link-samples engine: link datasets to samples by rules, never to a guess, without Prefect.

Shape (``crucible.jobs``): :meth:`LinkJob.plan` selects the datasets (ids or a query); its one
unit plans and applies the links of all of them in order (samples to create are shared between
datasets, so they are made once); :meth:`LinkJob.finish` returns the :class:`LinkReport`.
"""

from __future__ import annotations

from typing import Any, Optional

from pydantic import BaseModel, ConfigDict, Field, model_validator

from crucible.jobs import JobFailed, Progress, ProgressCallback, UnitFailure

from .apply import apply_plans, plan_datasets
from .catalog import SampleCatalog
from .models import DatasetQuery, LinkReport
from .rules import SampleRule, parse_rules


class LinkSettings(BaseModel):
    """What to link: rules, and the datasets (ids or a query, exactly one)."""

    model_config = ConfigDict(extra="forbid")

    rules: list[SampleRule] = Field(min_length=1, description="Tried in order per dataset.")
    dataset_ids: Optional[list[str]] = None
    query: Optional[DatasetQuery] = None
    dry_run: bool = False
    require_link: bool = False

    @model_validator(mode="before")
    @classmethod
    def _parse_rules(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("rules") is not None:
            data = dict(data, rules=parse_rules(data["rules"]))
            if not data["rules"]:
                raise ValueError("rules: give at least one sample rule")
        return data

    @model_validator(mode="after")
    def _one_selection(self) -> "LinkSettings":
        if (self.dataset_ids is None) == (self.query is None):
            raise ValueError("give dataset_ids or query (exactly one of them)")
        return self


class LinkJob:
    """One linking run of ``settings`` with ``client``."""

    TASK_NAME = "link-samples"

    def __init__(self, settings: LinkSettings, client: Any, *,
                 on_progress: ProgressCallback | None = None) -> None:
        self.settings = settings
        self.client = client
        self.progress = Progress(on_progress)
        self.report = LinkReport(dry_run=settings.dry_run, require_link=settings.require_link)

    def __getstate__(self) -> dict:  # never the client (it holds the API key)
        return {"settings": self.settings}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)

    def select(self) -> list[str]:
        """The dataset ids to link: as given, or the query's matches (oldest first)."""
        if self.settings.dataset_ids is not None:
            return list(dict.fromkeys(self.settings.dataset_ids))
        assert self.settings.query is not None
        rows = SampleCatalog(self.client).find_datasets(**self.settings.query.model_dump())
        rows.sort(key=lambda r: (str(r.get("creation_time") or ""), r["unique_id"]))
        return [r["unique_id"] for r in rows]

    def plan(self) -> list[list[str]]:
        ids = self.select()
        self.progress.add_total(len(ids))
        return [ids] if ids else []

    def run_unit(self, client: Any, dataset_ids: list[str]) -> LinkReport:
        catalog = SampleCatalog(client)
        plans = plan_datasets(catalog, dataset_ids, self.settings.rules)
        return apply_plans(catalog, plans, dry_run=self.settings.dry_run)

    def unit_name(self, dataset_ids: list[str]) -> str:
        return f"link {len(dataset_ids)} dataset(s)"

    def add_result(self, dataset_ids: list[str], result: Any) -> None:
        if isinstance(result, UnitFailure):
            self.report.errors.append(f"linking {len(dataset_ids)} dataset(s) failed: "
                                      f"{result.message}")
        else:
            self.report.rows.extend(result.rows)
        self.progress.advance(len(dataset_ids))

    def finish(self) -> LinkReport:
        self.progress.finish()
        return self.report


class LinkFailed(JobFailed):
    """Some links failed (or, with ``require_link``, some datasets stayed unlinked)."""
