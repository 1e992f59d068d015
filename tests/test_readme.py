"""Every command in README.md and docs/howto/*.md runs, as written or at a documented tiny size.

The ```bash blocks of the docs are parsed line by line (``\\`` continuations joined, ``# comments``
dropped) and every command must be a key of :data:`COMMANDS`, the table below that says how the
test runs it; a command in the docs that the table lacks, or a table entry no doc shows any more,
fails :func:`test_docs_and_table_agree`. So the docs cannot show a command nobody ran.

How a command is run (``how``):

* ``run``: in ``bash`` from the repository root, after these substitutions, each named in the
  entry's ``note`` where it applies:
  - ``.venv/bin/`` -> the bin folder of the virtual environment running the tests;
  - ``make TARGET`` -> ``make -o VENV/.installed-cpu VENV=VENV TARGET``: the environment exists
    already, so the install step (``python3 -m venv`` + ``pip install``, which needs the package
    index) is not run; CI runs it on a fresh machine (``.ci/run``);
  - heavy commands get the tiny settings appended: ``CONFIG=tests/fixtures/tiny.yaml`` (``make``) or
    ``--config tests/fixtures/tiny.yaml`` (the CLI), or a copy of that file with smaller numbers
    written by :func:`configs` (``tiny_fast.yaml``: a quarter epoch per phase, 4 evaluation
    questions, 32 new tokens; ``tiny_teacher.yaml``: 60 pairs, 20 LLM pairs), plus ``OUT=``/``--out``
    into a temporary folder and, where the later stages are what another entry already covers,
    ``UNTIL=``/``--until``;
  - ``runs/ecommerce`` -> the tiny run the quickstart command made (:func:`quickstart`), or a copy
    of it for commands that change a run; ``/tmp/`` and ``data/`` -> temporary folders
    (:func:`user_data` writes the files the docs name);
  - ``Qwen/Qwen2.5-Coder-0.5B-Instruct`` stays as written: ``HF_HOME`` points at a Hugging Face
    cache holding a tiny random Qwen2 under that id (:func:`hf_home`, built like
    tests/tiny_models.py does), ``HF_HUB_OFFLINE=1``; ``models/qwen2.5-coder-0.5b`` -> that model's
    folder;
  - the OpenAI teacher talks to tests/fake_openai_server.py: ``OPENAI_BASE_URL`` is its URL
    (in place of OpenAI's or of the local server's), ``OPENAI_API_KEY`` a dummy;
* ``check``: cannot run here (needs a GPU, the network, a third-party tool, or would run the test
  suite from inside itself); the note says why and the test checks what it can: the ``make``
  target exists (``make -n``), the flags parse (``--help`` lists them);
* ``env``: sets a variable for the commands after it; the note says what the test sets instead;
* ``external``: starts a third-party server (vLLM, Ollama, llama.cpp); the fake server stands in.

Also checked: the ```python blocks run (the one that is examples/consume_artifact.py must equal that
file, which runs in a subprocess where torch, transformers and schemadistill cannot be imported),
the ```yaml blocks load as a config or apply as a sidecar, the links between the docs resolve, the
settings the docs name exist, and every message the Troubleshooting table quotes is what the code
says. End-to-end parts are marked slow; the quickstart pipeline runs once (module scope) and the
other runs start from copies of it (``README_TEST_REUSE_RUN=RUN_DIR`` makes it copy a finished
tiny run instead, for iterating on this file; CI never sets it).
"""

from __future__ import annotations

import copy
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from fake_openai_server import FakeOpenAIServer, status

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs" / "howto").glob("*.md"))]
VENV = Path(sys.prefix)  # the environment running the tests stands for .venv
TINY = "tests/fixtures/tiny.yaml"
QWEN = "Qwen/Qwen2.5-Coder-0.5B-Instruct"
CONSUME = ROOT / "examples" / "consume_artifact.py"
STAGES = ("schema", "sandbox", "teacher", "curriculum", "student", "export", "bench")
TIMEOUT = 1500  # seconds for one command; the quickstart pipeline is the longest


# -- the docs ------------------------------------------------------------------------------------

_FENCE = re.compile(r"^(?P<indent> *)```(?P<lang>[\w-]*)[^\n]*\n(?P<body>.*?)^(?P=indent)```", re.M | re.S)


def blocks(lang: str, docs: list[Path] = DOCS) -> list[tuple[Path, str]]:
    """(file, text) of every fenced block in ``lang``, dedented."""
    out = []
    for doc in docs:
        for m in _FENCE.finditer(doc.read_text(encoding="utf-8")):
            if m.group("lang") == lang:
                out.append((doc, textwrap.dedent(m.group("body"))))
    return out


def strip_comment(line: str) -> str:
    """The line without a ``# comment`` (a ``#`` at the start or after a blank, outside quotes)."""
    quote = None
    for i, ch in enumerate(line):
        if quote:
            quote = None if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1].isspace()):
            return line[:i]
    return line


def norm(cmd: str) -> str:
    return " ".join(cmd.split())


def doc_commands() -> dict[str, list[str]]:
    """Every command of every ```bash block -> the docs that show it."""
    found: dict[str, list[str]] = {}
    for doc, body in blocks("bash"):
        pending = ""
        for raw in body.splitlines():
            line = strip_comment(raw).rstrip()
            if line.endswith("\\"):
                pending += line[:-1] + " "
                continue
            cmd = norm(pending + line)
            pending = ""
            if cmd:
                found.setdefault(cmd, []).append(str(doc.relative_to(ROOT)))
    return found


# -- the table -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Cmd:
    how: str  # run | check | env | external
    note: str  # how it is run here, or why it is not
    fixture: str = ""  # run: a fixture that runs it (shared with other entries), else run here
    append: str = ""  # run: appended after the substitutions ({config}, {out}, ... filled in)
    copy_run: bool = False  # run: runs/ecommerce -> a fresh copy of the quickstart run
    check: str = ""  # check: "make" (make -n TARGET) | "help" (CMD --help lists the flags used)
    ok: tuple[int, ...] = (0,)


