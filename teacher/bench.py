"""Teacher throughput: validated pairs per second of the offline teacher, end to end.

    python -m teacher.bench [--schema examples/ecommerce/schema.sql] [--n 3000] [--seed 0]

Builds a synthetic sandbox in a temporary folder (not timed), runs ``teacher.generate`` with the
offline teacher (timed: lexicon, profiling, templates, paraphrases, validation, repairs, report)
and prints ONE JSON line:

    {"bench": "teacher", "pairs": ..., "seconds": ..., "pairs_per_s": ..., "families": ...}

plus, for profiling, the CPU seconds of this process (wall time suffers when other jobs share
the machine; CPU time does not; the worker process that checks SQL on a machine with more than
one core is not counted), the seconds of each step and the validator's cache counters.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from schemadistill.config import TeacherConfig


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m teacher.bench", description=__doc__.splitlines()[0])
    ap.add_argument("--schema", default="examples/ecommerce/schema.sql", help="DDL or database file")
    ap.add_argument("--n", type=int, default=3000, help="target number of validated generate pairs")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--rows", type=int, default=2000, help="rows per fact table of the synthetic sandbox")
    args = ap.parse_args(argv)

    from schemadistill.sandbox import build_sandbox
    from schemadistill.schema import load_schema
    from teacher.generate import generate

    schema = load_schema(args.schema)
    with tempfile.TemporaryDirectory(prefix="sd-teacher-bench-") as tmp:
        db = Path(tmp) / "sandbox.duckdb"
        build_sandbox(schema, db, rows=args.rows, seed=args.seed, progress=False)
        cfg = TeacherConfig(n=args.n, seed=args.seed)
        t0, c0 = time.perf_counter(), time.process_time()
        summary = generate(schema, db, Path(tmp) / "teacher", cfg, progress=False)
        seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    line = {
        "bench": "teacher", "schema": args.schema, "pairs": summary["pairs"],
        "seconds": round(seconds, 2), "pairs_per_s": round(summary["pairs"] / seconds, 1),
        "families": summary["families"], "cpu_seconds": round(cpu, 2),
        "generate_pairs": summary["generate_pairs"],
        "repair_pairs": summary["repair_pairs"], "rejects": summary["rejects"],
        "timing": summary["timing"], "validator": summary["validator"],
    }
    sys.stdout.write(json.dumps(line) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
