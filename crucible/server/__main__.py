"""``python -m crucible.server ...`` — the same commands as ``crucible server ...``."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
