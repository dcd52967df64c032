"""Decide, for each dataset, which samples the rules link it to — or why none.

The planner only reads. Samples to create are planned once per (project, name), so two datasets
naming the same missing sample share one new sample. A reference is resolved to a sample only
when exactly one readable sample fits; anything else is reported, never guessed.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any, Iterable

from crucible.linking.catalog import SampleCatalog
from crucible.linking.extract import (
    RuleInputError,
    capture,
    get_path,
    looks_like_mfid,
    order_holder_children,
    position_from_value,
    position_label,
    positions_in,
    references,
)
from crucible.linking.models import DatasetPlan, PlannedSample
from crucible.linking.rules import (
    HolderRule,
    MetadataRule,
    RegexRule,
    SampleIdsRule,
    SampleNameRule,
    describe_rule,
    parse_rules,
)

NOT_READABLE = "does not exist or is in a project this API key cannot read"


class RuleFailed(Exception):
    """A rule applied but could not resolve a unique sample; the message is the report reason."""

    def __init__(self, reason: str, candidates: Iterable[str] = ()) -> None:
        super().__init__(reason)
        self.reason = reason
        self.candidates = list(candidates)


def _label(sample: dict) -> str:
    return f"{sample.get('sample_name')!s} ({sample.get('unique_id')})"


def _planned(sample: dict) -> PlannedSample:
    return PlannedSample(sample_id=sample["unique_id"], sample_name=sample.get("sample_name"),
                         project_id=sample.get("project_id"))


class LinkPlanner:
    """Applies a rule list to datasets through a `SampleCatalog`."""

    def __init__(self, catalog: SampleCatalog, rules: Iterable[Any]) -> None:
        self.catalog = catalog
        self.rules = parse_rules(rules)
        if not self.rules:
            raise ValueError("no sample rules given; nothing could be linked")
        self._creates: dict[tuple[str, str], PlannedSample] = {}

    # -- per dataset ------------------------------------------------------------------------

    def plan(self, dataset_id: str) -> DatasetPlan:
        """The plan for one dataset (never raises for rule problems; server errors propagate)."""
        dataset = self.catalog.get_dataset(dataset_id)
        if dataset is None:
            return DatasetPlan(dataset_id=dataset_id, reason=f"dataset {NOT_READABLE}")
        plan = DatasetPlan(dataset_id=dataset_id, dataset_name=dataset.get("dataset_name"),
                           project_id=dataset.get("project_id"))
        context = _DatasetContext(self.catalog, dataset)
        for index, rule in enumerate(self.rules):
            try:
                samples = self._apply(rule, context)
            except RuleFailed as failed:
                plan.rule = describe_rule(index, rule)
                plan.reason, plan.candidates = failed.reason, failed.candidates
                return plan
            except RuleInputError as bad:
                plan.rule = describe_rule(index, rule)
                plan.reason = str(bad)
                return plan
            if samples is not None:
                plan.rule = describe_rule(index, rule)
                plan.samples = self._mark_existing(dataset_id, samples)
                return plan
        plan.reason = "no rule applied (" + "; ".join(
            f"{describe_rule(i, r)}: {context.why_not(r)}" for i, r in enumerate(self.rules)) + ")"
        return plan

    def _mark_existing(self, dataset_id: str, samples: list[PlannedSample]) -> list[PlannedSample]:
        existing = self.catalog.linked_sample_ids(dataset_id)
        unique: dict[str, PlannedSample] = {}
        for sample in samples:
            key = sample.sample_id or f"new:{sample.project_id}/{sample.sample_name}"
            if key not in unique:
                unique[key] = sample.model_copy(
                    update={"already_linked": sample.sample_id in existing})
        return list(unique.values())

    # -- rules ------------------------------------------------------------------------------

    def _apply(self, rule: Any, ctx: "_DatasetContext") -> list[PlannedSample] | None:
        """Samples for the dataset, ``None`` when the rule does not apply; may raise RuleFailed."""
        if isinstance(rule, SampleIdsRule):
            return [self._by_id(sid) for sid in rule.sample_ids]
        if isinstance(rule, SampleNameRule):
            return [self._by_name(ctx, rule.sample_name, rule.create_missing)]
        if isinstance(rule, RegexRule):
            values = capture(rule.compiled(), rule.group(), ctx.texts(rule.source))
            if not values:
                return None
            if len(values) > 1:
                raise RuleFailed(
                    f"the {ctx.source_label(rule.source)} name different samples: "
                    + ", ".join(repr(v) for v in values), values)
            return [self._reference(ctx, values[0], rule.value, rule.create_missing)]
        if isinstance(rule, MetadataRule):
            refs = references(get_path(ctx.metadata, rule.path), rule.path)
            if not refs:
                return None
            return [self._reference(ctx, ref, rule.value, rule.create_missing) for ref in refs]
        if isinstance(rule, HolderRule):
            return self._holder(ctx, rule)
        raise TypeError(f"unknown rule {rule!r}")  # pragma: no cover - parse_rules guards

    def _by_id(self, sample_id: str) -> PlannedSample:
        sample = self.catalog.get_sample(sample_id)
        if sample is None:
            raise RuleFailed(f"sample id {sample_id!r} {NOT_READABLE}")
        return _planned(sample)

    def _by_name(self, ctx: "_DatasetContext", name: str, create_missing: bool) -> PlannedSample:
        project = ctx.project_id
        if not project:
            raise RuleFailed("the dataset has no project, so sample names cannot be looked up")
        matches = self.catalog.samples_named(project, name)
        if len(matches) == 1:
            return _planned(matches[0])
        if matches:
            labels = [_label(m) for m in matches]
            raise RuleFailed(f"{len(matches)} samples named {name!r} in project {project}: "
                             + ", ".join(labels) + "; linked none", labels)
        if not create_missing:
            raise RuleFailed(f"no sample named {name!r} in project {project} "
                             f"(or it is in a project this API key cannot read)")
        key = (project, unicodedata.normalize("NFC", name))
        if key not in self._creates:
            self._creates[key] = PlannedSample(sample_name=key[1], project_id=project, create=True)
        return self._creates[key]

    def _reference(self, ctx: "_DatasetContext", ref: str, kind: str,
                   create_missing: bool) -> PlannedSample:
        if kind == "id":
            return self._by_id(ref)
        if kind == "name_or_id" and looks_like_mfid(ref):
            sample = self.catalog.get_sample(ref)
            if sample is not None:
                return _planned(sample)
            if not (ctx.project_id and self.catalog.samples_named(ctx.project_id, ref)):
                raise RuleFailed(f"{ref!r} looks like a sample id, but that sample {NOT_READABLE}"
                                 "; no sample has it as its name either (not creating one)")
        return self._by_name(ctx, ref, create_missing)

    def _holder(self, ctx: "_DatasetContext", rule: HolderRule) -> list[PlannedSample] | None:
        if rule.position_source == "metadata":
            value = get_path(ctx.metadata, rule.position_path or "")
            if value is None or value == "":
                return None
            position = position_from_value(value)
            if position is None:
                raise RuleFailed(f"metadata {rule.position_path!r} = {value!r} is not a holder "
                                 "position (expected e.g. 'S03' or 3)")
            positions = [position]
        else:
            positions = positions_in(re.compile(rule.position_pattern),
                                     ctx.texts(rule.position_source))
            if not positions:
                return None
        if len(positions) > 1:
            labels = [position_label(p) for p in positions]
            raise RuleFailed(f"the {ctx.source_label(rule.position_source)} name different "
                             f"holder positions: {', '.join(labels)}", labels)
        holder = self._holder_sample(ctx, rule.holder)
        children = order_holder_children(self.catalog.children(holder["unique_id"]))
        position = positions[0]
        if not 1 <= position <= len(children):
            raise RuleFailed(f"position {position_label(position)} is outside holder "
                             f"{_label(holder)}, which has {len(children)} positions")
        return [_planned(children[position - 1])]

    def _holder_sample(self, ctx: "_DatasetContext", ref: str) -> dict:
        if looks_like_mfid(ref):
            sample = self.catalog.get_sample(ref)
            if sample is not None:
                return sample
        matches = self.catalog.samples_named(ctx.project_id, ref) if ctx.project_id else []
        if len(matches) == 1:
            return matches[0]
        if matches:
            labels = [_label(m) for m in matches]
            raise RuleFailed(f"{len(matches)} holder samples named {ref!r}: "
                             + ", ".join(labels) + "; linked none", labels)
        raise RuleFailed(f"holder {ref!r} {NOT_READABLE}")


class _DatasetContext:
    """The dataset facts rules read, fetched lazily (file names cost one call)."""

    def __init__(self, catalog: SampleCatalog, dataset: dict) -> None:
        self.catalog = catalog
        self.dataset = dataset
        self._files: list[str] | None = None

    @property
    def project_id(self) -> str | None:
        return self.dataset.get("project_id")

    @property
    def metadata(self) -> dict:
        meta = self.dataset.get("scientific_metadata")
        if isinstance(meta, dict) and isinstance(meta.get("scientific_metadata"), dict) \
                and set(meta) <= {"unique_id", "scientific_metadata", "dataset_mfid"}:
            meta = meta["scientific_metadata"]  # the {unique_id, scientific_metadata} wrapper
        return meta if isinstance(meta, dict) else {}

    def texts(self, source: str) -> list[str]:
        if source == "dataset_name":
            name = self.dataset.get("dataset_name")
            return [name] if name else []
        if self._files is None:
            self._files = self.catalog.file_names(self.dataset)
        return self._files

    @staticmethod
    def source_label(source: str) -> str:
        return "dataset name" if source == "dataset_name" else "file names"

    def why_not(self, rule: Any) -> str:
        if isinstance(rule, RegexRule):
            return f"pattern matched no {self.source_label(rule.source)}"
        if isinstance(rule, MetadataRule):
            return f"no value at metadata {rule.path!r}"
        if isinstance(rule, HolderRule):
            where = (f"metadata {rule.position_path!r}" if rule.position_source == "metadata"
                     else self.source_label(rule.position_source))
            return f"no holder position in {where}"
        return "did not apply"