MAKE_TINY = " CONFIG={tiny} OUT={out}"
COMMANDS: dict[str, Cmd] = {
    # README: quickstart
    "make distill SCHEMA=examples/ecommerce/schema.sql": Cmd(
        "run", "the quickstart, every stage, with CONFIG=tests/fixtures/tiny.yaml OUT=<tmp>/runs/ecommerce; "
               "the run the other commands use", fixture="quickstart"),
    "make test": Cmd(
        "check", "runs the whole suite, this file included: make -n shows it runs pytest", check="make"),
    "make test-fast": Cmd("check", "as make test, with -m 'not slow'", check="make"),
    "make lint": Cmd("check", "CI's style gate over every package; here make -n, and ruff and mypy exist",
                     check="make"),
    "make install-gpu": Cmd(
        "check", "swaps onnxruntime for onnxruntime-gpu from the package index: needs the network and is "
                 "only useful with a GPU; make -n shows the swap", check="make"),
    # README: options
    ".venv/bin/schemadistill config": Cmd("run", "as written"),
    ".venv/bin/schemadistill distill examples/ecommerce/schema.sql --set sandbox.rows=5000 --set teacher.n=3000": Cmd(
        "run", "--config tiny.yaml --out <tmp> --until sandbox: the sandbox manifest shows the override; "
               "teacher.n=3000 would only take a minute longer", append=" --config {tiny} --out {out} --until sandbox"),
    # README: using the model from another service
    '.venv/bin/python examples/consume_artifact.py runs/ecommerce/export/artifact "How many users are from France?"': Cmd(
        "run", "on the quickstart artifact, in a subprocess that cannot import torch, transformers, optimum, "
               "jinja2 or schemadistill; its SQL must equal export.runtime's (test_consume_artifact also "
               "runs it on a trained tiny artifact whose SQL must return the gold rows in DuckDB)",
        fixture="consume"),
    # README: the pieces on their own
    ".venv/bin/schemadistill schema examples/retail/schema.sql": Cmd("run", "as written"),
    ".venv/bin/schemadistill schema examples/retail/schema.sql --json": Cmd("run", "as written"),
    ".venv/bin/schemadistill sandbox examples/ecommerce/schema.sql --out /tmp/ecommerce_sandbox.duckdb": Cmd(
        "run", "/tmp -> a temporary folder"),
    ".venv/bin/schemadistill generate examples/ecommerce/schema.sql --out /tmp/pairs": Cmd(
        "run", "/tmp -> a temporary folder, --n 200 (the default 6000 takes a minute)", append=" --n 200"),
    ".venv/bin/schemadistill curriculum runs/ecommerce": Cmd("run", "on a copy of the quickstart run",
                                                             copy_run=True),
    ".venv/bin/schemadistill train runs/ecommerce": Cmd(
        "run", "on a copy of the quickstart run with --config tiny.yaml, the settings it was trained with: "
               "the finished phases are skipped", append=" --config {tiny}", copy_run=True),
    ".venv/bin/schemadistill export runs/ecommerce": Cmd(
        "run", "on a copy of the quickstart run: a new artifact through the parity gate", copy_run=True),
    '.venv/bin/schemadistill ask runs/ecommerce/export/artifact "How many users are from France?"': Cmd(
        "run", "on the quickstart artifact; the tiny model's SQL may fail the checks (exit code 1, said so "
               "on stderr), the command must still answer", ok=(0, 1)),
    ".venv/bin/schemadistill eval runs/ecommerce/export/artifact --questions q.jsonl --db data.duckdb": Cmd(
        "run", "q.jsonl -> the run's heldout_iid.jsonl, data.duckdb -> its sandbox"),
    ".venv/bin/schemadistill report runs/ecommerce": Cmd("run", "on a copy of the quickstart run", copy_run=True),
    "make bench": Cmd("run", "as written (the sandbox build benchmark)"),
    "make bench ARTIFACT=runs/ecommerce/export/artifact": Cmd(
        "run", "on the quickstart artifact, CONFIG=tiny_fast.yaml (bench section: 2 questions, batch size 1) "
               "when the config has a bench section", append="{bench_config}"),
    ".venv/bin/python -m teacher.bench": Cmd("run", "--n 200 (the default 3000 takes a minute)", append=" --n 200"),
    ".venv/bin/python -m student.bench": Cmd("run", "--model scratch:xs --steps 2 (the default is 12 steps of "
                                                    "scratch:s)", append=" --model scratch:xs --steps 2"),
    # docs/howto/teacher.md
    "export OPENAI_API_KEY=sk-...": Cmd(
        "env", "the test sets OPENAI_API_KEY=test and OPENAI_BASE_URL=<tests/fake_openai_server.py> instead"),
    "make distill SCHEMA=examples/ecommerce/schema.sql TEACHER=openai:gpt-4o-mini": Cmd(
        "run", "against the fake server (OPENAI_BASE_URL), CONFIG=tiny_teacher.yaml OUT=<tmp> UNTIL=teacher "
               "(the later stages do not depend on the teacher); a second run with RESUME=0 must be "
               "answered from the cache", fixture="openai_teacher"),
    "vllm serve Qwen/Qwen2.5-Coder-7B-Instruct --port 8000": Cmd(
        "external", "a GPU server from another project; tests/fake_openai_server.py answers in its place"),
    "OPENAI_BASE_URL=http://localhost:8000/v1 OPENAI_API_KEY=local make distill "
    "SCHEMA=examples/ecommerce/schema.sql TEACHER=openai:Qwen/Qwen2.5-Coder-7B-Instruct": Cmd(
        "run", "the URL -> the fake server's; CONFIG=tiny_teacher.yaml OUT=<tmp> UNTIL=teacher",
        append=" CONFIG={tiny_teacher} OUT={teacher_out} UNTIL=teacher"),
    "ollama pull qwen2.5-coder:7b": Cmd("external", "Ollama is not installed here; the fake server stands in"),
    "OPENAI_BASE_URL=http://localhost:11434/v1 OPENAI_API_KEY=ollama make distill "
    "SCHEMA=examples/ecommerce/schema.sql TEACHER=openai:qwen2.5-coder:7b": Cmd(
        "run", "the URL -> the fake server's; CONFIG=tiny_teacher.yaml OUT=<tmp> UNTIL=teacher",
        append=" CONFIG={tiny_teacher} OUT={teacher_out} UNTIL=teacher"),
    "llama-server -m qwen2.5-coder-7b-instruct-q4_k_m.gguf --port 8080 --parallel 8 -c 32768": Cmd(
        "external", "llama.cpp is not installed here; the fake server stands in"),
    "OPENAI_BASE_URL=http://localhost:8080/v1 OPENAI_API_KEY=local make distill "
    "SCHEMA=examples/ecommerce/schema.sql TEACHER=openai:local": Cmd(
        "run", "the URL -> the fake server's; CONFIG=tiny_teacher.yaml OUT=<tmp> UNTIL=teacher",
        append=" CONFIG={tiny_teacher} OUT={teacher_out} UNTIL=teacher"),
    ".venv/bin/schemadistill distill examples/ecommerce/schema.sql --teacher openai:gpt-4o-mini "
    "--set teacher.price_in_per_mtok=0.15 --set teacher.price_out_per_mtok=0.6": Cmd(
        "run", "against the fake server, --config tiny_teacher.yaml --out <tmp> --until teacher; cost_usd must "
               "be the tokens times the prices", fixture="priced_teacher"),
    'grep -A14 "## Teacher usage" runs/ecommerce/teacher/data_report.md': Cmd(
        "run", "on the run the command above made", fixture="priced_teacher_grep"),
    # docs/howto/pretrained-student.md
    '.venv/bin/python -c "import torch; print(torch.cuda.is_available())"': Cmd(
        "run", "as written (prints False here: no GPU)"),
    f"make distill SCHEMA=examples/ecommerce/schema.sql STUDENT={QWEN}": Cmd(
        "run", "the id resolves to a tiny random Qwen2 in HF_HOME; on a copy of the quickstart run with "
               "CONFIG=tiny_fast.yaml: LoRA training, merge, export through the parity gate, bench",
        fixture="pretrained"),
    f".venv/bin/schemadistill distill examples/ecommerce/schema.sql --student {QWEN} --set student.lora_r=32 "
    "--set student.lora_alpha=64 --set student.max_minutes=0": Cmd(
        "run", "tiny Qwen2 from HF_HOME, on a copy of the quickstart run, --config tiny_fast.yaml "
               "--until student (export and bench of a LoRA student: the entry above); the adapter must "
               "have r=32", append=" --config {tiny_fast} --out {run} --until student", copy_run=True),
    f".venv/bin/hf download {QWEN} --local-dir models/qwen2.5-coder-0.5b": Cmd(
        "check", "downloads from the hub (no network here): hf download --help lists --local-dir; the "
                 "folder it would write is stood in for by the tiny model's", check="help"),
    "make distill SCHEMA=examples/ecommerce/schema.sql STUDENT=models/qwen2.5-coder-0.5b": Cmd(
        "run", "models/qwen2.5-coder-0.5b -> a folder holding the tiny Qwen2; on a copy of the quickstart "
               "run, CONFIG=tiny_fast.yaml UNTIL=student",
        append=" CONFIG={tiny_fast} OUT={run} UNTIL=student", copy_run=True),
    f".venv/bin/hf download {QWEN}": Cmd(
        "check", "downloads from the hub (no network here): hf download --help; HF_HOME holds the tiny "
                 "stand-in", check="help"),
    f"HF_HUB_OFFLINE=1 make distill SCHEMA=examples/ecommerce/schema.sql STUDENT={QWEN}": Cmd(
        "run", "the id from the HF_HOME cache, offline; on a copy of the quickstart run, CONFIG=tiny_fast.yaml "
               "UNTIL=student", append=" CONFIG={tiny_fast} OUT={run} UNTIL=student", copy_run=True),
    # docs/howto/multi-gpu.md
    ".venv/bin/schemadistill distill examples/ecommerce/schema.sql --until curriculum": Cmd(
        "run", "on a copy of the quickstart run, --config tiny_fast.yaml: every stage is up to date",
        fixture="multi_gpu"),
    f".venv/bin/accelerate launch --multi_gpu --num_processes 4 -m schemadistill.cli train runs/ecommerce "
    f"--student {QWEN}": Cmd(
        "run", "one CPU process (--cpu --num_processes 1 for --multi_gpu --num_processes 4: no GPU here) on "
               "the run above, --config tiny_fast.yaml: trains the three phases under accelerate",
        fixture="multi_gpu"),
    f".venv/bin/schemadistill distill examples/ecommerce/schema.sql --student {QWEN}": Cmd(
        "run", "on the run above, --config tiny_fast.yaml --until student: the three phases are found done "
               "(export and bench of a LoRA student: the pretrained entry)", fixture="multi_gpu"),
    # docs/howto/your-data.md
    "make distill SCHEMA=examples/ecommerce/schema.sql DATA=data/ecommerce.duckdb": Cmd(
        "run", "data/ -> files the test writes; CONFIG=tiny_teacher.yaml OUT=<tmp> UNTIL=teacher",
        append=" CONFIG={tiny_teacher} OUT={out} UNTIL=teacher"),
    "make distill SCHEMA=examples/ecommerce/schema.sql DATA=data/ecommerce_csv/": Cmd(
        "run", "data/ -> files the test writes; CONFIG=tiny_teacher.yaml OUT=<tmp> UNTIL=teacher",
        append=" CONFIG={tiny_teacher} OUT={out} UNTIL=teacher"),
    "make distill SCHEMA=data/ecommerce.duckdb DATA=data/ecommerce.duckdb": Cmd(
        "run", "data/ -> files the test writes; CONFIG=tiny_teacher.yaml OUT=<tmp> UNTIL=teacher",
        append=" CONFIG={tiny_teacher} OUT={out} UNTIL=teacher"),
    "make distill SCHEMA=examples/ecommerce/schema.sql EXAMPLES=data/our_questions.jsonl": Cmd(
        "run", "data/our_questions.jsonl is the doc's own JSONL block; CONFIG=tiny_teacher.yaml OUT=<tmp> "
               "UNTIL=teacher", append=" CONFIG={tiny_teacher} OUT={out} UNTIL=teacher"),
    "make distill SCHEMA=examples/ecommerce/schema.sql EXAMPLES=data/query_log.sql": Cmd(
        "run", "a log the test writes (with an INSERT that must be skipped); CONFIG=tiny_teacher.yaml OUT=<tmp> "
               "UNTIL=teacher", append=" CONFIG={tiny_teacher} OUT={out} UNTIL=teacher"),
    "make distill SCHEMA=examples/ecommerce/schema.sql GOLDEN=data/golden.jsonl": Cmd(
        "run", "on a copy of the quickstart run, CONFIG=tiny_fast.yaml UNTIL=student: eval_phase3.json must "
               "score the golden split", append=" CONFIG={tiny_fast} OUT={run} UNTIL=student", copy_run=True),
    ".venv/bin/schemadistill eval runs/ecommerce/export/artifact --questions data/golden.jsonl "
    "--db data/ecommerce.duckdb": Cmd("run", "on the quickstart artifact, data/ -> files the test writes"),
    # docs/howto/sidecar.md
    ".venv/bin/schemadistill schema examples/ecommerce/schema.sql": Cmd("run", "as written"),
    ".venv/bin/schemadistill schema examples/ecommerce/schema.sql --sidecar examples/ecommerce/schema.yaml "
    "--json": Cmd("run", "as written"),
}


