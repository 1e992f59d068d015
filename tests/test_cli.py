"""The CLI as a user runs it: real subprocesses, exit codes, one clear message, no tracebacks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ECOM = ROOT / "examples" / "ecommerce" / "schema.sql"


def cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "schemadistill.cli", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=300)


def test_schema_json_shape():
    r = cli("schema", str(ECOM), "--json")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["fingerprint"].startswith("sha256:")
    names = [t["qualified_name"] for t in d["tables"]]
    assert names == ["ecommerce.users", "ecommerce.sessions"]
    assert all(t["columns"] for t in d["tables"])
    fk = [f for f in d["foreign_keys"] if f["table"] == "ecommerce.sessions"]
    assert fk and fk[0]["ref_table"] == "ecommerce.users" and fk[0]["inferred"] is True
    assert {m["name"] for m in d["metrics"]} >= {"revenue", "fraud_rate"}


def test_schema_table_output():
    r = cli("schema", str(ROOT / "examples" / "retail" / "schema.sql"))
    assert r.returncode == 0, r.stderr
    assert "retail.orders" in r.stdout and "fingerprint=" in r.stdout


def _write(name: str, content: str | bytes):
    def make(d: Path) -> Path:
        p = d / name
        p.write_bytes(content) if isinstance(content, bytes) else p.write_text(content)
        return p
    return make


@pytest.mark.parametrize("make_input, needle", [
    (lambda d: d / "missing.sql", "missing.sql"),
    (_write("empty.sql", ""), "empty.sql"),
    (_write("bad.sql", "CREATE TABLE t (\n  a INT,\n  b INT (((\n"), "bad.sql:"),
    (_write("notables.sql", "SELECT 1;"), "notables.sql"),
    (_write("x.duckdb", b"\x00" * 64), "x.duckdb"),
], ids=["missing", "empty", "unparsable", "no-tables", "not-a-database"])
def test_bad_schema_input_is_one_clear_message(tmp_path, make_input, needle):
    path = make_input(tmp_path)
    r = cli("schema", str(path))
    assert r.returncode == 2, r.stdout
    assert "error:" in r.stderr and needle in r.stderr
    assert "Traceback" not in r.stderr + r.stdout


def test_unknown_dialect_lists_supported(tmp_path):
    r = cli("schema", str(ECOM), "--dialect", "cobol")
    assert r.returncode == 2 and "cobol" in r.stderr and "postgres" in r.stderr
    assert "Traceback" not in r.stderr


def test_sandbox_command_builds_db(tmp_path):
    out = tmp_path / "sb.duckdb"
    r = cli("sandbox", str(ECOM), "--out", str(out), "--rows", "300")
    assert r.returncode == 0, r.stderr
    import duckdb

    con = duckdb.connect(str(out), read_only=True)
    assert con.execute("SELECT COUNT(*) FROM ecommerce.sessions").fetchone()[0] > 0
    con.close()


def test_sandbox_bad_data_folder(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "orders.csv").write_text("a,b\n1,2\n")
    r = cli("sandbox", str(ECOM), "--out", str(tmp_path / "sb.duckdb"), "--data", str(data))
    assert r.returncode == 2 and "orders.csv" in r.stderr
    assert "Traceback" not in r.stderr


def test_distill_runs_existing_stages_and_resumes(tmp_path):
    out = tmp_path / "run"
    args = ("distill", str(ECOM), "--out", str(out), "--set", "sandbox.rows=300", "--until", "sandbox")
    r = cli(*args)
    assert r.returncode == 0, r.stderr
    for stage in ("schema", "sandbox"):
        m = json.loads((out / stage / "manifest.json").read_text())
        assert m["stage"] == stage and m["inputs_hash"]
    assert "not run" in r.stdout and not (out / "teacher").exists()
    first = (out / "sandbox" / "manifest.json").read_text()
    r2 = cli(*args)
    assert r2.returncode == 0 and "up to date" in r2.stderr
    assert (out / "sandbox" / "manifest.json").read_text() == first  # skipped, not redone
    r3 = cli("distill", str(ECOM), "--out", str(out), "--set", "sandbox.rows=400", "--until", "sandbox")
    assert r3.returncode == 0
    assert json.loads((out / "sandbox" / "manifest.json").read_text())["inputs"]["rows"] == 400


def test_distill_bad_override(tmp_path):
    r = cli("distill", str(ECOM), "--out", str(tmp_path / "run"), "--set", "sandbox.rowz=1")
    assert r.returncode == 2 and "sandbox.rowz" in r.stderr
