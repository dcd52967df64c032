"""Instrument side of the deployment path: notice finished runs and announce them to Prefect.

``config`` (the instruments file), ``detector`` (sentinel / quiet period), ``ledger`` (durable
state), ``events`` (build and deliver ``crucible.instrument.run.finished`` with confirmation),
``watcher`` (the loop) and ``cli`` (``crucible watch``, ``crucible emit-finished``).
"""

from .config import ConfigError, InstrumentEntry, WatchConfig, load_config
from .events import EVENT_NAME, DeliveryError, build_event, resource_id, send_events

__all__ = [
    "ConfigError", "DeliveryError", "EVENT_NAME", "InstrumentEntry", "WatchConfig",
    "build_event", "load_config", "resource_id", "send_events",
]
