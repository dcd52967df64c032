"""``crucible ingest|mirror|link`` (crucible/jobs_cli.py) against the real local server, no Prefect.

Every test works on its own run folder / datasets (uuid names), so tests share one server and the
test user's project. Calls go through the real dispatcher (``crucible.cli.main``) in-process, plus
one run of the installed ``crucible`` console script in a subprocess.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from crucible import CrucibleClient
from crucible.cli import main
from crucible.terminal import ProgressBar, format_table


# ------------------------------------------------------------------------------------ fixtures
@pytest.fixture(scope="module")
def instrument(crucible_server) -> str:
    """An instrument of its own for this module (ingest checks that it exists)."""
    name = f"JobsCliScope-{uuid.uuid4().hex[:6]}"
    with CrucibleClient(api_url=crucible_server.url, api_key=crucible_server.admin_key) as admin:
        admin.instruments.create({"instrument_name": name, "owner": "x", "location": "y",
                                  "instrument_type": "z"})
    return name


@pytest.fixture
def env(monkeypatch, tmp_path, crucible_server, crucible_user):
    """The user's key in the environment; no config file, a private digest ledger."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    monkeypatch.setenv("CRUCIBLE_PREFECT_CACHE_DIR", str(tmp_path / "digest-cache"))
    monkeypatch.setenv("CRUCIBLE_API_URL", crucible_server.url)
    monkeypatch.setenv("CRUCIBLE_API_KEY", crucible_user.api_key)
    return crucible_user


@pytest.fixture
def user_client(crucible_server, crucible_user):
    with CrucibleClient(api_url=crucible_server.url, api_key=crucible_user.api_key) as client:
        yield client


def write_run(root: Path, files: dict[str, bytes]) -> Path:
    """A run folder whose files were last written an hour ago."""
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        t = time.time() - 3600
        os.utime(path, (t, t))
    return root


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    """``crucible ARGV`` in-process: (exit status, stdout, stderr)."""
    try:
        status = main(list(argv))
    except SystemExit as exc:  # argparse usage errors
        status = exc.code if isinstance(exc.code, int) else 1
    out, err = capsys.readouterr()
    return status, out, err


FILES = {
    "scan_001.ser": b"S" * 5000,
    "scan_001.emi": b"E" * 700,
    "scan_002.ser": b"T" * 3000,
    "sub/image.png": b"P" * 1234,
}


def ingest_json(capsys, run: Path, instrument: str, project: str, *extra: str) -> tuple[int, dict,
                                                                                        str]:
    status, out, err = run_cli(capsys, "ingest", str(run), "--instrument", instrument,
                               "--project", project, "--settle-seconds", "0", "--json", *extra)
    return status, (json.loads(out) if out.strip() else {}), err


# ------------------------------------------------------------------------------------ ingest
def test_ingest_folder_then_rerun_creates_nothing(env, capsys, instrument, user_client,
                                                  tmp_path):
    run = write_run(tmp_path / f"run-{uuid.uuid4().hex[:8]}", FILES)
    status, report, err = ingest_json(capsys, run, instrument, env.project_id,
                                      "--keyword", "cli", "demo", "--metadata", '{"op": "ada"}')
    assert status == 0, err
    assert report["ok"] is True and report["counts"] == {"ingested": len(FILES)}
    assert report["run"] == run.name and report["mode"] == "session"
    parent = report["parent_dataset_id"]
    assert parent and len(report["datasets"]) == 4  # the session + 3 file groups
    assert set(report["created"]) == set(report["datasets"])
    assert f"{len(FILES)} ingested" in err and "Traceback" not in err
    assert env.api_key not in err

    children = user_client.datasets.list_children(parent, limit=None)
    assert {d["dataset_name"] for d in children} == {"scan_001.ser", "scan_002.ser",
                                                      "sub/image.png"}

    status, again, err = ingest_json(capsys, run, instrument, env.project_id,
                                     "--keyword", "cli", "demo", "--metadata", '{"op": "ada"}')
    assert status == 0, err
    assert again["created"] == [] and again["counts"] == {"exists": len(FILES)}
    assert set(again["datasets"]) == set(report["datasets"])


