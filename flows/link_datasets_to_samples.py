"""Deployable flow file: link datasets to samples by rules.

Entrypoint ``flows/link_datasets_to_samples.py:link_datasets_to_samples``. Run it once from a
shell with the parameters as JSON: ``python flows/link_datasets_to_samples.py '{"rules": [...],
"dataset_ids": [...]}'``.
"""

import json
import sys

from crucible_prefect.flows.link import link_datasets_to_samples

__all__ = ["link_datasets_to_samples"]

if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(f"usage: {sys.argv[0]} PARAMETERS_JSON")
    state = link_datasets_to_samples(**json.loads(sys.argv[1]), return_state=True)
    print(state.message)
    sys.exit(0 if state.is_completed() else 1)
