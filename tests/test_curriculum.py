"""The curriculum stage: phase assignment, held-out splits without leakage, replay mixes."""

from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from curriculum import assign_phase, build_curriculum, split_pairs
from curriculum.split import group_prefix
from schemadistill.config import CurriculumConfig
from schemadistill.errors import UserError

TRAIN = ["train_phase1", "train_phase2", "train_phase3", "phase1", "phase2", "phase3"]
HELDOUT = ["heldout_iid", "heldout_family"]

# family -> (phase hint, SQL with {i} for the instance's literal)
FAMILIES: dict[str, tuple[int, str]] = {
    "list_filtered": (1, "SELECT name FROM shop.users WHERE age = {i}"),
    "count_rows": (1, "SELECT COUNT(*) FROM shop.users WHERE age > {i}"),
    "lookup_via_fk": (1, "SELECT u.name FROM shop.orders o JOIN shop.users u ON o.user_id = u.user_id "
                         "WHERE o.order_id = {i}"),
    # a "navigation" family whose SQL groups: the AST moves it to phase 2
    "count_by": (1, "SELECT country, COUNT(*) FROM shop.users WHERE age > {i} GROUP BY country"),
    "group_agg": (2, "SELECT country, AVG(age) FROM shop.users WHERE age < {i} GROUP BY country"),
    "group_having": (2, "SELECT country FROM shop.users GROUP BY country HAVING COUNT(*) > {i}"),
    "join_2hop": (2, "SELECT p.name FROM shop.users u JOIN shop.orders o ON u.user_id = o.user_id "
                     "JOIN shop.products p ON o.product_id = p.product_id WHERE u.age = {i}"),
    "join_3hop": (2, "SELECT c.name FROM shop.users u JOIN shop.orders o ON u.user_id = o.user_id "
                     "JOIN shop.products p ON o.product_id = p.product_id "
                     "JOIN shop.categories c ON p.category_id = c.category_id WHERE u.age = {i}"),
    "top_group": (2, "SELECT country, SUM(age) AS s FROM shop.users GROUP BY country ORDER BY s DESC LIMIT {i}"),
    "window_rank": (2, "SELECT name, RANK() OVER (ORDER BY age) FROM shop.users WHERE age > {i}"),
    "subquery_max": (2, "SELECT name FROM shop.users WHERE age = (SELECT MAX(age) FROM shop.users "
                        "WHERE age < {i})"),
    "edge_nulls": (3, "SELECT COUNT(*) FROM shop.users WHERE age IS NULL AND user_id > {i}"),
    "edge_empty": (3, "SELECT name FROM shop.users WHERE age > {i} AND age < 0"),
}


def make_pairs(families: dict[str, tuple[int, str]] = FAMILIES, instances: int = 12, phrasings: int = 3,
               repair_every: int = 3) -> list[dict[str, Any]]:
    """Template-like pairs: ``phrasings`` per instance, a repair pair for every ``repair_every``-th
    instance (0: none)."""
    rows: list[dict[str, Any]] = []
    for fam, (phase, tmpl) in families.items():
        for i in range(instances):
            sql = tmpl.format(i=i + 1)
            inst = f"{fam}-{i}"
            for k in range(phrasings):
                rows.append({"id": f"{inst}-{k}", "question": f"{fam} question {i} phrasing {k}", "sql": sql,
                             "dialect": "duckdb", "family": fam, "phase": phase, "difficulty": 1 + (i % 5),
                             "kind": "generate", "source": "template" if k == 0 else "paraphrase",
                             "instance": inst})
            if repair_every and i % repair_every == 0:
                rows.append({"id": f"{inst}-r", "question": f"{fam} question {i} phrasing 0", "sql": sql,
                             "dialect": "duckdb", "family": "repair_misspelt_column", "phase": 3,
                             "difficulty": 2, "kind": "repair", "source": "repair", "instance": inst,
                             "broken_sql": sql.replace("name", "nmae"), "error": "Binder Error: nmae"})
    return rows