def test_ingest_human_table_on_stdout(env, capsys, instrument, tmp_path):
    run = write_run(tmp_path / f"run-{uuid.uuid4().hex[:8]}", {"one.dat": b"1" * 100})
    status, out, err = run_cli(capsys, "ingest", str(run), "--instrument", instrument,
                               "--project", env.project_id, "--settle-seconds", "0",
                               "--mode", "files", "--no-digest-cache", "--max-concurrency", "2")
    assert status == 0, err
    header, row = out.splitlines()
    assert header.split() == ["status", "bytes", "dataset", "file", "reason"]
    assert row.split()[:2] == ["ingested", "100"] and row.split()[3] == "one.dat"
    assert "\r" not in err  # stderr is not a terminal: no progress bar


def test_ingest_into_foreign_project_exits_1(env, capsys, instrument, tmp_path):
    run = write_run(tmp_path / f"run-{uuid.uuid4().hex[:8]}", {"a.dat": b"a" * 10})
    status, report, err = ingest_json(capsys, run, instrument, f"NOTMINE{uuid.uuid4().hex[:6]}")
    assert status == 1
    assert report["ok"] is False and report["created"] == []
    assert "not a member of project" in report["errors"][0]
    assert "error: " in err and "not a member" in err and "Traceback" not in err


def test_ingest_held_files_exit_1(env, capsys, instrument, tmp_path):
    """A file still being written is held back: the run is incomplete (exit 1), not an error."""
    run = tmp_path / f"run-{uuid.uuid4().hex[:8]}"
    run.mkdir()
    (run / "fresh.dat").write_bytes(b"f" * 10)
    status, out, err = run_cli(capsys, "ingest", str(run), "--instrument", instrument,
                               "--project", env.project_id, "--settle-seconds", "3600")
    assert status == 1
    assert "1 held" in err and "problems (1):" in err and "fresh.dat" in err
    assert out.splitlines()[1].split()[0] == "held"


def test_ingest_with_sample_rules_links_the_datasets(env, capsys, instrument, user_client,
                                                     tmp_path):
    sample = user_client.samples.create(sample_name=f"R-{uuid.uuid4().hex[:6]}",
                                        project_id=env.project_id)["unique_id"]
    rules = tmp_path / "rules.json"
    rules.write_text(json.dumps([{"kind": "sample_ids", "sample_ids": [sample]}]))
    run = write_run(tmp_path / f"run-{uuid.uuid4().hex[:8]}", {"r.dat": b"r" * 50})
    status, report, err = ingest_json(capsys, run, instrument, env.project_id, "--mode", "files",
                                      "--sample-rules", str(rules))
    assert status == 0, err
    assert report["sample_links"]["counts"] == {"linked": 1}
    dsid = report["datasets"][0]
    assert [s["unique_id"] for s in user_client.samples.list(dataset_id=dsid, limit=None)] == [
        sample]


def test_ingest_from_an_fsspec_url_with_metadata_file(env, capsys, instrument, user_client,
                                                      tmp_path):
    fsspec = pytest.importorskip("fsspec")
    run = f"memory://jobs-cli/run-{uuid.uuid4().hex[:8]}"
    fs = fsspec.filesystem("memory")
    fs.pipe({f"{run}/a.bin": b"a" * 64, f"{run}/raw/b.bin": b"b" * 32})
    meta = tmp_path / "meta.json"
    meta.write_text('{"beam": {"kv": 300}}')
    status, report, err = ingest_json(capsys, run, instrument, env.project_id, "--mode", "single",
                                      "--metadata", f"@{meta}")
    assert status == 0, err
    assert report["counts"] == {"ingested": 2} and len(report["datasets"]) == 1
    record = user_client.datasets.get(report["datasets"][0], include_metadata=True)
    assert record["scientific_metadata"]["beam"] == {"kv": 300}