def cmd_id(cmd: str) -> str:
    """A test id for a command: its words, shortened (``-k distill_STUDENT`` selects by them)."""
    words = re.sub(r"\.venv/bin/|examples/ecommerce/|runs/ecommerce/?", "", cmd)
    return "_".join(re.sub(r"[^\w.=:/-]+", " ", words).split())[:100]


def table_rows() -> str:
    """The table as Markdown (handy when reporting what runs how)."""
    lines = ["| command | how | note |", "| --- | --- | --- |"]
    lines += [f"| `{c}` | {e.how} | {e.note} |" for c, e in COMMANDS.items()]
    return "\n".join(lines)


# -- fast checks: docs and table agree, links, settings, snippets --------------------------------

def test_docs_and_table_agree() -> None:
    shown = doc_commands()
    missing = {c: docs for c, docs in shown.items() if c not in COMMANDS}
    assert not missing, "commands in the docs that tests/test_readme.py does not run (add them to COMMANDS):\n" + \
        "\n".join(f"  {c}   ({', '.join(d)})" for c, d in missing.items())
    stale = [c for c in COMMANDS if c not in shown]
    assert not stale, "COMMANDS entries that no doc shows any more:\n" + "\n".join(f"  {c}" for c in stale)
    for c, e in COMMANDS.items():
        assert e.how in ("run", "check", "env", "external"), c
        assert e.note, c
        assert e.how != "check" or e.check in ("make", "help"), c


def test_quickstart_is_at_the_top() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    first = blocks("bash", [ROOT / "README.md"])[0][1]
    assert [norm(strip_comment(line)) for line in first.splitlines()] == [
        "make distill SCHEMA=examples/ecommerce/schema.sql", "make test"]
    assert readme.index("## Quickstart") < readme.index("## How-tos") < readme.index("## Troubleshooting")


def test_links_resolve() -> None:
    for doc in DOCS:
        text = doc.read_text(encoding="utf-8")
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text):
            if not target.startswith(("http://", "https://")):
                assert (doc.parent / target).exists(), f"{doc.relative_to(ROOT)} links to missing {target}"
        for anchor in re.findall(r"\]\(([^)#\s]*)#([^)\s]+)\)", text):
            path = doc.parent / anchor[0] if anchor[0] else doc
            headings = [re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-")
                        for h in re.findall(r"^#+ (.+)$", path.read_text(encoding="utf-8"), re.M)]
            assert anchor[1] in headings, f"{doc.relative_to(ROOT)}: no heading for #{anchor[1]} in {path.name}"
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for howto in (ROOT / "docs" / "howto").glob("*.md"):
        assert f"docs/howto/{howto.name}" in readme, f"README does not link {howto.name}"


def _same(doc_value: str, code_repr: str) -> bool:
    """A default as the docs write it (``3e-3,2e-3``, ``0.0``, ``offline``) vs field_help's repr."""
    def norm_value(v: Any) -> Any:
        if isinstance(v, bool):  # YAML's spelling: true / false
            return str(v).lower()
        if isinstance(v, (list, tuple)):
            return [norm_value(x) for x in v]
        try:
            return float(v)
        except (TypeError, ValueError):
            return str(v).strip("'")
    import ast

    try:
        code = ast.literal_eval(code_repr)
    except (ValueError, SyntaxError):
        code = code_repr
    doc: Any = doc_value.split(",") if "," in doc_value or isinstance(code, list) else doc_value
    return norm_value(doc) == norm_value(code)


def test_settings_named_in_the_docs_exist() -> None:
    from schemadistill.config import field_help

    keys = {k for k, _, _ in field_help()}
    sections = {k.split(".")[0] for k in keys if "." in k}
    named: set[str] = set()
    for doc in DOCS:
        text = doc.read_text(encoding="utf-8")
        named |= set(re.findall(r"--set ([a-z_]+\.[a-z_]+)=", text))
        named |= set(re.findall(r"`((?:{})\.[a-z_]+)=".format("|".join(sections)), text))  # `student.max_minutes=20`
        for section, table_keys in re.findall(r"All under `([a-z_]+)\.`.*?\n\n(\|.*?)\n\n", text, re.S):
            named |= {f"{section}.{k}" for row in re.findall(r"^\| `([^|]+)` \|", table_keys, re.M)
                      for k in re.findall(r"[a-z_]+", row)}
    unknown = sorted(n for n in named if n not in keys)
    # the settings tables of the how-tos give defaults: they must be the code's
    current = {k: d for k, d, _ in field_help()}
    for doc in DOCS:
        text = doc.read_text(encoding="utf-8")
        for section, table in re.findall(r"All under `([a-z_]+)\.`.*?\n\n(\|.*?)\n\n", text, re.S):
            for names, default in re.findall(r"^\| `([^|]+)` \| ([^|]+) \|", table, re.M):
                value = default.strip().strip("`")
                if " " in value:
                    continue  # described in words ("all attention and MLP projections")
                for name in re.findall(r"[a-z_]+", names):
                    assert _same(value, current[f"{section}.{name}"]), \
                        f"{doc.name}: {section}.{name} default {value}, the code says {current[f'{section}.{name}']}"
    # the README gives the later stages' settings with their defaults: they must be the defaults
    from schemadistill.config import load_config

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for key, value in re.findall(r"`((?:export|bench)\.[a-z_]+)=([^`]*)`", readme):
        assert load_config(None, {key: value}) == load_config(None), f"README: {key}={value} is not the default"
    assert not unknown, f"settings the docs name that `schemadistill config` does not know: {unknown}"
    assert {"teacher.price_in_per_mtok", "student.lora_r", "student.max_minutes"} <= named


def test_yaml_blocks_load(tmp_path: Path) -> None:
    """A YAML block is a config (loads with load_config) or a sidecar (applies to the ecommerce schema)."""
    from schemadistill.config import RunConfig, load_config
    from schemadistill.schema import load_schema
    from schemadistill.schema.sidecar import apply_sidecar

    sections = {f for f in RunConfig.__dataclass_fields__}
    seen = 0
    for doc, body in blocks("yaml"):
        data = yaml.safe_load(body)
        assert isinstance(data, dict), doc
        path = tmp_path / f"block{seen}.yaml"
        path.write_text(body, encoding="utf-8")
        if set(data) <= sections:
            load_config(path)
        else:
            assert set(data) <= {"tables", "metrics", "dimensions", "filters", "rules"}, doc
            apply_sidecar(load_schema(ROOT / "examples" / "ecommerce" / "schema.sql"), path)
        seen += 1
    assert seen >= 3


