"""Cache policies for tasks whose cached result can never be wrong.

Prefect masks a ``SecretStr`` before hashing task inputs, so two blocks that differ only in their
API key hash alike; a plain ``INPUTS`` policy would hand one account's result to another. The
`CrucibleAccount` policy keys on the API URL and a digest of the key instead.

Only results that cannot change are cached, and only within one flow run (``RUN_ID``): an
ingestion request that has reached a terminal status stays so; everything else is live data and
is not cached.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

from prefect.cache_policies import INPUTS, RUN_ID, TASK_SOURCE, CachePolicy
from prefect.utilities.hashing import hash_objects

__all__ = ["CrucibleAccount", "CRUCIBLE_ACCOUNT", "IMMUTABLE_WITHIN_RUN"]


@dataclass
class CrucibleAccount(CachePolicy):
    """Keys on which Crucible API and account a task talks to (``credentials`` input)."""

    parameter: str = "credentials"

    def compute_key(
        self,
        task_ctx: Any,
        inputs: dict[str, Any],
        flow_parameters: dict[str, Any],
        **kwargs: Any,
    ) -> Optional[str]:
        from crucible_prefect.tasks.common import resolve_credentials

        creds = resolve_credentials((inputs or {}).get(self.parameter))
        return hash_objects(creds.api_url.rstrip("/"), creds.key_fingerprint())


CRUCIBLE_ACCOUNT = CrucibleAccount()

#: For results that never change once produced: same account, inputs, code and flow run.
IMMUTABLE_WITHIN_RUN = (INPUTS - "credentials") + CRUCIBLE_ACCOUNT + TASK_SOURCE + RUN_ID