# ------------------------------------------------------------------------------------ mirror
def test_mirror_ingested_datasets_then_rerun_copies_nothing(env, capsys, instrument, tmp_path):
    files = {"m1.dat": b"m" * 3000, "deep/m2.txt": b"hello mirror"}
    run = write_run(tmp_path / f"run-{uuid.uuid4().hex[:8]}", files)
    status, ingested, err = ingest_json(capsys, run, instrument, env.project_id,
                                        "--mode", "files")
    assert status == 0, err
    by_file = {row["file"]: row["dataset_id"] for row in ingested["files"]}
    assert set(by_file) == set(files)

    dest = tmp_path / "mirror"
    ids = sorted(set(by_file.values()))
    status, out, err = run_cli(capsys, "mirror", str(dest), "--dataset", *ids, "--json")
    assert status == 0, err
    report = json.loads(out)
    assert report["ok"] is True
    copied = {r["path"] for r in report["results"] if r["status"] == "copied"}
    assert {p for p in copied if not p.endswith("record.json")} == {
        f"{env.project_id}/{by_file[rel]}/{rel}" for rel in files}
    for rel, data in files.items():
        dsid = by_file[rel]
        target = dest / env.project_id / dsid / rel
        assert target.read_bytes() == data
        assert (dest / env.project_id / dsid / "record.json").is_file()
    assert "mirror to" in err and "Traceback" not in err

    status, out, err = run_cli(capsys, "mirror", str(dest), "--dataset", *ids, "--json",
                               "--record-layout", "none")
    assert status == 0, err
    again = json.loads(out)
    assert again["counts"].get("copied", 0) == 0
    assert again["counts"]["skipped"] == len(files)

    only = tmp_path / "only-txt"
    status, out, err = run_cli(capsys, "mirror", str(only), "--dataset", *ids, "--json",
                               "--include", "*.txt", "--record-layout", "none")
    assert status == 0, err
    assert sorted(p.relative_to(only).as_posix() for p in only.rglob("*") if p.is_file()
                  and not p.relative_to(only).parts[0].startswith(".")) == [
        f"{env.project_id}/{by_file['deep/m2.txt']}/deep/m2.txt"]


def test_mirror_unknown_dataset_exits_1(env, capsys, tmp_path):
    status, out, err = run_cli(capsys, "mirror", str(tmp_path / "m"), "--dataset",
                               "0000000000000000000000zzzz")
    assert status == 1
    assert err.startswith("crucible mirror: ") and "Traceback" not in err


# ------------------------------------------------------------------------------------ link
def test_link_by_rules_file(env, capsys, user_client, tmp_path):
    tag = uuid.uuid4().hex[:6]
    sample = user_client.samples.create(sample_name=f"S-{tag}",
                                        project_id=env.project_id)["unique_id"]
    dsid = user_client.datasets.create({"dataset_name": f"S-{tag}_scan1",
                                        "project_id": env.project_id})["dsid"]
    rules = tmp_path / "rules.json"
    rules.write_text(json.dumps([{"kind": "sample_ids", "sample_ids": [sample]}]))

    status, out, err = run_cli(capsys, "link", "--rules", str(rules), "--dataset", dsid,
                               "--dry-run", "--json")
    assert status == 0, err
    assert [r["status"] for r in json.loads(out)["rows"]] == ["would link"]
    assert not user_client.samples.list(dataset_id=dsid, limit=None)

    status, out, err = run_cli(capsys, "link", "--rules", str(rules), "--dataset", dsid,
                               "--json")
    assert status == 0, err
    report = json.loads(out)
    assert report["ok"] is True and report["counts"] == {"linked": 1}
    assert report["rows"][0]["sample_id"] == sample
    assert {s["unique_id"] for s in user_client.samples.list(dataset_id=dsid, limit=None)} == {
        sample}

    status, out, err = run_cli(capsys, "link", "--rules", str(rules), "--dataset", dsid)
    assert status == 0, err
    assert "already linked" in out and "1 already linked" in err


