"""Shared fixtures: the local Crucible server and a Prefect backend (see docs/architecture.md)."""

from __future__ import annotations

import os

# Tests never read the developer's own Crucible or Prefect configuration (CRUCIBLE_TEST_* are
# the tests' own settings; prefect_backend hides PREFECT_API_URL and starts its own server).
for _name in [n for n in os.environ if n.startswith("CRUCIBLE_") and not n.startswith("CRUCIBLE_TEST_")]:
    os.environ.pop(_name)
for _name in ("PREFECT_API_URL", "PREFECT_API_KEY", "PREFECT_API_AUTH_STRING"):
    os.environ.pop(_name, None)
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

from crucible.server.testing import *  # noqa: F401,F403,E402
from crucible_prefect.testing import *  # noqa: F401,F403,E402
