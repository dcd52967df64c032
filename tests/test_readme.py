"""The README's examples are the tested ones: its client script and task-composition flow are
the blocks that tests/client/test_docs.py and tests/prefect/test_docs_example.py run."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def python_blocks(path: Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", path.read_text(), re.S)


@pytest.mark.parametrize("doc, marker", [
    ("client.md", "client = CrucibleClient()"),
    ("tasks.md", "def upload_run("),
])
def test_readme_example_is_the_tested_one(doc, marker):
    tested = [b for b in python_blocks(ROOT / "docs" / doc) if marker in b]
    shown = [b for b in python_blocks(ROOT / "README.md") if marker in b]
    assert len(tested) == 1 and shown == tested


def test_readme_quickstart_test_command_is_what_ci_runs():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    command = "python -m pip install -e '.[test]' && python -m pytest -q -n 2"
    assert f"```bash\n{command}\n```" in readme
    assert command in ci.splitlines()[-1]


def test_readme_link_rules_are_valid_rules_one_per_kind():
    from crucible.linking import parse_rules

    block = next(b for b in python_blocks(ROOT / "README.md") if "link_datasets_to_samples(" in b)
    rules_src = block[block.index("rules = ["):block.index("]\nreport")] + "]"
    namespace: dict = {}
    exec(rules_src, namespace)  # only the literal list of rules
    parsed = parse_rules(namespace["rules"])
    assert sorted(r.kind for r in parsed) == sorted(
        ["sample_ids", "sample_name", "regex", "metadata", "holder"])
