"""The script in docs/client.md runs as written against the local server."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_docs_script_runs(crucible_server, crucible_user, tmp_path):
    text = (ROOT / "docs" / "client.md").read_text()
    script = re.search(r"```python\n(.*?)```", text, re.S).group(1)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRUCIBLE_")}
    env.update(CRUCIBLE_API_URL=crucible_server.url, CRUCIBLE_API_KEY=crucible_user.api_key,
               CRUCIBLE_PROJECT=crucible_user.project_id, HOME=str(tmp_path),
               XDG_CONFIG_HOME=str(tmp_path / "cfg"), PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                         text=True, timeout=120, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "ingestion: complete" in out.stdout
    assert "downloaded ['record.json', 'scan_001.csv']" in out.stdout
    assert "{'beam': {'energy_keV': 12.4}}" in out.stdout
    assert crucible_user.api_key not in out.stdout + out.stderr