def test_link_yaml_rules_with_query_and_require_link(env, capsys, user_client, tmp_path):
    pytest.importorskip("yaml")
    tag = uuid.uuid4().hex[:6]
    sample = user_client.samples.create(sample_name=f"Y-{tag}",
                                        project_id=env.project_id)["unique_id"]
    session = user_client.datasets.create({"dataset_name": f"session-{tag}",
                                          "project_id": env.project_id})["dsid"]
    good = user_client.datasets.create({"dataset_name": f"Y-{tag}_a",
                                       "project_id": env.project_id})["dsid"]
    bad = user_client.datasets.create({"dataset_name": f"nothing-{tag}",
                                      "project_id": env.project_id})["dsid"]
    for child in (good, bad):
        user_client.datasets.link_parent_child(session, child)
    rules = tmp_path / "rules.yaml"
    rules.write_text("rules:\n"
                     "  - kind: regex\n"
                     "    pattern: '^(Y-[0-9a-f]+)_'\n"
                     "    source: dataset_name\n")

    argv = ["link", "--rules", str(rules), "--project", env.project_id,
            "--session-dataset", session]
    status, out, err = run_cli(capsys, *argv)
    assert status == 0, err  # an unlinked dataset is reported, not a failure...
    assert "1 linked" in err and "1 unlinked" in err and "problems (1):" in err
    assert {s["unique_id"] for s in user_client.samples.list(dataset_id=good, limit=None)} == {
        sample}

    status, out, err = run_cli(capsys, *argv, "--require-link")
    assert status == 1  # ...unless every dataset must be linked
    assert bad in err


# ------------------------------------------------------------------------------------ bad input
@pytest.mark.parametrize("argv, words", [
    (["ingest", "{tmp}", "--project", "P"], "--instrument"),
    (["ingest", "{tmp}", "--instrument", "I", "--project", "P", "--max-concurrency", "0"],
     "--max-concurrency"),
    (["ingest", "{tmp}", "--instrument", "I", "--project", "P", "--max-concurrency", "65"],
     "--max-concurrency"),
    (["ingest", "{tmp}", "--instrument", "I", "--project", "P", "--metadata", "{oops"],
     "--metadata is not valid JSON"),
    (["ingest", "{tmp}", "--instrument", "I", "--project", "P", "--metadata", "[1]"],
     "must be a JSON object"),
    (["ingest", "{tmp}", "--instrument", "I", "--project", "P", "--metadata", "@{tmp}/no.json"],
     "--metadata: cannot read"),
    (["ingest", "{tmp}/missing", "--instrument", "I", "--project", "P"],
     "no such file or directory"),
    (["ingest", "{tmp}", "--instrument", "I", "--project", "P", "--grouping", "regex:("],
     "--grouping"),
    (["ingest", "{tmp}", "--instrument", "I", "--project", "P", "--mode", "nope"],
     "invalid choice"),
    (["mirror", "{tmp}/m", "--dataset", "x", "--max-concurrency", "0"], "--max-concurrency"),
    (["mirror", "{tmp}/m"], "one of the arguments --dataset --project --sample is required"),
    (["mirror", "--project", "P"], "DEST"),
    (["mirror", "", "--project", "P"], "DEST is empty"),
    (["mirror", "{tmp}/no/such/parent", "--project", "P"], "parent folder does not exist"),
    (["mirror", "{tmp}/m", "--project", "P", "--layout", "{nope}/x"], "not supported"),
    (["mirror", "{tmp}/m", "--project", "P", "--storage-option", "novalue"], "KEY=VALUE"),
    (["mirror", "{tmp}/m", "--project", "P", "--created-since", "yesterday"], "--created-since"),
    (["ingest", "{tmp}", "--instrument", "I", "--project", "P", "--sample-rules",
      "{tmp}/badrule.json"], "--sample-rules: rules file"),
    (["link", "--rules", "{tmp}/nope.json", "--dataset", "x"], "cannot read rules file"),
    (["link", "--rules", "{tmp}/rules.json", "--dataset", "x", "--project", "P"], "not both"),
    (["link", "--rules", "{tmp}/rules.json"], "say which datasets"),
    (["link", "--rules", "{tmp}/broken.json", "--dataset", "x"], "not valid JSON"),
    (["link", "--rules", "{tmp}/badrule.json", "--dataset", "x"], "rule 1"),
    (["link", "--rules", "{tmp}/rules.json", "--created-since", "2026-01-01"], "project_id"),
])
def test_bad_input_exits_2_with_one_line(env, capsys, tmp_path, argv, words):
    (tmp_path / "rules.json").write_text('[{"kind": "sample_ids", "sample_ids": ["x"]}]')
    (tmp_path / "broken.json").write_text('[{"kind": ')
    (tmp_path / "badrule.json").write_text('[{"kind": "regex", "pattern": "no-group"}]')
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    status, out, err = run_cli(capsys, *argv)
    assert status == 2, err
    assert words in err
    assert out == "" and "Traceback" not in err
    message = [line for line in err.splitlines() if not line.startswith(("usage:", " "))]
    assert len(message) == 1, err