def test_readme_shows_the_consume_script_verbatim() -> None:
    shown = [body for doc, body in blocks("python", [ROOT / "README.md"]) if "def ask(" in body]
    assert shown == [CONSUME.read_text(encoding="utf-8")], "README's copy of examples/consume_artifact.py differs"


def test_consume_script_matches_the_runtime_prompt_and_slots() -> None:
    """The script's own prompt and number slots are schemadistill's, for the cases artifacts have."""
    import importlib.util

    from schemadistill.prompt import fill_slots, render_prompt, slot_numbers, template_text

    spec = importlib.util.spec_from_file_location("consume_artifact", CONSUME)
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    questions = ["How many users are there?", "Which country does user 1000152 have?",
                 "Revenue above 1,000 in 2024 and   3.14159 for user 1000152 or 12?", "Top 5 by 100000.5"]
    for q in questions:
        for digits in (0, 3, 4):
            assert mod.slot_numbers(q, digits) == slot_numbers(" ".join(q.split()), digits)
        text, _ = mod.slot_numbers(q, 3)
        for schema_text in ("", "ecommerce.users(user_id, country)\necommerce.sessions(user_id→ecommerce.users)"):
            gen = {"schema_text": schema_text, "chat": False, "chat_prefix": "", "chat_suffix": ""}
            assert mod.prompt(gen, text) == render_prompt(text, schema_text or None, template=template_text())
            chat = {**gen, "chat": True, "chat_prefix": "<|im_start|>user\n", "chat_suffix": "<|im_end|>\n"}
            assert mod.prompt(chat, text) == "<|im_start|>user\n" + mod.prompt(gen, text) + "<|im_end|>\n"
    assert fill_slots("SELECT #1, #2, #12", ["7", "8"]) == "SELECT 7, 8, #12"


# -- check-only commands -------------------------------------------------------------------------

