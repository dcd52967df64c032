"""This package provides ``crucible`` and replaces nano-crucible's: say so once if both are here.

nano-crucible installs a top-level ``crucible`` package and a ``crucible`` command too. When both
distributions are installed in one environment, whichever was installed last silently wins file
by file. The warning names the exact fix.
"""

from __future__ import annotations

import warnings
from importlib.metadata import PackageNotFoundError, distribution

_warned = False

NANO_DISTRIBUTIONS = ("nano-crucible", "nano_crucible")


class CoexistenceWarning(UserWarning):
    """nano-crucible and crucible-prefect are installed in the same environment."""


def nano_crucible_version() -> str | None:
    """The installed nano-crucible version, or None."""
    for name in NANO_DISTRIBUTIONS:
        try:
            return distribution(name).version
        except PackageNotFoundError:
            continue
    return None


def warn_if_nano_crucible() -> None:
    """Warn once per process when nano-crucible is installed beside this package."""
    global _warned
    if _warned:
        return
    _warned = True
    version = nano_crucible_version()
    if version is None:
        return
    warnings.warn(
        f"nano-crucible {version} is installed in this environment, and both it and "
        "crucible-prefect provide the 'crucible' package and command, so one silently replaces "
        "the other. crucible-prefect's client is source-compatible with nano-crucible 2.1. Fix: "
        "pip uninstall -y nano-crucible && pip install --force-reinstall --no-deps "
        "crucible-prefect (or keep them in separate virtual environments).",
        CoexistenceWarning, stacklevel=2)
