"""Make one nano-crucible call and report it as JSON; run with the compat venv's interpreter.

Input (stdin): {"target": "datasets.get", "args": [...], "kwargs": {...}}. A dict of the form
{"$model": "Dataset", ...fields} anywhere in args/kwargs becomes that `crucible.models` class.
Output (the only line on stdout): {"ok", "value" | "error", "trace"}, where the trace lists every
HTTP request the client made (method, path, query, selected headers, status) so tests can check
what was sent on the wire. Signatures, tokens and the API key are never recorded.
The client is configured only through CRUCIBLE_API_URL / CRUCIBLE_API_KEY in the environment.
"""

from __future__ import annotations

import json
import sys
import warnings
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import requests

_SECRET_QUERY = {"sig", "signature", "token", "access_token", "key"}
_TRACE: list[dict[str, Any]] = []
_real_send = requests.Session.send


def _traced_send(self: requests.Session, request: requests.PreparedRequest, **kwargs: Any):
    """Record the request's shape, then send it unchanged."""
    parts = urlsplit(request.url or "")
    entry: dict[str, Any] = {
        "method": request.method,
        "path": parts.path,
        "query": {k: ("<redacted>" if k.lower() in _SECRET_QUERY else v)
                  for k, v in parse_qsl(parts.query, keep_blank_values=True)},
        "auth": "Authorization" in request.headers,
    }
    for header in ("Content-Range", "Content-Type", "Idempotency-Key",
                   "Crucible-Privilege-Mode"):
        if header in request.headers:
            entry[header.lower()] = ("<present>" if header == "Idempotency-Key"
                                     else request.headers[header])
    _TRACE.append(entry)
    try:
        response = _real_send(self, request, **kwargs)
    except Exception as exc:
        entry["exception"] = type(exc).__name__
        raise
    entry["status"] = response.status_code
    for header in ("Range", "Location"):
        if header in response.headers:
            entry["response_" + header.lower()] = response.headers[header]
    return response


def _build(value: Any, models: Any) -> Any:
    """Turn {"$model": name, ...} dicts into nano-crucible model instances, recursively."""
    if isinstance(value, dict):
        if "$model" in value:
            fields = {k: _build(v, models) for k, v in value.items() if k != "$model"}
            return getattr(models, value["$model"])(**fields)
        return {k: _build(v, models) for k, v in value.items()}
    if isinstance(value, list):
        return [_build(v, models) for v in value]
    return value


def _error(exc: BaseException) -> dict[str, Any]:
    response = getattr(exc, "response", None)
    return {"type": type(exc).__name__, "message": str(exc)[:2000],
            "status": getattr(response, "status_code", None)}


def main() -> int:
    request = json.loads(sys.stdin.read())
    real_stdout = sys.stdout
    sys.stdout = sys.stderr  # anything the library prints must not corrupt our JSON line
    requests.Session.send = _traced_send  # type: ignore[method-assign]
    warnings.simplefilter("default")
    report: dict[str, Any]
    try:
        import crucible
        from crucible import CrucibleClient, models

        target: Any = CrucibleClient()
        for name in request["target"].split("."):
            target = getattr(target, name)
        value = target(*_build(request.get("args", []), models),
                       **_build(request.get("kwargs", {}), models))
        report = {"ok": True, "value": value, "version": crucible.__version__}
    except Exception as exc:  # reported to the test, which decides what it means
        report = {"ok": False, "error": _error(exc)}
    report["trace"] = _TRACE
    real_stdout.write(json.dumps(report, default=str) + "\n")
    real_stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
