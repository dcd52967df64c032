"""Shared fixtures: the local Crucible server and a Prefect backend (see docs/architecture.md)."""

from __future__ import annotations

import os

# Tests never read the developer's own Crucible or Prefect configuration.
for _name in [n for n in os.environ if n.startswith("CRUCIBLE_")]:
    os.environ.pop(_name)
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

from crucible.server.testing import *  # noqa: F401,F403,E402
from crucible_prefect.testing import *  # noqa: F401,F403,E402
