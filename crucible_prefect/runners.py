"""Task runners for the ready-made flows: the thread pool (default) or Dask (``dask`` extra).

The flows pass only picklable task arguments and get their results back from the tasks, so the
same flow runs on either; the Dask variants are ``flow.with_options(task_runner=...)`` made on
first use (importing Dask costs seconds, and the extra may be missing).

Configuration of the Dask variants, read when the variant is first used (so a deployment can
set it through its ``env`` job variables):

- ``CRUCIBLE_DASK_ADDRESS``: connect to a running Dask scheduler (``tcp://host:8786``);
- else a temporary ``distributed.LocalCluster`` per flow run, with the keyword arguments in
  ``CRUCIBLE_DASK_CLUSTER_KWARGS`` (JSON, e.g. ``{"n_workers": 4, "threads_per_worker": 2}``).
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any, Callable

ADDRESS_ENV = "CRUCIBLE_DASK_ADDRESS"
CLUSTER_KWARGS_ENV = "CRUCIBLE_DASK_CLUSTER_KWARGS"


class DaskUnavailable(ImportError):
    """The Dask variant was asked for but prefect-dask is not installed."""


def dask_task_runner(address: str | None = None, cluster_kwargs: dict | None = None) -> Any:
    """A ``prefect_dask.DaskTaskRunner``: the arguments, else the environment (module docstring)."""
    try:
        from prefect_dask import DaskTaskRunner
    except ImportError as exc:
        raise DaskUnavailable(
            "the Dask task runner needs prefect-dask: pip install 'crucible-prefect[dask]' "
            f"({exc})") from exc
    address = address or os.environ.get(ADDRESS_ENV) or None
    if address:
        return DaskTaskRunner(address=address)
    if cluster_kwargs is None:
        raw = os.environ.get(CLUSTER_KWARGS_ENV) or "{}"
        try:
            cluster_kwargs = json.loads(raw)
        except ValueError as exc:
            raise ValueError(f"{CLUSTER_KWARGS_ENV} is not valid JSON: {exc}") from None
        if not isinstance(cluster_kwargs, dict):
            raise ValueError(f"{CLUSTER_KWARGS_ENV} must be a JSON object, not {raw!r}")
    return DaskTaskRunner(cluster_kwargs=cluster_kwargs)


def dask_variant(flow: Any, name: str) -> Any:
    """``flow`` under another name, running its tasks on Dask."""
    return flow.with_options(name=name, task_runner=dask_task_runner())


def dask_variant_attribute(module_name: str, attribute: str, flow: Any,
                           flow_name: str) -> Callable[[str], Any]:
    """A module-level ``__getattr__`` that makes ``attribute`` (``flow`` on Dask, named
    ``flow_name``) on first access and keeps it in the module, so importing the flow module
    never imports Dask."""

    def __getattr__(name: str) -> Any:
        if name == attribute:
            variant = dask_variant(flow, flow_name)
            setattr(sys.modules[module_name], name, variant)
            return variant
        raise AttributeError(f"module {module_name!r} has no attribute {name!r}")

    return __getattr__