def write(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def read(out: Path, name: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (out / f"{name}.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("cur")
    pairs = write(tmp / "pairs.jsonl", make_pairs())
    cfg = CurriculumConfig(heldout_iid=0.1, heldout_families=2, replay=0.3, seed=0)
    return tmp / "out", build_curriculum(pairs, tmp / "out", cfg)


# -- phase assignment --------------------------------------------------------------------------


def P(sql: str, phase: int | None = 1, kind: str = "generate") -> dict[str, Any]:  # noqa: N802
    return {"question": "q", "sql": sql, "phase": phase, "kind": kind, "dialect": "duckdb"}


def test_phase_hint_is_kept_when_the_ast_agrees() -> None:
    for sql in ("SELECT name FROM shop.users WHERE age > 3",
                "SELECT COUNT(DISTINCT country) FROM shop.users",
                "SELECT DISTINCT country FROM shop.users",
                "SELECT name FROM shop.users ORDER BY user_id LIMIT 5",
                FAMILIES["lookup_via_fk"][1].format(i=1)):
        d = assign_phase(P(sql))
        assert (d.phase, d.moved, d.reasons) == (1, False, []), sql


@pytest.mark.parametrize("sql, reason", [
    ("SELECT country, COUNT(*) FROM shop.users GROUP BY country", "group_by"),
    ("SELECT name, ROW_NUMBER() OVER (ORDER BY age) FROM shop.users", "window"),
    ("SELECT name FROM shop.users WHERE age > (SELECT AVG(age) FROM shop.users)", "subquery"),
    ("WITH a AS (SELECT name FROM shop.users) SELECT name FROM a", "subquery"),
    ("SELECT AVG(age) FROM shop.users", "aggregate"),
    ("SELECT name FROM shop.users UNION SELECT name FROM shop.products", "set_op"),
    ("SELECT CASE WHEN age > 3 THEN 'old' ELSE 'young' END FROM shop.users", "case"),
    (FAMILIES["join_2hop"][1].format(i=1), "multi_join"),
])
def test_phase1_hint_moves_to_phase2_on_heavier_sql(sql: str, reason: str) -> None:
    d = assign_phase(P(sql))
    assert d.phase == 2 and d.hint == 1 and d.moved and reason in d.reasons


def test_repairs_are_phase3_and_later_hints_never_drop() -> None:
    assert assign_phase(P("SELECT name FROM shop.users", phase=1, kind="repair")).phase == 3
    assert assign_phase(P("SELECT name FROM shop.users", phase=None, kind="repair")).phase == 3
    assert assign_phase(P("SELECT name FROM shop.users", phase=2)).phase == 2
    assert assign_phase(P("SELECT name FROM shop.users", phase=3)).phase == 3
    # no usable hint: the AST decides
    assert assign_phase(P("SELECT name FROM shop.users", phase=None)).phase == 1
    assert assign_phase(P("SELECT SUM(age) FROM shop.users", phase=7)).phase == 2
    # unparsable SQL keeps its hint; difficulty falls back to the stored one or 1
    d = assign_phase({**P("SELEC nope (", phase=1), "difficulty": 4})
    assert d.phase == 1 and d.parse_error and d.difficulty == 4
    assert assign_phase(P("SELECT a FROM t JOIN u ON t.x = u.x")).difficulty == 3  # computed


# -- splits and leakage ------------------------------------------------------------------------


def test_heldout_shares_nothing_with_training(built: tuple[Path, dict[str, Any]]) -> None:
    out, _ = built
    train = [r for name in TRAIN for r in read(out, name)]
    train_keys = {k: {r[k] for r in train} for k in ("instance", "question", "sql")}
    for name in HELDOUT:
        rows = read(out, name)
        assert rows, name
        for key, seen in train_keys.items():
            assert not {r[key] for r in rows} & seen, (name, key)
        assert all(r["kind"] == "generate" for r in rows)
    repairs = read(out, "heldout_repair")
    assert repairs and not {r["id"] for r in repairs} & {r["id"] for r in train}
    held_inst = {r["instance"] for name in HELDOUT for r in read(out, name)}
    assert all(r["instance"] in held_inst for r in repairs)


def test_heldout_families_are_never_trained(built: tuple[Path, dict[str, Any]]) -> None:
    out, manifest = built
    fams = manifest["heldout_families"]
    assert len(fams) == 2 and len({group_prefix(f) for f in fams}) == 2
    assert set(fams) <= set(manifest["heldout_family_candidates"])
    fam_instances = {f"{f}-{i}" for f in fams for i in range(12)}
    for name in TRAIN:
        rows = read(out, name)
        assert not {r["family"] for r in rows} & set(fams), name
        assert not {r["instance"] for r in rows} & fam_instances, name  # their repairs neither
    held = read(out, "heldout_family")
    assert {r["family"] for r in held} == set(fams)
    assert not {r["family"] for r in read(out, "heldout_iid")} & set(fams)


def test_family_choice_rules() -> None:
    rows = make_pairs(repair_every=0)
    for r in rows:
        r["phase"] = assign_phase(r).phase
    for seed in range(6):
        split = split_pairs(rows, 0.0, 10, seed)
        prefixes = [group_prefix(f) for f in split.families]
        assert len(prefixes) == len(set(prefixes))  # never join_2hop and join_3hop together
        assert not {"list_filtered", "count_rows", "lookup_via_fk"} & set(split.families)  # phase 1
        assert split.notes and "asked for 10" in split.notes[0]
    # fewer than 10 instances: not eligible
    few = [r for r in rows if not (r["family"] == "window_rank" and int(r["instance"].split("-")[1]) >= 9)]
    assert "window_rank" not in split_pairs(few, 0.0, 10, 0).candidates


def test_heldout_iid_keeps_instances_whole_and_caps_phrasings(built: tuple[Path, dict[str, Any]]) -> None:
    out, manifest = built
    iid = read(out, "heldout_iid")
    per_inst = Counter(r["instance"] for r in iid)
    assert max(per_inst.values()) <= 2
    assert all(any(r["source"] == "template" for r in iid if r["instance"] == i) for i in per_inst)
    trained_instances = manifest["train_total"]["instances"]
    assert 0.05 <= len(per_inst) / (len(per_inst) + trained_instances) <= 0.15
    assert manifest["leakage"]["phrasings_over_cap_dropped"] > 0


def test_leaking_sql_leaves_the_heldout_set(tmp_path: Path) -> None:
    # twin families write the same SQL for every instance (different questions)
    fams = {"twin_a": (1, "SELECT name FROM shop.users WHERE age = {i}"),
            "twin_b": (1, "SELECT name FROM shop.users WHERE age = {i}"),
            "agg_sum": (2, "SELECT SUM(age) FROM shop.users WHERE age > {i}")}
    rows = make_pairs(fams, repair_every=0)
    # one instance of agg_sum (the only family that can be held out) repeats a twin's SQL
    rows += [{**r, "id": r["id"] + "x", "question": r["question"] + " (dup)", "instance": "agg_sum-dup",
              "family": "agg_sum", "sql": "SELECT name FROM shop.users WHERE age = 1"}
             for r in rows if r["instance"] == "agg_sum-0"]
    cfg = CurriculumConfig(heldout_iid=0.4, heldout_families=1, replay=0.0, seed=1)
    m = build_curriculum(write(tmp_path / "pairs.jsonl", rows), tmp_path / "out", cfg)
    train_sql = {r["sql"] for name in TRAIN for r in read(tmp_path / "out", name)}
    for name in HELDOUT:
        assert not {r["sql"] for r in read(tmp_path / "out", name)} & train_sql
    assert m["leakage"]["leak_iid_instances_moved_to_train"] > 0
    # without iid hold-outs the twin is surely trained: the held-out family's copy is dropped
    cfg.heldout_iid = 0.0
    m = build_curriculum(tmp_path / "pairs.jsonl", tmp_path / "out2", cfg)
    assert m["heldout_families"] == ["agg_sum"] and m["leakage"]["leak_family_pairs_dropped"] == 3
    assert "SELECT name FROM shop.users WHERE age = 1" not in {r["sql"] for r in read(tmp_path / "out2",
                                                                                      "heldout_family")}


# -- mixes -------------------------------------------------------------------------------------


def test_replay_share_and_source(built: tuple[Path, dict[str, Any]]) -> None:
    out, manifest = built
    phase_ids = {k: {r["id"] for r in read(out, f"phase{k}")} for k in (1, 2, 3)}
    assert read(out, "train_phase1") and not any(r["replay"] for r in read(out, "train_phase1"))
    for k in (2, 3):
        mix = read(out, f"train_phase{k}")
        replay = [r for r in mix if r["replay"]]
        own = [r for r in mix if not r["replay"]]
        assert abs(len(replay) / len(mix) - 0.3) < 0.02
        earlier = set().union(*(phase_ids[j] for j in range(1, k)))
        assert {r["id"] for r in replay} <= earlier and all(r["phase"] < k for r in replay)
        pool = manifest["replay"][f"train_phase{k}"]["pool"]
        assert len({r["id"] for r in replay}) == min(len(replay), pool)  # no repeats while the pool lasts
        assert sorted(r["id"] for r in own) == sorted(phase_ids[k])
        # interleaved evenly: every quarter of the file has replayed rows
        quarters = [mix[q * len(mix) // 4:(q + 1) * len(mix) // 4] for q in range(4)]
        assert all(any(r["replay"] for r in part) for part in quarters)
        # own rows go easy to hard bucket by bucket
        diffs = [r["difficulty"] for r in own]
        buckets = [diffs[b * len(diffs) // 4:(b + 1) * len(diffs) // 4] for b in range(4)]
        assert all(max(a) <= min(b) for a, b in zip(buckets, buckets[1:], strict=False) if a and b)
        assert manifest["replay"][f"train_phase{k}"]["replay"] == len(replay)
    for k in (1, 2, 3):
        diffs = [r["difficulty"] for r in read(out, f"phase{k}")]
        assert diffs == sorted(diffs)


def test_phases_and_manifest(built: tuple[Path, dict[str, Any]]) -> None:
    out, m = built
    assert {r["phase"] for r in read(out, "phase1")} == {1}
    p2 = read(out, "phase2")
    assert any(r["family"] == "count_by" and r["phase_hint"] == 1 for r in p2)  # moved by the AST
    assert all(r["kind"] == "repair" or r["family"].startswith("edge") for r in read(out, "phase3"))
    assert m["phase_moves"]["count"] > 0 and "count_by" in m["phase_moves"]["by_family"]
    assert m["phase_moves"]["by_reason"]["group_by"] > 0
    assert m["seed"] == 0 and len(m["input"]["sha256"]) == 64
    for name in TRAIN + HELDOUT + ["heldout_repair"]:
        assert m["counts"][name]["rows"] == len(read(out, name))
    assert set(m["counts"]["phase3"]["by_kind"]) == {"generate", "repair"}
    assert m["counts"]["heldout_repair"]["by_kind"] == {"repair": m["leakage"]["heldout_repair_pairs"]}
    assert json.loads((out / "manifest.json").read_text())["counts"] == m["counts"]


def test_deterministic_by_seed_and_not_by_line_order(tmp_path: Path) -> None:
    rows = make_pairs()
    cfg = CurriculumConfig(heldout_iid=0.1, heldout_families=2, replay=0.3, seed=3)
    a = build_curriculum(write(tmp_path / "a.jsonl", rows), tmp_path / "a", cfg)
    random.Random(0).shuffle(rows)
    b = build_curriculum(write(tmp_path / "b.jsonl", rows), tmp_path / "b", cfg)
    assert a["heldout_families"] == b["heldout_families"] and a["counts"] == b["counts"]
    for name in TRAIN + HELDOUT + ["heldout_repair"]:
        assert (tmp_path / "a" / f"{name}.jsonl").read_text() == (tmp_path / "b" / f"{name}.jsonl").read_text()
    cfg.seed = 4
    c = build_curriculum(write(tmp_path / "c.jsonl", rows), tmp_path / "c", cfg)
    assert (c["heldout_families"] != a["heldout_families"]
            or read(tmp_path / "c", "heldout_iid") != read(tmp_path / "a", "heldout_iid"))


# -- odd inputs --------------------------------------------------------------------------------


def test_no_phase3_and_too_few_families(tmp_path: Path) -> None:
    fams = {k: v for k, v in FAMILIES.items() if v[0] == 1}
    rows = make_pairs(fams, instances=4, repair_every=0)
    rows.append({"question": "", "sql": "SELECT 1"})  # unusable line: skipped with a note
    m = build_curriculum(write(tmp_path / "pairs.jsonl", rows), tmp_path / "out", CurriculumConfig())
    assert m["heldout_families"] == [] and read(tmp_path / "out", "heldout_family") == []
    assert read(tmp_path / "out", "phase3") == [] and read(tmp_path / "out", "train_phase3") == []
    notes = " | ".join(m["notes"])
    assert "asked for 3 held-out families, found 0" in notes
    assert "phase 3 has no training pairs" in notes and "skipped 1 line" in notes
    assert read(tmp_path / "out", "heldout_iid")  # still holds instances out


def test_tiny_earlier_phase_replays_with_capped_repeats(tmp_path: Path) -> None:
    rows = make_pairs({"list_filtered": FAMILIES["list_filtered"]}, instances=2, repair_every=0)
    rows += make_pairs({"group_agg": FAMILIES["group_agg"]}, instances=30, repair_every=0)
    cfg = CurriculumConfig(heldout_iid=0.0, heldout_families=0, replay=0.5)
    m = build_curriculum(write(tmp_path / "pairs.jsonl", rows), tmp_path / "out", cfg)
    stats = m["replay"]["train_phase2"]
    assert stats["pool"] == 6 and stats["replay"] == 18 and stats["replay_unique"] == 6
    assert any("too small" in n for n in m["notes"])


def test_missing_or_empty_pairs_raise_user_error(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="not found"):
        build_curriculum(tmp_path / "nope.jsonl", tmp_path / "out", CurriculumConfig())
    (tmp_path / "empty.jsonl").write_text("")
    with pytest.raises(UserError, match="no usable pairs"):
        build_curriculum(tmp_path / "empty.jsonl", tmp_path / "out", CurriculumConfig())
    (tmp_path / "junk.jsonl").write_text('{"question": "x"}\n[1, 2]\nnot json\n')
    with pytest.raises(UserError, match="no usable pairs"):
        build_curriculum(tmp_path / "junk.jsonl", tmp_path / "out", CurriculumConfig())
    with pytest.raises(UserError, match="replay"):
        build_curriculum(write(tmp_path / "p.jsonl", make_pairs(instances=1)), tmp_path / "out",
                         CurriculumConfig(replay=1.0))
