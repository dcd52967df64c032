"""The ``crucible.instrument.run.finished`` event: how it is built and how its delivery is confirmed.

``prefect.events.emit_event`` hands the event to a background websocket worker and returns
before anything reached the server: when the API is down the event is dropped after a warning, and
the caller cannot tell. A watcher must never lose a finished run, so we post the event to the
Prefect API's ``POST /events`` route through Prefect's own client and count it as delivered only
on a 2xx answer. Each event has a stable id derived from the run (instrument, path, content
fingerprint); Prefect de-duplicates events by id, so re-sending after a lost answer or a crash
between delivery and the ledger update does not trigger a second flow run.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

EVENT_NAME = "crucible.instrument.run.finished"
RESOURCE_PREFIX = "crucible.instrument."
_ID_NAMESPACE = uuid.UUID("6f1d3c52-8b0e-4c55-9a57-3b7e0d2b9c10")


class DeliveryError(RuntimeError):
    """The Prefect API did not confirm the event (down, refused, misconfigured)."""


def resource_id(instrument: str) -> str:
    return f"{RESOURCE_PREFIX}{instrument}"


def stable_event_id(instrument: str, path: str, version: str) -> str:
    """The same run version always gets the same event id (Prefect drops duplicates by id)."""
    return str(uuid.uuid5(_ID_NAMESPACE, f"{instrument}\0{path}\0{version}"))


def build_event(
    *,
    instrument: str,
    path: str,
    file_count: int,
    total_bytes: int,
    parameters: dict[str, Any],
    event_id: str | None = None,
    occurred: dt.datetime | None = None,
) -> dict[str, Any]:
    """The event as a JSON-able dict (stored in the ledger, validated by Prefect's model on send).

    ``payload.parameters`` holds every ingest-flow parameter; the deployment's trigger templates
    them one by one (``{{ event.payload.parameters.mode }}``), types preserved.
    """
    when = (occurred or dt.datetime.now(dt.timezone.utc)).isoformat()
    return {
        "id": event_id or str(uuid.uuid4()),
        "occurred": when,
        "event": EVENT_NAME,
        "resource": {
            "prefect.resource.id": resource_id(instrument),
            "prefect.resource.name": instrument,
        },
        "related": [],
        "payload": {
            "path": parameters.get("path", path),
            "local_path": path,
            "instrument": instrument,
            "file_count": file_count,
            "bytes": total_bytes,
            "finished_at": when,
            "parameters": parameters,
        },
    }


def at_delivery(event: dict[str, Any]) -> dict[str, Any]:
    """The event stamped with the delivery time.

    A run detected during an outage is announced when the API is back; its ``occurred`` says
    "now" so trigger evaluation treats it as a fresh event, while ``payload.finished_at`` keeps
    the detection time. The id is unchanged, so Prefect still drops a copy it already has.
    """
    return {**event, "occurred": dt.datetime.now(dt.timezone.utc).isoformat()}


def send_events(events: list[dict[str, Any]], timeout: float = 30.0) -> None:
    """Deliver ``events`` to the Prefect API; return only when it confirmed them, else raise."""
    from prefect.client.orchestration import get_client
    from prefect.events import Event
    from prefect.settings import PREFECT_API_URL

    if not PREFECT_API_URL.value():
        # Without it Prefect would start a throw-away in-process server and "deliver" into it.
        raise DeliveryError("PREFECT_API_URL is not set: point it at your Prefect server")
    try:
        body = [Event.model_validate(e).model_dump(mode="json") for e in events]
    except ValueError as exc:
        raise DeliveryError(f"invalid event: {exc}") from None
    try:
        with get_client(sync_client=True, httpx_settings={"timeout": timeout}) as client:
            response = client.request("POST", "/events", json=body)
    except Exception as exc:  # connection refused, timeout, HTTP error status...
        raise DeliveryError(f"Prefect API did not accept the event: {type(exc).__name__}: {exc}") from None
    if not 200 <= response.status_code < 300:
        raise DeliveryError(f"Prefect API answered {response.status_code} to POST /events")