def test_yaml_rules_without_pyyaml_exit_2(env, capsys, monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "yaml", None)  # ``import yaml`` now fails, as without PyYAML
    rules = tmp_path / "rules.yml"
    rules.write_text("- kind: sample_ids\n  sample_ids: [x]\n")
    status, out, err = run_cli(capsys, "link", "--rules", str(rules), "--dataset", "x")
    assert status == 2
    assert "PyYAML is not installed" in err and "JSON" in err and len(err.splitlines()) == 1
    rules.with_suffix(".txt").write_text("- kind: sample_ids")
    status, out, err = run_cli(capsys, "link", "--rules", str(rules.with_suffix(".txt")),
                               "--dataset", "x")
    assert status == 2 and "not valid JSON" in err and "pip install pyyaml" in err


def test_missing_api_key_exits_2(env, capsys, monkeypatch, tmp_path):
    monkeypatch.delenv("CRUCIBLE_API_KEY")
    status, out, err = run_cli(capsys, "mirror", str(tmp_path / "m"), "--project", "P")
    assert status == 2
    assert err.startswith("crucible mirror: configuration:") and len(err.splitlines()) == 1


def test_wrong_api_key_exits_1_and_is_never_printed(env, capsys, monkeypatch, tmp_path):
    key = "not-a-real-key-0123456789"
    monkeypatch.setenv("CRUCIBLE_API_KEY", key)
    status, out, err = run_cli(capsys, "link", "--rules", _rules(tmp_path), "--dataset", "x")
    assert status == 1
    assert key not in err and key not in out
    run = write_run(tmp_path / "r", {"a.dat": b"a"})
    status, out, err = run_cli(capsys, "ingest", str(run), "--instrument", "I", "--project", "P")
    assert status == 1 and "Crucible check failed" in err
    assert key not in err and key not in out


def _rules(tmp_path: Path) -> str:
    path = tmp_path / "rules.json"
    path.write_text('[{"kind": "sample_ids", "sample_ids": ["x"]}]')
    return str(path)


