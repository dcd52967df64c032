"""Deal file groups into a few units of work, and run one batch with per-group retries.

A unit per file group costs a task run (and its state changes) on the Prefect API for every
file when the flow runs it; for a thousand small files that overhead dwarfs the work. So groups
are dealt into about ``4 x max_concurrency`` batches, balanced by bytes (largest first onto the
lightest batch), and each batch task works through its groups one by one, then awaits the
batch's ingestions together and finishes the groups. A transient error (5xx, 429, lost
connection) retries only that group's step, a few seconds later; any other error fails only
that group. Every step of a group is idempotent, so a retry simply continues where it stopped.
"""

from __future__ import annotations

import heapq
import time
from functools import partial
from typing import Callable, Sequence, TypeVar

from crucible.transient import is_transient

from .models import FileGroup
from .ops import CrucibleOps
from .report import FileRow
from .worker import GroupResult, RunContext, Started, finish_group, start_group

T = TypeVar("T")

#: Bytes counted per group on top of its size, so many tiny groups still spread out.
GROUP_OVERHEAD_BYTES = 256 * 1024
#: Waits before the 2nd and 3rd attempt of a group after a transient error.
RETRY_DELAYS_S = (1.0, 4.0)


def make_batches(groups: Sequence[FileGroup], max_concurrency: int,
                 per_worker: int = 4) -> list[list[FileGroup]]:
    """Deal groups into at most ``per_worker * max_concurrency`` batches of similar weight."""
    n = max(1, min(len(groups), max_concurrency * per_worker))
    heap = [(0, i) for i in range(n)]
    batches: list[list[FileGroup]] = [[] for _ in range(n)]
    for group in sorted(groups, key=lambda g: (-g.size, g.key)):
        weight, i = heapq.heappop(heap)
        batches[i].append(group)
        heapq.heappush(heap, (weight + group.size + GROUP_OVERHEAD_BYTES, i))
    for batch in batches:
        batch.sort(key=lambda g: g.key)
    return [b for b in batches if b]


def failed_rows(group: FileGroup, exc: BaseException) -> list[FileRow]:
    reason = f"{type(exc).__name__}: {exc}"
    return [FileRow(file=f.rel, bytes=f.size, status="failed", reason=reason) for f in group.files]


def run_batch(ops: CrucibleOps, ctx: RunContext, groups: Sequence[FileGroup]) -> list[GroupResult]:
    """Ingest each group of the batch; errors become failed rows, never an exception.

    Two passes: every group is started (hashed, created, uploaded, ingestion requested), then
    the batch's ingestions are awaited together — a listing or two for the whole batch instead
    of polls per file, and by then most have long finished — and each group is finished
    (post-processing, the completion mark, last).
    """
    results: list[GroupResult | None] = []
    started: list[tuple[int, Started]] = []
    for group in groups:
        outcome = _retrying(group, partial(start_group, ops, ctx, group))
        if isinstance(outcome, Started):
            started.append((len(results), outcome))
            results.append(None)
        else:
            results.append(outcome)
    if started:
        requests = [r for _, s in started for r in s.requests()]
        awaited = _retrying(started[0][1].group, partial(ops.await_ingestions, requests))
        outcomes = awaited if isinstance(awaited, dict) else {}
        if isinstance(awaited, GroupResult):  # could not learn the outcomes: the groups fail
            reason = awaited.rows[0].reason
            for i, s in started:
                results[i] = GroupResult([FileRow(file=f.rel, bytes=f.size, status="failed",
                                                  reason=reason) for f in s.group.files],
                                         dataset_id=s.dsid)
        for i, s in started:
            if results[i] is None:
                results[i] = _retrying(s.group, partial(finish_group, ops, ctx, s, outcomes))
    done = [r for r in results if r is not None]
    for result in done:
        if ctx.run_dataset is not None:  # the flow's copy may be in another process (Dask)
            result.run_dataset_ensured = ctx.run_dataset.ensured
            result.run_dataset_created = ctx.run_dataset.created
    return done


def _retrying(group: FileGroup, step: Callable[[], T]) -> T | GroupResult:
    """``step()``, retried after transient errors; any other error fails the group's files."""
    for attempt in range(len(RETRY_DELAYS_S) + 1):
        try:
            return step()
        except Exception as exc:  # noqa: BLE001 - reported per group, the batch goes on
            if attempt < len(RETRY_DELAYS_S) and is_transient(exc):
                time.sleep(RETRY_DELAYS_S[attempt])
                continue
            return GroupResult(failed_rows(group, exc))
    raise AssertionError("unreachable")