@pytest.mark.parametrize("cmd", [c for c, e in COMMANDS.items() if e.how == "check"], ids=cmd_id)
def test_check_only_commands(cmd: str) -> None:
    entry = COMMANDS[cmd]
    if entry.check == "make":
        target = cmd.split()[1]
        r = subprocess.run(["make", "-n", "-o", f"{VENV}/.installed-cpu", f"VENV={VENV}", target], cwd=ROOT,
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        expect = {"test": "pytest -q", "test-fast": 'pytest -q -m "not slow"', "lint": "ruff check",
                  "install-gpu": "onnxruntime"}[target]
        assert expect in r.stdout, r.stdout
        if target == "lint":
            assert (VENV / "bin" / "ruff").exists() and (VENV / "bin" / "mypy").exists()
        if target == "install-gpu":
            assert "uninstall -y -q onnxruntime" in r.stdout and "[gpu,dev]" in r.stdout
    else:
        argv = shlex.split(cmd.replace(".venv/bin/", f"{VENV}/bin/"))
        positional = [a for a in argv[1:] if not a.startswith("-")]
        r = subprocess.run(argv[:1] + positional[:1] + ["--help"], capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        for flag in (a for a in argv if a.startswith("--")):
            assert flag in r.stdout, f"{flag} not in `{argv[0]} {positional[0]} --help`"


def test_env_and_external_entries_precede_a_command_that_runs() -> None:
    """An env or server line is only there for the commands after it, which must run."""
    shown = list(doc_commands())
    for i, cmd in enumerate(shown):
        if COMMANDS[cmd].how in ("env", "external"):
            assert i + 1 < len(shown) and COMMANDS[shown[i + 1]].how == "run", cmd


# -- fixtures: the tiny runs and what the commands read ------------------------------------------

@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("readme")


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for k, v in extra.items():
        out[k] = _merge(out.get(k, {}), v) if isinstance(v, dict) else v
    return out


@pytest.fixture(scope="module")
def configs(work: Path) -> dict[str, str]:
    """tiny.yaml (as is), and two copies with smaller numbers, written next to the runs."""
    from schemadistill.config import RunConfig

    tiny = yaml.safe_load((ROOT / TINY).read_text(encoding="utf-8"))
    fast = {"student": {"epochs": [0.25, 0.25, 0.25], "eval_max": 4, "max_new_tokens": 32}}
    has = RunConfig.__dataclass_fields__
    if "bench" in has:  # the config sections the pipeline grew: keep their work tiny too
        fast["bench"] = {"questions": 2, "batch_sizes": [1], "max_new_tokens": 16}
    if "export" in has:
        fast["export"] = {"parity_max": 20}
    paths = {"tiny": TINY}
    for name, extra in (("tiny_fast", fast), ("tiny_teacher", {"teacher": {"n": 60, "llm_pairs": 20}})):
        p = work / f"{name}.yaml"
        p.write_text(yaml.safe_dump(_merge(tiny, extra), sort_keys=False), encoding="utf-8")
        paths[name] = str(p)
    paths["bench_config"] = f" CONFIG={paths['tiny_fast']}" if "bench" in has else ""
    return paths


@pytest.fixture(scope="module")
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as srv:
        yield srv


@pytest.fixture(scope="module")
def hf_home(work: Path) -> Path:
    """A Hugging Face cache holding a tiny random Qwen2 (ChatML template) under the id the docs use."""
    from tiny_models import tiny_pretrained

    home = work / "hf_home"
    repo = home / "hub" / ("models--" + QWEN.replace("/", "--"))
    revision = "0" * 40
    tiny_pretrained(repo / "snapshots" / revision)
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(revision)
    return home


def env_for(ctx: Ctx) -> dict[str, str]:
    # MAKE*: `make test` runs these commands as a sub-make would otherwise see them (MAKELEVEL=1).
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "HF_", "MAKE", "MFLAGS"))}
    env.update(HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false", PYTHONUNBUFFERED="1", COLUMNS="200")
    if ctx.hf_home is not None:
        env["HF_HOME"] = str(ctx.hf_home)
    if ctx.server is not None:
        env.update(OPENAI_BASE_URL=ctx.server.base_url, OPENAI_API_KEY="test")
    return env


@dataclass
class Ctx:
    """What the substitutions need; None where a command does not use it."""

    work: Path
    configs: dict[str, str]
    run: Path | None = None  # runs/ecommerce
    out: Path | None = None  # OUT= / --out of this command
    data: Path | None = None  # data/
    server: FakeOpenAIServer | None = None
    hf_home: Path | None = None
    extra: dict[str, str] = field(default_factory=dict)


def localize(cmd: str, ctx: Ctx, append: str = "") -> str:
    """The documented command as this test runs it (see the module docstring)."""
    stamp = f"{VENV}/.installed-cpu"
    line = cmd.replace(".venv/bin/", f"{VENV}/bin/")
    line = re.sub(r"(?<![\w/.-])make (?=[a-z])", f"make -o {stamp} VENV={VENV} ", line)
    line = line.replace(" /tmp/", f" {ctx.work}/tmp/")  # the docs' own /tmp paths, before any substitution
    if ctx.run is not None:
        line = line.replace("--questions q.jsonl", "--questions runs/ecommerce/curriculum/heldout_iid.jsonl")
        line = line.replace("--db data.duckdb", "--db runs/ecommerce/sandbox/sandbox.duckdb")
        line = line.replace("runs/ecommerce", str(ctx.run))
    if ctx.data is not None:
        line = re.sub(r"(?<=[ =])data/", f"{ctx.data}/", line)
    if ctx.hf_home is not None:
        folder = next((ctx.hf_home / "hub").glob("models--*/snapshots/*"))
        line = line.replace("models/qwen2.5-coder-0.5b", str(folder))
    if ctx.server is not None:
        line = re.sub(r"OPENAI_BASE_URL=http://localhost:\d+/v1", f"OPENAI_BASE_URL={ctx.server.base_url}", line)
    if "--multi_gpu --num_processes 4" in line:
        line = line.replace("--multi_gpu --num_processes 4", "--cpu --num_processes 1")
    fill = {**ctx.configs, **ctx.extra, "out": str(ctx.out or ""), "run": str(ctx.run or "")}
    return line + append.format(**fill)


def run_cmd(cmd: str, ctx: Ctx, append: str = "", ok: tuple[int, ...] = (0,)) -> subprocess.CompletedProcess[str]:
    line = localize(cmd, ctx, append)
    (ctx.work / "tmp").mkdir(exist_ok=True)
    r = subprocess.run(["bash", "-c", line], cwd=ROOT, env=env_for(ctx), capture_output=True, text=True,
                       timeout=TIMEOUT)
    assert r.returncode in ok, f"`{line}` exited {r.returncode}\n--- stdout\n{r.stdout[-3000:]}\n" \
                               f"--- stderr\n{r.stderr[-5000:]}"
    return r


def last_json(text: str) -> dict[str, Any]:
    return json.loads(text.strip().splitlines()[-1])


def manifest(run: Path, stage: str) -> dict[str, Any] | None:
    p = run / stage / "manifest.json"
    return json.loads(p.read_text(encoding="utf-8")) if p.is_file() else None


@pytest.fixture(scope="module")
def quickstart(work: Path, configs: dict[str, str]) -> tuple[Path, subprocess.CompletedProcess[str]]:
    """The quickstart command at the tiny size: the run every other end-to-end command starts from."""
    run = work / "runs" / "ecommerce"
    reuse = os.environ.get("README_TEST_REUSE_RUN")  # iterating on this file: a finished tiny run to copy
    if reuse:
        shutil.copytree(reuse, run)
        return run, subprocess.CompletedProcess(["reused", reuse], 0, "", "")
    r = run_cmd("make distill SCHEMA=examples/ecommerce/schema.sql", Ctx(work, configs, out=run), MAKE_TINY)
    return run, r


_COPIES = iter(range(1000))


def copy_of(run: Path, work: Path) -> Path:
    dst = work / "copies" / f"run{next(_COPIES)}"
    shutil.copytree(run, dst, ignore=shutil.ignore_patterns("*.rejected", "checkpoints"))
    return dst


@pytest.fixture(scope="module")
def user_data(work: Path) -> Path:
    """data/: the files docs/howto/your-data.md names, made here."""
    import duckdb
    from tiny_models import HELDOUT_IID, PAIRS

    from schemadistill.sandbox import build_sandbox
    from schemadistill.schema import load_schema

    data = work / "data"
    data.mkdir()
    db = data / "ecommerce.duckdb"
    build_sandbox(load_schema(ROOT / "examples" / "ecommerce" / "schema.sql"), db, rows=200, seed=7,
                  progress=False)
    (db.parent / (db.name + ".json")).unlink(missing_ok=True)  # the sandbox's record, not the user's
    csv = data / "ecommerce_csv"
    csv.mkdir()
    con = duckdb.connect(str(db), read_only=True)
    for table in ("users", "sessions"):
        con.execute(f"COPY ecommerce.ecommerce.{table} TO '{csv / (table + '.csv')}' (HEADER)")  # catalog.schema
    con.close()
    our = [body for doc, body in blocks("jsonl") if doc.name == "your-data.md"]
    assert len(our) == 1, "docs/howto/your-data.md: expected one ```jsonl block of question/SQL pairs"
    (data / "our_questions.jsonl").write_text(our[0], encoding="utf-8")
    (data / "query_log.sql").write_text(
        "-- what the analysts ran last week\n"
        "SELECT country, COUNT(*) FROM ecommerce.users GROUP BY country;\n"
        "SELECT u.country, SUM(s.revenue) FROM ecommerce.sessions s JOIN ecommerce.users u "
        "ON s.user_id = u.user_id WHERE s.action_date >= DATE '2024-11-01' GROUP BY u.country;\n"
        "INSERT INTO ecommerce.users VALUES (1, 'X', 1, 30);\n"
        "SELECT os, COUNT(DISTINCT user_id) FROM ecommerce.sessions WHERE revenue > 0 GROUP BY os "
        "ORDER BY 2 DESC LIMIT 3;\n", encoding="utf-8")
    # questions whose gold result is never empty on synthetic rows (eval skips empty-result ones)
    golden = [p for p in PAIRS if p["kind"] == "generate" and "user_id =" not in p["sql"]] + HELDOUT_IID
    (data / "golden.jsonl").write_text("".join(json.dumps({"question": p["question"], "sql": p["sql"]}) + "\n"
                                               for p in golden), encoding="utf-8")
    return data


# -- the quickstart and the commands that read its run ------------------------------------------

def _check_quickstart(run: Path) -> None:
    from export.artifact import load_artifact

    for stage in STAGES:
        assert manifest(run, stage) is not None, f"stage {stage} did not finish"
    art = load_artifact(run / "export" / "artifact")
    assert {"fp32", "int8"} <= set(art.variants)
    assert (run / "reports" / "latency.json").is_file()
    parity = json.loads((run / "export" / "parity.json").read_text(encoding="utf-8"))
    assert parity["passed"] is True


@pytest.mark.slow
@pytest.mark.parametrize("cmd", [c for c, e in COMMANDS.items() if e.how == "run"], ids=cmd_id)
def test_command_runs(cmd: str, request: pytest.FixtureRequest, work: Path, configs: dict[str, str]) -> None:
    entry = COMMANDS[cmd]
    if entry.fixture:
        RUNNERS[entry.fixture](cmd, request)
        return
    ctx = Ctx(work, configs)
    needs_run = "runs/ecommerce" in cmd or entry.copy_run
    if needs_run:
        run, _ = request.getfixturevalue("quickstart")
        ctx.run = copy_of(run, work) if entry.copy_run else run
    if "data/" in cmd:
        ctx.data = request.getfixturevalue("user_data")
    if "OPENAI_BASE_URL" in cmd:
        ctx.server = request.getfixturevalue("server")
        ctx.out = work / "teacher_runs" / "local"
        ctx.extra["teacher_out"] = str(ctx.out)
    if QWEN in cmd or "models/qwen2.5" in cmd:
        ctx.hf_home = request.getfixturevalue("hf_home")
    if ctx.out is None:
        ctx.out = work / "outs" / re.sub(r"\W+", "_", cmd)[-60:]
    r = run_cmd(cmd, ctx, entry.append, entry.ok)
    CHECKS.get(cmd, lambda r, ctx: None)(r, ctx)


# Per-command assertions beyond "it exited 0" (keyed like COMMANDS).
def _c_config(r: subprocess.CompletedProcess[str], ctx: Ctx) -> None:
    for key in ("teacher.price_in_per_mtok", "student.lora_r", "sandbox.rows"):
        assert key in r.stdout


def _c_set(r: subprocess.CompletedProcess[str], ctx: Ctx) -> None:
    m = manifest(ctx.out, "sandbox")
    assert m and m["inputs"]["rows"] == 5000


def _c_schema_json(r: subprocess.CompletedProcess[str], ctx: Ctx) -> None:
    d = json.loads(r.stdout)
    assert len(d["tables"]) >= 8 and d["fingerprint"].startswith("sha256:")


def _c_sandbox(r: subprocess.CompletedProcess[str], ctx: Ctx) -> None:
    assert (ctx.work / "tmp" / "ecommerce_sandbox.duckdb").is_file()


def _c_generate(r: subprocess.CompletedProcess[str], ctx: Ctx) -> None:
    pairs = (ctx.work / "tmp" / "pairs" / "pairs.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(pairs) >= 200 and (ctx.work / "tmp" / "pairs" / "data_report.md").is_file()


def _c_curriculum(r: subprocess.CompletedProcess[str], ctx: Ctx) -> None:
    assert "wrote" in r.stdout and (ctx.run / "curriculum" / "train_phase1.jsonl").is_file()


def _c_train(r: subprocess.CompletedProcess[str], ctx: Ctx) -> None:
    assert r.stderr.count("done, skipped") == 3, r.stderr[-2000:]
    assert last_json(r.stdout)["phases"] == 3


def _c_export(r: subprocess.CompletedProcess[str], ctx: Ctx) -> None:
    figs = last_json(r.stdout)
    assert "int8" in figs["variants"] and "parity gate" in r.stderr
    assert (ctx.run / "export" / "artifact" / "manifest.json").is_file()


def _c_ask(r: subprocess.CompletedProcess[str], ctx: Ctx) -> None:
    if r.returncode == 0:
        assert r.stdout.splitlines()[1].startswith("-- repaired: ")
    else:
        assert "refused" in r.stderr or "does not pass the checks" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr


def _c_eval(r: subprocess.CompletedProcess[str], ctx: Ctx) -> None:
    line = last_json(r.stdout)
    assert {"n", "execution_accuracy", "valid_sql_rate"} <= set(line) and line["n"] >= 1


def _c_report(r: subprocess.CompletedProcess[str], ctx: Ctx) -> None:
    assert (ctx.run / "reports" / "index.md").is_file() and (ctx.run / "reports" / "index.html").is_file()


def _c_json_line(key: str) -> Callable[[subprocess.CompletedProcess[str], Ctx], None]:
    def check(r: subprocess.CompletedProcess[str], ctx: Ctx) -> None:
        assert key in last_json(r.stdout), r.stdout[-2000:]
    return check


def _c_data(source: str) -> Callable[[subprocess.CompletedProcess[str], Ctx], None]:
    def check(r: subprocess.CompletedProcess[str], ctx: Ctx) -> None:
        m = manifest(ctx.out, "sandbox")
        assert m and source in m["figures"]["source"], m and m["figures"]["source"]
        assert manifest(ctx.out, "teacher") is not None
    return check


def _c_examples(kind: str) -> Callable[[subprocess.CompletedProcess[str], Ctx], None]:
    def check(r: subprocess.CompletedProcess[str], ctx: Ctx) -> None:
        rows = [json.loads(x) for x in (ctx.out / "teacher" / "pairs.jsonl").read_text(encoding="utf-8").splitlines()]
        mine = [p for p in rows if p.get("source") == "examples"]
        if kind == "pairs":  # the doc's two pairs are valid SQL on this schema: both are kept
            assert len(mine) == 2, [p["question"] for p in mine]
        else:  # a log has no questions: it steers the templates, never becomes a pair
            assert not mine and "example skipped" in r.stderr + r.stdout  # the INSERT, with its line
    return check


def _c_golden(r: subprocess.CompletedProcess[str], ctx: Ctx) -> None:
    ev = json.loads((ctx.run / "student" / "eval_phase3.json").read_text(encoding="utf-8"))
    assert 1 <= ev["golden"]["n"] <= _golden_rows(ctx), ev.get("golden")


def _golden_rows(ctx: Ctx) -> int:
    assert ctx.data is not None
    return len((ctx.data / "golden.jsonl").read_text(encoding="utf-8").splitlines())


def _c_golden_eval(r: subprocess.CompletedProcess[str], ctx: Ctx) -> None:
    assert 1 <= last_json(r.stdout)["n"] <= _golden_rows(ctx)


def _c_lora_r(r: subprocess.CompletedProcess[str], ctx: Ctx) -> None:
    adapter = json.loads((ctx.run / "student" / "phase3" / "final" / "adapter_config.json").read_text())
    assert adapter["r"] == 32 and adapter["lora_alpha"] == 64
    assert (ctx.run / "student" / "model" / "student_config.json").is_file()


def _c_pretrained_until_student(r: subprocess.CompletedProcess[str], ctx: Ctx) -> None:
    cfg = json.loads((ctx.run / "student" / "model" / "student_config.json").read_text())
    assert cfg["kind"] == "pretrained" and manifest(ctx.run, "student") is not None


def _c_sidecar_schema(r: subprocess.CompletedProcess[str], ctx: Ctx) -> None:
    assert "metrics" in r.stdout and "fraud_rate" in r.stdout


def _c_sidecar_json(r: subprocess.CompletedProcess[str], ctx: Ctx) -> None:
    d = json.loads(r.stdout)
    assert {m["name"] for m in d["metrics"]} >= {"fraud_rate", "revenue"} and d["rules"]


def _c_cuda(r: subprocess.CompletedProcess[str], ctx: Ctx) -> None:
    assert r.stdout.strip() in ("True", "False")


CHECKS: dict[str, Callable[[subprocess.CompletedProcess[str], Ctx], None]] = {
    ".venv/bin/schemadistill config": _c_config,
    ".venv/bin/schemadistill distill examples/ecommerce/schema.sql --set sandbox.rows=5000 --set teacher.n=3000": _c_set,
    ".venv/bin/schemadistill schema examples/retail/schema.sql --json": _c_schema_json,
    ".venv/bin/schemadistill sandbox examples/ecommerce/schema.sql --out /tmp/ecommerce_sandbox.duckdb": _c_sandbox,
    ".venv/bin/schemadistill generate examples/ecommerce/schema.sql --out /tmp/pairs": _c_generate,
    ".venv/bin/schemadistill curriculum runs/ecommerce": _c_curriculum,
    ".venv/bin/schemadistill train runs/ecommerce": _c_train,
    ".venv/bin/schemadistill export runs/ecommerce": _c_export,
    '.venv/bin/schemadistill ask runs/ecommerce/export/artifact "How many users are from France?"': _c_ask,
    ".venv/bin/schemadistill eval runs/ecommerce/export/artifact --questions q.jsonl --db data.duckdb": _c_eval,
    ".venv/bin/schemadistill report runs/ecommerce": _c_report,
    "make bench": _c_json_line("rows_per_s"),
    "make bench ARTIFACT=runs/ecommerce/export/artifact": _c_json_line("speedup_vs_pytorch"),
    ".venv/bin/python -m teacher.bench": _c_json_line("pairs_per_s"),
    ".venv/bin/python -m student.bench": _c_json_line("tokens_per_s"),
    '.venv/bin/python -c "import torch; print(torch.cuda.is_available())"': _c_cuda,
    f".venv/bin/schemadistill distill examples/ecommerce/schema.sql --student {QWEN} --set student.lora_r=32 "
    "--set student.lora_alpha=64 --set student.max_minutes=0": _c_lora_r,
    "make distill SCHEMA=examples/ecommerce/schema.sql STUDENT=models/qwen2.5-coder-0.5b": _c_pretrained_until_student,
    f"HF_HUB_OFFLINE=1 make distill SCHEMA=examples/ecommerce/schema.sql STUDENT={QWEN}": _c_pretrained_until_student,
    "make distill SCHEMA=examples/ecommerce/schema.sql DATA=data/ecommerce.duckdb": _c_data("ecommerce.duckdb"),
    "make distill SCHEMA=examples/ecommerce/schema.sql DATA=data/ecommerce_csv/": _c_data("ecommerce_csv"),
    "make distill SCHEMA=data/ecommerce.duckdb DATA=data/ecommerce.duckdb": _c_data("ecommerce.duckdb"),
    "make distill SCHEMA=examples/ecommerce/schema.sql EXAMPLES=data/our_questions.jsonl": _c_examples("pairs"),
    "make distill SCHEMA=examples/ecommerce/schema.sql EXAMPLES=data/query_log.sql": _c_examples("log"),
    "make distill SCHEMA=examples/ecommerce/schema.sql GOLDEN=data/golden.jsonl": _c_golden,
    ".venv/bin/schemadistill eval runs/ecommerce/export/artifact --questions data/golden.jsonl "
    "--db data/ecommerce.duckdb": _c_golden_eval,
    ".venv/bin/schemadistill schema examples/ecommerce/schema.sql": _c_sidecar_schema,
    ".venv/bin/schemadistill schema examples/ecommerce/schema.sql --sidecar examples/ecommerce/schema.yaml "
    "--json": _c_sidecar_json,
}


# -- commands run by shared fixtures (a later command reads what an earlier one made) ------------

def _r_quickstart(cmd: str, request: pytest.FixtureRequest) -> None:
    run, r = request.getfixturevalue("quickstart")
    _check_quickstart(run)
    if (ROOT / "schemadistill" / "reports").is_dir():  # the run report (written after every run)
        assert (run / "reports" / "index.md").is_file()


def _r_consume(cmd: str, request: pytest.FixtureRequest) -> None:
    run, _ = request.getfixturevalue("quickstart")
    art = run / "export" / "artifact"
    questions = ["How many users are from France?", "Which country does user 1000152 have?",
                 "Total revenue per os?", "How many sessions are there?"]
    got = [consume(art, q, request.getfixturevalue("work")) for q in questions]
    from export.runtime import Runtime

    with Runtime(art, variant="int8", threads=1) as rt:  # one at a time: a batch pads, the script does not
        assert got == [rt.generate([q])[0] for q in questions]


@pytest.fixture(scope="module")
def openai_teacher(work: Path, configs: dict[str, str], server: FakeOpenAIServer) -> Path:
    cmd = "make distill SCHEMA=examples/ecommerce/schema.sql TEACHER=openai:gpt-4o-mini"
    out = work / "teacher_runs" / "openai"
    ctx = Ctx(work, configs, out=out, server=server)
    before = server.request_count
    run_cmd(cmd, ctx, " CONFIG={tiny_teacher} OUT={out} UNTIL=teacher")
    sent = server.request_count - before
    summary = json.loads((out / "teacher" / "summary.json").read_text(encoding="utf-8"))
    assert sent > 0 and summary["usage"]["requests"] == sent and summary["usage"]["model"] == "gpt-4o-mini"
    assert any(p["source"] == "openai:gpt-4o-mini" for p in map(json.loads, (out / "teacher" / "pairs.jsonl")
                                                                 .read_text(encoding="utf-8").splitlines()))
    # the cache: the same requests again (RESUME=0 redoes every stage) are answered from disk
    before = server.request_count
    run_cmd(cmd, ctx, " CONFIG={tiny_teacher} OUT={out} UNTIL=teacher RESUME=0")
    again = json.loads((out / "teacher" / "summary.json").read_text(encoding="utf-8"))["usage"]
    assert server.request_count == before and again["requests"] == 0 and again["cache_hits"] > 0
    return out


def _r_openai_teacher(cmd: str, request: pytest.FixtureRequest) -> None:
    out = request.getfixturevalue("openai_teacher")
    assert (out / "teacher" / "llm_cache").is_dir()


@pytest.fixture(scope="module")
def priced_teacher(work: Path, configs: dict[str, str], server: FakeOpenAIServer) -> Path:
    cmd = next(c for c in COMMANDS if c.endswith("--set teacher.price_out_per_mtok=0.6"))
    out = work / "teacher_runs" / "priced"
    run_cmd(cmd, Ctx(work, configs, out=out, server=server), " --config {tiny_teacher} --out {out} --until teacher")
    usage = json.loads((out / "teacher" / "summary.json").read_text(encoding="utf-8"))["usage"]
    expect = (usage["prompt_tokens"] * 0.15 + usage["completion_tokens"] * 0.6) / 1e6
    assert usage["cost_usd"] > 0 and abs(usage["cost_usd"] - expect) < 1e-6
    return out


def _r_priced_teacher(cmd: str, request: pytest.FixtureRequest) -> None:
    request.getfixturevalue("priced_teacher")


def _r_priced_teacher_grep(cmd: str, request: pytest.FixtureRequest) -> None:
    out = request.getfixturevalue("priced_teacher")
    r = run_cmd(cmd, Ctx(request.getfixturevalue("work"), request.getfixturevalue("configs"), run=out))
    assert "## Teacher usage" in r.stdout and re.search(r"\| cost_usd \| 0\.0*[1-9]", r.stdout), r.stdout


@pytest.fixture(scope="module")
def pretrained(work: Path, configs: dict[str, str], quickstart: tuple[Path, Any], hf_home: Path) -> Path:
    run = copy_of(quickstart[0], work)
    cmd = f"make distill SCHEMA=examples/ecommerce/schema.sql STUDENT={QWEN}"
    run_cmd(cmd, Ctx(work, configs, out=run, hf_home=hf_home), " CONFIG={tiny_fast} OUT={out}")
    return run


def _r_pretrained(cmd: str, request: pytest.FixtureRequest) -> None:
    run = request.getfixturevalue("pretrained")
    _check_quickstart(run)
    cfg = json.loads((run / "student" / "model" / "student_config.json").read_text(encoding="utf-8"))
    assert cfg["kind"] == "pretrained" and cfg["base"] == QWEN
    assert json.loads((run / "export" / "artifact" / "generation.json").read_text())["chat"] is True


@pytest.fixture(scope="module")
def multi_gpu(work: Path, configs: dict[str, str], quickstart: tuple[Path, Any],
              hf_home: Path) -> dict[str, subprocess.CompletedProcess[str]]:
    """The three commands of docs/howto/multi-gpu.md, in order, on one copy of the quickstart run."""
    run = copy_of(quickstart[0], work)
    ctx = Ctx(work, configs, run=run, out=run, hf_home=hf_home)
    first, launch, last = [c for c in COMMANDS if COMMANDS[c].fixture == "multi_gpu"]
    results = {first: run_cmd(first, ctx, " --config {tiny_fast} --out {out}")}
    assert all(manifest(run, s) is not None for s in STAGES[:4])
    results[launch] = run_cmd(launch, ctx, " --config {tiny_fast}")
    assert "--cpu --num_processes 1" in localize(launch, ctx)
    assert last_json(results[launch].stdout)["phases"] == 3
    assert (run / "student" / "model" / "student_config.json").is_file()
    results[last] = run_cmd(last, ctx, " --config {tiny_fast} --out {out} --until student")
    assert results[last].stderr.count("done, skipped") == 3, results[last].stderr[-2000:]
    assert manifest(run, "student") is not None
    return results


def _r_multi_gpu(cmd: str, request: pytest.FixtureRequest) -> None:
    assert cmd in request.getfixturevalue("multi_gpu")


RUNNERS: dict[str, Callable[[str, pytest.FixtureRequest], None]] = {
    "quickstart": _r_quickstart, "consume": _r_consume, "openai_teacher": _r_openai_teacher,
    "priced_teacher": _r_priced_teacher, "priced_teacher_grep": _r_priced_teacher_grep,
    "pretrained": _r_pretrained, "multi_gpu": _r_multi_gpu,
}


def test_every_run_entry_has_a_runner() -> None:
    assert len({cmd_id(c) for c in COMMANDS}) == len(COMMANDS), "two commands share a test id"
    for cmd, e in COMMANDS.items():
        assert not e.fixture or e.fixture in RUNNERS, cmd
        assert e.how == "run" or not (e.fixture or e.append or e.copy_run), cmd
    assert set(CHECKS) <= set(COMMANDS)


# -- examples/consume_artifact.py without torch, transformers or schemadistill -------------------

_BLOCKED = ("torch", "transformers", "optimum", "accelerate", "peft", "trl", "jinja2", "sqlglot", "duckdb",
            "schemadistill", "export", "student", "teacher", "curriculum")
_RUNNER = """
import importlib.abc, json, runpy, sys
BLOCKED = set(sys.argv[1].split(","))
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"{name} is blocked: the consumer has onnxruntime, tokenizers and numpy only")
sys.meta_path.insert(0, Block())
sys.argv = sys.argv[2:]
runpy.run_path(sys.argv[0], run_name="__main__")
loaded = sorted({m.split(".")[0] for m in sys.modules} & BLOCKED)
assert not loaded, loaded
"""


def consume(artifact: Path, question: str, cwd: Path) -> str:
    """Run examples/consume_artifact.py as a service would: its SQL (the one line it prints)."""
    r = subprocess.run([sys.executable, "-I", "-c", _RUNNER, ",".join(_BLOCKED), str(CONSUME), str(artifact),
                        question], cwd=cwd, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert len(lines) == 1, r.stdout
    return lines[0]


@pytest.mark.slow
def test_consume_artifact_answers_like_the_runtime_and_runs_in_duckdb(tmp_path: Path) -> None:
    """On a tiny student trained to answer its pairs: the script's SQL is the runtime's and the gold one."""
    import torch
    from export_support import TRAIN_QUESTIONS, student_run

    from export.build import export_run
    from export.runtime import Runtime
    from schemadistill.sandbox import Executor

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        run = student_run(tmp_path / "run")
        export_run(run, variants="fp32,int8", skip_parity=True)
    finally:
        torch.set_num_threads(n)
    art = run / "export" / "artifact"
    rows = TRAIN_QUESTIONS[:4]
    got = [consume(art, r["question"], tmp_path) for r in rows]
    with Runtime(art, variant="int8", threads=1) as rt:
        assert got == [rt.generate([r["question"]])[0] for r in rows]
    with Executor(run / "sandbox" / "sandbox.duckdb") as ex:
        for r, sql in zip(rows, got, strict=True):
            mine, gold = ex.run(sql, "duckdb"), ex.run(r["sql"], "duckdb")
            assert mine.ok, (sql, mine.error)
            assert sorted(map(str, mine.rows)) == sorted(map(str, gold.rows)), (r["question"], sql)


# -- the other ```python blocks -------------------------------------------------------------------

@pytest.mark.slow
def test_python_snippets_run(work: Path, configs: dict[str, str], quickstart: tuple[Path, Any],
                             server: FakeOpenAIServer) -> None:
    snippets = [(doc, body) for doc, body in blocks("python") if "def ask(" not in body]
    assert len(snippets) >= 2
    ctx = Ctx(work, configs, run=quickstart[0], server=server)
    for doc, body in snippets:
        code = body.replace("runs/ecommerce", str(ctx.run)).replace('"runs/large"', repr(str(work / "runs_large")))
        r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env_for(ctx), capture_output=True,
                           text=True, timeout=300)
        assert r.returncode == 0, f"{doc.name}:\n{code}\n{r.stderr[-3000:]}"
    draft = yaml.safe_load((work / "runs_large" / "schema.draft.yaml").read_text(encoding="utf-8"))
    assert draft["tables"] and "metrics" in draft


# -- Troubleshooting: every message it quotes is the code's -------------------------------------

def _pattern(quoted: str) -> re.Pattern[str]:
    parts = [re.escape(p) for p in quoted.split("...")]
    return re.compile(r"[\s\S]*?".join(parts))


def _produce_no_schema(tmp: Path) -> str:
    r = subprocess.run(["make", "-o", f"{VENV}/.installed-cpu", f"VENV={VENV}", "distill"], cwd=ROOT,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    from schemadistill.config import load_config
    from schemadistill.errors import UserError
    from schemadistill.pipeline import run_pipeline

    with pytest.raises(UserError) as e:
        run_pipeline(load_config(None, {}))
    return r.stdout + " / " + str(e.value)


def _produce_first_install(tmp: Path) -> str:
    r = subprocess.run(["make", "-n", f"VENV={tmp / 'fresh-venv'}", "distill", "SCHEMA=x.sql"], cwd=ROOT,
                       capture_output=True, text=True, timeout=60)
    assert "python3 -m venv" in r.stdout and "pip install" in r.stdout, r.stdout
    return "make distill starts python3 -m venv .venv and pip install fails"


def _produce_hub_unreachable(tmp: Path) -> str:
    from huggingface_hub import constants

    from schemadistill.errors import UserError
    from student import model

    old = constants.HF_HUB_OFFLINE
    constants.HF_HUB_OFFLINE = True  # what an unreachable hub looks like to hub_reachable()
    try:
        with pytest.raises(UserError) as e:
            model.load_config_only("no-such-org/no-such-model-in-any-cache")
    finally:
        constants.HF_HUB_OFFLINE = old
    return str(e.value)


def _produce_too_big(tmp: Path) -> str:
    from transformers import Qwen2Config

    from schemadistill.errors import UserError
    from student.model import check_size

    big = Qwen2Config(vocab_size=152064, hidden_size=3584, intermediate_size=18944, num_hidden_layers=28,
                      num_attention_heads=28, num_key_value_heads=4)  # Qwen2.5-7B's shape
    with pytest.raises(UserError) as e:
        check_size("Qwen/Qwen2.5-7B", big)
    return str(e.value)


def _produce_no_key(tmp: Path) -> str:
    from schemadistill.config import TeacherConfig
    from schemadistill.errors import UserError
    from teacher.llm import OpenAITeacher

    env = os.environ.pop("OPENAI_API_KEY", None)
    try:
        with pytest.raises(UserError) as e:
            OpenAITeacher("openai:gpt-4o-mini", tmp / "cache", TeacherConfig())
    finally:
        if env is not None:
            os.environ["OPENAI_API_KEY"] = env
    return str(e.value)


def _produce_unknown_model(tmp: Path) -> str:
    from schemadistill.config import TeacherConfig
    from schemadistill.errors import UserError
    from teacher.llm import OpenAITeacher

    with FakeOpenAIServer() as srv:
        srv.script(status(404, "The model `nope` does not exist"))
        t = OpenAITeacher("openai:nope", tmp / "cache", TeacherConfig(max_retries=0), base_url=srv.base_url,
                          api_key="test")
        with pytest.raises(UserError) as e:
            t.paraphrase_many([("How many users?", "SELECT COUNT(*) FROM users")], 1)
    return str(e.value)


def _parity_message(variant: str, ref_acc: float, acc: float) -> str:
    from export.parity import judge

    source = (ROOT / "export" / "parity.py").read_text(encoding="utf-8")
    assert '"the export failed the parity gate:' in source
    why = judge(variant, ["SELECT 1;", "SELECT 2;"], ["SELECT 1;", "SELECT 3;"], ["q1", "q2"], ref_acc, acc)
    assert why
    return "the export failed the parity gate: " + why


def _produce_in_source(path: str, text: str, says: str) -> Callable[[Path], str]:
    """A message raised deep in a run: the source must hold it (``text``); it reads as ``says``."""
    def produce(tmp: Path) -> str:
        source = " ".join((ROOT / path).read_text(encoding="utf-8").split())
        assert text in source, f"{text!r} not in {path}"
        return says
    return produce


def _produce_sidecar_typo(tmp: Path) -> str:
    shutil.copy(ROOT / "examples" / "ecommerce" / "schema.sql", tmp / "schema.sql")
    side = (ROOT / "examples" / "ecommerce" / "schema.yaml").read_text(encoding="utf-8")
    (tmp / "schema.yaml").write_text(side.replace("      country:", "      contry:", 1), encoding="utf-8")
    r = subprocess.run([f"{VENV}/bin/schemadistill", "schema", str(tmp / "schema.sql")], capture_output=True,
                       text=True, timeout=120, env={**os.environ, "COLUMNS": "300"})
    assert r.returncode == 2 and "Traceback" not in r.stderr
    out = " ".join(r.stderr.split())
    # the same message as docs/howto/sidecar.md shows for the shipped example
    expected = [body for doc, body in blocks("text") if doc.name == "sidecar.md" and "contry" in body][0]
    assert " ".join(expected.split()).replace("examples/ecommerce/schema.yaml", str(tmp / "schema.yaml")) in out
    return out


def _produce_refused(tmp: Path) -> str:
    source = (ROOT / "schemadistill" / "cli.py").read_text(encoding="utf-8")
    assert "[bold red]refused:[/bold red]" in source and "sys.exit(1)" in source
    return "refused: ... from schemadistill ask (exit code 1)"


def _produce_budget(tmp: Path) -> str:
    from schemadistill.config import StudentConfig

    assert StudentConfig().max_minutes == 20
    return "held-out accuracy is low after a CPU run"


# README Troubleshooting row (its quoted text) -> how the test makes the code say it
TROUBLE: dict[str, Callable[[Path], str]] = {
    "usage: make distill SCHEMA=path/to/schema.sql ...": _produce_no_schema,
    "no schema given": _produce_no_schema,
    "`make distill` starts `python3 -m venv .venv` and `pip install` fails": _produce_first_install,
    "cannot load student model '...': it is not a local folder, and the Hugging Face hub is unreachable":
        _produce_hub_unreachable,
    "student '...' has 7.6B parameters; the limit is 3B": _produce_too_big,
    "TEACHER=openai:... needs an API key, and OPENAI_API_KEY is not set": _produce_no_key,
    "the teacher server does not know model '...'": _produce_unknown_model,
    "the export failed the parity gate: fp32 wrote different SQL than PyTorch ...":
        lambda tmp: _parity_message("fp32", 1.0, 1.0),
    "the export failed the parity gate: int8 execution accuracy ... points below PyTorch's":
        lambda tmp: _parity_message("int8", 1.0, 0.5),
    "no training pair fits into student.max_length": _produce_in_source(
        "student/train.py", "no training pair fits into student.max_length",
        "no training pair fits into student.max_length"),
    "the student was trained for schema sha256:..., the run's schema is now ...": _produce_in_source(
        "export/build.py", "the student was trained for schema {trained}, the run's schema is now {schema.fingerprint}",
        "the student was trained for schema sha256:1, the run's schema is now sha256:2"),
    "unknown column 'contry' in table ecommerce.users": _produce_sidecar_typo,
    "hint: did you mean: country?": _produce_sidecar_typo,
    "`refused: ...` from `schemadistill ask` (exit code 1)": _produce_refused,
    "held-out accuracy is low after a CPU run": _produce_budget,
}


def _first_cells() -> list[str]:
    """The first column of the README's Troubleshooting table, row by row."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## Troubleshooting"):]
    section = section[:section.index("\n## ", 5)]
    cells = [row.split(" | ")[0].lstrip("| ").strip() for row in section.splitlines() if row.startswith("| ")]
    return [c for c in cells if c not in ("you see", "---")]


def test_troubleshooting_quotes_the_code(tmp_path: Path) -> None:
    cells = _first_cells()
    assert len(cells) >= 10
    for cell in cells:
        assert any(key in cell for key in TROUBLE), f"Troubleshooting row that TROUBLE does not check: {cell}"
    for i, (key, produce) in enumerate(TROUBLE.items()):
        assert any(key in cell for cell in cells), f"TROUBLE entry no longer in the README: {key}"
        folder = tmp_path / f"t{i}"
        folder.mkdir()
        said = " ".join(produce(folder).split())
        assert _pattern(key.replace("`", "").replace("7.6B", "...B")).search(said), (key, said)
