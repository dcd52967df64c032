"""A mirror run as picklable values, so its datasets can be mirrored by tasks in any process.

The flow's task runner decides where ``mirror-dataset`` tasks run: on the flow's thread pool
they find the flow's own :class:`Mirror` (one manifest, one transfer pool, one report, shared
path claims); on Dask (pickled into other processes) they open a mirror of their own from the
job: same destination, options and run token, journaling into the run's manifest generation.
Either way the task returns its per-file results; the flow adopts those of foreign mirrors and
folds their journal segments in when it compacts the manifest.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator

from .destination import Destination
from .engine import Mirror, MirrorOptions, live_mirror


@dataclass(frozen=True)
class MirrorJob:
    """Everything a task needs to mirror datasets of one run (all picklable)."""

    token: str  # the run's token: the destination's run_token
    fs: Any  # the destination's fsspec filesystem (pickles as its storage options)
    root: str
    strategy: str
    options: MirrorOptions
    credentials: Any = None  # a CrucibleCredentials block, its name, or None

    @classmethod
    def of(cls, mirror: Mirror, credentials: Any) -> "MirrorJob":
        dest = mirror.dest
        return cls(token=dest.run_token, fs=dest.fs, root=dest.root, strategy=dest.strategy,
                   options=mirror.options, credentials=credentials)


@contextmanager
def attach(job: MirrorJob) -> Iterator[tuple[Mirror, bool]]:
    """(mirror, shared): the run's own mirror if it lives in this process, else a helper."""
    live = live_mirror(job.token)
    if live is not None:
        yield live, True
        return
    from crucible_prefect.tasks.common import client_for

    from .selection import CrucibleSource

    dest = Destination(fs=job.fs, root=job.root, strategy=job.strategy, run_token=job.token)
    helper = Mirror(CrucibleSource(client_for(job.credentials)), dest, job.options)
    helper.owns_run = False
    with helper:
        yield helper, False