# ------------------------------------------------------------------------------------ subprocess
def test_console_script_ingest_and_mirror(env, instrument, tmp_path):
    exe = shutil.which("crucible") or str(Path(sys.executable).parent / "crucible")
    run = write_run(tmp_path / f"run-{uuid.uuid4().hex[:8]}", {"x.bin": b"x" * 2048})
    base = [exe, "ingest", str(run), "--instrument", instrument, "--project", env.project_id,
            "--settle-seconds", "0", "--mode", "single", "--json"]
    done = subprocess.run(base, capture_output=True, text=True, env=dict(os.environ),
                          timeout=120)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["counts"] == {"ingested": 1} and len(report["datasets"]) == 1
    assert "\r" not in done.stderr and env.api_key not in done.stderr + done.stdout

    dest = tmp_path / "out"
    done = subprocess.run([exe, "mirror", str(dest), "--dataset", report["datasets"][0]],
                          capture_output=True, text=True, env=dict(os.environ), timeout=120)
    assert done.returncode == 0, done.stderr
    assert (dest / env.project_id / report["datasets"][0] / "x.bin").read_bytes() == b"x" * 2048
    assert done.stdout.splitlines()[0].split() == ["status", "bytes", "dataset", "path", "error"]

    done = subprocess.run([exe, "ingest", str(run), "--project", env.project_id],
                          capture_output=True, text=True, env=dict(os.environ), timeout=120)
    assert done.returncode == 2 and "--instrument" in done.stderr


# ------------------------------------------------------------------------------------ terminal
def test_progress_bar_draws_only_when_enabled():
    stream = io.StringIO()
    bar = ProgressBar("ingest", "files", stream=stream)  # StringIO is not a terminal
    bar(1, 2)
    bar.close()
    assert stream.getvalue() == ""

    bar = ProgressBar("ingest", "files", stream=stream, enabled=True, width=10)
    bar(1, 4)
    bar(4, 4)
    bar.close()
    text = stream.getvalue()
    assert text.startswith("\ringest [##........] 1/4 files  25%")
    assert "[##########] 4/4 files 100%" in text and text.endswith("\n")


def test_format_table_aligns_and_shortens():
    text = format_table([{"a": "x", "n": 5, "long": "y" * 80}, {"a": "xyz", "n": 123,
                                                                 "long": None}],
                        right=("n",), max_width=10)
    lines = text.splitlines()
    assert lines[0].split() == ["a", "n", "long"]
    assert lines[1] == "x      5  " + "y" * 9 + "…"
    assert lines[2] == "xyz  123"
    assert format_table([]) == ""


BLOCK_PREFECT = """
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("prefect", "crucible_prefect"):
            raise ImportError(f"{name} is blocked: the core must work without Prefect")
sys.meta_path.insert(0, Block())
from crucible.cli import main
status = main(sys.argv[1:])
assert not [m for m in sys.modules if m.split(".")[0] in ("prefect", "crucible_prefect")]
sys.exit(status)
"""


def test_commands_work_without_prefect(env, instrument, tmp_path):
    """With ``prefect`` and ``crucible_prefect`` unimportable, all three commands still run."""
    run = write_run(tmp_path / f"run-{uuid.uuid4().hex[:8]}", {"np.dat": b"n" * 321})
    rules = tmp_path / "rules.json"
    rules.write_text('[{"kind": "sample_name", "sample_name": "no-such-sample"}]')

    def crucible(*argv: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-c", BLOCK_PREFECT, *argv], capture_output=True,
                              text=True, env=dict(os.environ), timeout=120)

    done = crucible("ingest", str(run), "--instrument", instrument, "--project", env.project_id,
                    "--settle-seconds", "0", "--mode", "files", "--json")
    assert done.returncode == 0, done.stderr
    dsid = json.loads(done.stdout)["datasets"][0]
    done = crucible("mirror", str(tmp_path / "out"), "--dataset", dsid)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "out" / env.project_id / dsid / "np.dat").read_bytes() == b"n" * 321
    done = crucible("link", "--rules", str(rules), "--dataset", dsid, "--dry-run")
    assert done.returncode == 0, done.stderr
    assert "1 unlinked" in done.stderr
