"""The training pairs nearest to a question: second opinions for answers the runtime doubts.

    from schemadistill.neighbors import NeighborIndex
    index = NeighborIndex.from_pairs(rows)               # rows with "question" and "sql"
    index.save("artifact/neighbors.json")                # what export ships (export.neighbors)
    index = NeighborIndex.from_json(json.load(open("artifact/neighbors.json")))
    for q, sql in index.nearest("How many sessions came from Chrome in 2024?", k=3): ...

Why: a question the student has never seen is mostly a training question with other values
("same family, new values"), and the SQL of that training question, grounded to the new
question's values, dates and numbers (schemadistill/grounding.py), is often right where the small
model's own beams are not. Measured on the cached outputs of two 20-minute runs' int8 artifacts
(2026-12-06, session 21): the nearest training pair alone, grounded, answered 35.0% / 30.5% /
43.0% of the held-out same families / unseen families / real questions with no model at all; as
three extra candidates after the beams of a doubted answer it made 20 answers right and 4 wrong
over the six splits (docs/DESIGN.md).

Similarity is Okapi BM25 over the question's lower-cased words, every number one token ("0";
"1,700" and "1.5" too), so "in 2023" and "in 2024" look alike and the values are left to
grounding. Python and numpy only (onnxruntime's own dependency), so the lean runtime needs
nothing more: 0.2 ms a question over 22,000 training pairs (pure Python took 24 ms).
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from schemadistill.io import atomic_write_json

FORMAT = 1
_WORD = re.compile(r"[a-z_]+|0|[<>=!]+")
# Okapi BM25's usual constants: term frequency saturates at k1, b scales by the question's length.
K1, B = 1.2, 0.75


def words(question: str) -> list[str]:
    """The tokens BM25 compares: lower-case words, each number as "0", comparison signs."""
    return _WORD.findall(re.sub(r"\d+(?:[.,]\d+)*", " 0 ", question.lower()))


class NeighborIndex:
    """Training questions and their SQL, searchable by similarity of wording."""

    def __init__(self, questions: list[str], sqls: list[str], sql_of: list[int]) -> None:
        if len(questions) != len(sql_of) or any(not 0 <= i < len(sqls) for i in sql_of):
            raise ValueError("every question needs the index of its SQL")
        self.questions, self.sqls, self.sql_of = questions, sqls, sql_of
        self._postings: dict[str, tuple[np.ndarray, np.ndarray]] | None = None  # built on first search

    def __len__(self) -> int:
        return len(self.questions)

    @classmethod
    def from_pairs(cls, rows: Iterable[Mapping[str, Any]]) -> NeighborIndex:
        """One entry per distinct (question, SQL); rows without either are skipped."""
        questions: list[str] = []
        sql_of: list[int] = []
        sql_ids: dict[str, int] = {}
        seen: set[tuple[str, str]] = set()
        for r in rows:
            q, sql = str(r.get("question") or "").strip(), str(r.get("sql") or "").strip()
            if not q or not sql or (q, sql) in seen:
                continue
            seen.add((q, sql))
            questions.append(q)
            sql_of.append(sql_ids.setdefault(sql, len(sql_ids)))
        return cls(questions, list(sql_ids), sql_of)

    def to_json(self) -> dict[str, Any]:
        return {"format": FORMAT, "sql": self.sqls, "pairs": [[q, i] for q, i in zip(self.questions, self.sql_of, strict=True)]}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> NeighborIndex:
        if data.get("format") != FORMAT:
            raise ValueError(f"neighbors format {data.get('format')!r}, expected {FORMAT}")
        pairs = data.get("pairs", [])
        return cls([str(q) for q, _ in pairs], [str(s) for s in data.get("sql", [])], [int(i) for _, i in pairs])

    def save(self, path: str | Path) -> None:
        atomic_write_json(Path(path), self.to_json())

    def _build(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        docs = [words(q) for q in self.questions]
        n = len(docs)
        avg = sum(map(len, docs)) / n if n else 1.0
        df: Counter[str] = Counter()
        for d in docs:
            df.update(set(d))
        idf = {w: math.log(1 + (n - c + 0.5) / (c + 0.5)) for w, c in df.items()}
        ids: dict[str, list[int]] = defaultdict(list)
        weights: dict[str, list[float]] = defaultdict(list)
        for i, d in enumerate(docs):
            norm = K1 * (1 - B + B * len(d) / avg)
            for w, f in Counter(d).items():
                ids[w].append(i)
                weights[w].append(idf[w] * f * (K1 + 1) / (f + norm))
        return {w: (np.asarray(ids[w], dtype=np.int64), np.asarray(weights[w], dtype=np.float64)) for w in ids}

    def scores(self, question: str) -> np.ndarray:
        """BM25 score of every training question against ``question`` (one float each)."""
        if self._postings is None:
            self._postings = self._build()
        out = np.zeros(len(self.questions), dtype=np.float64)
        for w in sorted(set(words(question))):  # a fixed order: equal bags score exactly equal
            hit = self._postings.get(w)
            if hit is not None:
                out[hit[0]] += hit[1]
        return out

    def nearest(self, question: str, k: int = 3) -> list[tuple[str, str]]:
        """Up to ``k`` (training question, SQL) pairs most like ``question``, one per distinct SQL,
        most similar first (ties: the earlier pair)."""
        if k <= 0 or not self.questions:
            return []
        scores = self.scores(question)
        hits = np.flatnonzero(scores > 0)
        # the best few times k are enough unless they are one SQL's paraphrases: then all of them
        for size in (min(len(hits), 8 * k + 32), len(hits)):
            top = hits[np.argpartition(-scores[hits], size - 1)[:size]] if 0 < size < len(hits) else hits
            floor = scores[top].min() if len(top) else 0.0
            cand = hits[scores[hits] >= floor]  # every tie of the last one too
            out: list[tuple[str, str]] = []
            taken: set[int] = set()
            for i in cand[np.lexsort((cand, -scores[cand]))].tolist():
                if self.sql_of[i] in taken:
                    continue
                taken.add(self.sql_of[i])
                out.append((self.questions[i], self.sqls[self.sql_of[i]]))
                if len(out) == k:
                    return out
            if size == len(hits):
                return out
        return []


def load_neighbors(path: str | Path) -> NeighborIndex:
    return NeighborIndex.from_json(json.loads(Path(path).read_text(encoding="utf-8")))
