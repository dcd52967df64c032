"""docs/promises.md names only tests that exist (a renamed or deleted test breaks the table)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_test_named_in_the_promise_table_exists():
    table = (ROOT / "docs" / "promises.md").read_text()
    named = set(re.findall(r"([\w/]+\.py)::(\w+)", table))
    assert len(named) > 150
    missing = [f"{path}::{name}" for path, name in sorted(named)
               if not (ROOT / "tests" / path).is_file()
               or not re.search(rf"^def {name}\(", (ROOT / "tests" / path).read_text(), re.M)]
    assert missing == []
